/* test_hooks.c - hooks through the embedding API: what each event carries,
 * call order across crun.ini, hooks.yml and crun_session_add_hook, inputs
 * replaced by before_node_run, hook failures, threads (the host serialises a
 * hook that is not thread-safe), and the built-in timing and events plugins.
 *
 * Projects are written into temporary folders and use the built-in plugins
 * (CRUN_TEST_PLUGIN_DIRS): function nodes call bench.noop, which passes its
 * first input on to its outputs, so an output shows what the node was given;
 * the threaded runs use the parallel runner.  Fixture hook plugins
 * (tests/fixtures/plugins/) are in CRUN_TEST_FIXTURE_DIR.  In-process hooks are
 * "traces" registered with crun_session_add_hook that write each event as
 * "tag event[ node[ dataset]]" into a shared sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crun/crun.h"
#include "fixture.h"


/* --- the captured log and the event sink ------------------------------------------------ */

typedef struct sink {
    pthread_mutex_t lock;
    char *text;
    size_t len;
} sink;

static void sink_add(sink *s, const char *line)
{
    pthread_mutex_lock(&s->lock);
    size_t add = strlen(line) + 2;
    char *t = realloc(s->text, s->len + add);
    if (t) {
        s->text = t;
        s->len += (size_t)snprintf(t + s->len, add, "%s\n", line);
    }
    pthread_mutex_unlock(&s->lock);
}

static void log_line(void *user, crun_log_level level, const char *line)
{
    (void)level;
    sink_add(user, line);
}

/* --- in-process hooks ------------------------------------------------------------------------- */

typedef struct trace trace;
/* Called inside every event; its return value is the hook's. */
typedef int (*trace_check)(trace *t, const crun_hook_event *ev, crun_error *err);

struct trace {
    sink *out;
    const char *tag;
    trace_check check;
    int dwell_us;            /* stay inside each node event this long */
    atomic_int inside;
    atomic_int overlaps;     /* calls that began while another was inside */
    char note[256];          /* what a check saw */
};

static int trace_event(void *instance, const crun_hook_event *ev, crun_error *err)
{
    trace *t = instance;
    if (atomic_fetch_add(&t->inside, 1) != 0)
        atomic_fetch_add(&t->overlaps, 1);
    char line[512];
    int n = snprintf(line, sizeof(line), "%s%s%s", t->tag ? t->tag : "", t->tag ? " " : "",
                     crun_hook_point_name(ev->point));
    if (ev->node)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s", ev->node);
    if (ev->dataset)
        snprintf(line + n, sizeof(line) - (size_t)n, " %s", ev->dataset);
    sink_add(t->out, line);
    if (t->dwell_us && ev->node)
        usleep((useconds_t)t->dwell_us);
    int rc = t->check ? t->check(t, ev, err) : 0;
    atomic_fetch_sub(&t->inside, 1);
    return rc;
}

#define ALL_EVENTS                                                                          \
    {trace_event, trace_event, trace_event, trace_event, trace_event, trace_event,          \
     trace_event, trace_event, trace_event, trace_event, trace_event}

static const crun_hooks_type trace_type = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .on = ALL_EVENTS,
};

static const crun_hooks_type serial_trace_type = {
    .size = sizeof(crun_hooks_type),
    .flags = 0,
    .on = ALL_EVENTS,
};

/* --- fixture ----------------------------------------------------------------------------------- */

