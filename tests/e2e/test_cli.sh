#!/usr/bin/env bash
# The crun command line: help, version, listing, compile and --ir, envs and
# runners, command nodes, failure and resume, filters, signals.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

setup()
{
    make_project p
    cd p || fail "no project"
}

# Six command nodes over file datasets (so any filter's result can run once
# the files exist), each appending its name to ran.log:
#   load -> raw -> clean -> cleaned -> train -> model -> score -> score -> report
#            \-> audit -> audit
# Pipelines: ingest (load, clean, audit), model (train, score, report),
# __default__ = both.  Tags: load,audit: io; clean: prep; train,score: ml;
# score,report: report.
filter_project()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  ingest:
    nodes:
      - name: load
        cmd: [sh, -c, "echo load >> ran.log; echo raw > {outputs.o}"]
        outputs: {o: raw}
        tags: [io]
      - name: clean
        cmd: [sh, -c, "echo clean >> ran.log; cat {inputs.i} > {outputs.o}; echo cleaned >> {outputs.o}"]
        inputs: {i: raw}
        outputs: {o: cleaned}
        tags: prep
      - name: audit
        cmd: [sh, -c, "echo audit >> ran.log; wc -l < {inputs.i} > {outputs.o}"]
        inputs: {i: raw}
        outputs: {o: audit}
        tags: [io]
  model:
    nodes:
      - name: train
        cmd: [sh, -c, "echo train >> ran.log; cat {inputs.i} > {outputs.o}; echo trained >> {outputs.o}"]
        inputs: {i: cleaned}
        outputs: {o: model}
        tags: [ml]
      - name: score
        cmd: [sh, -c, "echo score >> ran.log; wc -l < {inputs.i} > {outputs.o}"]
        inputs: {i: model}
        outputs: {o: score}
        tags: [ml, report]
      - name: report
        cmd: [sh, -c, "echo report >> ran.log; echo score $(cat {inputs.i}) > {outputs.o}"]
        inputs: {i: score}
        outputs: {o: report}
        tags: [report]
  __default__: [ingest, model]
EOF
    write_file conf/base/catalog.yml <<'EOF'
raw: {type: text, filepath: data/raw.txt}
cleaned: {type: text, filepath: data/cleaned.txt}
audit: {type: text, filepath: data/audit.txt}
model: {type: text, filepath: data/model.txt}
score: {type: text, filepath: data/score.txt}
report: {type: text, filepath: data/report.txt}
EOF
}

# --- help, version, usage ---------------------------------------------------------

test_version()
{
    run_crun --version
    expect_status 0
    expect_stdout_contains "crun 0."
    expect_stdout_contains "plugin ABI 2."
    [ -z "$STDERR" ] || fail "--version wrote to stderr: $STDERR"
}

test_help()
{
    run_crun --help
    expect_status 0
    expect_stdout_contains "usage: crun"
    for w in --env --runner --runner-opt --pipeline --tags --nodes --from-nodes --to-nodes \
        --from-inputs --to-outputs --params --load-versions --project --ir "crun compile" \
        "crun list" "crun plugin info" "130 interrupted"; do
        expect_stdout_contains "$w"
    done
    run_crun -h
    expect_status 0
    expect_stdout_contains "usage: crun"
}

test_unknown_option()
{
    setup
    run_crun --frobnicate
    expect_status 2
    expect_stderr_contains "unknown option"
    expect_stderr_contains "--frobnicate"
    expect_no_file ran.log
    run_crun run --tags
    expect_status 2
    expect_stderr_contains "--tags"
    expect_no_file ran.log
    # refused after options that allocate (nothing leaks: the sanitizer
    # build's status would be 1)
    run_crun --runner-opt a=1 --node a,b
    expect_status 2
    expect_stderr_contains "--node takes one node name"
}

test_unknown_command()
{
    setup
    run_crun frobnicate
    expect_status 2
    expect_stderr_contains "unknown command 'frobnicate'"
    expect_no_file ran.log
    run_crun list pipes
    expect_status 2
    expect_stderr_contains "unknown list 'pipes'"
    run_crun list
    expect_status 2
    expect_stderr_contains "crun list needs what to list"
}

test_not_a_project()
{
    mkdir empty
    cd empty || fail "no folder"
    run_crun
    expect_status 2
    expect_stderr_contains "is not a crun project"
}

# --- list --------------------------------------------------------------------------

test_list_text()
{
    filter_project
    run_crun list pipelines
    expect_status 0
    grep -qE '^ingest +3 nodes$' "$OUT" || fail "list pipelines: no 'ingest 3 nodes' line: $STDOUT"
    grep -qE '^model +3 nodes$' "$OUT" || fail "list pipelines: no 'model 3 nodes' line: $STDOUT"
    grep -qE '^__default__ +6 nodes$' "$OUT" || fail "list pipelines: no '__default__ 6 nodes': $STDOUT"
    run_crun list nodes
    expect_status 0
    for n in load clean audit train score report; do
        grep -qE "^$n +\(command\)$" "$OUT" || fail "list nodes: no line for $n: $STDOUT"
    done
    run_crun list datasets
    expect_status 0
    grep -qE '^cleaned +text +missing +data/cleaned.txt +used by 1 node$' "$OUT" || fail "list datasets: no cleaned line: $STDOUT"
    run_crun list runners
    expect_status 0
    grep -qE '^sequential +sequential +\(default\)$' "$OUT" || fail "list runners: $STDOUT"
    run_crun list plugins
    expect_status 0
    grep -qE '^sequential +runner ' "$OUT" || fail "list plugins: no sequential runner: $STDOUT"
    grep -qE '^text +dataset ' "$OUT" || fail "list plugins: no text dataset: $STDOUT"
}

