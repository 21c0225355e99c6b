/* test_runner_contract.c - what every executing runner promises, checked
 * the same way on each: nodes run after what they read, a failure stops its
 * dependents and is reported with a resume command, keep_going runs what
 * does not depend on a failure, a cancel stops a running command, command
 * and function nodes exchange data, and hooks see Kedro's order.
 *
 * Each case runs once per runner (sequential, parallel, and slurm when a
 * cluster answers; otherwise its cases are skipped) through
 * crun_session_run, on a temporary project written by the fixture library.
 * A runner without a keep_going option skips that case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crun/crun.h"
#include "fixture.h"

/* --- the runners under contract ----------------------------------------------------------------- */

typedef struct runner_kind {
    const char *name;       /* the runner.yml entry the cases run with */
    const char *keep_going; /* the entry that keeps going after a failure, or NULL */
    bool in_process;        /* nodes (and their hooks) run in this process */
    bool cluster;           /* needs a reachable Slurm controller */
} runner_kind;

static const runner_kind sequential = {"seq", NULL, true, false};
static const runner_kind parallel = {"par", "par_kg", true, false};
static const runner_kind slurm = {"cluster", "cluster", false, true};

typedef struct fixture {
    const runner_kind *runner;
    bool absent; /* the runner cannot run here: its cases are skipped */
    char dir[FIXTURE_DIR_SIZE];
    fixture_log log;
    crun_session *s;
    crun_run_result res;
    crun_error err;
} fixture;

static bool cluster_reachable(void)
{
    return system("command -v sbatch >/dev/null 2>&1 && timeout 20 squeue -h >/dev/null 2>&1") ==
           0;
}

static int setup(void **state)
{
    const runner_kind *runner = *state;
    fixture *f = calloc(1, sizeof(fixture));
    if (!f || fixture_tmpdir(f->dir, "contract") != 0)
        return -1;
    f->runner = runner;
    f->absent = runner->cluster && !cluster_reachable();
    f->err = (crun_error)CRUN_ERROR_INIT;
    fixture_log_init(&f->log);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    crun_session_close(f->s);
    crun_run_result_clear(&f->res);
    crun_error_clear(&f->err);
    fixture_log_clear(&f->log);
    int rc = fixture_rmtree(f->dir);
    *state = (void *)f->runner;
    free(f);
    return rc;
}

/* The case's fixture; skips the case when its runner cannot run here. */
static fixture *begin(void **state)
{
    fixture *f = *state;
    if (f->absent) {
        print_message("no Slurm cluster (sbatch missing or squeue cannot reach a controller)\n");
        skip();
    }
    return f;
}

/* crun.ini and runner.yml of every case, and pipelines.yml made of nodes
 * (the YAML list items under `nodes:`). */
static void write_project(fixture *f, const char *nodes)
{
    char fixtures[4096];
    assert_int_equal(fixture_plugins_dir(fixtures, sizeof(fixtures)), 0);
    fixture_put(f->dir, "crun.ini", "[project]\nname = contract\n");
    fixture_putf(f->dir, "conf/base/runner.yml",
                 "default: seq\n"
                 "runners:\n"
                 "  seq: {type: sequential}\n"
                 "  par: {type: parallel, max_workers: 4}\n"
                 "  par_kg: {type: parallel, max_workers: 4, keep_going: true}\n"
                 "  cluster: {type: slurm, poll_interval: 0.5, crun_path: %s/crun}\n",
                 getenv("CRUN_TEST_BUILD_DIR") ? getenv("CRUN_TEST_BUILD_DIR") : "build");
    fixture_putf(f->dir, "conf/base/pipelines.yml",
                 "libraries: {bench: bench, fx: %s/fixture_nodes.so}\n"
                 "pipelines:\n"
                 "  __default__:\n"
                 "    nodes:\n%s",
                 fixtures, nodes);
    fixture_put(f->dir, "conf/base/parameters.yml", "n: 42\n");
}

static void open_session(fixture *f)
{
    f->s = fixture_session_open(f->dir, &f->log);
}

static int run_with(fixture *f, const char *runner)
{
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.runner = runner;
    return fixture_session_run(f->s, &ro, &f->res, &f->err);
}

static void run_ok(fixture *f)
{
    fixture_assert_run_ok(run_with(f, f->runner->name), &f->err, f->log.text);
}

static void assert_failed_nodes(const fixture *f, const char *const *names)
{
    assert_non_null(f->res.failed_nodes);
    size_t i = 0;
    for (; names[i]; i++) {
        assert_non_null(f->res.failed_nodes[i]);
        assert_string_equal(f->res.failed_nodes[i], names[i]);
    }
    assert_null(f->res.failed_nodes[i]);
}

/* A command node NAME that appends NAME to ran.txt, reads INPUTS and writes
 * its output dataset NAME_out. */
