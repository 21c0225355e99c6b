/* test_csv.c - the csv dataset plugin, driven through the plugin ABI.
 *
 * csv.so is dlopen()ed from the folders in CRUN_TEST_PLUGIN_DIRS (the
 * environment wins over the compile-time default), as the host would.
 * Each test gets a fresh project folder from mkdtemp, removed afterwards;
 * files are written by the test so each case reads as its own data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crun/dataset.h"
#include "fixture_dataset.h"

typedef fixture_dataset fixture;

static int group_setup(void **state)
{
    return fixture_dataset_group_open(state, "csv");
}

/* --- helpers ----------------------------------------------------------------- */

static crun_value *load_ok(fixture *f, void *ds)
{
    crun_value *v = fixture_dataset_load(f, ds);
    assert_non_null(crun_value_table(v));
    return v;
}

/* Write text as data/x.csv and load it with the given load_args JSON. */
static crun_value *load_text(fixture *f, const char *text, const char *load_args)
{
    char options[512];
    snprintf(options, sizeof(options), "{\"filepath\": \"data/x.csv\"%s%s}",
             load_args ? ", \"load_args\": " : "", load_args ? load_args : "");
    fixture_put(f->dir, "data/x.csv", text);
    void *ds = fixture_dataset_create(f, options);
    crun_value *v = load_ok(f, ds);
    f->type->destroy(ds);
    return v;
}

static void expect_text_error(fixture *f, const char *text, const char *load_args, int code,
                              const char *want)
{
    char options[512];
    snprintf(options, sizeof(options), "{\"filepath\": \"data/x.csv\"%s%s}",
             load_args ? ", \"load_args\": " : "", load_args ? load_args : "");
    fixture_put(f->dir, "data/x.csv", text);
    void *ds = fixture_dataset_create(f, options);
    fixture_dataset_expect_load_error(f, ds, code, want);
    f->type->destroy(ds);
}

static void assert_column(const crun_table *t, size_t c, const char *name, crun_column_type type)
{
    assert_string_equal(crun_table_column_name(t, c), name);
    assert_int_equal(crun_table_column_type(t, c), type);
}

/* id int64, score double, name string; row 1 has missing score and name. */
static crun_table *sample_table(void)
{
    crun_table *t = crun_table_new(3);
    assert_int_equal(crun_table_add_column(t, "id", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_add_column(t, "score", CRUN_COLUMN_DOUBLE), 1);
    assert_int_equal(crun_table_add_column(t, "name", CRUN_COLUMN_STRING), 2);
    assert_int_equal(crun_table_set_rows(t, 3), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 0, INT64_MIN), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 1, 7), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 2, INT64_MAX), 0);
    assert_int_equal(crun_table_set_double(t, 1, 0, 0.1), 0);
    assert_int_equal(crun_table_set_double(t, 1, 2, 2.0), 0);
    assert_int_equal(crun_table_set_string(t, 2, 0, "a, \"quoted\"\nname"), 0);
    assert_int_equal(crun_table_set_string(t, 2, 2, ""), 0);
    return t;
}

/* --- descriptor ---------------------------------------------------------------- */

static void test_csv_plugin_is_a_file_dataset_type(void **state)
{
    fixture *f = *state;
    assert_int_equal(f->type->size, sizeof(crun_dataset_type));
    assert_false(f->type->flags & CRUN_DATASET_IN_MEMORY);
    assert_non_null(f->type->filepath);
    assert_non_null(f->type->save_file);
}

/* --- loading: types ---------------------------------------------------------- */

