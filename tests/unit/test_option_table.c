/* test_option_table.c - crun_options_read: a plugin's options declared once in
 * a table of crun_option and read, checked and stored into its config struct
 * in one call (crun/options.h), and the table described for `crun plugin info`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/options.h"

/* A plugin's config struct, one member per option type. */
typedef struct config {
    int64_t workers;
    double ratio;
    bool verbose;
    const char *host;
    const char *mode;
    double grace;
    int64_t limit;
    json_t *tags;
    json_t *extra;
    int64_t retries; /* no default: keeps what the caller put there */
} config;

static const char *const modes[] = {"fast", "slow", "careful", NULL};

#define AT(field) .offset = offsetof(config, field)
static const crun_option table[] = {
    {.name = "workers", .type = CRUN_OPTION_INT, .def = "4", .min = 1, .max = 64,
     .doc = "threads", AT(workers)},
    {.name = "ratio", .type = CRUN_OPTION_DOUBLE, .def = "0.5", .min = 0, .max = 1,
     .doc = "share", AT(ratio)},
    {.name = "verbose", .type = CRUN_OPTION_BOOL, .def = "true", .doc = "talk", AT(verbose)},
    {.name = "host", .type = CRUN_OPTION_STRING, .def = "127.0.0.1",
     .flags = CRUN_OPTION_NONEMPTY, .doc = "where", AT(host)},
    {.name = "mode", .type = CRUN_OPTION_CHOICE, .def = "slow", .choices = modes, .doc = "how",
     AT(mode)},
    {.name = "grace", .type = CRUN_OPTION_DURATION, .def = "2m", .min = 0, .max = INFINITY,
     .doc = "wait", AT(grace)},
    {.name = "limit", .type = CRUN_OPTION_SIZE, .def = "1k", .min = 1, .max = 1 << 30,
     .doc = "bytes", AT(limit)},
    {.name = "tags", .type = CRUN_OPTION_STRING_LIST, .doc = "labels", AT(tags)},
    {.name = "extra", .type = CRUN_OPTION_JSON, .doc = "anything", AT(extra)},
    {.name = "retries", .type = CRUN_OPTION_INT, .min = 0, .max = 10, .doc = "again",
     AT(retries)},
};
enum { N = CRUN_OPTION_COUNT(table) };

typedef struct fixture {
    conf_pool *pool;
    conf_node *root;
    crun_options *opts;
    crun_error err;
    config cfg;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    if (!f || !(f->pool = conf_pool_new()))
        return -1;
    f->cfg.retries = 3;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    crun_options_free(f->opts);
    conf_free(f->root);
    conf_pool_free(f->pool);
    crun_error_clear(&f->err);
    free(f);
    return 0;
}

/* Options of runner 'r' from a YAML map written in conf/base/runner.yml. */
static crun_options *options_from(fixture *f, const char *yaml)
{
    assert_int_equal(conf_parse_string(f->pool, yaml, "conf/base/runner.yml", &f->root, &f->err),
                     0);
    f->opts = options_from_conf(f->root, "runner 'r'");
    assert_non_null(f->opts);
    return f->opts;
}

static int read_table(fixture *f)
{
    return crun_options_read(f->opts, table, N, &f->cfg, &f->err);
}

static void test_every_type_is_read_into_its_member(void **state)
{
    fixture *f = *state;
    options_from(f, "workers: 8\nratio: 0.25\nverbose: false\nhost: example.org\n"
                    "mode: careful\ngrace: 500ms\nlimit: 10M\ntags: [a, b]\n"
                    "extra: {k: 1}\nretries: 0\n");
    assert_int_equal(read_table(f), 0);
    assert_int_equal(f->cfg.workers, 8);
    assert_true(f->cfg.ratio == 0.25);
    assert_false(f->cfg.verbose);
    assert_string_equal(f->cfg.host, "example.org");
    assert_ptr_equal(f->cfg.mode, modes[2]); /* the table's own string */
    assert_true(fabs(f->cfg.grace - 0.5) < 1e-12);
    assert_int_equal(f->cfg.limit, 10 * 1024 * 1024);
    assert_int_equal(json_array_size(f->cfg.tags), 2);
    assert_string_equal(json_string_value(json_array_get(f->cfg.tags, 1)), "b");
    assert_int_equal(json_integer_value(json_object_get(f->cfg.extra, "k")), 1);
    assert_int_equal(f->cfg.retries, 0);
}

