#!/usr/bin/env bash
# bench/service/run.sh - the service runner under load, against a plain server.
#
#   bash bench/service/run.sh [--quick]
#
# 1. Throughput: wrk (2 threads, 64 connections) against libmicrohttpd's plain
#    hello server (hello.c, configured as the service configures it), then
#    against `crun --runner service` serving a 3-node in-process pipeline
#    (bench.noop functions), with the same POST request; ROUNDS (9) rounds
#    of hello then service.  Target: the median of the rounds' ratios is at
#    least 0.70 of hello's requests/s, with a p99 latency under 10 ms.
#    Before that, path.c times the service's own per-request work (parse,
#    run, answer) without HTTP, in one thread: the floor under its cost.
# 2. Soak: 1,000,000 POST /v1/runs on one service process, sampling its RSS
#    every second.  Target: memory flat (the end within 10% + 2 MiB of the
#    level after the first 100,000 requests).
# Prints the numbers and PASS/FAIL per target; exits 1 when one fails.
# Needs wrk, curl, cc, libmicrohttpd-dev and a built crun (CRUN=...).
# Everything runs on 127.0.0.1 and stops by itself.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CRUN=${CRUN:-$ROOT/build/crun}
DURATION=${DURATION:-10}
SOAK=${SOAK:-1000000}
SERVER_THREADS=${SERVER_THREADS:-2}
ROUNDS=${ROUNDS:-9}
[ "${1:-}" = --quick ] && { DURATION=3; SOAK=100000; }
for tool in wrk curl cc python3; do
    command -v $tool >/dev/null || { echo "bench: $tool is needed"; exit 2; }
done
[ -x "$CRUN" ] || { echo "bench: no crun at $CRUN (build it or set CRUN)"; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/crun-bench-service.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

cc -O2 -o "$WORK/hello" "$HERE/hello.c" $(pkg-config --cflags --libs libmicrohttpd) -lpthread ||
    exit 2
BUILD=$(dirname "$CRUN")
SVC_SRC=$ROOT/plugins/runners/service
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/include" -I"$SVC_SRC" -o "$WORK/path" "$HERE/path.c" \
    "$SVC_SRC/request.c" "$SVC_SRC/answer.c" "$SVC_SRC/served.c" "$BUILD/runner/libcrun.so" \
    -Wl,-rpath,"$BUILD/runner" -ljansson -lpthread || exit 2
PLUGINS=$(find "$BUILD/plugins" -name '*.so' -printf '%h\n' | sort -u | paste -sd:)

# the project: n0 -> n1 -> n2, each bench.noop, fed by params:x
P=$WORK/project
mkdir -p "$P/conf/base" "$P/conf/local"
printf '[project]\nname = bench_service\n' >"$P/crun.ini"
cat >"$P/conf/base/pipelines.yml" <<'YML'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: n0, func: bench.noop, inputs: "params:x", outputs: d0}
      - {name: n1, func: bench.noop, inputs: d0, outputs: d1}
      - {name: n2, func: bench.noop, inputs: d1, outputs: d2}
YML
echo 'x: 1' >"$P/conf/base/parameters.yml"
printf 'default: sequential\nrunners:\n  sequential: {type: sequential}\n' >"$P/conf/base/runner.yml"

cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"params": {"x": 7}}'
wrk.headers["Content-Type"] = "application/json"
LUA

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # URL
    local i
    for i in $(seq 1 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "bench: nothing answers at $1"
    exit 2
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wrk_run PID URL [lua]: prints "rps p99_ms non2xx cpu_us_per_request" (the
# server's CPU time per request does not depend on what else the machine does)
wrk_run() {
    local out t0 t1
    t0=$(cpu_ticks "$1")
    out=$(wrk -t2 -c64 -d"${DURATION}s" --latency ${3:+-s "$3"} "$2")
    t1=$(cpu_ticks "$1")
    echo "$out" | awk -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '
        /requests in/ { n = $1 }
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                      ms = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
        /Non-2xx/ { bad = $4 }
        END { printf "%.0f %.2f %s %.2f\n", rps, ms, bad ? bad : 0, (t1 - t0) * 1e6 / hz / n }'
}

HELLO_PORT=$(free_port)
"$WORK/hello" "$HELLO_PORT" "$SERVER_THREADS" &
PIDS+=($!)
HELLO_PID=$!
SVC_PORT=$(free_port)
(cd "$P" && exec "$CRUN" -q --runner service --runner-opt port="$SVC_PORT" \
    --runner-opt workers="$SERVER_THREADS" --runner-opt threads="$SERVER_THREADS" \
    --runner-opt queue=256 --runner-opt keep_runs=1000) &
SVC_PID=$!
PIDS+=($SVC_PID)
wait_http "http://127.0.0.1:$HELLO_PORT/"
wait_http "http://127.0.0.1:$SVC_PORT/healthz"
curl -s -d '{"params": {"x": 7}}' "http://127.0.0.1:$SVC_PORT/v1/runs" | grep -q '"d2":7' ||
    { echo "bench: the service does not answer the run"; exit 2; }

echo "== the service's work per request, without HTTP (one thread) =="
CRUN_PLUGIN_PATH=$PLUGINS "$WORK/path" "$P" 200000 '{"params": {"x": 7}}'
echo "== throughput: wrk -t2 -c64 -d${DURATION}s, server threads $SERVER_THREADS, $(nproc) CPUs =="
best_hello=0; best_hello_p99=0; best_svc=0; best_svc_p99=0; bad_total=0
hello_cpu=1e9; svc_cpu=1e9; ratios=""
for round in $(seq 1 "$ROUNDS"); do
    read -r rps p99 _ cpu < <(wrk_run "$HELLO_PID" "http://127.0.0.1:$HELLO_PORT/v1/runs" "$WORK/post.lua")
    hello_rps=$rps
    echo "hello   POST                    round $round: $rps req/s  p99 ${p99} ms  server CPU ${cpu} us/request"
    [ "$rps" -gt "$best_hello" ] && { best_hello=$rps; best_hello_p99=$p99; }
    hello_cpu=$(awk -v a="$hello_cpu" -v b="$cpu" 'BEGIN { print (b < a) ? b : a }')
    read -r rps p99 bad cpu < <(wrk_run "$SVC_PID" "http://127.0.0.1:$SVC_PORT/v1/runs" "$WORK/post.lua")
    echo "service POST /v1/runs (3 nodes) round $round: $rps req/s  p99 ${p99} ms  server CPU ${cpu} us/request  non-2xx $bad"
    bad_total=$((bad_total + bad))
    ratios="$ratios $(awk -v a="$rps" -v b="$hello_rps" 'BEGIN { printf "%.3f", a / b }')"
    [ "$rps" -gt "$best_svc" ] && { best_svc=$rps; best_svc_p99=$p99; }
    svc_cpu=$(awk -v a="$svc_cpu" -v b="$cpu" 'BEGIN { print (b < a) ? b : a }')
done
read -r rps p99 _ cpu < <(wrk_run "$HELLO_PID" "http://127.0.0.1:$HELLO_PORT/")
echo "hello   GET (for reference):           $rps req/s  p99 ${p99} ms  server CPU ${cpu} us/request"
echo "server CPU per request: hello $hello_cpu us, service $svc_cpu us (ratio $(awk -v a="$hello_cpu" -v b="$svc_cpu" 'BEGIN { printf "%.2f", a / b }'): the load-independent view)"
status=0
ratio=$(awk -v a="$best_svc" -v b="$best_hello" 'BEGIN { printf "%.2f", a / b }')
# each round pairs a hello run with the service run right after it: the
# median of those ratios is the verdict (best against best is shown too)
median=$(echo $ratios | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
verdict=$(awk -v r="$median" -v p="$best_svc_p99" -v bad="$bad_total" \
    'BEGIN { print (r >= 0.70 && p < 10 && bad == 0) ? "PASS" : "FAIL" }')
echo "ratio service/hello per round:$ratios; median $median, best/best $ratio (target >= 0.70); service p99: $best_svc_p99 ms (target < 10); non-2xx: $bad_total  $verdict"
[ "$verdict" = PASS ] || status=1
kill -TERM "$HELLO_PID"

echo "== soak: $SOAK requests on one service process =="
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$SVC_PID/status" 2>/dev/null; }
(
    while kill -0 "$SVC_PID" 2>/dev/null; do
        echo "$(date +%s.%N) $(rss_kib)"
        sleep 1
    done
) >"$WORK/rss.log" &
SAMPLER=$!
succeeded() {
    curl -s "http://127.0.0.1:$SVC_PORT/metrics" |
        awk '/^crun_service_runs_total\{result="succeeded"\}/ { print $2 }'
}
before=$(succeeded)
t0=$(date +%s.%N)
# wrk stops on time, not on a count: 5 s rounds until enough runs succeeded
for round in $(seq 1 200); do
    wrk -t2 -c64 -d5s -s "$WORK/post.lua" "http://127.0.0.1:$SVC_PORT/v1/runs" >>"$WORK/soak.out"
    [ $(($(succeeded) - before)) -ge "$SOAK" ] && break
done
t1=$(date +%s.%N)
after=$(succeeded)
kill "$SAMPLER" 2>/dev/null
done_runs=$((after - before))
warm=$(awk -v t="$t0" -v d="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 10 }')" \
    '$1 >= t + d && $2 { print $2; exit }' "$WORK/rss.log")
end_rss=$(tail -n 1 "$WORK/rss.log" | awk '{ print $2 }')
max_rss=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$WORK/rss.log")
flat=$(awk -v w="$warm" -v e="$end_rss" 'BEGIN { print (e <= w * 1.10 + 2048) ? "PASS" : "FAIL" }')
printf 'soak: %s runs succeeded in %.1f s (%.0f req/s); RSS after 10%%: %.1f MiB, at the end: %.1f MiB, max: %.1f MiB  %s\n' \
    "$done_runs" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    "$(awk -v n="$done_runs" -v a="$t0" -v b="$t1" 'BEGIN { print n / (b - a) }')" \
    "$(awk -v k="$warm" 'BEGIN { print k / 1024 }')" "$(awk -v k="$end_rss" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$max_rss" 'BEGIN { print k / 1024 }')" "$flat"
[ "$flat" = PASS ] && [ "$done_runs" -ge "$SOAK" ] || status=1

kill -TERM "$SVC_PID"
wait "$SVC_PID"
echo "service exit status after SIGTERM: $? (a graceful stop exits 0)"
exit $status
