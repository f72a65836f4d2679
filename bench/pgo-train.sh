#!/usr/bin/env bash
# The training run of a profile-guided build (scripts/pgo-build.sh, cmake/crd_pgo.cmake). The
# instrumented crd-server of TRAIN_BUILD answers every crd-server scenario of the benchmark set
# (bench/run.sh) for one second each after its warm-up: each hook on the embedded rules, 1 and 100
# orders, the gateway over both decision protocols and as a CRD 2.2 caller, ES384 and RS384 client
# JWTs and a SMART access token, prefetch fetched from a FHIR server, 2,000 calls waiting on a slow
# decision service. Stopped with SIGTERM, each server writes its counters to the profile directory
# the build was configured with. The baselines (nginx, the decision service called directly) are
# skipped, and the results go to a scratch directory: a training run is not a measurement.
# Usage: bench/pgo-train.sh TRAIN_BUILD   (configured with -DCRD_PGO=generate)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bench/pgo-train.sh TRAIN_BUILD (configured with -DCRD_PGO=generate)" >&2; exit 2; }
train=$(realpath "$1")
profile=$(sed -n 's/^CRD_PGO_PROFILE_DIR:PATH=//p' "$train/CMakeCache.txt")
grep -qx 'CRD_PGO:STRING=generate' "$train/CMakeCache.txt" ||
    { echo "pgo-train: $train is not configured with -DCRD_PGO=generate" >&2; exit 2; }
scratch=$(mktemp -d /tmp/crd-pgo-train.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# The load generator and the stand-ins are instrumented too (one build tree), and share the
# libraries crd-server is built from: their counters go to the scratch directory (GCOV_PREFIX is
# prepended to the profile path), so the profile describes the server alone.
cat > "$scratch/crd-server" <<SH
#!/bin/sh
unset GCOV_PREFIX
exec "$train/server/crd-server" "\$@"
SH
chmod +x "$scratch/crd-server"
GCOV_PREFIX=$scratch/discarded CRD_BENCH_SERVER=$scratch/crd-server CRD_BENCH_RESULTS=$scratch/results \
    CRD_BENCH_DURATION_S=${CRD_PGO_TRAIN_S:-1} CRD_BENCH_SOAK_S=0 \
    CRD_BENCH_ONLY='^(health|order|appointment|encounter|gateway|slow)' bench/run.sh "$train"
# Every scenario must have been answered: a training run of refusals would optimise the wrong paths.
if grep -h '"statuses"' "$scratch/results/partial.json.tmp" | grep -v '"statuses":{"200":[0-9]*}' >&2; then
    echo "pgo-train: a scenario above was not answered 200 throughout" >&2
    exit 1
fi
counters=0
[ -d "$profile" ] && counters=$(find "$profile" -name '*.gcda' | wc -l)
[ "$counters" -gt 0 ] || { echo "pgo-train: no counters were written to $profile" >&2; exit 1; }
echo "pgo-train: $counters counter files in $profile" >&2
