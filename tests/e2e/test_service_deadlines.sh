#!/usr/bin/env bash
# The service runner's deadlines: a run that outlives `timeout` on the fast
# path, clients that send a request too slowly, a stop with a function node
# that never returns, and requests whose framing or URL libmicrohttpd hands
# over as it is.  Margins are generous (a loaded 2-core machine), but each
# bound is well under what the same case took without it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=service_lib.sh
. "$(dirname "$0")/service_lib.sh"

command -v curl >/dev/null 2>&1 || { echo "curl is needed"; echo "0 passed, 1 failed"; exit 1; }

# One function node that sleeps params:nap_ms and cannot be stopped
# (bench.stall does not look at cancellation): only functions, so runs may
# take the fast path.
nap_project()
{
    service_project
    cat >conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: nap, func: bench.stall, inputs: "params:x", outputs: napped}
EOF
    printf 'x: 1\nnap_ms: 0\n' >conf/base/parameters.yml
}

# seconds since T0 (date +%s.%N), below LIMIT: 1, else 0
within()
{
    awk -v a="$1" -v b="$(date +%s.%N)" -v l="$2" 'BEGIN { print (b - a < l) ? 1 : 0 }'
}

# A run that naps 20 s on the fast path, with timeout 3: its client gets 504
# at about 3 s, and /healthz and /metrics answer while it naps (they did not,
# and the 504 came after the nap, when both HTTP threads held such a run).
test_fast_path_run_is_bounded_by_timeout()
{
    nap_project
    start_service --runner-opt workers=2 --runner-opt threads=2 --runner-opt timeout=3 \
        --runner-opt grace_period=1
    # short runs first: the fast path is on
    http POST /v1/runs '{"params": {"nap_ms": 0}}'
    expect_http 200
    local t0 i clients=()
    t0=$(date +%s.%N)
    for i in 1 2; do
        curl -s -m 30 -o "answer.$i" -w '%{http_code} %{time_total}' \
            -d '{"params": {"nap_ms": 20000}}' "$BASE/v1/runs" >"code.$i" &
        clients+=($!)
    done
    sleep 1
    local h0
    h0=$(date +%s.%N)
    CODE=$(curl -s -m 5 -o body.json -w '%{http_code}' "$BASE/healthz") || CODE=000
    expect_eq "$CODE" 200 "/healthz while two runs nap"
    expect_eq "$(within "$h0" 2)" 1 "/healthz answered within 2 s"
    CODE=$(curl -s -m 5 -o metrics.txt -w '%{http_code}' "$BASE/metrics") || CODE=000
    expect_eq "$CODE" 200 "/metrics while two runs nap"
    wait "${clients[@]}"
    for i in 1 2; do
        read -r code secs <"code.$i"
        # 503 (retry): the request came on a connection of the HTTP thread
        # that napped, and was never read
        case $code in
        504) grep -q '"status":"timed_out"' "answer.$i" || fail "request $i: $(cat "answer.$i")" ;;
        503) grep -q 'retry' "answer.$i" || fail "request $i: $(cat "answer.$i")" ;;
        *) fail "request $i: HTTP $code: $(cat "answer.$i")" ;;
        esac
        expect_eq "$(awk -v s="$secs" 'BEGIN { print (s < 8) }')" 1 \
            "request $i answered in $secs s (timeout 3)"
    done
    expect_eq "$(within "$t0" 10)" 1 "both answered long before the nap ends"
    http GET /metrics
    expect_http 200
    expect_body_contains 'crun_service_runs_total{result="timed_out"}'
    stop_service
    expect_clean_exit
}

# Keep-alive connections that an HTTP thread serves while it naps in a
# fast-path run: a request on them is answered (503, retry) within about a
# second, not after the nap (which of them the napping thread serves is up
# to libmicrohttpd: 16 connections over 3 threads make it near certain that
# some are).
test_connections_of_a_napping_http_thread_are_not_held()
{
    nap_project
    start_service --runner-opt workers=2 --runner-opt threads=2 --runner-opt timeout=30 \
        --runner-opt grace_period=1
    http POST /v1/runs '{"params": {"nap_ms": 0}}'
    expect_http 200
    python3 - "${BASE##*:}" >held.txt 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def ask(s, req):
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b" ", 2)[1].decode() if data else "closed"
get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
conns = []
for i in range(16):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(15)
    ask(s, get)
    conns.append(s)
nap = socket.create_connection(("127.0.0.1", port))
body = b'{"params": {"nap_ms": 20000}}'
nap.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
time.sleep(0.5)
worst = 0.0
codes = []
for s in conns:
    t0 = time.time()
    try:
        codes.append(ask(s, get))
    except OSError as e:
        codes.append("error " + type(e).__name__)
    worst = max(worst, time.time() - t0)
print("codes %s worst %.1f" % (" ".join(sorted(set(codes))), worst))
EOF
    e2e_checked
    grep -Eq "^codes (200|503|200 503) worst [0-3]\." held.txt ||
        fail "a request waited for the nap, or got no answer: $(cat held.txt)"
    stop_service
    expect_clean_exit
}

# A run whose function node naps past `timeout` cannot be stopped, but it
# no longer holds the only worker: the next request runs at once (it timed
# out in the queue behind the nap before), on a worker or the fast path.
test_a_timed_out_run_does_not_hold_its_worker()
{
    nap_project
    local fast t0
    for fast in false true; do
        start_service --runner-opt workers=1 --runner-opt timeout=2 \
            --runner-opt fast_path=$fast --runner-opt grace_period=1
        http POST /v1/runs '{"params": {"nap_ms": 0}}'
        expect_http 200
        http POST /v1/runs '{"params": {"nap_ms": 20000}}'
        expect_http 504
        t0=$(date +%s.%N)
        http POST /v1/runs '{"params": {"nap_ms": 0}}'
        expect_http 200
        expect_eq "$(within "$t0" 1.5)" 1 "fast_path $fast: the next run did not wait for the nap"
        stop_service
        expect_clean_exit
    done
}

