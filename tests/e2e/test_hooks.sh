#!/usr/bin/env bash
# Hooks through the crun program: the exact events of a run, of a failed run,
# of dataset loads and saves, an input replaced by before_node_run, hook
# failures, registration (crun.ini, hooks.yml per env) and call order, hooks
# under a runner that executes nodes on several threads, and the built-in
# timing and events hooks.
#
# The fixture hooks come from tests/fixtures/plugins/ and are built into
# $CRUN_BUILD_DIR/tests/fixtures/plugins: `recorder` (writes "event node
# dataset" lines to a file; not thread-safe) and `recorder_ts` (the same,
# thread-safe).  Function nodes call bench.noop, which passes its first input
# on to its outputs, so an output shows which input the node saw.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FIXTURES=$CRUN_BUILD_DIR/tests/fixtures/plugins

# A project in ./p whose crun.ini lists the hooks given as arguments
# ("name = options" lines), with two function nodes:
#   params:x (3) -> first -> y (memory) -> second -> z (data/z.json)
# and cd into it.
hook_project()
{
    mkdir -p p/conf/base p/conf/local p/data || fail "cannot create the project"
    cd p || fail "no project"
    {
        printf '[project]\nname = hooks\nplugin_path = %s\n[hooks]\n' "$FIXTURES"
        local h
        for h in "$@"; do
            printf '%s\n' "$h"
        done
    } >crun.ini
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - {name: first, func: b.noop, inputs: {x: "params:x"}, outputs: y}
      - {name: second, func: b.noop, inputs: {x: y}, outputs: z}
EOF
    echo "x: 3" >conf/base/parameters.yml
    echo "z: {type: json, filepath: data/z.json}" >conf/base/catalog.yml
}

expect_events()
{
    expect_file_content events.txt "$1"
}

# --- the exact events of a run ------------------------------------------------------

test_sequential_run_fires_every_event_in_kedro_order()
{
    hook_project "recorder = path=events.txt"
    run_crun
    expect_status 0
    expect_file_content data/z.json "3"
    expect_events "$(cat <<'EOF'
after_catalog_created
before_pipeline_run
before_dataset_loaded first params:x
after_dataset_loaded first params:x
before_node_run first
after_node_run first
before_dataset_saved first y
after_dataset_saved first y
before_dataset_loaded second y
after_dataset_loaded second y
before_node_run second
after_node_run second
before_dataset_saved second z
after_dataset_saved second z
after_pipeline_run
EOF
)"
}

test_failing_node_gives_node_error_then_pipeline_error_and_no_after_run()
{
    hook_project "recorder = path=events.txt,errors=true"
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - {name: first, func: b.noop, inputs: {x: "params:x"}, outputs: y}
      - {name: broken, func: b.fill, inputs: {x: y}, outputs: z}
      - {name: never, func: b.noop, inputs: {x: z}, outputs: w}
EOF
    run_crun
    expect_status 1
    expect_stderr_contains "node 'broken'"
    expect_stderr_contains "size must be a non-negative integer"
    expect_events "$(cat <<'EOF'
after_catalog_created
before_pipeline_run
before_dataset_loaded first params:x
after_dataset_loaded first params:x
before_node_run first
after_node_run first
before_dataset_saved first y
after_dataset_saved first y
before_dataset_loaded broken y
after_dataset_loaded broken y
before_node_run broken
on_node_error broken: params: size must be a non-negative integer
on_pipeline_error: node 'broken': params: size must be a non-negative integer
EOF
)"
}

test_dataset_events_name_what_is_loaded_and_saved()
{
    hook_project "recorder = path=events.txt"
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - {name: add, func: b.noop, inputs: [a, b], outputs: total}
EOF
    write_file conf/base/catalog.yml <<'EOF'
a: {type: json, filepath: data/a.json}
b: {type: json, filepath: data/b.json}
total: {type: json, filepath: data/total.json}
EOF
    echo 2 >data/a.json
    echo 5 >data/b.json
    run_crun
    expect_status 0
    expect_file_content data/total.json "2"
    expect_events "$(cat <<'EOF'
after_catalog_created
before_pipeline_run
before_dataset_loaded add a
after_dataset_loaded add a
before_dataset_loaded add b
after_dataset_loaded add b
before_node_run add
after_node_run add
before_dataset_saved add total
after_dataset_saved add total
after_pipeline_run
EOF
)"
}

