/* conf.c - conf_node trees: building, merging, positions in messages, JSON.
 *
 * Trees come from conf_yaml.c (YAML files) or conf_from_json (--params, IR).
 * Every node remembers file:line:col, so errors about it name the place.
 * Plain scalars stay text until conf_to_json types them by YAML's core
 * schema (the null forms are already CONF_NULL nodes, so that "expected a
 * string, got null" reads right).  Merging consumes both trees and reuses
 * their nodes; ${...} interpolation lives in conf_interp.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "conf/conf.h"
#include "crun/value.h"
#include "core/suggest.h"

struct conf_pool {
    char **strs;
    size_t n;
    conf_interrupt intr;
};

/* --- arenas: blocks from 16 KiB doubling up to 1 MiB, so a small project
 * pays for little and a large one for few blocks; freeing an arena returns
 * its memory to the system at once --- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t size;
    bool mapped;
    max_align_t data[];
} arena_block;

struct conf_arena {
    arena_block *head; /* the block being filled; older (full) blocks follow */
    size_t next_size;  /* of the next block */
};

static const size_t arena_first_block = (16 << 10) - 64, arena_max_block = (1 << 20) - 64;

conf_arena *conf_arena_new(void)
{
    conf_arena *arena = calloc(1, sizeof(conf_arena));
    if (arena)
        arena->next_size = arena_first_block;
    return arena;
}

/* Big blocks are mapped with their pages populated at once: an arena fills
 * every page of a block anyway, and one call costs far less than faulting
 * the pages in one by one (a 100,000-node IR is 10 MB of arena). */
static arena_block *new_block(size_t cap)
{
    size_t bytes = sizeof(arena_block) + cap;
    arena_block *b;
    if (cap < arena_max_block) {
        if (!(b = malloc(bytes)))
            return NULL;
    } else {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        b = p;
    }
    b->size = cap;
    b->mapped = cap >= arena_max_block;
    return b;
}

static void free_blocks(arena_block *b)
{
    for (arena_block *next; b; b = next) {
        next = b->next;
        if (b->mapped)
            munmap(b, sizeof(arena_block) + b->size);
        else
            free(b);
    }
}

void conf_arena_free(conf_arena *arena)
{
    if (!arena)
        return;
    free_blocks(arena->head);
    free(arena);
}

void conf_arena_reset(conf_arena *arena)
{
    if (!arena || !arena->head)
        return;
    free_blocks(arena->head->next);
    arena->head->next = NULL;
    arena->head->used = 0;
}

static void *arena_take(conf_arena *arena, size_t size, size_t align)
{
    arena_block *b = arena->head;
    size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;
    if (b && at + size <= b->size) {
        b->used = at + size;
        return (char *)b->data + at;
    }
    bool alone = size > arena->next_size / 4; /* a big object gets a block of its own */
    size_t cap = alone ? size : arena->next_size;
    arena_block *nb = new_block(cap);
    if (!nb)
        return NULL;
    nb->used = size;
    if (alone && b) { /* keep filling the current block */
        nb->next = b->next;
        b->next = nb;
    } else {
        nb->next = b;
        arena->head = nb;
    }
    if (!alone && arena->next_size < arena_max_block) {
        size_t doubled = 2 * (arena->next_size + 64) - 64; /* whole pages and malloc's header */
        arena->next_size = doubled < arena_max_block ? doubled : arena_max_block;
    }
    return nb->data;
}

void *conf_arena_alloc(conf_arena *arena, size_t size)
{
    return arena_take(arena, size ? size : 1, sizeof(max_align_t));
}

