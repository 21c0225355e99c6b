#!/usr/bin/env bash
# The service runner: the real server on a free loopback port (port 0, read
# back from its log line), every route, every error status, isolation of
# concurrent runs, auth, limits, slow clients, and a graceful stop.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=service_lib.sh
. "$(dirname "$0")/service_lib.sh"

command -v curl >/dev/null 2>&1 || { echo "curl is needed"; echo "0 passed, 1 failed"; exit 1; }

# --- routes ---------------------------------------------------------------------

test_healthz_pipeline_and_metrics_answer()
{
    service_project
    start_service
    http GET /healthz
    expect_http 200
    expect_eq "$(body 'd["status"]')" ok
    http GET /v1/pipeline
    expect_http 200
    expect_eq "$(body 'sorted(n["name"] for n in d["nodes"])')" '["a", "b", "blob", "c", "copy", "v"]'
    expect_eq "$(body '"runner" in d')" False "runner.yml (and its token) hidden from /v1/pipeline"
    http GET /metrics
    expect_http 200
    expect_body_contains 'crun_service_requests_total{route="/healthz",status="200"} 1'
    expect_body_contains '# TYPE crun_service_run_duration_seconds histogram'
    expect_body_contains 'crun_service_runs_in_flight 0'
    expect_body_contains 'crun_service_queue_length 0'
    expect_body_contains 'crun_service_node_failures_total 0'
    stop_service
    expect_clean_exit
}

# GET /v1/runs/{id} answers the last keep_runs runs exactly as they were
# answered (longer and shorter answers reuse the ring's slots), older ones 404.
test_keep_runs_remembers_the_latest_answers()
{
    service_project
    start_service --runner-opt keep_runs=2
    local i ids=()
    for i in 7 123456789 8; do
        http POST /v1/runs "{\"params\": {\"x\": $i}}"
        expect_http 200
        ids+=("$(body 'd["run_id"]')")
        cp body.json "posted.$i.json"
    done
    http GET "/v1/runs/${ids[0]}"
    expect_http 404
    http GET "/v1/runs/${ids[1]}"
    expect_http 200
    cmp -s body.json posted.123456789.json || fail "the kept answer of run 2 changed"
    http GET "/v1/runs/${ids[2]}"
    expect_http 200
    cmp -s body.json posted.8.json || fail "the kept answer of run 3 changed"
    # a fourth run takes the slot of the second
    http POST /v1/runs '{"params": {"x": 9}}'
    expect_http 200
    http GET "/v1/runs/${ids[1]}"
    expect_http 404
    http GET "/v1/runs/${ids[2]}"
    expect_http 200
    cmp -s body.json posted.8.json || fail "the kept answer of run 3 changed"
    stop_service
    expect_clean_exit
}

test_run_returns_outputs_of_its_params()
{
    service_project
    start_service
    http POST /v1/runs '{"params": {"x": 42, "size": 2}}'
    expect_http 200
    expect_eq "$(body 'd["status"]')" succeeded
    expect_eq "$(body 'd["outputs"]["result"]')" 42 "text output as a string"
    expect_eq "$(body 'd["outputs"]["vres"]')" 42 "json output inline"
    expect_eq "$(body 'd["outputs"]["blob"]["base64"]')" AQE= "bytes as base64"
    expect_eq "$(body 'd["outputs"]["companies_copy"]')" \
        '{"columns": ["id", "name"], "rows": [[1, "alpha"], [2, "beta"]]}' "table"
    expect_eq "$(body 'sorted(d["timings"])')" '["a", "b", "blob", "c", "copy", "v"]'
    local id
    id=$(body 'd["run_id"]')
    cp body.json posted.json
    http GET "/v1/runs/$id"
    expect_http 200
    cmp -s body.json posted.json || fail "GET /v1/runs/$id differs from the POST's answer"
    http GET /v1/runs/no-such-run
    expect_http 404
    expect_body_contains "no-such-run"
    stop_service
    expect_clean_exit
}

