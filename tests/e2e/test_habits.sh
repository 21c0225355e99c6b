#!/usr/bin/env bash
# What a Kedro user reaches for: crun catalog list (kedro catalog list),
# crun catalog show (catalog.load), crun registry list (kedro registry list),
# --runner-params (Kedro's spelling of several --runner-opt), --params with
# a new key.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

setup()
{
    make_project p
    cd p || fail "no project"
    # the two nodes as two pipelines, and __default__ both
    sed -i 's/^  __default__:$/  counting:/; s/^      - name: greet$/  greet_only:\n    nodes:\n      - name: greet/' \
        conf/base/pipelines.yml
    echo '  __default__: [counting, greet_only]' >>conf/base/pipelines.yml
    cat >>conf/base/catalog.yml <<'YML'
spare:
  type: text
  filepath: data/spare.txt
YML
}

test_catalog_list_shows_each_pipelines_datasets()
{
    setup
    run_crun catalog list
    expect_status 0
    expect_stdout_contains "__default__:"
    expect_stdout_contains "greet_only:"
    e2e_checked
    grep -qE "^  greeting +text +declared$" "$OUT" || fail "no declared greeting: $STDOUT"
    e2e_checked
    grep -qE "^  count +memory +not declared \(memory\)$" "$OUT" || fail "no memory count: $STDOUT"
    expect_stdout_contains "catalog entries it does not use: spare"
    run_crun -q catalog list --pipeline greet_only --json
    expect_status 0
    expect_json -
    [ "$HAVE_PYTHON" = 1 ] || return 0
    expect_eq "$(json_query "$OUT" '[p["pipeline"] for p in d]')" '["greet_only"]' "pipelines"
    expect_eq "$(json_query "$OUT" 'd[0]["error"]')" \
        "conf/base/pipelines.yml:10:9: node 'greet': input 'count' is not produced by any node and is not in the catalog" \
        "greet_only alone"
    run_crun -q catalog list --pipeline __default__ --json
    expect_status 0
    expect_eq "$(json_query "$OUT" 'sorted((x["name"], x["type"], x["declared"]) for x in d[0]["datasets"])')" \
        '[["count", "memory", false], ["greeting", "text", true]]' "datasets of __default__"
    run_crun catalog list --pipeline nope
    expect_status 2
    expect_stderr_contains "no pipeline named 'nope'"
}

test_registry_list_is_list_pipelines()
{
    setup
    run_crun list pipelines
    local expected=$STDOUT
    run_crun registry list
    expect_status 0
    expect_eq "$STDOUT" "$expected" "registry list"
    expect_stdout_contains "greet_only"
    run_crun registry show
    expect_status 2
    expect_stderr_contains "usage: crun registry list"
}

test_runner_params_are_runner_opts()
{
    setup
    run_crun --runner parallel --runner-params max_workers=2,keep_going=true
    expect_status 0
    expect_ran "make_count greet"
    # each one reaches the runner, which checks it
    run_crun --runner parallel --runner-params max_workers=2,keep_going=maybe
    expect_status 2
    expect_stderr_contains "keep_going"
    run_crun --runner parallel --runner-params max_workers=0,keep_going=true
    expect_status 2
    expect_stderr_contains "max_workers"
    run_crun --runner-params oops
    expect_status 2
    expect_stderr_contains "--runner-params: expected KEY=VALUE"
}

# crun catalog show: a dataset's value outside any run, as catalog.load.
test_catalog_show_prints_a_datasets_value()
{
    setup
    cat >>conf/base/catalog.yml <<'YML'
rows:
  type: csv
  filepath: data/rows.csv
YML
    printf 'id,name\n1,alpha\n2,\n3,gamma\n' >data/rows.csv
    run_crun catalog show rows --head 2
    expect_status 0
    expect_eq "$STDOUT" "$(printf 'id\tname\n1\talpha\n2\t\n... (3 rows in all)')" "first rows"
    run_crun catalog show rows
    expect_status 0
    expect_stdout_contains "$(printf '3\tgamma')"
    run_crun catalog show params:count
    expect_status 0
    expect_eq "$STDOUT" 3 "a parameter"
    run_crun
    expect_status 0
    run_crun -q catalog show greeting
    expect_status 0
    expect_eq "$STDOUT" "hello 3" "text"
    run_crun catalog show greting
    expect_status 2
    expect_stderr_contains "'greting' is not a dataset of the catalog (did you mean 'greeting'?)"
    run_crun catalog show count
    expect_status 2
    expect_stderr_contains "'count' is not a dataset of the catalog"
    run_crun catalog show spare
    expect_status 2
    expect_stderr_contains "crun: error: dataset 'spare': "
    expect_stderr_contains "data/spare.txt: No such file or directory"
    run_crun catalog show rows --head x
    expect_status 2
    expect_stderr_contains "--head: expected a number of rows"
}

# Kedro's --params adds a key parameters.yml lacks; one that looks like a typo
# of a key it has is still refused.
test_params_add_a_new_key()
{
    setup
    sed -i 's/echo hello $(cat {inputs.c})/echo hello $(cat {inputs.c}) $(cat {inputs.w})/;
            s/inputs: {c: count}/inputs: {c: count, w: "params:who"}/' conf/base/pipelines.yml
    run_crun --pipeline __default__ --params who=world
    expect_status 0
    expect_file_content data/greeting.txt "hello 3 \"world\""
    run_crun --params cuont=4,who=x
    expect_status 2
    expect_stderr_contains "--params: unknown parameter 'cuont' (did you mean 'count'?)"
    run_crun
    expect_status 2
    expect_stderr_contains "params:who"
}

# Kedro's --conf-source: the configuration lives in another folder, given
# absolute or relative to the current folder; run, list and catalog read it.
test_conf_source_reads_configuration_elsewhere()
{
    setup
    mkdir -p ../settings
    mv conf ../settings/conf2
    run_crun
    expect_status 2
    run_crun --conf-source ../settings/conf2 --pipeline __default__
    expect_status 0
    expect_file_content data/greeting.txt "hello 3"
    run_crun list pipelines --conf-source "$PWD/../settings/conf2"
    expect_status 0
    expect_stdout_contains "greet_only"
    run_crun catalog list --conf-source ../settings/conf2
    expect_status 0
    expect_stdout_contains "catalog entries it does not use: spare"
    # its envs are its sub-folders, and messages name the files there
    write_file ../settings/conf2/prod/parameters.yml <<<'count: 7'
    run_crun --conf-source ../settings/conf2 --env prod --pipeline __default__
    expect_status 0
    expect_file_content data/greeting.txt "hello 7"
    printf 'count: [\n' >../settings/conf2/prod/parameters.yml
    run_crun --conf-source ../settings/conf2 --env prod
    expect_status 2
    expect_stderr_contains "../settings/conf2/prod/parameters.yml:"
    # from another folder, with --project
    cd .. || fail "cd"
    run_crun --project p --conf-source settings/conf2 catalog describe greeting
    expect_status 0
    expect_stdout_contains "data/greeting.txt"
}

test_conf_source_missing_folder_is_a_usage_error()
{
    setup
    run_crun --conf-source nowhere/conf
    expect_status 2
    expect_stderr_contains "--conf-source: 'nowhere/conf' is not a folder"
    run_crun list nodes --conf-source crun.ini
    expect_status 2
    expect_stderr_contains "--conf-source: 'crun.ini' is not a folder"
    expect_no_file ran.log
}

run_tests "$@"
