/* conf_yaml.c - reading YAML with libyaml's event API into conf_node trees.
 *
 * A small recursive reader turns events into nodes that carry file:line:col
 * (libyaml's marks are 0-based, ours 1-based).  Aliases are expanded as
 * copies, within a budget that stops "billion laughs" files; YAML 1.1 merge
 * keys ("<<: *defaults") are honoured; duplicate keys are refused.  Plain
 * null forms become CONF_NULL nodes; other scalars stay text for conf_to_json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf.h"

/* Nodes that alias expansion may create in one file: far above any real
 * configuration, far below what "billion laughs" would need. */
static const size_t alias_node_budget = 1000000;

static size_t node_count(const conf_node *node)
{
    size_t total = 1;
    size_t count = node->kind == CONF_MAP ? 2 * node->n : node->kind == CONF_SEQ ? node->n : 0;
    for (size_t i = 0; i < count; i++)
        total += node_count(node->items[i]);
    return total;
}

/* Append a list item, or (called twice) a key and its value. */
static int push_item(conf_node *node, size_t count, conf_node *item)
{
    conf_node **items = realloc(node->items, (count + 1) * sizeof(conf_node *));
    if (!items)
        return CRUN_ENOMEM;
    node->items = items;
    items[count] = item;
    return 0;
}

static int push_pair(conf_node *map, conf_node *key, conf_node *val)
{
    if (push_item(map, 2 * map->n, key) != 0 || push_item(map, 2 * map->n + 1, val) != 0)
        return CRUN_ENOMEM;
    map->n++;
    return 0;
}

/* The plain forms YAML's core schema reads as null (conf_to_json agrees). */
static bool is_null_text(const char *s)
{
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

typedef struct anchored_node {
    char *name;
    conf_node *node; /* a private copy: the original may be consumed by a merge key */
} anchored_node;

typedef struct reader {
    yaml_parser_t parser;
    const char *file;
    conf_arena *arena; /* where nodes go (the pool's), or NULL */
    anchored_node *anchors;
    size_t n_anchors;
    size_t budget;
    crun_error *err;
} reader;

static int yaml_failure(reader *r)
{
    const yaml_parser_t *p = &r->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        return crun_error_set(r->err, CRUN_ECONFIG, "%s:%zu:%zu: %s (%s that started at line %zu)",
                              r->file, p->problem_mark.line + 1, p->problem_mark.column + 1,
                              problem, p->context, p->context_mark.line + 1);
    return crun_error_set(r->err, CRUN_ECONFIG, "%s:%zu:%zu: %s", r->file,
                          p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

static int next_event(reader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev))
        return yaml_failure(r);
    return 0;
}

static int reader_error(reader *r, const yaml_mark_t *mark, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, arg);
    return crun_error_set(r->err, CRUN_ECONFIG, "%s:%zu:%zu: %s", r->file, mark->line + 1,
                          mark->column + 1, msg);
}

static conf_node *make_scalar(reader *r, const yaml_event_t *ev, bool as_key)
{
    const char *text = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                  (tag && strcmp(tag, YAML_STR_TAG) == 0);
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    if (!as_key && !quoted && is_null_text(text))
        return conf_new_in(r->arena, CONF_NULL, r->file, line, col);
    conf_node *node = conf_new_scalar_in(r->arena, text, r->file, line, col);
    if (node)
        node->quoted = quoted;
    return node;
}

static int remember_anchor(reader *r, const char *name, const conf_node *node)
{
    anchored_node *a = realloc(r->anchors, (r->n_anchors + 1) * sizeof(anchored_node));
    if (!a)
        return CRUN_ENOMEM;
    r->anchors = a;
    a[r->n_anchors].name = strdup(name);
    a[r->n_anchors].node = conf_copy(node);
    if (!a[r->n_anchors].name || !a[r->n_anchors].node) {
        free(a[r->n_anchors].name);
        conf_free(a[r->n_anchors].node);
        return CRUN_ENOMEM;
    }
    r->n_anchors++;
    return 0;
}

