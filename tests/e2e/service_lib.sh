# service_lib.sh - helpers of the service runner's end-to-end tests (sourced after
# lib.sh): a project, starting and stopping the server, HTTP requests.

# A project whose free outputs show what a run did:
#   a: params:x -> d0 -> b -> d1 -> c (command: sleeps params:sleep) -> result (text file)
#   blob: params:size bytes (bench.fill; a negative size fails the node)
#   copy: companies (csv) -> companies_copy;  v: params:x -> vres (versioned json)
service_project()
{
    mkdir -p conf/base conf/local data
    cat >crun.ini <<'EOF'
[project]
name = svc
EOF
    cat >conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: a, func: bench.noop, inputs: "params:x", outputs: d0}
      - {name: b, func: bench.noop, inputs: d0, outputs: d1}
      - name: c
        cmd: [sh, -c, "sleep $(cat {inputs.s}); cat {inputs.i} > {outputs.o}"]
        inputs: {i: d1, s: "params:sleep"}
        outputs: {o: result}
      - {name: blob, func: bench.fill, inputs: "params:size", outputs: blob}
      - {name: copy, func: bench.noop, inputs: companies, outputs: companies_copy}
      - {name: v, func: bench.noop, inputs: "params:x", outputs: vres}
EOF
    cat >conf/base/parameters.yml <<'EOF'
x: 1
sleep: 0
size: 3
EOF
    cat >conf/base/catalog.yml <<'EOF'
result: {type: text, filepath: data/result.txt}
companies: {type: csv, filepath: data/companies.csv}
vres: {type: json, filepath: data/vres.json, versioned: true}
EOF
    printf 'id,name\n1,alpha\n2,beta\n' >data/companies.csv
    cat >conf/base/runner.yml <<'EOF'
default: sequential
runners:
  sequential: {type: sequential}
  service: {type: service, port: 0, workers: 2, grace_period: 10}
EOF
}

# The sleep processes of this test's project (by their folder): other tests,
# and other work on the machine, may be sleeping too.
own_sleeps()
{
    local p
    for p in $(pgrep -x sleep); do
        case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in
        "$PWD"*) echo "$p" ;;
        esac
    done
}

# start_service [crun args...]: the server in the background; sets SVC_PID,
# BASE (http://127.0.0.1:PORT).  The test's exit kills it if still running.
start_service()
{
    mkdir -p tmp
    TMPDIR=$PWD/tmp "$CRUN" --runner service "$@" >svc.out 2>svc.err </dev/null &
    SVC_PID=$!
    trap 'kill -9 $SVC_PID 2>/dev/null' EXIT
    local i port=""
    for i in $(seq 1 100); do
        port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' svc.err | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$SVC_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || fail "the service did not start: $(cat svc.err)"
    BASE=http://127.0.0.1:$port
}

# stop_service [SIGNAL]: signal it and wait; SVC_STATUS is its exit status.
stop_service()
{
    kill -"${1:-TERM}" "$SVC_PID"
    local i
    for i in $(seq 1 150); do
        kill -0 "$SVC_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SVC_PID" 2>/dev/null && fail "the service did not stop within 15 s"
    wait "$SVC_PID"
    SVC_STATUS=$?
}

# The exit status of a stopped service: 0.  (Until the core stops turning a
# cancelled delegated run into CRUN_ECANCELED, crun exits 130; see
# docs/service.md, "Known limits".)
expect_clean_exit()
{
    e2e_checked
    case $SVC_STATUS in
    0) grep -q "service: stopped" svc.err || fail "exit 0 without a clean stop: $(cat svc.err)"
       # the requests ran the nodes: the service's own run is not "0 of N nodes done"
       ! grep -q "nodes done" svc.err || fail "the stop reports nodes not run: $(tail -n 2 svc.err)" ;;
    *) fail "the service exited with $SVC_STATUS: $(tail -c 400 svc.err)" ;;
    esac
}

# http METHOD PATH [DATA] [curl args...]: CODE and the body in $PWD/body.json
http()
{
    local method=$1 path=$2 data=${3-}
    shift 2
    [ $# -gt 0 ] && shift
    local args=(-s -m 20 -o body.json -w '%{http_code}' -X "$method" "$@")
    [ -n "$data" ] && args+=(--data-binary "$data")
    CODE=$(curl "${args[@]}" "$BASE$path") || CODE=000
}

expect_http()
{
    e2e_checked
    [ "$CODE" = "$1" ] || fail "expected HTTP $1, got $CODE: $(head -c 400 body.json 2>/dev/null)"
}

# jq-like: print EXPR over the JSON in body.json (python3)
body()
{
    json_query body.json "$1"
}

expect_body_contains()
{
    e2e_checked
    grep -qF -- "$1" body.json || fail "body lacks '$1': $(head -c 400 body.json)"
}

