/* test_datasets.c - the built-in dataset plugins (memory, text, bytes, json)
 * exercised through the plugin ABI, exactly as the host sees them.
 *
 * The plugins are dlopen()ed from the build folders listed in
 * CRUN_TEST_PLUGIN_DIRS (colon-separated; the environment wins over the
 * compile-time default) and driven through their crun_dataset_type table.
 * Each test gets a fresh project folder from mkdtemp, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crun/dataset.h"
#include "fixture_dataset.h"

enum { MEMORY, TEXT, BYTES, JSON, NPLUGINS };
static const char *const plugin_names[NPLUGINS] = {"memory", "text", "bytes", "json"};

typedef struct fixture {
    fixture_dataset plugins[NPLUGINS];
    char dir[FIXTURE_DIR_SIZE];
    crun_dataset_ctx ctx; /* outlives every instance a test makes */
} fixture;

static int group_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    *state = f;
    for (int i = 0; f && i < NPLUGINS; i++)
        if (fixture_dataset_open(&f->plugins[i], plugin_names[i]) != 0)
            return -1;
    return f ? 0 : -1;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; f && i < NPLUGINS; i++)
        fixture_dataset_close(&f->plugins[i]);
    free(f);
    return 0;
}

static int setup(void **state)
{
    fixture *f = *state;
    f->ctx = (crun_dataset_ctx){.size = sizeof(crun_dataset_ctx), .name = "x",
                                .project_dir = f->dir};
    return fixture_tmpdir(f->dir, "datasets");
}

static int teardown(void **state)
{
    fixture *f = *state;
    return fixture_rmtree(f->dir);
}

/* --- helpers ----------------------------------------------------------------- */

/* --- helpers ----------------------------------------------------------------- */

typedef struct dataset {
    const crun_dataset_type *type;
    void *instance;
} dataset;

static const crun_dataset_type *type_of(const fixture *f, int plugin)
{
    return f->plugins[plugin].type;
}

/* Create an instance with options given as JSON text; returns the code and
 * leaves the message in err. */
static int try_create(fixture *f, int plugin, const char *options, dataset *ds, crun_error *err)
{
    ds->type = type_of(f, plugin);
    return fixture_dataset_create_with(ds->type, &f->ctx, options, &ds->instance, err);
}

static dataset create(fixture *f, int plugin, const char *options)
{
    dataset ds;
    crun_error err = CRUN_ERROR_INIT;
    int rc = try_create(f, plugin, options, &ds, &err);
    if (rc != 0)
        fail_msg("create: %s", err.message);
    return ds;
}

static void save_ok(dataset *ds, crun_value *v)
{
    crun_error err = CRUN_ERROR_INIT;
    int rc = ds->type->save(ds->instance, v, &err);
    if (rc != 0)
        fail_msg("save: %s", err.message);
    crun_value_unref(v);
}

static crun_value *load_ok(dataset *ds)
{
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = ds->type->load(ds->instance, &v, &err);
    if (rc != 0)
        fail_msg("load: %s", err.message);
    return v;
}

static void count_destroy(void *ptr)
{
    (*(int *)ptr)++;
}

/* --- the descriptors ---------------------------------------------------------- */

static void test_plugins_are_dataset_plugins_of_this_abi(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < NPLUGINS; i++) {
        const crun_plugin *p = f->plugins[i].plugin;
        assert_int_equal(p->magic, CRUN_PLUGIN_MAGIC);
        assert_int_equal(p->abi_major, CRUN_ABI_MAJOR);
        assert_int_equal(p->kind, CRUN_PLUGIN_DATASET);
        assert_string_equal(p->name, plugin_names[i]);
        assert_string_equal(p->version, "1.0.0");
        assert_int_equal(type_of(f, i)->size, sizeof(crun_dataset_type));
    }
    assert_true(type_of(f, MEMORY)->flags & CRUN_DATASET_IN_MEMORY);
    assert_false(type_of(f, JSON)->flags & CRUN_DATASET_IN_MEMORY);
}

/* --- memory -------------------------------------------------------------------- */

