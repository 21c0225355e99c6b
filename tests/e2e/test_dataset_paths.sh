#!/usr/bin/env bash
# `crun run --input DATASET=PATH / --output DATASET=PATH` (a run reads and
# writes files an engine staged, through the dataset's own type) and
# CRUN_SELECT_NODE (the node of `crun run` chosen by the environment), with
# the errors: a missing input, a dataset without a filepath, an unknown one.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# make_project with count a catalog dataset (data/count.txt) and a third
# node reading the greeting.
staged_project()
{
    make_project .
    cat >conf/base/catalog.yml <<'YML'
count:
  type: text
  filepath: data/count.txt
greeting:
  type: text
  filepath: data/greeting.txt
shout:
  type: text
  filepath: data/shout.txt
  versioned: true
YML
    cat >>conf/base/pipelines.yml <<'YML'
      - name: shout
        cmd: [sh, -c, "echo shout >> ran.log; tr a-z A-Z < {inputs.g} > {outputs.s}"]
        inputs: {g: greeting}
        outputs: {s: shout}
YML
}

test_one_node_reads_and_writes_the_staged_files()
{
    staged_project
    mkdir stage out && printf '7\n' >stage/count.in
    run_crun run --node greet --input count=stage/count.in --output greeting=out/g.txt
    expect_status 0
    expect_file_content out/g.txt "hello 7"
    expect_no_file data/greeting.txt
    expect_eq "$(ran_nodes)" "greet" "nodes run"
}

test_a_versioned_output_is_written_at_the_path_itself()
{
    staged_project
    printf 'hi\n' >g.txt
    run_crun run --node shout --input greeting=g.txt --output shout=s.txt
    expect_status 0
    expect_file_content s.txt "HI"
    expect_no_file data/shout.txt
}

test_paths_are_relative_to_the_current_folder_not_the_project()
{
    staged_project
    mkdir elsewhere && printf '5\n' >elsewhere/c.txt
    (cd elsewhere && run_crun run --project .. --node greet --input count=c.txt \
        --output greeting=g.txt && echo "$STATUS" >status)
    expect_file_content elsewhere/status "0"
    expect_file_content elsewhere/g.txt "hello 5"
}

test_a_missing_input_file_is_a_usage_error_naming_the_dataset()
{
    staged_project
    run_crun run --node greet --input count=nowhere.txt
    expect_status 2
    expect_stderr_contains "--input count="
    expect_stderr_contains "dataset 'count' has no file at"
    expect_eq "$(ran_nodes)" "" "nodes run"
}

test_a_memory_dataset_cannot_be_given_a_path()
{
    make_project .
    run_crun run --output count=c.txt
    expect_status 2
    expect_stderr_contains "dataset 'count' (type memory) has no filepath"
    expect_no_file c.txt
    expect_eq "$(ran_nodes)" "" "nodes run"
}

test_a_parameter_cannot_be_given_a_path()
{
    staged_project
    printf '3\n' >c.txt
    run_crun run --node make_count --input params:count=c.txt
    expect_status 2
    expect_stderr_contains "dataset 'params:count' (type params) has no filepath"
}

test_an_unknown_dataset_is_named()
{
    staged_project
    run_crun run --node greet --output greting=g.txt
    expect_status 2
    expect_stderr_contains "there is no dataset 'greting'"
}

test_an_output_the_run_does_not_make_is_refused()
{
    staged_project
    printf '3\n' >c.txt
    run_crun run --node greet --input count=c.txt --output shout=s.txt
    expect_status 2
    expect_stderr_contains "no node of this run makes 'shout'"
    expect_no_file s.txt
}

test_an_input_the_run_makes_itself_is_refused()
{
    staged_project
    printf '3\n' >c.txt
    run_crun run --nodes make_count,greet --input count=c.txt
    expect_status 2
    expect_stderr_contains "no node of this run reads 'count' from outside the run"
}

test_without_equals_sign_is_a_usage_error()
{
    staged_project
    run_crun run --node greet --input count
    expect_status 2
    expect_stderr_contains "expected DATASET=PATH"
}

test_select_node_from_the_environment()
{
    staged_project
    printf '4\n' >c.txt
    CRUN_SELECT_NODE=greet run_crun run --input count=c.txt --output greeting=g.txt
    expect_status 0
    expect_eq "$(ran_nodes)" "greet" "nodes run"
    expect_file_content g.txt "hello 4"
}

test_the_command_line_node_wins_over_the_environment()
{
    staged_project
    CRUN_SELECT_NODE=shout run_crun run --node make_count
    expect_status 0
    expect_eq "$(ran_nodes)" "make_count" "nodes run"
}

test_a_command_node_does_not_inherit_the_selection()
{
    make_project .
    cat >conf/base/pipelines.yml <<'YML'
pipelines:
  __default__:
    nodes:
      - name: probe
        cmd: [sh, probe.sh, "{outputs.o}"]
        outputs: {o: greeting}
YML
    # shellcheck disable=SC2016  # expanded by the node's shell
    printf 'echo "[${CRUN_SELECT_NODE-unset}] [$CRUN_NODE]" > "$1"\n' >probe.sh
    CRUN_SELECT_NODE=probe run_crun run
    expect_status 0
    expect_file_content data/greeting.txt "[unset] [probe]"
}

test_a_failed_run_on_staged_files_prints_no_resume_command()
{
    staged_project
    printf 'hi\n' >g.txt
    cat >>conf/base/pipelines.yml <<'YML'
      - name: fail
        cmd: [sh, -c, "cat {inputs.s} > /dev/null; exit 3"]
        inputs: {s: shout}
YML
    run_crun run --nodes shout,fail --input greeting=g.txt --output shout=s.txt
    expect_status 1
    expect_stderr_contains "the run failed at node 'fail'"
    expect_stderr_lacks "resume with"
    expect_file_content s.txt "HI"
}

run_tests "$@"