static int read_alias(reader *r, const yaml_event_t *ev, conf_node **out)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = r->n_anchors; i-- > 0;) {
        if (strcmp(r->anchors[i].name, name) != 0)
            continue;
        size_t count = node_count(r->anchors[i].node);
        if (count > r->budget)
            return reader_error(r, &ev->start_mark, "alias '*%s' expands to too many nodes", name);
        r->budget -= count;
        *out = conf_copy(r->anchors[i].node);
        return *out ? 0 : CRUN_ENOMEM;
    }
    return reader_error(r, &ev->start_mark, "unknown alias '*%s'", name);
}

static int read_node(reader *r, yaml_event_t *ev, bool as_key, conf_node **out);

static int read_seq(reader *r, conf_node *seq)
{
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(r, &ev);
        if (rc != 0)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        conf_node *item = NULL;
        if ((rc = read_node(r, &ev, false, &item)) != 0)
            return rc;
        if (push_item(seq, seq->n, item) != 0) {
            conf_free(item);
            return CRUN_ENOMEM;
        }
        seq->n++;
    }
}

/* "<<: *defaults" (YAML 1.1 merge keys, common in Kedro catalogs): keys
 * written in the map win over merged ones, whatever the order. */
static int apply_merge(reader *r, conf_node *map, conf_node *src)
{
    if (src->kind == CONF_SEQ) {
        for (size_t i = 0; i < src->n; i++) {
            int rc = apply_merge(r, map, src->items[i]);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (src->kind != CONF_MAP)
        return conf_error(r->err, src, "a merge key '<<' needs a map or a list of maps, got %s",
                          conf_kind_name(src));
    for (size_t i = 0; i < src->n; i++) {
        if (conf_get_key(map, src->items[2 * i]->str))
            continue;
        conf_node *k = conf_copy(src->items[2 * i]), *v = conf_copy(src->items[2 * i + 1]);
        if (!k || !v || push_pair(map, k, v) != 0) {
            conf_free(k);
            conf_free(v);
            return CRUN_ENOMEM;
        }
    }
    return 0;
}

static int read_pair(reader *r, conf_node *map, yaml_event_t *ev, conf_node *merges)
{
    conf_node *key = NULL, *val = NULL;
    int rc = read_node(r, ev, true, &key);
    if (rc != 0)
        return rc;
    if (key->kind != CONF_SCALAR) {
        rc = conf_error(r->err, key, "a map key must be a string, got %s", conf_kind_name(key));
        conf_free(key);
        return rc;
    }
    yaml_event_t vev;
    if ((rc = next_event(r, &vev)) != 0 || (rc = read_node(r, &vev, false, &val)) != 0) {
        conf_free(key);
        return rc;
    }
    if (!key->quoted && strcmp(key->str, "<<") == 0) {
        conf_free(key);
        if ((rc = push_item(merges, merges->n, val)) != 0)
            conf_free(val);
        merges->n += rc == 0;
        return rc;
    }
    conf_node *first = conf_get_key(map, key->str);
    if (first) {
        rc = conf_error(r->err, key, "duplicate key '%s' (first at line %u:%u)", key->str,
                        first->line, first->col);
    } else if ((rc = push_pair(map, key, val)) == 0) {
        return 0;
    }
    conf_free(key);
    conf_free(val);
    return rc;
}

static int read_map(reader *r, conf_node *map)
{
    conf_node merges = {.kind = CONF_SEQ};
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(r, &ev)) != 0)
            break;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            for (size_t i = 0; i < merges.n && rc == 0; i++)
                rc = apply_merge(r, map, merges.items[i]);
            break;
        }
        if ((rc = read_pair(r, map, &ev, &merges)) != 0)
            break;
    }
    for (size_t i = 0; i < merges.n; i++)
        conf_free(merges.items[i]);
    free(merges.items);
    return rc;
}

