/* test_value.c - crun_value and crun_table: reference counts, typed columns
 * with missing cells, and the JSON and CSV forms other parts of crun rely on
 * (the service runner's outputs, command nodes' scratch files), and the
 * number, dotted-path and UTF-8 functions the plugins share.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crun/value.h"

static void count_destroy(void *ptr)
{
    (*(int *)ptr)++;
}

static void test_value_refcount_frees_on_last_unref(void **state)
{
    int destroyed = 0;
    crun_value *v = crun_value_opaque_new(&destroyed, count_destroy, "counter");
    assert_non_null(v);
    assert_ptr_equal(crun_value_ref(v), v);
    crun_value_unref(v);
    assert_int_equal(destroyed, 0);
    crun_value_unref(v);
    assert_int_equal(destroyed, 1);
}

static void *ref_unref_many(void *arg)
{
    for (int i = 0; i < 100000; i++)
        crun_value_unref(crun_value_ref(arg));
    return NULL;
}

static void test_value_refcount_is_atomic_across_threads(void **state)
{
    int destroyed = 0;
    crun_value *v = crun_value_opaque_new(&destroyed, count_destroy, "counter");
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, ref_unref_many, v), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(destroyed, 0);
    crun_value_unref(v);
    assert_int_equal(destroyed, 1);
}

static void test_value_ref_and_unref_accept_null(void **state)
{
    assert_null(crun_value_ref(NULL));
    crun_value_unref(NULL);
}

static void test_bytes_value_copies_and_defaults_media_type(void **state)
{
    char buf[] = "hello";
    crun_value *v = crun_value_bytes_new(buf, 5, NULL);
    assert_non_null(v);
    buf[0] = 'j';
    size_t len = 0;
    const char *data = crun_value_bytes(v, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    assert_string_equal(crun_value_media_type(v), "application/octet-stream");
    assert_int_equal(crun_value_kind_of(v), CRUN_VALUE_BYTES);
    assert_string_equal(crun_value_kind_name(crun_value_kind_of(v)), "bytes");
    assert_int_equal(crun_value_size(v), 5);
    crun_value_unref(v);
}

static void test_empty_bytes_value_is_not_null(void **state)
{
    crun_value *v = crun_value_bytes_new(NULL, 0, "text/plain");
    size_t len = 1;
    assert_non_null(crun_value_bytes(v, &len));
    assert_int_equal(len, 0);
    crun_value_unref(v);
}

static void test_accessors_of_another_kind_return_null(void **state)
{
    crun_value *v = crun_value_json_new(json_integer(3));
    assert_null(crun_value_bytes(v, NULL));
    assert_null(crun_value_media_type(v));
    assert_null(crun_value_table(v));
    assert_null(crun_value_opaque(v, NULL));
    assert_int_equal(json_integer_value(crun_value_json(v)), 3);
    crun_value_unref(v);
}

static void test_opaque_value_checks_type_name(void **state)
{
    int x = 0;
    crun_value *v = crun_value_opaque_new(&x, NULL, "model");
    assert_ptr_equal(crun_value_opaque(v, "model"), &x);
    assert_null(crun_value_opaque(v, "other"));
    crun_value_unref(v);
}

static crun_table *sample_table(void)
{
    crun_table *t = crun_table_new(1);
    assert_int_equal(crun_table_add_column(t, "id", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_add_column(t, "score", CRUN_COLUMN_DOUBLE), 1);
    assert_int_equal(crun_table_add_column(t, "name", CRUN_COLUMN_STRING), 2);
    assert_int_equal(crun_table_set_rows(t, 2), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 0, 1), 0);
    assert_int_equal(crun_table_set_double(t, 1, 0, 0.5), 0);
    assert_int_equal(crun_table_set_string(t, 2, 0, "a, \"b\"\nc"), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 1, -7), 0);
    return t;
}

static void test_table_missing_cells(void **state)
{
    crun_table *t = sample_table();
    assert_false(crun_table_is_missing(t, 0, 1));
    assert_true(crun_table_is_missing(t, 1, 1));
    assert_true(crun_table_is_missing(t, 2, 1));
    assert_null(crun_table_string(t, 2, 1));
    assert_int_equal(crun_table_set_missing(t, 0, 1), 0);
    assert_true(crun_table_is_missing(t, 0, 1));
    crun_table_free(t);
}

static void test_table_grows_past_capacity_with_new_cells_missing(void **state)
{
    crun_table *t = crun_table_new(0);
    assert_int_equal(crun_table_add_column(t, "n", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_set_rows(t, 1000), 0);
    for (size_t r = 0; r < 1000; r += 2)
        assert_int_equal(crun_table_set_int64(t, 0, r, (int64_t)r), 0);
    assert_int_equal(crun_table_add_column(t, "late", CRUN_COLUMN_STRING), 1);
    assert_int_equal(crun_table_rows(t), 1000);
    assert_int_equal(crun_table_int64(t, 0, 998), 998);
    assert_true(crun_table_is_missing(t, 0, 999));
    assert_true(crun_table_is_missing(t, 1, 500));
    crun_table_free(t);
}

static void test_table_shrink_then_grow_leaves_cells_missing(void **state)
{
    crun_table *t = sample_table();
    assert_int_equal(crun_table_set_rows(t, 0), 0);
    assert_int_equal(crun_table_set_rows(t, 2), 0);
    assert_true(crun_table_is_missing(t, 0, 0));
    assert_true(crun_table_is_missing(t, 2, 0));
    crun_table_free(t);
}

static void test_table_refuses_wrong_type_out_of_range_and_duplicates(void **state)
{
    crun_table *t = sample_table();
    assert_int_equal(crun_table_set_double(t, 0, 0, 1.0), CRUN_EINVAL);
    assert_int_equal(crun_table_set_int64(t, 0, 2, 1), CRUN_EINVAL);
    assert_int_equal(crun_table_set_int64(t, 9, 0, 1), CRUN_EINVAL);
    assert_int_equal(crun_table_add_column(t, "id", CRUN_COLUMN_STRING), CRUN_EINVAL);
    assert_int_equal(crun_table_int64(t, 1, 0), 0);
    crun_table_free(t);
}

static void test_table_column_lookup_by_name(void **state)
{
    crun_table *t = sample_table();
    assert_int_equal(crun_table_columns(t), 3);
    assert_int_equal(crun_table_column_index(t, "name"), 2);
    assert_int_equal(crun_table_column_index(t, "nope"), -1);
    assert_string_equal(crun_table_column_name(t, 1), "score");
    assert_int_equal(crun_table_column_type(t, 1), CRUN_COLUMN_DOUBLE);
    crun_table_free(t);
}

static void test_table_finds_each_of_many_columns_and_refuses_their_names_again(void **state)
{
    enum { N = 10000 };
    crun_table *t = crun_table_new(1);
    char name[32];
    for (int c = 0; c < N; c++) {
        snprintf(name, sizeof(name), "col%d", c);
        assert_int_equal(crun_table_add_column(t, name, CRUN_COLUMN_INT64), c);
    }
    for (int c = 0; c < N; c++) {
        snprintf(name, sizeof(name), "col%d", c);
        assert_int_equal(crun_table_column_index(t, name), c);
        assert_int_equal(crun_table_add_column(t, name, CRUN_COLUMN_STRING), CRUN_EINVAL);
    }
    assert_int_equal(crun_table_columns(t), N);
    assert_int_equal(crun_table_column_index(t, "col10000"), -1);
    crun_table_free(t);
}

static void test_table_double_reads_int_columns(void **state)
{
    crun_table *t = sample_table();
    assert_true(crun_table_double(t, 0, 1) == -7.0);
    crun_table_free(t);
}

static void test_table_to_json_has_columns_and_rows_with_nulls(void **state)
{
    crun_value *v = crun_value_table_new(sample_table());
    json_t *j = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_value_to_json(v, &j, &err), 0);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text, "{\"columns\":[\"id\",\"score\",\"name\"],"
                              "\"rows\":[[1,0.5,\"a, \\\"b\\\"\\nc\"],[-7,null,null]]}");
    free(text);
    json_decref(j);
    crun_value_unref(v);
}

static void test_bytes_to_json_parses_text(void **state)
{
    crun_value *v = crun_value_bytes_new("{\"a\": [1, 2]}", 13, "application/json");
    json_t *j = NULL;
    assert_int_equal(crun_value_to_json(v, &j, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(j, "a")), 2);
    json_decref(j);
    crun_value_unref(v);
}

static void test_bytes_to_json_reports_position_of_bad_text(void **state)
{
    crun_value *v = crun_value_bytes_new("{\n  \"a\": ]\n}", 12, NULL);
    json_t *j = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_value_to_json(v, &j, &err), CRUN_EDATA);
    assert_null(j);
    assert_non_null(strstr(err.message, "2:8: invalid JSON"));
    crun_error_clear(&err);
    crun_value_unref(v);
}

static void test_opaque_value_has_no_json_form(void **state)
{
    int x = 0;
    crun_value *v = crun_value_opaque_new(&x, NULL, "model");
    json_t *j = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_value_to_json(v, &j, &err), CRUN_EDATA);
    assert_non_null(strstr(err.message, "'model'"));
    crun_error_clear(&err);
    crun_value_unref(v);
}

static void test_serialize_json_is_compact(void **state)
{
    json_t *j = json_pack("{s:i,s:[s]}", "a", 1, "b", "x");
    crun_value *v = crun_value_json_new(j);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(crun_value_serialize(v, &out, &len, NULL), 0);
    assert_string_equal(out, "{\"a\":1,\"b\":[\"x\"]}");
    assert_int_equal(len, strlen(out));
    free(out);
    crun_value_unref(v);
}

static void test_serialize_json_scalar(void **state)
{
    crun_value *v = crun_value_json_new(json_string("hi"));
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(crun_value_serialize(v, &out, &len, NULL), 0);
    assert_string_equal(out, "\"hi\"");
    free(out);
    crun_value_unref(v);
}

static void test_serialize_json_reals_are_short_and_exact(void **state)
{
    crun_value *v = crun_value_json_new(json_pack("[f,f]", 0.1, 2.5));
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(crun_value_serialize(v, &out, &len, NULL), 0);
    assert_string_equal(out, "[0.1,2.5]");
    free(out);
    crun_value_unref(v);
    v = crun_value_json_new(json_pack("[f]", 1.0 / 3.0));
    assert_int_equal(crun_value_serialize(v, &out, &len, NULL), 0);
    assert_true(strtod(out + 1, NULL) == 1.0 / 3.0);
    free(out);
    crun_value_unref(v);
}

static void test_serialize_bytes_as_is(void **state)
{
    crun_value *v = crun_value_bytes_new("a\0b", 3, NULL);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(crun_value_serialize(v, &out, &len, NULL), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "a\0b", 3);
    free(out);
    crun_value_unref(v);
}

static void test_serialize_table_quotes_commas_and_newlines(void **state)
{
    crun_value *v = crun_value_table_new(sample_table());
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(crun_value_serialize(v, &out, &len, NULL), 0);
    assert_string_equal(out, "id,score,name\n"
                             "1,0.5,\"a, \"\"b\"\"\nc\"\n"
                             "-7,,\n");
    free(out);
    crun_value_unref(v);
}

static void test_serialize_table_doubles_round_trip(void **state)
{
    crun_table *t = crun_table_new(3);
    crun_table_add_column(t, "x", CRUN_COLUMN_DOUBLE);
    crun_table_add_column(t, "", CRUN_COLUMN_STRING);
    crun_table_set_rows(t, 3);
    crun_table_set_double(t, 0, 0, 0.1);
    crun_table_set_double(t, 0, 1, 1.0 / 3.0);
    crun_table_set_double(t, 0, 2, 2.0);
    crun_table_set_string(t, 1, 2, "");
    crun_value *v = crun_value_table_new(t);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(crun_value_serialize(v, &out, &len, NULL), 0);
    /* Whole doubles keep ".0"; an empty string is "" to differ from missing. */
    assert_string_equal(out, "x,\"\"\n0.1,\n0.3333333333333333,\n2.0,\"\"\n");
    free(out);
    crun_value_unref(v);
}

