/* conf_yaml.c - reading YAML with libyaml's event API into conf_node trees.
 *
 * A small recursive reader turns events into nodes that carry file:line:col
 * (libyaml's marks are 0-based, ours 1-based).  Aliases are expanded as
 * copies, within a budget that stops "billion laughs" files and within the
 * nesting limit (an alias counts as deep as its anchor); YAML 1.1 merge
 * keys ("<<: *defaults") are honoured; duplicate keys are refused.  Plain
 * null forms become CONF_NULL nodes; other scalars stay text for conf_to_json.
 *
 * The entries of the lists and maps being read wait on one stack and are
 * copied once into an array of the right size when their list or map ends.
 * With a conf_stream, the items of chosen lists go to the caller as soon as
 * each is read (built in a scratch arena, dropped right after), which is how
 * a pipelines file of 100,000 nodes is read without ever holding its tree.
 * The events of a text of a megabyte or more come from libyaml running on a
 * second thread (conf_events.h), so parsing and reading overlap.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "conf/conf.h"
#include "conf/conf_cache.h"
#include "conf/conf_events.h"

/* What alias expansion may add to one file, in bytes (each node counts
 * as sizeof(conf_node) and its text): far above any real configuration, far
 * below what "billion laughs" (many nodes, or one long text many times)
 * would need. */
static const size_t alias_budget = CONF_MAX_FILE_BYTES;

/* Lists and maps nested deeper than this are refused: the reader (and every
 * walk of the tree after it) recurses once per level, and no configuration
 * needs a thousand. */
enum { max_nesting = 1000 };

/* What a copy of node costs against the alias budget, and how many lists
 * and maps deep it goes (0 for a scalar). */
static size_t node_cost(const conf_node *node, unsigned *height)
{
    size_t total = sizeof(conf_node) + (node->str ? strlen(node->str) + 1 : 0);
    size_t count = node->kind == CONF_MAP ? 2 * node->n : node->kind == CONF_SEQ ? node->n : 0;
    unsigned deepest = 0;
    for (size_t i = 0; i < count; i++) {
        unsigned h = 0;
        total += node_cost(node->items[i], &h);
        deepest = h > deepest ? h : deepest;
    }
    *height = node->kind == CONF_MAP || node->kind == CONF_SEQ ? deepest + 1 : 0;
    return total;
}

/* Append a list item, or (called twice) a key and its value, to a finished
 * node (merge keys add pairs after the map's own). */
static int push_item(conf_node *node, size_t count, conf_node *item)
{
    conf_node **items;
    if (node->items_in_arena) {
        items = malloc((count + 1) * sizeof(conf_node *));
        if (items && count)
            memcpy(items, node->items, count * sizeof(conf_node *));
    } else {
        items = realloc(node->items, (count + 1) * sizeof(conf_node *));
    }
    if (!items)
        return CRUN_ENOMEM;
    node->items = items;
    node->items_in_arena = false;
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
static bool is_null_text(const char *s, size_t len)
{
    if (len == 0)
        return true;
    if (len == 1)
        return s[0] == '~';
    return len == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
                        memcmp(s, "NULL", 4) == 0);
}

typedef struct anchored_node {
    char *name;
    conf_node *node; /* a private copy: the original may be consumed by a merge key */
    size_t cost;     /* of one copy, against the alias budget */
    unsigned height; /* lists and maps deep */
} anchored_node;

typedef struct reader {
    yaml_parser_t parser;
    const char *text; /* the text parsed (NULL when reading a cache) */
    size_t len;
    conf_events *events; /* a large text's events come from a second thread */
    conf_cache_reader *cached; /* or from the cache of an earlier read */
    conf_cache_writer *saving; /* a large file's events also go to its cache */
    const char *cache_path;
    const char *file;
    const conf_pool *pool; /* asked now and then whether to stop */
    unsigned long n_events;
    conf_arena *arena; /* where nodes go: NULL for the heap, the scratch arena in an item */
    anchored_node *anchors;
    size_t n_anchors;
    size_t budget;
    crun_error *err;
    conf_node **stack; /* entries of the open lists and maps, innermost last */
    size_t n_stack, cap_stack;
    /* streaming (stream is NULL without) */
    const conf_stream *stream;
    conf_arena *scratch; /* streamed or skipped items live here until dropped */
    conf_node **path;    /* keys from the top down to the value being read */
    size_t depth, cap_path;
    unsigned nesting;    /* lists and maps open */
    unsigned anchored;   /* open nodes with an anchor: nothing streams inside them */
    unsigned in_item;    /* inside a streamed or dropped item: no callbacks */
    unsigned skipping;   /* inside a CONF_STREAM_SKIP value */
} reader;