test_before_node_run_replaces_an_input()
{
    hook_project "recorder = path=events.txt,replace_node=second,replace_arg=x,replace_value=21"
    run_crun
    expect_status 0
    # first passed on 3; the hook gave second 21 instead
    expect_file_content data/z.json "21"
    expect_events "$(cat <<'EOF'
after_catalog_created
before_pipeline_run
before_dataset_loaded first params:x
after_dataset_loaded first params:x
before_node_run first
after_node_run first
before_dataset_saved first y
after_dataset_saved first y
before_dataset_loaded second y
after_dataset_loaded second y
before_node_run second
after_node_run second
before_dataset_saved second z
after_dataset_saved second z
after_pipeline_run
EOF
)"
}

test_replacing_an_input_the_node_lacks_fails_the_run_naming_the_hook()
{
    hook_project "recorder = path=events.txt,replace_node=second,replace_arg=nope,replace_value=1"
    run_crun
    expect_status 1
    expect_stderr_contains "hook 'recorder' failed in before_node_run: cannot replace input 'nope'"
    expect_no_file data/z.json
}

# --- a hook that fails ------------------------------------------------------------------

test_hook_failure_names_the_hook_and_exits_1()
{
    hook_project "recorder = path=events.txt,fail_at=before_node_run,fail_node=second"
    run_crun
    expect_status 1
    expect_stderr_contains "node 'second': hook 'recorder' failed in before_node_run: refused by the recorder"
    expect_no_file data/z.json
    grep -qx "on_pipeline_error" events.txt || fail "no on_pipeline_error: $(cat events.txt)"
    ! grep -q "after_pipeline_run" events.txt || fail "after_pipeline_run after a failure"
}

test_hook_failure_at_each_point_fails_the_run_without_a_crash()
{
    hook_project
    local point
    for point in after_catalog_created before_pipeline_run before_dataset_loaded \
        after_dataset_loaded before_node_run after_node_run before_dataset_saved \
        after_dataset_saved after_pipeline_run; do
        printf '[project]\nname = hooks\nplugin_path = %s\n[hooks]\nrecorder = path=ev.txt,fail_at=%s\n' \
            "$FIXTURES" "$point" >crun.ini
        run_crun
        expect_status 1
        expect_stderr_contains "hook 'recorder' failed in $point: refused by the recorder"
    done
}

test_hook_failure_in_on_node_error_keeps_the_exit_status_of_a_failed_run()
{
    hook_project "recorder = path=events.txt,fail_at=on_node_error"
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - {name: broken, func: b.fill, outputs: z}
EOF
    run_crun
    expect_status 1
    expect_stderr_contains "hook 'recorder' failed in on_node_error"
}

# --- registration and order ---------------------------------------------------------------

test_before_hooks_run_in_registration_order_and_after_hooks_in_reverse()
{
    hook_project "recorder = path=events.txt,tag=A" "recorder_ts = path=events.txt,tag=B"
    run_crun
    expect_status 0
    expect_eq "$(sed -n '1,4p' events.txt | tr '\n' '|')" \
        "B after_catalog_created|A after_catalog_created|A before_pipeline_run|B before_pipeline_run|" \
        "first events"
    expect_eq "$(grep ' first$' events.txt | tr '\n' '|')" \
        "A before_node_run first|B before_node_run first|B after_node_run first|A after_node_run first|" \
        "node events"
    expect_eq "$(tail -n 2 events.txt | tr '\n' '|')" "B after_pipeline_run|A after_pipeline_run|" \
        "last events"
}

test_hooks_yml_adds_hooks_after_crun_ini_and_an_env_disables_them()
{
    hook_project "recorder = path=events.txt,tag=ini"
    write_file conf/base/hooks.yml <<'EOF'
hooks:
  - {name: recorder_ts, path: events.txt, tag: yml}
EOF
    write_file conf/quiet/hooks.yml <<'EOF'
disable: [recorder, recorder_ts]
EOF
    run_crun
    expect_status 0
    expect_eq "$(sed -n '3,4p' events.txt | tr '\n' '|')" "ini before_pipeline_run|yml before_pipeline_run|" \
        "order"
    rm events.txt
    run_crun --env quiet
    expect_status 0
    expect_no_file events.txt
}

test_hooks_yml_gives_a_crun_ini_hook_new_options_per_env()
{
    hook_project "recorder = path=events.txt,tag=base"
    write_file conf/local/hooks.yml <<'EOF'
hooks:
  - {name: recorder, path: local.txt, tag: local}
EOF
    run_crun
    expect_status 0
    expect_no_file events.txt
    grep -qx "local before_pipeline_run" local.txt || fail "local.txt: $(cat local.txt)"
}

