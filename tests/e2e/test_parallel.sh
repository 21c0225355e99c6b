#!/usr/bin/env bash
# The parallel runner: order, overlap, failure (stop or keep going), the
# grace period, max_processes, interrupts, results equal to sequential's, and
# option errors.  Timing tests leave generous margins above what they prove
# (the machine may be shared) and stay well below what a failure would take.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# A project whose runner.yml makes `parallel` the default with the options given
# (a YAML flow map body, e.g. "max_workers: 2").
par_project()
{
    make_project p
    cd p || fail "no project"
    write_file conf/base/runner.yml <<EOF
default: parallel
runners:
  sequential: {type: sequential}
  parallel: {type: parallel, $1}
EOF
}

now_ms()
{
    echo $(($(date +%s%N) / 1000000))
}

# Run crun and set ELAPSED_MS to its wall time.
timed_crun()
{
    local start
    start=$(now_ms)
    run_crun "$@"
    ELAPSED_MS=$(($(now_ms) - start))
}

expect_faster_than()
{
    e2e_checked
    [ "$ELAPSED_MS" -lt "$1" ] || fail "took ${ELAPSED_MS} ms, expected under $1 ms$(e2e_context)"
}

# A marker no other test (or earlier run) uses, for pgrep.
marker()
{
    echo "30.$$${RANDOM}1"
}

expect_no_process()
{
    e2e_checked
    sleep 0.1
    if pgrep -f "$1" >/dev/null; then
        pkill -KILL -f "$1"
        fail "a child outlived crun: $(pgrep -af "$1" | head -n 3)"
    fi
}

# --- order and overlap -------------------------------------------------------------

# A random layered DAG of 200 command nodes (seeded; layers of 10, each node
# reading 1-3 outputs of the layer before).  Each node records, in times/NAME,
# when it started and ended (ns), and in seen/NAME the data it read, which is
# its producers' names: together they prove every node ran after its inputs
# and read what they wrote.
test_random_dag_runs_every_node_after_its_inputs()
{
    par_project "max_workers: 4"
    mkdir times seen
    awk -v n=200 -v width=10 -v seed=42 'BEGIN {
        srand(seed)
        print "pipelines:\n  __default__:\n    nodes:"
        for (i = 0; i < n; i++) {
            layer = int(i / width)
            ins = ""; args = ""; k = 0
            if (layer > 0) {
                m = 1 + int(rand() * 3)
                delete used
                for (j = 0; j < m; j++) {
                    p = (layer - 1) * width + int(rand() * width)
                    if (p in used) continue
                    used[p] = 1
                    ins = ins (k ? ", " : "") "i" k ": d" p
                    args = args " {inputs.i" k "}"
                    deps = deps "n" i " n" p "\n"
                    k++
                }
            }
            printf "      - name: n%d\n", i
            printf "        cmd: [sh, -c, \"s=$(date +%%s%%N); cat%s /dev/null > seen/n%d; echo n%d > {outputs.o}; echo $s $(date +%%s%%N) > times/n%d\"]\n", args, i, i, i
            if (k) printf "        inputs: {%s}\n", ins
            printf "        outputs: {o: d%d}\n", i
        }
        printf "%s", deps > "deps.txt"
    }' >conf/base/pipelines.yml
    run_crun -q
    expect_status 0
    [ "$(find times -type f | wc -l)" = 200 ] || fail "not every node ran: $(find times -type f | wc -l)"
    e2e_checked
    local bad
    bad=$(while read -r node dep; do
        read -r start _ <"times/$node"
        read -r _ end <"times/$dep"
        [ "$end" -le "$start" ] || echo "$node started before its input $dep ended"
        grep -qx "$dep" "seen/$node" || echo "$node did not read $dep's output"
    done <deps.txt)
    [ -z "$bad" ] || fail "$bad"
    e2e_checked
    [ -s deps.txt ] || fail "the DAG has no edges"
}

test_independent_nodes_overlap()
{
    par_project "max_workers: 2"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: a, cmd: [sleep, "1"]}
      - {name: b, cmd: [sleep, "1"]}
EOF
    timed_crun
    expect_status 0
    expect_faster_than 1800
    expect_stderr_contains "[2/2]"
}

