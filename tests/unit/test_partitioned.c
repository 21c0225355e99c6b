/* test_partitioned.c - the partitioned dataset plugin and the partitions value.
 *
 * partitioned.so is dlopen()ed from the folders in CRUN_TEST_PLUGIN_DIRS, as
 * the host would; the partitions value (crun/partitions.h) is tested on its
 * own first.  Each test gets a fresh project folder from mkdtemp, removed
 * afterwards.
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
#include <sys/stat.h>
#include <unistd.h>

#include "crun/dataset.h"
#include "fixture_dataset.h"
#include "crun/partitions.h"

typedef fixture_dataset fixture;

static int group_setup(void **state)
{
    return fixture_dataset_group_open(state, "partitioned");
}

/* --- helpers ----------------------------------------------------------------- */

static void expect_create_error(fixture *f, const char *options, const char *want)
{
    void *instance = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = fixture_dataset_try_create(f, options, &instance, &err);
    assert_null(instance);
    fixture_expect_error(rc, &err, CRUN_ECONFIG, want);
}

static crun_value *load_ok(fixture *f, void *ds)
{
    crun_value *v = fixture_dataset_load(f, ds);
    assert_non_null(crun_value_opaque(v, CRUN_PARTITIONS_TYPE));
    return v;
}

/* A one-column table "n" holding n. */
static crun_value *table_of(int64_t n)
{
    crun_table *t = crun_table_new(1);
    assert_int_equal(crun_table_add_column(t, "n", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_set_rows(t, 1), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 0, n), 0);
    return crun_value_table_new(t);
}

/* --- the partitions value ------------------------------------------------------ */

static void test_partitions_value_holds_named_values_in_order(void **state)
{
    crun_value *a = crun_value_json_new(json_integer(1)), *b = crun_value_json_new(json_integer(2));
    const char *names[] = {"b", "a"};
    crun_value *values[] = {b, a};
    crun_value *p = crun_partitions_new(2, names, values);
    crun_value_unref(a);
    crun_value_unref(b); /* the partitions value keeps its own references */
    assert_non_null(p);
    assert_int_equal(crun_value_kind_of(p), CRUN_VALUE_OPAQUE);
    assert_int_equal(crun_partitions_count(p), 2);
    assert_string_equal(crun_partitions_name(p, 0), "b");
    assert_int_equal(json_integer_value(crun_value_json(crun_partitions_get(p, 0))), 2);
    assert_int_equal(json_integer_value(crun_value_json(crun_partitions_get(p, 1))), 1);
    assert_null(crun_partitions_name(p, 2));
    assert_null(crun_partitions_get(p, 2));
    crun_value_unref(p);
}

static void test_partitions_value_refuses_duplicate_or_empty_names(void **state)
{
    crun_value *a = crun_value_json_new(json_integer(1));
    const char *dup[] = {"a", "a"}, *empty[] = {""};
    crun_value *values[] = {a, a};
    assert_null(crun_partitions_new(2, dup, values));
    assert_null(crun_partitions_new(1, empty, values));
    crun_value_unref(a);
}

static void test_partitions_readers_answer_nothing_for_other_values(void **state)
{
    crun_value *v = crun_value_json_new(json_object());
    assert_int_equal(crun_partitions_count(v), 0);
    assert_null(crun_partitions_name(v, 0));
    assert_null(crun_partitions_get(v, 0));
    crun_value_unref(v);
}

/* --- load and save ------------------------------------------------------------------ */

