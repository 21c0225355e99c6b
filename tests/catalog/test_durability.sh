#!/usr/bin/env bash
# Durability levels of file saves (docs/catalog.md, "Durability"), through
# the built crun on real projects:
# - what each level syncs, counted with strace: `node` fsyncs every saved
#   file and its folder (two per save), `run` (the default) none of them
#   but one syncfs at the run's end, `none` nothing; crun.ini [run],
#   --durability and a catalog entry's `durability` choose the level;
# - a partitioned dataset's partitions follow the same levels;
# - a save's parent folders are made once per run, not once per save;
# - a SIGKILL in the middle of a run of many file-writing command nodes
#   leaves each output the previous run's or this run's, whole, at every level;
# - a bad level is a configuration or usage error saying where.
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

NODES=12

# A chain of NODES command nodes, each writing 64 KiB of one letter (the
# runtime parameter `letter`) to data/out/dI.txt, a text dataset of the
# catalog; ${runtime_params:letter} makes every node's output depend on it.
# CHAIN_CMD, when set, is every node's `cmd` instead.
chain_project()
{
    mkdir -p p/conf/base p/conf/local || fail "cannot create the project"
    printf '[project]\nname = durable\n%s' "${1:-}" >p/crun.ini
    cd p || fail "no project"
    {
        printf 'pipelines:\n  __default__:\n    nodes:\n'
        local i
        for ((i = 0; i < NODES; i++)); do
            printf '      - name: n%d\n' "$i"
            # shellcheck disable=SC2016 # ${...} is crun's interpolation
            printf '%s\n' "        cmd: ${CHAIN_CMD:-[sh, -c, 'head -c 65536 /dev/zero | tr \"\\0\" \${runtime_params:letter,a} > {outputs.o}']}"
            [ "$i" = 0 ] || printf '        inputs: {i: d%d}\n' $((i - 1))
            printf '        outputs: {o: d%d}\n' "$i"
        done
    } >conf/base/pipelines.yml
    {
        local i
        for ((i = 0; i < NODES; i++)); do
            printf 'd%d: {type: text, filepath: data/out/d%d.txt%s}\n' "$i" "$i" \
                "$([ "$i" = 0 ] && printf '%s' "${2:-}")"
        done
    } >conf/base/catalog.yml
    printf 'default: sequential\nrunners:\n  sequential: {type: sequential}\n' >conf/base/runner.yml
}

have_strace()
{
    command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null
}

# Run crun ARGS... under strace; sets FSYNCS, SYNCFS and MKDIRS (mkdir calls
# of data/out) from the calls crun and its children made.
traced_run()
{
    rm -rf data
    # (LeakSanitizer cannot run under ptrace: a sanitizer build leaves it out here)
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -e trace=fsync,fdatasync,syncfs,mkdir,mkdirat -o trace.txt \
        "$CRUN" -q "$@" >out.txt 2>err.txt || fail "crun $* failed: $(cat err.txt)"
    FSYNCS=$(grep -cE '(fsync|fdatasync)\(' trace.txt)
    SYNCFS=$(grep -c 'syncfs(' trace.txt)
    MKDIRS=$(grep -cE 'mkdir(at)?\(.*data/out"' trace.txt)
    e2e_checked
    [ "$(find data/out -name 'd*.txt' | wc -l)" = "$NODES" ] || fail "not every output was written"
}

expect_syncs()
{
    expect_eq "$FSYNCS" "$1" "fsync calls ($2)"
    expect_eq "$SYNCFS" "$3" "syncfs calls ($2)"
}

test_levels_sync_what_they_promise()
{
    have_strace || { echo "strace cannot trace here: skipped"; e2e_checked; return 0; }
    chain_project
    traced_run
    expect_syncs 0 "default: run" 1
    traced_run --durability run
    expect_syncs 0 "--durability run" 1
    traced_run --durability none
    expect_syncs 0 "--durability none" 0
    traced_run --durability node
    expect_syncs $((2 * NODES)) "--durability node: the file and its folder per save" 0
}

test_crun_ini_and_catalog_choose_the_level()
{
    have_strace || { echo "strace cannot trace here: skipped"; e2e_checked; return 0; }
    chain_project $'[run]\ndurability = node\n'
    traced_run
    expect_syncs $((2 * NODES)) "crun.ini: node" 0
    traced_run --durability none
    expect_syncs 0 "--durability none over crun.ini's node" 0
    cd .. && rm -rf p
    # one entry asks for node: its save is synced at once, the others at the end
    chain_project "" ", durability: node"
    traced_run
    expect_syncs 2 "d0 durability: node, the run's level run" 1
    traced_run --durability none
    expect_syncs 2 "d0 durability: node under --durability none" 0
}