test_max_processes_serialises_command_nodes()
{
    par_project "max_workers: 3, max_processes: 1"
    mkdir times
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: a, cmd: [sh, -c, "s=$(date +%s%N); sleep 0.3; echo $s $(date +%s%N) > times/a"]}
      - {name: b, cmd: [sh, -c, "s=$(date +%s%N); sleep 0.3; echo $s $(date +%s%N) > times/b"]}
      - {name: c, cmd: [sh, -c, "s=$(date +%s%N); sleep 0.3; echo $s $(date +%s%N) > times/c"]}
EOF
    run_crun
    expect_status 0
    local overlaps
    overlaps=$(cat times/a times/b times/c | sort -n | awk 'NR > 1 && $1 < last { print "overlap" } { last = $2 }')
    [ -z "$overlaps" ] || fail "command nodes overlapped with max_processes 1: $(cat times/*)"
    e2e_checked
}

# --- failure -------------------------------------------------------------------------

# top -> bad (fails once good1 runs)  -> bottom
#     -> good1 (1.5 s) -> good2        -/
# and, apart, solo -> solo_bad (fails at once) -> solo_after.
# bad fails only once good1 has started (on a loaded machine good1 could
# otherwise start after the failure, or never), and within a second of the
# start, while good1 still runs and before solo ends.
diamond_project()
{
    par_project "max_workers: 4, $1"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: top
        cmd: [sh, -c, "echo top >> ran.log; echo t > {outputs.o}"]
        outputs: {o: t}
      - name: bad
        cmd: [sh, -c, "for i in $(seq 200); do [ -e good1.started ] && break; sleep 0.05; done; echo bad >> ran.log; echo bad is broken; exit 3"]
        inputs: {i: t}
        outputs: {o: b}
      - name: good1
        cmd: [sh, -c, "touch good1.started; sleep 1.5; echo good1 >> ran.log; echo g > {outputs.o}"]
        inputs: {i: t}
        outputs: {o: g1}
      - name: good2
        cmd: [sh, -c, "echo good2 >> ran.log; cat {inputs.i} > {outputs.o}"]
        inputs: {i: g1}
        outputs: {o: g2}
      - name: bottom
        cmd: [sh, -c, "echo bottom >> ran.log; cat {inputs.a} {inputs.b} > {outputs.o}"]
        inputs: {a: b, b: g2}
        outputs: {o: result}
      - name: solo
        cmd: [sh, -c, "sleep 1; echo solo >> ran.log; echo s > {outputs.o}"]
        outputs: {o: s}
      - name: solo_bad
        cmd: [sh, -c, "echo solo_bad >> ran.log; exit 4"]
        inputs: {i: s}
        outputs: {o: sb}
      - name: solo_after
        cmd: [sh, -c, "echo solo_after >> ran.log; cat {inputs.i} > {outputs.o}"]
        inputs: {i: sb}
        outputs: {o: sa}
EOF
    write_file conf/base/catalog.yml <<'EOF'
result: {type: text, filepath: data/result.txt}
EOF
}

test_failure_starts_nothing_new()
{
    diamond_project "grace_period: 5"
    run_crun
    expect_status 1
    local ran
    ran=$(sort ran.log | tr '\n' ' ')
    # good1 was running when bad failed: it may finish; good2 and bottom never start
    case $ran in *good2* | *bottom* | *solo_bad* | *solo_after*) fail "nodes started after the failure: $ran" ;; esac
    e2e_checked
    case $ran in *good1*) ;; *) fail "the running node good1 was not let finish: $ran" ;; esac
    e2e_checked
    expect_stderr_contains "node 'bad': the command exited with status 3"
    expect_stderr_contains "bad: bad is broken"
    expect_stderr_contains "the run failed at node 'bad'"
    expect_stderr_contains "resume with:"
    expect_stderr_contains "--from-nodes top,solo"
    expect_stderr_lacks "node 'good1'"
    expect_no_file data/result.txt
}

test_keep_going_runs_everything_not_downstream_of_a_failure()
{
    diamond_project "keep_going: true"
    run_crun
    expect_status 1
    expect_eq "$(sort ran.log | tr '\n' ' ')" "bad good1 good2 solo solo_bad top " "nodes run"
    expect_stderr_contains "the run failed at nodes"
    expect_stderr_contains "'bad'"
    expect_stderr_contains "'solo_bad'"
    expect_stderr_contains "node 'bad': the command exited with status 3"
    expect_stderr_contains "node 'solo_bad': the command exited with status 4"
    expect_stderr_contains "resume with:"
    expect_no_file data/result.txt
}