typedef struct fixture {
    char dir[FIXTURE_DIR_SIZE];
    char hooks_dir[2048];    /* <build>/plugins/hooks: timing/, events/ */
    char fixtures[2048];     /* the test plugins: recorder, recorder_ts, no_create */
    crun_session *s;
    sink log;
    sink events;
    trace t1, t2;
    crun_run_result res;
    crun_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    if (!f)
        return -1;
    if (fixture_tmpdir(f->dir, "hooks") != 0)
        return -1;
    if (fixture_plugins_dir(f->fixtures, sizeof(f->fixtures)) != 0)
        return -1;
    const char *build = getenv("CRUN_TEST_BUILD_DIR");
    char here[1024];
    if (!build && realpath("build", here)) /* run by hand from the repository */
        build = here;
    snprintf(f->hooks_dir, sizeof(f->hooks_dir), "%s/plugins/hooks", build ? build : "build");
    pthread_mutex_init(&f->log.lock, NULL);
    pthread_mutex_init(&f->events.lock, NULL);
    f->t1 = (trace){.out = &f->events};
    f->t2 = (trace){.out = &f->events};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    crun_session_close(f->s);
    crun_run_result_clear(&f->res);
    crun_error_clear(&f->err);
    free(f->log.text);
    free(f->events.text);
    pthread_mutex_destroy(&f->log.lock);
    pthread_mutex_destroy(&f->events.lock);
    int rc = fixture_rmtree(f->dir);
    free(f);
    return rc;
}

static void assert_text(const char *got, const char *expected)
{
    if (!got || strcmp(got, expected) != 0) {
        print_error("got:\n%s\nexpected:\n%s\n", got ? got : "(null)", expected);
        fail();
    }
}

static int open_session(fixture *f, bool no_hooks)
{
    crun_session_options so = fixture_session_options(f->dir, log_line, &f->log, no_hooks);
    crun_error_clear(&f->err);
    return crun_session_open(&so, &f->s, &f->err);
}

static void open_ok(fixture *f, bool no_hooks)
{
    int rc = open_session(f, no_hooks);
    if (rc)
        print_error("crun_session_open: %s\n", f->err.message);
    assert_int_equal(rc, 0);
}

static void add_trace(fixture *f, const char *name, const crun_hooks_type *type, trace *t)
{
    assert_int_equal(crun_session_add_hook(f->s, name, type, t, &f->err), 0);
}

static int run_with(fixture *f, const char *runner, const char *run_id)
{
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.runner = runner;
    ro.run_id = run_id;
    return fixture_session_run(f->s, &ro, &f->res, &f->err);
}

static void run_ok(fixture *f)
{
    fixture_assert_run_ok(run_with(f, NULL, NULL), &f->err, f->log.text);
}

/* params:x (3) -> first -> y (memory) -> second -> z (data/z.json), bench.noop each */
static void write_double_project(const char *dir)
{
    fixture_put(dir, "conf/base/pipelines.yml",
        "libraries: {b: bench}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: first, func: b.noop, inputs: {x: \"params:x\"}, outputs: y}\n"
        "      - {name: second, func: b.noop, inputs: {x: y}, outputs: z}\n");
    fixture_put(dir, "conf/base/parameters.yml", "x: 3\n");
    fixture_put(dir, "conf/base/catalog.yml", "z: {type: json, filepath: data/z.json}\n");
}

static const char *const double_events =
    "after_catalog_created\n"
    "before_pipeline_run\n"
    "before_dataset_loaded first params:x\n"
    "after_dataset_loaded first params:x\n"
    "before_node_run first\n"
    "after_node_run first\n"
    "before_dataset_saved first y\n"
    "after_dataset_saved first y\n"
    "before_dataset_loaded second y\n"
    "after_dataset_loaded second y\n"
    "before_node_run second\n"
    "after_node_run second\n"
    "before_dataset_saved second z\n"
    "after_dataset_saved second z\n"
    "after_pipeline_run\n";

static void assert_z(fixture *f, const char *expected)
{
    char *z = fixture_slurp(f->dir, "data/z.json");
    size_t n = z ? strlen(z) : 0;
    while (n && z[n - 1] == '\n')
        z[--n] = '\0';
    assert_text(z, expected);
    free(z);
}

/* --- events and order ----------------------------------------------------------------------- */

static void test_embedded_hook_sees_every_event_of_function_nodes_in_kedro_order(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    open_ok(f, true);
    add_trace(f, "trace", &trace_type, &f->t1);
    run_ok(f);
    assert_text(f->events.text, double_events);
    assert_z(f, "3");
}

