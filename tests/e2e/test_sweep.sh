#!/usr/bin/env bash
# The sweep runner: trials equal separate --params runs, trials at once
# without mixed outputs, on_failure, the results table (CSV and JSON), -m,
# Ctrl-C and --resume, explicit and sampled trials, and the configuration
# errors found before anything runs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# A project with parameters a and b and one command node `score` that writes
# {"score": a*b, "label": ...} to the json dataset `metrics` (data/metrics.json)
# and logs "<run id> a=<a> b=<b>" to trials.log.  It fails when a is 3 (unless
# the file `fixed` exists).  When
# a is 2 and the file `slow` exists, it sleeps for $2 seconds, then logs its
# run id to ends.log; one that starts after such an end logs to late.log.  runner.yml
# gets the runner lines given in $1 under `runners:`.
sweep_project()
{
    make_project p
    cd p || fail "no project"
    write_file conf/base/parameters.yml <<'EOF'
model:
  a: 1
  b: 2
label: x
EOF
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - name: score
        cmd:
          - sh
          - -c
          - |
            a=\$(cat {inputs.a}); b=\$(cat {inputs.b})
            echo "\$CRUN_RUN_ID a=\$a b=\$b" >> trials.log
            [ "\$a" = 3 ] && [ ! -f fixed ] && { echo "a is 3" >&2; exit 1; }
            if [ "\$a" = 2 ] && [ -f slow ]; then
              [ -f ends.log ] && echo "\$CRUN_RUN_ID" >> late.log
              sleep ${2:-0}
              echo "\$CRUN_RUN_ID" >> ends.log
            fi
            awk -v a="\$a" -v b="\$b" 'BEGIN { printf "{\"score\": %g, \"label\": \"a%s\"}\n", a * b, a }' > {outputs.m}
        inputs: {a: "params:model.a", b: "params:model.b"}
        outputs: {m: metrics}
EOF
    write_file conf/base/catalog.yml <<'EOF'
metrics: {type: json, filepath: data/metrics.json}
EOF
    write_file conf/base/runner.yml <<EOF
default: sequential
runners:
  sequential: {type: sequential}
  parallel: {type: parallel, max_workers: 2}
$1
EOF
}

