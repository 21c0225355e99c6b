/* test_embed.c - the embedding API keeps no global state: many sessions and
 * many runs at once give exactly the results of one run at a time.
 *
 * Eight temporary projects differ in their parameters and data.  First each
 * is run N_RUNS times, one run after the other, with per-run parameters and
 * (every third run) a table given as an input; the outputs are written down.
 * Then eight threads, each with its own session on its own project, repeat
 * the same runs at the same time, and every result must equal the sequential
 * one; a second test does the same with eight threads sharing one session
 * (what the service runner does).  Run it under ThreadSanitizer
 * (meson setup -Db_sanitize=thread) to prove the absence of races.  Each
 * project mixes function nodes (bench library), a csv dataset and a command
 * node whose inputs go through the run's private scratch files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crun/crun.h"
#include "fixture.h"

#ifndef CRUN_TEST_PLUGIN_DIRS
#define CRUN_TEST_PLUGIN_DIRS ""
#endif

enum { N_PROJECTS = 8, N_RUNS = 24 };

typedef struct project {
    char dir[FIXTURE_DIR_SIZE];
    int id;
    char *expected[N_RUNS];
    crun_session *shared;   /* for the shared-session test */
    int mismatches;
    char first_mismatch[512];
} project;

static void make_project(project *p, int id)
{
    assert_int_equal(fixture_tmpdir(p->dir, "embed"), 0);
    p->id = id;
    fixture_put(p->dir, "conf/local/.keep", "");
    fixture_putf(p->dir, "crun.ini", "[project]\nname = embed%d\n", id);
    fixture_put(p->dir, "conf/base/pipelines.yml",
               "libraries: {bench: bench}\n"
               "pipelines:\n"
               "  __default__:\n"
               "    nodes:\n"
               "      - {name: a, func: bench.noop, inputs: \"params:x\", outputs: d0}\n"
               "      - {name: b, func: bench.noop, inputs: d0, outputs: d1}\n"
               "      - {name: fill, func: bench.fill, inputs: \"params:size\", outputs: blob}\n"
               "      - {name: copy, func: bench.noop, inputs: table, outputs: table_copy}\n"
               "      - name: join\n"
               "        cmd: [sh, -c, \"cat {inputs.i} {inputs.t} > {outputs.o}\"]\n"
               "        inputs: {i: d1, t: \"params:tag\"}\n"
               "        outputs: {o: result}\n");
    fixture_putf(p->dir, "conf/base/parameters.yml", "x: %d\nsize: %d\ntag: p%d\n", id, id, id);
    fixture_put(p->dir, "conf/base/catalog.yml",
               "table: {type: csv, filepath: data/table.csv}\n"
               "result: {type: text, filepath: data/result.txt}\n");
    fixture_putf(p->dir, "data/table.csv", "project,value\n%d,%d.5\n%d,x%d\n", id, id, id + 1, id);
}

static void remove_project(project *p)
{
    fixture_rmtree(p->dir);
    for (int i = 0; i < N_RUNS; i++)
        free(p->expected[i]);
}

/* --- one run and its outputs as text ------------------------------------------------ */

static crun_session *open_session(const project *p)
{
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = p->dir;
    so.builtin_plugin_dir = CRUN_TEST_PLUGIN_DIRS;
    so.log_level = CRUN_LOG_ERROR;
    so.no_hooks = true;
    crun_session *s = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (crun_session_open(&so, &s, &err) != 0)
        fail_msg("crun_session_open(%s): %s", p->dir, err.message);
    crun_error_clear(&err);
    return s;
}

/* A table only this run gets, every third run. */
static crun_value *table_input(int id, int i)
{
    crun_table *t = crun_table_new(2);
    int c0 = crun_table_add_column(t, "run", CRUN_COLUMN_INT64);
    int c1 = crun_table_add_column(t, "label", CRUN_COLUMN_STRING);
    crun_table_set_rows(t, 2);
    char label[32];
    for (size_t r = 0; r < 2; r++) {
        crun_table_set_int64(t, (size_t)c0, r, id * 1000 + i + (int)r);
        snprintf(label, sizeof(label), "p%d-r%d-%zu", id, i, r);
        crun_table_set_string(t, (size_t)c1, r, label);
    }
    return crun_value_table_new(t);
}