static void test_after_callbacks_run_in_reverse_registration_order(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    open_ok(f, true);
    f->t1.tag = "A";
    f->t2.tag = "B";
    add_trace(f, "a", &trace_type, &f->t1);
    add_trace(f, "b", &trace_type, &f->t2);
    run_ok(f);
    const char *text = f->events.text;
    fixture_assert_contains(text, "B after_catalog_created\nA after_catalog_created\n"
                          "A before_pipeline_run\nB before_pipeline_run\n");
    fixture_assert_contains(text, "A before_node_run first\nB before_node_run first\n"
                          "B after_node_run first\nA after_node_run first\n");
    fixture_assert_contains(text, "A before_dataset_saved first y\nB before_dataset_saved first y\n"
                          "B after_dataset_saved first y\nA after_dataset_saved first y\n");
    fixture_assert_contains(text, "B after_pipeline_run\nA after_pipeline_run\n");
}

/* An embedded hook writing to the file the configured recorders write to. */
typedef struct file_hook {
    int fd;
} file_hook;

static int file_hook_event(void *instance, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    file_hook *h = instance;
    char line[128];
    int n = snprintf(line, sizeof(line), "emb %s\n", crun_hook_point_name(ev->point));
    return write(h->fd, line, (size_t)n) == n ? 0 : -1;
}

static const crun_hooks_type file_hook_type = {
    .size = sizeof(crun_hooks_type),
    .on = {[CRUN_HOOK_BEFORE_PIPELINE_RUN] = file_hook_event,
           [CRUN_HOOK_AFTER_PIPELINE_RUN] = file_hook_event},
};

static void test_crun_ini_hooks_come_first_then_hooks_yml_then_embedded_ones(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    char ini[4096];
    snprintf(ini, sizeof(ini), "[project]\nname = order\nplugin_path = %s\n[hooks]\n"
             "recorder = path=%s/order.txt,tag=ini\n", f->fixtures, f->dir);
    fixture_put(f->dir, "crun.ini", ini);
    char yml[1024];
    snprintf(yml, sizeof(yml), "hooks:\n  - {name: recorder_ts, path: %s/order.txt, tag: yml}\n",
             f->dir);
    fixture_put(f->dir, "conf/local/hooks.yml", yml);
    open_ok(f, false);
    char path[512];
    snprintf(path, sizeof(path), "%s/order.txt", f->dir);
    file_hook h = {open(path, O_WRONLY | O_APPEND | O_CREAT, 0644)};
    assert_true(h.fd >= 0);
    assert_int_equal(crun_session_add_hook(f->s, "emb", &file_hook_type, &h, &f->err), 0);
    run_ok(f);
    close(h.fd);
    char *text = fixture_slurp(f->dir, "order.txt");
    fixture_assert_contains(text, "ini before_pipeline_run\nyml before_pipeline_run\nemb before_pipeline_run\n");
    fixture_assert_contains(text, "emb after_pipeline_run\nyml after_pipeline_run\nini after_pipeline_run\n");
    free(text);
}

/* --- what an event carries --------------------------------------------------------------------- */

static int check_payload(trace *t, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    char seen[128] = "";
    if (ev->size != sizeof(crun_hook_event) || !ev->run || !ev->run_id ||
        strcmp(ev->run_id, crun_run_id(ev->run)) != 0 ||
        json_integer_value(json_object_get(ev->params, "x")) != 3)
        snprintf(seen, sizeof(seen), "bad head at %s;", crun_hook_point_name(ev->point));
    else if (ev->point == CRUN_HOOK_BEFORE_NODE_RUN &&
             (strcmp(crun_call_node(ev->call), ev->node) != 0 ||
              strcmp(crun_call_run_id(ev->call), ev->run_id) != 0 ||
              crun_call_input_count(ev->call) != 1))
        snprintf(seen, sizeof(seen), "bad call of %s;", ev->node);
    else if (ev->point == CRUN_HOOK_BEFORE_NODE_RUN)
        snprintf(seen, sizeof(seen), "%s(%s=%lld);", ev->node, crun_call_input_name(ev->call, 0),
                 (long long)json_integer_value(crun_value_json(crun_call_input(ev->call, "x"))));
    else if (ev->point == CRUN_HOOK_AFTER_DATASET_LOADED || ev->point == CRUN_HOOK_BEFORE_DATASET_SAVED)
        snprintf(seen, sizeof(seen), "%s %s=%lld;",
                 ev->point == CRUN_HOOK_AFTER_DATASET_LOADED ? "loaded" : "saving", ev->dataset,
                 (long long)json_integer_value(crun_value_json(ev->value)));
    else if (ev->point == CRUN_HOOK_BEFORE_DATASET_LOADED && ev->value)
        snprintf(seen, sizeof(seen), "a value before loading %s;", ev->dataset);
    else if ((ev->node != NULL) != (ev->point >= CRUN_HOOK_BEFORE_NODE_RUN))
        snprintf(seen, sizeof(seen), "node %s at %s;", ev->node ? ev->node : "NULL",
                 crun_hook_point_name(ev->point));
    strncat(t->note, seen, sizeof(t->note) - strlen(t->note) - 1);
    return 0;
}

