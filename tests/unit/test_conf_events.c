/* test_conf_events.c - a large text's events parsed on a second thread
 * (runner/conf/conf_events.h) are the events libyaml gives, in order, with the
 * same failure at the same place; and a large file reads like a small one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_events.h"
#include "yaml_events_test.h"

/* Both ways of reading text event by event, to the end or to libyaml's
 * failure: returns the number of events. */
static size_t compare(const char *text, size_t len)
{
    yaml_parser_t direct, threaded;
    assert_true(yaml_parser_initialize(&direct));
    assert_true(yaml_parser_initialize(&threaded));
    yaml_parser_set_input_string(&direct, (const unsigned char *)text, len);
    yaml_parser_set_input_string(&threaded, (const unsigned char *)text, len);
    conf_events *events = conf_events_start(&threaded);
    assert_non_null(events);
    size_t n = 0;
    for (;;) {
        yaml_event_t want, got;
        bool ok = yaml_parser_parse(&direct, &want);
        assert_int_equal(ok, conf_events_next(events, &got));
        if (!ok)
            break;
        assert_same_event(&want, &got, true);
        n++;
        bool end = want.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&want);
        if (end)
            break;
    }
    conf_events_stop(events);
    assert_int_equal(direct.error, threaded.error);
    if (direct.error != YAML_NO_ERROR) {
        assert_string_equal(direct.problem, threaded.problem);
        assert_int_equal(direct.problem_mark.index, threaded.problem_mark.index);
        assert_int_equal(direct.problem_mark.line, threaded.problem_mark.line);
        assert_int_equal(direct.problem_mark.column, threaded.problem_mark.column);
    }
    yaml_parser_delete(&direct);
    yaml_parser_delete(&threaded);
    return n;
}

static void test_small_texts_give_libyaml_events(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid_yaml_texts) / sizeof(valid_yaml_texts[0]); i++)
        compare(valid_yaml_texts[i], strlen(valid_yaml_texts[i]));
    static const char *const broken[] = {
        "key: \"unterminated\n",
        "a:\n  - b\n c: d\n",
        "[1, 2\n",
        "a: *nowhere\n",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
        compare(broken[i], strlen(broken[i]));
}

static void test_many_chunks_of_events_and_a_late_failure(void **state)
{
    (void)state;
    size_t len;
    char *text = nodes_text(30000, "", &len);
    assert_int_equal(compare(text, len), 30000 * 12 + 15);
    free(text);
    /* the failure comes after hundreds of thousands of good events */
    text = nodes_text(30000, "      - {name: broken\n", &len);
    compare(text, len);
    free(text);
}

static void test_a_scalar_larger_than_a_chunk(void **state)
{
    (void)state;
    size_t big = 300 * 1024;
    char *text = malloc(big + 64);
    assert_non_null(text);
    memcpy(text, "a: &x \"", 7);
    memset(text + 7, 'v', big);
    memcpy(text + 7 + big, "\"\nb: *x\n", 9);
    compare(text, strlen(text));
    free(text);
}

static void test_stopping_halfway_frees_everything(void **state)
{
    (void)state;
    size_t len;
    char *text = nodes_text(20000, "", &len);
    yaml_parser_t parser;
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    conf_events *events = conf_events_start(&parser);
    assert_non_null(events);
    yaml_event_t ev;
    for (int i = 0; i < 1000; i++)
        assert_true(conf_events_next(events, &ev));
    conf_events_stop(events); /* AddressSanitizer fails the test on any leak */
    yaml_parser_delete(&parser);
    conf_events_stop(NULL);
    free(text);
}

/* conf_parse_text takes the second thread for a text of a megabyte or
 * more: the tree, positions and messages are the ones of a small text. */
static void test_a_large_file_reads_like_a_small_one(void **state)
{
    (void)state;
    conf_pool *pool = conf_pool_new();
    crun_error err = CRUN_ERROR_INIT;
    size_t len;
    char *text = nodes_text(20000, "  other:\n    nodes: []\n", &len);
    assert_true(len >= CONF_EVENTS_MIN_TEXT);
    conf_node *root = NULL;
    assert_int_equal(conf_parse_text(pool, text, len, "big.yml", NULL, &root, &err), 0);
    const conf_node *nodes = conf_get(conf_get(conf_get(root, "pipelines"),
                                                       "__default__"), "nodes");
    assert_non_null(nodes);
    assert_int_equal(nodes->n, 20000);
    const conf_node *last = nodes->items[19999];
    assert_int_equal(last->line, 20003);
    assert_int_equal(last->col, 9);
    assert_string_equal(conf_get(last, "name")->str, "n19999");
    assert_non_null(conf_get(conf_get(root, "pipelines"), "other"));
    conf_free(root);
    free(text);

    /* a syntax error at the end names its line, as it would in a small file */
    text = nodes_text(20000, "      - {name: broken\n", &len);
    assert_int_not_equal(conf_parse_text(pool, text, len, "big.yml", NULL, &root, &err), 0);
    assert_null(root);
    assert_non_null(strstr(err.message, "big.yml:20005:"));
    crun_error_clear(&err);
    free(text);

    /* and so does an error of crun's own, found in the middle */
    text = nodes_text(20000, "", &len);
    char *dup = strstr(text, "{name: n10000, func:");
    assert_non_null(dup);
    memcpy(dup + strlen("{name: n10000, "), "name", 4);
    assert_int_not_equal(conf_parse_text(pool, text, len, "big.yml", NULL, &root, &err), 0);
    assert_non_null(strstr(err.message, "big.yml:10004:"));
    assert_non_null(strstr(err.message, "duplicate key 'name'"));
    crun_error_clear(&err);
    free(text);
    conf_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_texts_give_libyaml_events),
        cmocka_unit_test(test_many_chunks_of_events_and_a_late_failure),
        cmocka_unit_test(test_a_scalar_larger_than_a_chunk),
        cmocka_unit_test(test_stopping_halfway_frees_everything),
        cmocka_unit_test(test_a_large_file_reads_like_a_small_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