test_list_json()
{
    filter_project
    local what
    for what in pipelines nodes datasets runners plugins; do
        run_crun list --json "$what"
        expect_status 0
        expect_json -
        cp "$OUT" "$what.json"
    done
    if [ "$HAVE_PYTHON" = 1 ]; then
        expect_eq "$(json_query pipelines.json '{p["name"]: p["nodes"] for p in d}')" \
            '{"__default__": 6, "ingest": 3, "model": 3}' "list pipelines --json"
        expect_eq "$(json_query nodes.json '[n["name"] for n in d]')" \
            '["load", "clean", "audit", "train", "score", "report"]' "list nodes --json"
        expect_eq "$(json_query nodes.json '[n for n in d if n["name"] == "score"][0]["tags"]')" \
            '["ml", "report"]' "score's tags"
        expect_eq "$(json_query datasets.json '[x.get("filepath") for x in d if x["name"] == "model"]')" \
            '["data/model.txt"]' "model's filepath"
        expect_eq "$(json_query runners.json '[(r["name"], r["type"], r["default"]) for r in d]')" \
            '[["sequential", "sequential", true]]' "list runners --json"
        expect_eq "$(json_query plugins.json 'sorted(p["kind"] for p in d if p["name"] in ("sequential", "text"))')" \
            '["dataset", "runner"]' "list plugins --json"
    else
        grep -q '"name": "clean"' nodes.json || fail "list nodes --json lacks clean"
        grep -q '"default": true' runners.json || fail "list runners --json lacks the default"
    fi
}

# The usage text writes options after the words (`crun list nodes --json`,
# `crun plugin info FILE.so --json`); they must be honoured there too.
test_options_after_words()
{
    filter_project
    mkdir -p conf/prod
    write_file conf/prod/runner.yml <<'EOF'
default: seq2
runners:
  seq2: {type: sequential}
EOF
    run_crun list nodes --json
    expect_status 0
    expect_json -
    expect_stdout_contains '"name": "clean"'
    run_crun list runners --env prod
    expect_status 0
    expect_stdout_contains seq2
    run_crun plugin info "$CRUN_BUILD_DIR/plugins/runners/sequential/sequential.so" --json
    expect_status 0
    expect_json -
    cd .. || fail "cd"
    run_crun list nodes --project p
    expect_status 0
    expect_stdout_contains clean
}

# --- compile and --ir -----------------------------------------------------------------

test_compile()
{
    filter_project
    run_crun compile
    expect_status 0
    expect_json -
    expect_stdout_contains '"crun_ir": 1'
    expect_no_file ran.log
    cp "$OUT" stdout.json
    run_crun compile -o ir.json
    expect_status 0
    [ -z "$STDOUT" ] || fail "compile -o also wrote to stdout"
    cmp -s stdout.json ir.json || fail "compile -o FILE differs from compile's stdout"
    e2e_checked
    if [ "$HAVE_PYTHON" = 1 ]; then
        expect_eq "$(json_query ir.json '[n["name"] for n in d["nodes"]]')" \
            '["load", "clean", "audit", "train", "score", "report"]' "IR nodes"
        run_crun compile --pipeline ingest
        expect_status 0
        cp "$OUT" ingest.json
        expect_eq "$(json_query ingest.json '[d["pipeline"]] + [n["name"] for n in d["nodes"]]')" \
            '["ingest", "load", "clean", "audit"]' "IR of --pipeline ingest"
        run_crun compile --tags ml
        expect_status 0
        cp "$OUT" ml.json
        expect_eq "$(json_query ml.json '[n["name"] for n in d["nodes"]]')" '["train", "score"]' \
            "IR of --tags ml"
    fi
    run_crun compile --pipeline nope
    expect_status 2
    expect_stderr_contains "unknown pipeline 'nope'"
    # -o writes atomically, making the folders it needs
    run_crun compile -o out/ir/ir.json
    expect_status 0
    cmp -s stdout.json out/ir/ir.json || fail "compile -o out/ir/ir.json differs from stdout"
    [ "$(ls -A out/ir)" = ir.json ] || fail "leftovers beside ir.json: $(ls -A out/ir)"
}

test_run_compiled_ir()
{
    filter_project
    run_crun
    expect_status 0
    expect_ran "load clean audit train score report"
    mv data yaml_data
    run_crun compile -o ir.json
    expect_status 0
    # without conf/ and crun.ini, the IR alone is enough
    rm -rf conf crun.ini
    run_crun run --ir ir.json
    expect_status 0
    expect_ran "load clean audit train score report"
    diff -r yaml_data data >/dev/null || fail "outputs of the IR run differ: $(diff -r yaml_data data)"
    e2e_checked
    expect_file_content data/report.txt "score 3"
    # filters apply to an IR too
    run_crun run --ir ir.json --nodes report
    expect_status 0
    expect_ran "report"
}

# --- envs and runners -------------------------------------------------------------------

test_env_prod_picks_its_default_runner()
{
    setup
    mkdir -p conf/prod
    write_file conf/prod/runner.yml <<'EOF'
default: seq2
runners:
  seq2: {type: sequential, not_an_option: 1}
EOF
    # runner.yml merges deeply: base's runner stays, prod's is added and is the default
    run_crun list --env prod runners
    expect_status 0
    grep -qE '^seq2 +sequential +\(default\)$' "$OUT" || fail "list runners --env prod: $STDOUT"
    grep -qE '^sequential +sequential *$' "$OUT" || fail "list runners --env prod: $STDOUT"
    run_crun list runners
    expect_status 0
    expect_stdout_lacks seq2
    # the run picks seq2: its bad option is what stops it ...
    run_crun --env prod
    expect_status 2
    expect_stderr_contains "conf/prod/runner.yml:3:"
    expect_stderr_contains "runner 'seq2'"
    expect_no_file ran.log
    # ... while local still runs with base's default
    run_crun
    expect_status 0
    expect_ran "make_count greet"
    write_file conf/prod/runner.yml <<'EOF'
default: seq2
runners:
  seq2: {type: sequential}
EOF
    run_crun --env prod
    expect_status 0
    expect_ran "make_count greet"
}

