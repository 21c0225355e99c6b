#!/usr/bin/env bash
# Loading a project never hangs, never grows without bound and never ignores
# Ctrl-C: a configuration path that is not a regular file (a folder, a FIFO,
# a link to /dev/zero, a link loop) or is larger than the documented limit
# is refused at once with exit status 2 naming it; YAML aliases cannot nest
# or expand past the reader's limits; SIGTERM during a slow load ends crun
# with status 130.  Each case runs under a short timeout: a crun that waits
# is killed and the test fails.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

setup()
{
    make_project p
    cd p || fail "no project"
}

# run_crun, but a crun still running after SECS seconds (not ending on
# SIGTERM either) is killed: status 124 or 137, which no test expects.
run_crun_within()
{
    local secs=$1
    shift
    OUT=$E2E_DIR/.stdout.$$
    ERR=$E2E_DIR/.stderr.$$
    timeout -k 2 "$secs" "$CRUN" "$@" >"$OUT" 2>"$ERR" </dev/null
    STATUS=$?
    return 0
}

# A refused configuration path: status 2, its name, the reason, nothing ran.
refused()
{
    expect_config_error "$@"
    expect_no_file ran.log
}

# --- what a configuration path may be --------------------------------------------

test_the_project_loads_within_the_timeout()
{
    setup
    run_crun_within 20 -q
    expect_status 0
    expect_file_content data/greeting.txt "hello 3"
}

test_catalog_that_is_a_fifo_is_refused_at_once()
{
    setup
    rm conf/base/catalog.yml
    mkfifo conf/base/catalog.yml || fail "mkfifo"
    run_crun_within 10
    refused conf/base/catalog.yml "is a FIFO, not a file"
}

test_parameters_linked_to_dev_zero_is_refused_at_once()
{
    setup
    ln -s /dev/zero conf/base/parameters_zero.yml
    run_crun_within 10
    refused conf/base/parameters_zero.yml "is a device, not a file"
}

test_file_over_the_size_limit_is_refused()
{
    setup
    # sparse: 64 MiB and one byte, read by nothing
    truncate -s $((64 * 1024 * 1024 + 1)) conf/base/parameters_huge.yml || fail "truncate"
    run_crun_within 10
    refused conf/base/parameters_huge.yml "more than the 64 MiB a configuration file may hold"
}

test_catalog_that_is_a_folder()
{
    setup
    rm conf/base/catalog.yml
    mkdir conf/base/catalog.yml
    run_crun_within 10
    refused conf/base/catalog.yml "is a folder, not a file"
}

test_catalog_that_is_a_symlink_loop()
{
    setup
    rm conf/base/catalog.yml
    ln -s catalog_loop.yml conf/base/catalog.yml
    ln -s catalog.yml conf/base/catalog_loop.yml
    run_crun_within 10
    refused conf/base/catalog.yml "cannot be read" "symbolic links"
}

test_conf_base_that_is_a_file()
{
    setup
    rm -r conf/base
    touch conf/base
    run_crun_within 10
    refused conf/base "is a file, not a folder"
}

test_crun_ini_that_is_a_folder()
{
    setup
    rm crun.ini
    mkdir crun.ini
    run_crun_within 10
    refused crun.ini "is a folder, not a file"
}

test_crun_ini_that_is_a_fifo()
{
    setup
    rm crun.ini
    mkfifo crun.ini || fail "mkfifo"
    run_crun_within 10
    refused crun.ini "is a FIFO, not a file"
}

test_compiled_ir_that_is_a_fifo_is_refused_at_once()
{
    setup
    mkfifo ir.json || fail "mkfifo"
    run_crun_within 10 run --ir ir.json
    refused "--ir ir.json" "not a regular file"
}

# --- YAML aliases within the limits -----------------------------------------------

# N opening brackets (or closing ones with ]).
brackets()
{
    local i out=""
    for ((i = 0; i < $2; i++)); do out+=$1; done
    printf '%s' "$out"
}

test_alias_counts_as_deep_as_its_anchor()
{
    setup
    # 999 deep under the top map, and that again inside it through the alias
    {
        printf 'a0: &a0 %sx%s\n' "$(brackets '[' 999)" "$(brackets ']' 999)"
        printf 'a1: %s*a0%s\n' "$(brackets '[' 999)" "$(brackets ']' 999)"
    } >conf/base/parameters_deep.yml
    run_crun_within 20
    refused conf/base/parameters_deep.yml:2:1004 "alias '*a0' nests lists and maps more than 1000 deep"
    # the control: an alias that stays within the limit is read
    printf 'a0: &a0 %sx%s\na1: [*a0]\n' "$(brackets '[' 998)" "$(brackets ']' 998)" \
        >conf/base/parameters_deep.yml
    run_crun_within 20 -q
    expect_status 0
}

test_alias_of_a_long_text_many_times_is_refused()
{
    setup
    {
        printf 'a: &a "%s"\n' "$(head -c 1048576 /dev/zero | tr '\0' x)"
        printf 'b: [*a'
        for ((i = 1; i < 100; i++)); do printf ', *a'; done
        printf ']\n'
    } >conf/base/parameters_text.yml
    run_crun_within 20
    refused conf/base/parameters_text.yml:2:257 "alias '*a' expands to too many nodes or too much text" \
        "64 MiB"
}

# Each global holds four copies of the one before: 4^20 values in all.
test_globals_doubling_each_other_are_refused()
{
    setup
    {
        printf 'g0: [x, x, x, x]\n'
        for ((i = 1; i <= 20; i++)); do
            printf 'g%d:\n' "$i"
            printf '  - ${globals:g%d}\n' $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1))
        done
    } >conf/base/globals.yml
    run_crun_within 30
    expect_status 2
    expect_stderr_contains "crun: error: conf/base/globals.yml:"
    expect_stderr_contains "the values that references copy in pass the 64 MiB"
    expect_no_file ran.log
}

# --- signals while loading ------------------------------------------------------

# A parameters file of about 20 MB: loading it takes seconds.
write_slow_parameters()
{
    awk 'BEGIN { print "big:"; for (i = 0; i < 700000; i++) printf "  k%d: [%d, x]\n", i, i }' \
        >conf/base/parameters_big.yml
}

# SIGTERM once crun is reading the big file: it ends with 130 saying the
# load was interrupted (not later, once loaded, as a cancelled run).
test_sigterm_while_loading_ends_crun()
{
    setup
    write_slow_parameters
    OUT=$E2E_DIR/.stdout.$$
    ERR=$E2E_DIR/.stderr.$$
    timeout -k 2 60 "$CRUN" compile >"$OUT" 2>"$ERR" </dev/null &
    local pid=$! crun_pid="" i
    for ((i = 0; i < 400; i++)); do
        crun_pid=$(pgrep -P "$pid" | head -n 1)
        if [ -n "$crun_pid" ] && grep -qs parameters_big "/proc/$crun_pid/maps"; then
            break
        fi
        sleep 0.05
    done
    [ -n "$crun_pid" ] || fail "crun did not start"
    local start=$SECONDS
    kill -TERM "$crun_pid"
    wait "$pid"
    STATUS=$?
    expect_status 130
    expect_stderr_contains "crun: interrupted while loading the project"
    expect_stdout_lacks '"nodes"'
    [ $((SECONDS - start)) -le 10 ] || fail "crun took $((SECONDS - start)) s to end"
}

run_tests "$@"