test_keep_going_from_the_command_line()
{
    diamond_project "max_processes: 2"
    run_crun --runner-opt keep_going=true
    expect_status 1
    expect_eq "$(sort ran.log | tr '\n' ' ')" "bad good1 good2 solo solo_bad top " "nodes run"
}

# A node that is still running when the grace period ends is stopped, and is
# not reported as a failed node of its own.
test_grace_period_stops_a_long_sibling()
{
    local m
    m=$(marker)
    par_project "max_workers: 2, grace_period: 1"
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - {name: bad, cmd: [sh, -c, "sleep 0.1; exit 1"]}
      - {name: sleeper, cmd: [sleep, "$m"]}
EOF
    timed_crun
    expect_status 1
    expect_faster_than 2100 # grace 1 s + 1 s, from a failure 0.1 s in
    expect_no_process "sleep $m"
    expect_stderr_contains "the run failed at node 'bad'"
    expect_stderr_lacks "the run failed at nodes"
    expect_stderr_contains "node 'sleeper': stopped after the grace period"
}

# A child that ignores SIGTERM (and its own children) get SIGKILL one second later.
test_grace_period_kills_what_ignores_sigterm()
{
    local m
    m=$(marker)
    par_project "max_workers: 2, grace_period: 0.5"
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - {name: bad, cmd: [sh, -c, "sleep 0.1; exit 1"]}
      - {name: stubborn, cmd: [sh, -c, "trap '' TERM; sleep $m; echo survived"]}
EOF
    timed_crun
    expect_status 1
    expect_faster_than 2600 # 0.1 + 0.5 grace + 1 s to SIGKILL
    expect_no_process "sleep $m"
    expect_stderr_lacks "survived"
}

test_failed_command_leaves_no_partial_output()
{
    par_project "max_workers: 2"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: half
        cmd: [sh, -c, "printf half > {outputs.o}; exit 1"]
        outputs: {o: out}
EOF
    write_file conf/base/catalog.yml <<'EOF'
out: {type: text, filepath: data/out.txt}
EOF
    run_crun
    expect_status 1
    expect_no_file data/out.txt
    [ -z "$(ls -A data)" ] || fail "leftover files in data/: $(ls -A data)"
    e2e_checked
}

test_command_that_cannot_start_fails_its_node()
{
    par_project "max_workers: 2"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: ghost, cmd: [no-such-program-crun-e2e, x]}
EOF
    run_crun
    expect_status 1
    expect_stderr_contains "node 'ghost': cannot run 'no-such-program-crun-e2e'"
    expect_stderr_contains "the run failed at node 'ghost'"
}

# An input whose file is missing fails its node, as under sequential: exit 1
# (a failed node), not 2 (a configuration error), with the node named.
test_missing_input_file_fails_its_node()
{
    par_project "max_workers: 2"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: reader, cmd: [sh, -c, "cat {inputs.0}"], inputs: [missing]}
EOF
    write_file conf/base/catalog.yml <<'EOF'
missing: {type: text, filepath: data/nope.txt}
EOF
    run_crun --runner sequential
    expect_status 1
    expect_stderr_contains "node 'reader': dataset 'missing'"
    run_crun --runner parallel
    expect_status 1
    expect_stderr_contains "crun: error: node 'reader': dataset 'missing'"
    expect_stderr_contains "nope.txt"
    expect_stderr_contains "the run failed at node 'reader'"
}

# A command node ends when its process exits, and what it left running in
# its process group is stopped then: background jobs neither outlive crun nor,
# when they hold the output pipe, keep a worker waiting for them.
test_background_processes_end_with_their_nodes()
{
    local m
    m=$(marker)
    par_project "max_workers: 3"
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - {name: detached, cmd: [sh, -c, "sleep $m >/dev/null 2>&1 &"]}
      - {name: holding, cmd: [sh, -c, "echo started; (sleep 0.3; echo late) & echo done"]}
      - {name: after, cmd: [sh, -c, "sleep $m >/dev/null 2>&1 & echo after > {outputs.o}"], outputs: {o: out}}
EOF
    write_file conf/base/catalog.yml <<'EOF'
out: {type: text, filepath: data/out.txt}
EOF
    timed_crun
    expect_no_process "sleep $m"
    expect_status 0
    expect_stderr_contains "holding: done"
    expect_stderr_contains "holding: late"
    expect_stderr_contains "warning: node 'detached': stopped 1 process its command left running"
    expect_stderr_contains "warning: node 'after': stopped 1 process its command left running"
    expect_stderr_lacks "node 'holding': stopped"
    expect_file_content data/out.txt "after"
    expect_faster_than 3000
}

