# Sourced by tools/run, tools/test, tools/bench and tools/fuzz: installs what is missing, then
# configures and builds a preset. Idempotent; a second run costs a second or two.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
# Paths relative to the checkout in ccache's keys: a fresh clone elsewhere (CI) reuses the cache.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1

# Debian 12 packages the build and the tests need (see README, "What it is made of").
PACKAGES=(g++ cmake ninja-build ccache pkg-config openssl curl clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-test1.81-dev
  libyaml-cpp-dev libssl-dev libsqlite3-dev libsodium-dev libcjose-dev libjansson-dev libpq-dev
  libxml2-dev libstemmer-dev zlib1g-dev libcurl4-openssl-dev libmagic-dev)

# The fuzz targets (tools/fuzz, and tools/test through ctest): clang 14 and its runtimes, which
# hold libFuzzer and the sanitizers (not pulled in by clang without recommends).
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

# The PostgreSQL server the store's tests start throwaway clusters of (tools/lib/pg-cluster).
PG_PACKAGES=(postgresql-15)

# The load balancer of the cluster example and its test (tools/cluster, config/examples/cluster).
CLUSTER_PACKAGES=(haproxy)

# The browser the end-to-end tests of the portal drive (tests/e2e, through playwright-core).
E2E_PACKAGES=(chromium)

# The SMTP server the mail tests send to, on loopback (tests/integration/mail_test.cpp).
MAIL_PACKAGES=(python3-aiosmtpd)

install_packages() {
  local wanted=("$@") missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing packages. Run as root, then try again:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing: ${missing[*]}"
  # Another apt run may hold the dpkg lock: wait for it rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Node.js runs the OpenID provider of the tests. A machine may already have its own build of
# Node (with npm inside): install Debian's only when there is none.
install_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  install_packages nodejs npm
}

# Builds the portal (web/ -> web/dist): installs its locked npm packages when node_modules is
# missing or the lock changed, then runs esbuild through web/build.mjs. Returns non-zero on
# failure (no registry, a build error); the caller decides whether that is fatal.
build_web() {
  local web="$ROOT/web"
  if ! cmp -s "$web/package-lock.json" "$web/node_modules/.installed-package-lock.json" 2>/dev/null; then
    # --ignore-scripts: the DSFR package's install script only checks for a project generator
    # this app does not use; esbuild needs no script once its platform package is there.
    (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) || return 1
    cp "$web/package-lock.json" "$web/node_modules/.installed-package-lock.json"
  fi
  node "$web/build.mjs"
}

build_preset() {
  local preset=$1
  shift
  cmake --preset "$preset" -S "$ROOT" >/dev/null
  cmake --build --preset "$preset" "$@"
}