static void test_events_carry_run_id_params_call_and_values(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    open_ok(f, true);
    f->t1.check = check_payload;
    add_trace(f, "trace", &trace_type, &f->t1);
    run_ok(f);
    assert_text(f->t1.note, "loaded params:x=3;first(x=3);saving y=3;loaded y=3;second(x=3);"
                            "saving z=3;");
}

static int record_errors(trace *t, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    if (!ev->error)
        return 0;
    char seen[200];
    snprintf(seen, sizeof(seen), "%s %s status=%s: %s;", crun_hook_point_name(ev->point),
             ev->node ? ev->node : "-", ev->status == CRUN_ENODE ? "ENODE" : "?",
             ev->error->message ? ev->error->message : "(none)");
    strncat(t->note, seen, sizeof(t->note) - strlen(t->note) - 1);
    return 0;
}

static void test_error_events_carry_the_error_and_no_after_pipeline_run_follows(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    fixture_put(f->dir, "conf/base/pipelines.yml",
        "libraries: {b: bench}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: first, func: b.noop, inputs: {x: \"params:x\"}, outputs: y}\n"
        "      - {name: broken, func: b.fill, inputs: {x: y}, outputs: z}\n");
    open_ok(f, true);
    f->t1.check = record_errors;
    add_trace(f, "trace", &trace_type, &f->t1);
    assert_int_equal(run_with(f, NULL, NULL), CRUN_ENODE);
    assert_text(f->t1.note, "on_node_error broken status=ENODE: params: size must be a "
                            "non-negative integer;on_pipeline_error - status=ENODE: node "
                            "'broken': params: size must be a non-negative integer;");
    fixture_assert_contains(f->events.text, "before_node_run broken\non_node_error broken\n"
                                    "on_pipeline_error\n");
    assert_null(strstr(f->events.text, "after_pipeline_run"));
    assert_null(strstr(f->events.text, "after_node_run broken"));
}

/* --- replacing inputs ------------------------------------------------------------------------------ */

static int replace_second_x(trace *t, const crun_hook_event *ev, crun_error *err)
{
    (void)t, (void)err;
    if (ev->point != CRUN_HOOK_BEFORE_NODE_RUN || strcmp(ev->node, "second") != 0)
        return 0;
    return crun_hook_replace_input(ev, "x", crun_value_json_new(json_integer(21)));
}

static void test_before_node_run_replaces_an_input_the_node_then_reads(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    open_ok(f, true);
    f->t1.check = replace_second_x;
    add_trace(f, "trace", &trace_type, &f->t1);
    run_ok(f);
    assert_z(f, "21");
}

static int replace_everywhere(trace *t, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    if (!ev->call || ev->point == CRUN_HOOK_BEFORE_NODE_RUN)
        return 0;
    /* the value is freed by the refusal: a leak shows under ASan */
    int rc = crun_hook_replace_input(ev, "x", crun_value_json_new(json_integer(99)));
    if (rc != CRUN_EINVAL) {
        char seen[96];
        snprintf(seen, sizeof(seen), "%s accepted;", crun_hook_point_name(ev->point));
        strncat(t->note, seen, sizeof(t->note) - strlen(t->note) - 1);
    }
    return 0;
}