test_unknown_hook_is_a_configuration_error_with_a_suggestion()
{
    hook_project "timng ="
    run_crun
    expect_config_error "crun.ini:5" "hook 'timng'" "did you mean 'timing'"
}

test_unknown_hook_option_is_a_configuration_error_naming_the_place()
{
    hook_project "events = pth=events.jsonl"
    run_crun
    expect_config_error "crun.ini:5" "'pth'" "did you mean 'path'"
}

test_no_hooks_are_loaded_for_commands_that_do_not_run()
{
    hook_project "recorder = path=events.txt"
    run_crun list nodes
    expect_status 0
    [ ! -s events.txt ] || fail "listing fired hooks: $(cat events.txt)"
}

# --- threads ---------------------------------------------------------------------------------

# src -> w1..w4 -> total, run by the parallel runner with four workers: the
# four w nodes go at once (the recorder's dwell_ms keeps each call inside the
# hook long enough for the others to arrive).
fan_project()
{
    hook_project "$@"
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - {name: src, func: b.noop, outputs: s}
      - {name: w1, func: b.noop, inputs: {i: s}, outputs: o1}
      - {name: w2, func: b.noop, inputs: {i: s}, outputs: o2}
      - {name: w3, func: b.noop, inputs: {i: s}, outputs: o3}
      - {name: w4, func: b.noop, inputs: {i: s}, outputs: o4}
      - {name: total, func: b.noop, inputs: [o1, o2, o3, o4], outputs: z}
EOF
    echo "{}" >conf/base/catalog.yml
    write_file conf/base/runner.yml <<'EOF'
default: parallel
runners:
  parallel: {type: parallel, max_workers: 4}
EOF
}

# Each node's events in Kedro's order, every node after its producers, the
# run's events around them: prints what is wrong, nothing when all is right.
check_node_order()
{
    python3 - "$1" <<'EOF'
import sys
lines = [l.split() for l in open(sys.argv[1]).read().splitlines()]
ins = {"src": [], "w1": ["s"], "w2": ["s"], "w3": ["s"], "w4": ["s"],
       "total": ["o1", "o2", "o3", "o4"]}
outs = {"src": ["s"], "w1": ["o1"], "w2": ["o2"], "w3": ["o3"], "w4": ["o4"], "total": ["z"]}
problems = []
if any(l[0] == "OVERLAP" for l in lines):
    problems.append("overlapping calls: " + str([l for l in lines if l[0] == "OVERLAP"]))
if [l[0] for l in lines[:2]] != ["after_catalog_created", "before_pipeline_run"] or \
        lines[-1] != ["after_pipeline_run"]:
    problems.append("run events out of place")
for node in ins:
    want = []
    for d in ins[node]:
        want += [["before_dataset_loaded", node, d], ["after_dataset_loaded", node, d]]
    want += [["before_node_run", node], ["after_node_run", node]]
    for d in outs[node]:
        want += [["before_dataset_saved", node, d], ["after_dataset_saved", node, d]]
    got = [l for l in lines if len(l) > 1 and l[1] == node]
    if got != want:
        problems.append(f"{node}: {got}")
pos = {tuple(l): i for i, l in enumerate(lines)}
for node in ins:
    for d in ins[node]:
        producer = next(n for n in outs if d in outs[n])
        if pos[("after_dataset_saved", producer, d)] > pos[("before_dataset_loaded", node, d)]:
            problems.append(f"{node} loaded {d} before {producer} saved it")
print("\n".join(problems))
EOF
}

test_parallel_runner_calls_a_non_thread_safe_hook_one_call_at_a_time()
{
    fan_project "recorder = path=events.txt,dwell_ms=5"
    run_crun
    expect_status 0
    local problems
    problems=$(check_node_order events.txt)
    expect_eq "$problems" "" "event order"
}

# The check above can fail: a hook that says it is thread-safe is entered by
# several threads at once under the same runner.
test_parallel_runner_enters_a_thread_safe_hook_from_several_threads()
{
    fan_project "recorder_ts = path=events.txt,dwell_ms=5"
    run_crun
    expect_status 0
    grep -q "^OVERLAP" events.txt || fail "no overlapping calls seen: $(tr '\n' '|' <events.txt)"
}

# --- the events hook -------------------------------------------------------------------------