test_runner_by_so_path()
{
    setup
    local so=$CRUN_BUILD_DIR/plugins/runners/sequential/sequential.so
    case $so in /*) ;; *) so=$PWD/$so ;; esac
    [ -f "$so" ] || fail "no $so"
    run_crun --runner "$so"
    expect_status 0
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
    run_crun --runner sequential
    expect_status 0
    expect_ran "make_count greet"
}

test_runner_opt_rejected_by_sequential()
{
    setup
    run_crun --runner-opt max_workers=4
    expect_status 2
    expect_stderr_contains "--runner-opt"
    expect_stderr_contains "option 'max_workers' is not known to runner 'sequential'"
    expect_no_file ran.log
    run_crun --runner-opt novalue
    expect_status 2
    expect_stderr_contains "--runner-opt: expected key=value"
    expect_no_file ran.log
}

# --- command nodes -------------------------------------------------------------------------

test_command_environment()
{
    setup
    mkdir -p conf/prod
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: show_env
        cmd: [sh, -c, "echo $CRUN_NODE $CRUN_RUN_ID $CRUN_ENV > env.txt"]
EOF
    CRUN_NODE=outer CRUN_ENV=outer run_crun --run-id e2e-run-1
    expect_status 0
    expect_file_content env.txt "show_env e2e-run-1 local"
    run_crun --env prod
    expect_status 0
    local id
    id=$(sed -n 's/^crun: run \([^:]*\): .*/\1/p' "$ERR")
    [ -n "$id" ] || fail "no run id in: $STDERR"
    expect_file_content env.txt "show_env $id prod"
}

# An env's pipelines file with empty "libraries:" and "pipelines:" changes
# nothing (as "pipelines: {}" does), rather than dropping base's pipelines.
test_empty_env_pipelines_change_nothing()
{
    setup
    printf 'libraries:\npipelines:\n' >conf/local/pipelines.yml
    run_crun
    expect_status 0
    expect_ran "make_count greet"
}

# A run id and a load version name folders: anything that could be a path
# (or would be cut short) is refused before anything is made.
test_run_id_and_versions_are_names()
{
    setup
    run_crun run --run-id ../../escaped
    expect_status 2
    expect_stderr_contains "run id '../../escaped' is not a word"
    [ ! -e ../../escaped ] && [ ! -e .crun/runs ] || fail "a folder was made for a bad run id"
    run_crun run --run-id "$(printf 'a%.0s' $(seq 64))"
    expect_status 2
    expect_stderr_contains "at most 63"
    run_crun run --run-id "$(printf 'a%.0s' $(seq 63))"
    expect_status 0
    run_crun run --load-versions greeting:../../x
    expect_status 2
    expect_stderr_contains "version '../../x' must be a folder name"
}

test_command_output_prefixed_on_stderr()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: talker
        cmd: [sh, -c, "echo first line; echo second line >&2; printf 'no newline'"]
EOF
    run_crun
    expect_status 0
    expect_stderr_contains "crun: talker: first line"
    expect_stderr_contains "crun: talker: second line"
    expect_stderr_contains "crun: talker: no newline"
    expect_stdout_lacks "line"
    [ -z "$STDOUT" ] || fail "a run wrote to stdout: $STDOUT"
    run_crun -q
    expect_status 0
    expect_stderr_lacks "first line"
}

test_command_not_installed()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: missing_tool
        cmd: [no-such-command-e2e, --flag]
EOF
    run_crun
    expect_status 1
    expect_stderr_contains "node 'missing_tool'"
    expect_stderr_contains "cannot run 'no-such-command-e2e'"
    expect_stderr_contains "No such file or directory"
}

# The command writes part of its output, then fails: the file keeps its old content.
test_no_half_written_output()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: half
        cmd: [sh, -c, "printf 'NEW PART' > {outputs.o}; exit 1"]
        outputs: {o: out}
EOF
    write_file conf/base/catalog.yml <<'EOF'
out: {type: text, filepath: data/out.txt}
EOF
    echo "old content" >data/out.txt
    run_crun
    expect_status 1
    expect_stderr_contains "node 'half'"
    expect_stderr_contains "exited with status 1"
    expect_file_content data/out.txt "old content"
    [ "$(ls -A data)" = "out.txt" ] || fail "leftover files in data/: $(ls -A data)"
    e2e_checked
    # the control: the same node succeeding replaces the content
    sed -i 's/; exit 1//' conf/base/pipelines.yml
    run_crun
    expect_status 0
    expect_file_bytes data/out.txt "NEW PART"
    [ "$(ls -A data)" = "out.txt" ] || fail "leftover files in data/: $(ls -A data)"
}

# A command that makes a folder where its file output was due fails, and its
# temporary name goes with what it made inside.
test_folder_for_a_file_output_leaves_nothing()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: m, cmd: [sh, -c, "mkdir -p {outputs.0}/inside"], outputs: [greeting]}
EOF
    run_crun
    expect_status 1
    expect_stderr_contains "node 'm'"
    expect_stderr_contains "Is a directory"
    [ -z "$(ls -A data)" ] || fail "leftover files in data/: $(ls -A data)"
    e2e_checked
}

