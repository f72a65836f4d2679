#!/usr/bin/env bash
# A profile-guided Release build (cmake/crd_pgo.cmake): an instrumented crd-server in
# BUILD_DIR-pgo-train, its training run (bench/pgo-train.sh, about two minutes), then BUILD_DIR
# configured with the profile (BUILD_DIR-pgo-profile) and built from clean. Each run trains afresh
# and recompiles every object (GCC does not list the profile among an object's dependencies), so
# the binary is built from one profile of the sources it was built from. CMAKE_ARGS go to both
# trees: the program trained must be the program optimised.
# Usage: scripts/pgo-build.sh BUILD_DIR [CMAKE_ARGS...] [-- TARGET...]
#   ./crd-dev bench:      scripts/pgo-build.sh build-bench
#   the Debian package:   scripts/pgo-build.sh build-deb -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF ... -- crd-server
#                         (docs/operations.md)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
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
# Warnings are not errors in these two trees: the optimiser's choices follow counts that vary from
# one training to the next, and so do GCC 12's flow-based false positives (-Warray-bounds,
# -Wstringop-overflow); the plain build holds the code to -Werror. A server object without its
# profile stays an error (-Werror=missing-profile, cmake/crd_pgo.cmake).
fixed=(-DCMAKE_BUILD_TYPE=Release -DCRD_WARNINGS_AS_ERRORS=OFF -DCRD_PGO_PROFILE_DIR="$profile")
cmake -S . -B "$train" "${cmake_args[@]}" "${fixed[@]}" -DBUILD_TESTING=OFF -DCRD_PGO=generate >/dev/null
cmake --build "$train" -j"$jobs" --target crd-server crd-bench crd-fake-decision crd-bench-tokens
bench/pgo-train.sh "$train"
cmake -S . -B "$build" "${cmake_args[@]}" "${fixed[@]}" -DCRD_PGO=use >/dev/null
if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$build" -j"$jobs" --clean-first --target "${targets[@]}"
else
    cmake --build "$build" -j"$jobs" --clean-first
fi
