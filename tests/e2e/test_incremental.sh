#!/usr/bin/env bash
# test_incremental.sh - incremental runs (docs/incremental.md): --only-changed
# on the demo project (parameters, input files, outputs, code), Kedro's
# --only-missing-outputs cases, --dry-run and crun status, under the
# sequential and parallel runners, with two processes at once and after a
# kill -9.
. "$(dirname "$0")/lib.sh"

# The demo project (the repository's conf/ and raw data) in ./demo.
demo_project()
{
    mkdir -p demo/data || fail "cannot make demo/"
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" demo/ || fail "cannot copy conf/"
    cp -r "$CRUN_SOURCE_DIR/data/01_raw" demo/data/ || fail "cannot copy data/01_raw"
    cd demo || fail "no demo/"
}

# "N of M nodes done, K up to date" or "N of M nodes done" of the last run.
expect_ran()
{
    expect_status 0
    grep -q "nodes done" "$ERR" || fail "no summary line$(e2e_context)"
    local line
    line=$(grep "nodes done" "$ERR" | tail -n 1)
    case $line in
        *": $1 of "*" nodes done"*) ;;
        *) fail "expected $1 nodes to run, got: $line" ;;
    esac
    e2e_checked
}

# The dry-run line of node $1 is "$2" (run/skip) with reason $3.
expect_plan_line()
{
    local line
    line=$(grep -E "^(run|skip) +$1 " "$OUT") || fail "no plan line for $1$(e2e_context)"
    case $line in
        "$2 "*) ;;
        *) fail "node $1: expected $2, got: $line" ;;
    esac
    case $line in
        *"$3"*) ;;
        *) fail "node $1: expected the reason '$3', got: $line" ;;
    esac
    e2e_checked
}

test_demo_runs_seven_then_none()
{
    demo_project
    run_crun run --only-changed
    expect_ran 7
    run_crun run --only-changed
    expect_ran 0
    expect_stderr_contains "7 up to date"
    run_crun status
    expect_status 0
    expect_stdout_contains "0 of 7 nodes would run"
    expect_plan_line split_data skip "up to date"
}

test_parameter_change_reruns_its_readers_and_after()
{
    demo_project
    run_crun run -q --only-changed
    expect_status 0
    run_crun status --params model_options.test_size=0.3
    expect_status 0
    expect_plan_line preprocess_companies skip "up to date"
    expect_plan_line create_model_input_table skip "up to date"
    expect_plan_line split_data run "params:model_options.test_size changed (0.2 -> 0.3)"
    expect_plan_line train_model run "upstream split_data runs"
    expect_plan_line render_report run "upstream evaluate_model runs"
    run_crun run --only-changed --params model_options.test_size=0.3
    expect_ran 4
    # a parameter no node reads changes nothing
    cat >>conf/base/parameters.yml <<'EOF'
unused_option: 1
EOF
    run_crun run --only-changed --params model_options.test_size=0.3,unused_option=2
    expect_ran 0
}

test_touched_input_reruns_nothing_changed_byte_reruns_readers()
{
    demo_project
    run_crun run -q --only-changed
    expect_status 0
    touch -d '1 minute ago' data/01_raw/companies.csv
    run_crun run --only-changed
    expect_ran 0
    # one byte: the first company's rating 100% -> 90%
    python3 - <<'EOF' || fail "cannot edit companies.csv"
p = "data/01_raw/companies.csv"
lines = open(p).read().split("\n")
i = next(k for k in range(1, len(lines)) if "100%" in lines[k])
lines[i] = lines[i].replace("100%", "90%", 1)
open(p, "w").write("\n".join(lines))
EOF
    run_crun run --only-changed --dry-run
    expect_plan_line preprocess_companies run "input companies changed"
    expect_plan_line preprocess_shuttles skip "up to date"
    expect_plan_line create_model_input_table run "upstream preprocess_companies runs"
    run_crun run --only-changed
    expect_ran 6
}

