#!/usr/bin/env bash
# test_retry_node.sh - a node's retry: in pipelines.yml (docs/configuration.md,
# docs/running-logic.md): flaky nodes under the sequential and parallel
# runners, on_exit, the waits, Ctrl-C during a wait, hook events per
# attempt, configuration errors, the IR and the Argo export.
# shellcheck disable=SC2317  # test functions are called by run_tests
. "$(dirname "$0")/lib.sh"

: "${ARGO_VALIDATE:=$CRUN_SOURCE_DIR/../shared/schemas/validate-argo.sh}"

have_python()
{
    [ "$HAVE_PYTHON" = 1 ]
}

now_ms()
{
    echo $(($(date +%s%N) / 1000000))
}

# make_project with a node `fetch` that fails with status CODE until its
# FAILS-th try (tries counted in the file tries, one time stamp in ms per
# try in times), then writes data/fetched.txt; RETRY is its retry: map.
flaky_project()
{
    local fails=$1 code=$2 retry=$3
    make_project .
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - name: fetch
        cmd: [sh, -c, "echo \$((\$(date +%s%N) / 1000000)) >> times; n=\$(cat tries 2>/dev/null || echo 0); echo \$((n+1)) > tries; [ \$n -ge $fails ] || exit $code; echo fetched > {outputs.f}"]
        outputs: {f: fetched}
        retry: $retry
      - name: use
        cmd: [sh, -c, "echo use >> ran.log; cat {inputs.f} > {outputs.u}"]
        inputs: {f: fetched}
        outputs: {u: used}
EOF
    write_file conf/base/catalog.yml <<'EOF'
fetched: {type: text, filepath: data/fetched.txt}
used: {type: text, filepath: data/used.txt}
EOF
    write_file conf/base/runner.yml <<'EOF'
default: sequential
runners:
  sequential: {type: sequential}
  parallel: {type: parallel, max_workers: 2}
EOF
}

# --- a flaky node, under each runner ---------------------------------------------

succeeds_within_attempts()
{
    flaky_project 2 1 "{attempts: 3, delay: 0.05}"
    run_crun --runner "$1"
    expect_status 0
    expect_file_content tries 3
    expect_file_content data/used.txt "fetched"
    expect_stderr_contains "node 'fetch' failed (attempt 1 of 3): the command exited with status 1; retrying in 0.05 s"
    expect_stderr_contains "node 'fetch' failed (attempt 2 of 3)"
    expect_stderr_lacks "attempt 3 of 3"
    expect_ran "use"
}

fails_beyond_attempts()
{
    flaky_project 5 1 "{attempts: 3, delay: 0.05}"
    run_crun --runner "$1"
    expect_status 1
    expect_file_content tries 3
    expect_stderr_contains "node 'fetch' failed (attempt 2 of 3)"
    expect_stderr_lacks "(attempt 3 of 3)"
    expect_stderr_contains "node 'fetch': the command exited with status 1"
    expect_no_file data/fetched.txt
    expect_no_file ran.log
}

test_a_flaky_node_succeeds_within_its_attempts_sequential()
{
    succeeds_within_attempts sequential
}

test_a_flaky_node_succeeds_within_its_attempts_parallel()
{
    succeeds_within_attempts parallel
}

test_a_node_failing_beyond_its_attempts_fails_the_run_sequential()
{
    fails_beyond_attempts sequential
}

test_a_node_failing_beyond_its_attempts_fails_the_run_parallel()
{
    fails_beyond_attempts parallel
}

test_without_retry_a_node_runs_once()
{
    flaky_project 1 1 "{attempts: 1}"
    run_crun
    expect_status 1
    expect_file_content tries 1
    expect_stderr_lacks "retrying"
}

# --- on_exit -----------------------------------------------------------------------

test_on_exit_retries_a_listed_status()
{
    flaky_project 2 75 "{attempts: 3, on_exit: [75]}"
    run_crun --runner parallel
    expect_status 0
    expect_file_content tries 3
    expect_stderr_contains "exited with status 75; retrying in 0 s"
}

test_on_exit_does_not_retry_other_statuses()
{
    flaky_project 2 1 "{attempts: 3, on_exit: [75, 76]}"
    run_crun
    expect_status 1
    expect_file_content tries 1
    expect_stderr_lacks "retrying"
    expect_stderr_contains "the command exited with status 1"
}

# --- the waits ---------------------------------------------------------------------