static void test_replacing_an_input_outside_before_node_run_is_refused(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    open_ok(f, true);
    f->t1.check = replace_everywhere;
    add_trace(f, "trace", &trace_type, &f->t1);
    run_ok(f);
    assert_text(f->t1.note, "");
    assert_z(f, "3");
    /* and with no event at all */
    assert_int_equal(crun_hook_replace_input(NULL, "x", crun_value_json_new(json_integer(1))),
                     CRUN_EINVAL);
}

static int replace_with_null(trace *t, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    if (ev->point == CRUN_HOOK_BEFORE_NODE_RUN && strcmp(ev->node, "second") == 0)
        snprintf(t->note, sizeof(t->note), "%d", crun_hook_replace_input(ev, "x", NULL));
    return 0;
}

/* BUG (run.c crun_hook_replace_input): a NULL value (what a constructor
 * returns when out of memory) is taken as the new input: the old one is
 * dropped and the node reads NULL.  It must be refused and the input kept. */
static void test_replacing_an_input_with_no_value_is_refused_and_keeps_the_input(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    open_ok(f, true);
    f->t1.check = replace_with_null;
    add_trace(f, "trace", &trace_type, &f->t1);
    int rc = run_with(f, NULL, NULL);
    assert_int_not_equal(atoi(f->t1.note), 0);
    assert_int_equal(rc, 0);
    assert_z(f, "3");
}

static int replace_in_command(trace *t, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    if (ev->point == CRUN_HOOK_BEFORE_NODE_RUN && strcmp(ev->node, "show") == 0)
        snprintf(t->note, sizeof(t->note), "%d",
                 crun_hook_replace_input(ev, "i", crun_value_json_new(json_integer(1))));
    return 0;
}

