#!/usr/bin/env bash
# Broken configurations: each must stop crun with exit status 2 before any
# node runs, at the exact place (file:line:column, or crun.ini:LINE) and with
# the words a user needs to fix it.  Each test starts from make_project's
# valid project and breaks one thing, and test_good_config_runs proves that
# project runs, so no test here can pass because the project was broken
# some other way.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# A config error: status 2, position, words, and no node ran.
config_error()
{
    expect_config_error "$@"
    expect_no_file ran.log
}

setup()
{
    make_project p
    cd p || fail "no project"
}

# --- the control ---------------------------------------------------------------

test_good_config_runs()
{
    setup
    run_crun
    expect_status 0
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
    run_crun compile
    expect_status 0
    run_crun list nodes
    expect_status 0
    expect_stdout_contains greet
}

# --- YAML ----------------------------------------------------------------------

test_yaml_syntax_error()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [echo, hi
      - name: b
        cmd: [echo, ho]
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:13 "did not find expected ',' or ']'" "line 5"
}

test_yaml_tab_indentation()
{
    setup
    printf 'pipelines:\n  __default__:\n\tnodes: []\n' >conf/base/pipelines.yml
    run_crun
    config_error conf/base/pipelines.yml:3:1 "cannot start any token"
}

test_yaml_invalid_utf8_names_its_line()
{
    setup
    printf 'greeting:\n  type: text\n  filepath: data/greeting.txt\nother:\n  note: "caf\xe9"\n' \
        >conf/base/catalog.yml
    run_crun
    config_error conf/base/catalog.yml:5:13 "invalid" "UTF-8"
}

test_yaml_control_character_names_its_line()
{
    setup
    printf 'count: 3\nother: 4\nbad: "a\001b"\n' >conf/base/parameters.yml
    run_crun
    config_error conf/base/parameters.yml:3:8 "control characters are not allowed"
}

test_yaml_duplicate_key_in_one_map()
{
    setup
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: text
  filepath: data/greeting.txt
  filepath: data/other.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:4:3 "duplicate key 'filepath'" "first at line 3:3"
}

test_yaml_nested_too_deep()
{
    setup
    # a thousand levels are allowed, one more is refused (not a crash)
    python3 -c "print('x: ' + '[' * 999 + ']' * 999)" >conf/base/parameters_deep.yml
    run_crun -q
    expect_status 0
    rm -f ran.log
    python3 -c "print('x: ' + '[' * 200000 + ']' * 200000)" >conf/base/parameters_deep.yml
    run_crun
    config_error conf/base/parameters_deep.yml:1:1003 "nested more than 1000 deep"
}

test_same_key_in_two_files_of_one_folder()
{
    setup
    write_file conf/base/catalog_more.yml <<'EOF'
other:
  type: text
  filepath: data/other.txt
greeting:
  type: text
  filepath: data/g2.txt
EOF
    run_crun
    config_error conf/base/catalog_more.yml:4:1 "'greeting' is already defined at" \
        "conf/base/catalog.yml:1:1" "only one file of a folder"
}

test_error_in_env_folder_names_env_file()
{
    setup
    write_file conf/local/parameters.yml <<'EOF'
count: 4
count: 5
EOF
    run_crun
    config_error conf/local/parameters.yml:2:1 "duplicate key 'count'"
}

# --- nodes -----------------------------------------------------------------------

test_unknown_node_key_did_you_mean()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log"]
        inptus: x
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:9 "unknown key 'inptus'" "did you mean 'inputs'?"
}

test_node_with_func_and_cmd()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {demo: demo}
pipelines:
  __default__:
    nodes:
      - name: a
        func: demo.split_data
        cmd: [sh, -c, "echo a >> ran.log"]
EOF
    run_crun
    config_error conf/base/pipelines.yml:7:14 "node 'a'" "either 'func' or 'cmd', not both"
}

test_node_with_neither_func_nor_cmd()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        inputs: "params:count"
EOF
    run_crun
    config_error conf/base/pipelines.yml:4:9 "node 'a'" "missing 'func'" "'cmd'"
}

