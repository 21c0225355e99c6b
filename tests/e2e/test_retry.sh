#!/usr/bin/env bash
# test_retry.sh - the retry runner: rerun what did not finish when the
# wrapped runner's run fails (docs/running-logic.md).
# shellcheck disable=SC2317  # test functions are called by run_tests
. "$(dirname "$0")/lib.sh"

# make_project whose greet fails until its FAILS-th try (tries counted in
# the file tries), and a retry runner `sturdy` with ATTEMPTS attempts.
flaky_project()
{
    local fails=$1 attempts=$2
    make_project .
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - name: make_count
        cmd: [sh, -c, "echo make_count >> ran.log; cat {inputs.n} > {outputs.count}"]
        inputs: {n: "params:count"}
        outputs: {count: count}
      - name: greet
        cmd: [sh, -c, "echo greet >> ran.log; n=\$(cat tries 2>/dev/null || echo 0); echo \$((n+1)) > tries; [ \$n -ge $fails ] || exit 1; echo hello \$(cat {inputs.c}) > {outputs.g}"]
        inputs: {c: count}
        outputs: {g: greeting}
EOF
    write_file conf/base/runner.yml <<EOF
default: sequential
runners:
  sequential: {type: sequential}
  sturdy: {type: retry, runner: sequential, attempts: $attempts}
EOF
}

test_a_flaky_node_succeeds_within_its_attempts()
{
    flaky_project 2 3
    run_crun --runner sturdy
    expect_status 0
    expect_file_content data/greeting.txt "hello 3"
    expect_file_content tries 3
    expect_stderr_contains "retry: attempt 1 of 3"
    expect_stderr_contains "retry: attempt 2 of 3 failed"
    expect_stderr_contains "retry: attempt 3 of 3 with runner 'sequential', from nodes make_count"
}

test_a_flaky_node_fails_beyond_its_attempts()
{
    flaky_project 2 2
    run_crun --runner sturdy
    expect_status 1
    expect_file_content tries 2
    expect_no_file data/greeting.txt
    expect_stderr_contains "retry: attempt 2 of 2 failed"
    expect_stderr_contains "the run failed at node 'greet'"
    expect_stderr_contains "crun run --runner sturdy --from-nodes make_count"
}

test_a_retry_reruns_only_what_did_not_finish()
{
    flaky_project 1 2
    # count is saved to a file now, so a rerun can start at greet
    write_file conf/base/catalog.yml <<'EOF'
count: {type: text, filepath: data/count.txt}
greeting: {type: text, filepath: data/greeting.txt}
EOF
    run_crun --runner sturdy
    expect_status 0
    expect_ran "make_count greet greet"
    expect_stderr_contains "from nodes greet"
}

test_one_attempt_is_the_plain_run()
{
    flaky_project 1 1
    run_crun --runner sturdy
    expect_status 1
    expect_ran "make_count greet"
}

test_runners_that_wrap_each_other_in_a_circle_are_refused()
{
    make_project .
    write_file conf/base/runner.yml <<'EOF'
runners:
  a: {type: retry, runner: b}
  b: {type: checks, runner: a}
EOF
    run_crun --runner a
    expect_status 2
    expect_stderr_contains "makes a cycle: a -> b -> a"
    expect_no_file ran.log
}

test_attempts_out_of_range_is_a_config_error()
{
    make_project .
    write_file conf/base/runner.yml <<'EOF'
runners:
  sturdy: {type: retry, runner: sequential, attempts: 0}
EOF
    run_crun --runner sturdy
    expect_config_error "conf/base/runner.yml:2:55" "attempts"
}

run_tests "$@"