char *conf_arena_strndup(conf_arena *arena, const char *s, size_t len)
{
    char *copy = arena_take(arena, len + 1, 1);
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

char *conf_arena_strdup(conf_arena *arena, const char *s)
{
    return conf_arena_strndup(arena, s, strlen(s));
}

conf_pool *conf_pool_new(void)
{
    return calloc(1, sizeof(conf_pool));
}

void conf_pool_free(conf_pool *pool)
{
    if (!pool)
        return;
    for (size_t i = 0; i < pool->n; i++)
        free(pool->strs[i]);
    free(pool->strs);
    free(pool);
}

void conf_pool_set_interrupt(conf_pool *pool, const conf_interrupt *intr)
{
    pool->intr = intr ? *intr : (conf_interrupt){0};
}

int conf_pool_check_interrupt(const conf_pool *pool, const char *file, crun_error *err)
{
    if (!pool->intr.check || !pool->intr.check(pool->intr.user))
        return 0;
    return crun_error_set(err, CRUN_ECANCELED, "interrupted while loading the project (reading "
                          "%s)", file);
}

const char *conf_pool_intern(conf_pool *pool, const char *s)
{
    for (size_t i = 0; i < pool->n; i++)
        if (strcmp(pool->strs[i], s) == 0)
            return pool->strs[i];
    char **strs = realloc(pool->strs, (pool->n + 1) * sizeof(char *));
    if (!strs)
        return NULL;
    pool->strs = strs;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    strs[pool->n++] = copy;
    return copy;
}

/* --- nodes ------------------------------------------------------------- */

/* A fresh node of kind at file:line:col in mem (NULL: out of memory). */
static conf_node *node_init(void *mem, conf_kind kind, const char *file, uint32_t line,
                            uint32_t col, bool in_arena)
{
    conf_node *node = mem;
    if (!node)
        return NULL;
    memset(node, 0, sizeof(*node));
    node->kind = kind;
    node->file = file;
    node->line = line;
    node->col = col;
    node->in_arena = in_arena;
    return node;
}

conf_node *conf_new_in(conf_arena *arena, conf_kind kind, const char *file, uint32_t line,
                       uint32_t col)
{
    if (!arena)
        return conf_new(kind, file, line, col);
    return node_init(arena_take(arena, sizeof(conf_node), _Alignof(conf_node)), kind, file, line,
                     col, true);
}

conf_node *conf_new_scalar_in(conf_arena *arena, const char *text, size_t len, const char *file,
                              uint32_t line, uint32_t col)
{
    size_t size = sizeof(conf_node) + len + 1;
    conf_node *node = node_init(arena ? arena_take(arena, size, _Alignof(conf_node)) : malloc(size),
                                CONF_SCALAR, file, line, col, arena != NULL);
    if (!node)
        return NULL;
    node->inline_str = true;
    node->str = (char *)(node + 1);
    memcpy(node->str, text, len);
    node->str[len] = '\0';
    return node;
}

conf_node *conf_new(conf_kind kind, const char *file, uint32_t line, uint32_t col)
{
    return node_init(malloc(sizeof(conf_node)), kind, file, line, col, false);
}

/* A scalar and its text in one allocation: a pipeline of 100,000 nodes
 * reads close to a million scalars, and half the allocations is half the
 * peak memory of reading it. */
conf_node *conf_new_scalar(const char *text, const char *file, uint32_t line, uint32_t col)
{
    size_t len = strlen(text ? text : "");
    conf_node *node = malloc(sizeof(conf_node) + len + 1);
    if (!node)
        return NULL;
    memset(node, 0, sizeof(*node));
    node->kind = CONF_SCALAR;
    node->file = file;
    node->line = line;
    node->col = col;
    node->inline_str = true;
    node->str = (char *)(node + 1);
    memcpy(node->str, text ? text : "", len + 1);
    return node;
}

static size_t item_count(const conf_node *node)
{
    if (node->kind == CONF_MAP)
        return 2 * node->n;
    return node->kind == CONF_SEQ ? node->n : 0;
}

/* What a node holds apart from itself: its items and its text. */
static void free_contents(conf_node *node)
{
    size_t count = item_count(node);
    for (size_t i = 0; i < count; i++)
        conf_free(node->items[i]);
    if (!node->items_in_arena)
        free(node->items);
    if (!node->inline_str)
        free(node->str);
}

void conf_free(conf_node *node)
{
    if (!node)
        return;
    free_contents(node);
    if (!node->in_arena)
        free(node);
}

void conf_mark_streamed(conf_node *node)
{
    free_contents(node);
    node->kind = CONF_SEQ;
    node->items = NULL;
    node->items_in_arena = false;
    node->n = 0;
    node->str = NULL;
    node->inline_str = false;
    node->quoted = false;
    node->streamed = true;
}

void conf_set_text(conf_node *node, char *owned)
{
    if (!node->inline_str)
        free(node->str);
    node->str = owned;
    node->inline_str = false;
}

conf_node *conf_copy(const conf_node *node)
{
    if (!node)
        return NULL;
    conf_node *copy = conf_new(node->kind, node->file, node->line, node->col);
    if (!copy)
        return NULL;
    copy->quoted = node->quoted;
    if (node->str && !(copy->str = strdup(node->str)))
        goto fail;
    size_t count = item_count(node);
    if (count) {
        copy->items = calloc(count, sizeof(conf_node *));
        if (!copy->items)
            goto fail;
        copy->n = node->n;
        for (size_t i = 0; i < count; i++)
            if (!(copy->items[i] = conf_copy(node->items[i])))
                goto fail;
    }
    return copy;
fail:
    conf_free(copy);
    return NULL;
}

/* Room for one more entry in items (count now); items held in an arena move
 * out to the heap, since an arena cannot grow them. */
static int grow_items(conf_node *node, size_t count, size_t more)
{
    conf_node **items;
    if (node->items_in_arena) {
        items = malloc((count + more) * sizeof(conf_node *));
        if (items && count)
            memcpy(items, node->items, count * sizeof(conf_node *));
    } else {
        items = realloc(node->items, (count + more) * sizeof(conf_node *));
    }
    if (!items)
        return CRUN_ENOMEM;
    node->items = items;
    node->items_in_arena = false;
    return 0;
}

/* Append one item (a list element, or a key or value of a map). */
static int push_item(conf_node *node, conf_node *item)
{
    size_t count = item_count(node);
    if (grow_items(node, count, 1) != 0)
        return CRUN_ENOMEM;
    node->items[count] = item;
    return 0;
}

static int push_pair(conf_node *map, conf_node *key, conf_node *val)
{
    if (grow_items(map, 2 * map->n, 2) != 0)
        return CRUN_ENOMEM;
    map->items[2 * map->n] = key;
    map->items[2 * map->n + 1] = val;
    map->n++;
    return 0;
}

static long find_key(const conf_node *map, const char *key)
{
    if (!map || map->kind != CONF_MAP || !key)
        return -1;
    for (size_t i = 0; i < map->n; i++) {
        const conf_node *k = map->items[2 * i];
        if (k->str && strcmp(k->str, key) == 0)
            return (long)i;
    }
    return -1;
}

conf_node *conf_get(const conf_node *map, const char *key)
{
    long i = find_key(map, key);
    return i < 0 ? NULL : map->items[2 * i + 1];
}

conf_node *conf_get_key(const conf_node *map, const char *key)
{
    long i = find_key(map, key);
    return i < 0 ? NULL : map->items[2 * i];
}

int conf_set(conf_node *map, conf_node *key, conf_node *val)
{
    if (!map || map->kind != CONF_MAP || !key || !val || !key->str) {
        conf_free(key);
        conf_free(val);
        return CRUN_EINVAL;
    }
    long i = find_key(map, key->str);
    if (i < 0) {
        int rc = push_pair(map, key, val);
        if (rc != 0) {
            conf_free(key);
            conf_free(val);
        }
        return rc;
    }
    conf_free(map->items[2 * i]);
    conf_free(map->items[2 * i + 1]);
    map->items[2 * i] = key;
    map->items[2 * i + 1] = val;
    return 0;
}

conf_node *conf_merge(conf_node *base, conf_node *over, bool deep)
{
    if (!base)
        return over;
    if (!over)
        return base;
    if (base->kind != CONF_MAP || over->kind != CONF_MAP) {
        conf_free(base);
        return over;
    }
    for (size_t i = 0; i < over->n; i++) {
        conf_node *key = over->items[2 * i], *val = over->items[2 * i + 1];
        over->items[2 * i] = over->items[2 * i + 1] = NULL;
        long at = find_key(base, key->str);
        if (deep && at >= 0 && val->kind == CONF_MAP && base->items[2 * at + 1]->kind == CONF_MAP) {
            base->items[2 * at + 1] = conf_merge(base->items[2 * at + 1], val, true);
            conf_free(key);
        } else if (conf_set(base, key, val) != 0) {
            /* Out of memory mid-merge: the half-merged tree is still valid. */
            continue;
        }
    }
    over->n = 0;
    conf_free(over);
    return base;
}

/* --- positions and errors -------------------------------------------------- */

const char *conf_where(const conf_node *node, char *buf, size_t size)
{
    if (!node || !node->file)
        snprintf(buf, size, "<unknown>");
    else if (node->line == 0)
        snprintf(buf, size, "%s", node->file);
    else
        snprintf(buf, size, "%s:%u:%u", node->file, node->line, node->col);
    return buf;
}

int conf_error(crun_error *err, const conf_node *at, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return crun_error_set(err, CRUN_ECONFIG, "configuration error (out of memory)");
    char where[512];
    if (at)
        crun_error_set(err, CRUN_ECONFIG, "%s: %s", conf_where(at, where, sizeof(where)), msg);
    else
        crun_error_set(err, CRUN_ECONFIG, "%s", msg);
    free(msg);
    return CRUN_ECONFIG;
}

static json_t *scalar_to_json(const char *s, bool quoted);

char *conf_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

const char *conf_kind_name(const conf_node *node)
{
    if (!node)
        return "nothing";
    switch (node->kind) {
    case CONF_NULL: return "null";
    case CONF_SEQ: return "a list";
    case CONF_MAP: return "a map";
    case CONF_SCALAR: break;
    }
    json_t *j = scalar_to_json(node->str, node->quoted);
    const char *name = "a string";
    if (json_is_boolean(j))
        name = "a boolean";
    else if (json_is_number(j))
        name = "a number";
    else if (json_is_null(j))
        name = "null";
    json_decref(j);
    return name;
}

int conf_check_keys(const conf_node *map, const char *const *known, const char *what,
                    crun_error *err)
{
    if (!map || map->kind != CONF_MAP)
        return 0;
    size_t n_known = 0;
    while (known[n_known])
        n_known++;
    for (size_t i = 0; i < map->n; i++) {
        const conf_node *key = map->items[2 * i];
        bool ok = false;
        for (size_t k = 0; k < n_known && !ok; k++)
            ok = strcmp(key->str, known[k]) == 0;
        if (ok)
            continue;
        const char *hint = suggest_closest(key->str, known, n_known);
        return conf_error(err, key, "unknown key '%s' in %s%s%s%s", key->str, what,
                          hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    }
    return 0;
}

/* --- JSON ---------------------------------------------------------------- */

static bool all_digits(const char *s, const char *digits)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(digits, *s))
            return false;
    return true;
}