/* A command's inputs are files already written when before_node_run fires. */
static void test_replacing_an_input_of_a_command_node_is_refused(void **state)
{
    fixture *f = *state;
    fixture_put(f->dir, "conf/base/pipelines.yml",
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: make, cmd: [sh, -c, \"echo 5 > {outputs.o}\"], outputs: {o: v}}\n"
        "      - {name: show, cmd: [cat, \"{inputs.i}\"], inputs: {i: v}}\n");
    open_ok(f, true);
    f->t1.check = replace_in_command;
    add_trace(f, "trace", &trace_type, &f->t1);
    run_ok(f);
    assert_int_equal(atoi(f->t1.note), CRUN_EINVAL);
}

/* --- a hook that fails ---------------------------------------------------------------------------- */

static int fail_after_second(trace *t, const crun_hook_event *ev, crun_error *err)
{
    (void)t;
    if (ev->point == CRUN_HOOK_AFTER_NODE_RUN && strcmp(ev->node, "second") == 0)
        return crun_error_set(err, CRUN_EIO, "the tracker is down");
    return 0;
}

static void test_a_hook_failing_after_a_node_fails_the_run_naming_the_hook(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    open_ok(f, true);
    f->t1.check = fail_after_second;
    add_trace(f, "tracker", &trace_type, &f->t1);
    assert_int_equal(run_with(f, NULL, NULL), CRUN_EHOOK);
    assert_int_equal(f->res.status, CRUN_EHOOK);
    fixture_assert_contains(f->err.message, "node 'second': hook 'tracker' failed in after_node_run: "
                                    "the tracker is down");
    /* its outputs are not saved, and the run ends in on_pipeline_error */
    char *z = fixture_slurp(f->dir, "data/z.json");
    assert_null(z);
    fixture_assert_contains(f->events.text, "after_node_run second\non_pipeline_error\n");
    assert_null(strstr(f->events.text, "after_pipeline_run"));
}

/* A fork keeps a crash from taking the other tests with it. */
static int run_in_child(fixture *f)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* a crash must end the child, not return into cmocka's runner */
        static const int crashes[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof(crashes) / sizeof(crashes[0]); i++)
            signal(crashes[i], SIG_DFL);
        crun_session_close(f->s);
        f->s = NULL;
        int rc = open_session(f, false);
        if (rc == 0)
            rc = run_with(f, NULL, NULL);
        _exit(rc == 0 ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* BUG (session.c setup_hooks): hooks.h makes every callback optional, but a
 * hook plugin without create() is called through a NULL pointer. */
static void test_a_hook_plugin_without_create_is_loaded_and_runs(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    char ini[4096];
    snprintf(ini, sizeof(ini), "[project]\nname = nc\n[hooks]\n%s/no_create.so =\n",
             f->fixtures);
    fixture_put(f->dir, "crun.ini", ini);
    assert_int_equal(run_in_child(f), 0);
}

/* BUG (session.c setup_hooks): a hook's option error already starts with the
 * place (crun_options_check_known and friends put it there), and setup_hooks
 * adds "<place>: hook 'x': " in front again. */
static void test_a_hook_option_error_names_its_place_once(void **state)
{
    fixture *f = *state;
    write_double_project(f->dir);
    fixture_put(f->dir, "conf/local/hooks.yml", "hooks:\n  - {name: events, pth: x.jsonl}\n");
    assert_int_equal(open_session(f, false), CRUN_ECONFIG);
    assert_text(f->err.message, "conf/local/hooks.yml:2:5: option 'pth' is not known to hook "
                                "'events' (did you mean 'path'?)");
}

/* --- threads ----------------------------------------------------------------------------------------- */

/* src -> w1..w4 -> total, run by the parallel runner: w1..w4 at once */
static void write_fan_project(const char *dir)
{
    fixture_put(dir, "conf/base/pipelines.yml",
        "libraries: {b: bench}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: src, func: b.noop, outputs: s}\n"
        "      - {name: w1, func: b.noop, inputs: [s], outputs: o1}\n"
        "      - {name: w2, func: b.noop, inputs: [s], outputs: o2}\n"
        "      - {name: w3, func: b.noop, inputs: [s], outputs: o3}\n"
        "      - {name: w4, func: b.noop, inputs: [s], outputs: o4}\n"
        "      - {name: total, func: b.noop, inputs: [o1, o2, o3, o4], outputs: z}\n");
    fixture_put(dir, "conf/base/runner.yml", "runners:\n  parallel: {type: parallel, max_workers: 4}\n");
}

static void run_fan(fixture *f, const crun_hooks_type *type)
{
    write_fan_project(f->dir);
    open_ok(f, true);
    f->t1.dwell_us = 2000; /* long enough for the other workers to arrive */
    add_trace(f, "trace", type, &f->t1);
    int rc = run_with(f, "parallel", NULL);
    if (rc)
        print_error("run failed: %s\n", f->err.message);
    assert_int_equal(rc, 0);
}

/* Position of line in text (-1 when absent). */
static long line_at(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, line, n) == 0 && p[n] == '\n')
            return p - text;
    return -1;
}

static void test_a_hook_that_is_not_thread_safe_is_never_entered_twice_at_once(void **state)
{
    fixture *f = *state;
    run_fan(f, &serial_trace_type);
    assert_int_equal(atomic_load(&f->t1.overlaps), 0);
    /* each node's own events stay in order */
    static const char *const nodes[] = {"w1", "w2", "w3", "w4"};
    for (size_t i = 0; i < 4; i++) {
        char a[64], b[64], c[64], d[64];
        snprintf(a, sizeof(a), "after_dataset_loaded %s s", nodes[i]);
        snprintf(b, sizeof(b), "before_node_run %s", nodes[i]);
        snprintf(c, sizeof(c), "after_node_run %s", nodes[i]);
        snprintf(d, sizeof(d), "before_dataset_saved %s o%zu", nodes[i], i + 1);
        long pa = line_at(f->events.text, a), pb = line_at(f->events.text, b);
        long pc = line_at(f->events.text, c), pd = line_at(f->events.text, d);
        assert_true(pa >= 0 && pa < pb && pb < pc && pc < pd);
        assert_true(line_at(f->events.text, "after_dataset_saved src s") < pa);
        assert_true(pd < line_at(f->events.text, "before_node_run total"));
    }
}

/* The check above can fail: a thread-safe hook is entered concurrently. */
static void test_a_thread_safe_hook_is_entered_from_several_threads(void **state)
{
    fixture *f = *state;
    run_fan(f, &trace_type);
    assert_true(atomic_load(&f->t1.overlaps) > 0);
}

