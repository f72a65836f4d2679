#!/usr/bin/env bash
# System calls crd-server makes for N order-sign calls through a decision service (gateway mode,
# crd-fake-decision), over one keep-alive connection from a Python client: strace -c's table.
# Run it for N and 2N and subtract for the calls per request (start-up and shutdown cancel out).
# Usage: bench/syscalls.sh TREE N   (TREE has a Release build in TREE/build-release)
set -euo pipefail
tree=$1 n=$2
"$(dirname "$0")/../scripts/install-deps.sh" strace
build=$tree/build-release
port=19280 dport=19290
work=$(mktemp -d /tmp/crd-syscalls.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$build/bench/crd-fake-decision" --port $dport & pids+=("$!")
cat > "$work/crd.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $port, "threads": 1}, "admin": {"port": 0}, "auth": {"required": false},
 "decision": {"url": "http://127.0.0.1:$dport/decide", "pool_size": 64, "protocol": "cds-hooks"}, "log": {"level": "warning"}}
JSON
strace -f -c -o "$work/strace.out" -e trace=timerfd_settime,sendmsg,recvmsg,sendto,recvfrom,writev,read,write,epoll_wait,epoll_ctl "$build/server/crd-server" --config "$work/crd.json" & sp=$!
pids+=("$sp")
python3 - "$port" "$tree/bench/bodies/payerbox-order-sign.json" "$n" <<'PY'
import http.client, socket, sys, time
port, body_path, calls = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = open(body_path, 'rb').read()
deadline = time.time() + 60
while True:
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close(); break
    except OSError:
        if time.time() > deadline: sys.exit('server did not start')
        time.sleep(0.1)
conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
for i in range(calls):
    conn.request('POST', '/cds-services/order-sign-crd', body, {'Content-Type': 'application/json'})
    r = conn.getresponse(); data = r.read()
    if r.status != 200: sys.exit(f'call {i}: status {r.status}')
conn.close()
PY
for c in $(pgrep -P "$sp"); do kill -TERM "$c"; done; wait "$sp" || true
cat "$work/strace.out"
