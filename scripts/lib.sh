# Shared helpers for scripts/test and scripts/demo (sourced, not run).
# Installs what vtasos needs from Debian's archive, then configures and builds.

VTASOS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VTASOS_BUILD_DIR="${VTASOS_BUILD_DIR:-$VTASOS_ROOT/build}"

# Debian 12 packages: toolchain, the field's libraries, tools used by tests.
VTASOS_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libomp-dev libclang-rt-14-dev clang-format clang-tidy
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libhwloc-dev hwloc libglpk-dev
  libopenmpi-dev openmpi-bin libpmix-dev libpapi-dev gfortran
  gnuplot-nox procps xz-utils qemu-system-x86 linux-image-amd64
  xen-hypervisor-4.17-amd64 xen-utils-4.17 libxen-dev busybox-static
)

vtasos_log() { printf '\033[1m[vtasos]\033[0m %s\n' "$*" >&2; }

vtasos_install_deps() {
  local missing=()
  for p in "${VTASOS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  vtasos_log "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    vtasos_log "not root: cannot install ${missing[*]}; install them with apt-get and re-run"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

vtasos_build() {
  local jobs
  jobs="$(nproc)"
  # Always (re)configure: components are discovered by the presence of their
  # CMakeLists.txt, which an incremental build would not notice otherwise.
  vtasos_log "configuring $VTASOS_BUILD_DIR (clang++, RelWithDebInfo)"
  if [ -f "$VTASOS_BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S "$VTASOS_ROOT" -B "$VTASOS_BUILD_DIR" "$@" >/dev/null
  else
    cmake -S "$VTASOS_ROOT" -B "$VTASOS_BUILD_DIR" -G Ninja \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  fi
  vtasos_log "building with $jobs jobs"
  cmake --build "$VTASOS_BUILD_DIR" -j "$jobs"
}