/* libyaml's reader (bad UTF-8, a control character) gives a byte offset
 * and no mark: the mark is counted here, columns in characters as libyaml's,
 * at the first byte of a broken UTF-8 sequence (libyaml names the byte after
 * it that broke it). */
static yaml_mark_t offset_mark(const reader *r, size_t offset)
{
    if (r->text && offset > 0 && offset <= r->len && r->parser.problem &&
        strstr(r->parser.problem, "trailing"))
        while (--offset > 0 && ((unsigned char)r->text[offset] & 0xC0) == 0x80)
            ;
    yaml_mark_t mark = {.index = offset};
    for (size_t i = 0; r->text && i < offset && i < r->len; i++) {
        if (r->text[i] == '\n') {
            mark.line++;
            mark.column = 0;
        } else if (((unsigned char)r->text[i] & 0xC0) != 0x80) {
            mark.column++;
        }
    }
    return mark;
}

static int yaml_failure(reader *r)
{
    yaml_parser_t *p = &r->parser;
    if (p->error == YAML_READER_ERROR)
        p->problem_mark = offset_mark(r, p->problem_offset);
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        return crun_error_set(r->err, CRUN_ECONFIG, "%s:%zu:%zu: %s (%s that started at line %zu)",
                              r->file, p->problem_mark.line + 1, p->problem_mark.column + 1,
                              problem, p->context, p->context_mark.line + 1);
    return crun_error_set(r->err, CRUN_ECONFIG, "%s:%zu:%zu: %s", r->file,
                          p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

/* Events read between two questions whether the load should stop: a
 * megabyte of YAML is some 100,000 events. */
enum { EVENTS_PER_CHECK = 4096 };

static int next_event(reader *r, yaml_event_t *ev)
{
    if (++r->n_events % EVENTS_PER_CHECK == 0) {
        int rc = conf_pool_check_interrupt(r->pool, r->file, r->err);
        if (rc != 0)
            return rc;
    }
    if (r->cached) {
        if (conf_cache_next(r->cached, ev))
            return 0;
        return crun_error_set(r->err, CRUN_ECONFIG, "%s: its cache %s does not decode (delete it "
                              "and run again)", r->file, r->cache_path);
    }
    if (r->events ? !conf_events_next(r->events, ev) : !yaml_parser_parse(&r->parser, ev))
        return yaml_failure(r);
    if (r->saving)
        conf_cache_put(r->saving, ev);
    return 0;
}

/* Events from a conf_events or a cache are views of their memory: nothing
 * to free. */
static void event_done(reader *r, yaml_event_t *ev)
{
    if (!r->events && !r->cached)
        yaml_event_delete(ev);
}

static int reader_error(reader *r, const yaml_mark_t *mark, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, arg);
    return crun_error_set(r->err, CRUN_ECONFIG, "%s:%zu:%zu: %s", r->file, mark->line + 1,
                          mark->column + 1, msg);
}

static int stack_push(reader *r, conf_node *node)
{
    if (r->n_stack == r->cap_stack) {
        size_t cap = r->cap_stack ? 2 * r->cap_stack : 64;
        conf_node **grown = realloc(r->stack, cap * sizeof(conf_node *));
        if (!grown)
            return CRUN_ENOMEM;
        r->stack = grown;
        r->cap_stack = cap;
    }
    r->stack[r->n_stack++] = node;
    return 0;
}

/* Drop the entries above base (on an error). */
static void stack_unwind(reader *r, size_t base)
{
    while (r->n_stack > base)
        conf_free(r->stack[--r->n_stack]);
}

/* The entries above base become node's items, in one array of their size. */
static int stack_finish(reader *r, conf_node *node, size_t base)
{
    size_t count = r->n_stack - base;
    if (count) {
        size_t bytes = count * sizeof(conf_node *);
        node->items = r->arena ? conf_arena_alloc(r->arena, bytes) : malloc(bytes);
        if (!node->items) {
            stack_unwind(r, base);
            return CRUN_ENOMEM;
        }
        node->items_in_arena = r->arena != NULL;
        memcpy(node->items, r->stack + base, bytes);
    }
    node->n = (uint32_t)(node->kind == CONF_MAP ? count / 2 : count);
    r->n_stack = base;
    return 0;
}

static conf_node *make_scalar(reader *r, const yaml_event_t *ev, bool as_key)
{
    const char *text = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                  (tag && strcmp(tag, YAML_STR_TAG) == 0);
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    /* as far as a NUL, like every reader of the text after */
    size_t len = strlen(text);
    if (!as_key && !quoted && is_null_text(text, len))
        return conf_new_in(r->arena, CONF_NULL, r->file, line, col);
    conf_node *node = conf_new_scalar_in(r->arena, text, len, r->file, line, col);
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
    a[r->n_anchors].cost = node_cost(node, &a[r->n_anchors].height);
    r->n_anchors++;
    return 0;
}

static int read_alias(reader *r, const yaml_event_t *ev, conf_node **out)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = r->n_anchors; i-- > 0;) {
        if (strcmp(r->anchors[i].name, name) != 0)
            continue;
        const anchored_node *a = &r->anchors[i];
        if (a->cost > r->budget)
            return reader_error(r, &ev->start_mark, "alias '*%s' expands to too many nodes or "
                                "too much text (aliases may add 64 MiB to a file)", name);
        if (r->nesting + a->height > max_nesting)
            return reader_error(r, &ev->start_mark, "alias '*%s' nests lists and maps more "
                                "than 1000 deep", name);
        r->budget -= a->cost;
        *out = conf_copy(r->anchors[i].node);
        return *out ? 0 : CRUN_ENOMEM;
    }
    return reader_error(r, &ev->start_mark, "unknown alias '*%s'", name);
}

