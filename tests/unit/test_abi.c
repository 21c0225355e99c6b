/* test_abi.c - growth of the ABI: sized structs read by their size.
 *
 * A program or plugin built against an older minor passes shorter structs
 * than this host's; the members it does not have must take their defaults
 * and the bytes after its size must never be read or written.  One built
 * against a newer minor passes longer ones, accepted only when what this
 * host does not know is zero.  The first tests pin the rule on test-only
 * "2.0" and "2.1" structs (a host that added a member); the others drive
 * the real entry points with short and long structs, filling what lies
 * past the size with garbage that would crash or show if it were read.
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

#include "plugin/plugin.h"

#ifndef CRUN_TEST_PLUGIN_DIRS
#define CRUN_TEST_PLUGIN_DIRS ""
#endif

/* --- the rule, on a struct as 2.0 had it and as a host of 2.1 has it ---------------- */

typedef struct thing_v20 {
    uint32_t size;
    int count;
    const char *name;
} thing_v20;

typedef struct thing_v21 { /* 2.1 appended `limit`, whose default is 7 */
    uint32_t size;
    int count;
    const char *name;
    int limit;
} thing_v21;

static void test_has_member_reads_the_senders_size(void **state)
{
    (void)state;
    thing_v21 t = {.size = sizeof(thing_v20)};
    assert_true(CRUN_HAS_MEMBER(&t, thing_v21, name));
    assert_false(CRUN_HAS_MEMBER(&t, thing_v21, limit));
    t.size = offsetof(thing_v21, name);
    assert_true(CRUN_HAS_MEMBER(&t, thing_v21, count));
    assert_false(CRUN_HAS_MEMBER(&t, thing_v21, name));
    t.size = sizeof(thing_v21);
    assert_true(CRUN_HAS_MEMBER(&t, thing_v21, limit));
}

/* A 2.1 host reading a 2.0 sender's struct: its members arrive, the new
 * one keeps its default, and nothing past the 2.0 size is read (the
 * sender's struct sits at the end of a page-sized buffer's data here, and
 * the bytes after it are garbage). */
static void test_older_struct_takes_defaults_for_what_it_lacks(void **state)
{
    (void)state;
    unsigned char buf[sizeof(thing_v21) + 16];
    memset(buf, 0xAB, sizeof(buf));
    thing_v20 old = {.size = sizeof(thing_v20), .count = 3, .name = "x"};
    memcpy(buf, &old, sizeof(old));
    thing_v21 got = {.size = sizeof(thing_v21), .limit = 7};
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(abi_struct_in(&got, sizeof(got), buf, "thing", &err), 0);
    assert_int_equal(got.size, sizeof(thing_v21));
    assert_int_equal(got.count, 3);
    assert_string_equal(got.name, "x");
    assert_int_equal(got.limit, 7);
}

/* A 2.0 host reading a 2.1 sender's struct: fine while the member it does
 * not know is zero (the sender left it at its default), refused when set. */
static void test_newer_struct_is_read_when_its_extra_members_are_zero(void **state)
{
    (void)state;
    thing_v21 newer = {.size = sizeof(thing_v21), .count = 5, .name = "y"};
    thing_v20 got = {.size = sizeof(thing_v20)};
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(abi_struct_in(&got, sizeof(got), &newer, "thing", &err), 0);
    assert_int_equal(got.count, 5);
    assert_int_equal(got.size, sizeof(thing_v20));
    newer.limit = 9;
    assert_int_equal(abi_struct_in(&got, sizeof(got), &newer, "thing", &err), CRUN_EINVAL);
    assert_non_null(strstr(err.message, "thing: members past this crun's ABI"));
    crun_error_clear(&err);
    thing_v20 unset = {0};
    assert_int_equal(abi_struct_in(&got, sizeof(got), &unset, "thing", &err), CRUN_EINVAL);
    assert_non_null(strstr(err.message, "thing: size 0"));
    crun_error_clear(&err);
}

/* --- the real entry points ---------------------------------------------------------- */

typedef struct fixture {
    char dir[64];
    crun_session *s;
    int lines;
} fixture;

static void put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/crun_abi_XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    put(f->dir, "conf/base/pipelines.yml",
        "libraries: {bench: bench}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: make, func: bench.fill, inputs: [params:size], outputs: [a]}\n"
        "      - {name: copy, func: bench.noop, inputs: [a], outputs: [b]}\n");
    put(f->dir, "conf/base/parameters.yml", "size: 4\n");
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
    crun_session_close(f->s);
    int rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static void count_line(void *user, crun_log_level level, const char *line)
{
    (void)level;
    (void)line;
    ((fixture *)user)->lines++;
}

/* Session options that end before log_level (an older program's): the
 * level takes its default, and the garbage after the size is not read
 * (log_fn would be called through a wild pointer). */
static void test_short_session_options_take_defaults(void **state)
{
    fixture *f = *state;
    crun_session_options so;
    memset(&so, 0xAB, sizeof(so));
    so.size = offsetof(crun_session_options, log_level);
    so.project_dir = f->dir;
    so.env = NULL;
    so.params = NULL;
    so.ir_file = NULL;
    so.environ = NULL;
    so.builtin_plugin_dir = CRUN_TEST_PLUGIN_DIRS;
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_session_open(&so, &f->s, &err);
    if (rc)
        fail_msg("crun_session_open: %s", err.message);
    crun_error_clear(&err);
}