#define STEP(name, inputs)                                                                  \
    "      - name: " name "\n"                                                              \
    "        cmd: [sh, -c, \"echo " name " >> ran.txt && echo " name " > {outputs.o}\"]\n" \
    "        inputs: " inputs "\n"                                                          \
    "        outputs: {o: " name "_out}\n"

#define FAILING(name, inputs)                                                 \
    "      - name: " name "\n"                                                \
    "        cmd: [sh, -c, \"echo " name " >> ran.txt; exit 3\"]\n"          \
    "        inputs: " inputs "\n"                                            \
    "        outputs: {o: " name "_out}\n"

/* Position of name's line in ran.txt (0 first), or -1. */
static int ran_at(const fixture *f, const char *name)
{
    char *text = fixture_slurp(f->dir, "ran.txt");
    int at = -1, i = 0;
    char *save = NULL;
    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save), i++)
        if (strcmp(l, name) == 0 && at < 0)
            at = i;
    free(text);
    return at;
}

static bool ran(const fixture *f, const char *name)
{
    return ran_at(f, name) >= 0;
}

/* --- the cases ---------------------------------------------------------------------------------- */

static void test_each_node_runs_after_the_nodes_it_reads_from(void **state)
{
    fixture *f = begin(state);
    /* a diamond, written in an order the runner must not follow */
    write_project(f, STEP("d", "[b_out, c_out]") STEP("b", "[a_out]") STEP("c", "[a_out]")
                         STEP("a", "[]"));
    open_session(f);
    run_ok(f);
    assert_int_equal(f->res.nodes_done, 4);
    assert_int_equal(ran_at(f, "a"), 0);
    assert_int_equal(ran_at(f, "d"), 3);
    assert_true(ran_at(f, "b") > 0 && ran_at(f, "c") > 0);
}

static void test_a_failed_node_stops_its_dependents_and_says_how_to_resume(void **state)
{
    fixture *f = begin(state);
    write_project(f, STEP("a", "[]") FAILING("b", "[a_out]") STEP("c", "[b_out]"));
    open_session(f);
    assert_int_equal(run_with(f, f->runner->name), CRUN_ENODE);
    assert_int_equal(f->res.status, CRUN_ENODE);
    assert_failed_nodes(f, (const char *const[]){"b", NULL});
    fixture_assert_contains(f->err.message, "node 'b'");
    assert_true(ran(f, "a"));
    assert_false(ran(f, "c"));
    fixture_assert_contains(f->res.resume_command, "--from-nodes");
}

static void test_keep_going_runs_what_does_not_depend_on_a_failure(void **state)
{
    fixture *f = begin(state);
    if (!f->runner->keep_going)
        skip(); /* the runner has no keep_going option */
    write_project(f, FAILING("a", "[]") STEP("b", "[a_out]") STEP("x", "[]") STEP("y", "[x_out]"));
    open_session(f);
    assert_int_equal(run_with(f, f->runner->keep_going), CRUN_ENODE);
    assert_failed_nodes(f, (const char *const[]){"a", NULL});
    assert_false(ran(f, "b"));
    assert_true(ran(f, "x"));
    assert_true(ran(f, "y"));
}

typedef struct run_thread {
    fixture *f;
    int rc;
    crun_run_result res;
    crun_error err;
} run_thread;

