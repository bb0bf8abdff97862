# Shared by the scripts in this folder: dependency installation and configured builds.
# Sourced, not run.

# The source tree this file is in, also when scripts/ is reached through a symbolic link.
OPSYNC_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
OPSYNC_BUILD_ROOT="${OPSYNC_BUILD_ROOT:-$OPSYNC_ROOT/build}"

# Every Debian 12 package the build, the tests and the benchmarks use. chromium checks the HTML
# reports, xmllint (libxml2-utils) the JUnit ones, dpkg-dev's dpkg-shlibdeps the Debian package's
# dependencies, help2man makes its manual pages and lintian checks it; clang-format-14 checks the
# layout of every C++ file (scripts/check-format) and universal-ctags the size of its classes and
# functions (docs/check_sizes.py).
OPSYNC_PACKAGES=(
  cmake ninja-build g++ pkg-config ccache
  libboost-dev libboost-test-dev librapidcheck-dev libsqlite3-dev libssl-dev libcpp-httplib-dev
  nlohmann-json3-dev libsimdjson-dev libcli11-dev libbenchmark-dev
  python3 python3-jsonschema python3-yaml python3-cryptography nginx openssl
  clang-14 libclang-rt-14-dev clang-format-14 universal-ctags
  chromium libxml2-utils dpkg-dev help2man lintian
)

opsync_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs whatever is missing: apt-get as root, sudo when it works without a prompt, otherwise
# prints the exact command and fails.
opsync_install_deps() {
  local missing=() package
  for package in "${OPSYNC_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local command=(apt-get install -y --no-install-recommends "${missing[@]}")
  opsync_log "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${command[@]}"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive "${command[@]}"
  else
    echo "OpSync needs these Debian packages. Run as root:" >&2
    echo "  apt-get update && ${command[*]}" >&2
    return 1
  fi
}

# opsync_build NAME [cmake options...] -- [targets...]
# Configures (once) and builds build/NAME with Ninja, using ccache when present.
opsync_build() {
  local name="$1"; shift
  local options=() targets=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do options+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  targets=("$@")
  local dir="$OPSYNC_BUILD_ROOT/$name"
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  opsync_log "configuring $name"
  cmake -S "$OPSYNC_ROOT" -B "$dir" -G Ninja "${launcher[@]}" "${options[@]}" >/dev/null
  opsync_log "building $name${targets:+ (${targets[*]})}"
  cmake --build "$dir" ${targets:+--target "${targets[@]}"}
}

# The libFuzzer build (reference-server/fuzz/README.md): clang, and only the fuzz targets.
opsync_build_fuzz() {
  CC=clang-14 CXX=clang++-14 opsync_build fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPSYNC_FUZZ=ON -- opsync_core_fuzz
}

# What the Debian package holds (deploy/package/CMakeLists.txt): the programs and the files made
# for it (manual pages, changelog).
OPSYNC_PACKAGE_TARGETS="opsync-server opsync-client opsync-conformance opsync-sim opsync-client-adapter opsync_package_files"

# opsync_make_package BUILD_DIR OUT_DIR: cpack's Debian package of BUILD_DIR (whose package
# targets are built) into OUT_DIR; prints its path.
opsync_make_package() {
  local build="$1" out="$2"
  mkdir -p "$out"
  rm -f "$out"/opsync_*.deb
  (cd "$build" && cpack -G DEB -B "$out" >/dev/null)
  ls "$out"/opsync_*.deb
}

