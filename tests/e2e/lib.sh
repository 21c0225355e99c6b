# lib.sh - a small harness for crun's end-to-end tests.  Source it, define
# test_* functions, end the file with `run_tests "$@"`.
#
#   CRUN             the crun binary (default: <repo>/build/crun)
#   CRUN_SOURCE_DIR  the repository (default: two folders above this file)
#   CRUN_BUILD_DIR   the build tree (default: <repo>/build)
#
# Each test runs in a subshell, inside a fresh folder of its own under one
# mktemp -d folder that is removed on exit.  A test fails at its first failed
# expectation (`fail REASON` ends the subshell); a test that checks nothing
# fails too, so no test can pass by doing nothing.
#
#   make_project DIR       a minimal valid project in DIR (created)
#   run_crun ARGS...       run crun in the current folder: $STATUS, $OUT, $ERR
#                          (files holding stdout and stderr), $STDOUT, $STDERR
#   expect_status N
#   expect_stderr_contains TEXT     expect_stderr_lacks TEXT
#   expect_stdout_contains TEXT     expect_stdout_lacks TEXT
#   expect_file_content FILE TEXT   (exact content; TEXT gets no newline added)
#   expect_config_error WHERE WORD... status 2, "crun: error: WHERE: " and each WORD
#   expect_json FILE|-              valid JSON (python3 when present)

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CRUN_SOURCE_DIR:=$(cd "$E2E_LIB_DIR/../.." && pwd)}"
: "${CRUN_BUILD_DIR:=$CRUN_SOURCE_DIR/build}"
: "${CRUN:=$CRUN_BUILD_DIR/crun}"
case $CRUN in /*) ;; *) CRUN=$PWD/$CRUN ;; esac
export CRUN CRUN_SOURCE_DIR CRUN_BUILD_DIR
# The tests' commands must not inherit settings that change crun's behaviour.
unset CRUN_PLUGIN_PATH CRUN_NODE CRUN_RUN_ID CRUN_ENV CRUN_NODE_RETRY

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/crun-e2e.XXXXXX") || exit 2
trap 'rm -rf "$E2E_TMP"' EXIT
# Kill anything a test left in the background when interrupted.
trap 'exit 130' INT TERM

HAVE_PYTHON=0
command -v python3 >/dev/null 2>&1 && HAVE_PYTHON=1

# --- failing -----------------------------------------------------------------

# One line: newlines folded, long text cut, so a FAIL line stays readable.
e2e_oneline()
{
    local s
    s=$(printf '%s' "$1" | tr '\n\t' '  ')
    if [ ${#s} -gt 700 ]; then
        s="${s:0:700}..."
    fi
    printf '%s' "$s"
}

fail()
{
    printf '%s\n' "$(e2e_oneline "$*")" >"$E2E_REASON"
    exit 1
}

# Every expectation counts, so a test that checked nothing is caught.
e2e_checked()
{
    echo x >>"$E2E_COUNT"
}

e2e_context()
{
    printf ' [status %s; stderr: %s; stdout: %s]' "${STATUS:-?}" \
        "$(e2e_oneline "$(tail -c 350 "$ERR" 2>/dev/null)")" \
        "$(e2e_oneline "$(head -c 200 "$OUT" 2>/dev/null)")"
}

# --- projects ----------------------------------------------------------------

# A fresh empty folder under the suite's temporary folder.
new_tmp()
{
    mktemp -d "$E2E_TMP/t.XXXXXX"
}

# A minimal valid project: two command nodes, a text dataset, a parameter,
# a runner.yml, an empty conf/local.  Running it writes ran.log (one node name
# per line) and data/greeting.txt ("hello 3\n").
make_project()
{
    local dir=$1
    mkdir -p "$dir/conf/base" "$dir/conf/local" "$dir/data" || fail "make_project: cannot create $dir"
    cat >"$dir/crun.ini" <<'EOF'
[project]
name = e2e
default_env = local
EOF
    cat >"$dir/conf/base/pipelines.yml" <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: make_count
        cmd: [sh, -c, "echo make_count >> ran.log; cat {inputs.n} > {outputs.count}"]
        inputs: {n: "params:count"}
        outputs: {count: count}
      - name: greet
        cmd: [sh, -c, "echo greet >> ran.log; echo hello $(cat {inputs.c}) > {outputs.g}"]
        inputs: {c: count}
        outputs: {g: greeting}
EOF
    cat >"$dir/conf/base/catalog.yml" <<'EOF'
greeting:
  type: text
  filepath: data/greeting.txt
EOF
    cat >"$dir/conf/base/parameters.yml" <<'EOF'
count: 3
EOF
    cat >"$dir/conf/base/runner.yml" <<'EOF'
default: sequential
runners:
  sequential: {type: sequential}
EOF
}

# Write stdin to FILE (creating folders), for tests that replace one file.
write_file()
{
    mkdir -p "$(dirname "$1")" && cat >"$1"
}

# --- running crun ----------------------------------------------------------------

# Run crun in the current folder; a run that hangs is stopped after 60 s.
run_crun()
{
    OUT=$E2E_DIR/.stdout.$$
    ERR=$E2E_DIR/.stderr.$$
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 5 60 "$CRUN" "$@" >"$OUT" 2>"$ERR" </dev/null
    else
        "$CRUN" "$@" >"$OUT" 2>"$ERR" </dev/null
    fi
    STATUS=$?
    # shellcheck disable=SC2034  # for the tests
    STDOUT=$(cat "$OUT")
    # shellcheck disable=SC2034
    STDERR=$(cat "$ERR")
    return 0
}

# --- expectations --------------------------------------------------------------

expect_status()
{
    e2e_checked
    [ "$STATUS" = "$1" ] || fail "expected exit status $1, got $STATUS$(e2e_context)"
}

expect_stderr_contains()
{
    e2e_checked
    grep -qF -- "$1" "$ERR" || fail "stderr lacks '$1'$(e2e_context)"
}

expect_stderr_lacks()
{
    e2e_checked
    ! grep -qF -- "$1" "$ERR" || fail "stderr should not contain '$1'$(e2e_context)"
}

expect_stdout_contains()
{
    e2e_checked
    grep -qF -- "$1" "$OUT" || fail "stdout lacks '$1'$(e2e_context)"
}

expect_stdout_lacks()
{
    e2e_checked
    ! grep -qF -- "$1" "$OUT" || fail "stdout should not contain '$1'$(e2e_context)"
}

# Exact content of FILE: expect_file_content f "$(printf 'a\nb\n')" compares
# without the final newline, as $(...) does; use expect_file_bytes for bytes.
expect_file_content()
{
    e2e_checked
    [ -f "$1" ] || fail "file $1 does not exist$(e2e_context)"
    local got
    got=$(cat "$1")
    [ "$got" = "$2" ] || fail "file $1: expected '$2', got '$got'"
}

# FILE holds exactly the bytes printf '%s' TEXT gives.
expect_file_bytes()
{
    e2e_checked
    [ -f "$1" ] || fail "file $1 does not exist$(e2e_context)"
    printf '%s' "$2" | cmp -s - "$1" || fail "file $1: expected bytes '$2', got '$(cat "$1")'"
}

expect_no_file()
{
    e2e_checked
    [ ! -e "$1" ] || fail "file $1 should not exist$(e2e_context)"
}

# A configuration error: exit 2, the message starts with the position, and
# names each word.
expect_config_error()
{
    local where=$1
    shift
    expect_status 2
    expect_stderr_contains "crun: error: $where: "
    local w
    for w in "$@"; do
        expect_stderr_contains "$w"
    done
}

# FILE (or - for $OUT) is valid JSON.
expect_json()
{
    e2e_checked
    local f=$1
    [ "$f" = - ] && f=$OUT
    if [ "$HAVE_PYTHON" = 1 ]; then
        python3 -c 'import json,sys; json.load(sys.stdin)' <"$f" 2>/dev/null ||
            fail "$1 is not valid JSON: $(e2e_oneline "$(head -c 300 "$f")")"
    else
        local first
        first=$(grep -v '^[[:space:]]*$' "$f" | head -n 1)
        case $first in
        '['* | '{'*) ;;
        *) fail "$1 does not look like JSON: $(e2e_oneline "$(head -c 300 "$f")")" ;;
        esac
    fi
}

# A JSON query with python3: prints the result of EXPR over `d` (the parsed
# FILE); callers check the output.  Without python3 the test is skipped by
# the caller (see have_python).
json_query()
{
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(r if not isinstance(r, (list, dict)) else json.dumps(r, sort_keys=True))' "$1" "$2"
}

expect_eq()
{
    e2e_checked
    [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

# The lines of ran.log (node names, in run order) joined with spaces.
ran_nodes()
{
    if [ -f ran.log ]; then
        tr '\n' ' ' <ran.log | sed 's/ $//'
    fi
}

expect_ran()
{
    e2e_checked
    local got
    got=$(ran_nodes)
    [ "$got" = "$1" ] || fail "nodes run: expected '$1', got '$got'$(e2e_context)"
    rm -f ran.log
}

# --- the runner ----------------------------------------------------------------

run_tests()
{
    local tests=() t
    if [ $# -gt 0 ]; then
        tests=("$@")
    else
        while read -r _ _ t; do
            case $t in test_*) tests+=("$t") ;; esac
        done < <(declare -F)
    fi
    [ -x "$CRUN" ] || { echo "crun binary not found: $CRUN (build it, or set CRUN)"; exit 2; }
    local passed=0 failed=0 rc reason start elapsed
    for t in "${tests[@]}"; do
        E2E_DIR="$E2E_TMP/$t"
        mkdir -p "$E2E_DIR"
        E2E_REASON="$E2E_DIR/.reason"
        E2E_COUNT="$E2E_DIR/.count"
        : >"$E2E_REASON"
        : >"$E2E_COUNT"
        start=$(date +%s.%N)
        (
            cd "$E2E_DIR" || exit 1
            set +e
            "$t"
        ) >"$E2E_DIR/.log" 2>&1
        rc=$?
        elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        reason=$(cat "$E2E_REASON")
        if [ $rc -eq 0 ] && [ ! -s "$E2E_COUNT" ]; then
            rc=1
            reason="the test checked nothing"
        fi
        if [ $rc -eq 0 ]; then
            passed=$((passed + 1))
            echo "PASS $t (${elapsed}s)"
        else
            failed=$((failed + 1))
            [ -n "$reason" ] || reason="exited with status $rc: $(e2e_oneline "$(tail -n 3 "$E2E_DIR/.log")")"
            echo "FAIL $t: $reason"
        fi
    done
    echo "$passed passed, $failed failed"
    [ $failed -eq 0 ]
}