# A function node saving a JSON object of PARTS members into a partitioned
# dataset (one file per member, under data/out/parts/), ${2} appended to its
# catalog entry; crun.ini gets $1.
PARTS=6
partitioned_project()
{
    mkdir -p p/conf/base p/conf/local p/data || fail "cannot create the project"
    printf '[project]\nname = durable\n%s' "${1:-}" >p/crun.ini
    cd p || fail "no project"
    cat >conf/base/pipelines.yml <<'EOF2'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: split, func: bench.noop, inputs: [seed], outputs: [parts]}
EOF2
    printf 'seed: {type: json, filepath: data/seed.json}\n' >conf/base/catalog.yml
    printf 'parts: {type: partitioned, path: data/out/parts, dataset: json, filename_suffix: .json%s}\n' "${2:-}" \
        >>conf/base/catalog.yml
    printf 'default: sequential\nrunners:\n  sequential: {type: sequential}\n' >conf/base/runner.yml
    local i
    {
        printf '{'
        for ((i = 0; i < PARTS; i++)); do
            printf '%s"p%d": {"n": %d}' "$([ "$i" = 0 ] || printf ', ')" "$i" "$i"
        done
        printf '}\n'
    } >data/seed.json
}

# Run crun ARGS... on the partitioned project under strace: FSYNCS, SYNCFS.
traced_partitions()
{
    rm -rf data/out
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -e trace=fsync,fdatasync,syncfs -o trace.txt \
        "$CRUN" -q "$@" >out.txt 2>err.txt || fail "crun $* failed: $(cat err.txt)"
    FSYNCS=$(grep -cE '(fsync|fdatasync)\(' trace.txt)
    SYNCFS=$(grep -c 'syncfs(' trace.txt)
    e2e_checked
    [ "$(find data/out/parts -name 'p*.json' | wc -l)" = "$PARTS" ] ||
        fail "not every partition was written: $(find data/out | tr '\n' ' ')"
}

# A partitioned dataset's files follow the levels as other file datasets do:
# at `run` no partition is synced by itself, one syncfs covers them all.
test_partitioned_saves_follow_the_level()
{
    have_strace || { echo "strace cannot trace here: skipped"; e2e_checked; return 0; }
    partitioned_project
    traced_partitions
    expect_syncs 0 "partitioned, default: run" 1
    traced_partitions --durability none
    expect_syncs 0 "partitioned, --durability none" 0
    traced_partitions --durability node
    expect_syncs $((2 * PARTS)) "partitioned, --durability node: each partition and its folder" 0
    cd .. && rm -rf p
    partitioned_project "" ", durability: node"
    traced_partitions
    expect_syncs $((2 * PARTS)) "partitioned entry durability: node" 0
    cd .. && rm -rf p
    partitioned_project $'[run]\ndurability = none\n'
    traced_partitions
    expect_syncs 0 "partitioned, crun.ini none" 0
    expect_eq "$(tr -d ' \n' <data/out/parts/p3.json)" '{"n":3}' "partition p3"
}

test_parent_folders_made_once_per_run()
{
    have_strace || { echo "strace cannot trace here: skipped"; e2e_checked; return 0; }
    chain_project
    traced_run
    # the folder is new: one mkdir finds its parent missing, the walk makes it
    e2e_checked
    [ "$MKDIRS" -le 2 ] || fail "$MKDIRS mkdir calls of data/out for $NODES saves into it"
    # the folder exists: one mkdir in the run (it used to be two per save)
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -e trace=mkdir,mkdirat -o trace.txt "$CRUN" -q >/dev/null 2>&1 ||
        fail "the traced run failed"
    expect_eq "$(grep -cE 'mkdir(at)?\(.*data/out"' trace.txt)" 1 "mkdir calls of an existing data/out"
    # a folder removed during the run is made again by the next save
    rm -rf data
    mkdir -p data/out
    "$CRUN" -q --params letter=b >/dev/null 2>err.txt || fail "crun failed: $(cat err.txt)"
    expect_eq "$(head -c 3 data/out/d$((NODES - 1)).txt)" bbb "the last output"
}