static int read_node(reader *r, yaml_event_t *ev, bool as_key, int action, conf_node **out);

/* Callbacks run outside items, outside anchored nodes and skipped values. */
static bool callbacks_on(const reader *r)
{
    return r->stream && !r->in_item && !r->anchored && !r->skipping;
}

/* One item of a list whose items are not kept: read it in the scratch
 * arena, hand it to the stream (when streaming), drop it. */
static int pass_item(reader *r, yaml_event_t *ev, bool give)
{
    conf_arena *saved = r->arena;
    conf_node *item = NULL;
    r->arena = r->scratch;
    r->in_item++;
    int rc = read_node(r, ev, false, CONF_STREAM_KEEP, &item);
    r->in_item--;
    r->arena = saved;
    if (rc == 0 && give)
        rc = r->stream->item(r->stream->user, r->path, r->depth, item, r->err);
    conf_free(item);
    conf_arena_reset(r->scratch);
    return rc;
}

static int read_seq(reader *r, conf_node *seq, int action)
{
    size_t base = r->n_stack;
    /* an anchored list is copied whole when it ends: it must keep its items */
    bool stream = action == CONF_STREAM_ITEMS && callbacks_on(r);
    bool drop = stream || (r->skipping && !r->anchored && !r->in_item);
    seq->streamed = stream;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(r, &ev);
        if (rc == 0 && ev.type == YAML_SEQUENCE_END_EVENT) {
            event_done(r, &ev);
            return stack_finish(r, seq, base);
        }
        conf_node *item = NULL;
        if (rc == 0 && drop)
            rc = pass_item(r, &ev, stream);
        else if (rc == 0 && (rc = read_node(r, &ev, false, CONF_STREAM_KEEP, &item)) == 0 &&
                 (rc = stack_push(r, item)) != 0)
            conf_free(item);
        if (rc != 0) {
            stack_unwind(r, base);
            return rc;
        }
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

/* The keys of a map being read, for its duplicate check: its pairs are on
 * the stack from base.  A few keys are compared one by one; past
 * KEYS_HASHED they are also in a hash table, so that a map of 100,000 keys
 * (a generated catalog) is not checked in quadratic time. */
enum { KEYS_HASHED = 16 };

typedef struct key_set {
    size_t base;
    const conf_node **slots; /* open addressing; NULL: empty */
    size_t cap, n;
} key_set;

static size_t key_hash(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void key_set_insert(key_set *ks, const conf_node *key)
{
    size_t i = key_hash(key->str) & (ks->cap - 1);
    while (ks->slots[i])
        i = (i + 1) & (ks->cap - 1);
    ks->slots[i] = key;
    ks->n++;
}

/* Room for one more key (and the table built once the map is big enough);
 * false: out of memory. */
static bool key_set_grow(reader *r, key_set *ks)
{
    size_t pairs = (r->n_stack - ks->base) / 2;
    if (pairs < KEYS_HASHED || (ks->n + 1) * 2 <= ks->cap)
        return true;
    size_t cap = ks->cap ? ks->cap * 2 : 64;
    const conf_node **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return false;
    free(ks->slots);
    ks->slots = slots;
    ks->cap = cap;
    ks->n = 0;
    for (size_t i = ks->base; i < r->n_stack; i += 2)
        key_set_insert(ks, r->stack[i]);
    return true;
}

/* The first key of the map being read equal to key, or NULL. */
static const conf_node *pending_key(const reader *r, const key_set *ks, const char *key)
{
    if (ks->cap) {
        for (size_t i = key_hash(key) & (ks->cap - 1); ks->slots[i]; i = (i + 1) & (ks->cap - 1))
            if (strcmp(ks->slots[i]->str, key) == 0)
                return ks->slots[i];
        return NULL;
    }
    for (size_t i = ks->base; i < r->n_stack; i += 2)
        if (r->stack[i]->str[0] == key[0] && strcmp(r->stack[i]->str, key) == 0)
            return r->stack[i];
    return NULL;
}

static int path_push(reader *r, conf_node *key)
{
    if (r->depth == r->cap_path) {
        size_t cap = r->cap_path ? 2 * r->cap_path : 16;
        conf_node **grown = realloc(r->path, cap * sizeof(conf_node *));
        if (!grown)
            return CRUN_ENOMEM;
        r->path = grown;
        r->cap_path = cap;
    }
    r->path[r->depth++] = key;
    return 0;
}

/* Read the value of key (a map's pair), telling the stream when asked. */
static int read_value(reader *r, conf_node *key, int action, conf_node **val)
{
    bool calls = callbacks_on(r);
    int rc = calls ? path_push(r, key) : 0;
    if (rc == 0 && calls && action != CONF_STREAM_SKIP)
        rc = action = r->stream->enter(r->stream->user, r->path, r->depth, r->err);
    if (rc < 0) {
        r->depth -= calls;
        return rc;
    }
    yaml_event_t ev;
    r->skipping += action == CONF_STREAM_SKIP;
    if ((rc = next_event(r, &ev)) == 0)
        rc = read_node(r, &ev, false, action, val);
    r->skipping -= action == CONF_STREAM_SKIP;
    if (rc == 0 && calls && action != CONF_STREAM_SKIP && r->stream->done &&
        (rc = r->stream->done(r->stream->user, r->path, r->depth, *val, r->err)) != 0) {
        conf_free(*val); /* the value is the reader's until it is in the tree */
        *val = NULL;
    }
    r->depth -= calls;
    return rc;
}

static int read_pair(reader *r, key_set *keys, yaml_event_t *ev, conf_node *merges, int action)
{
    conf_node *key = NULL, *val = NULL;
    int rc = read_node(r, ev, true, CONF_STREAM_KEEP, &key);
    if (rc != 0)
        return rc;
    if (key->kind != CONF_SCALAR) {
        rc = conf_error(r->err, key, "a map key must be a string, got %s", conf_kind_name(key));
        conf_free(key);
        return rc;
    }
    bool merge = !key->quoted && key->str[0] == '<' && strcmp(key->str, "<<") == 0;
    /* refused before its value is read, so a streamed value is never given twice */
    if (!merge && !key_set_grow(r, keys)) {
        conf_free(key);
        return CRUN_ENOMEM;
    }
    const conf_node *first = merge ? NULL : pending_key(r, keys, key->str);
    if (first) {
        rc = conf_error(r->err, key, "duplicate key '%s' (first at line %u:%u)", key->str,
                        first->line, first->col);
        conf_free(key);
        return rc;
    }
    if ((rc = read_value(r, key, merge ? CONF_STREAM_KEEP : action, &val)) != 0) {
        conf_free(key);
        return rc;
    }
    if (merge) {
        conf_free(key);
        if ((rc = push_item(merges, merges->n, val)) != 0)
            conf_free(val);
        merges->n += rc == 0;
        return rc;
    }
    if ((rc = stack_push(r, key)) != 0) {
        conf_free(key);
        conf_free(val);
        return rc;
    }
    if ((rc = stack_push(r, val)) != 0)
        conf_free(val);
    else if (keys->cap)
        key_set_insert(keys, key);
    return rc;
}

static int read_map(reader *r, conf_node *map, int action)
{
    conf_node merges = {.kind = CONF_SEQ};
    size_t base = r->n_stack;
    key_set keys = {.base = base};
    /* a skipped value's maps are read as usual: only its lists lose their items */
    int inner = action == CONF_STREAM_SKIP ? CONF_STREAM_SKIP : CONF_STREAM_KEEP;
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(r, &ev)) != 0)
            break;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            event_done(r, &ev);
            rc = stack_finish(r, map, base);
            for (size_t i = 0; i < merges.n && rc == 0; i++)
                rc = apply_merge(r, map, merges.items[i]);
            break;
        }
        if ((rc = read_pair(r, &keys, &ev, &merges, inner)) != 0)
            break;
    }
    free(keys.slots);
    stack_unwind(r, base);
    for (size_t i = 0; i < merges.n; i++)
        conf_free(merges.items[i]);
    free(merges.items);
    return rc;
}