/* --- the events plugin, called directly ------------------------------------------------------------ */

static const crun_hooks_type *load_hooks_plugin(fixture *f, const char *rel, void **dl)
{
    char path[2200];
    snprintf(path, sizeof(path), "%s/%s", f->hooks_dir, rel);
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*dl)
        print_error("dlopen %s: %s\n", path, dlerror());
    assert_non_null(*dl);
    crun_plugin_entry_fn entry;
    void *sym = dlsym(*dl, CRUN_PLUGIN_ENTRY_SYMBOL);
    assert_non_null(sym);
    memcpy(&entry, &sym, sizeof(entry));
    const crun_plugin *p = entry();
    assert_int_equal(p->kind, CRUN_PLUGIN_HOOKS);
    return p->table;
}

static int events_create(const crun_hooks_type *t, const char *options_json, void **inst,
                         crun_error *err)
{
    json_t *o = json_loads(options_json, 0, NULL);
    assert_non_null(o);
    crun_options *opts = crun_options_new(o, "hook 'events'", "test.yml:3:5");
    json_decref(o);
    int rc = t->create(opts, NULL, inst, err);
    crun_options_free(opts);
    return rc;
}

static void test_events_plugin_writes_valid_json_whatever_the_bytes(void **state)
{
    fixture *f = *state;
    void *dl;
    const crun_hooks_type *t = load_hooks_plugin(f, "events/events.so", &dl);
    char opts[512];
    snprintf(opts, sizeof(opts), "{\"path\": \"%s/logs/deep/ev.jsonl\"}", f->dir);
    void *inst = NULL;
    assert_int_equal(events_create(t, opts, &inst, &f->err), 0);
    crun_error nerr = CRUN_ERROR_INIT;
    crun_error_set(&nerr, CRUN_ENODE, "bad \xff\xfe bytes,\x01 \"quoted\"\nnext \xe2\x82\xac");
    crun_hook_event ev = {.size = sizeof(ev), .point = CRUN_HOOK_ON_NODE_ERROR, .run_id = "r-1",
                          .node = "we\"ird\\node\t", .error = &nerr, .status = CRUN_ENODE};
    assert_int_equal(t->on[CRUN_HOOK_ON_NODE_ERROR](inst, &ev, &f->err), 0);
    crun_hook_event ev2 = {.size = sizeof(ev2), .point = CRUN_HOOK_ON_PIPELINE_ERROR,
                           .run_id = "r-1", .error = &nerr, .status = CRUN_ECANCELED};
    assert_int_equal(t->on[CRUN_HOOK_ON_PIPELINE_ERROR](inst, &ev2, &f->err), 0);
    t->destroy(inst);
    crun_error_clear(&nerr);
    dlclose(dl);

    char *text = fixture_slurp(f->dir, "logs/deep/ev.jsonl");
    assert_non_null(text);
    size_t cut = strcspn(text, "\n");
    assert_int_equal(text[cut], '\n');
    size_t second_at = cut + 1;
    text[cut] = '\0';
    json_error_t jerr;
    json_t *line = json_loads(text, 0, &jerr); /* jansson refuses invalid UTF-8 */
    if (!line)
        print_error("%s: %s\n", text, jerr.text);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "event")), "on_node_error");
    assert_string_equal(json_string_value(json_object_get(line, "run_id")), "r-1");
    assert_true(json_real_value(json_object_get(line, "time")) > 1.6e9);
    assert_string_equal(json_string_value(json_object_get(line, "node")), "we\"ird\\node\t");
    assert_string_equal(json_string_value(json_object_get(line, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(line, "error")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd bytes,\x01 \"quoted\"\nnext \xe2\x82\xac");
    assert_null(json_object_get(line, "dataset"));
    json_decref(line);
    json_t *second = json_loads(text + second_at, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(second);
    assert_string_equal(json_string_value(json_object_get(second, "status")), "cancelled");
    assert_null(json_object_get(second, "node"));
    json_decref(second);
    free(text);
}

/* --- the timing plugin ------------------------------------------------------------------------------ */

static void write_timing_project(const char *dir, const char *hooks_yml)
{
    fixture_put(dir, "conf/base/pipelines.yml",
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: quick, cmd: [\"true\"]}\n"
        "      - {name: slow, cmd: [sleep, \"0.15\"]}\n"
        "      - {name: middle, cmd: [sleep, \"0.05\"]}\n");
    fixture_put(dir, "conf/local/hooks.yml", hooks_yml);
}

typedef struct timed_run {
    crun_session *s;
    const char *run_id;
    int rc;
    crun_run_result res;
    crun_error err;
} timed_run;

static void *timed_run_main(void *arg)
{
    timed_run *t = arg;
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.run_id = t->run_id;
    t->res = (crun_run_result)CRUN_RUN_RESULT_INIT;
    t->rc = crun_session_run(t->s, &ro, &t->res, &t->err);
    return NULL;
}

static void assert_report(fixture *f, const char *rel, const char *run_id)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        print_error("%s: %s\n", path, jerr.text);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "run_id")), run_id);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "ok");
    json_t *nodes = json_object_get(doc, "nodes");
    assert_int_equal(json_array_size(nodes), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 0), "node")),
                        "slow");
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        assert_string_equal(json_string_value(json_object_get(n, "status")), "ok");
        assert_true(json_real_value(json_object_get(n, "wall_s")) > 0);
    }
    json_decref(doc);
}