static void *run_in_thread(void *arg)
{
    run_thread *t = arg;
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.runner = t->f->runner->name;
    t->rc = crun_session_run(t->f->s, &ro, &t->res, &t->err);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_cancel_stops_a_running_command_and_starts_nothing_after_it(void **state)
{
    fixture *f = begin(state);
    write_project(f, "      - {name: slow, cmd: [sh, -c, \"touch started; sleep 30\"], "
                     "outputs: {o: slow_out}}\n" STEP("after", "[slow_out]"));
    open_session(f);
    run_thread t = {.f = f, .res = CRUN_RUN_RESULT_INIT, .err = CRUN_ERROR_INIT};
    pthread_t th;
    double start = now();
    assert_int_equal(pthread_create(&th, NULL, run_in_thread, &t), 0);
    char *started = NULL;
    while (!(started = fixture_slurp(f->dir, "started")) && now() - start < 60)
        usleep(20000);
    free(started);
    crun_session_cancel(f->s);
    pthread_join(th, NULL);
    assert_int_equal(t.rc, CRUN_ECANCELED);
    assert_int_equal(t.res.status, CRUN_ECANCELED);
    assert_true(now() - start < 25); /* not the 30 s of the command */
    assert_false(ran(f, "after"));
    crun_run_result_clear(&t.res);
    crun_error_clear(&t.err);
}

static void test_command_and_function_nodes_pass_data_both_ways(void **state)
{
    fixture *f = begin(state);
    write_project(f,
                  "      - name: show\n"
                  "        cmd: [sh, -c, \"tr -d ' ' < {inputs.n} > {outputs.o}\"]\n"
                  "        inputs: {n: 'params:n'}\n"
                  "        outputs: {o: shown}\n"
                  "      - {name: forward, func: bench.noop, inputs: shown, outputs: forwarded}\n"
                  "      - name: keep\n"
                  "        cmd: [sh, -c, \"cat {inputs.f} > {outputs.o}\"]\n"
                  "        inputs: {f: forwarded}\n"
                  "        outputs: {o: kept}\n");
    fixture_put(f->dir, "conf/base/catalog.yml", "kept: {type: text, filepath: data/kept.txt}\n");
    open_session(f);
    run_ok(f);
    char *kept = fixture_slurp(f->dir, "data/kept.txt");
    assert_non_null(kept);
    assert_string_equal(kept, "42");
    free(kept);
}

/* --- hooks -------------------------------------------------------------------------------------- */

typedef struct trace {
    pthread_mutex_t lock;
    char text[2048];
} trace;

static int on_event(void *instance, const crun_hook_event *ev, crun_error *err)
{
    trace *t = instance;
    if (ev->dataset) /* node and pipeline events only: saves vary by dataset kind */
        return 0;
    pthread_mutex_lock(&t->lock);
    size_t len = strlen(t->text);
    snprintf(t->text + len, sizeof(t->text) - len, "%s%s%s\n", crun_hook_point_name(ev->point),
             ev->node ? " " : "", ev->node ? ev->node : "");
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static const crun_hooks_type trace_type = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .on = {on_event, on_event, on_event, on_event, on_event, on_event, on_event, on_event,
           on_event, on_event, on_event},
};

static void test_hooks_see_the_pipeline_wrap_each_node_in_order(void **state)
{
    fixture *f = begin(state);
    if (!f->runner->in_process)
        skip(); /* node hooks run in the jobs' own processes */
    write_project(f, STEP("a", "[]") STEP("b", "[a_out]"));
    open_session(f);
    trace t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(crun_session_add_hook(f->s, "trace", &trace_type, &t, &f->err), 0);
    run_ok(f);
    assert_string_equal(t.text, "after_catalog_created\n"
                                "before_pipeline_run\n"
                                "before_node_run a\n"
                                "after_node_run a\n"
                                "before_node_run b\n"
                                "after_node_run b\n"
                                "after_pipeline_run\n");
}

static void test_a_function_failing_without_a_reason_is_named_in_words(void **state)
{
    fixture *f = begin(state);
    write_project(f, "      - {name: quiet, func: fx.fail_quietly}\n");
    open_session(f);
    assert_int_equal(run_with(f, f->runner->name), CRUN_ENODE);
    assert_failed_nodes(f, (const char *const[]){"quiet", NULL});
    if (f->runner->cluster) {
        /* the job's own words are in its log; the run names the job and the log */
        fixture_assert_contains(f->err.message, "node 'quiet': Slurm job");
        fixture_assert_contains(f->err.message, "logs/quiet.log");
        return;
    }
    fixture_assert_contains(f->err.message, "node 'quiet': function 'fx.fail_quietly' failed "
                                            "(it returned 3) and gave no reason");
}

/* --- every case on every runner ----------------------------------------------------------------- */

typedef struct contract_case {
    const char *name;
    CMUnitTestFunction fn;
} contract_case;

#define CASE(fn) {#fn, fn}
static const contract_case cases[] = {
    CASE(test_each_node_runs_after_the_nodes_it_reads_from),
    CASE(test_a_failed_node_stops_its_dependents_and_says_how_to_resume),
    CASE(test_keep_going_runs_what_does_not_depend_on_a_failure),
    CASE(test_cancel_stops_a_running_command_and_starts_nothing_after_it),
    CASE(test_command_and_function_nodes_pass_data_both_ways),
    CASE(test_hooks_see_the_pipeline_wrap_each_node_in_order),
    CASE(test_a_function_failing_without_a_reason_is_named_in_words),
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

int main(void)
{
    static const runner_kind *const runners[] = {&sequential, &parallel, &slurm};
    enum { N_RUNNERS = sizeof(runners) / sizeof(runners[0]) };
    struct CMUnitTest tests[N_RUNNERS * N_CASES];
    char names[N_RUNNERS * N_CASES][128];
    size_t n = 0;
    for (size_t r = 0; r < N_RUNNERS; r++)
        for (size_t c = 0; c < N_CASES; c++, n++) {
            snprintf(names[n], sizeof(names[n]), "%s: %s", runners[r]->name, cases[c].name);
            tests[n] = (struct CMUnitTest){.name = names[n], .test_func = cases[c].fn,
                                           .setup_func = setup, .teardown_func = teardown,
                                           .initial_state = (void *)runners[r]};
        }
    return _cmocka_run_group_tests("runner_contract", tests, n, NULL, NULL);
}