test_outputs_are_not_written_unless_persist()
{
    service_project
    start_service
    http POST /v1/runs '{"params": {"x": 5}}'
    expect_http 200
    expect_no_file data/result.txt
    expect_no_file data/vres.json
    http POST /v1/runs '{"params": {"x": 6}, "persist": true}'
    expect_http 200
    expect_file_content data/result.txt 6
    http POST /v1/runs '{"params": {"x": 7}, "persist": true}'
    expect_http 200
    expect_file_content data/result.txt 7
    local versions
    versions=$(find data/vres.json -type f -name vres.json | wc -l)
    expect_eq "$versions" 2 "each persisted run saves its own version"
    seq 1 6 | xargs -P 6 -I{} curl -s -m 20 -o /dev/null -d '{"persist": true}' "$BASE/v1/runs"
    versions=$(find data/vres.json -type f -name vres.json | wc -l)
    expect_eq "$versions" 8 "concurrent persisted runs save a version each"
    stop_service
    expect_clean_exit
}

test_inputs_override_the_catalog_for_one_run()
{
    service_project
    start_service
    http POST /v1/runs '{"inputs": {"companies": {"columns": ["id", "score"], "rows": [[7, 0.5], [8, null]]}}}'
    expect_http 200
    expect_eq "$(body 'd["outputs"]["companies_copy"]')" \
        '{"columns": ["id", "score"], "rows": [[7, 0.5], [8, null]]}'
    http POST /v1/runs '{}'
    expect_http 200
    expect_eq "$(body 'd["outputs"]["companies_copy"]["rows"][0]')" '[1, "alpha"]' \
        "the next run reads the catalog again"
    stop_service
    expect_clean_exit
}

test_nodes_run_a_sub_pipeline()
{
    service_project
    start_service
    http POST /v1/runs '{"nodes": ["a"], "params": {"x": 3}}'
    expect_http 200
    expect_eq "$(body 'sorted(d["outputs"])')" '["d0"]'
    expect_eq "$(body 'd["outputs"]["d0"]')" 3
    http POST /v1/runs '{"nodes": ["copy"], "inputs": {"companies": {"columns": ["k"], "rows": [[1]]}}}'
    expect_http 200
    expect_eq "$(body 'd["outputs"]')" '{"companies_copy": {"columns": ["k"], "rows": [[1]]}}'
    # Kedro's --nodes: a memory input whose producer is left out cannot be loaded
    http POST /v1/runs '{"nodes": ["b"]}'
    expect_http 400
    expect_body_contains "d0"
    http POST /v1/runs '{"nodes": ["nope"]}'
    expect_http 400
    expect_body_contains "'nope' is not a node"
    stop_service
    expect_clean_exit
}

# --- errors ---------------------------------------------------------------------

test_bad_requests_get_400_naming_the_problem()
{
    service_project
    start_service
    http POST /v1/runs '{"params": '
    expect_http 400
    expect_body_contains "invalid JSON"
    http POST /v1/runs '[1, 2]'
    expect_http 400
    expect_body_contains "must be a JSON object"
    http POST /v1/runs '{"parms": {}}'
    expect_http 400
    expect_body_contains "unknown field 'parms'"
    http POST /v1/runs '{"params": {"nope": 1}}'
    expect_http 400
    expect_body_contains "unknown parameter 'nope'"
    http POST /v1/runs '{"params": {"x": "one"}}'
    expect_http 400
    expect_body_contains "'x' is an integer, got a string"
    http POST /v1/runs '{"params": {"x": 2e76}}'
    expect_http 400
    expect_body_contains "'x' is an integer, got a number"
    http POST /v1/runs '{"inputs": {"nope": 1}}'
    expect_http 400
    expect_body_contains "unknown dataset 'nope'"
    http POST /v1/runs '{"inputs": {"companies": 5}}'
    expect_http 400
    expect_body_contains "companies"
    expect_body_contains "table"
    http POST /v1/runs '{"inputs": {"d1": "x"}}'
    expect_http 400
    expect_body_contains "made by node 'b'"
    http POST /v1/runs '{"inputs": {"d0": {"base64": "%%%"}}}'
    expect_http 400
    expect_body_contains "not valid base64"
    http POST /v1/runs '{"persist": "yes"}'
    expect_http 400
    expect_body_contains "persist"
    expect_eq "$(body 'sorted(d)')" '["error"]' "errors are {\"error\": message}"
    stop_service
    expect_clean_exit
}

test_routes_and_methods_404_405()
{
    service_project
    start_service
    http GET /nope
    expect_http 404
    expect_body_contains "no route"
    http GET /v1/runs
    expect_http 405
    http DELETE /healthz
    expect_http 405
    local allow
    allow=$(curl -s -D - -o /dev/null -X PUT "$BASE/v1/runs")
    echo "$allow" | grep -qi '^allow: POST' || fail "405 without Allow: POST: $allow"
    stop_service
    expect_clean_exit
}