# A function node that checks crun_call_cancelled (bench.nap does, between
# slices of its sleep) stops soon after Ctrl-C: crun exits 130 at once.
test_sigint_stops_a_cooperating_function_node()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: long, func: bench.nap, inputs: [params:nap_ms], outputs: [a]}
EOF
    echo 'nap_ms: 20000' >conf/base/parameters.yml
    "$CRUN" >crun.out 2>crun.err </dev/null &
    local pid=$! start end
    for _ in $(seq 100); do
        grep -q "long" crun.err 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.3
    start=$(date +%s%N)
    kill -INT "$pid"
    for _ in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    end=$(date +%s%N)
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        fail "crun still runs 3 s after SIGINT with a cooperating node"
    fi
    wait "$pid"
    STATUS=$?
    ERR=crun.err
    expect_status 130
    [ $(((end - start) / 1000000)) -lt 3000 ] || fail "SIGINT took $(((end - start) / 1000000)) ms"
    e2e_checked
}

# Start crun in the background on the current project and wait until node
# $1 has started (its before_node_run event); sets PID.
start_crun_until_node()
{
    printf '[hooks]\nevents = path=events.jsonl\n' >>crun.ini
    "$CRUN" "${@:2}" >crun.out 2>crun.err </dev/null &
    PID=$!
    for _ in $(seq 400); do
        grep -q "\"before_node_run\".*\"node\":\"$1\"" events.jsonl 2>/dev/null && break
        sleep 0.05
    done
    grep -q "\"node\":\"$1\"" events.jsonl || fail "node $1 did not start: $(cat crun.err)"
    sleep 0.2
}

# Wait up to $1 seconds for PID to end; sets STATUS, ERR, STDERR and MS,
# the milliseconds from the call.
wait_crun()
{
    local start end
    start=$(date +%s%N)
    for _ in $(seq $(($1 * 20))); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    end=$(date +%s%N)
    if kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID"
        wait "$PID"
        fail "crun still runs $1 s after the signal: $(tail -c 400 crun.err)"
    fi
    wait "$PID"
    STATUS=$?
    ERR=crun.err
    STDERR=$(cat crun.err)
    MS=$(((end - start) / 1000000))
}

# A function node that never looks at crun_call_cancelled (bench.stall
# sleeps in one call) cannot be stopped: crun waits for the run's grace
# period (5 s for the sequential runner) and 2 s more, then names the node,
# abandons it and exits 130, its output's previous file as it was.
test_sigint_abandons_a_function_node_deaf_to_cancellation()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: first, func: bench.noop, inputs: [params:nap_ms], outputs: [a]}
      - {name: stuck, func: bench.stall, inputs: [a, params:nap_ms], outputs: [b]}
EOF
    write_file conf/base/catalog.yml <<'EOF'
b: {type: json, filepath: data/b.json}
EOF
    echo 'nap_ms: 600000' >conf/base/parameters.yml
    echo '"before"' >data/b.json
    start_crun_until_node stuck
    kill -INT "$PID"
    wait_crun 20
    expect_status 130
    [ "$MS" -ge 6500 ] || fail "crun gave up after $MS ms, before the grace period (5 s + 2)"
    [ "$MS" -lt 9500 ] || fail "crun took $MS ms to abandon the node (grace 5 s + 2)"
    expect_stderr_contains "interrupted: node 'stuck' did not return 7 s after the interrupt"
    expect_stderr_contains "abandoning it"
    expect_stderr_lacks "node 'first' did"
    expect_file_content data/b.json '"before"'
    [ "$(ls -A data)" = "b.json" ] || fail "leftover files in data/: $(ls -A data)"
}

# The same under the parallel runner with SIGTERM: its grace_period (1 s)
# is the bound, and a command beside the stuck node that ignores SIGTERM is
# killed, not left behind.
test_sigterm_abandons_a_stuck_node_in_a_parallel_run_leaving_no_child()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: stuck, func: bench.stall, inputs: [params:nap_ms], outputs: [b]}
      - name: deaf
        cmd: [sh, -c, "trap '' TERM; echo $$ > child.pid; exec sleep 600"]
EOF
    write_file conf/base/runner.yml <<'EOF'
default: parallel
runners:
  parallel: {type: parallel, max_workers: 2, grace_period: 1}
EOF
    echo 'nap_ms: 600000' >conf/base/parameters.yml
    start_crun_until_node stuck
    for _ in $(seq 100); do
        [ -s child.pid ] && break
        sleep 0.05
    done
    [ -s child.pid ] || fail "the command did not start: $(cat crun.err)"
    local child
    child=$(cat child.pid)
    kill -TERM "$PID"
    wait_crun 15
    expect_status 130
    [ "$MS" -ge 2500 ] || fail "crun gave up after $MS ms, before the grace period (1 s + 2)"
    [ "$MS" -lt 5500 ] || fail "crun took $MS ms to abandon the node (grace 1 s + 2)"
    expect_stderr_contains "interrupted: node 'stuck' did not return 3 s after the interrupt"
    expect_stderr_lacks "'deaf' did"
    sleep 0.2
    if kill -0 "$child" 2>/dev/null; then
        kill -KILL "$child"
        fail "the command's process $child outlived crun"
    fi
}

# A function node that crashes the process is named, and crun dies of the
# signal (128 + 11), not with a status that hides it.
test_crashing_node_is_named()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: first, func: bench.noop, outputs: [a]}
      - {name: boom, func: bench.crash, inputs: [a], outputs: [b]}
