#!/bin/sh
# Single entry point of the portal's end-to-end test (ctest calls it with PASSERELLE_BINARY set):
# installs the locked npm dependencies when they changed, then runs node's test runner.
# Needs web/dist (tools/test builds it) and /usr/bin/chromium. Exits non-zero on any failure.
set -eu
if [ -n "${PASSERELLE_BINARY:-}" ]; then
  case "$PASSERELLE_BINARY" in
    /*) ;;
    *) PASSERELLE_BINARY="$(pwd)/$PASSERELLE_BINARY" ;;
  esac
  export PASSERELLE_BINARY
fi
cd "$(dirname "$0")"
# npm ci wipes node_modules: only when package-lock.json differs from the last installed one.
if ! cmp -s package-lock.json node_modules/.installed-package-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund >/dev/null
  cp package-lock.json node_modules/.installed-package-lock.json
fi
exec node --test --test-reporter=spec portal.test.mjs
