#!/bin/sh
# Runs one node:test file of a test folder with its own locked npm dependencies (ctest calls it
# with PASSERELLE_BINARY set): `node-test.sh FOLDER FILE`. npm ci runs only when the folder's
# package-lock.json differs from the one last installed. Exits non-zero on any failure.
set -eu
if [ -n "${PASSERELLE_BINARY:-}" ]; then
  case "$PASSERELLE_BINARY" in
    /*) ;;
    *) PASSERELLE_BINARY="$(pwd)/$PASSERELLE_BINARY" ;;
  esac
  export PASSERELLE_BINARY
fi
cd "$1"
# npm ci wipes node_modules: only when package-lock.json differs from the last installed one.
if ! cmp -s package-lock.json node_modules/.installed-package-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund >/dev/null
  cp package-lock.json node_modules/.installed-package-lock.json
fi
exec node --test --test-reporter=spec "$2"