EOF
    # under AddressSanitizer, its own SEGV handler would take the crash first
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:allow_user_segv_handler=1" run_crun
    expect_status 139
    expect_stderr_contains "crun crashed while node 'boom' was running (SIGSEGV"
    expect_stderr_lacks "node 'first'"
}

# A run killed with SIGKILL cannot remove its scratch folder: the next run
# that makes one does (its lock went with the killed run), and leaves
# alone what is not a crun scratch folder.
test_scratch_folder_of_a_killed_run_removed_by_the_next()
{
    setup
    mkdir tmp tmp/crun-scratch-not-ours tmp/other
    export TMPDIR=$PWD/tmp
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: slow, cmd: [sh, -c, "echo x > {outputs.0}; exec sleep 29.75"], outputs: [mem]}
      - {name: read, cmd: [cat, "{inputs.0}"], inputs: [mem]}
  quick:
    nodes:
      - {name: q, cmd: [sh, -c, "echo y > {outputs.0}"], outputs: [m2]}
      - {name: r, cmd: [cat, "{inputs.0}"], inputs: [m2]}
EOF
    "$CRUN" >/dev/null 2>&1 &
    local pid=$! i killed=""
    for i in $(seq 100); do
        killed=$(find tmp -maxdepth 1 -name 'crun-scratch-2*')
        [ -n "$killed" ] && break
        sleep 0.1
    done
    [ -n "$killed" ] || fail "the run made no scratch folder"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    pkill -f 'sleep 29.75' # the command a killed crun may leave running
    [ -d "$killed" ] || fail "the killed run's scratch folder went already"
    run_crun --pipeline quick
    expect_status 0
    [ -d "$killed" ] && fail "the killed run's scratch folder stays after the next run"
    [ -d tmp/crun-scratch-not-ours ] || fail "a folder without crun's lock file was removed"
    [ -d tmp/other ] || fail "another program's folder was removed"
    e2e_checked
}

# The run's scratch folder goes at the end of the run with whatever the
# commands made in it, folders included, whether the run failed or not; a
# symbolic link in it is removed, not what it points to.
test_scratch_folder_removed_with_what_commands_made()
{
    setup
    mkdir tmp keep
    echo precious >keep/file
    export TMPDIR=$PWD/tmp
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: m, cmd: [sh, -c, "mkdir -p {outputs.0}"], outputs: [mem]}
EOF
    run_crun
    expect_status 1
    expect_stderr_contains "Is a directory"
    [ -z "$(ls -A tmp)" ] || fail "left in the scratch folder: $(find tmp)"
    e2e_checked
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "d=$(dirname {outputs.o}); mkdir -p $d/sub/deeper; echo x > $d/sub/deeper/f; ln -s $PWD/keep $d/sub/link; echo hi > {outputs.o}"]
        outputs: {o: mem}
      - name: b
        cmd: [sh, -c, "cat {inputs.i} > {outputs.o}"]
        inputs: {i: mem}
        outputs: {o: greeting}
EOF
    run_crun
    expect_status 0
    expect_file_content data/greeting.txt "hi"
    [ -z "$(ls -A tmp)" ] || fail "left in the scratch folder: $(find tmp)"
    e2e_checked
    expect_file_content keep/file "precious"
}

# Fail if a process whose command line has TEXT is left (and end it).
expect_no_leftover()
{
    e2e_checked
    sleep 0.1
    local left
    left=$(pgrep -af "$1")
    if [ -n "$left" ]; then
        pkill -KILL -f "$1"
        fail "a process outlived crun: $(printf '%s\n' "$left" | head -n 3)"
    fi
}

# A command node ends when its process exits, and what it left running in
# its process group is stopped then, with a warning naming the node: a
# background job does not outlive crun.
test_background_process_ends_with_its_node()
{
    local m="61.$$${RANDOM}5" start ms
    setup
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - {name: detached, cmd: [sh, -c, "sleep $m >/dev/null 2>&1 &"]}
      - {name: holding, cmd: [sh, -c, "echo started; (sleep 0.3; echo late) & echo done"]}
EOF
    start=$(date +%s%N)
    run_crun
    ms=$((($(date +%s%N) - start) / 1000000))
    expect_no_leftover "sleep $m"
    expect_status 0
    expect_stderr_contains "holding: done"
    expect_stderr_contains "holding: late"
    expect_stderr_contains "warning: node 'detached': stopped 1 process its command left running"
    expect_stderr_lacks "node 'holding': stopped"
    [ "$ms" -lt 3000 ] || fail "crun took $ms ms, waiting for a background process"
    e2e_checked
}

# A process the command left that still holds its output (a process
# substitution finishing a file) gets the grace period to finish before it
# is stopped: the file is whole when the node succeeds.
test_process_substitution_finishes_its_file()
{
    command -v bash >/dev/null && command -v gzip >/dev/null || { e2e_checked; return 0; }
    setup
    mkdir -p out
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: compress
        cmd: [bash, -c, "head -c 30000000 /dev/urandom | tee >(gzip -9 > out/f.gz) > /dev/null"]
EOF
    run_crun
    expect_status 0
    gzip -t out/f.gz 2>gzip.err || fail "out/f.gz is not whole: $(cat gzip.err)"
    expect_stderr_lacks "node 'compress': stopped"
}

# What ignores SIGTERM gets SIGKILL after the grace period (5 s); holding the
# output, it had the grace period before the SIGTERM too.
test_background_process_ignoring_sigterm_is_killed()
{
    local m="61.$$${RANDOM}6" start ms
    setup
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - {name: stubborn, cmd: [sh, -c, "trap '' TERM; sleep $m & echo done"]}
EOF
    start=$(date +%s%N)
    run_crun
    ms=$((($(date +%s%N) - start) / 1000000))
    expect_no_leftover "sleep $m"
    expect_status 0
    expect_stderr_contains "warning: node 'stubborn': stopped 1 process its command left running"
    [ "$ms" -ge 9000 ] || fail "crun took $ms ms: less than the grace period twice"
    [ "$ms" -lt 16000 ] || fail "crun took $ms ms"
    e2e_checked
}

