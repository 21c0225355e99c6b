#!/usr/bin/env bash
# Plugins: `crun plugin info` on every built plugin; files that are not crun
# plugins (or not ones this crun can use) refused with exit status 2, no
# crash, and a message naming the file and the reason, both through
# `crun plugin info` and through runner.yml; and a runner written outside the
# repository against the installed headers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CC=${CC:-cc}

# The built plugins: <build>/plugins/<kind folder>/<name>/<name>.so
built_plugins()
{
    find "$CRUN_BUILD_DIR/plugins" -name '*.so' -not -path '*.so.p/*' | sort
}

# Compile a C source (stdin) into a shared object NAME.so in the current folder.
build_so()
{
    local name=$1
    shift
    cat >"$name.c"
    command -v "$CC" >/dev/null 2>&1 || fail "no C compiler ($CC) to build $name.so"
    # shellcheck disable=SC2046
    "$CC" -std=c11 -D_GNU_SOURCE -Wall -Werror -shared -fPIC -fvisibility=hidden \
        -I "$CRUN_SOURCE_DIR/include" $(pkg-config --cflags jansson 2>/dev/null) \
        -o "$name.so" "$name.c" "$@" 2>"$name.cc.log" ||
        fail "cannot build $name.so: $(cat "$name.cc.log")"
}

# A runner descriptor with the given head fields; the table is a valid one.
descriptor_so()
{
    local name=$1 magic=$2 major=$3 kind=$4
    build_so "$name" <<EOF
#include <stddef.h>
#include <crun/crun.h>
static int create(const crun_options *o, crun_logger *l, void **i, crun_error *e)
{ (void)o; (void)l; (void)e; *i = NULL; return 0; }
static int run(void *i, crun_run *r, crun_error *e) { (void)i; (void)r; (void)e; return 0; }
static const crun_runner_type table = {.size = sizeof(crun_runner_type), .create = create, .run = run};
static const crun_plugin desc = {
    .magic = $magic, .abi_major = $major, .abi_minor = 0, .size = sizeof(crun_plugin),
    .kind = $kind, .name = "$name", .version = "1", .description = "an e2e test plugin",
    .table = &table,
};
CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void) { return &desc; }
EOF
}

expect_refused()
{
    expect_status 2
    expect_no_file ran.log
    local w
    for w in "$@"; do
        expect_stderr_contains "$w"
    done
}

# `crun plugin info FILE` and a runner.yml `type: FILE` both refuse FILE,
# naming it (as given: SHOWN) and giving the reason WORDS.
check_refusal()
{
    local file=$1 shown=$2
    shift 2
    run_crun plugin info "$file"
    expect_refused "crun: error: plugin $shown" "$@"
    [ ! -d p ] && make_project p
    write_file p/conf/base/runner.yml <<EOF
default: mine
runners:
  sequential: {type: sequential}
  mine: {type: $file}
EOF
    (cd p && run_crun && expect_refused "crun: error: conf/base/runner.yml:4:16: runner 'mine': plugin " \
        "$shown" "$@") || fail "$(cat "$E2E_REASON")"
    (cd p && run_crun --runner "$file" && expect_refused "crun: error: --runner: runner '$file': plugin " \
        "$shown" "$@") || fail "$(cat "$E2E_REASON")"
}

# --- the built plugins -------------------------------------------------------------