static void test_csv_round_trip_keeps_types_values_and_missing_cells(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    fixture_dataset_save(f, ds, crun_value_table_new(sample_table()));
    f->type->destroy(ds);
    ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}"); /* a fresh instance reads the file */
    crun_value *v = load_ok(f, ds);
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 3);
    assert_column(t, 0, "id", CRUN_COLUMN_INT64);
    assert_column(t, 1, "score", CRUN_COLUMN_DOUBLE);
    assert_column(t, 2, "name", CRUN_COLUMN_STRING);
    assert_true(crun_table_int64(t, 0, 0) == INT64_MIN);
    assert_true(crun_table_int64(t, 0, 2) == INT64_MAX);
    assert_true(crun_table_double(t, 1, 0) == 0.1);
    assert_true(crun_table_is_missing(t, 1, 1));
    assert_true(crun_table_double(t, 1, 2) == 2.0);
    assert_string_equal(crun_table_string(t, 2, 0), "a, \"quoted\"\nname");
    assert_true(crun_table_is_missing(t, 2, 1));
    assert_string_equal(crun_table_string(t, 2, 2), "");
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_csv_infers_int64_double_and_string_per_column(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "i,d,s,e\n1,1.5,a,1e3\n-2,2,b,-inf\n+3,.5,7,NaN\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 3);
    assert_column(t, 0, "i", CRUN_COLUMN_INT64);
    assert_column(t, 1, "d", CRUN_COLUMN_DOUBLE);
    assert_column(t, 2, "s", CRUN_COLUMN_STRING);
    assert_column(t, 3, "e", CRUN_COLUMN_DOUBLE);
    assert_int_equal(crun_table_int64(t, 0, 1), -2);
    assert_int_equal(crun_table_int64(t, 0, 2), 3);
    assert_true(crun_table_double(t, 1, 1) == 2.0);
    assert_true(crun_table_double(t, 1, 2) == 0.5);
    assert_string_equal(crun_table_string(t, 2, 2), "7");
    assert_true(crun_table_double(t, 3, 0) == 1000.0);
    assert_true(isinf(crun_table_double(t, 3, 1)) && crun_table_double(t, 3, 1) < 0);
    assert_true(isnan(crun_table_double(t, 3, 2)));
    crun_value_unref(v);
}

static void test_csv_int_column_widens_to_double_at_first_fraction(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "n\n1\n\n9007199254740993\n2.5\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "n", CRUN_COLUMN_DOUBLE);
    assert_int_equal(crun_table_rows(t), 4);
    assert_true(crun_table_double(t, 0, 0) == 1.0);
    assert_true(crun_table_is_missing(t, 0, 1));
    assert_true(crun_table_double(t, 0, 2) == strtod("9007199254740993", NULL));
    assert_true(crun_table_double(t, 0, 3) == 2.5);
    crun_value_unref(v);
}

static void test_csv_integer_beyond_int64_makes_a_double_column(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "big\n9223372036854775807\n9223372036854775808\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "big", CRUN_COLUMN_DOUBLE);
    assert_true(crun_table_double(t, 0, 1) == 9223372036854775808.0);
    crun_value_unref(v);
}

static void test_csv_column_turning_to_text_late_keeps_its_original_text(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "code,n\n1.50,1\n007,2\n\"\",3\n,4\nN/A,5\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "code", CRUN_COLUMN_STRING);
    assert_column(t, 1, "n", CRUN_COLUMN_INT64);
    assert_string_equal(crun_table_string(t, 0, 0), "1.50");
    assert_string_equal(crun_table_string(t, 0, 1), "007");
    assert_string_equal(crun_table_string(t, 0, 2), "");
    assert_true(crun_table_is_missing(t, 0, 3));
    assert_string_equal(crun_table_string(t, 0, 4), "N/A");
    assert_int_equal(crun_table_int64(t, 1, 4), 5);
    crun_value_unref(v);
}

static void test_csv_all_missing_column_is_int64(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "a,b\n,1\n,2\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "a", CRUN_COLUMN_INT64);
    assert_true(crun_table_is_missing(t, 0, 0) && crun_table_is_missing(t, 0, 1));
    crun_value_unref(v);
}