# A command that exits 0 without writing its output, or dies of a signal, fails its node.
test_command_failures_reported()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: forgetful
        cmd: [sh, -c, "echo forgetful >> ran.log"]
        outputs: {o: greeting}
      - name: killed
        cmd: [sh, -c, "echo killed >> ran.log; kill -9 $$"]
EOF
    run_crun
    expect_status 1
    expect_ran "forgetful"
    expect_stderr_contains "node 'forgetful': the command did not write {outputs.o}"
    expect_stderr_contains "the run failed at node 'forgetful'"
    expect_no_file data/greeting.txt
    [ -z "$(ls -A data)" ] || fail "leftover files in data/: $(ls -A data)"
    run_crun --node killed
    expect_status 1
    expect_ran "killed"
    expect_stderr_contains "node 'killed': the command was killed by signal 9"
}

test_ir_file_missing()
{
    setup
    run_crun run --ir nothere.json
    expect_status 2
    expect_stderr_contains "nothere.json"
    expect_stderr_contains "No such file or directory"
    expect_stderr_lacks ":-1:-1:"
    expect_no_file ran.log
}

# --- failure and resume ----------------------------------------------------------------------

# a -> (memory) -> b -> (text file) -> c -> (memory) -> d, d fails.  Kedro's
# rule: resume from the nearest nodes whose inputs are persisted: c.
chain_project()
{
    setup
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "echo a >> ran.log; echo A > {outputs.o}"]
        outputs: {o: a_mem}
      - name: b
        cmd: [sh, -c, "echo b >> ran.log; cat {inputs.i} > {outputs.o}; echo B >> {outputs.o}"]
        inputs: {i: a_mem}
        outputs: {o: b_file}
      - name: c
        cmd: [sh, -c, "echo c >> ran.log; cat {inputs.i} > {outputs.o}; echo C >> {outputs.o}"]
        inputs: {i: b_file}
        outputs: {o: c_mem}
      - name: d
        cmd: [sh, -c, "echo d >> ran.log; test -f fixed || { echo d is broken; exit 3; }; cat {inputs.i} > {outputs.o}; echo count $(cat {inputs.n}) >> {outputs.o}"]
        inputs: {i: c_mem, n: "params:count"}
        outputs: {o: d_file}
EOF
    write_file conf/base/catalog.yml <<'EOF'
b_file: {type: text, filepath: data/b.txt}
d_file: {type: text, filepath: data/d.txt}
EOF
}

# The command of the "resume with:" hint, without the leading "crun".
resume_args()
{
    sed -n '/^crun: resume with:$/{n;s/^ *crun //;p;}' "$ERR"
}

# A compiled IR edited by hand (or by another tool) is checked like YAML:
# each broken node or dataset is refused with exit 2 and where it is, and
# none crashes crun.
test_ir_checked_like_yaml()
{
    setup
    run_crun compile -o ir.json
    expect_status 0
    local edit want
    while IFS='|' read -r edit want; do
        python3 -c "
import json, sys
ir = json.load(open('ir.json'))
n = ir['nodes'][0]
$edit
json.dump(ir, open('bad.json', 'w'))"
        run_crun run --ir bad.json
        expect_status 2
        expect_stderr_contains "bad.json"
        expect_stderr_contains "$want"
        expect_no_file ran.log
    done <<'EOF'
n.pop('cmd'); n['func'] = 'demo'|'func' must be library.function
n.pop('cmd'); n['func'] = 'demo.'|'func' must be library.function
n['func'] = 'lib.f'|either 'func' or 'cmd', not both
n['name'] = ''|missing 'name'
n['cmd'] = ['sh', '-c', 'cat {inputs.99}']|{inputs.99} names no input
n['cmd'] = ['sh', '-c', 'cat {input.n}']|unknown placeholder {input.n}
next(iter(ir['datasets'].values()))['kind'] = 'nope'|'kind' must be catalog, memory or params
EOF
}

test_failing_node_and_resume()
{
    chain_project
    run_crun
    expect_status 1
    expect_ran "a b c d"
    expect_stderr_contains "crun: d: d is broken"
    expect_stderr_contains "node 'd': the command exited with status 3"
    expect_stderr_contains "the run failed at node 'd'"
    expect_stderr_contains "crun: resume with:"
    local resume
    resume=$(resume_args)
    expect_eq "$resume" "run --from-nodes c" "resume command"
    expect_no_file data/d.txt
    touch fixed
    eval "run_crun $resume"
    expect_status 0
    expect_ran "c d"
    expect_file_content data/d.txt "$(printf 'A\nB\nC\ncount 3')"
}

# The hint repeats what the run was given, so the resumed run is the same run.
test_resume_keeps_env_and_params()
{
    chain_project
    mkdir -p conf/prod
    run_crun --env prod --params count=7
    expect_status 1
    local resume
    resume=$(resume_args)
    case " $resume " in *" --env prod "*) ;; *) fail "resume command lacks --env prod: $resume" ;; esac
    e2e_checked
    touch fixed
    rm -f ran.log
    eval "run_crun $resume"
    expect_status 0
    expect_ran "c d"
    expect_file_content data/d.txt "$(printf 'A\nB\nC\ncount 7')"
}