static void test_value_size_counts_table_cells(void **state)
{
    crun_value *v = crun_value_table_new(sample_table());
    assert_true(crun_value_size(v) >= 3 * 2 * sizeof(int64_t));
    crun_value_unref(v);
}

/* --- the number, path and UTF-8 functions plugins share --- */

static void test_real_format_is_shortest_exact_and_stays_a_real(void **state)
{
    char buf[32];
    const double samples[] = {0.1, 2.0, 1.0 / 3.0, 0.1 + 0.2, 1e300, -0.0, 123456789012345678.0};
    const char *const want[] = {"0.1", "2.0", "0.3333333333333333", "0.30000000000000004", "1e+300", "-0.0",
                                "1.2345678901234568e+17"};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        crun_real_format(samples[i], buf, sizeof(buf));
        assert_string_equal(buf, want[i]);
        assert_true(strtod(buf, NULL) == samples[i]);
    }
    crun_real_format(1.0 / 0.0, buf, sizeof(buf));
    assert_string_equal(buf, "inf"); /* no ".0" after a word */
}

static void test_json_dumps_uses_one_short_exact_precision(void **state)
{
    json_t *doc = json_pack("{s:f, s:[f, i]}", "a", 0.1, "b", 0.1 + 0.2, 2);
    char *text = crun_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(3));
    assert_string_equal(text, "{\"a\":0.10000000000000001,\"b\":[0.30000000000000004,2]}");
    free(text);
    json_object_del(doc, "b");
    text = crun_json_dumps(doc, JSON_COMPACT);
    assert_string_equal(text, "{\"a\":0.1}");
    free(text);
    json_decref(doc);
}

