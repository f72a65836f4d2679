#!/usr/bin/env bash
# Issue 17: what the shared replay cache (Redis) costs per call, and two instances behind haproxy.
# Every scenario is order-sign with a fresh RS384 client JWT per call (the cheapest client JWT to
# verify, so the Redis round trip is the largest share it can be):
#   replay-local-*     one crd-server, in-process replay cache (the single-host default)
#   replay-redis-*     one crd-server, replay checks in Redis (SET NX PX per call)
#   haproxy-2-redis-*  etc/haproxy/crd-server.cfg in front of two such crd-servers, one Redis
# Open loop (a steady rate, latency from each request's intended send time) for the added latency;
# closed loop (16 connections, as fast as answers come) for throughput. Every crd-server has one
# worker thread; on a 2-core machine the load generator, haproxy and Redis share the cores.
# Writes bench/results/scaleout.json and scaleout.md.
# Usage: bench/scaleout.sh [BUILD_DIR]
#   CRD_BENCH_DURATION_S  measured seconds per scenario (default 5; warm-up 2 s more)
#   CRD_BENCH_RATE        open-loop rate (default 500 requests/s)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
duration=${CRD_BENCH_DURATION_S:-5}
rate=${CRD_BENCH_RATE:-500}
scripts/install-deps.sh

bench="$build/bench/crd-bench"
server=${CRD_BENCH_SERVER:-$build/server/crd-server}
work=$(mktemp -d /tmp/crd-scaleout.XXXXXX)
results=bench/results
mkdir -p "$results"
lb_port=18180; local_port=18181; redis_single_port=18183; a_port=18185; b_port=18187; redis_port=18190
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning >"$work/redis.log" 2>&1 &
pids+=("$!")

# One client key and enough single-use tokens for every scenario (closed loops take as many as
# the servers answer: up to 8,000 a second is provided for). Every instance has the balancer's URL
# as public_base_url, so one audience serves them all. The bench client's SMART scope is left out:
# with a shared replay cache a SMART client would need auth.signing_key on every instance.
open_count=$(( rate * (duration + 2) + 500 ))
closed_count=$(( 8000 * (duration + 2) ))
total=$(( 3 * open_count + 2 * closed_count ))
mkdir -p "$work/tokens"
echo "bench: signing $total RS384 client JWTs" >&2
"$build/bench/crd-bench-tokens" --alg RS384 --count "$total" --aud "http://127.0.0.1:$lb_port/cds-services/order-sign-crd" --out "$work/tokens"
client=$(sed 's/"scope":"[^"]*",\{0,1\}//' "$work/tokens/client.json")
next_token=1
take_tokens() {  # count, file: the next `count` unused tokens
    sed -n "${next_token},$(( next_token + $1 - 1 ))p" "$work/tokens/tokens.txt" > "$2"
    next_token=$(( next_token + $1 ))
}

instance() {  # port, name, replay_cache JSON (or empty)
    local cache=""
    [ -n "$3" ] && cache=", \"replay_cache\": $3"
    cat > "$work/$2.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $1, "threads": 1}, "admin": {"port": 0}, "public_base_url": "http://127.0.0.1:$lb_port",
 "auth": {"required": true, "clients": [$client]$cache}, "decision": {"rules": "$PWD/etc/rules.json"}, "log": {"level": "warning"}}
JSON
    "$server" --config "$work/$2.json" 2>"$work/$2.log" &
    pids+=("$!")
    eval "${2}_pid=$!"
}
redis_cache="{\"redis\": \"redis://127.0.0.1:$redis_port/0\", \"timeout_ms\": 200}"
instance "$local_port" local ""
instance "$redis_single_port" single "$redis_cache"
instance "$a_port" a "$redis_cache"
instance "$b_port" b "$redis_cache"

sed -e "s/127.0.0.1:8000/127.0.0.1:$lb_port/" -e "s/127.0.0.1:8080/127.0.0.1:$a_port/" -e "s/127.0.0.1:8090/127.0.0.1:$b_port/" \
    -e 's/^    log stdout.*/    # log: off in the bench/' -e 's/^    log global//' -e 's/^    option httplog//' etc/haproxy/crd-server.cfg > "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!; pids+=("$haproxy_pid")
for port in $local_port $redis_single_port $a_port $b_port $lb_port; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
done

out="$work/results.jsonl"
: > "$out"
sign=(--header 'Content-Type: application/json' --body bench/bodies/payerbox-order-sign.json)
run() {  # label, url, pid, token count, crd-bench arguments...
    local label=$1 url=$2 pid=$3 count=$4; shift 4
    echo "bench: $label" >&2
    take_tokens "$count" "$work/$label.tokens"
    "$bench" --label "$label" --duration "$duration" --warmup 2 --url "$url/cds-services/order-sign-crd" "${sign[@]}" \
        --auth-tokens "$work/$label.tokens" --server-pid "$pid" "$@" >> "$out"
}
run "replay-local-open-$rate" "http://127.0.0.1:$local_port" "$local_pid" "$open_count" --connections 64 --rate "$rate"
run "replay-redis-open-$rate" "http://127.0.0.1:$redis_single_port" "$single_pid" "$open_count" --connections 64 --rate "$rate"
run "haproxy-2-redis-open-$rate" "http://127.0.0.1:$lb_port" "$a_pid" "$open_count" --connections 64 --rate "$rate"
run replay-local-closed-16 "http://127.0.0.1:$local_port" "$local_pid" "$closed_count" --connections 16
run haproxy-2-redis-closed-16 "http://127.0.0.1:$lb_port" "$a_pid" "$closed_count" --connections 16

{
    printf '{"date": "%s", "commit": "%s", "command": "bench/scaleout.sh", "duration_s": %s,\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$duration"
    printf ' "machine": {"cpu": "%s", "cores": %s, "kernel": "%s"},\n' \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "$(uname -r)"
    printf ' "crd_server": {"threads": 1, "instances_behind_haproxy": 2},\n "results": [\n'
    sed '$!s/$/,/' "$out"
    printf ' ]}\n'
} > "$results/scaleout.json"
# The table (server CPU is the instance named by --server-pid: instance A behind haproxy).
awk '
    function num(key,   m) { if (match($0, "\"" key "\":[^,}]*")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m + 0 } return 0 }
    function str(key,   m) { if (match($0, "\"" key "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); return m } return "" }
    BEGIN {
        print "| Scenario | Load | Throughput (req/s) | p50 | p90 | p99 | p99.9 | max | Server CPU per request | Answers |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    }
    {
        load = str("mode") == "open" ? sprintf("open, %d req/s, %d conn", num("target_rate"), num("connections")) : sprintf("closed, %d conn", num("connections"))
        answers = $0; sub(/.*"statuses":\{/, "", answers); sub(/\}.*/, "", answers); gsub(/"/, "", answers); gsub(/,/, " ", answers)
        errors = $0; sub(/.*"errors":\{/, "", errors); sub(/\}.*/, "", errors); gsub(/"/, "", errors)
        if (errors != "") answers = answers ", errors " errors
        printf "| %s | %s | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f us | %s |\n", str("label"), load, num("throughput_rps"),
            num("p50"), num("p90"), num("p99"), num("p99_9"), num("max"), num("server_cpu_us_per_request"), answers
    }' "$out" > "$results/scaleout.md"
cat "$results/scaleout.md"