test_cmd_as_a_string()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: "echo a >> ran.log"
EOF
    run_crun
    config_error conf/base/pipelines.yml:5:14 "node 'a'" "'cmd' must be a list of arguments" \
        "[sh, -c,"
}

test_unknown_library_in_func()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {demo: demo}
pipelines:
  __default__:
    nodes:
      - name: a
        func: dmeo.split_data
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:15 "node 'a'" "unknown node library 'dmeo'" \
        "did you mean 'demo'?"
}

test_pipeline_nodes_not_a_list()
{
    setup
    printf 'pipelines:\n  __default__:\n    nodes: just-one\n' >conf/base/pipelines.yml
    run_crun
    config_error conf/base/pipelines.yml:3:12 "pipeline '__default__'" "'nodes' must be a list"
}

test_empty_pipeline_names_its_definition()
{
    setup
    printf 'pipelines:\n  __default__: []\n' >conf/local/pipelines.yml
    run_crun
    config_error conf/local/pipelines.yml:2:3 "pipeline '__default__' has no nodes"
}

test_func_without_a_dot()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {demo: demo}
pipelines:
  __default__:
    nodes:
      - name: a
        func: split_data
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:15 "node 'a'" "'func' must be library.function" \
        "got 'split_data'"
}

test_duplicate_node_name()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log"]
      - name: a
        cmd: [sh, -c, "echo a2 >> ran.log"]
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:9 "duplicate node name 'a'" \
        "first defined at conf/base/pipelines.yml:4:9"
}

test_placeholder_names_no_input()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; cat {inputs.y}"]
        inputs: {x: "params:count"}
EOF
    run_crun
    config_error conf/base/pipelines.yml:5:23 "node 'a'" "{inputs.y} names no input"
}

test_unknown_placeholder()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; cat {input.x}"]
        inputs: {x: "params:count"}
EOF
    run_crun
    config_error conf/base/pipelines.yml:5:23 "node 'a'" "unknown placeholder {input.x}" \
        "{inputs.NAME}"
}

# --- the graph -----------------------------------------------------------------------

test_two_nodes_write_one_dataset()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; echo 1 > {outputs.o}"]
        outputs: {o: shared}
      - name: b
        cmd: [sh, -c, "echo b >> ran.log; echo 2 > {outputs.o}"]
        outputs: {o: shared}
EOF
    run_crun
    config_error conf/base/pipelines.yml:7:9 "node 'b'" "output 'shared' is also an output of node 'a'" \
        "conf/base/pipelines.yml:4:9" "one producer"
}

test_one_node_writes_one_dataset_through_two_outputs()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; echo 1 > {outputs.o}; echo 2 > {outputs.p}"]
        outputs: {o: shared, p: shared}
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:33 "node 'a'" "outputs 'o' and 'p' both write dataset" \
        "'shared'" "one write would be lost"
}

test_input_nothing_produces_did_you_mean()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; echo 1 > {outputs.o}"]
        outputs: {o: features}
      - name: b
        cmd: [sh, -c, "echo b >> ran.log; cat {inputs.i}"]
        inputs: {i: featuers}
EOF
    run_crun
    config_error conf/base/pipelines.yml:7:9 "node 'b'" "input 'featuers' is not produced by any node" \
        "not in the catalog" "did you mean 'features'?"
}

# Data flows a -> b -> c -> a; the message follows the flow from the first
# node declared, at that node's place.
test_cycle_lists_nodes_in_order()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; cat {inputs.i} > {outputs.o}"]
        inputs: {i: z}
        outputs: {o: x}
      - name: b
        cmd: [sh, -c, "echo b >> ran.log; cat {inputs.i} > {outputs.o}"]
        inputs: {i: x}
        outputs: {o: y}
      - name: c
        cmd: [sh, -c, "echo c >> ran.log; cat {inputs.i} > {outputs.o}"]
        inputs: {i: y}
        outputs: {o: z}
EOF
    run_crun
    config_error conf/base/pipelines.yml:4:9 "the pipeline has a cycle: a -> b -> c -> a"
}

test_unknown_pipeline_in_union()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  dp:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log"]
  __default__: [dp, dq]
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:21 "pipeline '__default__'" "unknown pipeline 'dq'" \
        "did you mean 'dp'?"
}