static void test_memory_dataset_load_before_save_names_dataset(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, MEMORY, "{}");
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->load(ds.instance, &v, &err), &err, CRUN_ENOENT,
                 "dataset 'x': no value has been saved yet");
    assert_null(v);
    ds.type->destroy(ds.instance);
}

static void test_memory_dataset_load_shares_saved_value(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, MEMORY, "{}");
    crun_value *v = crun_value_json_new(json_integer(42));
    save_ok(&ds, crun_value_ref(v));
    crun_value *got = load_ok(&ds);
    assert_ptr_equal(got, v);
    crun_value_unref(got);
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_memory_dataset_save_replaces_value(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, MEMORY, "{}");
    int destroyed = 0;
    save_ok(&ds, crun_value_opaque_new(&destroyed, count_destroy, "counter"));
    save_ok(&ds, crun_value_json_new(json_true()));
    assert_int_equal(destroyed, 1);
    crun_value *got = load_ok(&ds);
    assert_true(json_is_true(crun_value_json(got)));
    crun_value_unref(got);
    ds.type->destroy(ds.instance);
}

static void test_memory_dataset_release_drops_value(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, MEMORY, "{}");
    int destroyed = 0;
    bool exists = false;
    save_ok(&ds, crun_value_opaque_new(&destroyed, count_destroy, "counter"));
    assert_int_equal(ds.type->exists(ds.instance, &exists, NULL), 0);
    assert_true(exists);
    ds.type->release(ds.instance);
    assert_int_equal(destroyed, 1);
    assert_int_equal(ds.type->exists(ds.instance, &exists, NULL), 0);
    assert_false(exists);
    ds.type->destroy(ds.instance);
}

static void test_memory_dataset_refuses_copy_mode(void **state)
{
    fixture *f = *state;
    dataset ds;
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(try_create(f, MEMORY, "{\"copy_mode\": \"deepcopy\"}", &ds, &err), &err,
                 CRUN_ECONFIG, "copy_mode");
}

/* --- text ---------------------------------------------------------------------- */

static void test_text_dataset_round_trip(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, TEXT, "{\"filepath\": \"data/notes.txt\"}");
    save_ok(&ds, crun_value_bytes_new("h\xc3\xa9llo\n", 7, NULL));
    crun_value *v = load_ok(&ds);
    size_t len = 0;
    assert_memory_equal(crun_value_bytes(v, &len), "h\xc3\xa9llo\n", 7);
    assert_int_equal(len, 7);
    assert_string_equal(crun_value_media_type(v), "text/plain; charset=utf-8");
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_text_dataset_saves_json_string(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, TEXT, "{\"filepath\": \"report.md\"}");
    save_ok(&ds, crun_value_json_new(json_string("# Report\n")));
    char *text = fixture_read(f->dir, "report.md");
    assert_string_equal(text, "# Report\n");
    free(text);
    ds.type->destroy(ds.instance);
}

static void test_text_dataset_refuses_table(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, TEXT, "{\"filepath\": \"t.txt\"}");
    crun_value *v = crun_value_table_new(crun_table_new(0));
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->save(ds.instance, v, &err), &err, CRUN_EDATA,
                 "dataset 'x': cannot save a table as text");
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_text_dataset_invalid_utf8_names_dataset_and_file(void **state)
{
    fixture *f = *state;
    fixture_putn(f->dir, "data/latin1.txt", "caf\xe9", 4);
    dataset ds = create(f, TEXT, "{\"filepath\": \"data/latin1.txt\"}");
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->load(ds.instance, &v, &err), &err, CRUN_EDATA,
                 "data/latin1.txt: invalid UTF-8 at byte 3");
    assert_null(v);
    ds.type->destroy(ds.instance);
}

static void test_text_dataset_requires_filepath(void **state)
{
    fixture *f = *state;
    dataset ds;
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(try_create(f, TEXT, "{}", &ds, &err), &err, CRUN_ECONFIG,
                 "dataset 'x': option 'filepath' is required");
}

static void test_text_dataset_refuses_other_encodings(void **state)
{
    fixture *f = *state;
    dataset ds;
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(try_create(f, TEXT, "{\"filepath\": \"a\", \"encoding\": \"latin-1\"}", &ds, &err),
                 &err, CRUN_ECONFIG, "only utf-8 is supported, got 'latin-1'");
    ds = create(f, TEXT, "{\"filepath\": \"a\", \"encoding\": \"UTF-8\"}");
    ds.type->destroy(ds.instance);
}

