#!/usr/bin/env bash
# `crun new NAME`: a project folder that works as made.  The end-to-end case
# is what a user types after installing crun:
#   crun new x && cd x && meson setup b && meson compile -C b && crun
# so crun is first installed into a scratch folder (meson install --destdir)
# and its crun.pc, pointed at that folder, is what the new project's
# dependency('crun') finds.  The generated C also compiles with -Werror.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# Install crun once for the whole file (meson install --destdir: the scratch
# folder's usr/local is a prefix of its own, as crun and crun.pc relocate);
# sets PREFIX and PKG_CONFIG_PATH to that prefix's pkgconfig folder.
use_installed_crun()
{
    local inst=$E2E_TMP/inst
    if [ ! -d "$inst" ]; then
        meson install -C "$CRUN_BUILD_DIR" --no-rebuild --destdir "$inst" --quiet >"$E2E_TMP/install.log" 2>&1 ||
            fail "meson install failed: $(tail -c 400 "$E2E_TMP/install.log")"
    fi
    local pc
    pc=$(find "$inst" -name crun.pc | head -n 1)
    [ -n "$pc" ] || fail "no crun.pc installed"
    PREFIX=$(cd "$(dirname "$pc")/../../.." && pwd)
    if ! grep -q '^prefix=${pcfiledir}' "$pc"; then
        # a build folder set up before crun.pc was relocatable keeps its setting
        sed -i "s|^prefix=.*|prefix=$PREFIX|" "$pc"
    fi
    export PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
}

# Run a build tool in the current folder, failing the test with its output.
build_step()
{
    "$@" >"$E2E_DIR/.build.log" 2>&1 || fail "$* failed: $(tail -c 600 "$E2E_DIR/.build.log")"
}

test_new_creates_a_project()
{
    run_crun new x
    expect_status 0
    expect_stdout_contains "created project 'x'"
    expect_stdout_contains "meson setup b && meson compile -C b"
    local f
    for f in crun.ini conf/base/pipelines.yml conf/base/catalog.yml conf/base/parameters.yml \
        conf/base/runner.yml conf/local/README.md meson.build src/x.c README.md .gitignore; do
        e2e_checked
        [ -s "x/$f" ] || fail "x/$f is missing or empty"
    done
    grep -q '^name = x$' x/crun.ini || fail "crun.ini does not name the project: $(cat x/crun.ini)"
    grep -q '^plugin_path = b$' x/crun.ini || fail "crun.ini's plugin_path is not b"
    grep -q "dependency('crun')" x/meson.build || fail "meson.build does not use pkg-config crun"
    e2e_checked
    # no temporary folder is left beside it
    expect_eq "$(find . -maxdepth 1 -name '.x.new-*' | wc -l)" 0 "temporary folders"
}

test_new_project_is_valid_before_it_is_built()
{
    run_crun new x
    cd x || fail "no project"
    run_crun list nodes
    expect_status 0
    expect_stdout_contains "greet"
    expect_stdout_contains "x.greet"
    run_crun compile
    expect_status 0
    expect_json -
}

test_new_project_builds_and_runs()
{
    use_installed_crun
    run_crun new x
    expect_status 0
    cd x || fail "no project"
    build_step meson setup b
    build_step meson compile -C b
    run_crun
    expect_status 0
    expect_stderr_contains "1 of 1 nodes done"
    expect_file_content data/greeting.txt "Hello, world!"
    run_crun --params name=you
    expect_status 0
    expect_file_content data/greeting.txt "Hello, you!"
    # the library is a crun plugin crun can describe
    run_crun plugin info b/x.so
    expect_status 0
    expect_stdout_contains "greet"
}