test_failing_node_gets_422_naming_it()
{
    service_project
    start_service
    http POST /v1/runs '{"params": {"size": -1}}'
    expect_http 422
    expect_eq "$(body 'd["node"]')" blob
    expect_body_contains "size must be a non-negative integer"
    expect_eq "$(body 'd["status"]')" failed
    http GET /metrics
    expect_body_contains 'crun_service_node_failures_total 1'
    expect_body_contains 'crun_service_runs_total{result="failed"} 1'
    stop_service
    expect_clean_exit
}

test_body_over_max_body_gets_413()
{
    service_project
    start_service --runner-opt max_body=100
    http POST /v1/runs "{\"params\": {\"x\": 1}, \"nodes\": [\"$(printf 'a%.0s' $(seq 1 200))\"]}"
    expect_http 413
    expect_body_contains "at most 100"
    # chunked: no Content-Length, refused once the bytes pass the limit
    printf '{"params": {"x": %0200d}}' 1 >big.json
    CODE=$(curl -s -m 20 -o body.json -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
        --data-binary @big.json "$BASE/v1/runs")
    expect_http 413
    stop_service
    expect_clean_exit
}

test_headers_over_16_kib_get_431()
{
    service_project
    start_service
    local big
    big=$(printf 'a%.0s' $(seq 1 12000))
    http POST /v1/runs '{"params": {"x": 2}}' -H "X-Trace: $big"
    expect_http 200
    http POST /v1/runs '{"params": {"x": 2}}' -H "X-Trace: $big$big"
    expect_http 431
    http POST /v1/runs '{"params": {"x": 2}}'
    expect_http 200
    stop_service
    expect_clean_exit
}

test_token_is_required_when_set()
{
    service_project
    start_service --runner-opt token=s3cret
    http GET /healthz
    expect_http 200
    http POST /v1/runs '{}'
    expect_http 401
    expect_body_contains "Bearer"
    http POST /v1/runs '{}' -H 'Authorization: Bearer wrong'
    expect_http 401
    http GET /metrics
    expect_http 401
    http POST /v1/runs '{}' -H 'Authorization: Bearer s3cret'
    expect_http 200
    stop_service
    expect_clean_exit
}

test_full_service_answers_503()
{
    service_project
    start_service --runner-opt workers=1 --runner-opt queue=0
    curl -s -m 20 -o slow.json -d '{"params": {"sleep": 2}}' "$BASE/v1/runs" &
    local slow=$!
    sleep 0.5
    http POST /v1/runs '{}'
    expect_http 503
    expect_body_contains "capacity"
    wait $slow
    expect_eq "$(json_query slow.json 'd["status"]')" succeeded
    stop_service
    expect_clean_exit
}

test_timeout_answers_504_and_cancels_the_run()
{
    service_project
    start_service --runner-opt timeout=1
    local t0 t1
    t0=$(date +%s.%N)
    http POST /v1/runs '{"params": {"sleep": 30}}'
    t1=$(date +%s.%N)
    expect_http 504
    expect_body_contains "timeout"
    expect_eq "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a < 5) }')" 1 "answered within 5 s"
    local i
    for i in $(seq 1 50); do
        [ -z "$(own_sleeps)" ] && break
        sleep 0.1
    done
    [ -z "$(own_sleeps)" ] || fail "the timed-out run's command still runs"
    http GET /metrics
    expect_body_contains 'crun_service_runs_total{result="timed_out"} 1'
    http POST /v1/runs '{"params": {"x": 9}}'
    expect_http 200
    stop_service
    expect_clean_exit
}

# --- concurrency and isolation ----------------------------------------------------

test_64_concurrent_runs_each_get_their_own_result()
{
    service_project
    start_service --runner-opt workers=8
    seq 1 64 | xargs -P 64 -I{} sh -c \
        "curl -s -m 30 -o out.{}.json -d '{\"params\": {\"x\": {}, \"size\": {}}}' '$BASE/v1/runs'"
    local bad
    bad=$(python3 - <<'EOF'
import base64, json
bad = []
for i in range(1, 65):
    try:
        out = json.load(open("out.%d.json" % i))["outputs"]
    except Exception:
        bad.append("%d(no answer)" % i)
        continue
    if out["result"] != str(i) or out["vres"] != i:
        bad.append(str(i))
    if out["blob"]["base64"] != base64.b64encode(b"\x01" * i).decode():
        bad.append("blob%d" % i)
print(" ".join(bad))
EOF
)
    e2e_checked
    [ -z "$bad" ] || fail "runs with wrong results: $bad"
    expect_eq "$(find tmp -mindepth 1 | wc -l)" 0 "every run's scratch folder is removed"
    stop_service
    expect_clean_exit
}

