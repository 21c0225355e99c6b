#!/usr/bin/env bash
# bench/slurm/run.sh - crun's slurm runner against a plain sbatch script.
#
#   CRUN_SLURM_CPUS=16 bash ../shared/slurm/local-cluster.sh start
#   eval "$(bash ../shared/slurm/local-cluster.sh env)"
#   bash bench/slurm/run.sh [--repeat 10] [--poll 0.5] [--apart] [--build build]
#
# One layered DAG of 20 command nodes, 5 layers of 4, every node waiting for
# all 4 of the layer before it and doing `sleep 0.1`, run two ways on the same
# cluster, --repeat times each:
#   plain  a bash script: 20 `sbatch --parsable --wrap 'sleep 0.1'` with
#          --dependency=afterok on the previous layer's jobs, then one squeue
#          every --poll seconds until none of its jobs is queued or running;
#   crun   `crun --runner slurm` (poll_interval = --poll) on a generated
#          project: each node a job running `crun run --node`, its output a
#          memory dataset handed to the next layer through .crun/runs/<id>/.
# By default both start at the same moment (which one first alternates), so
# that they share the scheduler's passes and the machine's load; --apart
# runs them one after the other on an idle cluster instead.  Slurm starts
# jobs on 1 s passes, so a time taken apart moves by up to a second with the
# phase it happens to start at: compare medians over many runs.  End-to-end times are wall
# clock from start to exit.  Asserts nothing; prints a markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build repeat=10 poll=0.5 layers=5 width=4 together=1
while [ $# -gt 0 ]; do
    case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --poll) poll=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --apart) together=0; shift ;;
    *) echo "usage: $0 [--repeat N] [--poll SECONDS] [--apart] [--build DIR]" >&2; exit 2 ;;
    esac
done
crun=$build/crun
[ -x "$crun" ] || { echo "bench: no $crun (build first)" >&2; exit 2; }
squeue -h >/dev/null 2>&1 || {
    echo "bench: no Slurm cluster reachable (start shared/slurm/local-cluster.sh, export SLURM_CONF)" >&2
    exit 2
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crun-slurm-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# The crun project: node LxN reads every node of layer L-1.
project=$tmp/project
mkdir -p "$project/conf/base" "$project/conf/local"
printf '[project]\nname = slurm-bench\n' >"$project/crun.ini"
{
    printf 'default: slurm\nrunners:\n  slurm: {type: slurm, poll_interval: %s}\n' "$poll"
} >"$project/conf/base/runner.yml"
{
    echo "pipelines:"
    echo "  __default__:"
    echo "    nodes:"
    for l in $(seq 1 $layers); do
        for n in $(seq 1 $width); do
            echo "      - name: l${l}n${n}"
            echo "        cmd: [sh, -c, \"sleep 0.1; echo l${l}n${n} > {outputs.o}\"]"
            echo "        outputs: {o: d${l}_${n}}"
            if [ "$l" -gt 1 ]; then
                printf '        inputs: {'
                for p in $(seq 1 $width); do
                    printf '%si%s: d%s_%s' "$([ "$p" = 1 ] || echo ', ')" "$p" $((l - 1)) "$p"
                done
                echo '}'
            fi
        done
    done
} >"$project/conf/base/pipelines.yml"

# Wait until the cluster runs nothing (a previous measurement's stragglers).
settle() {
    while [ -n "$(squeue -h -t PD,R,CG,CF 2>/dev/null)" ]; do sleep 0.2; done
}

run_plain() {
    local dir=$tmp/plain-$1 prev=() cur=() ids=() dep id
    mkdir -p "$dir"
    for l in $(seq 1 $layers); do
        cur=()
        for n in $(seq 1 $width); do
            dep=()
            [ ${#prev[@]} -eq 0 ] || dep=(--dependency="afterok$(printf ':%s' "${prev[@]}")")
            id=$(sbatch --parsable --job-name="l${l}n${n}" --output="$dir/l${l}n${n}.log" \
                --kill-on-invalid-dep=yes "${dep[@]}" --chdir="$dir" --wrap 'sleep 0.1')
            id=${id%%;*}
            cur+=("$id")
            ids+=("$id")
        done
        prev=("${cur[@]}")
    done
    local list
    list=$(IFS=,; echo "${ids[*]}")
    while [ -n "$(squeue -h -t PD,R,CG,CF -j "$list" 2>/dev/null)" ]; do sleep "$poll"; done
    local bad
    bad=$(squeue -h -t all -j "$list" -o '%T' | grep -vc COMPLETED || true)
    [ "$bad" = 0 ] || { echo "bench: $bad plain jobs did not complete" >&2; exit 1; }
}

run_crun() {
    "$crun" --project "$project" -q || { echo "bench: crun failed" >&2; exit 1; }
}

timed() { # timed FILE CMD...: run CMD, write its wall seconds to FILE
    local out=$1 t0 t1
    shift
    t0=$(now)
    "$@"
    t1=$(now)
    elapsed "$t0" "$t1" >"$out"
}

plain_times=() crun_times=()
for r in $(seq 1 "$repeat"); do
    if [ "$together" = 1 ]; then
        settle
        if [ $((r % 2)) = 1 ]; then
            timed "$tmp/plain.t" run_plain "$r" & p1=$!
            timed "$tmp/crun.t" run_crun & p2=$!
        else
            timed "$tmp/crun.t" run_crun & p2=$!
            timed "$tmp/plain.t" run_plain "$r" & p1=$!
        fi
        wait "$p1" || exit 1
        wait "$p2" || exit 1
    elif [ $((r % 2)) = 1 ]; then
        settle; timed "$tmp/plain.t" run_plain "$r"
        settle; timed "$tmp/crun.t" run_crun
    else
        settle; timed "$tmp/crun.t" run_crun
        settle; timed "$tmp/plain.t" run_plain "$r"
    fi
    plain_times+=("$(cat "$tmp/plain.t")")
    crun_times+=("$(cat "$tmp/crun.t")")
    echo "bench: run $r: plain ${plain_times[-1]} s, crun ${crun_times[-1]} s" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

cpus=$(sinfo -h -o '%c' | head -n 1)
echo "Slurm $(sinfo --version | awk '{ print $2 }'), one node with $cpus CPUs; $layers layers x $width nodes" \
    "(each waits for the whole layer before it, sleep 0.1); poll every $poll s; $(nproc) host cores;" \
    "$([ "$together" = 1 ] && echo "both DAGs at once" || echo "one DAG at a time, alternating")"
echo
echo "| run | plain sbatch script (s) | crun --runner slurm (s) | crun / plain |"
echo "|---|---|---|---|"
for i in $(seq 0 $((repeat - 1))); do
    echo "| $((i + 1)) | ${plain_times[$i]} | ${crun_times[$i]} | $(ratio "${crun_times[$i]}" "${plain_times[$i]}") |"
done
mp=$(median "${plain_times[@]}") mc=$(median "${crun_times[@]}")
ratios=()
for i in $(seq 0 $((repeat - 1))); do ratios+=("$(ratio "${crun_times[$i]}" "${plain_times[$i]}")"); done
echo "| median | $mp | $mc | $(ratio "$mc" "$mp") (median of the ratios: $(median "${ratios[@]}")) |"