# README's steps after an install: the installed crun (not the build tree's)
# runs, finds its libcrun and plugins, and builds and runs a new project.
test_installed_crun_runs_a_new_project()
{
    use_installed_crun
    [ -x "$PREFIX/bin/crun" ] || fail "no crun installed in $PREFIX/bin"
    e2e_checked
    export PATH=$PREFIX/bin:$PATH CRUN=$PREFIX/bin/crun
    expect_eq "$(command -v crun)" "$PREFIX/bin/crun" "crun on PATH"
    run_crun new myproj
    expect_status 0
    cd myproj || fail "no project"
    # before the library is built: a hint to build it
    run_crun
    expect_status 2
    expect_stderr_contains "no nodes plugin named 'myproj'"
    expect_stderr_contains "is it built?"
    expect_stderr_contains "meson setup b && meson compile -C b"
    build_step meson setup b
    build_step meson compile -C b
    run_crun
    expect_status 0
    expect_stderr_contains "1 of 1 nodes done"
    expect_file_content data/greeting.txt "Hello, world!"
    # the installed runners are found beside the installed crun
    run_crun list runners
    expect_status 0
    expect_stdout_contains "sequential"
    # a plugin in the current folder, named as a plain file name
    cp b/myproj.so .
    run_crun plugin info myproj.so
    expect_status 0
    expect_stdout_contains "greet"
    # the docs and their examples are installed, and an example builds
    local doc=$PREFIX/share/doc/crun
    e2e_checked
    [ -f "$doc/plugins.md" ] && [ -f "$doc/examples/stopwatch_runner.c" ] ||
        fail "docs or examples not installed in $doc"
    local flags
    read -r -a flags < <(pkg-config --cflags --libs crun) || fail "pkg-config crun failed"
    build_step cc -std=c11 -Wall -Werror -shared -fPIC -o stopwatch.so \
        "$doc/examples/stopwatch_runner.c" "${flags[@]}"
    run_crun --runner stopwatch.so
    expect_status 0
    expect_stderr_contains "greet took"
}

# crun new --runner NAME: a runner plugin project that builds against the
# installed crun and whose meson test runs its example project with it; the
# runner replaces sequential in a project of crun new as well.
test_new_runner_plugin_builds_and_runs()
{
    use_installed_crun
    export PATH=$PREFIX/bin:$PATH CRUN=$PREFIX/bin/crun
    run_crun new --runner my-run
    expect_status 0
    expect_stdout_contains "created runner plugin project 'my-run'"
    cd my-run || fail "no project"
    build_step meson setup b --werror
    build_step meson compile -C b
    build_step meson test -C b
    e2e_checked
    grep -q "my-run: first took" b/meson-logs/testlog.txt || fail "the example did not run with it"
    expect_file_content example/data/copy.txt 1
    run_crun plugin info b/my_run.so
    expect_status 0
    expect_stdout_contains "runner"
    expect_stdout_contains "label"
    # in a project of crun new, named in its runner.yml with an option
    cd .. || fail "cd"
    run_crun new proj
    cd proj || fail "no project"
    build_step meson setup b
    build_step meson compile -C b
    cat >>conf/base/runner.yml <<EOF
  timed: {type: $PWD/../my-run/b/my_run.so, label: clocked}
EOF
    run_crun --runner timed
    expect_status 0
    expect_stderr_contains "clocked: greet took"
    expect_file_content data/greeting.txt "Hello, world!"
    run_crun new --runner x y
    expect_status 2
    expect_stderr_contains "unexpected argument 'y'"
}

# crun new --hook NAME: a hook plugin project, built and tested the same way,
# then listed in a project's crun.ini.
test_new_hook_plugin_builds_and_runs()
{
    use_installed_crun
    export PATH=$PREFIX/bin:$PATH CRUN=$PREFIX/bin/crun
    run_crun new --hook tally
    expect_status 0
    expect_stdout_contains "created hook plugin project 'tally'"
    cd tally || fail "no project"
    build_step meson setup b --werror
    build_step meson compile -C b
    build_step meson test -C b
    e2e_checked
    grep -q "tally: 2 nodes ran, 0 failed" b/meson-logs/testlog.txt ||
        fail "the example did not run with it: $(grep -i tally b/meson-logs/testlog.txt)"
    run_crun plugin info b/tally.so
    expect_status 0
    expect_stdout_contains "hooks"
    cd .. || fail "cd"
    run_crun new proj
    cd proj || fail "no project"
    build_step meson setup b
    build_step meson compile -C b
    printf '%s = label=counted\n' "$PWD/../tally/b/tally.so" >>crun.ini
    run_crun
    expect_status 0
    expect_stderr_contains "counted: 1 nodes ran, 0 failed"
    run_crun new --hook a --runner b
    expect_status 2
    expect_stderr_contains "one of --runner, --hook or --dataset, not several"
}