# Function nodes only: short runs take the fast path (the HTTP thread runs
# them); the results must still be each request's own.
test_64_concurrent_fast_path_runs_each_get_their_own_result()
{
    service_project
    start_service --nodes a,b,blob,v --runner-opt workers=2
    seq 1 64 | xargs -P 64 -I{} sh -c \
        "curl -s -m 30 -o out.{}.json -d '{\"params\": {\"x\": {}, \"size\": {}}}' '$BASE/v1/runs'"
    local bad
    bad=$(python3 - <<'EOF'
import base64, json
bad = []
for i in range(1, 65):
    try:
        out = json.load(open("out.%d.json" % i))["outputs"]
    except Exception:
        bad.append("%d(no answer)" % i)
        continue
    if out["d1"] != i or out["vres"] != i:
        bad.append(str(i))
    if out["blob"]["base64"] != base64.b64encode(b"\x01" * i).decode():
        bad.append("blob%d" % i)
print(" ".join(bad))
EOF
)
    e2e_checked
    [ -z "$bad" ] || fail "runs with wrong results: $bad"
    http GET /metrics
    expect_body_contains 'crun_service_runs_total{result="succeeded"} 64'
    stop_service
    expect_clean_exit
}

test_slow_client_does_not_block_others()
{
    service_project
    start_service --runner-opt client_timeout=2 --runner-opt threads=1
    # a client that sends half a request and stalls
    python3 - "${BASE##*:}" >slow.txt 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
t0 = time.time()
s.settimeout(10)
try:
    data = s.recv(100)
except Exception as e:
    data = b"error " + str(e).encode()
print("closed after %.1f s: %r" % (time.time() - t0, data))
EOF
    local slow=$!
    sleep 0.3
    local t0 t1
    t0=$(date +%s.%N)
    http POST /v1/runs '{"params": {"x": 3}}'
    t1=$(date +%s.%N)
    expect_http 200
    expect_eq "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a < 1) }')" 1 "answered at once"
    wait $slow
    grep -q "closed after [1-4]\." slow.txt || fail "the stalled client was not cut off by client_timeout: $(cat slow.txt)"
    stop_service
    expect_clean_exit
}

# --- life cycle ---------------------------------------------------------------------

test_sigterm_finishes_in_flight_runs_and_exits()
{
    service_project
    start_service
    curl -s -m 20 -o inflight.json -d '{"params": {"x": 11, "sleep": 2}}' "$BASE/v1/runs" &
    local client=$!
    sleep 0.5
    local pid=$SVC_PID
    kill -TERM "$pid"
    sleep 0.3
    CODE=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$BASE/healthz")
    expect_eq "$CODE" 000 "new connections are refused while stopping"
    wait $client
    expect_eq "$(json_query inflight.json 'd["outputs"]["result"]')" 11 "the in-flight run finished"
    stop_service TERM
    expect_clean_exit
    expect_eq "$(pgrep -f "crun --runner service" | grep -c "^$pid$")" 0 "no process left"
    [ -z "$(own_sleeps)" ] || fail "a command of the run outlived the service"
    e2e_checked
}

# A stop while a fast-path run holds a request thread: that request, and the
# ones queued behind it, all get an answer (the run's, or 503).
test_sigterm_answers_fast_path_requests_in_flight()
{
    service_project
    cat >conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: nap, func: bench.nap, inputs: "params:x", outputs: napped}