test_events_hook_writes_one_valid_json_line_per_event()
{
    hook_project "events = path=logs/run/events.jsonl"
    run_crun
    expect_status 0
    [ -f logs/run/events.jsonl ] || fail "no events file"
    local summary
    summary=$(python3 - logs/run/events.jsonl <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ids = {r["run_id"] for r in rows}
assert len(ids) == 1 and ids != {""}, ids
times = [r["time"] for r in rows]
assert all(isinstance(t, float) and t > 1.6e9 for t in times), times
assert times == sorted(times), times
for r in rows:
    assert list(r)[:3] == ["event", "run_id", "time"], r
    assert ("node" in r) == (r["event"] not in ("after_catalog_created", "before_pipeline_run",
                                                "after_pipeline_run")), r
    assert ("dataset" in r) == ("dataset" in r["event"]), r
print(" ".join(r["event"] + ("/" + r["node"] if "node" in r else "")
               + ("/" + r["dataset"] if "dataset" in r else "")
               + ("=" + r["status"] if "status" in r else "") for r in rows))
EOF
)
    expect_eq "$summary" "after_catalog_created before_pipeline_run before_dataset_loaded/first/params:x after_dataset_loaded/first/params:x before_node_run/first after_node_run/first=ok before_dataset_saved/first/y after_dataset_saved/first/y before_dataset_loaded/second/y after_dataset_loaded/second/y before_node_run/second after_node_run/second=ok before_dataset_saved/second/z after_dataset_saved/second/z after_pipeline_run=ok" \
        "events"
    # a second run appends
    run_crun
    expect_eq "$(wc -l <logs/run/events.jsonl | tr -d ' ')" "30" "lines after two runs"
}