static void test_text_save_file_refuses_invalid_utf8_and_removes_temp(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, TEXT, "{\"filepath\": \"out.txt\"}");
    fixture_putn(f->dir, ".out.txt.tmp", "\xff", 1);
    char *tmp = fixture_path(f->dir, ".out.txt.tmp");
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->save_file(ds.instance, tmp, &err), &err, CRUN_EDATA, "invalid UTF-8");
    assert_int_equal(access(tmp, F_OK), -1);
    free(tmp);
    ds.type->destroy(ds.instance);
}

/* --- bytes --------------------------------------------------------------------- */

static void test_bytes_dataset_round_trip_binary(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, BYTES, "{\"filepath\": \"data/06_models/m.bin\"}");
    save_ok(&ds, crun_value_bytes_new("\0\xff\x01", 3, "application/x-model"));
    crun_value *v = load_ok(&ds);
    size_t len = 0;
    assert_memory_equal(crun_value_bytes(v, &len), "\0\xff\x01", 3);
    assert_int_equal(len, 3);
    assert_string_equal(crun_value_media_type(v), "application/octet-stream");
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_bytes_dataset_refuses_json_value(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, BYTES, "{\"filepath\": \"m.bin\"}");
    crun_value *v = crun_value_json_new(json_object());
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->save(ds.instance, v, &err), &err, CRUN_EDATA,
                 "dataset 'x': cannot save a json value as bytes");
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_bytes_dataset_missing_file_names_dataset_and_file(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, BYTES, "{\"filepath\": \"data/01_raw/x.csv\"}");
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = ds.type->load(ds.instance, &v, &err);
    assert_non_null(strstr(err.message, "dataset 'x': "));
    fixture_expect_error(rc, &err, CRUN_ENOENT, "data/01_raw/x.csv: No such file or directory");
    ds.type->destroy(ds.instance);
}

/* --- json ---------------------------------------------------------------------- */

static void test_json_dataset_writes_indented_in_insertion_order(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"m.json\"}");
    save_ok(&ds, crun_value_json_new(json_pack("{s:i,s:i}", "zeta", 1, "alpha", 2)));
    char *text = fixture_read(f->dir, "m.json");
    assert_string_equal(text, "{\n  \"zeta\": 1,\n  \"alpha\": 2\n}\n");
    free(text);
    ds.type->destroy(ds.instance);
}

static void test_json_dataset_writes_reals_short_and_exact(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"m.json\", \"indent\": 0}");
    save_ok(&ds, crun_value_json_new(json_pack("{s:f}", "r2", 0.1)));
    char *text = fixture_read(f->dir, "m.json");
    assert_string_equal(text, "{\"r2\": 0.1}\n");
    free(text);
    ds.type->destroy(ds.instance);
}

static void test_json_dataset_honours_indent_option(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"m.json\", \"indent\": 4}");
    save_ok(&ds, crun_value_json_new(json_pack("[i]", 1)));
    char *text = fixture_read(f->dir, "m.json");
    assert_string_equal(text, "[\n    1\n]\n");
    free(text);
    ds.type->destroy(ds.instance);
}

static void test_json_dataset_refuses_bad_indent(void **state)
{
    fixture *f = *state;
    dataset ds;
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(try_create(f, JSON, "{\"filepath\": \"m.json\", \"indent\": \"two\"}", &ds, &err),
                 &err, CRUN_ECONFIG, "indent");
}

static void test_json_dataset_round_trip_any_value(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"n.json\"}");
    save_ok(&ds, crun_value_json_new(json_integer(7)));
    crun_value *v = load_ok(&ds);
    assert_int_equal(json_integer_value(crun_value_json(v)), 7);
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_json_dataset_saves_table_as_columns_and_rows(void **state)
{
    fixture *f = *state;
    crun_table *t = crun_table_new(1);
    crun_table_add_column(t, "n", CRUN_COLUMN_INT64);
    crun_table_set_rows(t, 2);
    crun_table_set_int64(t, 0, 0, 5);
    dataset ds = create(f, JSON, "{\"filepath\": \"t.json\", \"indent\": 0}");
    save_ok(&ds, crun_value_table_new(t));
    char *text = fixture_read(f->dir, "t.json");
    assert_string_equal(text, "{\"columns\": [\"n\"], \"rows\": [[5], [null]]}\n");
    free(text);
    ds.type->destroy(ds.instance);
}