# crun new --dataset NAME: a dataset-type plugin project, built and tested the
# same way, then named as a type in a project's catalog.
test_new_dataset_plugin_builds_and_runs()
{
    use_installed_crun
    export PATH=$PREFIX/bin:$PATH CRUN=$PREFIX/bin/crun
    run_crun new --dataset my-ds
    expect_status 0
    expect_stdout_contains "created dataset plugin project 'my-ds'"
    cd my-ds || fail "no project"
    build_step meson setup b --werror
    build_step meson compile -C b
    build_step meson test -C b
    e2e_checked
    if ! grep -q "my-ds: saved number (2 bytes)" b/meson-logs/testlog.txt ||
        ! grep -q "my-ds: saved copy (2 bytes)" b/meson-logs/testlog.txt; then
        fail "the example did not use the type: $(grep -i my-ds b/meson-logs/testlog.txt)"
    fi
    expect_file_content example/data/copy.txt 1
    run_crun plugin info b/my_ds.so
    expect_status 0
    expect_stdout_contains "dataset"
    expect_stdout_contains "media_type"
    # in a project of crun new: its output saved through the type, by path
    cd .. || fail "cd"
    run_crun new proj
    cd proj || fail "no project"
    build_step meson setup b
    build_step meson compile -C b
    sed -i "s|^  type: text$|  type: $PWD/../my-ds/b/my_ds.so|" conf/base/catalog.yml
    run_crun
    expect_status 0
    expect_stderr_contains "my-ds: saved greeting (14 bytes)"
    expect_file_content data/greeting.txt "Hello, world!"
    run_crun catalog describe greeting --json
    expect_status 0
    expect_stdout_contains '"media_type": "text/plain"'
    run_crun new --dataset x y
    expect_status 2
    expect_stderr_contains "unexpected argument 'y'"
}

# crun pipeline create NAME (kedro pipeline create): a pipeline appended to
# pipelines.yml, comments kept, and its node file built into the library.
test_pipeline_create_adds_a_pipeline_that_runs()
{
    export PKG_CONFIG_PATH=$CRUN_BUILD_DIR/meson-uninstalled
    run_crun new p
    expect_status 0
    cd p || fail "no project"
    local before
    before=$(cat conf/base/pipelines.yml)
    run_crun pipeline create data_processing
    expect_status 0
    expect_stdout_contains "created pipeline 'data_processing'"
    e2e_checked
    # appended, not rewritten: the old text is still the file's beginning
    [ "$(head -c ${#before} conf/base/pipelines.yml)" = "$before" ] ||
        fail "pipelines.yml was rewritten: $(cat conf/base/pipelines.yml)"
    grep -q "^# The pipelines of p" conf/base/pipelines.yml || fail "comment lost"
    [ -f src/data_processing.c ] || fail "no src/data_processing.c"
    run_crun list pipelines
    expect_stdout_contains "data_processing"
    build_step meson setup b --werror
    build_step meson compile -C b
    run_crun run --pipeline data_processing
    expect_status 0
    expect_stderr_contains "the example node of data_processing"
    expect_stderr_contains "1 of 1 nodes done"
    expect_file_content data/data_processing_example.txt "pipeline data_processing ran"
    # the default pipeline is untouched
    run_crun
    expect_status 0
    expect_file_content data/greeting.txt "Hello, world!"
}