# Run from outside the project with --project: the hint must work from there.
test_resume_from_another_folder()
{
    chain_project
    cd .. || fail "cd"
    run_crun --project p
    expect_status 1
    local resume
    resume=$(resume_args)
    touch p/fixed
    rm -f p/ran.log
    eval "run_crun $resume"
    expect_status 0
    expect_ran_in p "c d"
}

# A run of a compiled IR resumes from the same IR (conf/ is gone).
test_resume_from_compiled_ir()
{
    chain_project
    run_crun compile -o ir.json
    expect_status 0
    rm -rf conf crun.ini
    run_crun run --ir ir.json
    expect_status 1
    expect_ran "a b c d"
    local resume
    resume=$(resume_args)
    touch fixed
    eval "run_crun $resume"
    expect_status 0
    expect_ran "c d"
    expect_file_content data/d.txt "$(printf 'A\nB\nC\ncount 3')"
}

expect_ran_in()
{
    (cd "$1" && expect_ran "$2") || fail "$(cat "$E2E_REASON")"
}

# --- filters ------------------------------------------------------------------------------------

test_filters()
{
    filter_project
    run_crun
    expect_status 0
    expect_ran "load clean audit train score report"
    run_crun --pipeline ingest
    expect_status 0
    expect_ran "load clean audit"
    run_crun --pipeline model
    expect_status 0
    expect_ran "train score report"
    run_crun --tags report
    expect_status 0
    expect_ran "score report"
    run_crun --tags io,prep
    expect_status 0
    expect_ran "load clean audit"
    run_crun --nodes clean,train
    expect_status 0
    expect_ran "clean train"
    run_crun --from-nodes train
    expect_status 0
    expect_ran "train score report"
    run_crun --to-nodes clean
    expect_status 0
    expect_ran "load clean"
    run_crun --from-inputs cleaned
    expect_status 0
    expect_ran "train score report"
    run_crun --from-inputs raw
    expect_status 0
    expect_ran "clean audit train score report"
    run_crun --to-outputs model
    expect_status 0
    expect_ran "load clean train"
    run_crun --from-nodes clean --to-nodes score
    expect_status 0
    expect_ran "clean train score"
    run_crun --pipeline model --tags ml
    expect_status 0
    expect_ran "train score"
    run_crun --from-inputs raw --to-outputs score --tags ml
    expect_status 0
    expect_ran "train score"
    run_crun --node score
    expect_status 0
    expect_ran "score"
    expect_file_content data/report.txt "score 3"
}

test_filter_errors()
{
    filter_project
    run_crun --pipeline ingest --tags ml
    expect_status 2
    expect_stderr_contains "pipeline 'ingest' has no nodes left after the filters"
    expect_no_file ran.log
    run_crun --tags nosuchtag
    expect_status 2
    expect_stderr_contains "--tags: no node has the tag 'nosuchtag' (the tags are: io, ml, prep, report)"
    run_crun --nodes trian
    expect_status 2
    expect_stderr_contains "--nodes: node 'trian' does not exist"
    expect_stderr_contains "did you mean 'train'?"
    run_crun --pipeline ingest --nodes train
    expect_status 2
    expect_stderr_contains "node 'train' is not in the selected pipeline"
    run_crun --from-inputs nothing_here
    expect_status 2
    expect_stderr_contains "--from-inputs: dataset 'nothing_here' does not exist"
    run_crun --node clean,train
    expect_status 2
    expect_stderr_contains "--node takes one node name"
    run_crun --pipeline modle
    expect_status 2
    expect_stderr_contains "unknown pipeline 'modle'"
    expect_stderr_contains "did you mean 'model'?"
    expect_no_file ran.log
}

# A filter that leaves out the producer of a memory dataset cannot run.
test_filter_needs_memory_producer()
{
    setup
    run_crun --nodes greet
    expect_status 2
    expect_stderr_contains "node 'greet' needs 'count', a memory dataset made by node 'make_count'"
    expect_no_file ran.log
}

# --- signals -------------------------------------------------------------------------------------

# Start crun on two `sleep MARKER` nodes (the first writes part of its
# output first), send SIG once a sleep runs, and check: exit 130 within 2 s,
# no sleep left, the output file untouched.
interrupt_run()
{
    local sig=$1 marker="30.$$${RANDOM}7"
    setup
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - name: slow1
        cmd: [sh, -c, "printf partial > {outputs.o}; exec sleep $marker"]
        outputs: {o: out}
      - name: slow2
        cmd: [sleep, "$marker"]
EOF
    write_file conf/base/catalog.yml <<'EOF'
out: {type: text, filepath: data/out.txt}
EOF
    echo "old content" >data/out.txt
    "$CRUN" >crun.out 2>crun.err </dev/null &
    local pid=$!
    for _ in $(seq 100); do
        pgrep -f "sleep $marker" >/dev/null && break
        sleep 0.05
    done
    if ! pgrep -f "sleep $marker" >/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        fail "the sleep node never started: $(cat crun.err)"
    fi
    local start end
    start=$(date +%s%N)
    kill -"$sig" "$pid"
    for _ in $(seq 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    end=$(date +%s%N)
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        pkill -KILL -f "sleep $marker"
        fail "crun still runs 2 s after SIG$sig"
    fi
    wait "$pid"
    STATUS=$?
    ERR=crun.err
    OUT=crun.out
    expect_status 130
    [ $(((end - start) / 1000000)) -lt 2000 ] || fail "SIG$sig took $(((end - start) / 1000000)) ms"
    e2e_checked
    sleep 0.1
    if pgrep -f "sleep $marker" >/dev/null; then
        pkill -KILL -f "sleep $marker"
        fail "a sleep child outlived crun after SIG$sig"
    fi
    e2e_checked
    expect_stderr_contains "interrupted"
    expect_file_content data/out.txt "old content"
    [ "$(ls -A data)" = "out.txt" ] || fail "leftover files in data/: $(ls -A data)"
}

# A generated pipeline of 20,001 nodes, over a megabyte of YAML (read on a
# second thread): it runs, and errors far down the file name their lines.
large_pipeline()
{
    awk -v tail="$1" 'BEGIN {
        print "libraries: {bench: bench}\npipelines:\n  __default__:\n    nodes:"
        print "      - {name: n0, func: bench.noop, inputs: \"params:x\", outputs: d0}"
        for (i = 1; i < 20000; i++)
            printf "      - {name: n%d, func: bench.noop, inputs: [d%d], outputs: d%d}\n", i, i - 1, i
        print "      - {name: last, func: bench.noop, inputs: d19999, outputs: result}"
        printf "%s", tail
    }' >conf/base/pipelines.yml
}