/* --- tables saved as JSON: streamed, the same text as the tree's --- */

/* The text the json dataset wrote before it streamed tables: jansson's
 * tree of the table (crun_value_to_json) through crun_json_dumps. */
static char *tree_text(crun_value *v, int indent)
{
    json_t *json = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_value_to_json(v, &json, &err), 0);
    char *text = crun_json_dumps(json, JSON_INDENT(indent) | JSON_ENCODE_ANY);
    json_decref(json);
    assert_non_null(text);
    char *line = NULL;
    assert_true(asprintf(&line, "%s\n", text) > 0);
    free(text);
    return line;
}

/* Save v with the json dataset at each indent and compare with the tree's text. */
static void expect_same_text_as_tree(fixture *f, crun_value *v)
{
    static const int indents[] = {0, 1, 2, 4};
    for (size_t i = 0; i < sizeof(indents) / sizeof(indents[0]); i++) {
        char options[128];
        snprintf(options, sizeof(options), "{\"filepath\": \"t%zu.json\", \"indent\": %d}", i,
                 indents[i]);
        dataset ds = create(f, JSON, options);
        save_ok(&ds, crun_value_ref(v));
        char name[16];
        snprintf(name, sizeof(name), "t%zu.json", i);
        char *got = fixture_read(f->dir, name), *want = tree_text(v, indents[i]);
        assert_string_equal(got, want);
        free(got);
        free(want);
        ds.type->destroy(ds.instance);
    }
    crun_value_unref(v);
}

static void test_json_table_text_equals_the_tree_writers(void **state)
{
    fixture *f = *state;
    static const double reals[] = {0.1, 1e20, 1e-5, -0.0, 1.5, 3.0, 1.0 / 3.0, 5e-324,
                                   1.7976931348623157e308, 123456789012345678.0, -2.5e-300,
                                   0.30000000000000004, 100.0, 1e16};
    static const char *const strings[] = {"plain", "", "say \"hi\"", "back\\slash", "tab\there",
                                          "line\nbreak\r", "\x01\x1f ctl", "caf\xc3\xa9",
                                          "\xf0\x9f\x98\x80", "a/b", "\x7f del"};
    size_t rows = sizeof(reals) / sizeof(reals[0]) + 3;
    crun_table *t = crun_table_new(rows);
    crun_table_add_column(t, "id", CRUN_COLUMN_INT64);
    crun_table_add_column(t, "x \"quoted\"\t", CRUN_COLUMN_DOUBLE);
    crun_table_add_column(t, "na\xc3\xafve", CRUN_COLUMN_STRING);
    crun_table_set_rows(t, rows);
    const double nan = strtod("nan", NULL), inf = strtod("inf", NULL);
    for (size_t r = 0; r < rows; r++) {
        int64_t id = r == 0 ? INT64_MIN : r == 1 ? INT64_MAX : (int64_t)r - 7;
        crun_table_set_int64(t, 0, r, id);
        size_t nr = sizeof(reals) / sizeof(reals[0]);
        crun_table_set_double(t, 1, r, r < nr ? reals[r] : r == nr ? nan : r == nr + 1 ? inf : -inf);
        crun_table_set_string(t, 2, r, strings[r % (sizeof(strings) / sizeof(strings[0]))]);
    }
    crun_table_set_missing(t, 0, 3);
    crun_table_set_missing(t, 1, 4);
    crun_table_set_missing(t, 2, 5);
    expect_same_text_as_tree(f, crun_value_table_new(t));
    /* reals that all read back with 15 digits: the document's precision is 15 */
    t = crun_table_new(2);
    crun_table_add_column(t, "p", CRUN_COLUMN_DOUBLE);
    crun_table_set_rows(t, 2);
    crun_table_set_double(t, 0, 0, 0.1);
    crun_table_set_double(t, 0, 1, 2.675);
    expect_same_text_as_tree(f, crun_value_table_new(t));
    /* no rows; no columns */
    t = crun_table_new(0);
    crun_table_add_column(t, "empty", CRUN_COLUMN_STRING);
    expect_same_text_as_tree(f, crun_value_table_new(t));
    t = crun_table_new(2);
    crun_table_set_rows(t, 2);
    expect_same_text_as_tree(f, crun_value_table_new(t));
}