# --- interrupts ----------------------------------------------------------------------

# Start a run of `sleep MARKER` nodes (one writes part of its output first),
# send SIG once the sleeps run: exit 130 within 2 s, no child left, the
# output file untouched.
interrupt_run()
{
    local sig=$1 m
    m=$(marker)
    par_project "max_workers: 4, grace_period: 1"
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - name: slow1
        cmd: [sh, -c, "printf partial > {outputs.o}; exec sleep $m"]
        outputs: {o: out}
      - {name: slow2, cmd: [sleep, "$m"]}
      - {name: slow3, cmd: [sh, -c, "sleep $m; echo never"]}
      - {name: after, cmd: [sh, -c, "echo after >> ran.log"], inputs: {i: out}}
EOF
    write_file conf/base/catalog.yml <<'EOF'
out: {type: text, filepath: data/out.txt}
EOF
    echo "old content" >data/out.txt
    "$CRUN" >crun.out 2>crun.err </dev/null &
    local pid=$! i
    for i in $(seq 100); do
        [ "$(pgrep -fc "sleep $m")" -ge 3 ] && break
        sleep 0.05
    done
    if [ "$(pgrep -fc "sleep $m")" -lt 3 ]; then
        kill -KILL "$pid" 2>/dev/null
        pkill -KILL -f "sleep $m"
        fail "the sleep nodes never started: $(cat crun.err)"
    fi
    local start end
    start=$(now_ms)
    kill -"$sig" "$pid"
    for i in $(seq 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    end=$(now_ms)
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        pkill -KILL -f "sleep $m"
        fail "crun still runs 2 s after SIG$sig"
    fi
    wait "$pid"
    STATUS=$?
    ERR=crun.err
    OUT=crun.out
    expect_status 130
    [ $((end - start)) -lt 2000 ] || fail "SIG$sig took $((end - start)) ms"
    e2e_checked
    expect_no_process "sleep $m"
    expect_stderr_contains "interrupted"
    expect_stderr_contains "resume with:"
    expect_file_content data/out.txt "old content"
    [ "$(ls -A data)" = "out.txt" ] || fail "leftover files in data/: $(ls -A data)"
    e2e_checked
    expect_no_file ran.log
}

test_sigint_stops_every_child()
{
    interrupt_run INT
}

test_sigterm_stops_every_child()
{
    interrupt_run TERM
}

# crun killed with SIGKILL (no handler, no cleanup) while commands run:
# none of them, nor what they started, outlives it (the session's guard
# stops their groups), under either runner.
killed_crun_leaves_no_child()
{
    local m
    m=$(marker)
    write_file conf/base/pipelines.yml <<EOF
pipelines:
  __default__:
    nodes:
      - {name: slow1, cmd: [sleep, "$m"]}
      - {name: slow2, cmd: [sh, -c, "sleep $m; echo never"]}
EOF
    "$CRUN" --runner "$1" >crun.out 2>crun.err </dev/null &
    local pid=$! want=2 i
    [ "$1" = sequential ] && want=1
    for i in $(seq 100); do
        [ "$(pgrep -fc "sleep $m")" -ge "$want" ] && break
        sleep 0.05
    done
    if [ "$(pgrep -fc "sleep $m")" -lt "$want" ]; then
        kill -KILL "$pid" 2>/dev/null
        pkill -KILL -f "sleep $m"
        fail "$1: the sleep nodes never started: $(cat crun.err)"
    fi
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    for i in $(seq 20); do
        pgrep -f "sleep $m" >/dev/null || break
        sleep 0.05
    done
    expect_no_process "sleep $m"
}

test_sigkill_of_crun_leaves_no_child()
{
    par_project "max_workers: 2"
    killed_crun_leaves_no_child parallel
    killed_crun_leaves_no_child sequential
}

# --- same results as sequential ---------------------------------------------------------

# Function nodes (bench.noop forwards its first input) and command nodes,
# through memory datasets, parameters and files.
test_results_match_the_sequential_runner()
{
    par_project "max_workers: 3"
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: seed, cmd: [sh, -c, "seq 1 50 > {outputs.o}"], outputs: {o: numbers}}
      - {name: pass1, func: bench.noop, inputs: numbers, outputs: n1}
      - {name: pass2, func: bench.noop, inputs: numbers, outputs: [n2, n2b]}
      - name: square
        cmd: [sh, -c, "awk '{ print $1 * $1 }' {inputs.i} > {outputs.o}"]
        inputs: {i: n1}
        outputs: {o: squares}
      - name: scale
        cmd: [sh, -c, "awk -v k=$(cat {inputs.k}) '{ print $1 * k }' {inputs.i} > {outputs.o}"]
        inputs: {i: n2, k: "params:count"}
        outputs: {o: scaled}
      - {name: pass3, func: bench.noop, inputs: squares, outputs: sq}
      - name: join
        cmd: [sh, -c, "paste {inputs.a} {inputs.b} {inputs.c} > {outputs.o}"]
        inputs: {a: sq, b: scaled, c: n2b}
        outputs: {o: table}
      - {name: total, cmd: [sh, -c, "awk '{ s += $1 + $2 + $3 } END { print s }' {inputs.i} > {outputs.o}"], inputs: {i: table}, outputs: {o: sum}}
      - {name: keep, func: bench.noop, inputs: table, outputs: table_copy}
EOF
    write_file conf/base/catalog.yml <<'EOF'
sum: {type: text, filepath: data/sum.txt}
table_copy: {type: text, filepath: data/table.txt}
EOF
    run_crun --runner sequential
    expect_status 0
    mv data seq_data
    mkdir data
    run_crun
    expect_status 0
    expect_stderr_contains "9 of 9 nodes done"
    diff -r seq_data data >diff.txt || fail "parallel results differ: $(cat diff.txt)"
    e2e_checked
    expect_file_content data/sum.txt "$(seq 1 50 | awk '{ s += $1 * $1 + $1 * 3 + $1 } END { print s }')"
}