static void test_csv_explicit_column_types_override_inference(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "zip,n,x\n00501,1,2\n10001,2,3\n",
                              "{\"columns\": {\"zip\": \"string\", \"n\": \"double\"}}");
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "zip", CRUN_COLUMN_STRING);
    assert_column(t, 1, "n", CRUN_COLUMN_DOUBLE);
    assert_column(t, 2, "x", CRUN_COLUMN_INT64);
    assert_string_equal(crun_table_string(t, 0, 0), "00501");
    assert_true(crun_table_double(t, 1, 1) == 2.0);
    crun_value_unref(v);
}

static void test_csv_explicit_int64_column_refuses_text_naming_line(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "id,n\n1,2\nabc,3\n", "{\"columns\": {\"id\": \"int64\"}}", CRUN_EDATA,
                      "x.csv:3: column 'id': 'abc' is not an int64");
}

static void test_csv_explicit_type_of_absent_column_is_refused(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "id\n1\n", "{\"columns\": {\"idd\": \"int64\"}}", CRUN_EDATA,
                      "column 'idd', which the file does not have");
}

static void test_csv_unknown_column_type_is_a_config_error(void **state)
{
    fixture *f = *state;
    void *ds = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = fixture_dataset_try_create(f, "{\"filepath\": \"x.csv\", \"load_args\": {\"columns\": {\"a\": \"int32\"}}}",
                        &ds, &err);
    assert_int_equal(rc, CRUN_ECONFIG);
    assert_non_null(strstr(err.message, "dataset 'x': option 'load_args.columns.a': expected int64"));
    crun_error_clear(&err);
}

static void test_csv_unknown_load_arg_is_refused_with_known_ones(void **state)
{
    fixture *f = *state;
    void *ds = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = fixture_dataset_try_create(f, "{\"filepath\": \"x.csv\", \"load_args\": {\"delimter\": \";\"}}", &ds,
                        &err);
    assert_int_equal(rc, CRUN_ECONFIG);
    assert_non_null(strstr(err.message, "option 'load_args.delimter': unknown (known: delimiter"));
    crun_error_clear(&err);
}

/* --- loading: the CSV format ---------------------------------------------------- */

static void test_csv_quoted_fields_hold_commas_quotes_and_newlines(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",\"\r\n\"\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 2);
    assert_string_equal(crun_table_string(t, 0, 0), "x, y");
    assert_string_equal(crun_table_string(t, 1, 0), "say \"hi\"");
    assert_string_equal(crun_table_string(t, 0, 1), "two\nlines");
    assert_string_equal(crun_table_string(t, 1, 1), "\r\n");
    crun_value_unref(v);
}

static void test_csv_empty_cells_and_na_values_are_missing(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "a,b\n1,x\n,NA\n3,\n", "{\"na_values\": [\"\", \"NA\"]}");
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "a", CRUN_COLUMN_INT64);
    assert_true(crun_table_is_missing(t, 0, 1));
    assert_int_equal(crun_table_int64(t, 0, 2), 3);
    assert_true(crun_table_is_missing(t, 1, 1));
    assert_true(crun_table_is_missing(t, 1, 2));
    assert_string_equal(crun_table_string(t, 1, 0), "x");
    crun_value_unref(v);
}

static void test_csv_numeric_na_values_match_their_text(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "a\n1\n-999\n", "{\"na_values\": [-999]}");
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "a", CRUN_COLUMN_INT64);
    assert_true(crun_table_is_missing(t, 0, 1));
    crun_value_unref(v);
}

static void test_csv_quoted_empty_string_is_not_missing(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "s,n\n\"\",\"\"\nx,1\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_string_equal(crun_table_string(t, 0, 0), "");
    /* in a numeric column there is no empty number: it is missing */
    assert_column(t, 1, "n", CRUN_COLUMN_INT64);
    assert_true(crun_table_is_missing(t, 1, 0));
    crun_value_unref(v);
}

