#!/usr/bin/env bash
# Atomic saves, proven by SIGKILL: a dataset's file is either its old
# content or the complete new one, never a part of it, whenever crun dies.
#
# - bytes: a function node (bench.fill) saves ~300 MB; crun is killed at
#   random moments during the save (the moments are spread over the time a
#   whole run takes here, measured first).  After each kill the file must be
#   the old content (checksum) or 300 MB of 0x01, and a reader (a command
#   node) sees one of those two sizes.  The same for a versioned dataset,
#   whose loads must skip a version folder the kill left without its file.
# - text from a command node that writes slowly: killed while the command
#   writes, the old file stays and a reader reads the old content.
# Temporary files of a killed crun may stay (hidden, next to the data); a
# later successful run must still produce the right file and leave no
# temporary file of its own.
#
# A failure names the kill's delay and what the file held.  ATOMIC_ITERATIONS
# (default 4) sets the number of kills of each big-save test;
# ATOMIC_DURABILITY (none, run or node; default: crun's, run) the project's
# [run] durability: saves are atomic at every level.
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

BIG=300000000
SMALL=1000
: "${ATOMIC_ITERATIONS:=4}"

atomic_project()
{
    mkdir -p p/conf/base p/data || fail "cannot create the project"
    printf '[project]\nname = atomic\n' >p/crun.ini
    if [ -n "${ATOMIC_DURABILITY:-}" ]; then
        printf '[run]\ndurability = %s\n' "$ATOMIC_DURABILITY" >>p/crun.ini
    fi
    cd p || fail "no project"
    write_file conf/base/pipelines.yml <<'EOF'
libraries: {bench: bench}
pipelines:
  plain:
    nodes:
      - {name: fill, func: bench.fill, outputs: [big]}
  versioned:
    nodes:
      - {name: fill_v, func: bench.fill, outputs: [big_v]}
  read:
    nodes:
      - {name: size, cmd: [sh, -c, "wc -c < {inputs.b} > {outputs.o}"], inputs: {b: big}, outputs: {o: size}}
  read_v:
    nodes:
      - {name: size_v, cmd: [sh, -c, "wc -c < {inputs.b} > {outputs.o}"], inputs: {b: big_v}, outputs: {o: size_v}}
  slow:
    nodes:
      - name: write_lines
        cmd: [sh, -c, 'for i in $(seq $(cat {inputs.n})); do echo line $i; sleep 0.001; done > {outputs.o}']
        inputs: {n: "params:lines"}
        outputs: {o: report}
  read_report:
    nodes:
      - {name: copy_report, cmd: [cp, "{inputs.r}", "{outputs.o}"], inputs: {r: report}, outputs: {o: report_copy}}
EOF
    write_file conf/base/catalog.yml <<'EOF'
big: {type: bytes, filepath: data/big.bin}
big_v: {type: bytes, filepath: data/big_v.bin, versioned: true}
size: {type: text, filepath: data/size.txt}
size_v: {type: text, filepath: data/size_v.txt}
report: {type: text, filepath: data/report.txt}
report_copy: {type: text, filepath: data/report_copy.txt}
EOF
    write_file conf/base/parameters.yml <<'EOF'
size: ${runtime_params:size,1000}
lines: ${runtime_params:lines,3}
EOF
}

# What FILE holds: "old" (sha256 OLD_SUM), "new" (BIG bytes of 0x01), or
# "partial SIZE" / "missing".
file_state()
{
    python3 - "$1" "$2" "$BIG" <<'PY'
import hashlib, os, sys
path, old_sum, big = sys.argv[1], sys.argv[2], int(sys.argv[3])
if not os.path.exists(path):
    print("missing")
    sys.exit()
size = os.path.getsize(path)
h, ones = hashlib.sha256(), 0
with open(path, "rb") as f:
    while chunk := f.read(1 << 24):
        if size != big:
            h.update(chunk)
        ones += chunk.count(1)
if size != big and h.hexdigest() == old_sum:
    print("old")
elif size == big and ones == big:
    print("new")
else:
    print(f"partial {size}")
PY
}

# The temporary files of atomic saves and command outputs under data/.
temp_files()
{
    find data \( -name '.*.tmp-*' -o -name '.*.crun-*' \) -printf '%p\n' | sort
}

# The newest version folder of a versioned dataset holding its file.
newest_version()
{
    local v
    for v in $(find "$1" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | sort -r); do
        [ -f "$1/$v/$(basename "$1")" ] && { echo "$v"; return; }
    done
}