# Memory datasets are freed after their last consumer, also in parallel: a
# chain of 30 nodes each making a fresh 10 MB value peaks well below 300 MB
# (under 200 MB: a sanitizer build needs room).
test_memory_is_released_along_a_chain()
{
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; return 0; }
    par_project "max_workers: 2"
    awk 'BEGIN { print "libraries: {bench: bench}\npipelines:\n  __default__:\n    nodes:"
        for (i = 0; i < 30; i++)
            printf "      - {name: f%d, func: bench.fill, inputs: %s, outputs: v%d}\n", i, i ? "v" (i - 1) : "params:size", i }' >conf/base/pipelines.yml
    echo "size: 10000000" >conf/base/parameters.yml
    # AddressSanitizer keeps freed blocks in quarantine; let them go at once so
    # the peak reflects crun's releases, not the sanitizer's bookkeeping
    local kib
    kib=$(ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0:thread_local_quarantine_size_kb=0" \
        python3 -c 'import resource, subprocess, sys
r = subprocess.run([sys.argv[1], "-q"], stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -r.returncode)' "$CRUN")
    [ "$kib" -gt 0 ] || fail "the run failed: status ${kib#-}"
    [ "$kib" -lt 200000 ] || fail "peak RSS $kib KiB for a chain of 10 MB values (300 MB if none were freed)"
    e2e_checked
}

# --- output ---------------------------------------------------------------------------

test_command_output_is_logged_line_by_line()
{
    par_project "max_workers: 2"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: talk, cmd: [sh, -c, "echo one; echo two >&2; printf 'three'"]}
EOF
    run_crun
    expect_status 0
    expect_stderr_contains "crun: talk: one"
    expect_stderr_contains "crun: talk: two"
    expect_stderr_contains "crun: talk: three"
    expect_stderr_contains "[1/1] talk"
}

test_quiet_prints_nothing()
{
    par_project "max_workers: 2"
    run_crun -q
    expect_status 0
    [ ! -s "$ERR" ] || fail "--quiet printed: $STDERR"
    e2e_checked
    expect_file_content data/greeting.txt "hello 3"
}