static void test_csv_one_column_table_keeps_missing_cells_on_round_trip(void **state)
{
    fixture *f = *state;
    crun_table *t = crun_table_new(3);
    assert_int_equal(crun_table_add_column(t, "v", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_set_rows(t, 3), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 0, 1), 0);
    assert_int_equal(crun_table_set_int64(t, 0, 2, 3), 0);
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    fixture_dataset_save(f, ds, crun_value_table_new(t));
    char *text = fixture_read(f->dir, "data/x.csv");
    assert_string_equal(text, "v\n1\n\n3\n");
    free(text);
    crun_value *v = load_ok(f, ds);
    assert_int_equal(crun_table_rows(crun_value_table(v)), 3);
    assert_true(crun_table_is_missing(crun_value_table(v), 0, 1));
    crun_value_unref(v);
    f->type->destroy(ds);
}

/* A one-column file without a header that starts with a blank line and
 * whose column turns to strings after numbers is read twice (the second
 * pass for the column's text): both passes skip the leading blank line,
 * and the load succeeds (it said "the file changed while it was read";
 * found by fuzz-csv). */
static void test_csv_leading_blank_line_of_a_reread_one_column_file(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "\n1\n\nbb\n", "{\"header\": false}");
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 3);
    assert_int_equal(crun_table_column_type(t, 0), CRUN_COLUMN_STRING);
    assert_string_equal(crun_table_string(t, 0, 0), "1");
    assert_true(crun_table_is_missing(t, 0, 1));
    assert_string_equal(crun_table_string(t, 0, 2), "bb");
    crun_value_unref(v);
}

static void test_csv_blank_lines_between_rows_are_skipped(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "a,b\n\n1,2\n\n\n3,4\n\n", NULL);
    assert_int_equal(crun_table_rows(crun_value_table(v)), 2);
    crun_value_unref(v);
}

static void test_csv_crlf_lines_and_byte_order_mark_are_read(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "\xef\xbb\xbfid,name\r\n1,a\r\n2,\"b\r\nc\"\r\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 2);
    assert_column(t, 0, "id", CRUN_COLUMN_INT64);
    assert_string_equal(crun_table_string(t, 1, 0), "a");
    assert_string_equal(crun_table_string(t, 1, 1), "b\r\nc");
    crun_value_unref(v);
}

static void test_csv_blanks_around_fields_are_kept(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "s,n\n a ,1\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_string_equal(crun_table_string(t, 0, 0), " a ");
    crun_value_unref(v);
}

static void test_csv_without_header_names_columns_by_index(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "1,x\n2,y\n", "{\"header\": false, \"columns\": {\"0\": \"double\"}}");
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 2);
    assert_column(t, 0, "0", CRUN_COLUMN_DOUBLE);
    assert_column(t, 1, "1", CRUN_COLUMN_STRING);
    assert_true(crun_table_double(t, 0, 0) == 1.0);
    crun_value_unref(v);
}

static void test_csv_empty_header_cell_is_unnamed(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, ",a\n0,1\n", NULL);
    assert_string_equal(crun_table_column_name(crun_value_table(v), 0), "Unnamed: 0");
    crun_value_unref(v);
}

static void test_csv_empty_header_cells_are_unnamed_by_position(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, ",a,\n0,1,2\n", NULL);
    const crun_table *t = crun_value_table(v);
    assert_string_equal(crun_table_column_name(t, 0), "Unnamed: 0");
    assert_string_equal(crun_table_column_name(t, 2), "Unnamed: 2");
    crun_value_unref(v);
}

/* A header of n names "c0".."c<n-1>" followed by extra (NULL: none), and
 * one row of n (+1) zeros. */
static char *wide_text(size_t n, const char *extra)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    for (size_t c = 0; c < n; c++)
        fprintf(out, "%sc%zu", c ? "," : "", c);
    fprintf(out, "%s%s\n", extra ? "," : "", extra ? extra : "");
    for (size_t c = 0; c < n + (extra != NULL); c++)
        fprintf(out, "%s0", c ? "," : "");
    fprintf(out, "\n");
    assert_int_equal(fclose(out), 0);
    return text;
}