EOF
    printf 'x: 1\nnap_ms: 0\n' >conf/base/parameters.yml
    start_service --runner-opt workers=1 --runner-opt grace_period=0.2
    local i
    for i in 1 2 3 4 5; do
        curl -s -m 20 -o "answer.$i" -w '%{http_code}' \
            -d '{"params": {"x": 1, "nap_ms": 3000}}' "$BASE/v1/runs" >"code.$i" &
    done
    # a second for all five to connect (0.4 s was too short once on a loaded
    # machine; /metrics cannot tell, its thread may be the one napping), and
    # the nap runs on for two more
    sleep 1
    stop_service TERM
    wait
    e2e_checked
    for i in 1 2 3 4 5; do
        case $(cat "code.$i") in
        200 | 503) ;;
        *) fail "request $i got no answer (HTTP $(cat "code.$i"))" ;;
        esac
    done
    # the run on the request thread outlived the grace period: cancelled, and said so
    grep -l 'the run was cancelled' answer.* >/dev/null ||
        fail "no answer tells of the cancelled run: $(cat answer.*)"
    expect_clean_exit
}

test_sigint_stops_too()
{
    service_project
    start_service
    http POST /v1/runs '{}'
    expect_http 200
    stop_service INT
    expect_clean_exit
    expect_stderr_file_contains "service: stopped"
}

expect_stderr_file_contains()
{
    e2e_checked
    grep -qF -- "$1" svc.err || fail "the service's log lacks '$1': $(tail -c 300 svc.err)"
}

test_warmup_runs_the_pipeline_before_serving()
{
    service_project
    start_service --runner-opt warmup=true
    expect_file_content data/result.txt 1
    expect_stderr_file_contains "warm-up run"
    http GET /healthz
    expect_http 200
    stop_service
    expect_clean_exit
}

test_pipeline_option_and_filters_choose_what_is_served()
{
    service_project
    start_service --nodes a,b
    http GET /v1/pipeline
    expect_eq "$(body 'sorted(n["name"] for n in d["nodes"])')" '["a", "b"]'
    http POST /v1/runs '{"params": {"x": 8}}'
    expect_http 200
    expect_eq "$(body 'd["outputs"]')" '{"d1": 8}'
    http POST /v1/runs '{"nodes": ["c"]}'
    expect_http 400
    stop_service
    expect_clean_exit
}

test_bad_options_and_busy_port_fail_to_start()
{
    service_project
    run_crun --runner service --runner-opt workerz=2
    expect_status 2
    expect_stderr_contains "workerz"
    python3 -c 'import socket,time,sys
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1]); sys.stdout.flush(); time.sleep(20)' >port.txt &
    local holder=$! i
    for i in $(seq 1 50); do
        [ -s port.txt ] && break
        sleep 0.1
    done
    run_crun --runner service --runner-opt "port=$(cat port.txt)"
    kill $holder
    e2e_checked
    [ "$STATUS" != 0 ] || fail "the service started on a busy port"
    expect_stderr_contains "cannot listen"
    # no node ran or failed: there is nothing to resume from
    ! grep -q "resume with" "$ERR" || fail "a resume command for a service that never started"
}

# The embedding example of docs/examples/embed builds against the build tree
# and prints the outputs of runs with the parameters given.
test_embedding_example_runs()
{
    command -v cc >/dev/null 2>&1 || { e2e_checked; return 0; }
    service_project
    # a sanitizer build's libcrun needs the program built with the same runtime
    local san=()
    ldd "$CRUN_BUILD_DIR/runner/libcrun.so" | grep -q libasan && san=(-fsanitize=address,undefined)
    ldd "$CRUN_BUILD_DIR/runner/libcrun.so" | grep -q libtsan && san=(-fsanitize=thread)
    cc "${san[@]}" -o embed "$CRUN_SOURCE_DIR/docs/examples/embed/embed.c" -I"$CRUN_SOURCE_DIR/include" \
        -L"$CRUN_BUILD_DIR/runner" -Wl,-rpath,"$CRUN_BUILD_DIR/runner" -lcrun -ljansson \
        2>cc.err || fail "the example does not build: $(cat cc.err)"
    # the example uses the installed plugin folder; point it at the build's
    CRUN_PLUGIN_PATH=$(find "$CRUN_BUILD_DIR/plugins" -name '*.so' -printf '%h\n' | sort -u | paste -sd:) \
        ./embed . '{"x": 5, "size": 1}' 2 >embed.out 2>embed.err
    STATUS=$?
    OUT=embed.out
    ERR=embed.err
    expect_status 0
    expect_eq "$(wc -l <embed.out)" 2 "one line per run"
    expect_eq "$(head -n 1 embed.out | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["result"], d["vres"])')" "5 5"
    expect_no_file data/result.txt
}

run_tests "$@"