test_events_hook_reports_a_failure_with_status_and_error()
{
    hook_project "events = path=events.jsonl"
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {b: bench}
pipelines:
  __default__:
    nodes:
      - {name: broken, func: b.fill, outputs: z}
EOF
    run_crun
    expect_status 1
    local tail
    tail=$(python3 -c '
import json, sys
for l in open(sys.argv[1]).read().splitlines()[-2:]:
    r = json.loads(l)
    print(r["event"], r.get("node", "-"), r["status"], r["error"])' events.jsonl)
    expect_eq "$tail" "$(printf '%s\n%s' \
        "on_node_error broken failed params: size must be a non-negative integer" \
        "on_pipeline_error - failed node 'broken': params: size must be a non-negative integer")" \
        "error events"
}

test_events_hook_writes_to_stderr_without_a_path()
{
    hook_project "events ="
    run_crun
    expect_status 0
    expect_stderr_contains '{"event":"before_node_run","run_id":"'
    expect_stderr_contains '"node":"second","attempt":1}'
    expect_stdout_lacks '"event"'
}

test_events_lines_of_parallel_nodes_never_interleave()
{
    fan_project "events = path=events.jsonl"
    run_crun
    expect_status 0
    local n
    n=$(python3 -c '
import json, sys
print(len([json.loads(l) for l in open(sys.argv[1])]))' events.jsonl) || fail "not JSON lines"
    # 3 run events + per node: 2 per input, 2 for the node, 2 per output
    expect_eq "$n" "$((3 + 4 + 4 * 6 + 12))" "lines"
}

test_events_hook_refuses_a_path_it_cannot_create()
{
    hook_project "events = path=/proc/no/such/events.jsonl"
    run_crun
    expect_config_error "crun.ini:5" "option 'path'" "/proc/no/such"
}

# --- the timing hook ---------------------------------------------------------------------------

timing_project()
{
    hook_project "$@"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: quick, cmd: ["true"]}
      - {name: slow, cmd: [sleep, "0.3"]}
      - {name: middle, cmd: [sleep, "0.1"]}
EOF
}

test_timing_table_lists_nodes_slowest_first_at_the_end_of_the_run()
{
    timing_project "timing ="
    run_crun
    expect_status 0
    expect_stderr_contains "crun: timing: 3 of 3 nodes ran in"
    local order
    order=$(sed -n 's/^crun:   \(quick\|slow\|middle\|(sum)\) .*/\1/p' "$ERR" | tr '\n' ' ')
    expect_eq "$order" "slow middle quick (sum) " "rows"
    # the table comes after the last node ran
    local last_node table
    last_node=$(grep -n "\] quick" "$ERR" | cut -d: -f1)
    table=$(grep -n "crun: timing:" "$ERR" | cut -d: -f1)
    [ "$table" -gt "$last_node" ] || fail "table before the end: $(cat "$ERR")"
    grep -q "^crun:   slow .*[0-9] ms\*" "$ERR" || grep -q "^crun:   slow .* s\*" "$ERR" ||
        grep -q "^crun:   slow .*us\*" "$ERR" || fail "no CPU of the command: $(cat "$ERR")"
}

test_timing_top_option_keeps_the_table_short()
{
    timing_project "timing = top=1"
    run_crun
    expect_status 0
    expect_stderr_contains "crun:   slow "
    expect_stderr_lacks "crun:   middle "
    expect_stderr_contains "... and 2 more nodes (option top)"
}

test_timing_report_is_json_with_every_node_slowest_first()
{
    timing_project "timing = report=out/timing-{run_id}.json,table=false"
    run_crun --run-id nightly-7
    expect_status 0
    expect_stderr_lacks "crun: timing:"
    [ -f out/timing-nightly-7.json ] || fail "no report: $(ls -R)"
    expect_json out/timing-nightly-7.json
    expect_eq "$(json_query out/timing-nightly-7.json '[n["node"] for n in d["nodes"]]')" \
        '["slow", "middle", "quick"]' "nodes"
    expect_eq "$(json_query out/timing-nightly-7.json '(d["run_id"], d["status"], d["nodes_planned"])')" \
        "('nightly-7', 'ok', 3)" "head"
    expect_eq "$(json_query out/timing-nightly-7.json \
        'all(n["wall_s"] > 0 and n["kind"] == "command" and n["cpu_of"] == "processes" and isinstance(n["peak_rss_delta_kib"], int) for n in d["nodes"])')" \
        "True" "node fields"
    expect_eq "$(json_query out/timing-nightly-7.json 'd["nodes"][0]["wall_s"] >= 0.3')" "True" "slow wall"
}

test_timing_report_that_cannot_be_written_fails_the_run_naming_the_hook()
{
    timing_project "timing = report=/proc/no/such/timing.json"
    run_crun
    expect_status 1
    expect_stderr_contains "hook 'timing' failed in after_pipeline_run: report /proc/no/such/timing.json: "
}

test_timing_measures_function_nodes_on_their_thread()
{
    hook_project "timing = report=timing.json"
    run_crun
    expect_status 0
    expect_eq "$(json_query timing.json 'sorted((n["node"], n["kind"], n["cpu_of"], n["status"]) for n in d["nodes"])')" \
        '[["first", "function", "thread", "ok"], ["second", "function", "thread", "ok"]]' "nodes"
}

test_timing_table_after_a_failed_run_marks_the_failed_node()
{
    timing_project "timing = report=timing.json"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: ok_first, cmd: [sh, -c, "echo 1 > {outputs.o}"], outputs: {o: a}}
      - {name: broken, cmd: [sh, -c, "exit 3"], inputs: {i: a}}
EOF
    run_crun
    expect_status 1
    expect_stderr_contains "(the run failed)"
    grep -q "^crun:   broken .*failed" "$ERR" || fail "broken not marked: $(cat "$ERR")"
    expect_eq "$(json_query timing.json '[d["status"], sorted([n["node"], n["status"]] for n in d["nodes"])]')" \
        '["failed", [["broken", "failed"], ["ok_first", "ok"]]]' "report"
}

test_timing_on_the_demo_project_prints_its_table_at_the_end()
{
    mkdir -p demo || fail "mkdir"
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" "$CRUN_SOURCE_DIR/data" demo/ || fail "copy"
    rm -rf demo/data/0[2-8]*
    cd demo || fail "cd"
    [ -f conf/local/hooks.yml ] || fail "the demo has no conf/local/hooks.yml"
    run_crun
    expect_status 0
    expect_stderr_contains "crun: timing: "
    expect_stderr_contains "crun:   train_model "
    # the table (and the run summary) are the last lines
    local from
    from=$(grep -n "crun: timing: " "$ERR" | cut -d: -f1)
    if tail -n "+$from" "$ERR" | grep -v "^crun:   \|^crun: timing:\|^crun: run " | grep -q .; then
        fail "lines after the table: $(tail -n "+$from" "$ERR")"
    fi
}

# --- the documentation's example -----------------------------------------------------------------

test_docs_example_hook_builds_against_the_installed_crun_and_runs()
{
    e2e_checked
    bash "$CRUN_SOURCE_DIR/tests/hooks/test_docs_example.sh" >out.txt 2>&1 ||
        fail "$(tail -n 20 out.txt)"
}

run_tests "$@"