/* Many rows: the text crosses the writer's buffer many times. */
static void test_json_table_text_equals_the_tree_writers_for_many_rows(void **state)
{
    fixture *f = *state;
    size_t rows = 20000;
    crun_table *t = crun_table_new(rows);
    crun_table_add_column(t, "n", CRUN_COLUMN_INT64);
    crun_table_add_column(t, "v", CRUN_COLUMN_DOUBLE);
    crun_table_add_column(t, "s", CRUN_COLUMN_STRING);
    crun_table_set_rows(t, rows);
    for (size_t r = 0; r < rows; r++) {
        char s[32];
        snprintf(s, sizeof(s), "row %zu%s", r, r % 7 ? "" : " \"q\"");
        crun_table_set_int64(t, 0, r, (int64_t)(r * 7919));
        crun_table_set_double(t, 1, r, (double)r / 7.0);
        crun_table_set_string(t, 2, r, s);
    }
    expect_same_text_as_tree(f, crun_value_table_new(t));
}

/* A string that is not UTF-8 has no JSON form: the save fails, the file
 * keeps its previous content and no temporary file is left. */
static void test_json_table_with_invalid_utf8_fails_leaving_the_previous_file(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"t.json\"}");
    save_ok(&ds, crun_value_json_new(json_string("before")));
    crun_table *t = crun_table_new(2);
    crun_table_add_column(t, "s", CRUN_COLUMN_STRING);
    crun_table_set_rows(t, 2);
    crun_table_set_string(t, 0, 0, "fine");
    crun_table_set_string(t, 0, 1, "bad \xff byte");
    crun_value *v = crun_value_table_new(t);
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->save(ds.instance, v, &err), &err, CRUN_EDATA,
                         "dataset 'x': cannot save the table as JSON: a string is not valid UTF-8");
    crun_value_unref(v);
    char *text = fixture_read(f->dir, "t.json");
    assert_string_equal(text, "\"before\"\n");
    free(text);
    char path[FIXTURE_DIR_SIZE + 32];
    snprintf(path, sizeof(path), "%s/.t.json.tmp-crun", f->dir);
    assert_int_equal(access(path, F_OK), -1);
    ds.type->destroy(ds.instance);
}

/* The save of a table takes little memory beyond the table (the tree took
 * about ten times the table): in a child process, the peak RSS grows by
 * less than half the table's size over the save. */
static void test_json_table_save_takes_little_more_than_the_table(void **state)
{
    fixture *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t rows = 400000; /* 3 columns: about 16 MB with the strings */
        crun_table *t = crun_table_new(rows);
        crun_table_add_column(t, "n", CRUN_COLUMN_INT64);
        crun_table_add_column(t, "v", CRUN_COLUMN_DOUBLE);
        crun_table_add_column(t, "s", CRUN_COLUMN_STRING);
        crun_table_set_rows(t, rows);
        for (size_t r = 0; r < rows; r++) {
            char s[32];
            snprintf(s, sizeof(s), "name %zu", r);
            crun_table_set_int64(t, 0, r, (int64_t)r);
            crun_table_set_double(t, 1, r, (double)r * 0.25);
            crun_table_set_string(t, 2, r, s);
        }
        crun_value *v = crun_value_table_new(t);
        dataset ds = create(f, JSON, "{\"filepath\": \"big.json\"}");
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        crun_error err = CRUN_ERROR_INIT;
        int rc = ds.type->save(ds.instance, v, &err);
        getrusage(RUSAGE_SELF, &after);
        long grown_kb = after.ru_maxrss - before.ru_maxrss;
        if (rc != 0 || grown_kb > 8 * 1024) {
            fprintf(stderr, "save: rc %d, peak RSS grew by %ld KiB (at most 8 MiB expected)\n",
                    rc, grown_kb);
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_json_dataset_saves_bytes_holding_json(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"b.json\", \"indent\": 0}");
    save_ok(&ds, crun_value_bytes_new("[true]", 6, NULL));
    crun_value *bad = crun_value_bytes_new("[tru", 4, NULL);
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->save(ds.instance, bad, &err), &err, CRUN_EDATA,
                 "dataset 'x': cannot save a bytes value as JSON: 1:");
    crun_value_unref(bad);
    char *text = fixture_read(f->dir, "b.json");
    assert_string_equal(text, "[true]\n");
    free(text);
    ds.type->destroy(ds.instance);
}