# A command that prints 200 MB without a newline: crun holds at most one
# 64 KiB piece of the line, under either runner (it held the whole line, and
# more while growing it: 821 MB at its peak).
long_line_peak_kib()
{
    python3 - "$CRUN" "$1" <<'EOF' || fail "$1: crun failed"
import os, subprocess, sys
p = subprocess.Popen([sys.argv[1], "-q", "--runner", sys.argv[2]], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
print(usage.ru_maxrss)  # KiB, crun's own peak
sys.exit(0 if status == 0 else 1)
EOF
}

test_one_long_output_line_takes_bounded_memory()
{
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; return 0; } # the peak is read by python3
    par_project "max_workers: 2"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: long, cmd: [sh, -c, "head -c 200000000 /dev/zero | tr '\\0' x"]}
EOF
    local runner peak
    for runner in sequential parallel; do
        peak=$(long_line_peak_kib "$runner") || exit 1
        [ "$peak" -lt 65536 ] || fail "$runner: crun peaked at $peak KiB for one 200 MB line"
    done
    e2e_checked
}

# --- finding programs -----------------------------------------------------------------

# A program named without a slash is the first on PATH that is an executable
# file, as posix_spawnp finds it: not a directory, not a file without x, not a
# later one; the same for every node (the lookup is kept per worker).
test_program_is_the_first_executable_on_path()
{
    par_project "max_workers: 2"
    mkdir -p d1/tool d2 d3 d4
    printf '#!/bin/sh\necho wrong > "$1"\n' >d2/tool # not executable
    printf '#!/bin/sh\necho right > "$1"\n' >d3/tool
    printf '#!/bin/sh\necho late > "$1"\n' >d4/tool
    chmod +x d3/tool d4/tool
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: a, cmd: [tool, a.out]}
      - {name: b, cmd: [tool, b.out]}
      - {name: c, cmd: [tool, c.out]}
EOF
    PATH="$PWD/d1:$PWD/d2:$PWD/d3:$PWD/d4:$PATH" run_crun
    expect_status 0
    expect_file_content a.out "right"
    expect_file_content b.out "right"
    expect_file_content c.out "right"
}

# A relative PATH entry is relative to the command's folder (the project), as
# for posix_spawnp after its chdir, not to where crun was started.
test_relative_path_entry_is_searched_from_the_project()
{
    par_project "max_workers: 2"
    mkdir -p bin
    printf '#!/bin/sh\necho local > "$1"\n' >bin/here-only-crun-e2e
    chmod +x bin/here-only-crun-e2e
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: a, cmd: [here-only-crun-e2e, a.out]}
EOF
    cd .. || fail "no parent"
    PATH="bin:$PATH" run_crun --project p
    cd p || fail "no project"
    expect_status 0
    expect_file_content a.out "local"
}

# --- options --------------------------------------------------------------------------

# Exit 2 with "crun: error: conf/base/runner.yml:4:COLUMN: ..." naming each word.
expect_option_error()
{
    expect_status 2
    grep -qE '^crun: error: conf/base/runner.yml:4:[0-9]+: ' "$ERR" ||
        fail "the error does not name runner.yml:4$(e2e_context)"
    e2e_checked
    local w
    for w in "$@"; do
        expect_stderr_contains "$w"
    done
}

test_option_errors_name_the_line()
{
    par_project "max_workers: 0"
    run_crun
    expect_option_error "runner 'parallel'" "max_workers" "got 0"
    expect_no_file ran.log
    par_project_options "max_workers: many"
    run_crun
    expect_option_error "max_workers" "many"
    par_project_options "max_worker: 2"
    run_crun
    expect_option_error "'max_worker' is not known" "did you mean 'max_workers'"
    par_project_options "grace_period: -1"
    run_crun
    expect_option_error "grace_period" "-1"
    par_project_options "keep_going: maybe"
    run_crun
    expect_option_error "keep_going" "true or false"
    par_project_options "max_workers: 2"
    run_crun --runner-opt max_processes=0
    expect_config_error "--runner-opt" "max_processes"
    expect_no_file ran.log
}

# Rewrite the parallel runner's options in the current project.
par_project_options()
{
    write_file conf/base/runner.yml <<EOF
default: parallel
runners:
  sequential: {type: sequential}
  parallel: {type: parallel, $1}
EOF
}

test_accepts_every_documented_option()
{
    par_project "max_workers: 2, max_processes: 1, is_async: true, grace_period: 0.5, keep_going: false"
    run_crun
    expect_status 0
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
}

run_tests "$@"