# The only sweep folder's results file $1 (results.csv or results.json).
results()
{
    local d
    d=$(ls -d .crun/sweeps/*/ 2>/dev/null | head -n 1)
    [ -n "$d" ] || fail "no .crun/sweeps/<id>/ folder$(e2e_context)"
    echo "${d}$1"
}

have_python()
{
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; echo "skipped: no python3"; return 1; }
}

# --- what a sweep runs ----------------------------------------------------------------

test_sweep_trials_equal_separate_params_runs()
{
    sweep_project '  tune: {type: sweep, params: {model.a: "1,4", model.b: "range(5,7)"}, collect: [metrics]}'
    run_crun --runner tune
    expect_status 0
    local csv
    csv=$(results results.csv)
    local a b want got
    for a in 1 4; do
        for b in 5 6; do
            run_crun --params "model.a=$a,model.b=$b"
            expect_status 0
            want=$(cat data/metrics.json | tr -d ' \n')
            got=$(awk -F, -v a="$a" -v b="$b" '$3 == a && $4 == b { printf "{\"score\":%s,\"label\":\"%s\"}", $7, $8 }' "$csv")
            expect_eq "$got" "$want" "trial a=$a b=$b"
        done
    done
}

test_sweep_gives_each_trial_its_run_id_and_params()
{
    sweep_project '  tune: {type: sweep, params: {model.a: "1,4", model.b: "choice(5, 6)"}}'
    run_crun --runner tune
    expect_status 0
    local id
    id=$(basename "$(dirname "$(results results.csv)")")
    expect_file_content trials.log "$(printf '%s\n' "$id-0 a=1 b=5" "$id-1 a=1 b=6" "$id-2 a=4 b=5" "$id-3 a=4 b=6")"
}

test_sweep_runs_trials_at_once_without_mixing_outputs()
{
    sweep_project '  tune: {type: sweep, max_parallel: 2, params: {model.a: "2,4", model.b: "1,2"}, collect: [metrics]}' 1
    touch slow
    run_crun --runner tune
    expect_status 0
    # trials 0 and 1 (a=2) sleep 1 s each: at once, the second starts before
    # the first ends
    expect_eq "$(wc -l <ends.log | tr -d ' ')" 2 "trials that slept"
    expect_no_file late.log
    # each row's collected score is its own trial's a*b
    local bad
    bad=$(awk -F, 'NR > 1 && $7 != $3 * $4 { print }' "$(results results.csv)")
    expect_eq "$bad" "" "rows whose score is not their a*b"
    expect_eq "$(awk -F, 'NR > 1 { print $5 }' "$(results results.csv)" | sort -u)" "ok" "statuses"
    # trials at once keep file outputs in memory: none wrote the shared file
    expect_no_file data/metrics.json
}

test_sweep_stops_at_first_failed_trial()
{
    sweep_project '  tune: {type: sweep, params: {model.a: "1,3,4"}}'
    run_crun --runner tune
    expect_status 1
    expect_stderr_contains "1 of 3 trials failed; trial 1"
    expect_stderr_contains "a is 3"
    expect_eq "$(awk -F, 'NR > 1 { printf "%s ", $4 }' "$(results results.csv)")" "ok failed skipped " "statuses"
    expect_eq "$(wc -l <trials.log | tr -d ' ')" 2 "trials started"
}

test_sweep_continues_after_failed_trial_when_asked()
{
    sweep_project '  tune: {type: sweep, on_failure: continue, params: {model.a: "1,3,4"}}'
    run_crun --runner tune
    expect_status 1
    expect_eq "$(awk -F, 'NR > 1 { printf "%s ", $4 }' "$(results results.csv)")" "ok failed ok " "statuses"
}

test_sweep_trials_write_catalog_files_of_their_own()
{
    # a path that uses the swept key is each trial's own: written even when
    # trials run at once; the trials' shared file is still not written
    sweep_project '  tune: {type: sweep, max_parallel: 2, params: {model.a: "1,4"}, collect: [metrics]}
  one: {type: sweep, params: {model.a: "1,4"}}'
    write_file conf/base/catalog.yml <<'EOF2'
metrics: {type: json, filepath: "data/metrics_${runtime_params:model.a,0}.json"}
EOF2
    run_crun --runner tune
    expect_status 0
    expect_eq "$(tr -d ' \n' <data/metrics_1.json)" '{"score":2,"label":"a1"}' "trial a=1's file"
    expect_eq "$(tr -d ' \n' <data/metrics_4.json)" '{"score":8,"label":"a4"}' "trial a=4's file"
    expect_no_file data/metrics_0.json
    rm -f data/metrics_*.json
    run_crun --runner one
    expect_status 0
    expect_eq "$(ls data)" "$(printf '%s\n' metrics_1.json metrics_4.json)" "files of one trial at a time"
}

test_sweep_trials_keep_the_runs_filters_and_durability()
{
    sweep_project '  tune: {type: sweep, params: {model.a: "1,4"}}'
    write_file conf/base/pipelines.yml <<'EOF2'
pipelines:
  __default__:
    nodes:
      - name: score
        cmd: [sh, -c, 'echo "$CRUN_RUN_ID a=$(cat {inputs.a})" >> trials.log; echo {} > {outputs.m}']
        inputs: {a: "params:model.a"}
        outputs: {m: metrics}
        tags: [fit]
      - name: extra
        cmd: [sh, -c, 'echo "$CRUN_RUN_ID" >> extra.log']
EOF2
    run_crun --runner tune --tags fit --durability node
    expect_status 0
    expect_eq "$(wc -l <trials.log | tr -d ' ')" 2 "trials"
    expect_no_file extra.log
    run_crun --runner tune --nodes extra
    expect_status 0
    expect_eq "$(wc -l <extra.log | tr -d ' ')" 2 "trials of the other node"
    expect_eq "$(wc -l <trials.log | tr -d ' ')" 2 "score, filtered out"
}

test_sweep_trial_logs_are_labelled_and_failures_resume_the_sweep_runner()
{
    sweep_project '  tune: {type: sweep, params: {model.a: "1,3"}}'
    run_crun -v --runner tune
    expect_status 1
    expect_stderr_contains "trial 1: node 'score'"
    expect_stderr_contains "the run failed at node 'score'"
    expect_stderr_contains "crun run --runner tune --from-nodes score"
}

test_sweep_checks_run_before_anything_starts()
{
    # a swept key that is not a parameter, a collected dataset no node
    # makes, and an unknown wrapped runner given with -m: refused before the
    # sweep's run starts (no sweep folder, no hook)
    sweep_project '  bad_key: {type: sweep, params: {model.z: "1,2"}}
  bad_collect: {type: sweep, params: {model.a: "1,2"}, collect: [nosuch]}'
    run_crun --runner bad_key
    expect_status 2
    expect_stderr_contains "'model.z' is not a parameter"
    run_crun --runner bad_collect
    expect_status 2
    expect_stderr_contains "collect: no node of the project makes dataset 'nosuch'"
    run_crun run -m model.a=1,2 --runner nosuch
    expect_status 2
    expect_stderr_contains "nosuch"
    expect_no_file trials.log
    expect_no_file .crun/sweeps
}

# --- the results table ---------------------------------------------------------------

test_sweep_results_csv_has_params_status_time_and_metrics()
{
    sweep_project '  tune: {type: sweep, params: {model.a: "1,4", model.b: "0.5"}, collect: [metrics]}'
    run_crun --runner tune
    expect_status 0
    local csv id
    csv=$(results results.csv)
    id=$(basename "$(dirname "$csv")")
    expect_eq "$(head -n 1 "$csv")" "trial,run_id,model.a,model.b,status,seconds,metrics.score,metrics.label" "header"
    expect_eq "$(sed -n 2p "$csv" | cut -d, -f1-5,7-)" "0,$id-0,1,0.5,ok,0.5,a1" "row 0"
    expect_eq "$(sed -n 3p "$csv" | cut -d, -f1-5,7-)" "1,$id-1,4,0.5,ok,2,a4" "row 1"
    e2e_checked
    sed -n 2p "$csv" | cut -d, -f6 | grep -Eq '^[0-9]+\.[0-9]{3}$' || fail "seconds: $(sed -n 2p "$csv")"
    # the same table is printed on stdout
    expect_stdout_contains "metrics.score"
    expect_stdout_contains "$id-1"
}

test_sweep_results_json_has_typed_params_and_metrics()
{
    have_python || return 0
    sweep_project '  tune: {type: sweep, params: {model.a: "1,4", model.b: "0.5"}, collect: [metrics]}'
    run_crun --runner tune
    expect_status 0
    local j
    j=$(results results.json)
    expect_json "$j"
    expect_eq "$(json_query "$j" '[t["params"] for t in d["trials"]]')" \
        '[{"model.a": 1, "model.b": 0.5}, {"model.a": 4, "model.b": 0.5}]' "params"
    expect_eq "$(json_query "$j" '[t["collected"]["metrics.score"] for t in d["trials"]]')" \
        '[0.5, 2]' "scores"
    expect_eq "$(json_query "$j" '[d["params"], [t["status"] for t in d["trials"]]]')" \
        '[["model.a", "model.b"], ["ok", "ok"]]' "columns and statuses"
    expect_eq "$(json_query "$j" 'd["runner"]')" "" "runner (the default)"
}

test_sweep_explicit_trials_run_as_listed()
{
    sweep_project '  tune: {type: sweep, trials: [{model.a: 4, model.b: 1}, {model.a: 1}]}'
    run_crun --runner tune
    expect_status 0
    local id
    id=$(basename "$(dirname "$(results results.csv)")")
    expect_file_content trials.log "$(printf '%s\n' "$id-0 a=4 b=1" "$id-1 a=1 b=2")"
}

test_sweep_samples_are_a_seeded_subset_of_the_grid()
{
    sweep_project '  tune: {type: sweep, samples: 3, seed: 7, params: {model.a: "range(1,3)", model.b: "range(10,15)"}}'
    run_crun --runner tune
    expect_status 0
    local first
    first=$(cut -d' ' -f2- trials.log)
    expect_eq "$(wc -l <trials.log | tr -d ' ')" 3 "trials"
    rm -rf trials.log .crun
    run_crun --runner tune
    expect_eq "$(cut -d' ' -f2- trials.log)" "$first" "the same seed, the same trials"
    # kept in grid order, each a point of the grid
    expect_eq "$(cut -d' ' -f2- trials.log | sort -t= -k2,2n -k3,3n)" "$first" "grid order"
}

# --- -m ---------------------------------------------------------------------------------

test_multirun_sweeps_the_default_runner()
{
    sweep_project ''
    run_crun run -m model.a=1,4 -m 'model.b=range(2,4)'
    expect_status 0
    local id
    id=$(basename "$(dirname "$(results results.csv)")")
    expect_file_content trials.log "$(printf '%s\n' "$id-0 a=1 b=2" "$id-1 a=1 b=3" "$id-2 a=4 b=2" "$id-3 a=4 b=3")"
}

test_multirun_wraps_the_runner_asked_for()
{
    have_python || return 0
    sweep_project ''
    # two trials at once, each with a parallel runner's libuv loop (under
    # ThreadSanitizer too: run/process.c closes pidfds as it opens them,
    # with raw system calls, as libuv does its descriptors)
    run_crun run --runner parallel -m model.a=1,4 --runner-opt max_parallel=2
    expect_status 0
    expect_eq "$(json_query "$(results results.json)" 'd["runner"]')" "parallel" "wrapped runner"
    expect_eq "$(wc -l <trials.log | tr -d ' ')" 2 "trials"
}

test_multirun_errors_name_the_m_argument()
{
    sweep_project ''
    run_crun run -m model.a=1,4 -m 'model.b=range(1,2,0)'
    expect_status 2
    expect_stderr_contains "-m 'model.b=range(1,2,0)': column 9: range's step must not be 0"
    run_crun run -m model.c=1,2
    expect_status 2
    expect_stderr_contains "-m 'model.c=1,2': 'model.c' is not a parameter"
    run_crun run -m model.a
    expect_status 2
    expect_stderr_contains "-m 'model.a': expected KEY=SWEEP"
    expect_no_file trials.log
}

test_help_mentions_m_and_resume()
{
    run_crun --help
    expect_status 0
    expect_stdout_contains "-m KEY=SWEEP"
    expect_stdout_contains "--resume SWEEP_ID"
}

# --- interrupting and resuming -----------------------------------------------------------

test_ctrl_c_stops_the_sweep_and_resume_runs_only_unfinished_trials()
{
    local m
    m="30.$$${RANDOM}1"
    sweep_project '  tune: {type: sweep, params: {model.a: "1,2,4"}}' "$m"
    touch slow
    "$CRUN" --runner tune >crun.out 2>crun.err </dev/null &
    local pid=$! i
    # trial 1 logs its line, then sleeps (the script, marker included, is
    # every trial's command line: pgrep cannot tell the trials apart)
    for i in $(seq 200); do
        [ "$(wc -l <trials.log 2>/dev/null)" = 2 ] && break
        sleep 0.05
    done
    if [ "$(wc -l <trials.log 2>/dev/null)" != 2 ]; then
        kill -KILL "$pid" 2>/dev/null
        pkill -KILL -f "sleep $m"
        fail "trial 1 never started: $(cat crun.err)"
    fi
    sleep 0.2
    kill -INT "$pid"
    for i in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        pkill -KILL -f "sleep $m"
        fail "crun still runs 3 s after SIGINT"
    fi
    wait "$pid"
    STATUS=$?
    ERR=crun.err
    OUT=crun.out
    expect_status 130
    expect_no_process_matching "sleep $m"
    local id
    id=$(basename "$(dirname "$(results results.csv)")")
    expect_stderr_contains "--resume $id"
    expect_eq "$(awk -F, 'NR > 1 { printf "%s ", $4 }' "$(results results.csv)")" "ok interrupted pending " "statuses"
    rm -f slow trials.log
    run_crun --runner tune --resume "$id"
    expect_status 0
    expect_file_content trials.log "$(printf '%s\n' "$id-1 a=2 b=2" "$id-2 a=4 b=2")"
    expect_eq "$(awk -F, 'NR > 1 { printf "%s ", $4 }' "$(results results.csv)")" "ok ok ok " "statuses after resume"
    # a finished sweep resumes to nothing
    rm -f trials.log
    run_crun --runner tune --resume "$id"
    expect_status 0
    expect_no_file trials.log
}

expect_no_process_matching()
{
    e2e_checked
    sleep 0.1
    if pgrep -f "$1" >/dev/null; then
        pkill -KILL -f "$1"
        fail "a child outlived crun: $(pgrep -af "$1" | head -n 3)"
    fi
}

test_multirun_resume_runs_only_the_failed_trials()
{
    sweep_project ''
    run_crun run -m model.a=1,3,4 --runner-opt on_failure=continue
    expect_status 1
    local id
    id=$(basename "$(dirname "$(results results.csv)")")
    expect_stderr_contains "--resume $id"
    touch fixed
    rm trials.log
    run_crun run -m model.a=1,3,4 --resume "$id"
    expect_status 0
    expect_file_content trials.log "$id-1 a=3 b=2"
    expect_eq "$(awk -F, 'NR > 1 { printf "%s ", $4 }' "$(results results.csv)")" "ok ok ok " "statuses"
}

test_resume_refuses_other_trials_or_an_unknown_sweep()
{
    sweep_project '  tune: {type: sweep, params: {model.a: "1,4"}}
  other: {type: sweep, params: {model.a: "1,5"}}'
    run_crun --runner tune
    expect_status 0
    local id
    id=$(basename "$(dirname "$(results results.csv)")")
    run_crun --runner other --resume "$id"
    expect_status 2
    expect_stderr_contains "--resume $id: trial 1 had other parameters"
    run_crun --runner tune --resume nosuchsweep
    expect_status 2
    expect_stderr_contains "--resume nosuchsweep: no sweep to resume"
}

# --- configuration errors, before anything runs -------------------------------------------

test_sweep_config_errors_name_runner_yml_line()
{
    sweep_project '  bad_grammar: {type: sweep, params: {model.a: "choice(1,2"}}
  bad_key: {type: sweep, params: {model.z: "1,2"}}
  bad_runner: {type: sweep, runner: nosuch, params: {model.a: "1,2"}}
  loop1: {type: sweep, runner: loop2, params: {model.a: "1,2"}}
  loop2: {type: sweep, runner: loop1, params: {model.b: "1,2"}}
  bad_policy: {type: sweep, on_failure: maybe, params: {model.a: "1"}}'
    run_crun --runner bad_grammar
    expect_config_error "conf/base/runner.yml:5:38" "params: 'model.a': column 11: the call is not closed with ')'"
    run_crun --runner bad_key
    expect_config_error "conf/base/runner.yml:6:34" "'model.z' is not a parameter"
    run_crun --runner bad_runner
    expect_config_error "conf/base/runner.yml:7:37" "unknown runner 'nosuch'"
    run_crun --runner loop1
    expect_config_error "conf/base/runner.yml:9:32" "makes a cycle: loop1 -> loop2 -> loop1"
    run_crun --runner bad_policy
    expect_config_error "conf/base/runner.yml:10:41" "option 'on_failure': expected one of 'stop', 'continue'"
    expect_no_file trials.log
}

# --- the demo -------------------------------------------------------------------------------

test_demo_tune_r2_of_default_params_equals_plain_run()
{
    mkdir demo && cd demo || fail "no folder"
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" . || fail "cannot copy the demo"
    mkdir -p data && cp -r "$CRUN_SOURCE_DIR/data/01_raw" data/ || fail "cannot copy the data"
    run_crun --runner tune
    expect_status 0
    # the demo's timing hook reports each trial under the trial's label
    expect_stderr_contains "trial 5: timing: 7 of 7 nodes ran in"
    local csv swept plain
    csv=$(results results.csv)
    e2e_checked
    head -n 1 "$csv" | grep -q "model_options.test_size,model_options.random_state,status,seconds,metrics.r2_score" ||
        fail "header: $(head -n 1 "$csv")"
    swept=$(awk -F, '$3 == "0.2" && $4 == "0" { print $7 }' "$csv")
    rm -rf data/08_reporting
    run_crun
    expect_status 0
    plain=$(sed -n 's/^ *"r2_score": *\([-0-9.eE+]*\),*$/\1/p' data/08_reporting/metrics.json/*/metrics.json)
    [ -n "$plain" ] || fail "no r2_score in the plain run's metrics"
    expect_eq "$swept" "$plain" "R^2 of test_size 0.2, random_state 0"
    expect_eq "$(awk -F, 'NR > 1 { print $5 }' "$csv" | sort -u)" "ok" "statuses"
}

run_tests "$@"