/* Two runs of one session at once: each has its own records and report. */
static void test_timing_keeps_concurrent_runs_of_a_session_apart(void **state)
{
    fixture *f = *state;
    char yml[512];
    snprintf(yml, sizeof(yml), "hooks:\n  - {name: timing, report: \"%s/t-{run_id}.json\"}\n", f->dir);
    write_timing_project(f->dir, yml);
    open_ok(f, false);
    timed_run a = {.s = f->s, .run_id = "run-a", .err = CRUN_ERROR_INIT};
    timed_run b = {.s = f->s, .run_id = "run-b", .err = CRUN_ERROR_INIT};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, timed_run_main, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, timed_run_main, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_report(f, "t-run-a.json", "run-a");
    assert_report(f, "t-run-b.json", "run-b");
    crun_run_result_clear(&a.res);
    crun_run_result_clear(&b.res);
    crun_error_clear(&a.err);
    crun_error_clear(&b.err);
}

static void test_timing_refuses_a_table_of_no_rows(void **state)
{
    fixture *f = *state;
    write_timing_project(f->dir, "hooks:\n  - {name: timing, top: 0}\n");
    assert_int_equal(open_session(f, false), CRUN_ECONFIG);
    fixture_assert_contains(f->err.message, "conf/local/hooks.yml:2:5");
    fixture_assert_contains(f->err.message, "option 'top': expected an integer from 1 to 1000000");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_embedded_hook_sees_every_event_of_function_nodes_in_kedro_order),
        T(test_after_callbacks_run_in_reverse_registration_order),
        T(test_crun_ini_hooks_come_first_then_hooks_yml_then_embedded_ones),
        T(test_events_carry_run_id_params_call_and_values),
        T(test_error_events_carry_the_error_and_no_after_pipeline_run_follows),
        T(test_before_node_run_replaces_an_input_the_node_then_reads),
        T(test_replacing_an_input_outside_before_node_run_is_refused),
        T(test_replacing_an_input_with_no_value_is_refused_and_keeps_the_input),
        T(test_replacing_an_input_of_a_command_node_is_refused),
        T(test_a_hook_failing_after_a_node_fails_the_run_naming_the_hook),
        T(test_a_hook_plugin_without_create_is_loaded_and_runs),
        T(test_a_hook_option_error_names_its_place_once),
        T(test_a_hook_that_is_not_thread_safe_is_never_entered_twice_at_once),
        T(test_a_thread_safe_hook_is_entered_from_several_threads),
        T(test_events_plugin_writes_valid_json_whatever_the_bytes),
        T(test_timing_keeps_concurrent_runs_of_a_session_apart),
        T(test_timing_refuses_a_table_of_no_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
