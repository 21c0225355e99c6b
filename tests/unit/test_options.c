/* test_options.c - crun_options: typed access with positions in every
 * complaint, and options built from runner.yml maps (runner/plugin/options.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "plugin/options.h"

typedef struct fixture {
    conf_pool *pool;
    conf_node *runners;
    crun_options *opts;
    crun_error err;
} fixture;

static const char runner_yml[] =
    "default: sequential\n"
    "runners:\n"
    "  sequential: {type: sequential}\n"
    "  parallel:   {type: parallel, max_workers: many, max_worker: 2, ratio: 0.5,\n"
    "               verbose: true, host: 127.0.0.1, grace: ~}\n";

/* Options of runner.yml's "parallel", as the host would build them. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    if (!f || !(f->pool = conf_pool_new()))
        return -1;
    if (conf_parse_string(f->pool, runner_yml, "conf/base/runner.yml", &f->runners, &f->err) != 0)
        return -1;
    conf_node *parallel = conf_get(conf_get(f->runners, "runners"), "parallel");
    if (!(f->opts = options_from_conf(parallel, "runner 'parallel'")))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    crun_options_free(f->opts);
    conf_free(f->runners);
    conf_pool_free(f->pool);
    crun_error_clear(&f->err);
    free(f);
    return 0;
}

static void test_from_conf_keeps_values_and_positions(void **state)
{
    fixture *f = *state;
    assert_string_equal(crun_options_owner(f->opts), "runner 'parallel'");
    assert_true(crun_options_has(f->opts, "max_workers"));
    assert_false(crun_options_has(f->opts, "port"));
    assert_string_equal(crun_options_where(f->opts, "max_workers"), "conf/base/runner.yml:4:32");
    assert_string_equal(crun_options_where(f->opts, "verbose"), "conf/base/runner.yml:5:16");
    /* an unknown key falls back to the map's own position */
    assert_string_equal(crun_options_where(f->opts, "port"), "conf/base/runner.yml:4:15");
    assert_int_equal(json_object_size(crun_options_json(f->opts)), 7);
}

static void test_int_type_error_names_position_and_owner(void **state)
{
    fixture *f = *state;
    int64_t n = 4;
    assert_int_equal(crun_options_int(f->opts, "max_workers", 1, 1024, &n, &f->err), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:4:32: runner 'parallel': option "
                                        "'max_workers': expected an integer from 1 to 1024, got "
                                        "\"many\"");
    assert_int_equal(n, 4);
}

static void test_int_out_of_range_is_refused(void **state)
{
    fixture *f = *state;
    int64_t n = 0;
    assert_int_equal(crun_options_int(f->opts, "max_worker", 5, INT64_MAX, &n, &f->err),
                     CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "expected an integer >= 5, got 2"));
}

static void test_missing_key_keeps_default(void **state)
{
    fixture *f = *state;
    int64_t n = 7;
    const char *s = "dflt";
    assert_int_equal(crun_options_int(f->opts, "port", 1, 65535, &n, &f->err), 0);
    assert_int_equal(n, 7);
    assert_int_equal(crun_options_string(f->opts, "socket", &s, &f->err), 0);
    assert_string_equal(s, "dflt");
}

static void test_null_value_keeps_default(void **state)
{
    fixture *f = *state;
    double grace = 5.0;
    assert_int_equal(crun_options_double(f->opts, "grace", &grace, &f->err), 0);
    assert_true(grace == 5.0);
}

