#!/usr/bin/env bash
# The standard benchmark set: crd-server scenarios and same-run baselines. Embedded engine
# scenarios are compared with nginx serving a fixed answer (the cost of HTTP alone); gateway
# scenarios (crd-server calling a decision service) with that decision service called directly
# (the limit) and with nginx as a plain reverse proxy in front of it (what a payer could put there
# instead). Writes results/latest.json, results/latest.md (the table for bench/README.md) and
# results/latency.png.
# Usage: bench/run.sh [BUILD_DIR]   (./crd-dev bench first builds the profile-guided Release build-bench/)
#   CRD_BENCH_DURATION_S  measured seconds per scenario (default 10; warm-up 2 s more)
#   CRD_BENCH_SOAK_S      soak duration at a steady 500 requests/s (default 600; 0 skips it)
#   CRD_BENCH_SERVER      the crd-server binary to measure (default BUILD_DIR/server/crd-server), e.g.
#                         an older build for a before/after comparison in the same session
#   CRD_BENCH_THREADS     listen.threads of every crd-server under test (default 1: the load generator
#                         and the stand-ins keep the other core); 2 for the two-thread scaling rows
#   CRD_BENCH_ONLY        an extended regular expression: run only the scenarios whose label matches
#                         (for tuning: results go to results/partial.json.tmp, latest.json is kept)
#   CRD_BENCH_RESULTS     the directory results are written to (default bench/results; bench/pgo-train.sh
#                         points it at a scratch directory: a training run is not a measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
duration=${CRD_BENCH_DURATION_S:-10}
soak=${CRD_BENCH_SOAK_S:-600}
threads=${CRD_BENCH_THREADS:-1}
scripts/install-deps.sh nginx-light gnuplot-nox

bench="$build/bench/crd-bench"
server=${CRD_BENCH_SERVER:-$build/server/crd-server}
work=$(mktemp -d /tmp/crd-bench.XXXXXX)
chmod 755 "$work"  # nginx workers run as an unprivileged user and must read the answer file
results=${CRD_BENCH_RESULTS:-bench/results}
mkdir -p "$results"
port=18080            # crd-server, embedded rules
nginx_port=18081      # nginx, static answer
gateway_port=18082    # crd-server -> fake decision service
decisions_port=18087  # crd-server -> fake decision service, decision.protocol "decisions"
proxy_port=18083      # nginx reverse proxy -> fake decision service
slow_port=18084       # crd-server -> slow (200 ms) fake decision service
auth_port=18085       # crd-server, embedded rules, client JWTs required
prefetch_port=18086   # crd-server, embedded rules, fetching missing prefetch from the fake FHIR server
fhir_port=18092       # fake FHIR server (bench/bodies/order-sign-without-prefetch.json names it)
decision_port=18090
slow_decision_port=18091
echo_decision_port=18093  # fake decision service answering with the order as sent (CRD 2.2 gateway)
gateway_22_port=18088     # crd-server -> that fake, called as a CRD 2.2 client
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 2,000 connections in and 2,000 out in the slow scenario
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# crd-server: one worker thread, leaving the other core to the load generator. Some public examples
# carry no Coverage and name no reachable FHIR server: with no prefetch key required they are
# answered (conditionally) by the rules engine rather than 412, which is the path to measure.
cat > "$work/crd.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $port, "threads": $threads}, "admin": {"port": 0}, "prefetch": {"required_keys": []},
 "auth": {"required": false}, "decision": {"rules": "$PWD/etc/rules.json"}, "log": {"level": "warning"}}
JSON
"$server" --config "$work/crd.json" 2>"$work/crd.log" &
crd_pid=$!; pids+=("$crd_pid")

# The decision service stand-ins, and crd-server in front of each (one worker thread).
"$build/bench/crd-fake-decision" --port "$decision_port" &
decision_pid=$!; pids+=("$decision_pid")
"$build/bench/crd-fake-decision" --port "$slow_decision_port" --latency-ms 200 &
pids+=("$!")
cat > "$work/gateway.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $gateway_port, "threads": $threads}, "admin": {"port": 0}, "auth": {"required": false},
 "decision": {"url": "http://127.0.0.1:$decision_port/decide", "pool_size": 64}, "log": {"level": "warning"}}