static void test_partitioned_csv_partitions_round_trip(void **state)
{
    fixture *f = *state;
    crun_value *p1 = table_of(1), *p2 = table_of(2);
    const char *names[] = {"2024/02", "2024/01"};
    crun_value *values[] = {p1, p2};
    crun_value *parts = crun_partitions_new(2, names, values);
    crun_value_unref(p1);
    crun_value_unref(p2);
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/parts\", \"dataset\": \"csv\", "
                         "\"filename_suffix\": \".csv\"}");
    fixture_dataset_save(f, ds, parts);
    char *text = fixture_read(f->dir, "data/parts/2024/01.csv");
    assert_string_equal(text, "n\n2\n");
    free(text);
    crun_value *v = load_ok(f, ds);
    assert_int_equal(crun_partitions_count(v), 2);
    assert_string_equal(crun_partitions_name(v, 0), "2024/01"); /* sorted */
    assert_string_equal(crun_partitions_name(v, 1), "2024/02");
    const crun_table *t = crun_value_table(crun_partitions_get(v, 0));
    assert_non_null(t);
    assert_int_equal(crun_table_int64(t, 0, 0), 2);
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_partitioned_load_skips_hidden_files_and_other_suffixes(void **state)
{
    fixture *f = *state;
    fixture_put(f->dir, "data/p/b.txt", "B");
    fixture_put(f->dir, "data/p/a.txt", "A");
    fixture_put(f->dir, "data/p/notes.md", "not a partition");
    fixture_put(f->dir, "data/p/.a.txt.tmp-123", "half written");
    fixture_put(f->dir, "data/p/.hidden/c.txt", "hidden folder");
    fixture_put(f->dir, "data/p/sub/c.txt", "C");
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/p\", \"dataset\": {\"type\": \"text\"}, "
                         "\"filename_suffix\": \".txt\"}");
    crun_value *v = load_ok(f, ds);
    assert_int_equal(crun_partitions_count(v), 3);
    assert_string_equal(crun_partitions_name(v, 0), "a");
    assert_string_equal(crun_partitions_name(v, 1), "b");
    assert_string_equal(crun_partitions_name(v, 2), "sub/c");
    size_t len = 0;
    assert_memory_equal(crun_value_bytes(crun_partitions_get(v, 2), &len), "C", 1);
    assert_string_equal(crun_value_media_type(crun_partitions_get(v, 2)),
                        "text/plain; charset=utf-8");
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_partitioned_json_object_saves_each_member_as_a_partition(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/m\", \"dataset\": {\"type\": \"json\", \"indent\": 0},"
                         " \"filename_suffix\": \".json\"}");
    fixture_dataset_save(f, ds, crun_value_json_new(json_pack("{s:{s:f}, s:[i,i]}", "a", "x", 0.1, "b", 1,
                                                 2)));
    char *text = fixture_read(f->dir, "data/m/a.json");
    assert_string_equal(text, "{\"x\": 0.1}\n");
    free(text);
    crun_value *v = load_ok(f, ds);
    assert_int_equal(crun_partitions_count(v), 2);
    json_t *b = crun_value_json(crun_partitions_get(v, 1));
    assert_int_equal(json_array_size(b), 2);
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_partitioned_bytes_partitions_keep_binary_content(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/bin\", \"dataset\": \"bytes\"}");
    crun_value *blob = crun_value_bytes_new("\0\1\2\377", 4, NULL);
    const char *names[] = {"model.bin"};
    crun_value *parts = crun_partitions_new(1, names, &blob);
    crun_value_unref(blob);
    fixture_dataset_save(f, ds, parts);
    crun_value *v = load_ok(f, ds);
    size_t len = 0;
    const void *data = crun_value_bytes(crun_partitions_get(v, 0), &len);
    assert_int_equal(len, 4);
    assert_memory_equal(data, "\0\1\2\377", 4);
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_partitioned_csv_load_args_reach_every_partition(void **state)
{
    fixture *f = *state;
    fixture_put(f->dir, "data/p/a.csv", "zip;n\n00501;1\n");
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/p\", \"filename_suffix\": \".csv\", \"dataset\": "
                         "{\"type\": \"csv\", \"load_args\": {\"delimiter\": \";\", "
                         "\"columns\": {\"zip\": \"string\"}}}}");
    crun_value *v = load_ok(f, ds);
    const crun_table *t = crun_value_table(crun_partitions_get(v, 0));
    assert_string_equal(crun_table_string(t, 0, 0), "00501");
    crun_value_unref(v);
    f->type->destroy(ds);
}

/* --- errors ------------------------------------------------------------------------ */

static void test_partitioned_bad_partition_names_dataset_partition_and_line(void **state)
{
    fixture *f = *state;
    fixture_put(f->dir, "data/p/good.csv", "a,b\n1,2\n");
    fixture_put(f->dir, "data/p/bad.csv", "a,b\n1,2\n3\n");
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/p\", \"dataset\": \"csv\", "
                         "\"filename_suffix\": \".csv\"}");
    char *want = NULL;
    assert_true(asprintf(&want, "dataset 'x': partition 'bad': %s/data/p/bad.csv:3: row has 1 "
                                "fields, the header has 2", f->dir) > 0);
    fixture_dataset_expect_load_error(f, ds, CRUN_EDATA, want);
    free(want);
    f->type->destroy(ds);
}