static void test_typed_values_are_read(void **state)
{
    fixture *f = *state;
    double ratio = 0;
    bool verbose = false;
    const char *host = NULL;
    int64_t n = 0;
    assert_int_equal(crun_options_double(f->opts, "ratio", &ratio, &f->err), 0);
    assert_true(ratio == 0.5);
    assert_int_equal(crun_options_bool(f->opts, "verbose", &verbose, &f->err), 0);
    assert_true(verbose);
    assert_int_equal(crun_options_string(f->opts, "host", &host, &f->err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(crun_options_int(f->opts, "max_worker", 1, 10, &n, &f->err), 0);
    assert_int_equal(n, 2);
    /* an integer is also a number */
    assert_int_equal(crun_options_double(f->opts, "max_worker", &ratio, &f->err), 0);
    assert_true(ratio == 2.0);
}

static void test_runner_opt_strings_parse_as_wanted_type(void **state)
{
    fixture *f = *state;
    assert_int_equal(options_set(f->opts, "max_workers", json_string("4"), "--runner-opt"), 0);
    assert_int_equal(options_set(f->opts, "verbose", json_string("false"), "--runner-opt"), 0);
    assert_int_equal(options_set(f->opts, "ratio", json_string("1.5"), "--runner-opt"), 0);
    int64_t n = 0;
    bool verbose = true;
    double ratio = 0;
    assert_int_equal(crun_options_int(f->opts, "max_workers", 1, 1024, &n, &f->err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(crun_options_bool(f->opts, "verbose", &verbose, &f->err), 0);
    assert_false(verbose);
    assert_int_equal(crun_options_double(f->opts, "ratio", &ratio, &f->err), 0);
    assert_true(ratio == 1.5);
    assert_string_equal(crun_options_where(f->opts, "max_workers"), "--runner-opt");
}

static void test_bad_bool_string_is_refused(void **state)
{
    fixture *f = *state;
    bool b = false;
    assert_int_equal(options_set(f->opts, "verbose", json_string("maybe"), "--runner-opt"), 0);
    assert_int_equal(crun_options_bool(f->opts, "verbose", &b, &f->err), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "--runner-opt: runner 'parallel': option 'verbose': "
                                        "expected true or false, got \"maybe\"");
}

static void test_string_option_refuses_a_number(void **state)
{
    fixture *f = *state;
    const char *s = NULL;
    assert_int_equal(crun_options_string(f->opts, "ratio", &s, &f->err), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "option 'ratio': expected a string, got 0.5"));
}

static void test_check_known_suggests_closest(void **state)
{
    fixture *f = *state;
    static const char *const known[] = {"type", "max_workers", "ratio", "verbose", "host",
                                        "grace", NULL};
    assert_int_equal(crun_options_check_known(f->opts, known, &f->err), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:4:51: option 'max_worker' is not "
                                        "known to runner 'parallel' (did you mean 'max_workers'?)");
}

static void test_remove_forgets_key(void **state)
{
    fixture *f = *state;
    static const char *const known[] = {"max_workers", "max_worker", "ratio", "verbose", "host",
                                        "grace", NULL};
    options_remove(f->opts, "type");
    options_remove(f->opts, "not-there");
    assert_false(crun_options_has(f->opts, "type"));
    assert_int_equal(crun_options_check_known(f->opts, known, &f->err), 0);
}

static void test_new_copies_object_and_uses_origin(void **state)
{
    fixture *f = *state;
    json_t *obj = json_pack("{s:i}", "port", 0);
    crun_options *o = crun_options_new(obj, "runner 'service'", "IR");
    assert_non_null(o);
    assert_int_equal(options_set(o, "host", json_string("h"), NULL), 0);
    assert_null(json_object_get(obj, "host")); /* the caller's object is untouched */
    json_decref(obj);
    int64_t port = 8080;
    assert_int_equal(crun_options_int(o, "port", 1, 65535, &port, &f->err), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "IR: runner 'service': option 'port': expected an integer "
                                        "from 1 to 65535, got 0");
    json_t *arr = json_array();
    assert_null(crun_options_new(arr, "x", "y")); /* refused: not an object */
    json_decref(arr);
    crun_options_free(o);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_from_conf_keeps_values_and_positions),
        T(test_int_type_error_names_position_and_owner),
        T(test_int_out_of_range_is_refused),
        T(test_missing_key_keeps_default),
        T(test_null_value_keeps_default),
        T(test_typed_values_are_read),
        T(test_runner_opt_strings_parse_as_wanted_type),
        T(test_bad_bool_string_is_refused),
        T(test_string_option_refuses_a_number),
        T(test_check_known_suggests_closest),
        T(test_remove_forgets_key),
        T(test_new_copies_object_and_uses_origin),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