# A command node's output gets a temporary name no file has (the command may
# create it exclusively: sh's noclobber), and crun makes no file of its own to
# reserve the name: no file is created and deleted beside the outputs per node
# (on ext4 each deleted inode slows every file creation of the next seconds).
test_command_outputs_get_fresh_names_without_files()
{
    have_strace || { echo "strace cannot trace here: skipped"; e2e_checked; return 0; }
    # shellcheck disable=SC2016 # $1 is the command's, not this script's
    CHAIN_CMD='[sh, -c, '"'"'set -C; head -c 65536 /dev/zero | tr "\\0" a >"$1"'"'"', sh, "{outputs.o}"]' \
        chain_project
    rm -rf data
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -e trace=unlink,unlinkat,rename,renameat,renameat2 -o trace.txt \
        "$CRUN" -q >out.txt 2>err.txt || fail "crun failed: $(cat err.txt)"
    expect_eq "$(output_states)" " $NODES a " "outputs written with noclobber"
    expect_eq "$(grep -cE 'rename(at2?)?\(.*data/out/\.d[0-9]+\.txt\.crun-' trace.txt)" "$NODES" \
        "temporary outputs renamed into place"
    expect_eq "$(grep -cE 'unlink(at)?\(.*data/out/' trace.txt)" 0 "files deleted in data/out"
    [ -z "$(find data/out -name '.*')" ] || fail "temporary files left: $(find data/out -name '.*')"
}

# What every output holds: "a" or "b" when it is 64 KiB of that letter,
# else "partial:SIZE" (or "missing").
output_states()
{
    local i f
    for ((i = 0; i < NODES; i++)); do
        f=data/out/d$i.txt
        if [ ! -f "$f" ]; then
            echo missing
        elif [ "$(wc -c <"$f")" = 65536 ] && [ -z "$(tr -d a <"$f")" ]; then
            echo a
        elif [ "$(wc -c <"$f")" = 65536 ] && [ -z "$(tr -d b <"$f")" ]; then
            echo b
        else
            echo "partial:$(wc -c <"$f")"
        fi
    done | sort | uniq -c | tr -s ' \n' '  '
}

# SIGKILL crun (and its command's process group) at random moments of a run
# writing b over a run's a; every output must be whole a or whole b.
kill_mid_run()
{
    local level=$1 k delay pid children c states
    "$CRUN" -q --durability "$level" >/dev/null 2>&1 || fail "the first run ($level) failed"
    expect_eq "$(output_states)" " $NODES a " "after a whole run ($level)"
    local t0 t1
    t0=$(date +%s%3N)
    "$CRUN" -q --durability "$level" --params letter=b >/dev/null 2>&1 || fail "the timed run failed"
    t1=$(date +%s%3N)
    for k in 1 2 3 4; do
        "$CRUN" -q --durability "$level" >/dev/null 2>&1 || fail "the reset run failed"
        delay=$(awk -v ms=$((t1 - t0)) -v r="$RANDOM" 'BEGIN { printf "%.3f", ms * (0.1 + 0.8 * r / 32767) / 1000 }')
        "$CRUN" -q --durability "$level" --params letter=b >/dev/null 2>&1 &
        pid=$!
        sleep "$delay"
        children=$(pgrep -P "$pid" || true)
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        for c in $children; do
            kill -KILL -- "-$c" 2>/dev/null || kill -KILL "$c" 2>/dev/null
        done
        states=$(output_states)
        echo "$level: killed ${delay}s into the run: $states"
        case $states in
        *partial* | *missing*) fail "$level: a SIGKILL ${delay}s into the run left: $states" ;;
        esac
        e2e_checked
    done
    # a whole run afterwards makes every output new
    "$CRUN" -q --durability "$level" --params letter=b >/dev/null 2>&1 || fail "the last run failed"
    expect_eq "$(output_states)" " $NODES b " "after a whole run ($level)"
}

test_sigkill_mid_run_leaves_whole_outputs_at_every_level()
{
    chain_project
    kill_mid_run none
    kill_mid_run run
    kill_mid_run node
}

test_bad_levels_say_where()
{
    chain_project $'[run]\ndurability = fast\n'
    run_crun
    expect_config_error "crun.ini:4" "durability must be none, run or node" "'fast'"
    printf '[project]\nname = durable\n[run]\ndurabilty = node\n' >crun.ini
    run_crun
    expect_config_error "crun.ini:4" "unknown key 'durabilty' in [run]" "did you mean 'durability'"
    printf '[project]\nname = durable\n' >crun.ini
    run_crun --durability always
    expect_status 2
    expect_stderr_contains "--durability: expected none, run or node, got 'always'"
    printf 'd0: {type: text, filepath: data/x.txt, durability: sometimes}\n' >conf/base/catalog.yml
    run_crun
    expect_config_error "conf/base/catalog.yml:1:52" "catalog entry 'd0'" \
        "'durability' must be none, run or node"
}

run_tests "$@"