test_pipeline_includes_itself()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  loop: [dp, loop]
  dp:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log"]
EOF
    run_crun
    config_error conf/base/pipelines.yml:2:14 "pipeline 'loop' includes itself"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  dp:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log"]
    include: [dp]
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:15 "pipeline 'dp' includes itself"
}

# --- parameters --------------------------------------------------------------------

test_params_input_that_does_not_exist()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; cat {inputs.x}"]
        inputs: {x: "params:cuont"}
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:21 "node 'a'" "input 'params:cuont': no such parameter" \
        "did you mean 'params:count'?"
}

test_params_as_output()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; echo 1 > {outputs.x}"]
        outputs: {x: "params:count"}
EOF
    run_crun
    config_error conf/base/pipelines.yml:6:22 "node 'a'" "'params:count' cannot be an output" \
        "read-only"
}

test_params_option_with_unknown_key()
{
    setup
    run_crun --params cuont=4
    config_error --params "unknown parameter 'cuont'" "did you mean 'count'?"
    # the control: a known key is taken
    run_crun --params count=4
    expect_status 0
    expect_file_content data/greeting.txt "hello 4"
}

# --- the catalog ----------------------------------------------------------------------

test_catalog_entry_without_type()
{
    setup
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  filepath: data/greeting.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:2:3 "catalog entry 'greeting'" "missing 'type'"
}

test_catalog_entry_not_a_map()
{
    setup
    write_file conf/base/catalog.yml <<'EOF'
greeting: data/greeting.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:1:11 "catalog entry 'greeting'" "expected a map" "got a string"
}

test_unknown_dataset_type_did_you_mean()
{
    setup
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: jsn
  filepath: data/greeting.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:1:1 "dataset 'greeting'" "no dataset plugin named 'jsn'" \
        "did you mean 'json'?"
}

# --- interpolation --------------------------------------------------------------------

test_env_reference_without_default()
{
    setup
    unset NOPE_E2E_UNSET
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: text
  filepath: ${env:NOPE_E2E_UNSET}/greeting.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:3:13 '${env:NOPE_E2E_UNSET}' \
        "environment variable NOPE_E2E_UNSET is not set" "no default"
    # the control: a default, and a set variable, both resolve
    sed -i 's/NOPE_E2E_UNSET}/NOPE_E2E_UNSET,data}/' conf/base/catalog.yml
    run_crun
    expect_status 0
    expect_file_content data/greeting.txt "hello 3"
    sed -i 's/NOPE_E2E_UNSET,data}/E2E_DATA_DIR}/' conf/base/catalog.yml
    mkdir -p out2
    E2E_DATA_DIR=out2 run_crun
    expect_status 0
    expect_file_content out2/greeting.txt "hello 3"
}

test_unknown_interpolation_resolver()
{
    setup
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: text
  filepath: ${enc:HOME}/greeting.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:3:13 '${enc:HOME}' "unknown resolver 'enc'" "did you mean 'env'?"
}

test_missing_globals_reference()
{
    setup
    write_file conf/base/globals.yml <<'EOF'
folders:
  data: data
EOF
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: text
  filepath: ${globals:folders.missing}/greeting.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:3:13 '${globals:folders.missing}' \
        "'folders.missing' is not defined in globals"
    # the control: the defined key resolves
    sed -i 's/folders.missing/folders.data/' conf/base/catalog.yml
    run_crun
    expect_status 0
    expect_file_content data/greeting.txt "hello 3"
}

test_globals_refer_to_other_globals()
{
    setup
    write_file conf/base/globals.yml <<'EOF'
file: ${globals:folders.data}/greeting.txt
folders:
  root: data
  data: ${globals:folders.root}
EOF
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: text
  filepath: ${globals:file}
EOF
    run_crun
    expect_status 0
    expect_file_content data/greeting.txt "hello 3"
}

test_globals_in_a_cycle()
{
    setup
    write_file conf/base/globals.yml <<'EOF'
a: ${globals:b}
b: x-${globals:c}
c:
  - ${globals:a}
EOF
    run_crun
    config_error conf/base/globals.yml:4:5 '${globals:a}' \
        "globals refer to each other in a cycle: a -> b -> c -> a"
}