test_delay_and_backoff_space_the_attempts()
{
    flaky_project 2 1 "{attempts: 3, delay: 0.3, backoff: 2}"
    run_crun
    expect_status 0
    expect_stderr_contains "retrying in 0.3 s"
    expect_stderr_contains "retrying in 0.6 s"
    local t1 t2 t3
    { read -r t1 && read -r t2 && read -r t3; } <times || fail "three tries expected: $(cat times)"
    e2e_checked
    # generous bounds: the waits are at least what was asked, and not stuck
    [ $((t2 - t1)) -ge 290 ] && [ $((t2 - t1)) -lt 3000 ] || fail "first wait $((t2 - t1)) ms"
    [ $((t3 - t2)) -ge 590 ] && [ $((t3 - t2)) -lt 3000 ] || fail "second wait $((t3 - t2)) ms"
}

test_jitter_moves_the_wait_within_its_fraction()
{
    flaky_project 1 1 "{attempts: 2, delay: 0.4, jitter: 0.5}"
    run_crun
    expect_status 0
    local wait
    wait=$(sed -n "s/.*retrying in \([0-9.]*\) s.*/\1/p" "$ERR")
    e2e_checked
    awk -v w="$wait" 'BEGIN { exit !(w >= 0.2 && w <= 0.6) }' || fail "wait '$wait' s outside 0.2..0.6"
}