static void open_session(fixture *f)
{
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = f->dir;
    so.builtin_plugin_dir = CRUN_TEST_PLUGIN_DIRS;
    so.log_fn = count_line;
    so.log_user = f;
    so.no_hooks = true;
    crun_error err = CRUN_ERROR_INIT;
    if (crun_session_open(&so, &f->s, &err) != 0)
        fail_msg("crun_session_open: %s", err.message);
}

/* Run options that end before params (the members for programs): the run
 * is a plain one, whatever garbage lies where inputs and on_run would be. */
static void test_short_run_options_run_with_defaults(void **state)
{
    fixture *f = *state;
    open_session(f);
    crun_run_options ro;
    memset(&ro, 0xAB, sizeof(ro));
    ro.size = offsetof(crun_run_options, params);
    ro.filter = NULL;
    ro.runner = NULL;
    ro.runner_opts = NULL;
    ro.load_versions = NULL;
    ro.run_id = NULL;
    ro.progress = false;
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_session_run(f->s, &ro, &res, &err);
    if (rc)
        fail_msg("crun_session_run: %s", err.message);
    assert_int_equal(res.nodes_done, 2);
    assert_int_equal(res.n_outputs, 0); /* collect_outputs was not given */
    crun_run_result_clear(&res);
}

/* A short filter (an older program's) reads as far as it goes. */
static void test_short_filter_reads_what_it_has(void **state)
{
    fixture *f = *state;
    open_session(f);
    crun_filter filt;
    memset(&filt, 0xAB, sizeof(filt));
    filt.size = CRUN_SIZE_THROUGH(crun_filter, nodes);
    filt.pipeline = NULL;
    filt.tags = NULL;
    filt.nodes = "make";
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.filter = &filt;
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_session_run(f->s, &ro, &res, &err);
    if (rc)
        fail_msg("crun_session_run: %s", err.message);
    assert_int_equal(res.nodes_total, 1);
    crun_run_result_clear(&res);
}

/* A result that ends after nodes_total: the host writes nothing past it
 * (the canary survives) and frees what it could not hand over (ASan). */
static void test_short_result_is_written_only_as_far_as_its_size(void **state)
{
    fixture *f = *state;
    open_session(f);
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.collect_outputs = true;
    size_t n = CRUN_SIZE_THROUGH(crun_run_result, nodes_total);
    union {
        crun_run_result res;
        unsigned char bytes[sizeof(crun_run_result) + 32];
    } u;
    memset(&u, 0xCD, sizeof(u));
    memset(&u.res, 0, n);
    u.res.size = (uint32_t)n;
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_session_run(f->s, &ro, &u.res, &err);
    if (rc)
        fail_msg("crun_session_run: %s", err.message);
    assert_int_equal(u.res.nodes_done, 2);
    assert_non_null(u.res.run_id);
    for (size_t i = n; i < sizeof(u.bytes); i++)
        assert_int_equal(u.bytes[i], 0xCD);
    crun_run_result_clear(&u.res);
    assert_null(u.res.run_id);
    assert_int_equal(u.res.size, n);
    for (size_t i = n; i < sizeof(u.bytes); i++)
        assert_int_equal(u.bytes[i], 0xCD);
}

/* A newer program's longer options: zero extra members are fine, set ones
 * are refused before anything runs. */
static void test_longer_run_options_need_their_extra_members_zero(void **state)
{
    fixture *f = *state;
    open_session(f);
    struct {
        crun_run_options o;
        uint64_t future;
    } newer;
    memset(&newer, 0, sizeof(newer));
    newer.o.size = sizeof(newer);
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_session_run(f->s, &newer.o, &res, &err), 0);
    crun_run_result_clear(&res);
    newer.future = 1;
    assert_int_equal(crun_session_run(f->s, &newer.o, &res, &err), CRUN_EINVAL);
    assert_non_null(strstr(err.message, "crun_run_options: members past this crun's ABI"));
    assert_null(res.run_id);
    crun_error_clear(&err);
    crun_run_result_clear(&res);
}

/* Options and results without a size are refused, not read. */
static void test_unsized_structs_are_refused(void **state)
{
    fixture *f = *state;
    open_session(f);
    crun_run_options ro = {0};
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_session_run(f->s, &ro, &res, &err), CRUN_EINVAL);
    assert_non_null(strstr(err.message, "crun_run_options: size 0"));
    crun_error_clear(&err);
    ro = (crun_run_options)CRUN_RUN_OPTIONS_INIT;
    crun_run_result unsized = {0};
    assert_int_equal(crun_session_run(f->s, &ro, &unsized, &err), CRUN_EINVAL);
    assert_non_null(strstr(err.message, "CRUN_RUN_RESULT_INIT"));
    crun_error_clear(&err);
    static const crun_hooks_type short_hooks = {.size = offsetof(crun_hooks_type, on)};
    assert_int_equal(crun_session_add_hook(f->s, "short", &short_hooks, NULL, &err), CRUN_EINVAL);
    assert_non_null(strstr(err.message, "hook 'short'"));
    crun_error_clear(&err);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_has_member_reads_the_senders_size),
        cmocka_unit_test(test_older_struct_takes_defaults_for_what_it_lacks),
        cmocka_unit_test(test_newer_struct_is_read_when_its_extra_members_are_zero),
        T(test_short_session_options_take_defaults),
        T(test_short_run_options_run_with_defaults),
        T(test_short_filter_reads_what_it_has),
        T(test_short_result_is_written_only_as_far_as_its_size),
        T(test_longer_run_options_need_their_extra_members_zero),
        T(test_unsized_structs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