static void test_partitioned_folder_without_partitions_is_missing(void **state)
{
    fixture *f = *state;
    fixture_put(f->dir, "data/p/readme.md", "no csv here");
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/p\", \"dataset\": \"csv\", "
                         "\"filename_suffix\": \".csv\"}");
    fixture_dataset_expect_load_error(f, ds, CRUN_ENOENT, "no partitions (no files ending in '.csv')");
    bool exists = true;
    assert_int_equal(f->type->exists(ds, &exists, NULL), 0);
    assert_false(exists);
    f->type->destroy(ds);
}

static void test_partitioned_exists_once_a_partition_is_saved(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/none\", \"dataset\": \"json\"}");
    bool exists = true;
    assert_int_equal(f->type->exists(ds, &exists, NULL), 0);
    assert_false(exists);
    fixture_dataset_save(f, ds, crun_value_json_new(json_pack("{s:i}", "one", 1)));
    assert_int_equal(f->type->exists(ds, &exists, NULL), 0);
    assert_true(exists);
    f->type->destroy(ds);
}

static void test_partitioned_refuses_names_leaving_the_folder(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/p\", \"dataset\": \"json\"}");
    crun_value *v = crun_value_json_new(json_pack("{s:i}", "../escape", 1));
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(f->type->save(ds, v, &err), CRUN_EDATA);
    assert_non_null(strstr(err.message, "partition name '../escape' is not a relative path"));
    crun_error_clear(&err);
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_partitioned_save_refuses_other_values(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/p\", \"dataset\": \"csv\"}");
    crun_value *v = table_of(1);
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(f->type->save(ds, v, &err), CRUN_EDATA);
    assert_non_null(strstr(err.message, "cannot save a table value as partitions"));
    crun_error_clear(&err);
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_partitioned_unknown_underlying_type_lists_supported_ones(void **state)
{
    fixture *f = *state;
    expect_create_error(f, "{\"path\": \"p\", \"dataset\": \"parquet\"}",
                        "dataset 'x': option 'dataset': unknown type 'parquet' (a partitioned "
                        "dataset supports text, bytes, json and csv)");
}

static void test_partitioned_refuses_a_filepath_for_the_partitions(void **state)
{
    fixture *f = *state;
    expect_create_error(f, "{\"path\": \"p\", \"dataset\": {\"type\": \"csv\", \"filepath\": \"a\"}}",
                        "a csv partition takes no option 'filepath'");
}

static void test_partitioned_refuses_versioning(void **state)
{
    fixture *f = *state;
    f->ctx.versioned = true;
    expect_create_error(f, "{\"path\": \"p\", \"dataset\": \"csv\"}", "cannot be versioned");
}

static void test_partitioned_describe_names_folder_type_and_suffix(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"path\": \"data/p\", \"dataset\": \"csv\", \"filename_suffix\": \".csv\"}");
    json_t *d = f->type->describe(ds);
    assert_string_equal(json_string_value(json_object_get(d, "path")), "data/p");
    assert_string_equal(json_string_value(json_object_get(d, "dataset")), "csv");
    assert_string_equal(json_string_value(json_object_get(d, "filename_suffix")), ".csv");
    json_decref(d);
    f->type->destroy(ds);
}

#define PART_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_dataset_setup, fixture_dataset_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partitions_value_holds_named_values_in_order),
        cmocka_unit_test(test_partitions_value_refuses_duplicate_or_empty_names),
        cmocka_unit_test(test_partitions_readers_answer_nothing_for_other_values),
        PART_TEST(test_partitioned_csv_partitions_round_trip),
        PART_TEST(test_partitioned_load_skips_hidden_files_and_other_suffixes),
        PART_TEST(test_partitioned_json_object_saves_each_member_as_a_partition),
        PART_TEST(test_partitioned_bytes_partitions_keep_binary_content),
        PART_TEST(test_partitioned_csv_load_args_reach_every_partition),
        PART_TEST(test_partitioned_bad_partition_names_dataset_partition_and_line),
        PART_TEST(test_partitioned_folder_without_partitions_is_missing),
        PART_TEST(test_partitioned_exists_once_a_partition_is_saved),
        PART_TEST(test_partitioned_refuses_names_leaving_the_folder),
        PART_TEST(test_partitioned_save_refuses_other_values),
        PART_TEST(test_partitioned_unknown_underlying_type_lists_supported_ones),
        PART_TEST(test_partitioned_refuses_a_filepath_for_the_partitions),
        PART_TEST(test_partitioned_refuses_versioning),
        PART_TEST(test_partitioned_describe_names_folder_type_and_suffix),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_dataset_group_close);
}
