/* test_ir_retry.c - a node's retry: (runner/ir/ir_retry.c): the wait
 * schedule (delay, backoff, jitter, the cap), reading it from
 * pipelines.yml with exact positions for mistakes, and the IR's JSON both
 * ways.  Projects are written into temporary folders and loaded with
 * ir_load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/project.h"
#include "ir/ir.h"

typedef struct fixture {
    char dir[64];
    project *p;
    ir_t *ir;
    ir_t *ir2;
    crun_error err;
} fixture;

static char *test_env[] = {"HOME=/home/tester", NULL};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/crun_retry_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    ir_free(f->ir2);
    ir_free(f->ir);
    project_free(f->p);
    crun_error_clear(&f->err);
    int rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* A project whose pipelines.yml holds one node n: `kind_line` (func or
 * cmd) on line 6, `retry_line` on line 7, both at column 9. */
static int load(fixture *f, const char *kind_line, const char *retry_line)
{
    char path[160], conf[96];
    snprintf(conf, sizeof(conf), "%s/conf", f->dir);
    mkdir(conf, 0755);
    snprintf(conf, sizeof(conf), "%s/conf/base", f->dir);
    mkdir(conf, 0755);
    snprintf(path, sizeof(path), "%s/pipelines.yml", conf);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fprintf(file,
            "libraries: {lib: lib}\n"  /* 1 */
            "pipelines:\n"             /* 2 */
            "  p:\n"                   /* 3 */
            "    nodes:\n"             /* 4 */
            "      - name: n\n"        /* 5 */
            "        %s\n"             /* 6 */
            "        %s\n",            /* 7 */
            kind_line, retry_line);
    assert_int_equal(fclose(file), 0);
    ir_free(f->ir);
    f->ir = NULL;
    project_free(f->p);
    f->p = NULL;
    crun_error_clear(&f->err);
    return ir_load(f->dir, NULL, NULL, test_env, NULL, &f->p, &f->ir, &f->err);
}

static void load_fails(fixture *f, const char *kind_line, const char *retry_line,
                       const char *message)
{
    assert_int_equal(load(f, kind_line, retry_line), CRUN_ECONFIG);
    assert_non_null(f->err.message);
    assert_string_equal(f->err.message, message);
}

/* --- the schedule --- */

static void test_delay_grows_by_backoff_per_attempt(void **state)
{
    (void)state;
    ir_retry r = {.attempts = 5, .delay = 0.5, .backoff = 2};
    assert_float_equal(ir_retry_delay(&r, 1, 0.5), 0.5, 1e-9);
    assert_float_equal(ir_retry_delay(&r, 2, 0.5), 1.0, 1e-9);
    assert_float_equal(ir_retry_delay(&r, 3, 0.5), 2.0, 1e-9);
    assert_float_equal(ir_retry_delay(&r, 4, 0.5), 4.0, 1e-9);
}

static void test_backoff_one_keeps_the_delay(void **state)
{
    (void)state;
    ir_retry r = {.attempts = 3, .delay = 1.5, .backoff = 1};
    assert_float_equal(ir_retry_delay(&r, 1, 0.5), 1.5, 1e-9);
    assert_float_equal(ir_retry_delay(&r, 2, 0.5), 1.5, 1e-9);
}

static void test_jitter_spreads_by_its_fraction_both_ways(void **state)
{
    (void)state;
    ir_retry r = {.attempts = 3, .delay = 1, .backoff = 2, .jitter = 0.1};
    assert_float_equal(ir_retry_delay(&r, 1, 0.0), 0.9, 1e-9);
    assert_float_equal(ir_retry_delay(&r, 1, 0.5), 1.0, 1e-9);
    assert_float_equal(ir_retry_delay(&r, 2, 0.0), 1.8, 1e-9);
    assert_true(ir_retry_delay(&r, 2, 0.999999) < 2.2);
    assert_true(ir_retry_delay(&r, 2, 0.999999) > 2.19);
}

static void test_no_delay_means_no_wait(void **state)
{
    (void)state;
    ir_retry r = {.attempts = 3, .delay = 0, .backoff = 3, .jitter = 1};
    assert_float_equal(ir_retry_delay(&r, 2, 0.9), 0.0, 0);
    r = (ir_retry){.attempts = 3, .delay = 1, .backoff = 1, .jitter = 1};
    assert_float_equal(ir_retry_delay(&r, 1, 0.0), 0.0, 0); /* never negative */
}

static void test_waits_are_capped_at_a_day(void **state)
{
    (void)state;
    ir_retry r = {.attempts = 100, .delay = 60, .backoff = 100};
    assert_float_equal(ir_retry_delay(&r, 99, 0.5), 86400.0, 0);
}

/* --- pipelines.yml --- */

static void test_retry_read_with_defaults(void **state)
{
    fixture *f = *state;
    assert_int_equal(load(f, "cmd: [\"true\"]", "retry: {attempts: 3}"), 0);
    const ir_retry *r = f->ir->nodes[0].retry;
    assert_non_null(r);
    assert_int_equal(r->attempts, 3);
    assert_float_equal(r->delay, 0, 0);
    assert_float_equal(r->backoff, 1, 0);
    assert_float_equal(r->jitter, 0, 0);
    assert_int_equal(r->n_on_exit, 0);
}

static void test_retry_read_in_full(void **state)
{
    fixture *f = *state;
    assert_int_equal(load(f, "cmd: [\"true\"]", "retry: {attempts: 4, delay: 0.5, backoff: 2, "
                          "jitter: 0.1, on_exit: [75, 76]}"), 0);
    const ir_retry *r = f->ir->nodes[0].retry;
    assert_int_equal(r->attempts, 4);
    assert_float_equal(r->delay, 0.5, 0);
    assert_float_equal(r->backoff, 2, 0);
    assert_float_equal(r->jitter, 0.1, 0);
    assert_int_equal(r->n_on_exit, 2);
    assert_int_equal(r->on_exit[0], 75);
    assert_int_equal(r->on_exit[1], 76);
}