/* Read the node that starts with ev (consumed) and every event up to its end. */
static int read_node(reader *r, yaml_event_t *ev, bool as_key, conf_node **out)
{
    int rc = 0;
    char *anchor_name = NULL;
    const yaml_char_t *anchor = NULL;
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    conf_node *node = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        rc = read_alias(r, ev, &node);
        break;
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        if (!(node = make_scalar(r, ev, as_key)))
            rc = CRUN_ENOMEM;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        anchor = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
                                                        : ev->data.mapping_start.anchor;
        node = conf_new_in(r->arena, ev->type == YAML_SEQUENCE_START_EVENT ? CONF_SEQ : CONF_MAP,
                           r->file, line, col);
        rc = node ? 0 : CRUN_ENOMEM;
        break;
    default:
        rc = reader_error(r, &ev->start_mark, "unexpected YAML event%s", "");
        break;
    }
    if (anchor && !(anchor_name = strdup((const char *)anchor)))
        rc = CRUN_ENOMEM;
    yaml_event_type_t type = ev->type;
    yaml_event_delete(ev);
    if (rc == 0 && type == YAML_SEQUENCE_START_EVENT)
        rc = read_seq(r, node);
    else if (rc == 0 && type == YAML_MAPPING_START_EVENT)
        rc = read_map(r, node);
    if (rc == 0 && anchor_name)
        rc = remember_anchor(r, anchor_name, node);
    free(anchor_name);
    if (rc == CRUN_ENOMEM)
        crun_error_set(r->err, rc, "%s: out of memory", r->file);
    if (rc != 0) {
        conf_free(node);
        return rc;
    }
    *out = node;
    return 0;
}

static int expect_event(reader *r, yaml_event_type_t type, yaml_event_t *ev, const char *what)
{
    int rc = next_event(r, ev);
    if (rc != 0)
        return rc;
    if (ev->type == type)
        return 0;
    rc = reader_error(r, &ev->start_mark, "%s", what);
    yaml_event_delete(ev);
    return rc;
}

static int read_document(reader *r, conf_node **out)
{
    yaml_event_t ev;
    int rc = expect_event(r, YAML_STREAM_START_EVENT, &ev, "expected the start of YAML");
    if (rc != 0)
        return rc;
    yaml_event_delete(&ev);
    if ((rc = next_event(r, &ev)) != 0)
        return rc;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        *out = conf_new(CONF_NULL, r->file, 1, 1);
        return *out ? 0 : CRUN_ENOMEM;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START: libyaml emits nothing else here */
    if ((rc = next_event(r, &ev)) != 0 || (rc = read_node(r, &ev, false, out)) != 0)
        return rc;
    if ((rc = expect_event(r, YAML_DOCUMENT_END_EVENT, &ev, "expected the end of the document")) ==
        0) {
        yaml_event_delete(&ev);
        rc = expect_event(r, YAML_STREAM_END_EVENT, &ev, "only one YAML document per file");
        if (rc == 0)
            yaml_event_delete(&ev);
    }
    if (rc != 0) {
        conf_free(*out);
        *out = NULL;
    }
    return rc;
}

static int parse_text(conf_pool *pool, const char *text, size_t len, const char *display,
                      conf_node **out, crun_error *err)
{
    reader r = {.err = err, .budget = alias_node_budget, .arena = conf_pool_arena(pool)};
    *out = NULL;
    if (!(r.file = conf_pool_intern(pool, display)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!yaml_parser_initialize(&r.parser))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    int rc = read_document(&r, out);
    yaml_parser_delete(&r.parser);
    for (size_t i = 0; i < r.n_anchors; i++) {
        free(r.anchors[i].name);
        conf_free(r.anchors[i].node);
    }
    free(r.anchors);
    return rc;
}

int conf_parse_string(conf_pool *pool, const char *text, const char *display, conf_node **out,
                      crun_error *err)
{
    return parse_text(pool, text, strlen(text), display, out, err);
}

static int read_whole_file(const char *path, const char *display, char **text, size_t *len,
                           crun_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return crun_error_set(err, errno == ENOENT ? CRUN_ENOENT : CRUN_EIO, "%s: %s", display,
                              strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf)
        return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", display);
    if (failed) {
        free(buf);
        return crun_error_set(err, CRUN_EIO, "%s: read error", display);
    }
    *text = buf;
    *len = n;
    return 0;
}

int conf_parse_file(conf_pool *pool, const char *path, const char *display, conf_node **out,
                    crun_error *err)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_whole_file(path, display, &text, &len, err);
    if (rc != 0)
        return rc;
    rc = parse_text(pool, text, len, display, out, err);
    free(text);
    return rc;
}

