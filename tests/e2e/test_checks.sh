#!/usr/bin/env bash
# test_checks.sh - the checks runner: commands that must pass before and
# after a wrapped runner's run (docs/running-logic.md).
# shellcheck disable=SC2317  # test functions are called by run_tests
. "$(dirname "$0")/lib.sh"

# make_project plus a checks runner `safe` wrapping sequential with the
# before/after maps given as YAML flow text.
checks_project()
{
    make_project .
    write_file conf/base/runner.yml <<EOF
default: sequential
runners:
  sequential: {type: sequential}
  safe: {type: checks, runner: sequential, $1}
EOF
}

test_failing_before_check_runs_no_node()
{
    checks_project 'before: {ok: [sh, -c, "echo fine"], lint: [sh, -c, "echo lint says no >&2; exit 3"]}'
    run_crun --runner safe
    expect_status 1
    expect_stderr_contains "before check 'lint' failed"
    expect_stderr_contains "exited with status 3"
    expect_stderr_contains "lint says no"
    expect_no_file ran.log
    expect_no_file data/greeting.txt
}

test_passing_checks_run_the_pipeline()
{
    checks_project 'before: {lint: [sh, -c, "echo lint >> checks.log"]}, after: {smoke: [sh, -c, "test -s data/greeting.txt && echo smoke >> checks.log"]}'
    run_crun --runner safe
    expect_status 0
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
    expect_file_content checks.log "$(printf 'lint\nsmoke')"
}

test_failing_after_check_fails_the_run_and_keeps_outputs()
{
    checks_project 'after: {smoke: [sh, -c, "echo smoke broke; exit 4"]}'
    run_crun --runner safe
    expect_status 1
    expect_stderr_contains "after check 'smoke' failed"
    expect_stderr_contains "smoke broke"
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
}

test_checks_run_in_the_project_folder()
{
    mkdir proj elsewhere
    (cd proj && checks_project 'before: {where: [sh, -c, "pwd > where.txt"]}')
    cd elsewhere || fail "cd"
    run_crun --project ../proj --runner safe
    expect_status 0
    expect_file_content ../proj/where.txt "$(cd ../proj && pwd)"
}

test_a_failed_wrapped_run_names_the_node_and_how_to_resume()
{
    checks_project 'before: {lint: [sh, -c, "true"]}'
    sed -i 's/echo hello/exit 1; echo hello/' conf/base/pipelines.yml
    run_crun --runner safe
    expect_status 1
    expect_stderr_contains "the run failed at node 'greet'"
    expect_stderr_contains "crun run --runner safe --from-nodes make_count"
}

test_a_check_that_is_not_a_command_is_a_config_error()
{
    checks_project 'before: {lint: cppcheck}'
    run_crun --runner safe
    expect_config_error "conf/base/runner.yml:4:52" "before check 'lint'" "list of strings"
    expect_no_file ran.log
}

test_missing_runner_option_is_a_config_error()
{
    make_project .
    write_file conf/base/runner.yml <<'EOF'
runners:
  safe: {type: checks, before: {lint: [sh, -c, "true"]}}
EOF
    run_crun --runner safe
    expect_status 2
    expect_stderr_contains "option 'runner' is required"
}

test_sigint_during_a_check_leaves_no_child()
{
    local m="31.$$${RANDOM}7"
    checks_project "before: {slow: [sh, -c, \"sleep $m; echo never\"]}"
    "$CRUN" --runner safe >crun.out 2>crun.err </dev/null &
    local pid=$! i
    for i in $(seq 100); do
        pgrep -f "sleep $m" >/dev/null && break
        sleep 0.05
    done
    if ! pgrep -f "sleep $m" >/dev/null; then
        kill -KILL "$pid"
        fail "the check never started"
    fi
    kill -INT "$pid"
    for i in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        pkill -KILL -f "sleep $m"
        fail "crun still runs 3 s after SIGINT"
    fi
    wait "$pid"
    STATUS=$?
    ERR=crun.err
    OUT=crun.out
    expect_status 130
    e2e_checked
    sleep 0.1
    if pgrep -f "sleep $m" >/dev/null; then
        pkill -KILL -f "sleep $m"
        fail "the check outlived crun"
    fi
    expect_no_file ran.log
}

run_tests "$@"