# 16 clients that each send one byte of headers every 2 s hold every
# connection slot (max_connections 16); request_timeout closes them, so
# /healthz answers again within it (it failed for as long as they went on).
test_slow_clients_cannot_hold_every_connection()
{
    service_project
    start_service --runner-opt max_connections=16 --runner-opt request_timeout=3 \
        --runner-opt threads=2
    python3 - "${BASE##*:}" >loris.txt 2>&1 <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
conns = []
for i in range(16):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"G")
    conns.append(s)
t0 = time.time()
closed = {}
request = b"ET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100
k = 0
while time.time() - t0 < 14 and len(closed) < len(conns):
    time.sleep(2)
    for i, s in enumerate(conns):
        if i in closed:
            continue
        try:
            s.sendall(request[k:k + 1])
        except OSError:
            closed[i] = time.time() - t0
    k += 1
print("closed %d of %d, the last after %.1f s" %
      (len(closed), len(conns), max(closed.values()) if closed else -1))
EOF
    local loris=$! t0 ok=0
    sleep 0.5
    t0=$(date +%s.%N)
    while [ "$(within "$t0" 9)" = 1 ]; do
        CODE=$(curl -s -m 1 -o body.json -w '%{http_code}' "$BASE/healthz") || CODE=000
        [ "$CODE" = 200 ] && { ok=1; break; }
        sleep 0.3
    done
    expect_eq "$ok" 1 "/healthz answered while 16 slow clients connect"
    wait $loris
    grep -q "closed 16 of 16" loris.txt || fail "the slow clients were not cut off: $(cat loris.txt)"
    stop_service
    expect_clean_exit
}

# Content-Length twice with different values: 400 (RFC 9112, 6.3) and the
# connection closed; the body's tail is never read as a second request.
test_conflicting_content_length_is_refused()
{
    service_project
    start_service
    python3 - "${BASE##*:}" >raw.txt 2>&1 <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
tail = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
body = b"{}" + tail + b" " * (40 - 2 - len(tail))
s.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
          b"Content-Length: 40\r\n\r\n" + body)
s.settimeout(10)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("latin-1"))
EOF
    e2e_checked
    head -n 1 raw.txt | grep -q "^HTTP/1.1 400" || fail "not a 400: $(head -c 300 raw.txt)"
    expect_eq "$(grep -c '^HTTP/1' raw.txt)" 1 "one answer on the connection"
    grep -qi '^content-type: application/json' raw.txt || fail "not JSON: $(cat raw.txt)"
    grep -q '"error":".*Content-Length' raw.txt || fail "the error does not say why: $(cat raw.txt)"
    http POST /v1/runs '{"params": {"x": 2}}' -H 'Content-Length: 20' -H 'Content-Length: 20'
    expect_http 200
    stop_service
    expect_clean_exit
}

# A run id that is not UTF-8 once decoded: 404 naming it, in valid JSON.
test_undecodable_run_id_gets_a_json_error()
{
    service_project
    start_service
    http GET '/v1/runs/%ff%fe'
    expect_http 404
    expect_eq "$(body 'd["error"]')" "no run '\\xFF\\xFE' among the last 1000 runs this service keeps"
    stop_service
    expect_clean_exit
}

# SIGTERM while a function node naps for 30 s (it cannot be stopped): the
# process ends within grace_period and a small margin, the client got 503,
# and the log names the abandoned run (it took the whole nap, and more).
test_sigterm_with_a_stuck_function_node_is_bounded()
{
    nap_project
    start_service --runner-opt workers=1 --runner-opt fast_path=false \
        --runner-opt grace_period=2 --runner-opt timeout=0
    curl -s -m 40 -o answer.json -w '%{http_code}' \
        -d '{"params": {"nap_ms": 30000}}' "$BASE/v1/runs" >code.txt &
    local client=$! t0
    sleep 1
    t0=$(date +%s.%N)
    stop_service TERM
    expect_eq "$(within "$t0" 7)" 1 "stopped within grace_period (2 s) and a margin"
    expect_clean_exit
    wait $client
    expect_eq "$(cat code.txt)" 503 "the client's answer: $(cat answer.json)"
    grep -q "abandoning run .* on a worker thread" svc.err ||
        fail "the log does not name the abandoned run: $(tail -n 5 svc.err)"
}

# The same with the run on the fast path (an HTTP thread): answered 503 at
# the end of the grace period, and the process ends.
test_sigterm_with_a_stuck_fast_path_run_is_bounded()
{
    nap_project
    start_service --runner-opt workers=1 --runner-opt grace_period=1 --runner-opt timeout=0
    http POST /v1/runs '{"params": {"nap_ms": 0}}'
    expect_http 200
    curl -s -m 40 -o answer.json -w '%{http_code}' \
        -d '{"params": {"nap_ms": 30000}}' "$BASE/v1/runs" >code.txt &
    local client=$! t0
    sleep 1
    t0=$(date +%s.%N)
    stop_service TERM
    expect_eq "$(within "$t0" 6)" 1 "stopped within grace_period (1 s) and a margin"
    expect_clean_exit
    wait $client
    expect_eq "$(cat code.txt)" 503 "the client's answer: $(cat answer.json)"
    grep -q "abandoning run .* on an HTTP thread" svc.err ||
        fail "the log does not name the abandoned run: $(tail -n 5 svc.err)"
}

run_tests "$@"