test_plugin_info_on_each_built_plugin()
{
    local so n=0 name kind folder
    for so in $(built_plugins); do
        n=$((n + 1))
        name=$(basename "$so" .so)
        folder=$(basename "$(dirname "$(dirname "$so")")")
        case $folder in
        runners) kind=runner ;;
        datasets) kind=dataset ;;
        nodes) kind=nodes ;;
        hooks) kind=hooks ;;
        *) kind=unknown ;;
        esac
        run_crun plugin info "$so"
        expect_status 0
        grep -qE "^name +$name\$" "$OUT" || fail "plugin info $so: name is not $name: $STDOUT"
        grep -qE "^kind +$kind\$" "$OUT" || fail "plugin info $so: kind is not $kind: $STDOUT"
        grep -qE '^abi +2\.[0-9]+$' "$OUT" || fail "plugin info $so: abi is not 2.x: $STDOUT"
        grep -qE '^description +[^ ]' "$OUT" || fail "plugin info $so: no description: $STDOUT"
        grep -qE "^path +$so\$" "$OUT" || fail "plugin info $so: wrong path: $STDOUT"
        if [ "$kind" = nodes ]; then
            grep -qE '^functions +[a-z_]+' "$OUT" || fail "plugin info $so: no functions: $STDOUT"
        else
            grep -qE '^options +[a-z(]' "$OUT" || fail "plugin info $so: no options: $STDOUT"
        fi
        run_crun plugin --json info "$so"
        expect_status 0
        expect_json -
        expect_stdout_contains "\"name\": \"$name\""
    done
    # the built-in ones are there, so the loop above was not empty
    for name in sequential memory text json bytes; do
        built_plugins | grep -q "/$name.so\$" || fail "no built plugin $name.so"
    done
    e2e_checked
}

test_plugin_info_usage()
{
    run_crun plugin info
    expect_status 2
    expect_stderr_contains "usage: crun plugin info FILE.so"
    run_crun plugin
    expect_status 2
}

test_list_plugins_finds_built_ones()
{
    make_project p
    cd p || fail "cd"
    run_crun list plugins
    expect_status 0
    grep -qE '^sequential +runner ' "$OUT" || fail "no sequential runner in: $STDOUT"
    grep -qE '^memory +dataset ' "$OUT" || fail "no memory dataset in: $STDOUT"
}

# --- declared options ---------------------------------------------------------------------

# `crun plugin info` prints the options a built-in plugin declares: name,
# type, default, range and doc, in the order of its table.
test_plugin_info_prints_declared_options()
{
    local so=$CRUN_BUILD_DIR/plugins/runners/parallel/parallel.so
    run_crun plugin info "$so"
    expect_status 0
    grep -qE '^options +max_workers +int +- +1\.\.1024 +nodes running at once' "$OUT" ||
        fail "plugin info: no max_workers line: $STDOUT"
    grep -qE '^ +grace_period +duration +5s +0\.\.86400 +[a-z]' "$OUT" ||
        fail "plugin info: no grace_period line: $STDOUT"
    grep -qE '^ +keep_going +bool +false ' "$OUT" || fail "plugin info: no keep_going: $STDOUT"
    e2e_checked
    run_crun plugin info "$CRUN_BUILD_DIR/plugins/runners/sequential/sequential.so"
    expect_status 0
    expect_stdout_contains "options      (none)"
    [ "$HAVE_PYTHON" = 1 ] || return 0
    run_crun plugin info --json "$so"
    expect_status 0
    cp "$OUT" info.json
    expect_eq "$(json_query info.json '[(o["name"], o["type"]) for o in d["options"]]')" \
        '[["max_workers", "int"], ["max_processes", "int"], ["grace_period", "duration"], ["keep_going", "bool"], ["is_async", "bool"]]' \
        "parallel's options"
    expect_eq "$(json_query info.json '[(o["min"], o["max"], o["default"]) for o in d["options"] if o["name"] == "max_workers"]')" \
        '[[1, 1024, null]]' "max_workers' range and default"
}

# A descriptor shorter than this crun's (it ends at `table`, as one built
# when crun_plugin was shorter would): it still loads and runs, and crun
# reads no options table past the size the plugin declared.
test_descriptor_shorter_than_the_hosts_still_loads()
{
    build_so old13 <<'EOF'
#include <stddef.h>
#include <crun/crun.h>
static int create(const crun_options *o, crun_logger *l, void **i, crun_error *e)
{ *i = NULL; (void)l; return crun_options_check_known(o, (const char *const[]){NULL}, e); }
static int run(void *i, crun_run *r, crun_error *e)
{
    (void)i;
    size_t node;
    while (!crun_run_finished(r) && crun_run_next_ready(r, &node)) {
        if (crun_run_execute(r, node, e) != 0) { crun_run_node_failed(r, node, e); return e->code; }
        crun_run_node_done(r, node);
    }
    return 0;
}
static const crun_runner_type table = {.size = sizeof(crun_runner_type), .create = create, .run = run};
/* a descriptor that ends at `table`; what follows is not its own */
static const crun_plugin desc[2] = {{
    .magic = CRUN_PLUGIN_MAGIC, .abi_major = CRUN_ABI_MAJOR, .abi_minor = CRUN_ABI_MINOR,
    .size = offsetof(crun_plugin, options), .kind = CRUN_PLUGIN_RUNNER, .name = "old13",
    .version = "1", .description = "a runner with a short descriptor", .table = &table,
    .options = (const crun_option *)&table, .n_options = 7}};
CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void) { return desc; }
EOF
    run_crun plugin info "$PWD/old13.so"
    expect_status 0
    expect_stdout_contains "options      (none)"
    make_project p
    cd p || fail "cd"
    run_crun --runner "$OLDPWD/old13.so"
    expect_status 0
    expect_ran "make_count greet"
}