# Ctrl-C while a node waits to retry: crun exits 130 at once, without
# another attempt; under both runners.
interrupt_wait()
{
    flaky_project 9 1 "{attempts: 3, delay: 60}"
    "$CRUN" --runner "$1" >crun.out 2>crun.err </dev/null &
    local pid=$! i
    for i in $(seq 100); do
        grep -q "retrying in 60 s" crun.err && break
        sleep 0.05
    done
    if ! grep -q "retrying in 60 s" crun.err; then
        kill -KILL "$pid" 2>/dev/null
        fail "the node never waited to retry: $(cat crun.err)"
    fi
    local start end
    start=$(now_ms)
    kill -INT "$pid"
    for i in $(seq 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    end=$(now_ms)
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        fail "crun still runs 2 s after SIGINT during a retry wait"
    fi
    wait "$pid"
    STATUS=$?
    ERR=crun.err
    OUT=crun.out
    expect_status 130
    [ $((end - start)) -lt 2000 ] || fail "SIGINT took $((end - start)) ms"
    expect_file_content tries 1
    expect_stderr_contains "interrupted"
}

test_sigint_during_a_retry_wait_exits_130_at_once_sequential()
{
    interrupt_wait sequential
}

test_sigint_during_a_retry_wait_exits_130_at_once_parallel()
{
    interrupt_wait parallel
}

# Another node's failure ends the run: a node waiting to retry gives up
# instead of keeping the run alive for its delay.
test_a_failed_run_does_not_wait_for_retries()
{
    flaky_project 9 1 "{attempts: 3, delay: 60}"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: fetch
        cmd: [sh, -c, "n=$(cat tries 2>/dev/null || echo 0); echo $((n+1)) > tries; exit 1"]
        retry: {attempts: 3, delay: 60}
      - name: broken
        cmd: [sh, -c, "sleep 0.5; exit 3"]
EOF
    local start
    start=$(now_ms)
    run_crun --runner parallel
    expect_status 1
    [ $(($(now_ms) - start)) -lt 20000 ] || fail "the run waited for the retry delay"
    expect_file_content tries 1
    expect_stderr_contains "node 'broken'"
}

# --- function nodes ------------------------------------------------------------------

# A function node whose input file appears only after its first try: the
# retry loads the inputs again.
test_a_function_node_retries_a_failed_load()
{
    make_project .
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - name: copy
        func: b.noop
        inputs: [late]
        outputs: [copied]
        retry: {attempts: 3, delay: 1}
EOF
    write_file conf/base/catalog.yml <<'EOF'
late: {type: text, filepath: data/late.txt}
copied: {type: text, filepath: data/copied.txt}
EOF
    (sleep 0.3 && echo here >data/late.txt.tmp && mv data/late.txt.tmp data/late.txt) &
    run_crun
    wait
    expect_status 0
    expect_stderr_contains "node 'copy' failed (attempt 1 of 3)"
    expect_file_content data/copied.txt "here"
}

# --- hooks -------------------------------------------------------------------------

test_hooks_see_each_attempt()
{
    flaky_project 2 1 "{attempts: 3}"
    printf '[hooks]\nevents = path=events.jsonl\n' >>crun.ini
    run_crun
    expect_status 0
    have_python || return 0
    local got
    got=$(python3 -c '
import json, sys
for line in open("events.jsonl"):
    e = json.loads(line)
    if e.get("node") == "fetch" and e["event"].endswith("node_run") or e["event"] == "on_node_error":
        print(e["event"], e.get("attempt"), e.get("status", ""))
')
    expect_eq "$got" "before_node_run 1 
on_node_error 1 failed
before_node_run 2 
on_node_error 2 failed
before_node_run 3 
after_node_run 3 ok" "node events of fetch"
}

# --- configuration -----------------------------------------------------------------

retry_config()
{
    make_project .
    write_file conf/base/pipelines.yml <<EOF
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - name: n
        $1
        retry: $2
EOF
}

test_config_error_attempts_out_of_range()
{
    retry_config "cmd: [true]" "{attempts: 0}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:27" "node 'n'" "'attempts' must be an integer from 1 to 100" "got '0'"
}

test_config_error_unknown_key_suggests_one()
{
    retry_config "cmd: [true]" "{atempts: 3}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:17" "unknown key 'atempts'" "did you mean 'attempts'?"
}

test_config_error_bad_numbers()
{
    retry_config "cmd: [true]" "{attempts: 2, delay: soon}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:37" "'delay' must be a number of seconds" "got 'soon'"
    retry_config "cmd: [true]" "{attempts: 2, backoff: 0.5}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:39" "'backoff' must be a number from 1"
    retry_config "cmd: [true]" "{attempts: 2, jitter: 2}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:38" "'jitter' must be a number from 0 to 1"
    retry_config "cmd: [true]" "{attempts: 2, on_exit: [75, 0]}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:44" "'on_exit' must be an exit status from 1 to 255"
}

test_config_error_retry_shape()
{
    retry_config "cmd: [true]" "3"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:16" "'retry' must be a map"
    retry_config "cmd: [true]" "{delay: 1}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:16" "missing 'attempts'"
    retry_config "func: b.noop" "{attempts: 2, on_exit: [75]}"
    run_crun
    expect_config_error "conf/base/pipelines.yml:7:30" "'on_exit' applies to command nodes only"
}

# --- the IR and the Argo export -----------------------------------------------------

test_the_ir_carries_the_retry()
{
    flaky_project 1 75 "{attempts: 2, delay: 0.1, on_exit: [75]}"
    run_crun compile -o ir.json
    expect_status 0
    have_python || return 0
    expect_eq "$(json_query ir.json 'd["nodes"][0]["retry"]')" \
        '{"attempts": 2, "backoff": 1.0, "delay": 0.1, "jitter": 0.0, "on_exit": [75]}' "retry in the IR"
    run_crun run --ir ir.json
    expect_status 0
    expect_file_content tries 2
    expect_stderr_contains "(attempt 1 of 2)"
}

test_argo_export_has_retry_strategy()
{
    flaky_project 1 75 "{attempts: 3, delay: 0.5, backoff: 2, on_exit: [75]}"
    run_crun export argo -o wf.yaml
    expect_status 0
    e2e_checked
    if [ -x "$ARGO_VALIDATE" ] || [ -f "$ARGO_VALIDATE" ]; then
        bash "$ARGO_VALIDATE" --strict --kind Workflow wf.yaml >validate.log 2>&1 ||
            fail "the export does not validate: $(cat validate.log)"
    fi
    run_crun export argo --format json -o wf.json
    have_python || return 0
    expect_eq "$(json_query wf.json '[t["template"] for t in d["spec"]["templates"][0]["dag"]["tasks"]]')" \
        '["crun-node-retry-1", "crun-node"]' "task templates"
    expect_eq "$(json_query wf.json 'd["spec"]["templates"][2]["retryStrategy"]')" \
        '{"backoff": {"duration": "0.5s", "factor": "2"}, "expression": "asInt(lastRetry.exitCode) in [75]", "limit": "2", "retryPolicy": "Always"}' \
        "retryStrategy"
    expect_eq "$(json_query wf.json 'd["spec"]["templates"][2]["container"]["env"]')" \
        '[{"name": "CRUN_NODE_RETRY", "value": "off"}]' "crun's own retries off in the pod"
    expect_eq "$(json_query wf.json '"retryStrategy" in d["spec"]["templates"][1]')" "False" \
        "no retry for the other node"
}

test_crun_node_retry_off_runs_once()
{
    flaky_project 1 1 "{attempts: 3}"
    CRUN_NODE_RETRY=off run_crun
    expect_status 1
    expect_file_content tries 1
}

run_tests "$@"
