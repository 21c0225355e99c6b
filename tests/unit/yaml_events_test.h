/* yaml_events_test.h - comparing YAML events, for the tests of the ways
 * crun gets libyaml's events (test_conf_events.c, test_conf_cache.c).
 * Include after cmocka.h. */
#ifndef CRUN_YAML_EVENTS_TEST_H
#define CRUN_YAML_EVENTS_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

static inline void assert_same_text(const yaml_char_t *a, const yaml_char_t *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal((const char *)a, (const char *)b);
}

/* want and got alike: every field, or (all_marks false) all but the byte
 * offsets and end marks. */
static inline void assert_same_event(const yaml_event_t *want, const yaml_event_t *got,
                                     bool all_marks)
{
    assert_int_equal(want->type, got->type);
    assert_int_equal(want->start_mark.line, got->start_mark.line);
    assert_int_equal(want->start_mark.column, got->start_mark.column);
    if (all_marks) {
        assert_int_equal(want->start_mark.index, got->start_mark.index);
        assert_int_equal(want->end_mark.index, got->end_mark.index);
        assert_int_equal(want->end_mark.line, got->end_mark.line);
        assert_int_equal(want->end_mark.column, got->end_mark.column);
    }
    switch (want->type) {
    case YAML_STREAM_START_EVENT:
        assert_int_equal(want->data.stream_start.encoding, got->data.stream_start.encoding);
        break;
    case YAML_DOCUMENT_START_EVENT:
        assert_int_equal(want->data.document_start.implicit, got->data.document_start.implicit);
        break;
    case YAML_DOCUMENT_END_EVENT:
        assert_int_equal(want->data.document_end.implicit, got->data.document_end.implicit);
        break;
    case YAML_ALIAS_EVENT:
        assert_same_text(want->data.alias.anchor, got->data.alias.anchor);
        break;
    case YAML_SCALAR_EVENT:
        assert_same_text(want->data.scalar.anchor, got->data.scalar.anchor);
        assert_same_text(want->data.scalar.tag, got->data.scalar.tag);
        assert_int_equal(want->data.scalar.length, got->data.scalar.length);
        assert_memory_equal(want->data.scalar.value, got->data.scalar.value,
                            want->data.scalar.length + 1);
        assert_int_equal(want->data.scalar.style, got->data.scalar.style);
        assert_int_equal(want->data.scalar.plain_implicit, got->data.scalar.plain_implicit);
        assert_int_equal(want->data.scalar.quoted_implicit, got->data.scalar.quoted_implicit);
        break;
    case YAML_SEQUENCE_START_EVENT:
        assert_same_text(want->data.sequence_start.anchor, got->data.sequence_start.anchor);
        assert_same_text(want->data.sequence_start.tag, got->data.sequence_start.tag);
        assert_int_equal(want->data.sequence_start.implicit, got->data.sequence_start.implicit);
        assert_int_equal(want->data.sequence_start.style, got->data.sequence_start.style);
        break;
    case YAML_MAPPING_START_EVENT:
        assert_same_text(want->data.mapping_start.anchor, got->data.mapping_start.anchor);
        assert_same_text(want->data.mapping_start.tag, got->data.mapping_start.tag);
        assert_int_equal(want->data.mapping_start.implicit, got->data.mapping_start.implicit);
        assert_int_equal(want->data.mapping_start.style, got->data.mapping_start.style);
        break;
    default:
        break;
    }
}

/* Text of n list items of pipeline nodes, then tail. */
static inline char *nodes_text(size_t n, const char *tail, size_t *len)
{
    size_t cap = n * 100 + strlen(tail) + 64, at = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    at += (size_t)snprintf(text + at, cap - at, "pipelines:\n  __default__:\n    nodes:\n");
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, cap - at,
                               "      - {name: n%zu, func: lib.f, inputs: [d%zu], outputs: d%zu}\n",
                               i, i, i + 1);
    at += (size_t)snprintf(text + at, cap - at, "%s", tail);
    *len = at;
    return text;
}

/* Small YAML texts with every kind of event, anchors, tags, directives,
 * styles and two documents, all valid. */
static const char *const valid_yaml_texts[] = {
    "",
    "a: 1\n",
    "%YAML 1.1\n%TAG !e! tag:example.com,2026:\n---\n- !e!thing {a: !!str 1}\n...\n",
    "defaults: &d {type: csv, sep: ','}\nx:\n  <<: *d\n  filepath: \"a\\0b\\u00e9\"\n",
    "text: |\n  line one\n  line two\nfolded: >-\n  a\n  b\nsingle: 'it''s'\n",
    "- [a, b, {c: d}]\n- ? complex key\n  : value\n- &anchor !!map {}\n- *anchor\n",
    "--- 1\n--- 2\n",
    "\xef\xbb\xbf\xc3\xa9t\xc3\xa9: \"\xe2\x82\xac\"\n",
};

#endif
