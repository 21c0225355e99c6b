/* test_sweep_grammar.c - the sweep runner's grammar (Hydra's basic sweeps:
 * lists, choice, range; typing and quoting; errors with their column) and
 * its trials (the grid's order, explicit trials, seeded samples). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sweep.h"

/* text parses to the values of the JSON array json, of the same types and
 * (for floats) the same doubles as the JSON text reads as. */
static void expect_values(const char *text, const char *json)
{
    json_t *v = NULL, *want = json_loads(json, 0, NULL);
    char why[256];
    assert_non_null(want);
    if (sweep_parse(text, 0, &v, why, sizeof(why)) != 0)
        fail_msg("'%s': %s", text, why);
    for (size_t i = 0; i < json_array_size(want); i++)
        if (json_typeof(json_array_get(want, i)) != json_typeof(json_array_get(v, i)))
            fail_msg("'%s': value %zu has another type than in %s", text, i, json);
    if (!json_equal(v, want)) {
        char *got = json_dumps(v, JSON_COMPACT);
        fail_msg("'%s': expected %s, got %s", text, json, got);
    }
    json_decref(v);
    json_decref(want);
}

static void expect_error(const char *text, size_t column0, const char *why_expected)
{
    json_t *v = NULL;
    char why[256];
    if (sweep_parse(text, column0, &v, why, sizeof(why)) == 0)
        fail_msg("'%s' parsed; expected: %s", text, why_expected);
    assert_null(v);
    assert_string_equal(why, why_expected);
}

static void test_list_is_a_sweep_of_its_values(void **state)
{
    (void)state;
    expect_values("0.2,0.3", "[0.2,0.3]");
    expect_values("a,b,c", "[\"a\",\"b\",\"c\"]");
    expect_values("7", "[7]");
}

static void test_values_are_typed_as_hydra_types_them(void **state)
{
    (void)state;
    expect_values("1,-3,+4,1_000", "[1,-3,4,1000]");
    expect_values("0.5,1e-3,-2.5,1.", "[0.5,0.001,-2.5,1.0]");
    expect_values("true,False,TRUE", "[true,false,true]");
    expect_values("null,NULL", "[null,null]");
    expect_values("adam,data/x.csv,1_,1__0", "[\"adam\",\"data/x.csv\",\"1_\",\"1__0\"]");
    expect_values("inf", "[\"inf\"]"); /* JSON has no infinity */
}

static void test_whitespace_around_values_is_dropped(void **state)
{
    (void)state;
    expect_values(" 1 , 2 ", "[1,2]");
    expect_values("choice( a b , c )", "[\"a b\",\"c\"]");
    expect_values("range( 1 , 3 )", "[1,2]");
}

static void test_quoted_values_stay_strings(void **state)
{
    (void)state;
    expect_values("'1','a,b',\"x y\"", "[\"1\",\"a,b\",\"x y\"]");
    expect_values("'it\\'s','a\\\\b'", "[\"it's\",\"a\\\\b\"]");
    expect_values("choice('true', null)", "[\"true\",null]");
}

static void test_choice_lists_its_arguments(void **state)
{
    (void)state;
    expect_values("choice(a,b)", "[\"a\",\"b\"]");
    expect_values("choice(1, 2.5, x)", "[1,2.5,\"x\"]");
}

static void test_range_has_python_semantics(void **state)
{
    (void)state;
    expect_values("range(1,4)", "[1,2,3]");
    expect_values("range(3)", "[0,1,2]");
    expect_values("range(0,10,3)", "[0,3,6,9]");
    expect_values("range(5,0,-2)", "[5,3,1]");
}

static void test_range_with_floats_gives_floats_without_drift(void **state)
{
    (void)state;
    expect_values("range(0,1,0.25)", "[0.0,0.25,0.5,0.75]");
    expect_values("range(0,0.5,0.1)", "[0.0,0.1,0.2,0.3,0.4]");
    expect_values("range(1.5,3)", "[1.5,2.5]");
}

static void test_errors_name_their_column(void **state)
{
    (void)state;
    expect_error("1,,2", 0, "column 3: a value is missing");
    expect_error("1,2,", 0, "column 5: a value is missing");
    expect_error("", 0, "column 1: a value is missing");
    expect_error("'abc", 0, "column 1: the quote ' is not closed");
    expect_error("a,\"b", 0, "column 3: the quote \" is not closed");
    expect_error("choice(1,2", 0, "column 11: the call is not closed with ')'");
    expect_error("choice()", 0, "column 8: choice() needs at least one value");
    expect_error("choice(1) x", 0, "column 11: unexpected text after choice(...)");
    expect_error("uniform(0,1)", 0, "column 1: unknown function 'uniform' (expected choice or range)");
    expect_error("range(1,a)", 0, "column 1: range's arguments must be numbers, argument 2 is not");
    expect_error("range(1,2,3,4)", 0, "column 1: range takes 1 to 3 numbers (start, stop, step), got 4");
    expect_error("range(0,1,0)", 0, "column 1: range's step must not be 0");
    expect_error("range(3,1)", 0, "column 1: range(3, 1, 1) is empty");
    expect_error("[1,2]", 0, "column 1: lists and maps are not sweep values (found '[')");
    expect_error("a(b", 0, "column 1: unknown function 'a' (expected choice or range)");
    expect_error("x)", 0, "column 2: unexpected ')'");
}

static void test_error_columns_count_from_where_the_text_starts(void **state)
{
    (void)state;
    /* "-m model.a=1,,2": the sweep starts at column 9 */
    expect_error("1,,2", 8, "column 11: a value is missing");
}