# When kill I of a run taking MS milliseconds comes: odd kills at a random
# moment from the start (2% to 60% of MS: while the value is made or
# written), even ones 0 to 300 ms after the save's temporary file (PATTERN)
# appears (while it is written and synced).  Sets delay and after.
kill_at()
{
    if [ $(($1 % 2)) = 1 ]; then
        after=""
        delay=$(awk -v ms="$2" -v r="$RANDOM" 'BEGIN { printf "%.3f", ms * (0.02 + 0.58 * r / 32767) / 1000 }')
    else
        after=$3
        delay=$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.3 * r / 32767 }')
    fi
}

now_ms() { date +%s%3N; }

# Start crun ARGS... in the background and SIGKILL it (and any command it
# started: a command's process group outlives crun) DELAY seconds after
# the start, or, when AFTER names a file (a find -name pattern), DELAY
# seconds after such a file appears under data/ (a temporary file: the
# save has begun).  Sets KILLED=1 when crun was still running then.
kill_crun()
{
    local delay=$1 after=$2 pid children c tries=0
    shift 2
    touch .marker
    "$CRUN" "$@" >>kill.log 2>&1 </dev/null &
    pid=$!
    if [ -n "$after" ]; then
        while [ -z "$(find data -name "$after" -newer .marker -print -quit)" ] &&
            kill -0 "$pid" 2>/dev/null && [ $tries -lt 4000 ]; do
            sleep 0.005
            tries=$((tries + 1))
        done
    fi
    sleep "$delay"
    children=$(pgrep -P "$pid" || true)
    KILLED=0
    kill -0 "$pid" 2>/dev/null && KILLED=1
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # a command node runs in a process group of its own
    for c in $children; do
        kill -KILL -- "-$c" 2>/dev/null || kill -KILL "$c" 2>/dev/null
    done
    return 0
}

# A reader's view of DATASET through pipeline PIPE: the size a command node
# read; must be SMALL or BIG.
expect_reader_sees_whole()
{
    local pipe=$1 out=$2
    run_crun --pipeline "$pipe"
    expect_status 0
    local seen
    seen=$(tr -d ' \n' <"$out")
    [ "$seen" = $SMALL ] || [ "$seen" = $BIG ] || fail "a reader saw $seen bytes ($pipe)"
}

test_bytes_killed_during_save()
{
    atomic_project
    # a whole big save, timed: the kills below are spread over this time
    local t0 t1 total
    t0=$(now_ms)
    run_crun --pipeline plain --params size=$BIG
    t1=$(now_ms)
    expect_status 0
    total=$((t1 - t0))
    expect_eq "$(file_state data/big.bin none)" new "a normal big save"
    echo "a whole run saving $BIG bytes took ${total} ms"
    # the old content
    run_crun --pipeline plain --params size=$SMALL
    expect_status 0
    local old_sum
    old_sum=$(sha256sum data/big.bin | cut -d' ' -f1)
    expect_eq "$(file_state data/big.bin "$old_sum")" old "the small save"
    local i delay after state mid_save=0 saw_new=0
    for ((i = 1; i <= ATOMIC_ITERATIONS; i++)); do
        kill_at "$i" "$total" '.big.bin.tmp-*'
        kill_crun "$delay" "$after" --pipeline plain --params size=$BIG
        state=$(file_state data/big.bin "$old_sum")
        echo "kill $i ${delay}s after ${after:-the start} (crun running: $KILLED): big.bin is $state; temp files: $(temp_files | wc -l)"
        case $state in
        old) [ "$KILLED" = 1 ] && mid_save=$((mid_save + 1)) ;;
        new)
            saw_new=$((saw_new + 1))
            # back to the old content for the next kill
            run_crun --pipeline plain --params size=$SMALL
            expect_status 0
            ;;
        *) fail "after a SIGKILL ${delay}s into the save, big.bin is $state" ;;
        esac
        e2e_checked
        expect_reader_sees_whole read data/size.txt
        # readers see only the dataset's own file: nothing else is visible
        expect_eq "$(find data -maxdepth 1 ! -name '.*' -type f -printf '%f\n' | sort | tr '\n' ' ')" \
            "big.bin size.txt " "visible files in data/"
    done
    echo "kills during the save that left the old file: $mid_save; kills after it: $saw_new"
    [ $mid_save -gt 0 ] || echo "(no kill came during the save this time)"
    # a later normal run saves the whole file, and takes over (so removes)
    # what the killed saves left: no temporary file stays
    run_crun --pipeline plain --params size=$BIG
    expect_status 0
    expect_eq "$(file_state data/big.bin "$old_sum")" new "big.bin after a normal run"
    expect_eq "$(temp_files)" "" "temporary files after a normal run"
    expect_reader_sees_whole read data/size.txt
    expect_eq "$(tr -d ' \n' <data/size.txt)" $BIG "the size a reader sees"
}