JSON
cat > "$work/slow.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $slow_port, "threads": $threads}, "admin": {"port": 0}, "auth": {"required": false},
 "limits": {"max_connections": 10000, "max_in_flight": 10000},
 "decision": {"url": "http://127.0.0.1:$slow_decision_port/decide", "pool_size": 2500, "max_pending": 5000}, "log": {"level": "warning"}}
JSON
cat > "$work/gateway-decisions.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $decisions_port, "threads": $threads}, "admin": {"port": 0}, "auth": {"required": false},
 "decision": {"url": "http://127.0.0.1:$decision_port/decide", "pool_size": 64, "protocol": "decisions"}, "log": {"level": "warning"}}
JSON
# A CRD 2.1+ caller's gateway answer is checked against the orders as sent (only the coverage
# information may differ): this stand-in echoes the order as a conformant service does, so the
# 2.2 scenario measures that check and not a repair.
"$build/bench/crd-fake-decision" --port "$echo_decision_port" --body bench/bodies/cds-hooks-answer-order-sign.json &
pids+=("$!")
cat > "$work/gateway-2-2.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $gateway_22_port, "threads": $threads}, "admin": {"port": 0}, "auth": {"required": false},
 "decision": {"url": "http://127.0.0.1:$echo_decision_port/decide", "pool_size": 64}, "log": {"level": "warning"}}
JSON
"$server" --config "$work/gateway-2-2.json" 2>"$work/gateway-2-2.log" &
gateway_22_pid=$!; pids+=("$gateway_22_pid")
"$server" --config "$work/gateway.json" 2>"$work/gateway.log" &
gateway_pid=$!; pids+=("$gateway_pid")
"$server" --config "$work/gateway-decisions.json" 2>"$work/gateway-decisions.log" &
decisions_pid=$!; pids+=("$decisions_pid")
"$server" --config "$work/slow.json" 2>"$work/slow.log" &
slow_pid=$!; pids+=("$slow_pid")

# Authenticated crd-server: pre-signed RS384 and ES384 client JWTs (unique jti each), enough for
# the open-loop scenarios that compare CPU per request with and without auth. 500 requests/s: an
# ES384 (P-384) verification costs about 0.7 ms of CPU on this machine, so one thread tops out near
# 1,200 authenticated calls a second and a higher rate would measure queueing, not verification.
auth_rate=500
token_count=$(( auth_rate * (duration + 2) + 1000 ))
for alg in ES384 RS384; do
    mkdir -p "$work/$alg"
    "$build/bench/crd-bench-tokens" --alg "$alg" --count "$token_count" \
        --aud "http://127.0.0.1:$auth_port/cds-services/order-sign-crd" --out "$work/$alg" \
        --token-url "http://127.0.0.1:$auth_port/auth/token"
done
cat > "$work/auth.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $auth_port, "threads": $threads}, "admin": {"port": 0}, "public_base_url": "http://127.0.0.1:$auth_port",
 "auth": {"required": true, "clients": [$(cat "$work/ES384/client.json"), $(cat "$work/RS384/client.json")]},
 "decision": {"rules": "$PWD/etc/rules.json"}, "log": {"level": "warning"}}
JSON
"$server" --config "$work/auth.json" 2>"$work/auth.log" &
auth_pid=$!; pids+=("$auth_pid")

# Prefetch: the EHR sends no prefetch; crd-server fetches patient, coverage and user (three GETs in
# parallel) from a fake FHIR server answering after 2 ms.
"$build/bench/crd-fake-decision" --port "$fhir_port" --fhir 1 --latency-ms 2 &
pids+=("$!")
cat > "$work/prefetch.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $prefetch_port, "threads": $threads}, "admin": {"port": 0}, "auth": {"required": false},
 "prefetch": {"allow_http": true}, "decision": {"rules": "$PWD/etc/rules.json"}, "log": {"level": "warning"}}
JSON
"$server" --config "$work/prefetch.json" 2>"$work/prefetch.log" &
prefetch_pid=$!; pids+=("$prefetch_pid")

