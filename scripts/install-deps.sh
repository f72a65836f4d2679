#!/usr/bin/env bash
# Installs what crd-server needs to build and test on Debian 12 (bookworm), and nothing more.
# Idempotent: packages already present are not touched, and apt is not called at all when
# nothing is missing. Extra packages can be named as arguments (the bench adds its own).
set -euo pipefail

packages=(
    g++ make cmake
    libboost1.81-dev libboost-test1.81-dev libboost-system1.81-dev
    libssl-dev
    # crd-server's malloc (cmake/crd_options.cmake, CRD_ALLOCATOR)
    libjemalloc-dev
    curl
    # The package test (tests/package): cpack's DEB generator needs dpkg-deb and dpkg-shlibdeps
    # (dpkg-dev), lintian checks the package, logrotate reads its logrotate file. promtool (in
    # Debian's prometheus) checks the alert rules.
    dpkg-dev fakeroot lintian logrotate
    prometheus
    libhiredis-dev redis-server haproxy
    "$@"
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: apt-get not found; install these yourself: ${missing[*]}" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-deps: run as root (or install sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi
echo "install-deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