/* Read the node that starts with ev (consumed) and every event up to its end.
 * action is what the stream asked for this value (CONF_STREAM_KEEP when
 * there is no stream). */
static int read_node(reader *r, yaml_event_t *ev, bool as_key, int action, conf_node **out)
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
        if (r->nesting >= max_nesting) {
            char limit[16];
            snprintf(limit, sizeof(limit), "%d", (int)max_nesting);
            rc = reader_error(r, &ev->start_mark, "lists and maps nested more than %s deep",
                              limit);
            break;
        }
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
    event_done(r, ev);
    r->anchored += anchor_name != NULL;
    r->nesting++;
    if (rc == 0 && type == YAML_SEQUENCE_START_EVENT)
        rc = read_seq(r, node, action);
    else if (rc == 0 && type == YAML_MAPPING_START_EVENT)
        rc = read_map(r, node, action);
    r->nesting--;
    r->anchored -= anchor_name != NULL;
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
    event_done(r, ev);
    return rc;
}

static int read_document(reader *r, conf_node **out)
{
    yaml_event_t ev;
    int rc = expect_event(r, YAML_STREAM_START_EVENT, &ev, "expected the start of YAML");
    if (rc != 0)
        return rc;
    event_done(r, &ev);
    if ((rc = next_event(r, &ev)) != 0)
        return rc;
    if (ev.type == YAML_STREAM_END_EVENT) {
        event_done(r, &ev);
        *out = conf_new(CONF_NULL, r->file, 1, 1);
        return *out ? 0 : CRUN_ENOMEM;
    }
    event_done(r, &ev); /* DOCUMENT-START: libyaml emits nothing else here */
    if ((rc = next_event(r, &ev)) != 0 ||
        (rc = read_node(r, &ev, false, CONF_STREAM_KEEP, out)) != 0)
        return rc;
    if ((rc = expect_event(r, YAML_DOCUMENT_END_EVENT, &ev, "expected the end of the document")) ==
        0) {
        event_done(r, &ev);
        rc = expect_event(r, YAML_STREAM_END_EVENT, &ev, "only one YAML document per file");
        if (rc == 0)
            event_done(r, &ev);
    }
    if (rc != 0) {
        conf_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Drop what a read left behind, to read again or to finish. */
static void reader_reset(reader *r)
{
    for (size_t i = 0; i < r->n_anchors; i++) {
        free(r->anchors[i].name);
        conf_free(r->anchors[i].node);
    }
    free(r->anchors);
    free(r->stack);
    free(r->path);
    r->anchors = NULL;
    r->stack = r->path = NULL;
    r->n_anchors = r->n_stack = r->cap_stack = r->depth = r->cap_path = 0;
    r->nesting = r->anchored = r->in_item = r->skipping = 0;
    r->budget = alias_budget;
    conf_arena_reset(r->scratch);
}

/* Read a document from text, or from the events of cached when it is not
 * NULL, giving each event to saving (when not NULL) as it comes. */
static int parse_with(conf_pool *pool, const char *text, size_t len, const char *cache_path,
                      conf_cache_reader *cached, conf_cache_writer *saving, const char *display,
                      const conf_stream *stream, conf_node **out, crun_error *err)
{
    reader r = {.err = err, .stream = stream, .budget = alias_budget, .cached = cached,
                .saving = saving, .cache_path = cache_path, .pool = pool};
    int rc = 0;
    *out = NULL;
    if (!(r.file = conf_pool_intern(pool, display)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (stream && !(r.scratch = conf_arena_new()))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (stream && stream->begin && (rc = stream->begin(stream->user, err)) != 0) {
        conf_arena_free(r.scratch);
        return rc;
    }
    if (!cached) {
        if (!yaml_parser_initialize(&r.parser)) {
            conf_arena_free(r.scratch);
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        }
        yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
        r.text = text;
        r.len = len;
        if (conf_events_worth(len))
            r.events = conf_events_start(&r.parser);
    }
    rc = read_document(&r, out);
    if (!cached) {
        conf_events_stop(r.events);
        yaml_parser_delete(&r.parser);
    }
    reader_reset(&r);
    conf_arena_free(r.scratch);
    return rc;
}

int conf_parse_text(conf_pool *pool, const char *text, size_t len, const char *display,
                    const conf_stream *stream, conf_node **out, crun_error *err)
{
    return parse_with(pool, text, len, NULL, NULL, NULL, display, stream, out, err);
}
int conf_parse_string(conf_pool *pool, const char *text, const char *display, conf_node **out,
                      crun_error *err)
{
    return conf_parse_text(pool, text, strlen(text), display, NULL, out, err);
}

/* A large file (a megabyte or more) is read from its cache when it has a
 * valid one, else mapped with its pages read in at once (cheaper than
 * faulting them in one by one) and cached as it is read; anything else is
 * read into memory. */
int conf_parse_file_stream(conf_pool *pool, const char *path, const char *display,
                           const char *cache_path, const conf_stream *stream, conf_node **out,
                           crun_error *err)
{
    *out = NULL;
    int checked = conf_pool_check_interrupt(pool, display, err);
    if (checked != 0)
        return checked;
    struct timespec read_at = {0};
    clock_gettime(CLOCK_REALTIME, &read_at);
    struct stat st;
    int fd = conf_open_file(path, display, &st, err);
    if (fd < 0)
        return fd;
    if (st.st_size >= (1 << 20)) {
        bool cacheable = cache_path && st.st_size >= CONF_CACHE_MIN_TEXT;
        conf_cache_reader *cached = cacheable ? conf_cache_open(cache_path, &st) : NULL;
        if (cached) {
            close(fd);
            int rc = parse_with(pool, NULL, 0, cache_path, cached, NULL, display, stream, out, err);
            conf_cache_close(cached);
            return rc;
        }
        size_t len = (size_t)st.st_size;
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (map != MAP_FAILED) {
            conf_cache_writer *saving =
                cacheable ? conf_cache_create(cache_path, &st, &read_at) : NULL;
            int rc = parse_with(pool, map, len, cache_path, NULL, saving, display, stream, out,
                                err);
            /* kept only if the file did not change while it was read */
            struct stat now;
            conf_cache_finish(saving, rc == 0 && fstat(fd, &now) == 0 &&
                                          conf_cache_same_version(&st, &now));
            close(fd);
            munmap(map, len);
            return rc;
        }
    }
    char *text = NULL;
    size_t len = 0;
    int rc = conf_read_whole(fd, (size_t)st.st_size, display, &text, &len, err);
    close(fd);
    if (rc == 0)
        rc = conf_parse_text(pool, text, len, display, stream, out, err);
    free(text);
    return rc;
}

int conf_parse_file(conf_pool *pool, const char *path, const char *display, conf_node **out,
                    crun_error *err)
{
    return conf_parse_file_stream(pool, path, display, NULL, NULL, out, err);
}
