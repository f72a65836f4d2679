#!/usr/bin/env bash
# System calls and context switches per call under the benchmark's gateway load, for crd-server as
# a gateway and nginx as a reverse proxy in front of the same fake decision service, measured in one
# run: issue 19's "system calls per gateway call no more than nginx's", under the load its CPU ratio
# is measured with (bench/run.sh's gateway and nginx-proxy scenarios: 16 keep-alive connections,
# closed loop, one server thread, one nginx worker). The kernel counts them (perf stat on the
# raw_syscalls:sys_enter tracepoint of the server's process), which does not slow the server down
# the way strace does (bench/syscalls.sh: one connection, one call at a time, the exact calls).
# Needs perf (linux-perf, installed here) and the right to read the tracepoint: root, or
# kernel.perf_event_paranoid at -1 and access to /sys/kernel/tracing.
# Usage: bench/syscalls-under-load.sh BUILD_DIR [SECONDS] [ROUNDS]
#   SECONDS  load per measurement (default 8); ROUNDS  alternating nginx/crd-server pairs (default 3)
#   CRD_BENCH_SERVER  another crd-server binary to measure (default BUILD_DIR/server/crd-server)
# Prints one line per measurement: label, requests, syscalls per request, context switches per request.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "$1") seconds=${2:-8} rounds=${3:-3}
scripts/install-deps.sh nginx-light linux-perf
server=${CRD_BENCH_SERVER:-$build/server/crd-server}
bench=$build/bench/crd-bench
decision_port=18190 proxy_port=18191 gateway_port=18192   # away from bench/run.sh's 18080-18093
work=$(mktemp -d /tmp/crd-syscalls-load.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$build/bench/crd-fake-decision" --port "$decision_port" &
pids+=("$!")
cat > "$work/gateway.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $gateway_port, "threads": 1}, "admin": {"port": 0}, "auth": {"required": false},
 "decision": {"url": "http://127.0.0.1:$decision_port/decide", "pool_size": 64}, "log": {"level": "warning"}}
JSON
"$server" --config "$work/gateway.json" 2>"$work/gateway.log" &
gateway_pid=$!; pids+=("$gateway_pid")
. bench/nginx-conf.sh
nginx_conf "$work" "$decision_port" "$proxy_port"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
nginx_master=$!; pids+=("$nginx_master")
# The master starts its worker after it is running: wait for the worker, whose calls are the ones counted.
nginx_worker=
for _ in $(seq 100); do
    nginx_worker=$(pgrep -P "$nginx_master" | head -1 || true)
    [ -n "$nginx_worker" ] && break
    sleep 0.1
done
[ -n "$nginx_worker" ] || { echo "syscalls-under-load: nginx started no worker (see $work/nginx/error.log)" >&2; exit 1; }
# Both warm: first connections, the decision service's pool, the server's caches.
sign=(--header 'Content-Type: application/json' --body bench/bodies/payerbox-order-sign.json --connections 16)
"$bench" --url "http://127.0.0.1:$proxy_port/decide" "${sign[@]}" --duration 1 --warmup 0 >/dev/null
"$bench" --url "http://127.0.0.1:$gateway_port/cds-services/order-sign-crd" "${sign[@]}" --duration 1 --warmup 0 >/dev/null

measure() {  # label, pid, url
    local label=$1 pid=$2 url=$3
    perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$pid" -o "$work/perf.txt" -- \
        "$bench" --label "$label" --url "$url" "${sign[@]}" --duration "$seconds" --warmup 0 > "$work/load.json"
    python3 - "$label" "$work/load.json" "$work/perf.txt" <<'PY'
import json, sys
label, load, perf = sys.argv[1:4]
result = json.load(open(load))
requests = result['requests']
if requests == 0 or set(result['statuses']) != {'200'}:
    sys.exit(f'{label}: not every call was answered 200: {result["statuses"]}')
counts = {}
for line in open(perf):
    fields = line.strip().split(',')
    if len(fields) > 2 and fields[0].isdigit():
        counts[fields[2]] = int(fields[0])
missing = {'raw_syscalls:sys_enter', 'context-switches'} - set(counts)
if missing:
    sys.exit(f'{label}: perf counted no {", ".join(sorted(missing))} (root, or perf_event_paranoid and tracefs access, is needed): ' + open(perf).read())
print(f'{label:12} requests {requests:7d}  syscalls/request {counts["raw_syscalls:sys_enter"] / requests:5.2f}'
      f'  context switches/request {counts["context-switches"] / requests:5.3f}')
PY
}
for _ in $(seq "$rounds"); do
    measure nginx-proxy "$nginx_worker" "http://127.0.0.1:$proxy_port/decide"
    measure gateway "$gateway_pid" "http://127.0.0.1:$gateway_port/cds-services/order-sign-crd"
done