test_deleted_or_edited_output_reruns_its_producer()
{
    demo_project
    run_crun run -q --only-changed
    expect_status 0
    rm data/02_intermediate/preprocessed_shuttles.csv
    run_crun status
    expect_plan_line preprocess_shuttles run "output preprocessed_shuttles missing"
    expect_plan_line preprocess_companies skip "up to date"
    # Kedro's rule alone: only the producer of the missing output
    run_crun run --only-missing-outputs
    expect_ran 1
    echo "# edited by hand" >>data/08_reporting/report.md
    run_crun status
    expect_plan_line render_report run "output report changed"
    expect_stdout_contains "1 of 7 nodes would run"
}

test_parallel_runner_skips_too()
{
    demo_project
    run_crun run --runner parallel --only-changed
    expect_ran 7
    run_crun run --runner parallel --only-changed
    expect_ran 0
    run_crun run --runner parallel --only-changed --params model_options.random_state=2
    expect_ran 4
}

test_sweep_runs_nodes_without_swept_parameters_once()
{
    demo_project
    run_crun run -m model_options.test_size=0.2,0.3 --only-changed
    expect_status 0
    # the first trial runs all 7 nodes; the second only split_data and after
    expect_stderr_contains "0 of 7 nodes up to date"
    expect_stderr_contains "3 of 7 nodes up to date"
    run_crun run -m model_options.test_size=0.2,0.3 --only-changed -v
    expect_status 0
    expect_stderr_lacks "0 of 7 nodes up to date"
    expect_stderr_contains "node 'split_data' runs: params:model_options.test_size changed"
    expect_stderr_lacks "node 'preprocess_companies' runs"
}

test_dry_run_runs_nothing()
{
    demo_project
    run_crun run --dry-run
    expect_status 0
    expect_stdout_contains "7 of 7 nodes would run"
    [ ! -e data/02_intermediate ] || fail "a dry run wrote data/02_intermediate"
    e2e_checked
    run_crun run --only-missing-outputs --only-changed
    expect_status 2
    expect_stderr_contains "exclude each other"
}

# A library of two functions, built here, so that one can change.
build_library()
{
    cat >lib.c <<EOF
#include <crun/crun.h>
static int first(crun_call *call)
{
    return crun_call_set_output(call, "out", crun_value_json_new(json_integer($1)));
}
static int second(crun_call *call)
{
    json_t *x = crun_value_json(crun_call_input(call, "x"));
    return crun_call_set_output(call, "out", crun_value_json_new(json_integer(json_integer_value(x) + 1)));
}
static const crun_node_def fns[] = {{"first", first, "a number"}, {"second", second, "plus one"}};
static const crun_nodes_type table = {.size = sizeof(crun_nodes_type), .nodes = fns, .n_nodes = 2};
static const crun_plugin plugin = {CRUN_PLUGIN_HEAD, .kind = CRUN_PLUGIN_NODES, .name = "mylib",
                                   .version = "1.0.0", .table = &table};
CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void) { return &plugin; }
EOF
    cc -std=c11 -shared -fPIC -I"$CRUN_SOURCE_DIR/include" lib.c -o mylib.so.tmp \
        || fail "cannot build the node library"
    mv mylib.so.tmp mylib.so
}

test_rebuilt_library_reruns_its_nodes()
{
    make_project .
    cat >conf/base/pipelines.yml <<'EOF'
libraries: {mylib: ./mylib.so}
pipelines:
  __default__:
    nodes:
      - {name: make_first, func: mylib.first, outputs: {out: a}}
      - {name: add_one, func: mylib.second, inputs: {x: a}, outputs: {out: b}}
EOF
    cat >conf/base/catalog.yml <<'EOF'
a: {type: json, filepath: data/a.json}
b: {type: json, filepath: data/b.json}
EOF
    build_library 41
    run_crun run --only-changed
    expect_ran 2
    run_crun run --only-changed
    expect_ran 0
    build_library 42
    run_crun status
    expect_plan_line make_first run "code changed: mylib.so"
    run_crun run --only-changed
    expect_ran 2
    expect_file_content data/b.json "43"
}