test_large_pipeline_file()
{
    setup
    large_pipeline ""
    [ "$(wc -c <conf/base/pipelines.yml)" -gt 1048576 ] || fail "the pipeline is under 1 MiB"
    echo 'x: {answer: 42}' >conf/base/parameters.yml
    echo 'result: {type: json, filepath: data/result.json}' >conf/base/catalog.yml
    run_crun -q
    expect_status 0
    grep -q '"answer": *42' data/result.json || fail "data/result.json: $(cat data/result.json)"
    # a YAML error at the end of the file
    large_pipeline "      - {name: broken, func: bench.noop
"
    run_crun -q
    expect_status 2
    expect_stderr_contains "conf/base/pipelines.yml:20007:"
    # one of crun's own, in the middle
    large_pipeline ""
    sed -i '10005s/outputs: d10000/outputs: d9/' conf/base/pipelines.yml
    run_crun -q
    expect_status 2
    expect_stderr_contains "conf/base/pipelines.yml:10005:"
}

# A large pipelines file's events are kept in .crun/cache/ once it has not
# changed for two seconds: later runs read them instead of the YAML, a damaged
# cache is replaced, a changed file is read again, and no cache is no error.
test_large_pipeline_file_is_cached()
{
    setup
    large_pipeline ""
    echo 'x: {answer: 42}' >conf/base/parameters.yml
    echo 'result: {type: json, filepath: data/result.json}' >conf/base/catalog.yml
    sleep 3
    local cache=.crun/cache/conf/base/pipelines.yml.events
    run_crun -q
    expect_status 0
    [ -s "$cache" ] || fail "no cache at $cache"
    local made
    made=$(stat -c %i "$cache")
    rm data/result.json
    run_crun -q
    expect_status 0
    grep -q '"answer": *42' data/result.json || fail "data/result.json: $(cat data/result.json)"
    expect_eq "$(stat -c %i "$cache")" "$made" "the cache was rewritten though it was valid"
    # damaged: ignored, the YAML is read, and the cache made again
    printf 'XXXX' | dd of="$cache" bs=1 seek=500000 conv=notrunc status=none
    rm data/result.json
    run_crun -q
    expect_status 0
    grep -q '"answer": *42' data/result.json || fail "data/result.json: $(cat data/result.json)"
    [ "$(stat -c %i "$cache")" != "$made" ] || fail "the damaged cache was kept"
    # edited in place to the same size, its modification time put back: the
    # change time still tells the versions apart
    echo 'y: {answer: 43}' >>conf/base/parameters.yml
    cp -p conf/base/pipelines.yml before.yml
    local version
    version=$(stat -c %s.%Y.%i conf/base/pipelines.yml)
    python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    text = f.read()
    f.seek(text.index(b"params:x"))
    f.write(b"params:y")' conf/base/pipelines.yml
    touch -r before.yml conf/base/pipelines.yml
    expect_eq "$(stat -c %s.%Y.%i conf/base/pipelines.yml)" "$version" "size.mtime.inode"
    rm data/result.json
    run_crun -q
    expect_status 0
    grep -q '"answer": *43' data/result.json || fail "the edit in place was not read"
    # the file changed: what it says now is what runs
    sed -i 's/outputs: result}/outputs: other}/' conf/base/pipelines.yml
    echo 'other: {type: json, filepath: data/other.json}' >>conf/base/catalog.yml
    run_crun -q
    expect_status 0
    grep -q '"answer": *43' data/other.json || fail "the changed file was not read"
    # no place for a cache: crun runs all the same
    rm -rf .crun data/other.json
    touch .crun
    sleep 3
    run_crun -q
    expect_status 0
    grep -q '"answer": *43' data/other.json || fail "no run without a cache folder"
}

test_sigint_stops_run()
{
    interrupt_run INT
}

test_sigterm_stops_run()
{
    interrupt_run TERM
}

# A save killed mid-way leaves a version folder without the file (and an
# unlocked temporary file): no version to list, nor to load.
test_catalog_describe_lists_complete_versions_only()
{
    make_project .
    mkdir -p data/v.txt/2026-01-01T00.00.00.000Z data/v.txt/2026-02-01T00.00.00.000Z
    echo one >data/v.txt/2026-01-01T00.00.00.000Z/v.txt
    echo half >data/v.txt/2026-02-01T00.00.00.000Z/.v.txt.tmp-crun
    echo 'v: {type: text, filepath: data/v.txt, versioned: true}' >>conf/base/catalog.yml
    run_crun catalog describe v --json
    expect_status 0
    expect_json "$OUT"
    expect_stdout_contains '"2026-01-01T00.00.00.000Z"'
    expect_stdout_lacks '2026-02-01'
}

run_tests "$@"