# `crun list runners --json` says what each configured runner's plugin takes,
# next to the options runner.yml gives it; `crun list plugins --json` too.
test_list_runners_shows_plugin_options()
{
    make_project p
    cd p || fail "cd"
    write_file conf/base/runner.yml <<'EOF'
default: sequential
runners:
  sequential: {type: sequential}
  wide: {type: parallel, max_workers: 2}
EOF
    run_crun list runners --json
    expect_status 0
    expect_json -
    expect_stdout_contains '"plugin_options"'
    [ "$HAVE_PYTHON" = 1 ] || return 0
    cp "$OUT" runners.json
    expect_eq "$(json_query runners.json '[(r["name"], r["options"], [o["name"] for o in r["plugin_options"]][:2]) for r in d]')" \
        '[["sequential", {}, []], ["wide", {"max_workers": 2}, ["max_workers", "max_processes"]]]' \
        "list runners --json"
    run_crun list plugins --json
    expect_status 0
    cp "$OUT" plugins.json
    expect_eq "$(json_query plugins.json '[(o["name"], o["default"], o.get("max")) for p in d if p["name"] == "json" for o in p["options"]]')" \
        '[["filepath", null, null], ["indent", "2", 31]]' "the json dataset's options"
}

# A bad option in runner.yml is still a configuration error (exit 2) naming
# runner.yml's line, whatever the declared type.
test_bad_declared_option_names_runner_yml_line()
{
    make_project p
    cd p || fail "cd"
    write_file conf/base/runner.yml <<'EOF'
default: parallel
runners:
  parallel: {type: parallel,
             grace_period: soon}
EOF
    run_crun
    expect_status 2
    grep -qE "^crun: error: conf/base/runner.yml:4:[0-9]+: runner 'parallel': option 'grace_period'" \
        "$ERR" || fail "the error does not name runner.yml:4$(e2e_context)"
    e2e_checked
    expect_stderr_contains 'expected a number of seconds from 0 to 86400 (or 500ms, 2m, 1h...), got "soon"'
    expect_no_file ran.log
    write_file conf/base/runner.yml <<'EOF'
default: parallel
runners:
  parallel:
    type: parallel
    max_wrokers: 2
EOF
    run_crun
    expect_status 2
    grep -qE "^crun: error: conf/base/runner.yml:5:[0-9]+: option 'max_wrokers' is not known" \
        "$ERR" || fail "the error does not name runner.yml:5$(e2e_context)"
    e2e_checked
    expect_stderr_contains "not known to runner 'parallel' (did you mean 'max_workers'?)"
    expect_no_file ran.log
    run_crun --runner service --runner-opt max_body=lots
    expect_config_error --runner-opt "runner 'service': option 'max_body'" \
        "expected a number of bytes from 1 to 4294967296"
    expect_no_file ran.log
}

# --- refusals --------------------------------------------------------------------------

test_refuse_missing_file()
{
    check_refusal "$PWD/none.so" "$PWD/none.so" "o such file"
}

test_refuse_text_file_named_so()
{
    echo "this is not a shared object" >x.so
    check_refusal "$PWD/x.so" "$PWD/x.so" "not a shared object" "not an ELF file"
}

