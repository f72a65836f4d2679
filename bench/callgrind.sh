#!/usr/bin/env bash
# Instructions crd-server executes per order-sign call, under callgrind: the measure that does not
# depend on machine load, used for the before/after comparisons in bench/README.md.
# The server runs under valgrind with the configuration bench/run.sh writes (one worker thread, log
# warning, no audit file); a Python client sends N and then (in a fresh server) 2N identical calls
# over one keep-alive connection, checks each answer is 200, and the server is stopped with SIGTERM.
# (Ir(2N) - Ir(N)) / N is the cost of one call with start-up, the first connection and shutdown
# cancelled out; the last line printed is that figure. The same client drives every tree.
# Usage: bench/callgrind.sh TREE MODE N OUTDIR
#   TREE    a source tree (its bench/bodies and etc/rules.json are used) with a Release build
#   MODE    embedded (rules engine, etc/rules.json), gateway (through a crd-fake-decision, CDS Hooks
#           protocol) or gateway-decisions (the same, decision.protocol "decisions")
#   N       calls in the short run (the long run makes 2N)
#   OUTDIR  where callgrind.out.<mode>.<calls> files go (bench/callgrind-functions.py reads them)
# Prints "MODE CALLS IR" for each run, then "MODE per-call IR".
# Environment:
#   CRD_CALLGRIND_BUILD=DIR  the Release build of TREE (default TREE/build-release)
#   CRD_CALLGRIND_ADMIN=0    leaves the "admin" key out of the configuration (builds before b0d5188
#                            refuse it; it is {"port": 0}, no admin listener, in the newer configuration,
#                            as bench/run.sh)
#   CRD_CALLGRIND_FAKE=PATH  runs that decision-service stand-in instead of the tree's own: when the
#                            stand-in changed between the trees compared (b183a90 rewrote it), both
#                            measurements use one binary and only crd-server differs
#   CRD_CALLGRIND_PORT / CRD_CALLGRIND_DECISION_PORT move the two ports (default 19180 / 19190)
#   CRD_CALLGRIND_DECISION_BODY=FILE  the CDS Hooks answer the stand-in gives (--body), e.g.
#                            bench/bodies/cds-hooks-answer-order-sign.json: the same answer the EHR gets
#                            in gateway-decisions mode, so that the two protocols are compared on one answer
#   CRD_CALLGRIND_BODY=PATH  sends that request body instead of TREE/bench/bodies/payerbox-order-sign.json
#                            (e.g. bench/make-large-order-sign.sh's 100 orders)
#   CRD_CALLGRIND_SERVICE=ID calls that service instead of order-sign-crd (e.g. appointment-book-crd with
#                            CRD_CALLGRIND_BODY=tests/fixtures/crd-examples/crd-appointment-book-3.json; point
#                            its fhirServer at a closed local port first, as bench/run.sh does)
set -euo pipefail
tree=$1 mode=$2 n=$3 outdir=$4
build=${CRD_CALLGRIND_BUILD:-$tree/build-release}
admin=${CRD_CALLGRIND_ADMIN:-1}
server=$build/server/crd-server
fake=${CRD_CALLGRIND_FAKE:-$build/bench/crd-fake-decision}
body=${CRD_CALLGRIND_BODY:-$tree/bench/bodies/payerbox-order-sign.json}
port=${CRD_CALLGRIND_PORT:-19180} decision_port=${CRD_CALLGRIND_DECISION_PORT:-19190}   # away from bench/run.sh's 18080-18092
case "$mode" in embedded | gateway | gateway-decisions) ;; *) echo "callgrind.sh: MODE is embedded, gateway or gateway-decisions, not '$mode'" >&2; exit 2 ;; esac
mkdir -p "$outdir"
work=$(mktemp -d /tmp/crd-callgrind.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

admin_json=""
[ "$admin" = 1 ] && admin_json='"admin": {"port": 0}, '
if [ "$mode" = embedded ]; then
    cat > "$work/crd.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $port, "threads": 1}, ${admin_json}"prefetch": {"required_keys": []},
 "auth": {"required": false}, "decision": {"rules": "$tree/etc/rules.json"}, "log": {"level": "warning"}}
JSON
else
    fake_args=(--port "$decision_port")
    [ -n "${CRD_CALLGRIND_DECISION_BODY:-}" ] && fake_args+=(--body "$CRD_CALLGRIND_DECISION_BODY")
    "$fake" "${fake_args[@]}" &
    pids+=("$!")
    protocol=cds-hooks
    [ "$mode" = gateway-decisions ] && protocol=decisions
    cat > "$work/crd.json" <<JSON
{"listen": {"address": "127.0.0.1", "port": $port, "threads": 1}, ${admin_json}"auth": {"required": false},
 "decision": {"url": "http://127.0.0.1:$decision_port/decide", "pool_size": 64, "protocol": "$protocol"}, "log": {"level": "warning"}}
JSON
fi

drive() {  # calls: wait for the port, then send the calls over one keep-alive connection
    python3 - "$port" "$body" "$1" "${CRD_CALLGRIND_SERVICE:-order-sign-crd}" <<'PY'
import http.client, socket, sys, time
port, body_path, calls, service = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = open(body_path, 'rb').read()
deadline = time.time() + 120
while True:  # valgrind start-up takes a few seconds
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close(); break
    except OSError:
        if time.time() > deadline: sys.exit('server did not start')
        time.sleep(0.2)
conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
for i in range(calls):
    conn.request('POST', '/cds-services/' + service, body, {'Content-Type': 'application/json'})
    r = conn.getresponse(); data = r.read()
    if r.status != 200: sys.exit(f'call {i}: status {r.status}: {data[:200]!r}')
conn.close()
PY
}

totals=()
for calls in "$n" $((2 * n)); do
    out="$outdir/callgrind.out.$mode.$calls"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$server" --config "$work/crd.json" 2>"$work/valgrind.$calls.log" &
    vg=$!
    drive "$calls"
    kill -TERM "$vg"; wait "$vg" || true
    ir=$(awk '/^totals:/ {print $2}' "$out")
    [ -n "$ir" ] || ir=$(awk '/^summary:/ {print $2}' "$out")
    echo "$mode $calls $ir"
    totals+=("$ir")
done
echo "$mode per-call $(( (totals[1] - totals[0]) / n ))"