static void test_json_dataset_invalid_file_names_dataset_and_position(void **state)
{
    fixture *f = *state;
    f->ctx.name = "metrics";
    const char *text = "{\n  \"a\": 1,\n  \"b\" 2\n}\n"; /* line 3: a ':' is missing */
    fixture_putn(f->dir, "data/metrics.json", text, strlen(text));
    dataset ds = create(f, JSON, "{\"filepath\": \"data/metrics.json\"}");
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = ds.type->load(ds.instance, &v, &err);
    assert_non_null(strstr(err.message, "dataset 'metrics': "));
    fixture_expect_error(rc, &err, CRUN_EDATA, "data/metrics.json:3:7: invalid JSON: ");
    ds.type->destroy(ds.instance);
}

static void test_json_save_file_refuses_invalid_json_and_removes_temp(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"out.json\"}");
    fixture_putn(f->dir, ".out.json.tmp", "{oops", 5);
    char *tmp = fixture_path(f->dir, ".out.json.tmp");
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->save_file(ds.instance, tmp, &err), &err, CRUN_EDATA, "invalid JSON");
    assert_int_equal(access(tmp, F_OK), -1);
    fixture_putn(f->dir, ".out.json.tmp", "{\"ok\": 1}", 9);
    assert_int_equal(ds.type->save_file(ds.instance, tmp, NULL), 0);
    char *text = fixture_read(f->dir, "out.json");
    assert_string_equal(text, "{\"ok\": 1}");
    free(text);
    free(tmp);
    ds.type->destroy(ds.instance);
}

/* --- behaviour common to the file types --------------------------------------- */

static void test_file_dataset_exists_follows_file(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, TEXT, "{\"filepath\": \"a/b.txt\"}");
    bool exists = true;
    assert_int_equal(ds.type->exists(ds.instance, &exists, NULL), 0);
    assert_false(exists);
    save_ok(&ds, crun_value_bytes_new("x", 1, NULL));
    assert_int_equal(ds.type->exists(ds.instance, &exists, NULL), 0);
    assert_true(exists);
    ds.type->destroy(ds.instance);
}

static void test_file_dataset_describe_names_filepath_and_versioning(void **state)
{
    fixture *f = *state;
    f->ctx.versioned = true;
    dataset ds = create(f, BYTES, "{\"filepath\": \"data/m.bin\"}");
    json_t *d = ds.type->describe(ds.instance);
    assert_string_equal(json_string_value(json_object_get(d, "filepath")), "data/m.bin");
    assert_true(json_is_true(json_object_get(d, "versioned")));
    json_decref(d);
    ds.type->destroy(ds.instance);
}

static void test_file_dataset_filepath_is_resolved_in_project(void **state)
{
    fixture *f = *state;
    dataset ds = create(f, JSON, "{\"filepath\": \"data/m.json\"}");
    char *want = fixture_path(f->dir, "data/m.json");
    assert_string_equal(ds.type->filepath(ds.instance), want);
    free(want);
    ds.type->destroy(ds.instance);
}