# A versioned dataset: a kill leaves a version folder without its file (or
# with a temporary file); loads take the newest complete version.
test_versioned_killed_during_save()
{
    atomic_project
    local t0 t1 total
    t0=$(now_ms)
    run_crun --pipeline versioned --params size=$BIG
    t1=$(now_ms)
    expect_status 0
    total=$((t1 - t0))
    rm -rf data/big_v.bin
    run_crun --pipeline versioned --params size=$SMALL
    expect_status 0
    local v0 old_sum
    v0=$(newest_version data/big_v.bin)
    old_sum=$(sha256sum "data/big_v.bin/$v0/big_v.bin" | cut -d' ' -f1)
    local i delay after v state
    for ((i = 1; i <= ATOMIC_ITERATIONS; i++)); do
        sleep 0.01 # a new millisecond: a new version
        kill_at "$i" "$total" '.big_v.bin.tmp-*'
        kill_crun "$delay" "$after" --pipeline versioned --params size=$BIG
        v=$(newest_version data/big_v.bin)
        state=$(file_state "data/big_v.bin/$v/big_v.bin" "$old_sum")
        echo "kill $i ${delay}s after ${after:-the start} (crun running: $KILLED): newest complete version $v is $state; version folders: $(find data/big_v.bin -mindepth 1 -maxdepth 1 -type d | wc -l)"
        case $state in
        old) [ "$v" = "$v0" ] || fail "the newest complete version is old content under a new version $v" ;;
        new) ;;
        *) fail "after a SIGKILL ${delay}s into the save, version $v is $state" ;;
        esac
        e2e_checked
        expect_reader_sees_whole read_v data/size_v.txt
        if [ "$state" = new ]; then
            # keep the old content the newest again for the next kill
            rm -rf "data/big_v.bin/$v"
        fi
    done
    # the versions the kills left unfinished are no versions to describe
    local listed complete
    listed=$("$CRUN" catalog describe big_v --json 2>/dev/null |
        python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["versions"]))')
    complete=$(for d in data/big_v.bin/*/; do d=${d%/}; [ -f "$d/big_v.bin" ] && basename "$d"; done | tr '\n' ' ')
    expect_eq "$listed " "$complete" "the versions catalog describe lists"
    # once they are old (their writers long gone), a normal run cleans them
    find data/big_v.bin -mindepth 1 -maxdepth 1 -type d -exec touch -d '1 hour ago' {} +
    sleep 0.01
    run_crun --pipeline versioned --params size=$BIG
    expect_status 0
    v=$(newest_version data/big_v.bin)
    expect_eq "$(file_state "data/big_v.bin/$v/big_v.bin" "$old_sum")" new "the newest version after a normal run"
    expect_eq "$(temp_files)" "" "temporary files after a normal run"
    for d in data/big_v.bin/*/; do
        [ -f "$d/big_v.bin" ] || fail "an unfinished version stays after a normal run: $d"
    done
    expect_reader_sees_whole read_v data/size_v.txt
    expect_eq "$(tr -d ' \n' <data/size_v.txt)" $BIG "the size a reader sees"
}

# A command node writes its output slowly; killed while it writes, the old
# file stays whole and readers read it.
test_command_killed_during_write()
{
    atomic_project
    run_crun --pipeline slow
    expect_status 0
    printf 'line 1\nline 2\nline 3\n' >old.txt
    cmp -s old.txt data/report.txt || fail "report.txt: $(cat data/report.txt)"
    local i delay
    for ((i = 1; i <= 2; i++)); do
        delay=$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.3 + 0.7 * r / 32767 }')
        kill_crun "$delay" "" --pipeline slow --params lines=1000
        echo "kill $i after ${delay}s (crun running: $KILLED); partial outputs: $(temp_files | tr '\n' ' ')"
        [ "$KILLED" = 1 ] || fail "the slow command finished within ${delay}s"
        e2e_checked
        cmp -s old.txt data/report.txt ||
            fail "after a SIGKILL ${delay}s into the command, report.txt is $(wc -l <data/report.txt) lines"
        run_crun --pipeline read_report
        expect_status 0
        e2e_checked
        cmp -s old.txt data/report_copy.txt || fail "a reader saw $(wc -l <data/report_copy.txt) lines"
    done
    [ -n "$(temp_files)" ] || echo "(no partial output was left: the kills came before the command opened it)"
    local before
    before=$(temp_files)
    run_crun --pipeline slow --params lines=20
    expect_status 0
    expect_eq "$(wc -l <data/report.txt)" 20 "lines after a normal run"
    expect_eq "$(tail -n 1 data/report.txt)" "line 20" "the last line"
    expect_eq "$(temp_files)" "$before" "temporary files after a normal run"
}

run_tests "$@"
