#!/usr/bin/env bash
# The slurm runner against a real Slurm (shared/slurm/local-cluster.sh in
# CI): every node one sbatch job, failures stop their dependents, Ctrl-C
# leaves nothing queued.  Each job costs about a second of scheduling, so the
# cases are few and small.  Cases named test_cluster_* need a cluster: when
# sinfo is missing or squeue cannot reach a controller, they are skipped
# (exit 77, meson's skip code).  Run one: bash tests/slurm/test_slurm.sh NAME
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

# A project whose env `cluster` runs with a `slurm` runner by default (poll
# every 0.5 s); the jobs must then not use the default runner themselves.
add_slurm_env()
{
    write_file "$1/conf/cluster/runner.yml" <<EOF
default: slurm
runners:
  slurm:
    type: slurm
    poll_interval: 0.5
${2:-}
EOF
}

# The demo project (the repository root) without its outputs.
copy_demo()
{
    mkdir -p "$1/data" || fail "cannot create $1"
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" "$1/" &&
        cp -r "$CRUN_SOURCE_DIR/data/01_raw" "$1/data/" || fail "cannot copy the demo project"
}

# The newest version file of a versioned dataset.
newest_version()
{
    find "$1" -type f -name "$(basename "$1")" | sort | tail -n 1
}

# The job ids crun logged for this run: "job 12 (node): A -> B" lines.
job_id_of()
{
    sed -n "s/^crun: job \([0-9]*\) ($1): .*/\1/p" "$ERR" | head -n 1
}

jobcomp_file()
{
    scontrol show config 2>/dev/null | awk '$1 == "JobCompLoc" { print $3 }'
}

test_cluster_demo_matches_sequential_one_job_per_node()
{
    copy_demo demo
    add_slurm_env demo '    sbatch_args: [--comment=crun-test]
    resources: {model: {time: 7, mem: 100M}}'
    run_crun --project demo --env cluster --runner sequential
    expect_status 0
    local seq_metrics
    seq_metrics=$(newest_version demo/data/08_reporting/metrics.json)
    cp "$seq_metrics" sequential-metrics.json || fail "no metrics from the sequential run"
    sleep 0.01 # a new version stamp for the next run
    run_crun --project demo --env cluster
    expect_status 0
    expect_stderr_contains "7 of 7 nodes done"
    expect_stderr_contains "memory dataset 'X_train' goes from job 'split_data' to 'train_model' through a file"
    local slurm_metrics
    slurm_metrics=$(newest_version demo/data/08_reporting/metrics.json)
    [ "$slurm_metrics" != "$seq_metrics" ] || fail "the slurm run wrote no new metrics version"
    if [ "$HAVE_PYTHON" = 1 ]; then
        e2e_checked
        python3 - sequential-metrics.json "$slurm_metrics" <<'PY' || fail "metrics differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a.keys() == b.keys(), (a, b)
for k in a:
    assert abs(a[k] - b[k]) <= 1e-9, (k, a[k], b[k])
PY
    else
        e2e_checked
        cmp -s sequential-metrics.json "$slurm_metrics" || fail "metrics differ"
    fi
    # every node ran in a job of its own: its own log, one node in it, its own job id
    local run_id ids="" node id log comp
    run_id=$(sed -n 's/^crun: run \([^:]*\): 7 of 7 nodes done$/\1/p' "$ERR")
    [ -n "$run_id" ] || fail "no run id in the log$(e2e_context)"
    comp=$(jobcomp_file)
    for node in preprocess_companies preprocess_shuttles create_model_input_table split_data \
        train_model evaluate_model render_report; do
        log=demo/.crun/runs/$run_id/logs/$node.log
        e2e_checked
        grep -q "crun: \[1/1\] $node$" "$log" 2>/dev/null || fail "$log does not show $node run alone"
        grep -q "1 of 1 nodes done" "$log" || fail "$log: not a one-node run"
        id=$(job_id_of "$node")
        [ -n "$id" ] || fail "no job id logged for $node$(e2e_context)"
        case " $ids " in *" $id "*) fail "$node shares job $id" ;; esac
        ids="$ids $id"
        if [ -r "$comp" ]; then
            grep -q "^JobId=$id .*Name=$node .*JobState=COMPLETED" "$comp" ||
                fail "jobcomp has no COMPLETED job $id named $node"
        fi
    done
    # memory datasets between jobs went through the run's folder
    grep -q "memory dataset 'X_train' comes from another job" \
        "demo/.crun/runs/$run_id/logs/train_model.log" || fail "train_model did not load X_train from a file"
    # per-tag resources and sbatch_args reached sbatch
    local train plain
    train=$(scontrol show job -o "$(job_id_of train_model)")
    plain=$(scontrol show job -o "$(job_id_of split_data)")
    expect_eq "$(grep -o 'TimeLimit=[^ ]*' <<<"$train")" "TimeLimit=00:07:00" "train_model's time limit"
    expect_eq "$(grep -o 'MinMemoryNode=[^ ]*' <<<"$train")" "MinMemoryNode=100M" "train_model's memory"
    expect_eq "$(grep -o 'Comment=[^ ]*' <<<"$plain")" "Comment=crun-test" "split_data's sbatch_args"
    [[ $(grep -o 'TimeLimit=[^ ]*' <<<"$plain") != "TimeLimit=00:07:00" ]] ||
        fail "split_data (no model tag) got the model's time limit"
}