static void test_versioned_dataset_loads_newest_version(void **state)
{
    fixture *f = *state;
    fixture_putn(f->dir, "data/m.json/2026-01-01T00.00.00.000Z/m.json", "1", 1);
    fixture_putn(f->dir, "data/m.json/2026-02-01T00.00.00.000Z/m.json", "2", 1);
    f->ctx.versioned = true;
    dataset ds = create(f, JSON, "{\"filepath\": \"data/m.json\"}");
    crun_value *v = load_ok(&ds);
    assert_int_equal(json_integer_value(crun_value_json(v)), 2);
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_versioned_dataset_saves_under_run_version_and_reads_it_back(void **state)
{
    fixture *f = *state;
    fixture_putn(f->dir, "data/m.json/2099-01-01T00.00.00.000Z/m.json", "99", 2);
    f->ctx.versioned = true;
    f->ctx.save_version = "2026-11-23T16.45.00.123Z";
    dataset ds = create(f, JSON, "{\"filepath\": \"data/m.json\"}");
    save_ok(&ds, crun_value_json_new(json_integer(5)));
    char *text = fixture_read(f->dir, "data/m.json/2026-11-23T16.45.00.123Z/m.json");
    assert_string_equal(text, "5\n");
    free(text);
    crun_value *v = load_ok(&ds); /* its own save, not the (odd) later version */
    assert_int_equal(json_integer_value(crun_value_json(v)), 5);
    crun_value_unref(v);
    ds.type->destroy(ds.instance);
}

static void test_versioned_dataset_without_versions_names_dataset(void **state)
{
    fixture *f = *state;
    f->ctx.versioned = true;
    dataset ds = create(f, JSON, "{\"filepath\": \"data/x.json\"}");
    assert_null(ds.type->filepath(ds.instance));
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    fixture_expect_error(ds.type->load(ds.instance, &v, &err), &err, CRUN_ENOENT,
                 "dataset 'x': no version of data/x.json found");
    ds.type->destroy(ds.instance);
}

#define DS_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        DS_TEST(test_plugins_are_dataset_plugins_of_this_abi),
        DS_TEST(test_memory_dataset_load_before_save_names_dataset),
        DS_TEST(test_memory_dataset_load_shares_saved_value),
        DS_TEST(test_memory_dataset_save_replaces_value),
        DS_TEST(test_memory_dataset_release_drops_value),
        DS_TEST(test_memory_dataset_refuses_copy_mode),
        DS_TEST(test_text_dataset_round_trip),
        DS_TEST(test_text_dataset_saves_json_string),
        DS_TEST(test_text_dataset_refuses_table),
        DS_TEST(test_text_dataset_invalid_utf8_names_dataset_and_file),
        DS_TEST(test_text_dataset_requires_filepath),
        DS_TEST(test_text_dataset_refuses_other_encodings),
        DS_TEST(test_text_save_file_refuses_invalid_utf8_and_removes_temp),
        DS_TEST(test_bytes_dataset_round_trip_binary),
        DS_TEST(test_bytes_dataset_refuses_json_value),
        DS_TEST(test_bytes_dataset_missing_file_names_dataset_and_file),
        DS_TEST(test_json_dataset_writes_indented_in_insertion_order),
        DS_TEST(test_json_dataset_writes_reals_short_and_exact),
        DS_TEST(test_json_dataset_honours_indent_option),
        DS_TEST(test_json_dataset_refuses_bad_indent),
        DS_TEST(test_json_dataset_round_trip_any_value),
        DS_TEST(test_json_dataset_saves_table_as_columns_and_rows),
        DS_TEST(test_json_table_text_equals_the_tree_writers),
        DS_TEST(test_json_table_text_equals_the_tree_writers_for_many_rows),
        DS_TEST(test_json_table_with_invalid_utf8_fails_leaving_the_previous_file),
        DS_TEST(test_json_table_save_takes_little_more_than_the_table),
        DS_TEST(test_json_dataset_saves_bytes_holding_json),
        DS_TEST(test_json_dataset_invalid_file_names_dataset_and_position),
        DS_TEST(test_json_save_file_refuses_invalid_json_and_removes_temp),
        DS_TEST(test_file_dataset_exists_follows_file),
        DS_TEST(test_file_dataset_describe_names_filepath_and_versioning),
        DS_TEST(test_file_dataset_filepath_is_resolved_in_project),
        DS_TEST(test_versioned_dataset_loads_newest_version),
        DS_TEST(test_versioned_dataset_saves_under_run_version_and_reads_it_back),
        DS_TEST(test_versioned_dataset_without_versions_names_dataset),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