test_pipeline_create_refuses_bad_or_existing_names()
{
    run_crun new p
    cd p || fail "no project"
    cp -r . ../orig
    run_crun pipeline create __default__
    expect_status 2
    expect_stderr_contains "'__default__' is not a pipeline name"
    run_crun pipeline create "a-b"
    expect_status 2
    expect_stderr_contains "'a-b' is not a pipeline name (a letter, then letters, digits or '_')"
    run_crun pipeline create
    expect_status 2
    expect_stderr_contains "usage: crun pipeline create NAME"
    e2e_checked
    diff -r ../orig . >/dev/null || fail "a refused create changed the project"
    run_crun pipeline create dp
    expect_status 0
    cp -r . ../once
    run_crun pipeline create dp
    expect_status 2
    expect_stderr_contains "pipeline 'dp' already exists"
    # a library source of that name already there: refused before any write
    run_crun pipeline create p
    expect_status 2
    expect_stderr_contains "src/p.c already exists"
    e2e_checked
    diff -r ../once . >/dev/null || fail "a refused create changed the project"
    # not the layout of crun new: said, and nothing written
    mv meson.build ../meson.build.away
    run_crun pipeline create other
    expect_status 2
    expect_stderr_contains "crun pipeline create: the node library's build: "
    expect_stderr_contains "meson.build"
    expect_no_file src/other.c
    mv ../meson.build.away meson.build
    # libraries: moved after pipelines: an entry appended would land in it
    sed -i '/^libraries:/,/^$/d' conf/base/pipelines.yml
    printf 'libraries:\n  p: p\n' >>conf/base/pipelines.yml
    run_crun list pipelines
    expect_status 0
    run_crun pipeline create other
    expect_status 2
    expect_stderr_contains "\`pipelines:\` is not the file's last key"
    expect_no_file src/other.c
}

# Without installing: the build folder's uninstalled crun.pc.
test_new_project_builds_against_the_build_folder()
{
    export PKG_CONFIG_PATH=$CRUN_BUILD_DIR/meson-uninstalled
    run_crun new x
    expect_status 0
    cd x || fail "no project"
    build_step meson setup b
    build_step meson compile -C b
    run_crun
    expect_status 0
    expect_file_content data/greeting.txt "Hello, world!"
}

test_new_library_compiles_with_werror()
{
    use_installed_crun
    run_crun new my-proj
    expect_status 0
    e2e_checked
    [ -f my-proj/src/my_proj.c ] || fail "the library of my-proj is not src/my_proj.c"
    local flags
    read -r -a flags < <(pkg-config --cflags crun) || fail "pkg-config crun failed"
    build_step cc -std=c11 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -fPIC -c my-proj/src/my_proj.c -o my_proj.o "${flags[@]}"
    e2e_checked
    # and meson's own warnings, as errors, in a hyphenated project
    cd my-proj || fail "no project"
    build_step meson setup b --werror -Dwarning_level=3
    build_step meson compile -C b
    run_crun
    expect_status 0
    expect_file_content data/greeting.txt "Hello, world!"
}

test_new_in_another_folder()
{
    mkdir -p work/area
    run_crun new work/area/proj
    expect_status 0
    e2e_checked
    grep -q '^name = proj$' work/area/proj/crun.ini || fail "project name: $(cat work/area/proj/crun.ini)"
    [ -f work/area/proj/src/proj.c ] || fail "no src/proj.c"
}

test_new_refuses_an_existing_folder()
{
    mkdir x
    echo mine >x/keep.txt
    run_crun new x
    expect_status 2
    expect_stderr_contains "'x' already exists"
    expect_file_content x/keep.txt mine
    expect_no_file x/crun.ini
    touch y
    run_crun new y
    expect_status 2
    expect_stderr_contains "'y' already exists"
}

test_new_refuses_bad_names()
{
    local name
    for name in 9lives "a b" "x.y" "-"; do
        run_crun new "$name"
        expect_status 2
    done
    run_crun new 9lives
    expect_stderr_contains "'9lives' is not a project name"
    expect_no_file 9lives
    run_crun new ""
    expect_status 2
    expect_stderr_contains "'' is not a project name"
}

test_new_usage_errors()
{
    run_crun new
    expect_status 2
    expect_stderr_contains "crun new needs the new project's name"
    run_crun new a b
    expect_status 2
    expect_stderr_contains "unexpected argument 'b'"
    run_crun new missing/parent/x
    expect_status 2
    expect_stderr_contains "cannot create a folder in 'missing/parent'"
    expect_no_file missing
}

run_tests "$@"