test_refuse_elf_without_entry_symbol()
{
    build_so nosym <<'EOF'
int crun_plugin_entri(void);
__attribute__((visibility("default"))) int crun_plugin_entri(void) { return 1; }
EOF
    check_refusal "$PWD/nosym.so" "$PWD/nosym.so" "not a crun plugin" "no crun_plugin_entry symbol"
}

test_refuse_wrong_magic()
{
    descriptor_so badmagic 0xdeadbeefu CRUN_ABI_MAJOR CRUN_PLUGIN_RUNNER
    check_refusal "$PWD/badmagic.so" "$PWD/badmagic.so" "not a crun plugin" "bad magic 0xdeadbeef"
}

test_refuse_entry_returning_null()
{
    build_so nulldesc <<'EOF'
#include <crun/crun.h>
CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void) { return NULL; }
EOF
    check_refusal "$PWD/nulldesc.so" "$PWD/nulldesc.so" "not a crun plugin"
}

test_refuse_abi_major_99()
{
    descriptor_so abi99 CRUN_PLUGIN_MAGIC 99 CRUN_PLUGIN_RUNNER
    check_refusal "$PWD/abi99.so" "$PWD/abi99.so" "built for crun ABI 99.0" "speaks ABI 2." \
        "rebuild the plugin"
}

# A runner written for ABI 1.x, whose table had 1.x's layout (flags last,
# no check): refused before its table is read, both versions named.
test_refuse_abi_1_runner()
{
    build_so old <<'EOF'
#include <stdint.h>
#include <crun/plugin.h>
typedef struct { uint32_t size; void *create, *run, *destroy; uint32_t flags; } v1_table;
static const v1_table table = {.size = sizeof(v1_table)};
static const crun_plugin desc = {
    .magic = CRUN_PLUGIN_MAGIC, .abi_major = 1, .abi_minor = 2, .size = sizeof(crun_plugin),
    .kind = CRUN_PLUGIN_RUNNER, .name = "old", .table = &table,
};
CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void) { return &desc; }
EOF
    check_refusal "$PWD/old.so" "$PWD/old.so" "built for crun ABI 1.2; this crun speaks ABI 2." \
        "rebuild the plugin"
}

test_refuse_malformed_descriptor()
{
    build_so noname <<'EOF'
#include <crun/crun.h>
static const crun_plugin desc = {CRUN_PLUGIN_HEAD, .kind = CRUN_PLUGIN_RUNNER, .name = NULL,
                                 .table = NULL};
CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void) { return &desc; }
EOF
    check_refusal "$PWD/noname.so" "$PWD/noname.so" "malformed descriptor"
}