# nginx baseline: one worker, keep-alive, answering every request with the recorded order-sign response.
bodies=bench/bodies
"$bench" --url "http://127.0.0.1:$port/health" --method GET --connections 1 --duration 0.2 --warmup 0 >/dev/null 2>&1 || sleep 0.5
curl -s -H 'Content-Type: application/json' --data-binary @$bodies/payerbox-order-sign.json \
    "http://127.0.0.1:$port/cds-services/order-sign-crd" > "$work/order-sign-response.json"
. bench/nginx-conf.sh
nginx_conf "$work" "$decision_port" "$proxy_port" "$nginx_port"
# POST to a static file is 405 in nginx; GET of the same bytes is the HTTP-only floor we want.
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
pids+=("$!")
sleep 0.5
nginx_pid=$(cat "$work/nginx/nginx.pid")
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)

bench/make-large-order-sign.sh 100 > "$work/large.json"
# The public examples name real EHR FHIR servers (inferno.healthit.gov, example.org): point them at
# a closed local port, as the tests do, so no scenario ever looks a name up or leaves this machine.
fixtures=$work/fixtures
mkdir -p "$fixtures"
for f in tests/fixtures/crd-examples/crd-*.json; do
    sed -E 's#"fhirServer"[[:space:]]*:[[:space:]]*"[^"]*"#"fhirServer": "http://127.0.0.1:9/fhir"#' "$f" > "$fixtures/$(basename "$f")"
done
json_header=(--header 'Content-Type: application/json')
out="$work/results.jsonl"
: > "$out"

only=${CRD_BENCH_ONLY:-}
result_json=$results/latest.json
result_plot=$results/latency.png
if [ -n "$only" ]; then result_json=$results/partial.json.tmp; result_plot=$results/partial.png.tmp; fi
run() {  # label, then crd-bench arguments
    local label=$1; shift
    if [ -n "$only" ] && ! [[ $label =~ $only ]]; then return 0; fi
    echo "bench: $label" >&2
    "$bench" --label "$label" --duration "$duration" --warmup 2 "$@" >> "$out"
}

crd="http://127.0.0.1:$port/cds-services"
run health-get            --url "http://127.0.0.1:$port/health" --method GET --connections 16 --server-pid "$crd_pid"
run nginx-static-get      --url "http://127.0.0.1:$nginx_port/x" --method GET --connections 16 --server-pid "$nginx_worker"
run order-sign            --url "$crd/order-sign-crd" "${json_header[@]}" --body $bodies/payerbox-order-sign.json --connections 16 --server-pid "$crd_pid"
run order-sign-large-100  --url "$crd/order-sign-crd" "${json_header[@]}" --body "$work/large.json" --connections 8 --server-pid "$crd_pid"
run order-select          --url "$crd/order-select-crd" "${json_header[@]}" --body $fixtures/crd-order-select-1.json --connections 16 --server-pid "$crd_pid"
run order-dispatch        --url "$crd/order-dispatch-crd" "${json_header[@]}" --body $fixtures/crd-order-dispatch-1.json --connections 16 --server-pid "$crd_pid"
run appointment-book      --url "$crd/appointment-book-crd" "${json_header[@]}" --body $fixtures/crd-appointment-book-3.json --connections 16 --server-pid "$crd_pid"
run encounter-start       --url "$crd/encounter-start-crd" "${json_header[@]}" --body $fixtures/crd-encounter-start-1.json --connections 16 --server-pid "$crd_pid"
run encounter-discharge   --url "$crd/encounter-discharge-crd" "${json_header[@]}" --body $fixtures/crd-encounter-discharge-1.json --connections 16 --server-pid "$crd_pid"
run order-sign-open-1000  --url "$crd/order-sign-crd" "${json_header[@]}" --body $bodies/payerbox-order-sign.json --connections 64 --rate 1000 --server-pid "$crd_pid"
run nginx-open-1000       --url "http://127.0.0.1:$nginx_port/x" --method GET --connections 64 --rate 1000 --server-pid "$nginx_worker"