static void test_defaults_apply_to_unset_options(void **state)
{
    fixture *f = *state;
    options_from(f, "{}\n");
    assert_int_equal(read_table(f), 0);
    assert_int_equal(f->cfg.workers, 4);
    assert_true(f->cfg.ratio == 0.5);
    assert_true(f->cfg.verbose);
    assert_ptr_equal(f->cfg.host, table[3].def);
    assert_string_equal(f->cfg.mode, "slow");
    assert_true(f->cfg.grace == 120);
    assert_int_equal(f->cfg.limit, 1024);
    assert_null(f->cfg.tags);
    assert_null(f->cfg.extra);
    assert_int_equal(f->cfg.retries, 3); /* no default: the caller's value stays */
}

static void test_null_value_means_the_default(void **state)
{
    fixture *f = *state;
    options_from(f, "workers: ~\ngrace: ~\n");
    assert_int_equal(read_table(f), 0);
    assert_int_equal(f->cfg.workers, 4);
    assert_true(f->cfg.grace == 120);
}

static void test_runner_opt_strings_read_as_each_type(void **state)
{
    fixture *f = *state;
    options_from(f, "{}\n");
    assert_int_equal(options_set(f->opts, "workers", json_string("16"), "--runner-opt"), 0);
    assert_int_equal(options_set(f->opts, "verbose", json_string("false"), "--runner-opt"), 0);
    assert_int_equal(options_set(f->opts, "ratio", json_string("0.75"), "--runner-opt"), 0);
    assert_int_equal(options_set(f->opts, "grace", json_string("1.5h"), "--runner-opt"), 0);
    assert_int_equal(options_set(f->opts, "limit", json_string("64KiB"), "--runner-opt"), 0);
    assert_int_equal(read_table(f), 0);
    assert_int_equal(f->cfg.workers, 16);
    assert_false(f->cfg.verbose);
    assert_true(f->cfg.ratio == 0.75);
    assert_true(f->cfg.grace == 5400);
    assert_int_equal(f->cfg.limit, 64 * 1024);
}

static void test_out_of_range_names_file_line_col(void **state)
{
    fixture *f = *state;
    options_from(f, "host: h\nworkers: 65\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:2:1: runner 'r': option 'workers': "
                                        "expected an integer from 1 to 64, got 65");
}

static void test_one_sided_range_is_described(void **state)
{
    fixture *f = *state;
    options_from(f, "grace: -1s\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:1:1: runner 'r': option 'grace': "
                                        "expected a number of seconds >= 0 (or 500ms, 2m, "
                                        "1h...), got \"-1s\"");
}

static void test_wrong_type_names_file_line_col(void **state)
{
    fixture *f = *state;
    options_from(f, "workers: 2\nverbose: sometimes\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:2:1: runner 'r': option 'verbose': "
                                        "expected true or false, got \"sometimes\"");
}

static void test_string_refuses_a_list_and_an_empty_string(void **state)
{
    fixture *f = *state;
    options_from(f, "host: [a, b]\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, ":1:1: runner 'r': option 'host': expected a "
                                           "non-empty string, got [\"a\",\"b\"]"));
    crun_error_clear(&f->err);
    assert_int_equal(options_set(f->opts, "host", json_string(""), "--runner-opt"), 0);
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "expected a non-empty string, got \"\""));
}

static void test_string_list_refuses_other_items(void **state)
{
    fixture *f = *state;
    options_from(f, "tags: [a, 1]\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:1:1: runner 'r': option 'tags': "
                                        "expected a list of strings, got [\"a\",1]");
}

static void test_choice_refused_with_suggestion(void **state)
{
    fixture *f = *state;
    options_from(f, "mode: fsat\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:1:1: runner 'r': option 'mode': "
                                        "expected one of 'fast', 'slow', 'careful', got \"fsat\" "
                                        "(did you mean 'fast'?)");
}

static void test_bad_duration_and_size_are_refused(void **state)
{
    fixture *f = *state;
    options_from(f, "grace: 5 parsecs\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "option 'grace': expected a number of seconds"));
    crun_error_clear(&f->err);
    assert_int_equal(options_set(f->opts, "grace", json_string("1s"), NULL), 0);
    assert_int_equal(options_set(f->opts, "limit", json_string("10X"), NULL), 0);
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "option 'limit': expected a number of bytes from 1 to "
                                           "1073741824 (or 64k, 10M, 1G...), got \"10X\""));
}