static void test_csv_wide_header_keeps_names_order_and_forced_types(void **state)
{
    fixture *f = *state;
    char *text = wide_text(5000, NULL);
    crun_value *v =
        load_text(f, text, "{\"columns\": {\"c4999\": \"string\", \"c7\": \"double\"}}");
    free(text);
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_columns(t), 5000);
    assert_column(t, 0, "c0", CRUN_COLUMN_INT64);
    assert_column(t, 7, "c7", CRUN_COLUMN_DOUBLE);
    assert_column(t, 4999, "c4999", CRUN_COLUMN_STRING);
    assert_int_equal(crun_table_column_index(t, "c2500"), 2500);
    crun_value_unref(v);
}

static void test_csv_header_only_file_is_an_empty_table(void **state)
{
    fixture *f = *state;
    crun_value *v = load_text(f, "a,b\n", NULL);
    assert_int_equal(crun_table_rows(crun_value_table(v)), 0);
    assert_int_equal(crun_table_columns(crun_value_table(v)), 2);
    crun_value_unref(v);
}

static void test_csv_delimiter_option_reads_and_writes(void **state)
{
    fixture *f = *state;
    fixture_put(f->dir, "data/x.csv", "a;b\n1,5;x\n");
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\", \"load_args\": {\"delimiter\": \";\"},"
                         " \"save_args\": {\"delimiter\": \"\\t\", \"header\": false}}");
    crun_value *v = load_ok(f, ds);
    const crun_table *t = crun_value_table(v);
    assert_string_equal(crun_table_string(t, 0, 0), "1,5");
    fixture_dataset_save(f, ds, v);
    char *text = fixture_read(f->dir, "data/x.csv");
    assert_string_equal(text, "1,5\tx\n");
    free(text);
    f->type->destroy(ds);
}

/* --- loading: errors ---------------------------------------------------------- */

static void test_csv_row_with_wrong_field_count_names_line(void **state)
{
    fixture *f = *state;
    char *want = NULL;
    assert_true(asprintf(&want, "dataset 'x': %s/data/x.csv:3: row has 3 fields, the header has 5",
                         f->dir) > 0);
    expect_text_error(f, "a,b,c,d,e\n1,2,3,4,5\n1,2,3\n", NULL, CRUN_EDATA, want);
    free(want);
}

static void test_csv_truncated_last_row_names_line(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "a,b,c\n1,2,3\n\"multi\nline\",5,6\n4,5", NULL, CRUN_EDATA,
                      "data/x.csv:5: row has 2 fields, the header has 3");
}

static void test_csv_unterminated_quote_names_line(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "a,b\n1,2\n3,\"open\n4,5\n", NULL, CRUN_EDATA,
                      "data/x.csv:3: unterminated quoted field at the end of the file");
}

static void test_csv_stray_quote_names_line(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "a,b\n1,2\n3,ab\"c\n", NULL, CRUN_EDATA, "data/x.csv:3: malformed quoting");
}

static void test_csv_duplicate_header_name_is_refused(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "a,b,a\n1,2,3\n", NULL, CRUN_EDATA,
                      "data/x.csv:1: column 'a' appears twice in the header");
}

/* The column named is the first in the file to repeat an earlier name:
 * here 'b' (third), not 'a', whose repeat comes later though it comes
 * first both in the file and in sorted order. */
static void test_csv_first_repeat_in_header_is_the_one_named(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "a,b,b,a\n1,2,3,4\n", NULL, CRUN_EDATA,
                      "data/x.csv:1: column 'b' appears twice in the header");
}

/* An empty cell is named "Unnamed: N" before names are compared, so it
 * can repeat a name the file spells out. */
