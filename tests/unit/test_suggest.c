/* test_suggest.c - the "did you mean ...?" behind every unknown-name error
 * (dataset types, node libraries, parameters, runners): which typos find
 * their name, which words are too far off to be guessed at, and the edit
 * distance underneath (a swap of two neighbours costs one edit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/suggest.h"

static const char *const dataset_types[] = {"memory", "text", "bytes", "json",
                                            "csv",    "sqlite", "partitioned"};
#define N_TYPES (sizeof(dataset_types) / sizeof(dataset_types[0]))

static void test_an_extra_letter_finds_the_dataset_type(void **state)
{
    assert_string_equal(suggest_closest("csvv", dataset_types, N_TYPES), "csv");
    assert_string_equal(suggest_closest("jsonn", dataset_types, N_TYPES), "json");
}

static void test_swapped_letters_cost_one_edit(void **state)
{
    assert_int_equal(edit_distance("dmeo", "demo"), 1);
    assert_int_equal(edit_distance("sqltie", "sqlite"), 1);
    const char *const libraries[] = {"demo", "bench"};
    assert_string_equal(suggest_closest("dmeo", libraries, 2), "demo");
}

static void test_edit_distance_counts_inserts_deletes_and_changes(void **state)
{
    assert_int_equal(edit_distance("", ""), 0);
    assert_int_equal(edit_distance("", "abc"), 3);
    assert_int_equal(edit_distance("abc", ""), 3);
    assert_int_equal(edit_distance("kitten", "sitting"), 3);
    assert_int_equal(edit_distance("partitioned", "partitioned"), 0);
}

static void test_a_word_far_from_every_name_gets_no_guess(void **state)
{
    assert_null(suggest_closest("parquet", dataset_types, N_TYPES));
    assert_null(suggest_closest("ab", (const char *const[]){"xy"}, 1));
}

static void test_a_long_name_allows_more_typos_than_a_short_one(void **state)
{
    /* a third of the word's length, at least one */
    const char *const long_names[] = {"preprocess_companies"};
    assert_string_equal(suggest_closest("preproces_compnies", long_names, 1),
                        "preprocess_companies");
    const char *const short_names[] = {"abc"};
    assert_null(suggest_closest("xbz", short_names, 1));
    assert_string_equal(suggest_closest("xbc", short_names, 1), "abc");
}

static void test_the_closest_name_wins_and_ties_keep_the_first(void **state)
{
    const char *const names[] = {"train", "trains", "rain"};
    assert_string_equal(suggest_closest("trainss", names, 3), "trains");
    const char *const tied[] = {"cat", "car"};
    assert_string_equal(suggest_closest("cas", tied, 2), "cat");
}

static void test_missing_candidates_are_skipped(void **state)
{
    const char *const names[] = {NULL, "text", NULL};
    assert_string_equal(suggest_closest("txt", names, 3), "text");
    assert_null(suggest_closest("txt", names, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_extra_letter_finds_the_dataset_type),
        cmocka_unit_test(test_swapped_letters_cost_one_edit),
        cmocka_unit_test(test_edit_distance_counts_inserts_deletes_and_changes),
        cmocka_unit_test(test_a_word_far_from_every_name_gets_no_guess),
        cmocka_unit_test(test_a_long_name_allows_more_typos_than_a_short_one),
        cmocka_unit_test(test_the_closest_name_wins_and_ties_keep_the_first),
        cmocka_unit_test(test_missing_candidates_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