static void test_unknown_key_suggests_closest(void **state)
{
    fixture *f = *state;
    options_from(f, "workers: 2\nverbos: true\n");
    assert_int_equal(read_table(f), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:2:1: option 'verbos' is not known "
                                        "to runner 'r' (did you mean 'verbose'?)");
    assert_int_equal(f->cfg.workers, 0); /* refused before anything is stored */
}

static void test_required_option_names_the_map(void **state)
{
    static const crun_option need_path[] = {
        {.name = "path", .type = CRUN_OPTION_STRING, .flags = CRUN_OPTION_REQUIRED,
         .offset = offsetof(config, host)},
    };
    fixture *f = *state;
    options_from(f, "\n\n  {}\n");
    assert_int_equal(crun_options_read(f->opts, need_path, 1, &f->cfg, &f->err), CRUN_ECONFIG);
    assert_string_equal(f->err.message,
                        "conf/base/runner.yml:3:3: runner 'r': option 'path' is required");
}

static void test_no_table_refuses_every_key(void **state)
{
    fixture *f = *state;
    options_from(f, "workers: 2\n");
    assert_int_equal(crun_options_read(f->opts, NULL, 0, NULL, &f->err), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/runner.yml:1:1: option 'workers' is not "
                                        "known to runner 'r'");
    crun_options_free(f->opts);
    f->opts = crun_options_new(NULL, "runner 'r'", "IR");
    assert_int_equal(crun_options_read(f->opts, NULL, 0, NULL, &f->err), 0);
}

static void test_bad_default_is_the_plugins_fault(void **state)
{
    static const crun_option bad[] = {
        {.name = "workers", .type = CRUN_OPTION_INT, .def = "many", .min = 1, .max = 8,
         .offset = offsetof(config, workers)},
    };
    fixture *f = *state;
    options_from(f, "{}\n");
    assert_int_equal(crun_options_read(f->opts, bad, 1, &f->cfg, &f->err), CRUN_EINVAL);
    assert_string_equal(f->err.message, "runner 'r': option 'workers': the plugin's default "
                                        "'many' is not an integer from 1 to 8");
}

static void test_table_json_describes_each_option(void **state)
{
    (void)state;
    json_t *a = options_table_json(table, N);
    assert_int_equal(json_array_size(a), N);
    json_t *workers = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(workers, "type")), "int");
    assert_string_equal(json_string_value(json_object_get(workers, "default")), "4");
    assert_int_equal(json_integer_value(json_object_get(workers, "min")), 1);
    assert_int_equal(json_integer_value(json_object_get(workers, "max")), 64);
    assert_string_equal(json_string_value(json_object_get(workers, "doc")), "threads");
    json_t *mode = json_array_get(a, 4);
    assert_string_equal(json_string_value(json_object_get(mode, "type")), "choice");
    assert_string_equal(json_string_value(json_array_get(json_object_get(mode, "choices"), 2)),
                        "careful");
    json_t *grace = json_array_get(a, 5);
    assert_non_null(json_object_get(grace, "min"));
    assert_null(json_object_get(grace, "max")); /* unbounded above */
    json_t *retries = json_array_get(a, 9);
    assert_true(json_is_null(json_object_get(retries, "default")));
    json_decref(a);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_type_is_read_into_its_member),
        T(test_defaults_apply_to_unset_options),
        T(test_null_value_means_the_default),
        T(test_runner_opt_strings_read_as_each_type),
        T(test_out_of_range_names_file_line_col),
        T(test_one_sided_range_is_described),
        T(test_wrong_type_names_file_line_col),
        T(test_string_refuses_a_list_and_an_empty_string),
        T(test_string_list_refuses_other_items),
        T(test_choice_refused_with_suggestion),
        T(test_bad_duration_and_size_are_refused),
        T(test_unknown_key_suggests_closest),
        T(test_required_option_names_the_map),
        T(test_no_table_refuses_every_key),
        T(test_bad_default_is_the_plugins_fault),
        T(test_table_json_describes_each_option),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