test_refuse_wrong_kind()
{
    local text=$CRUN_BUILD_DIR/plugins/datasets/text/text.so
    case $text in /*) ;; *) text=$PWD/$text ;; esac
    [ -f "$text" ] || fail "no $text"
    # plugin info asks for no kind: it describes the file
    run_crun plugin info "$text"
    expect_status 0
    expect_stdout_contains dataset
    make_project p
    cd p || fail "cd"
    # a dataset plugin as a runner ...
    write_file conf/base/runner.yml <<EOF
default: mine
runners:
  mine: {type: $text}
EOF
    run_crun
    expect_refused "conf/base/runner.yml:3:16: runner 'mine': plugin $text" \
        "'text' is a dataset plugin, not a runner plugin"
    run_crun --runner "$text"
    expect_refused "--runner" "'text' is a dataset plugin, not a runner plugin"
    # ... also by name ...
    run_crun --runner text
    expect_refused "--runner: runner 'text': plugin " "'text' is a dataset plugin, not a runner plugin"
    # ... and a runner plugin as a dataset type

    local seq=$CRUN_BUILD_DIR/plugins/runners/sequential/sequential.so
    case $seq in /*) ;; *) seq=$OLDPWD/$seq ;; esac
    write_file conf/base/runner.yml <<'EOF'
default: sequential
EOF
    write_file conf/base/catalog.yml <<EOF
greeting:
  type: $seq
  filepath: data/greeting.txt
EOF
    run_crun
    expect_refused "conf/base/catalog.yml:1:1" "dataset 'greeting'" \
        "'sequential' is a runner plugin, not a dataset plugin"
}

# --- a third party's runner ---------------------------------------------------------------

test_external_runner_plugin()
{
    local lib=$CRUN_BUILD_DIR/runner
    case $lib in /*) ;; *) lib=$PWD/$lib ;; esac
    [ -f "$lib/libcrun.so" ] || fail "no libcrun.so in $lib"
    mkdir ext
    cd ext || fail "cd"
    build_so libmy_runner -L "$lib" -lcrun "-Wl,-rpath,$lib" <<'EOF'
/* my_runner.c - a runner written against crun's public headers only. */
#include <stdlib.h>
#include <string.h>

#include <crun/crun.h>

typedef struct my_runner {
    crun_logger *logger;
    char *greeting;
} my_runner;

static int my_create(const crun_options *opts, crun_logger *logger, void **instance,
                     crun_error *err)
{
    static const char *const known[] = {"greeting", NULL};
    const char *greeting = "none";
    int rc = crun_options_check_known(opts, known, err);
    if (!rc)
        rc = crun_options_string(opts, "greeting", &greeting, err);
    if (rc)
        return rc;
    my_runner *r = calloc(1, sizeof(*r));
    if (!r || !(r->greeting = strdup(greeting))) {
        free(r);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    r->logger = logger;
    *instance = r;
    return 0;
}

static int my_run(void *instance, crun_run *run, crun_error *err)
{
    my_runner *r = instance;
    crun_log(r->logger, CRUN_LOG_INFO, "my runner: greeting=%s, %zu nodes", r->greeting,
             crun_run_node_count(run));
    size_t node;
    while (!crun_run_finished(run)) {
        if (!crun_run_next_ready(run, &node))
            break;
        int rc = crun_run_execute(run, node, err);
        if (rc) {
            crun_run_node_failed(run, node, err);
            return rc;
        }
        crun_log(r->logger, CRUN_LOG_INFO, "my runner ran %s", crun_run_node_name(run, node));
        crun_run_node_done(run, node);
    }
    if (crun_run_cancelled(run))
        return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
    return 0;
}

static void my_destroy(void *instance)
{
    my_runner *r = instance;
    if (r)
        free(r->greeting);
    free(r);
}

static const crun_runner_type my_type = {
    .size = sizeof(crun_runner_type),
    .create = my_create,
    .run = my_run,
    .destroy = my_destroy,
};

static const crun_plugin my_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "my_runner",
    .version = "0.0.1",
    .description = "an e2e test's runner",
    .table = &my_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &my_plugin;
}
EOF
    local so=$PWD/libmy_runner.so
    cd .. || fail "cd"
    run_crun plugin info "$so"
    expect_status 0
    grep -qE '^name +my_runner$' "$OUT" || fail "plugin info: $STDOUT"
    grep -qE '^kind +runner$' "$OUT" || fail "plugin info: $STDOUT"
    make_project p
    cd p || fail "cd"
    write_file conf/base/runner.yml <<EOF
default: mine
runners:
  sequential: {type: sequential}
  mine: {type: $so, greeting: hello-from-yaml}
EOF
    run_crun
    expect_status 0
    expect_stderr_contains "my runner: greeting=hello-from-yaml, 2 nodes"
    expect_stderr_contains "my runner ran make_count"
    expect_stderr_contains "my runner ran greet"
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
    # --runner-opt overrides the option; the plugin's own checks reach the user
    run_crun --runner-opt greeting=from-cli
    expect_status 0
    expect_stderr_contains "my runner: greeting=from-cli"
    expect_ran "make_count greet"
    run_crun --runner-opt greting=x
    expect_status 2
    expect_stderr_contains "option 'greting' is not known to runner 'mine'"
    expect_stderr_contains "did you mean 'greeting'?"
    expect_no_file ran.log
    # a failing node under the external runner: exit 1, named, resumable
    sed -i 's/echo greet >> ran.log;/echo greet >> ran.log; exit 5;/' conf/base/pipelines.yml
    run_crun
    expect_status 1
    expect_stderr_contains "node 'greet': the command exited with status 5"
    expect_stderr_contains "crun run --from-nodes make_count"
}

run_tests "$@"
