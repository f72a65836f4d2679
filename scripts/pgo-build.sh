#!/usr/bin/env bash
# A profile-guided Release build (cmake/crd_pgo.cmake): an instrumented crd-server in
# BUILD_DIR-pgo-train, its training run (bench/pgo-train.sh, about two minutes), then BUILD_DIR
# configured with the profile (BUILD_DIR-pgo-profile) and built. Each run trains afresh, so the
# profile always matches the sources it optimises.
# Usage: scripts/pgo-build.sh BUILD_DIR [CMAKE_ARGS...] [-- TARGET...]
#   ./crd-dev bench:      scripts/pgo-build.sh build-bench
#   the Debian package:   scripts/pgo-build.sh build-deb -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF ... -- crd-server
#                         (docs/operations.md)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=${1%/}; shift
cmake_args=() targets=()
while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; targets=("$@"); break; fi
    cmake_args+=("$1"); shift
done
jobs=${CRD_JOBS:-$(nproc)}
train=$build-pgo-train
profile=$(realpath -m "$build-pgo-profile")
scripts/install-deps.sh
rm -rf "$profile"
cmake -S . -B "$train" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DCRD_PGO=generate -DCRD_PGO_PROFILE_DIR="$profile" >/dev/null
cmake --build "$train" -j"$jobs" --target crd-server crd-bench crd-fake-decision crd-bench-tokens
bench/pgo-train.sh "$train"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" -DCRD_PGO=use -DCRD_PGO_PROFILE_DIR="$profile" >/dev/null
if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$build" -j"$jobs" --target "${targets[@]}"
else
    cmake --build "$build" -j"$jobs"
fi