static void test_on_exit_may_be_one_status(void **state)
{
    fixture *f = *state;
    assert_int_equal(load(f, "cmd: [\"true\"]", "retry: {attempts: 2, on_exit: 75}"), 0);
    assert_int_equal(f->ir->nodes[0].retry->n_on_exit, 1);
    assert_int_equal(f->ir->nodes[0].retry->on_exit[0], 75);
}

static void test_no_retry_key_means_none(void **state)
{
    fixture *f = *state;
    assert_int_equal(load(f, "cmd: [\"true\"]", "tags: [t]"), 0);
    assert_null(f->ir->nodes[0].retry);
}

static void test_bad_values_are_refused_where_written(void **state)
{
    fixture *f = *state;
    load_fails(f, "cmd: [\"true\"]", "retry: {attempts: 2.5}",
               "conf/base/pipelines.yml:7:27: node 'n': retry: 'attempts' must be an integer "
               "from 1 to 100 (tries, the first included), got '2.5'");
    load_fails(f, "cmd: [\"true\"]", "retry: {attempts: 101}",
               "conf/base/pipelines.yml:7:27: node 'n': retry: 'attempts' must be an integer "
               "from 1 to 100 (tries, the first included), got '101'");
    load_fails(f, "cmd: [\"true\"]", "retry: {attempts: 2, delay: -1}",
               "conf/base/pipelines.yml:7:37: node 'n': retry: 'delay' must be a number of "
               "seconds from 0 to 86400, got '-1'");
    load_fails(f, "cmd: [\"true\"]", "retry: {attempts: 2, delay: [1]}",
               "conf/base/pipelines.yml:7:37: node 'n': retry: 'delay' must be a number of "
               "seconds from 0 to 86400, got a list");
    load_fails(f, "cmd: [\"true\"]", "retry: {attempts: 2, on_exit: []}",
               "conf/base/pipelines.yml:7:39: node 'n': retry: 'on_exit' must list at least "
               "one exit status (leave it out to retry any failure)");
}

static void test_unknown_key_suggests(void **state)
{
    fixture *f = *state;
    load_fails(f, "cmd: [\"true\"]", "retry: {attempts: 2, backof: 2}",
               "conf/base/pipelines.yml:7:30: unknown key 'backof' in a node's retry (did you "
               "mean 'backoff'?)");
}

static void test_on_exit_of_a_function_node_is_refused(void **state)
{
    fixture *f = *state;
    load_fails(f, "func: lib.f", "retry: {attempts: 2, on_exit: [3]}",
               "conf/base/pipelines.yml:7:30: node 'n': retry: 'on_exit' applies to command "
               "nodes only (a function has no exit status)");
}

/* --- JSON --- */

static void test_json_round_trip_keeps_the_retry(void **state)
{
    fixture *f = *state;
    assert_int_equal(load(f, "cmd: [\"true\"]", "retry: {attempts: 3, delay: 0.25, backoff: 3, "
                          "jitter: 0.5, on_exit: [9]}"), 0);
    json_t *j = ir_to_json(f->ir, NULL, NULL, 0);
    assert_non_null(j);
    assert_int_equal(ir_from_json(j, "ir.json", f->dir, &f->ir2, &f->err), 0);
    json_decref(j);
    const ir_retry *r = f->ir2->nodes[0].retry;
    assert_non_null(r);
    assert_int_equal(r->attempts, 3);
    assert_float_equal(r->delay, 0.25, 0);
    assert_float_equal(r->backoff, 3, 0);
    assert_float_equal(r->jitter, 0.5, 0);
    assert_int_equal(r->n_on_exit, 1);
    assert_int_equal(r->on_exit[0], 9);
}

static int from_json_text(fixture *f, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    crun_error_clear(&f->err);
    int rc = ir_from_json(j, "ir.json", f->dir, &f->ir2, &f->err);
    json_decref(j);
    return rc;
}

static void test_json_retry_out_of_range_is_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(from_json_text(f, "{\"crun_ir\": 1, \"nodes\": [{\"name\": \"a\", \"cmd\": "
                                       "[\"true\"], \"retry\": {\"attempts\": 0}}]}"),
                     CRUN_ECONFIG);
    assert_string_equal(f->err.message, "ir.json: nodes[0].retry.attempts: an integer from 1 to "
                                        "100 (tries, the first included)");
    assert_int_equal(from_json_text(f, "{\"crun_ir\": 1, \"nodes\": [{\"name\": \"a\", \"cmd\": "
                                       "[\"true\"], \"retry\": {\"attempts\": 2, \"tries\": 1}}]}"),
                     CRUN_ECONFIG);
    assert_string_equal(f->err.message, "ir.json: nodes[0].retry.tries: unknown key");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_grows_by_backoff_per_attempt),
        cmocka_unit_test(test_backoff_one_keeps_the_delay),
        cmocka_unit_test(test_jitter_spreads_by_its_fraction_both_ways),
        cmocka_unit_test(test_no_delay_means_no_wait),
        cmocka_unit_test(test_waits_are_capped_at_a_day),
        T(test_retry_read_with_defaults),
        T(test_retry_read_in_full),
        T(test_on_exit_may_be_one_status),
        T(test_no_retry_key_means_none),
        T(test_bad_values_are_refused_where_written),
        T(test_unknown_key_suggests),
        T(test_on_exit_of_a_function_node_is_refused),
        T(test_json_round_trip_keeps_the_retry),
        T(test_json_retry_out_of_range_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