/* --- trials --- */

static json_t *parsed(const char *text)
{
    json_t *v = NULL;
    char why[256];
    assert_int_equal(sweep_parse(text, 0, &v, why, sizeof(why)), 0);
    return v;
}

static char *trials_json(json_t *keys, json_t *values, int64_t samples, uint64_t seed)
{
    sweep_space sp = {.keys = keys, .values = values};
    char why[256];
    json_t *t = sweep_trials(&sp, samples, seed, 1000, why, sizeof(why));
    assert_non_null(t);
    char *s = json_dumps(t, JSON_COMPACT);
    json_decref(t);
    return s;
}

static void test_grid_is_the_cross_product_last_key_fastest(void **state)
{
    (void)state;
    json_t *keys = json_pack("[s,s]", "a", "b");
    json_t *values = json_pack("[o,o]", parsed("1,2"), parsed("range(3)"));
    char *s = trials_json(keys, values, 0, 0);
    assert_string_equal(s, "[{\"a\":1,\"b\":0},{\"a\":1,\"b\":1},{\"a\":1,\"b\":2},"
                           "{\"a\":2,\"b\":0},{\"a\":2,\"b\":1},{\"a\":2,\"b\":2}]");
    free(s);
    json_decref(keys);
    json_decref(values);
}

static void test_samples_are_seeded_distinct_and_in_grid_order(void **state)
{
    (void)state;
    json_t *keys = json_pack("[s,s]", "a", "b");
    json_t *values = json_pack("[o,o]", parsed("range(10)"), parsed("range(10)"));
    char *first = trials_json(keys, values, 5, 42);
    char *again = trials_json(keys, values, 5, 42);
    char *other = trials_json(keys, values, 5, 43);
    assert_string_equal(first, again);
    assert_string_not_equal(first, other);
    json_t *t = json_loads(first, 0, NULL);
    assert_int_equal(json_array_size(t), 5);
    for (size_t i = 1; i < 5; i++) {
        json_t *p = json_array_get(t, i - 1), *q = json_array_get(t, i);
        long kp = 10 * json_integer_value(json_object_get(p, "a")) +
                  json_integer_value(json_object_get(p, "b"));
        long kq = 10 * json_integer_value(json_object_get(q, "a")) +
                  json_integer_value(json_object_get(q, "b"));
        assert_true(kp < kq); /* distinct, in grid order */
    }
    json_decref(t);
    free(first);
    free(again);
    free(other);
    json_decref(keys);
    json_decref(values);
}

static void test_samples_of_at_least_the_grid_are_the_grid(void **state)
{
    (void)state;
    json_t *keys = json_pack("[s]", "a");
    json_t *values = json_pack("[o]", parsed("1,2,3"));
    char *all = trials_json(keys, values, 0, 0);
    char *more = trials_json(keys, values, 7, 1);
    assert_string_equal(all, more);
    free(all);
    free(more);
    json_decref(keys);
    json_decref(values);
}

static void test_grid_larger_than_the_limit_is_refused(void **state)
{
    (void)state;
    json_t *keys = json_pack("[s,s]", "a", "b");
    json_t *values = json_pack("[o,o]", parsed("range(100)"), parsed("range(100)"));
    sweep_space sp = {.keys = keys, .values = values};
    char why[256];
    assert_null(sweep_trials(&sp, 0, 0, 1000, why, sizeof(why)));
    assert_string_equal(why, "the sweep has more than 1000 trials (use samples: N)");
    json_t *t = sweep_trials(&sp, 10, 0, 1000, why, sizeof(why)); /* sampled: fine */
    assert_int_equal(json_array_size(t), 10);
    json_decref(t);
    json_decref(keys);
    json_decref(values);
}

static void test_explicit_trials_and_their_columns(void **state)
{
    (void)state;
    json_t *trials = json_loads("[{\"a\":1,\"b\":2},{\"c\":3,\"a\":4}]", 0, NULL);
    sweep_space sp = {.trials = trials};
    char why[256];
    json_t *t = sweep_trials(&sp, 0, 0, 1000, why, sizeof(why));
    assert_true(json_equal(t, trials));
    json_t *cols = sweep_param_columns(t);
    char *s = json_dumps(cols, JSON_COMPACT);
    assert_string_equal(s, "[\"a\",\"b\",\"c\"]");
    free(s);
    json_decref(cols);
    json_decref(t);
    json_decref(trials);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_is_a_sweep_of_its_values),
        cmocka_unit_test(test_values_are_typed_as_hydra_types_them),
        cmocka_unit_test(test_whitespace_around_values_is_dropped),
        cmocka_unit_test(test_quoted_values_stay_strings),
        cmocka_unit_test(test_choice_lists_its_arguments),
        cmocka_unit_test(test_range_has_python_semantics),
        cmocka_unit_test(test_range_with_floats_gives_floats_without_drift),
        cmocka_unit_test(test_errors_name_their_column),
        cmocka_unit_test(test_error_columns_count_from_where_the_text_starts),
        cmocka_unit_test(test_grid_is_the_cross_product_last_key_fastest),
        cmocka_unit_test(test_samples_are_seeded_distinct_and_in_grid_order),
        cmocka_unit_test(test_samples_of_at_least_the_grid_are_the_grid),
        cmocka_unit_test(test_grid_larger_than_the_limit_is_refused),
        cmocka_unit_test(test_explicit_trials_and_their_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
