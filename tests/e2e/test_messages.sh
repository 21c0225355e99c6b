#!/usr/bin/env bash
# Messages that save a new user's time: typos get a "did you mean", lists
# name what exists, a run that failed before any node says so as Kedro
# does, and -v shows what a run uses and each dataset it loads and saves.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

setup()
{
    make_project p
    cd p || fail "no project"
}

# --- the command line ---------------------------------------------------------------------

test_unknown_options_and_commands_get_the_closest()
{
    setup
    run_crun --envv local
    expect_status 2
    expect_stderr_contains "unknown option: --envv (did you mean '--env'?)"
    run_crun --tagz=a
    expect_status 2
    expect_stderr_contains "unknown option: --tagz=a (did you mean '--tags'?)"
    run_crun --frobnicate
    expect_status 2
    expect_stderr_lacks "did you mean"
    run_crun lst nodes
    expect_status 2
    expect_stderr_contains "unknown command 'lst' (did you mean 'list'?)"
    expect_no_file ran.log
}

test_global_options_before_the_command()
{
    setup
    run_crun -q list nodes
    expect_status 0
    expect_stdout_contains "make_count"
    run_crun --env local catalog describe greeting
    expect_status 0
    expect_stdout_contains "data/greeting.txt"
    run_crun -q catalog describe greting
    expect_status 2
    expect_stderr_contains "did you mean 'greeting'?"
    run_crun -q run extra
    expect_status 2
    expect_stderr_contains "unexpected argument 'extra'"
}

test_unknown_env_names_the_envs()
{
    setup
    mkdir -p conf/prod
    run_crun --env prd
    expect_status 2
    expect_stderr_contains "environment 'prd' not found"
    expect_stderr_contains "(did you mean 'prod'?)"
    expect_stderr_contains "(environments: local, prod)"
}

# --- filters ------------------------------------------------------------------------------

test_unknown_tags_name_the_tags()
{
    setup
    sed -i 's/outputs: {g: greeting}/outputs: {g: greeting}\n        tags: [hello, io]/;
            s/outputs: {count: count}/outputs: {count: count}\n        tags: [io]/' \
        conf/base/pipelines.yml
    run_crun --tags nosuchtag
    expect_status 2
    expect_stderr_contains "--tags: no node has the tag 'nosuchtag' (the tags are: hello, io)"
    expect_no_file ran.log
    run_crun --tags io,helo
    expect_status 2
    expect_stderr_contains "no node has the tag 'helo' (did you mean 'hello'?)"
    run_crun --tags io
    expect_status 0
    expect_ran "make_count greet"
}

test_every_unknown_name_of_a_filter_is_named()
{
    setup
    run_crun --from-inputs Z,W
    expect_status 2
    expect_stderr_contains "--from-inputs: dataset 'Z' does not exist; dataset 'W' does not exist"
    run_crun --nodes greet,mk_count,zz
    expect_status 2
    expect_stderr_contains "node 'mk_count' does not exist (did you mean 'make_count'?); node 'zz' does not exist"
    expect_no_file ran.log
}

# --- configuration ------------------------------------------------------------------------

test_default_runner_typo()
{
    setup
    sed -i 's/default: sequential/default: sequentail/' conf/base/runner.yml
    run_crun
    expect_config_error conf/base/runner.yml:1:10 "default runner 'sequentail'" \
        "(did you mean 'sequential'?)"
}

test_placeholder_typo()
{
    setup
    sed -i 's/{inputs.c}/{inputs.cc}/' conf/base/pipelines.yml
    run_crun
    expect_config_error conf/base/pipelines.yml:9:23 "{inputs.cc} names no input" \
        "(did you mean {inputs.c}?)"
}

test_a_hook_that_cannot_start_is_named()
{
    setup
    mkdir logs
    printf '[hooks]\nevents = path=logs\n' >>crun.ini
    run_crun
    expect_config_error crun.ini:5 "hook 'events': option 'path': cannot create logs"
    expect_no_file ran.log
}

# A typo in an output name sends the value to a memory dataset nobody reads.
test_an_output_read_by_no_node_is_a_warning()
{
    setup
    sed -i 's/outputs: {g: greeting}/outputs: {g: greting}/; s/> {outputs.g}/> {outputs.g}/' \
        conf/base/pipelines.yml
    run_crun
    expect_status 0
    expect_stderr_contains "warning: conf/base/pipelines.yml:"
    expect_stderr_contains "node 'greet': output 'greting' is read by no node and is not in the catalog"
    expect_stderr_contains "(did you mean 'greeting'?)"
    # a catalog entry, or an output another node reads, is no warning
    sed -i 's/greting/greeting/' conf/base/pipelines.yml
    run_crun
    expect_status 0
    expect_stderr_lacks "warning"
}

# --- runs ---------------------------------------------------------------------------------

test_load_versions_checked_before_the_run()
{
    setup
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: text
  filepath: data/greeting.txt
  versioned: true
EOF
    run_crun
    expect_status 0
    rm -f ran.log
    local version
    version=$(ls data/greeting.txt)
    run_crun --load-versions greeting:nope
    expect_status 2
    expect_stderr_contains "--load-versions: dataset 'greeting' has no version 'nope' (its versions: $version)"
    expect_stderr_lacks "resume with"
    expect_no_file ran.log
    run_crun --load-versions "greeting:${version%?}"
    expect_status 2
    expect_stderr_contains "(did you mean '$version'?)"
    run_crun --load-versions "greeting:$version"
    expect_status 0
}

test_no_node_ran_says_repeat_the_command()
{
    setup
    sed -i 's/cat {inputs.n}/exit 1; cat {inputs.n}/' conf/base/pipelines.yml
    run_crun
    expect_status 1
    expect_stderr_contains "the run failed at node 'make_count'"
    expect_stderr_contains "crun: no nodes ran. Repeat the previous command to attempt a new run."
    expect_stderr_lacks "--from-nodes"
    # once a node ran, the hint resumes
    sed -i 's/exit 1; cat/cat/; s/echo hello/exit 1; echo hello/' conf/base/pipelines.yml
    run_crun
    expect_status 1
    expect_stderr_contains "resume with:"
    expect_stderr_lacks "no nodes ran"
}

test_verbose_shows_env_runner_and_dataset_io()
{
    setup
    run_crun
    expect_status 0
    expect_stderr_lacks "debug:"
    run_crun -v
    expect_status 0
    expect_stderr_contains "debug: project 'e2e' in $PWD, env 'local', runner sequential"
    e2e_checked
    grep -qE "debug: make_count: loaded 'params:count' \(parameter, 1 B, [0-9.]+ ms\)" "$ERR" ||
        fail "no load line: $(cat "$ERR")"
    e2e_checked
    grep -qE "debug: make_count: saved 'count' \(memory, 1 B, [0-9.]+ ms\)" "$ERR" ||
        fail "no save line: $(cat "$ERR")"
    # and the runner stack of a wrapping runner
    write_file conf/base/runner.yml <<'EOF'
default: sequential
runners:
  sequential: {type: sequential}
  again: {type: retry, runner: sequential}
EOF
    run_crun -v --runner again
    expect_status 0
    expect_stderr_contains "runner again -> sequential"
}

run_tests "$@"