# Authentication cost: the same open-loop order-sign with no token, an ES384 and an RS384 client JWT.
run order-sign-open-$auth_rate-noauth --url "$crd/order-sign-crd" "${json_header[@]}" --body $bodies/payerbox-order-sign.json --connections 64 --rate $auth_rate --server-pid "$crd_pid"
run order-sign-open-$auth_rate-es384  --url "http://127.0.0.1:$auth_port/cds-services/order-sign-crd" "${json_header[@]}" --body $bodies/payerbox-order-sign.json --connections 64 --rate $auth_rate --auth-tokens "$work/ES384/tokens.txt" --server-pid "$auth_pid"
run order-sign-open-$auth_rate-rs384  --url "http://127.0.0.1:$auth_port/cds-services/order-sign-crd" "${json_header[@]}" --body $bodies/payerbox-order-sign.json --connections 64 --rate $auth_rate --auth-tokens "$work/RS384/tokens.txt" --server-pid "$auth_pid"
# SMART Backend Services: one access token (signed ES384 by crd-server) reused on every call, as an
# EHR does for its 5-minute life; verified once, then recalled.
access_token=$(curl -s --data-urlencode grant_type=client_credentials --data-urlencode 'scope=system/*.read' \
    --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode client_assertion@"$work/ES384/assertion.txt" "http://127.0.0.1:$auth_port/auth/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$access_token" ] || { echo "bench: the token endpoint gave no access token" >&2; exit 1; }
awk -v t="Bearer $access_token" -v n="$token_count" 'BEGIN { for (i = 0; i < n; i++) print t }' > "$work/smart-tokens.txt"
run order-sign-open-$auth_rate-smart  --url "http://127.0.0.1:$auth_port/cds-services/order-sign-crd" "${json_header[@]}" --body $bodies/payerbox-order-sign.json --connections 64 --rate $auth_rate --auth-tokens "$work/smart-tokens.txt" --server-pid "$auth_pid"

# Prefetch fetched from the fake FHIR server (2 ms per read), against the same call with full prefetch.
run order-sign-prefetch-fetched-open-1000 --url "http://127.0.0.1:$prefetch_port/cds-services/order-sign-crd" "${json_header[@]}" --body $bodies/order-sign-without-prefetch.json --connections 64 --rate 1000 --server-pid "$prefetch_pid"
run order-sign-prefetch-fetched --url "http://127.0.0.1:$prefetch_port/cds-services/order-sign-crd" "${json_header[@]}" --body $bodies/order-sign-without-prefetch.json --connections 64 --server-pid "$prefetch_pid"

# Gateway: the same order-sign call to the decision service directly, through nginx, through crd-server.
sign=(--header 'Content-Type: application/json' --body $bodies/payerbox-order-sign.json)
run decision-direct       --url "http://127.0.0.1:$decision_port/decide" "${sign[@]}" --connections 16 --server-pid "$decision_pid"
run nginx-proxy           --url "http://127.0.0.1:$proxy_port/decide" "${sign[@]}" --connections 16 --server-pid "$nginx_worker"
run gateway               --url "http://127.0.0.1:$gateway_port/cds-services/order-sign-crd" "${sign[@]}" --connections 16 --server-pid "$gateway_pid"
# A CRD 2.2 caller (requestedVersion 2.2) through a gateway whose service echoes the order as sent.
run gateway-2-2           --url "http://127.0.0.1:$gateway_22_port/cds-services/order-sign-crd" "${json_header[@]}" --body $bodies/payerbox-order-sign-2.2.json --connections 16 --server-pid "$gateway_22_pid"
# The same gateway speaking the decisions protocol (docs/decision-api.yaml) to the same fake service.
run gateway-decisions     --url "http://127.0.0.1:$decisions_port/cds-services/order-sign-crd" "${sign[@]}" --connections 16 --server-pid "$decisions_pid"
run decision-direct-open-1000 --url "http://127.0.0.1:$decision_port/decide" "${sign[@]}" --connections 64 --rate 1000 --server-pid "$decision_pid"
run nginx-proxy-open-1000 --url "http://127.0.0.1:$proxy_port/decide" "${sign[@]}" --connections 64 --rate 1000 --server-pid "$nginx_worker"
run gateway-open-1000     --url "http://127.0.0.1:$gateway_port/cds-services/order-sign-crd" "${sign[@]}" --connections 64 --rate 1000 --server-pid "$gateway_pid"
run gateway-decisions-open-1000 --url "http://127.0.0.1:$decisions_port/cds-services/order-sign-crd" "${sign[@]}" --connections 64 --rate 1000 --server-pid "$decisions_pid"
# 2,000 requests in flight on a 200 ms decision service: all answered, none dropped, bounded memory.
run slow-decision-2000    --url "http://127.0.0.1:$slow_port/cds-services/order-sign-crd" "${sign[@]}" --connections 2000 --server-pid "$slow_pid"
if [ "$soak" -gt 0 ]; then
    echo "bench: soak for $soak s" >&2
    "$bench" --label soak-500 --duration "$soak" --warmup 30 --url "$crd/order-sign-crd" "${json_header[@]}" \
        --body $bodies/payerbox-order-sign.json --connections 32 --rate 500 --server-pid "$crd_pid" >> "$out"