static void test_csv_unnamed_column_repeating_a_given_name_is_refused(void **state)
{
    fixture *f = *state;
    expect_text_error(f, "Unnamed: 1,\n1,2\n", NULL, CRUN_EDATA,
                      "data/x.csv:1: column 'Unnamed: 1' appears twice in the header");
}

static void test_csv_repeat_far_along_a_wide_header_is_refused(void **state)
{
    fixture *f = *state;
    char *text = wide_text(5000, "c17");
    expect_text_error(f, text, NULL, CRUN_EDATA,
                      "data/x.csv:1: column 'c17' appears twice in the header");
    free(text);
}

static void test_csv_nul_byte_is_refused(void **state)
{
    fixture *f = *state;
    char *p = fixture_path(f->dir, "data/x.csv");
    assert_int_equal(crun_file_write_atomic(p, "a\n1\n2\0\n", 7, NULL), 0);
    free(p);
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    fixture_dataset_expect_load_error(f, ds, CRUN_EDATA, "data/x.csv:3: a NUL byte");
    f->type->destroy(ds);
}

static void test_csv_missing_file_names_dataset_and_path(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/none.csv\"}");
    char *want = NULL;
    assert_true(asprintf(&want, "dataset 'x': %s/data/none.csv: No such file", f->dir) > 0);
    fixture_dataset_expect_load_error(f, ds, CRUN_ENOENT, want);
    free(want);
    f->type->destroy(ds);
}

static void test_csv_requires_filepath(void **state)
{
    fixture *f = *state;
    void *ds = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(fixture_dataset_try_create(f, "{}", &ds, &err), CRUN_ECONFIG);
    assert_non_null(strstr(err.message, "dataset 'x': option 'filepath' is required"));
    crun_error_clear(&err);
}

/* --- big files: the chunked reader ------------------------------------------------ */

/* Rows of every shape, some quoted across lines, over several 1 MiB read
 * chunks, so that lines and quoted fields straddle chunk ends. */
