#!/usr/bin/env bash
# test_subprocess.sh - the subprocess runner: the wrapped runner in a child
# crun under a command prefix (docs/running-logic.md).
# shellcheck disable=SC2317  # test functions are called by run_tests
. "$(dirname "$0")/lib.sh"

# make_project with greet echoing $FOO, and a subprocess runner `inside`
# wrapping sequential; extra YAML flow options in $1.
sub_project()
{
    make_project .
    sed -i 's/echo hello/echo FOO=$FOO; echo hello/' conf/base/pipelines.yml
    write_file conf/base/runner.yml <<EOF
default: sequential
runners:
  sequential: {type: sequential}
  inside: {type: subprocess, runner: sequential, $1}
EOF
}

test_the_wrapped_run_gets_the_command_prefix()
{
    sub_project 'command: [env, FOO=1]'
    run_crun --runner inside
    expect_status 0
    expect_stderr_contains "greet: FOO=1"
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
}

test_params_and_filters_pass_to_the_child()
{
    sub_project 'command: [env, FOO=2]'
    run_crun --runner inside --params count=7 --nodes make_count,greet
    expect_status 0
    expect_file_content data/greeting.txt "hello 7"
    expect_ran "make_count greet"
    run_crun --runner inside --tags none
    expect_status 2
    expect_ran ""
}

test_the_run_id_passes_to_the_child()
{
    sub_project 'command: [env, FOO=3]'
    sed -i 's/echo FOO=\$FOO;/echo FOO=$FOO; echo $CRUN_RUN_ID > id.txt;/' conf/base/pipelines.yml
    run_crun --runner inside --run-id sub7
    expect_status 0
    expect_stderr_contains "run sub7"
    expect_stderr_lacks "run 20"
    expect_file_content id.txt sub7
}

test_setup_commands_run_first()
{
    sub_project 'setup: [[sh, -c, "echo ready > setup.txt"]], command: [sh, -c, "test -f setup.txt && exec \"$@\"", prefix]'
    run_crun --runner inside
    expect_status 0
    expect_file_content setup.txt "ready"
    expect_file_content data/greeting.txt "hello 3"
}

test_a_failing_setup_runs_no_node()
{
    sub_project 'setup: [[sh, -c, "echo no env; exit 5"]]'
    run_crun --runner inside
    expect_status 1
    expect_stderr_contains "setup command"
    expect_stderr_contains "no env"
    expect_no_file ran.log
}

test_a_failed_child_run_passes_status_and_resume_up()
{
    sub_project 'command: [env, FOO=1]'
    sed -i 's/echo FOO=\$FOO;/exit 1;/' conf/base/pipelines.yml
    run_crun --runner inside
    expect_status 1
    expect_stderr_contains "the run failed at node 'greet'"
    expect_stderr_contains "crun run --runner inside --from-nodes make_count"
    expect_stderr_lacks "--runner sequential"
}

# A one-node pipeline `slow` (sleep $1), run with --runner inside in the
# background and sent SIGINT once the sleep runs; STATUS, ERR and OUT are
# crun's once it has ended, which must be within $2 seconds, leaving no
# child behind.
interrupt_slow_run()
{
    local m=$1 within=$2
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - {name: slow, cmd: [sh, -c, "sleep $m; echo never >> ran.log"]}
EOF
    "$CRUN" --runner inside >crun.out 2>crun.err </dev/null &
    local pid=$! i
    for i in $(seq 100); do
        pgrep -f "sleep $m" >/dev/null && break
        sleep 0.05
    done
    if ! pgrep -f "sleep $m" >/dev/null; then
        kill -KILL "$pid"
        fail "the node never started: $(cat crun.err)"
    fi
    kill -INT "$pid"
    for i in $(seq $((within * 20))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        pkill -KILL -f "sleep $m"
        fail "crun still runs $within s after SIGINT"
    fi
    wait "$pid"
    STATUS=$?
    ERR=crun.err
    OUT=crun.out
    sleep 0.1
    if pgrep -f "sleep $m" >/dev/null || pgrep -f "crun run --project $PWD" >/dev/null; then
        pkill -KILL -f "sleep $m"
        fail "a child outlived crun"
    fi
}

test_sigint_during_a_subprocess_run_leaves_no_child()
{
    sub_project 'command: [env, FOO=1]'
    interrupt_slow_run "32.$$${RANDOM}3" 5
    expect_status 130
    expect_stderr_contains "interrupted"
    expect_no_file ran.log
}

test_a_child_that_ignores_sigint_is_killed_after_grace()
{
    # the prefix ignores SIGINT and, once the child crun has stopped, sleeps
    # on (ignoring it too): only the SIGKILL after grace: ends it
    local m="33.$$${RANDOM}3"
    sub_project "grace: 1, command: [sh, -c, 'trap \"\" INT; \"\$@\"; sleep $m', prefix]"
    interrupt_slow_run "$m" 5
    expect_status 130
    expect_stderr_contains "interrupted"
    expect_no_file ran.log
}

test_a_prefix_that_cannot_start_is_a_failure()
{
    sub_project 'command: [no-such-program-for-crun]'
    run_crun --runner inside
    expect_status 1
    expect_stderr_contains "runner 'inside': cannot run 'no-such-program-for-crun'"
    expect_no_file ran.log
}

run_tests "$@"