fi

# One JSON document: the machine, the command, the date, every scenario.
{
    printf '{"date": "%s", "commit": "%s", "command": "./crd-dev bench", "duration_s": %s,\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$duration"
    printf ' "machine": {"cpu": "%s", "cores": %s, "memory": "%s", "kernel": "%s"},\n' \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" \
        "$(free -h | awk '/Mem:/ {print $2}')" "$(uname -r)"
    printf ' "crd_server": {"threads": %s}' "$threads"; printf ', "nginx": {"worker_processes": 1},\n "results": [\n'
    sed '$!s/$/,/' "$out"
    printf ' ]}\n'
} > "$result_json"

# The same as a Markdown table, for bench/README.md.
result_md=${result_json%.json}.md
[ -n "$only" ] && result_md=$results/partial.md.tmp
awk '
    function num(key,   m) { if (match($0, "\"" key "\":[^,}]*")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m + 0 } return 0 }
    function str(key,   m) { if (match($0, "\"" key "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); return m } return "" }
    BEGIN {
        print "| Scenario | Load | Throughput (req/s) | p50 | p90 | p99 | p99.9 | max | Server CPU per request | Server peak RSS | Answers |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    }
    {
        load = str("mode") == "open" ? sprintf("open, %d req/s, %d conn", num("target_rate"), num("connections")) : sprintf("closed, %d conn", num("connections"))
        answers = $0; sub(/.*"statuses":\{/, "", answers); sub(/\}.*/, "", answers); gsub(/"/, "", answers); gsub(/,/, " ", answers)
        errors = $0; sub(/.*"errors":\{/, "", errors); sub(/\}.*/, "", errors); gsub(/"/, "", errors)
        if (errors != "") answers = answers ", errors " errors
        printf "| %s | %s | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f us | %.1f MB | %s |\n", str("label"), load, num("throughput_rps"),
            num("p50"), num("p90"), num("p99"), num("p99_9"), num("max"), num("server_cpu_us_per_request"), num("server_peak_rss_kb") / 1024, answers
    }' "$out" > "$result_md"

# Latency percentiles per scenario (the soak is left out: it is about stability, not speed).
awk -F'"' '
    /"label"/ {
        label=""; p50=""; p90=""; p99="";
        for (i = 1; i <= NF; i++) {
            if ($i == "label") label=$(i+2);
            if ($i == "p50") { v=$(i+1); gsub(/[:,]/, "", v); p50=v }
            if ($i == "p90") { v=$(i+1); gsub(/[:,]/, "", v); p90=v }
            if ($i == "p99") { v=$(i+1); gsub(/[:,]/, "", v); p99=v }
        }
        if (label != "soak-500") print label, p50, p90, p99
    }' "$out" > "$work/latency.dat"
# A soak-only run (CRD_BENCH_ONLY matching no scenario) has nothing to plot: gnuplot would fail on it.
if [ -s "$work/latency.dat" ]; then
gnuplot <<GP
set terminal pngcairo size 1000,560 background rgb 'white'
set output '$result_plot'
set title 'crd-server latency by scenario ($(date -u +%Y-%m-%d), $(nproc) cores; lower is better)'
set ylabel 'milliseconds (log scale)'
set logscale y
set yrange [0.05:1000]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by 45 right font ',9'
set bmargin 14
set key top left
set grid ytics
plot '$work/latency.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p90', '' using 4 title 'p99'
GP
fi
echo "bench: wrote $result_json, $result_md and $result_plot" >&2
cat "$result_json"