test_runtime_param_reference_not_given()
{
    setup
    write_file conf/base/catalog.yml <<'EOF'
greeting:
  type: text
  filepath: data/${runtime_params:who}.txt
EOF
    run_crun
    config_error conf/base/catalog.yml:3:13 "runtime parameter 'who' was not given" "--params who="
    run_crun --params who=me
    expect_status 0
    expect_file_content data/me.txt "hello 3"
}

# --- crun.ini and environments -----------------------------------------------------------

test_crun_ini_unknown_project_key()
{
    setup
    write_file crun.ini <<'EOF'
[project]
name = e2e
defualt_env = local
EOF
    run_crun
    config_error crun.ini:3 "unknown key 'defualt_env' in [project]" "did you mean 'default_env'?"
}

test_crun_ini_default_env_not_a_name()
{
    setup
    write_file crun.ini <<'EOF'
[project]
name = e2e

default_env = ../x
EOF
    run_crun
    config_error crun.ini:4 "default_env: '../x' is not a valid environment name"
}

test_crun_ini_syntax_error()
{
    setup
    write_file crun.ini <<'EOF'
[project]
name = e2e

this line has no equals sign
EOF
    run_crun
    config_error crun.ini:4 "syntax error"
}

test_crun_ini_unknown_section()
{
    setup
    write_file crun.ini <<'EOF'
[project]
name = e2e
[hoks]
timing =
EOF
    run_crun
    config_error crun.ini:3 "unknown section [hoks]" "did you mean [hooks]?"
}

test_env_folder_missing()
{
    setup
    run_crun --env nope
    expect_status 2
    expect_stderr_contains "environment 'nope' not found"
    expect_stderr_contains "conf/nope does not exist"
    expect_no_file ran.log
    # the control: an env that exists is taken
    mkdir conf/nope
    run_crun --env nope
    expect_status 0
}

test_default_env_from_crun_ini_missing()
{
    setup
    sed -i 's/default_env = local/default_env = staging/' crun.ini
    run_crun
    expect_status 2
    expect_stderr_contains "environment 'staging' not found"
    expect_no_file ran.log
}

# --- runners -------------------------------------------------------------------------------

test_unknown_runner_name()
{
    setup
    run_crun --runner paralel
    expect_status 2
    expect_stderr_contains "crun: error: --runner: "
    expect_stderr_contains "runner 'paralel'"
    expect_stderr_contains "no runner plugin named 'paralel'"
    expect_no_file ran.log
}

test_unknown_runner_name_did_you_mean()
{
    setup
    write_file conf/base/runner.yml <<'EOF'
default: sequential
runners:
  sequential: {type: sequential}
  careful: {type: sequential}
EOF
    run_crun --runner carefull
    expect_status 2
    expect_stderr_contains "--runner: unknown runner 'carefull'"
    expect_stderr_contains "did you mean 'careful'?"
    expect_no_file ran.log
}

test_runner_entry_without_type()
{
    setup
    write_file conf/base/runner.yml <<'EOF'
default: sequential
runners:
  sequential: {type: sequential}
  fast: {max_workers: 2}
EOF
    run_crun --runner fast
    config_error conf/base/runner.yml:4:9 "runner 'fast'" "missing 'type'"
}

test_unknown_runner_option()
{
    setup
    write_file conf/base/runner.yml <<'EOF'
default: sequential
runners:
  sequential: {type: sequential, max_worker: 2}
EOF
    run_crun
    config_error conf/base/runner.yml:3:46 "option 'max_worker'" "not known" "runner 'sequential'"
}

test_default_runner_not_defined()
{
    setup
    write_file conf/base/runner.yml <<'EOF'
default: fats
runners:
  fast: {type: sequential}
EOF
    run_crun
    config_error conf/base/runner.yml:1:10 "default runner 'fats'" "not defined"
}

test_compiled_ir_not_json()
{
    setup
    printf '{"crun_ir": 1,\n  "nodes": [}\n' >ir.json
    run_crun run --ir ir.json
    expect_status 2
    expect_stderr_contains "crun: error: ir.json:2:"
    expect_no_file ran.log
}

run_tests "$@"