# A chain first -> middle -> third where middle fails.  The first node's name
# needs quoting in the job's shell command and cleaning in its log file name.
test_cluster_failed_node_stops_its_dependents()
{
    make_project p
    write_file p/conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: "first 'quoted' $HOME \"x\""
        cmd: [sh, -c, "echo 1 > {outputs.o}"]
        outputs: {o: x}
      - name: middle
        cmd: [sh, -c, "echo middle gives up; exit 3"]
        inputs: {i: x}
        outputs: {o: y}
      - name: third
        cmd: [sh, -c, "touch third.ran; cat {inputs.i}"]
        inputs: {i: y}
EOF
    add_slurm_env p
    run_crun --project p --env cluster --runner slurm
    expect_status 1
    expect_stderr_contains "the run failed at node 'middle'"
    expect_stderr_contains "node 'middle': Slurm job"
    expect_stderr_contains "FAILED with exit code 1"
    expect_stderr_contains "/logs/middle.log"
    expect_stderr_contains "| crun: middle: middle gives up"
    expect_stderr_contains "resume with:"
    expect_stderr_contains "--runner slurm --from-nodes"
    expect_stderr_contains "(third): PENDING -> CANCELLED"
    expect_no_file p/third.ran
    local log
    log=$(find p/.crun/runs -name 'third.log')
    e2e_checked
    [ -z "$log" ] || [ ! -s "$log" ] || fail "third's job wrote a log: $(cat "$log")"
    e2e_checked
    ls p/.crun/runs/*/logs/first__quoted___HOME__x_-0.log >/dev/null 2>&1 ||
        fail "no log for the quoted node: $(ls p/.crun/runs/*/logs)"
}

test_cluster_interrupt_cancels_every_job()
{
    make_project p
    write_file p/conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: sleep_a
        cmd: [sleep, "60"]
        outputs: {o: a}
      - name: sleep_b
        cmd: [sleep, "60"]
      - name: after_a
        cmd: [sleep, "60"]
        inputs: {i: a}
EOF
    add_slurm_env p
    local dir
    dir=$(cd p && pwd)
    ERR=$E2E_DIR/.stderr.int
    OUT=$E2E_DIR/.stdout.int
    set -m # a background job that gets SIGINT like a foreground one
    "$CRUN" --project p --env cluster --runner slurm >"$OUT" 2>"$ERR" </dev/null &
    local pid=$! ids="" i
    set +m
    for i in $(seq 1 60); do
        ids=$(squeue -h -t all -o '%i %Z' 2>/dev/null | awk -v d="$dir" '$2 == d { print $1 }' |
            sort -n | paste -sd, -)
        if [ "$(tr ',' '\n' <<<"$ids" | grep -c .)" = 3 ] &&
            squeue -h -j "$ids" -o '%T' | grep -q RUNNING; then
            break
        fi
        sleep 0.25
    done
    e2e_checked
    [ "$(tr ',' '\n' <<<"$ids" | grep -c .)" = 3 ] || { kill -TERM "$pid"; wait "$pid"
        fail "expected 3 jobs in squeue, got '$ids'$(e2e_context)"; }
    kill -INT "$pid"
    wait "$pid"
    STATUS=$?
    expect_status 130
    expect_stderr_contains "scancel 3 jobs of the cancelled run"
    local left=""
    for i in $(seq 1 12); do
        left=$(squeue -h -j "$ids" -o '%i %T' 2>/dev/null)
        [ -z "$left" ] && break
        sleep 0.25
    done
    e2e_checked
    [ -z "$left" ] || fail "jobs still in squeue after the interrupt: $left"
}

# Needs no cluster: the options are checked before anything is submitted.
test_sbatch_args_that_crun_sets_are_refused()
{
    make_project p
    add_slurm_env p '    sbatch_args: [--qos=low, --output=mine.log]'
    run_crun --project p --env cluster --runner slurm
    expect_status 2
    expect_stderr_contains "crun: error: conf/cluster/runner.yml:6:"
    expect_stderr_contains "option 'sbatch_args': '--output=mine.log' is set by crun"
    add_slurm_env p '    resources: {model: {mem: lots}}'
    run_crun --project p --env cluster --runner slurm
    expect_status 2
    expect_stderr_contains "crun: error: conf/cluster/runner.yml:6:"
    expect_stderr_contains "resources 'model': option 'mem'"
    add_slurm_env p '    pol_interval: 2'
    run_crun --project p --env cluster --runner slurm
    expect_status 2
    expect_stderr_contains "crun: error: conf/cluster/runner.yml:6:"
    expect_stderr_contains "did you mean 'poll_interval'"
}

# --only-changed: the runner submits jobs only for the nodes that run, and
# the jobs record what they made for the next run to skip.
test_cluster_only_changed_submits_only_what_runs()
{
    copy_demo demo
    add_slurm_env demo
    run_crun --project demo --env cluster --only-changed
    expect_status 0
    expect_stderr_contains "7 of 7 nodes done"
    run_crun --project demo --env cluster --only-changed --params model_options.test_size=0.3
    expect_status 0
    expect_stderr_contains "submitted 4 Slurm jobs"
    expect_stderr_contains "4 of 4 nodes done, 3 up to date"
    run_crun --project demo --env cluster --only-changed --params model_options.test_size=0.3
    expect_status 0
    expect_stderr_contains "0 of 0 nodes done, 7 up to date"
    expect_stderr_lacks "submitted"
}

cluster_reachable()
{
    command -v sinfo >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1 &&
        timeout 20 squeue -h >/dev/null 2>&1
}

wants_cluster=0
for t in "${@:-test_cluster_}"; do
    case $t in test_cluster_*) wants_cluster=1 ;; esac
done
if [ "$wants_cluster" = 1 ] && ! cluster_reachable; then
    echo "SKIP: no Slurm cluster (sinfo missing or squeue cannot reach a controller; see shared/slurm/README.md)"
    exit 77
fi
run_tests "$@"