/* The outputs as "name=serialised;" in name order. */
static char *outputs_text(const crun_run_result *res)
{
    size_t order[16];
    size_t n = res->n_outputs < 16 ? res->n_outputs : 16;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort by name: tiny lists */
        for (size_t k = i; k > 0 && strcmp(res->output_names[order[k - 1]],
                                           res->output_names[order[k]]) > 0; k--) {
            size_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (size_t k = 0; k < n; k++) {
        char *data = NULL;
        size_t dlen = 0;
        crun_error err = CRUN_ERROR_INIT;
        if (crun_value_serialize(res->output_values[order[k]], &data, &dlen, &err) == 0)
            fprintf(f, "%s=%.*s;", res->output_names[order[k]], (int)dlen, data);
        else
            fprintf(f, "%s=!%s;", res->output_names[order[k]], err.message);
        free(data);
        crun_error_clear(&err);
    }
    fclose(f);
    return out;
}

/* Run i of project id, with parameters (and every third time a table) of
 * its own; the outputs as text, or why the run failed. */
static char *run_once(crun_session *s, int id, int i)
{
    json_t *params = json_pack("{s:i, s:i, s:s}", "x", id * 1000 + i, "size", (id + i) % 17,
                               "tag", i % 2 ? "odd" : "even");
    crun_value *table = i % 3 == 0 ? table_input(id, i) : NULL;
    const char *const names[] = {"table"};
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.params = params;
    ro.memory_outputs = true;
    ro.collect_outputs = true;
    if (table) {
        ro.input_names = names;
        ro.input_values = &table;
        ro.n_inputs = 1;
    }
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_session_run(s, &ro, &res, &err);
    char *out = NULL;
    if (rc != 0) {
        if (asprintf(&out, "run failed: %s", err.message ? err.message : "?") < 0)
            out = NULL;
    } else {
        out = outputs_text(&res);
    }
    crun_run_result_clear(&res);
    crun_error_clear(&err);
    crun_value_unref(table);
    json_decref(params);
    return out;
}

/* --- the tests ---------------------------------------------------------------------- */

static void record_sequential(project *projects)
{
    for (int p = 0; p < N_PROJECTS; p++) {
        make_project(&projects[p], p + 1);
        crun_session *s = open_session(&projects[p]);
        for (int i = 0; i < N_RUNS; i++) {
            projects[p].expected[i] = run_once(s, p + 1, i);
            assert_non_null(projects[p].expected[i]);
            if (strncmp(projects[p].expected[i], "run failed", 10) == 0)
                fail_msg("project %d run %d: %s", p + 1, i, projects[p].expected[i]);
        }
        crun_session_close(s);
    }
    /* the runs differ from each other, so a mix-up would show */
    assert_string_not_equal(projects[0].expected[0], projects[0].expected[1]);
    assert_string_not_equal(projects[0].expected[0], projects[1].expected[0]);
}

static void compare(project *p, crun_session *s)
{
    for (int i = 0; i < N_RUNS; i++) {
        char *got = run_once(s, p->id, i);
        if (!got || strcmp(got, p->expected[i]) != 0) {
            if (!p->mismatches++)
                snprintf(p->first_mismatch, sizeof(p->first_mismatch),
                         "project %d run %d: expected '%s', got '%s'", p->id, i, p->expected[i],
                         got ? got : "(null)");
        }
        free(got);
    }
}

static void *own_session_thread(void *arg)
{
    project *p = arg;
    crun_session *s = open_session(p);
    compare(p, s);
    crun_session_close(s);
    return NULL;
}

static void *shared_session_thread(void *arg)
{
    project *p = arg;
    compare(p, p->shared);
    return NULL;
}

static void check_and_clean(project *projects)
{
    for (int p = 0; p < N_PROJECTS; p++) {
        if (projects[p].mismatches)
            fail_msg("%d of %d runs differ from the sequential ones; first: %s",
                     projects[p].mismatches, N_RUNS, projects[p].first_mismatch);
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/data/result.txt", projects[p].dir);
        assert_int_not_equal(access(path, F_OK), 0); /* outputs stayed in memory */
        remove_project(&projects[p]);
    }
}

static void test_threads_with_own_sessions_match_sequential_runs(void **state)
{
    (void)state;
    project projects[N_PROJECTS];
    memset(projects, 0, sizeof(projects));
    record_sequential(projects);
    pthread_t threads[N_PROJECTS];
    for (int p = 0; p < N_PROJECTS; p++)
        assert_int_equal(pthread_create(&threads[p], NULL, own_session_thread, &projects[p]), 0);
    for (int p = 0; p < N_PROJECTS; p++)
        pthread_join(threads[p], NULL);
    check_and_clean(projects);
}

/* The service's case: one session, many threads running it at once. */
static void test_threads_sharing_one_session_match_sequential_runs(void **state)
{
    (void)state;
    project projects[N_PROJECTS];
    memset(projects, 0, sizeof(projects));
    record_sequential(projects);
    /* every thread runs project 1's session with its own run numbers */
    crun_session *s = open_session(&projects[0]);
    for (int p = 0; p < N_PROJECTS; p++) {
        projects[p].shared = s;
        if (p > 0) { /* project p's expectations are project 1's, made sequentially */
            for (int i = 0; i < N_RUNS; i++) {
                free(projects[p].expected[i]);
                projects[p].expected[i] = strdup(projects[0].expected[i]);
            }
            projects[p].id = 1;
        }
    }
    pthread_t threads[N_PROJECTS];
    for (int p = 0; p < N_PROJECTS; p++)
        assert_int_equal(pthread_create(&threads[p], NULL, shared_session_thread, &projects[p]), 0);
    for (int p = 0; p < N_PROJECTS; p++)
        pthread_join(threads[p], NULL);
    crun_session_close(s);
    check_and_clean(projects);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_with_own_sessions_match_sequential_runs),
        cmocka_unit_test(test_threads_sharing_one_session_match_sequential_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