static void test_csv_large_file_round_trips_across_read_chunks(void **state)
{
    fixture *f = *state;
    enum { ROWS = 60000 };
    crun_table *t = crun_table_new(ROWS);
    assert_int_equal(crun_table_add_column(t, "i", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_add_column(t, "d", CRUN_COLUMN_DOUBLE), 1);
    assert_int_equal(crun_table_add_column(t, "s", CRUN_COLUMN_STRING), 2);
    assert_int_equal(crun_table_set_rows(t, ROWS), 0);
    char s[64];
    for (size_t r = 0; r < ROWS; r++) {
        assert_int_equal(crun_table_set_int64(t, 0, r, (int64_t)r * 7919 - 100000), 0);
        if (r % 11)
            assert_int_equal(crun_table_set_double(t, 1, r, (double)r / 7.0 - 3e-5), 0);
        snprintf(s, sizeof(s), r % 5 == 0 ? "multi\nline \"%zu\", ok" : "plain %zu", r);
        assert_int_equal(crun_table_set_string(t, 2, r, s), 0);
    }
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    fixture_dataset_save(f, ds, crun_value_table_new(t));
    f->type->destroy(ds);
    ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    crun_value *v = load_ok(f, ds);
    const crun_table *got = crun_value_table(v);
    assert_int_equal(crun_table_rows(got), ROWS);
    for (size_t r = 0; r < ROWS; r++) {
        assert_true(crun_table_int64(got, 0, r) == (int64_t)r * 7919 - 100000);
        assert_true(r % 11 ? crun_table_double(got, 1, r) == (double)r / 7.0 - 3e-5
                           : crun_table_is_missing(got, 1, r));
        snprintf(s, sizeof(s), r % 5 == 0 ? "multi\nline \"%zu\", ok" : "plain %zu", r);
        assert_string_equal(crun_table_string(got, 2, r), s);
    }
    crun_value_unref(v);
    f->type->destroy(ds);
}

/* --- saving -------------------------------------------------------------------- */

static void test_csv_saves_rfc4180_text_with_doubles_that_stay_doubles(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    fixture_dataset_save(f, ds, crun_value_table_new(sample_table()));
    char *text = fixture_read(f->dir, "data/x.csv");
    assert_string_equal(text, "id,score,name\n"
                              "-9223372036854775808,0.1,\"a, \"\"quoted\"\"\nname\"\n"
                              "7,,\n"
                              "9223372036854775807,2.0,\"\"\n");
    free(text);
    f->type->destroy(ds);
}

static void test_csv_save_refuses_a_value_that_is_not_a_table(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    crun_value *v = crun_value_json_new(json_integer(1));
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(f->type->save(ds, v, &err), CRUN_EDATA);
    assert_non_null(strstr(err.message, "dataset 'x': cannot save a json value as CSV"));
    crun_error_clear(&err);
    crun_value_unref(v);
    f->type->destroy(ds);
}

static void test_csv_save_file_refuses_malformed_csv_and_removes_temp(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    fixture_put(f->dir, "data/.x.csv.tmp-1", "a,b\n1\n");
    char *tmp = fixture_path(f->dir, "data/.x.csv.tmp-1");
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(f->type->save_file(ds, tmp, &err), CRUN_EDATA);
    assert_non_null(strstr(err.message, ":2: row has 1 fields, the header has 2"));
    crun_error_clear(&err);
    assert_int_equal(access(tmp, F_OK), -1);
    fixture_put(f->dir, "data/.x.csv.tmp-1", "a,b\n1,2\n");
    assert_int_equal(f->type->save_file(ds, tmp, &err), 0);
    char *want = fixture_path(f->dir, "data/x.csv");
    assert_string_equal(f->type->filepath(ds), want);
    crun_value *v = load_ok(f, ds);
    assert_int_equal(crun_table_int64(crun_value_table(v), 1, 0), 2);
    crun_value_unref(v);
    free(want);
    free(tmp);
    f->type->destroy(ds);
}

/* --- the rest of the dataset interface ---------------------------------------------- */

static void test_csv_exists_follows_the_file(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    bool exists = true;
    assert_int_equal(f->type->exists(ds, &exists, NULL), 0);
    assert_false(exists);
    fixture_put(f->dir, "data/x.csv", "a\n1\n");
    assert_int_equal(f->type->exists(ds, &exists, NULL), 0);
    assert_true(exists);
    f->type->destroy(ds);
}

static void test_csv_describe_names_filepath_and_versioning(void **state)
{
    fixture *f = *state;
    f->ctx.versioned = true;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    json_t *d = f->type->describe(ds);
    assert_string_equal(json_string_value(json_object_get(d, "filepath")), "data/x.csv");
    assert_true(json_is_true(json_object_get(d, "versioned")));
    json_decref(d);
    f->type->destroy(ds);
}

static void test_csv_versioned_save_writes_run_version_and_loads_newest(void **state)
{
    fixture *f = *state;
    fixture_put(f->dir, "data/x.csv/2026-01-01T00.00.00.000Z/x.csv", "a\n1\n");
    fixture_put(f->dir, "data/x.csv/2026-02-01T00.00.00.000Z/x.csv", "a\n2\n");
    f->ctx.versioned = true;
    void *ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    crun_value *v = load_ok(f, ds);
    assert_int_equal(crun_table_int64(crun_value_table(v), 0, 0), 2);
    crun_value_unref(v);
    f->type->destroy(ds);

    f->ctx.save_version = "2026-03-01T00.00.00.000Z";
    ds = fixture_dataset_create(f, "{\"filepath\": \"data/x.csv\"}");
    fixture_dataset_save(f, ds, crun_value_table_new(sample_table()));
    char *text = fixture_read(f->dir, "data/x.csv/2026-03-01T00.00.00.000Z/x.csv");
    assert_non_null(strstr(text, "id,score,name\n"));
    free(text);
    v = load_ok(f, ds); /* its own save */
    assert_int_equal(crun_table_rows(crun_value_table(v)), 3);
    crun_value_unref(v);
    f->type->destroy(ds);
}

#define CSV_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_dataset_setup, fixture_dataset_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CSV_TEST(test_csv_plugin_is_a_file_dataset_type),
        CSV_TEST(test_csv_round_trip_keeps_types_values_and_missing_cells),
        CSV_TEST(test_csv_infers_int64_double_and_string_per_column),
        CSV_TEST(test_csv_int_column_widens_to_double_at_first_fraction),
        CSV_TEST(test_csv_integer_beyond_int64_makes_a_double_column),
        CSV_TEST(test_csv_column_turning_to_text_late_keeps_its_original_text),
        CSV_TEST(test_csv_all_missing_column_is_int64),
        CSV_TEST(test_csv_explicit_column_types_override_inference),
        CSV_TEST(test_csv_explicit_int64_column_refuses_text_naming_line),
        CSV_TEST(test_csv_explicit_type_of_absent_column_is_refused),
        CSV_TEST(test_csv_unknown_column_type_is_a_config_error),
        CSV_TEST(test_csv_unknown_load_arg_is_refused_with_known_ones),
        CSV_TEST(test_csv_quoted_fields_hold_commas_quotes_and_newlines),
        CSV_TEST(test_csv_empty_cells_and_na_values_are_missing),
        CSV_TEST(test_csv_numeric_na_values_match_their_text),
        CSV_TEST(test_csv_quoted_empty_string_is_not_missing),
        CSV_TEST(test_csv_one_column_table_keeps_missing_cells_on_round_trip),
        CSV_TEST(test_csv_leading_blank_line_of_a_reread_one_column_file),
        CSV_TEST(test_csv_blank_lines_between_rows_are_skipped),
        CSV_TEST(test_csv_crlf_lines_and_byte_order_mark_are_read),
        CSV_TEST(test_csv_blanks_around_fields_are_kept),
        CSV_TEST(test_csv_without_header_names_columns_by_index),
        CSV_TEST(test_csv_empty_header_cell_is_unnamed),
        CSV_TEST(test_csv_empty_header_cells_are_unnamed_by_position),
        CSV_TEST(test_csv_wide_header_keeps_names_order_and_forced_types),
        CSV_TEST(test_csv_header_only_file_is_an_empty_table),
        CSV_TEST(test_csv_delimiter_option_reads_and_writes),
        CSV_TEST(test_csv_row_with_wrong_field_count_names_line),
        CSV_TEST(test_csv_truncated_last_row_names_line),
        CSV_TEST(test_csv_unterminated_quote_names_line),
        CSV_TEST(test_csv_stray_quote_names_line),
        CSV_TEST(test_csv_duplicate_header_name_is_refused),
        CSV_TEST(test_csv_first_repeat_in_header_is_the_one_named),
        CSV_TEST(test_csv_unnamed_column_repeating_a_given_name_is_refused),
        CSV_TEST(test_csv_repeat_far_along_a_wide_header_is_refused),
        CSV_TEST(test_csv_nul_byte_is_refused),
        CSV_TEST(test_csv_missing_file_names_dataset_and_path),
        CSV_TEST(test_csv_requires_filepath),
        CSV_TEST(test_csv_large_file_round_trips_across_read_chunks),
        CSV_TEST(test_csv_saves_rfc4180_text_with_doubles_that_stay_doubles),
        CSV_TEST(test_csv_save_refuses_a_value_that_is_not_a_table),
        CSV_TEST(test_csv_save_file_refuses_malformed_csv_and_removes_temp),
        CSV_TEST(test_csv_exists_follows_the_file),
        CSV_TEST(test_csv_describe_names_filepath_and_versioning),
        CSV_TEST(test_csv_versioned_save_writes_run_version_and_loads_newest),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_dataset_group_close);
}