static void test_json_path_follows_dots_through_objects_only(void **state)
{
    json_t *doc = json_pack("{s:{s:{s:i}}, s:[i]}", "model", "opt", "alpha", 3, "list", 1);
    assert_ptr_equal(crun_json_path(doc, ""), doc);
    assert_int_equal(json_integer_value(crun_json_path(doc, "model.opt.alpha")), 3);
    assert_true(json_is_object(crun_json_path(doc, "model.opt")));
    assert_null(crun_json_path(doc, "model.opt.beta"));
    assert_null(crun_json_path(doc, "model.opt.alpha.deeper"));
    assert_null(crun_json_path(doc, "list.0")); /* arrays are not stepped into */
    assert_null(crun_json_path(NULL, "model"));
    json_decref(doc);
}

static void test_utf8_refuses_overlong_surrogates_and_cut_sequences(void **state)
{
    const char good[] = "caf\xc3\xa9 \xf0\x9f\x98\x80";
    assert_int_equal(crun_utf8_invalid_at(good, strlen(good)), strlen(good));
    assert_int_equal(crun_utf8_sequence("\xc3\xa9", 2), 2);
    assert_int_equal(crun_utf8_sequence("\xc3\xa9", 1), 0);       /* cut short */
    assert_int_equal(crun_utf8_sequence("\xc0\xaf", 2), 0);       /* overlong '/' */
    assert_int_equal(crun_utf8_sequence("\xed\xa0\x80", 3), 0);  /* surrogate */
    assert_int_equal(crun_utf8_sequence("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(crun_utf8_invalid_at("ab\xff" "cd", 5), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_refcount_frees_on_last_unref),
        cmocka_unit_test(test_value_refcount_is_atomic_across_threads),
        cmocka_unit_test(test_value_ref_and_unref_accept_null),
        cmocka_unit_test(test_bytes_value_copies_and_defaults_media_type),
        cmocka_unit_test(test_empty_bytes_value_is_not_null),
        cmocka_unit_test(test_accessors_of_another_kind_return_null),
        cmocka_unit_test(test_opaque_value_checks_type_name),
        cmocka_unit_test(test_table_missing_cells),
        cmocka_unit_test(test_table_grows_past_capacity_with_new_cells_missing),
        cmocka_unit_test(test_table_shrink_then_grow_leaves_cells_missing),
        cmocka_unit_test(test_table_refuses_wrong_type_out_of_range_and_duplicates),
        cmocka_unit_test(test_table_column_lookup_by_name),
        cmocka_unit_test(test_table_finds_each_of_many_columns_and_refuses_their_names_again),
        cmocka_unit_test(test_table_double_reads_int_columns),
        cmocka_unit_test(test_table_to_json_has_columns_and_rows_with_nulls),
        cmocka_unit_test(test_bytes_to_json_parses_text),
        cmocka_unit_test(test_bytes_to_json_reports_position_of_bad_text),
        cmocka_unit_test(test_opaque_value_has_no_json_form),
        cmocka_unit_test(test_serialize_json_is_compact),
        cmocka_unit_test(test_serialize_json_scalar),
        cmocka_unit_test(test_serialize_json_reals_are_short_and_exact),
        cmocka_unit_test(test_serialize_bytes_as_is),
        cmocka_unit_test(test_serialize_table_quotes_commas_and_newlines),
        cmocka_unit_test(test_serialize_table_doubles_round_trip),
        cmocka_unit_test(test_value_size_counts_table_cells),
        cmocka_unit_test(test_real_format_is_shortest_exact_and_stays_a_real),
        cmocka_unit_test(test_json_dumps_uses_one_short_exact_precision),
        cmocka_unit_test(test_json_path_follows_dots_through_objects_only),
        cmocka_unit_test(test_utf8_refuses_overlong_surrogates_and_cut_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