# Kedro's cases, on command nodes: a persistent output missing, a memory
# input, a node without outputs.
kedro_project()
{
    make_project .
    cat >conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: make_raw
        cmd: [sh, -c, "echo make_raw >> ran.log; echo 1 > {outputs.o}"]
        outputs: {o: raw}
      - name: make_mem
        cmd: [sh, -c, "echo make_mem >> ran.log; cat {inputs.i} > {outputs.o}"]
        inputs: {i: raw}
        outputs: {o: mem}
      - name: use_mem
        cmd: [sh, -c, "echo use_mem >> ran.log; cat {inputs.i} > {outputs.o}"]
        inputs: {i: mem}
        outputs: {o: final}
      - name: check
        cmd: [sh, -c, "echo check >> ran.log; test -s {inputs.i}"]
        inputs: {i: final}
EOF
    cat >conf/base/catalog.yml <<'EOF'
raw: {type: text, filepath: data/raw.txt}
final: {type: text, filepath: data/final.txt}
EOF
}

test_only_missing_outputs_kedro_cases()
{
    kedro_project
    run_crun run --only-missing-outputs
    expect_ran 4
    # everything exists: only the node without outputs runs
    rm -f ran.log
    run_crun run --only-missing-outputs
    expect_ran 1
    expect_file_content ran.log "check"
    # a persistent output missing: its producer runs; the memory dataset it
    # reads is made again by its producer, whose own output exists
    rm -f ran.log data/final.txt
    run_crun run --only-missing-outputs --dry-run
    expect_plan_line make_raw skip "up to date"
    expect_plan_line make_mem run "memory output mem needed by use_mem, which runs"
    expect_plan_line use_mem run "output final missing"
    expect_plan_line check run "no outputs"
    run_crun run --only-missing-outputs
    expect_ran 3
    expect_file_content ran.log "make_mem
use_mem
check"
}

test_two_processes_at_once_leave_a_consistent_store()
{
    demo_project
    "$CRUN" run -q --only-changed >one.out 2>&1 &
    local a=$!
    "$CRUN" run -q --only-changed --runner parallel >two.out 2>&1 &
    local b=$!
    wait $a || fail "the first run failed: $(cat one.out)"
    wait $b || fail "the second run failed: $(cat two.out)"
    python3 - <<'EOF' || fail "the store is not consistent"
import sqlite3
db = sqlite3.connect(".crun/fingerprints.db")
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
assert db.execute("SELECT count(*) FROM nodes").fetchone()[0] == 7
EOF
    e2e_checked
    run_crun run --only-changed
    expect_ran 0
}

test_kill_during_a_run_leaves_a_readable_store()
{
    make_project .
    cat >conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: quick
        cmd: [sh, -c, "echo 1 > {outputs.o}"]
        outputs: {o: first}
      - name: slow
        cmd: [sh, -c, "sleep 30 & echo $! > sleep.pid; touch started; wait; cat {inputs.i} > {outputs.o}"]
        inputs: {i: first}
        outputs: {o: second}
EOF
    cat >conf/base/catalog.yml <<'EOF'
first: {type: text, filepath: data/first.txt}
second: {type: text, filepath: data/second.txt}
EOF
    "$CRUN" run --only-changed >run.out 2>&1 &
    local pid=$!
    for _ in $(seq 1 100); do
        [ -e started ] && break
        sleep 0.1
    done
    [ -e started ] || fail "the slow node never started: $(cat run.out)"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    kill "$(cat sleep.pid)" 2>/dev/null # the node's own sleep, if crun left it
    run_crun status
    expect_status 0
    expect_plan_line quick skip "up to date"
    expect_plan_line slow run "output second missing"
}

run_tests "$@"