/* YAML 1.2 core schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_float_text(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    size_t int_digits = strspn(s, "0123456789");
    s += int_digits;
    size_t frac_digits = 0;
    if (*s == '.') {
        s++;
        frac_digits = strspn(s, "0123456789");
        s += frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!all_digits(s, "0123456789"))
            return false;
        return true;
    }
    return *s == '\0';
}

static bool is_special_float(const char *s, double *out)
{
    double sign = 1;
    const char *t = s;
    if (*t == '-' || *t == '+')
        sign = *t++ == '-' ? -1 : 1;
    if (strcmp(t, ".inf") == 0 || strcmp(t, ".Inf") == 0 || strcmp(t, ".INF") == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (t == s && (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)) {
        *out = NAN;
        return true;
    }
    return false;
}

static json_t *integer_to_json(const char *s)
{
    int base = 10;
    const char *digits = s;
    if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        digits = s + 2;
    } else if (s[0] == '0' && s[1] == 'o') {
        base = 8;
        digits = s + 2;
    }
    errno = 0;
    long long v = strtoll(digits, NULL, base);
    if (errno == ERANGE)
        return base == 10 ? json_real(strtod(s, NULL)) : json_string(s);
    return json_integer(v);
}

/* The plain forms YAML's core schema reads as null (conf_yaml.c agrees). */
static bool is_null_text(const char *s)
{
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static json_t *scalar_to_json(const char *s, bool quoted)
{
    if (quoted)
        return json_string(s);
    if (is_null_text(s))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    const char *unsigned_part = (*s == '-' || *s == '+') ? s + 1 : s;
    if (all_digits(unsigned_part, "0123456789") ||
        (s[0] == '0' && s[1] == 'x' && all_digits(s + 2, "0123456789abcdefABCDEF")) ||
        (s[0] == '0' && s[1] == 'o' && all_digits(s + 2, "01234567")))
        return integer_to_json(s);
    double d;
    if (is_float_text(s))
        return json_real(strtod(s, NULL));
    if (is_special_float(s, &d)) {
        /* JSON has no infinity or NaN (jansson refuses them): keep the text. */
        json_t *real = json_real(d);
        return real ? real : json_string(s);
    }
    return json_string(s);
}

json_t *conf_to_json(const conf_node *node)
{
    if (!node || node->kind == CONF_NULL)
        return json_null();
    if (node->kind == CONF_SCALAR)
        return scalar_to_json(node->str, node->quoted);
    json_t *out = node->kind == CONF_SEQ ? json_array() : json_object();
    for (size_t i = 0; out && i < node->n; i++) {
        int rc;
        if (node->kind == CONF_SEQ)
            rc = json_array_append_new(out, conf_to_json(node->items[i]));
        else
            rc = json_object_set_new(out, node->items[2 * i]->str,
                                     conf_to_json(node->items[2 * i + 1]));
        if (rc != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static conf_node *real_to_conf(double v, const char *file, uint32_t line, uint32_t col)
{
    char buf[64];
    crun_real_format(v, buf, sizeof(buf)); /* a float when read back */
    return conf_new_scalar(buf, file, line, col);
}

static conf_node *json_scalar_to_conf(json_t *json, const char *file, uint32_t line, uint32_t col)
{
    char buf[32];
    conf_node *node = NULL;
    switch (json_typeof(json)) {
    case JSON_STRING:
        if ((node = conf_new_scalar(json_string_value(json), file, line, col)))
            node->quoted = true;
        return node;
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(json));
        return conf_new_scalar(buf, file, line, col);
    case JSON_REAL: return real_to_conf(json_real_value(json), file, line, col);
    case JSON_TRUE: return conf_new_scalar("true", file, line, col);
    case JSON_FALSE: return conf_new_scalar("false", file, line, col);
    default: return conf_new(CONF_NULL, file, line, col);
    }
}

conf_node *conf_from_json(json_t *json, const char *file, uint32_t line, uint32_t col)
{
    if (!json_is_array(json) && !json_is_object(json))
        return json_scalar_to_conf(json, file, line, col);
    conf_node *node = conf_new(json_is_array(json) ? CONF_SEQ : CONF_MAP, file, line, col);
    if (!node)
        return NULL;
    size_t i;
    json_t *v;
    const char *k;
    if (json_is_array(json)) {
        json_array_foreach(json, i, v) {
            conf_node *item = conf_from_json(v, file, line, col);
            if (!item || push_item(node, item) != 0) {
                conf_free(item);
                conf_free(node);
                return NULL;
            }
            node->n++;
        }
        return node;
    }
    json_object_foreach(json, k, v) {
        conf_node *key = conf_new_scalar(k, file, line, col);
        conf_node *val = conf_from_json(v, file, line, col);
        if (!key || !val || push_pair(node, key, val) != 0) {
            conf_free(key);
            conf_free(val);
            conf_free(node);
            return NULL;
        }
    }
    return node;
}

const char *conf_getenv(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return envp[i] + len + 1;
    return NULL;
}
