/* conf_interp.c - ${...} references in configuration trees, resolved in place.
 *
 * Each scalar is scanned once, left to right: "$${" is a literal "${"; a
 * scalar that is exactly one reference becomes a copy of the referenced value
 * (a map stays a map, a number a number) at the scalar's own position; other
 * references are replaced by their text.  Resolved values are never scanned
 * again, so a value from the environment cannot smuggle in a reference.
 * Errors name the scalar's position and the reference as written.
 *
 * Globals are resolved against themselves (conf_interpolate_globals): a
 * reference to another global resolves that one first, in place, so each
 * is resolved once; a node marked resolving that is met again closes a
 * cycle, reported with the chain of references that led to it.  What
 * references copy in counts against the caller's budget, so that values
 * doubling each other cannot grow without bound.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "crun/value.h"
#include "core/suggest.h"

static const char *const resolvers[] = {"globals", "env", "runtime_params", NULL};

/* The references being followed while globals resolve, innermost first. */
typedef struct chain {
    const char *key;
    const struct chain *up;
} chain;

/* One interpolation: the caller's context and, for globals resolved
 * against themselves, their tree and the chain that led here. */
typedef struct walk {
    const conf_interp *ctx;
    conf_node *self;
    const chain *chain;
} walk;

static int interpolate_scalar(conf_node *node, const walk *w, crun_error *err);

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static int sb_add(strbuf *sb, const char *s, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 64;
        while (cap < sb->len + n + 1)
            cap *= 2;
        char *grown = realloc(sb->s, cap);
        if (!grown)
            return CRUN_ENOMEM;
        sb->s = grown;
        sb->cap = cap;
    }
    memcpy(sb->s + sb->len, s, n);
    sb->len += n;
    sb->s[sb->len] = '\0';
    return 0;
}

/* A reference split in place: "resolver:key,default". */
typedef struct ref {
    const char *resolver, *key, *def;
    bool def_quoted;
} ref;

static bool split_ref(char *text, ref *r)
{
    char *colon = strchr(text, ':');
    if (!colon)
        return false;
    *colon = '\0';
    r->resolver = conf_trim(text);
    char *key = colon + 1, *comma = strchr(key, ',');
    r->def = NULL;
    r->def_quoted = false;
    if (comma) {
        *comma = '\0';
        char *def = conf_trim(comma + 1);
        size_t n = strlen(def);
        if (n >= 2 && (def[0] == '"' || def[0] == '\'') && def[n - 1] == def[0]) {
            def[n - 1] = '\0';
            def++;
            r->def_quoted = true;
        }
        r->def = def;
    }
    r->key = conf_trim(key);
    return true;
}

/* One step of a dotted path: a map's key or a list's index. */
static conf_node *step(const conf_node *node, const char *seg)
{
    if (node->kind == CONF_MAP)
        return conf_get(node, seg);
    if (node->kind == CONF_SEQ && seg[strspn(seg, "0123456789")] == '\0') {
        size_t i = strtoul(seg, NULL, 10);
        return i < node->n ? node->items[i] : NULL;
    }
    return NULL;
}

static const conf_node *lookup_conf(const conf_node *node, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    if (!copy)
        return NULL;
    for (char *seg = strtok_r(copy, ".", &save); seg && node; seg = strtok_r(NULL, ".", &save))
        node = step(node, seg);
    free(copy);
    return node;
}

/* --- globals against themselves --- */

static int cycle_error(const walk *w, const conf_node *at, crun_error *err)
{
    const char *keys[32];
    size_t n = 0;
    for (const chain *c = w->chain; c && n < 32; c = c->up)
        keys[n++] = c->key;
    char text[1024] = "";
    size_t len = 0;
    for (size_t i = n; i-- > 0 && len < sizeof(text);)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", keys[i], i ? " -> " : "");
    return conf_error(err, at, "${globals:%s}: globals refer to each other in a cycle: %s",
                      w->chain->key, text);
}

/* A scalar of the globals resolved in place, once. */
static int settle(const walk *w, conf_node *node, const conf_node *at, crun_error *err)
{
    if (node->kind != CONF_SCALAR || node->resolved)
        return 0;
    if (node->resolving)
        return cycle_error(w, at, err);
    node->resolving = true;
    int rc = interpolate_scalar(node, w, err);
    node->resolving = false;
    node->resolved = true;
    return rc;
}

static int settle_tree(const walk *w, conf_node *node, const conf_node *at, crun_error *err)
{
    if (node->kind == CONF_SCALAR)
        return settle(w, node, at, err);
    bool map = node->kind == CONF_MAP;
    size_t count = map || node->kind == CONF_SEQ ? node->n : 0;
    for (size_t i = 0; i < count; i++) {
        int rc = settle_tree(w, map ? node->items[2 * i + 1] : node->items[i], at, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A copy of resolved globals is resolved too. */
static void mark_resolved(conf_node *node)
{
    node->resolved = true;
    size_t count = node->kind == CONF_MAP ? 2 * node->n : node->kind == CONF_SEQ ? node->n : 0;
    for (size_t i = 0; i < count; i++)
        mark_resolved(node->items[i]);
}

/* The global at path (NULL when absent), resolved first: scalars on the
 * way (one may become the map the path goes on into) and all below it. */
static int lookup_self(const walk *w, const char *path, const conf_node *at,
                       const conf_node **out, crun_error *err)
{
    chain link = {path, w->chain};
    walk inner = {w->ctx, w->self, &link};
    char *copy = strdup(path), *save = NULL;
    if (!copy)
        return CRUN_ENOMEM;
    conf_node *node = w->self;
    int rc = 0;
    for (char *seg = strtok_r(copy, ".", &save); seg && node && rc == 0;
         seg = strtok_r(NULL, ".", &save))
        if ((rc = settle(&inner, node, at, err)) == 0)
            node = step(node, seg);
    if (rc == 0 && node)
        rc = settle_tree(&inner, node, at, err);
    free(copy);
    *out = rc == 0 ? node : NULL;
    return rc;
}

int conf_interpolate_globals(conf_node *globals, const conf_interp *ctx, crun_error *err)
{
    for (size_t i = 0; globals && globals->kind == CONF_MAP && i < globals->n; i++) {
        chain top = {globals->items[2 * i]->str, NULL};
        walk w = {ctx, globals, &top};
        int rc = settle_tree(&w, globals->items[2 * i + 1], globals->items[2 * i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* What a value copied in costs against the budget. */
static size_t value_cost(const conf_node *node)
{
    size_t total = sizeof(conf_node) + (node->str ? strlen(node->str) + 1 : 0);
    size_t count = node->kind == CONF_MAP ? 2 * node->n : node->kind == CONF_SEQ ? node->n : 0;
    for (size_t i = 0; i < count; i++)
        total += value_cost(node->items[i]);
    return total;
}

/* Find the value; *out stays NULL when the key is absent. */
static int find_value(const ref *r, const conf_node *at, const walk *w, conf_node **out,
                      crun_error *err)
{
    const conf_interp *ctx = w->ctx;
    *out = NULL;
    if (strcmp(r->resolver, "globals") == 0) {
        const conf_node *v = w->self ? NULL : lookup_conf(ctx->globals, r->key);
        int rc = w->self ? lookup_self(w, r->key, at, &v, err) : 0;
        if (rc != 0)
            return rc;
        if (v && !(*out = conf_copy(v)))
            return CRUN_ENOMEM;
        if (v && w->self)
            mark_resolved(*out);
    } else if (strcmp(r->resolver, "env") == 0) {
        const char *v = conf_getenv(ctx->environ, r->key);
        if (v && !(*out = conf_new_scalar(v, at->file, at->line, at->col)))
            return CRUN_ENOMEM;
    } else {
        if (ctx->used_runtime_params &&
            json_object_set_new(ctx->used_runtime_params, r->key, json_true()) != 0)
            return CRUN_ENOMEM;
        json_t *v = crun_json_path(ctx->runtime_params, r->key);
        if (v && !(*out = conf_from_json(v, at->file, at->line, at->col)))
            return CRUN_ENOMEM;
    }
    return 0;
}

static int missing_error(const ref *r, const conf_node *at, const char *text, crun_error *err)
{
    if (strcmp(r->resolver, "globals") == 0)
        return conf_error(err, at, "${%s}: '%s' is not defined in globals and has no default",
                          text, r->key);
    if (strcmp(r->resolver, "env") == 0)
        return conf_error(err, at,
                          "${%s}: environment variable %s is not set and has no default", text,
                          r->key);
    return conf_error(err, at,
                      "${%s}: runtime parameter '%s' was not given (--params %s=...) and has no "
                      "default",
                      text, r->key, r->key);
}

static int check_ref(const ref *r, const conf_node *at, const char *text, crun_error *err)
{
    size_t n = 0;
    while (resolvers[n] && strcmp(resolvers[n], r->resolver) != 0)
        n++;
    if (!resolvers[n]) {
        const char *hint = suggest_closest(r->resolver, resolvers, 3);
        return conf_error(err, at, "${%s}: unknown resolver '%s'%s%s%s (use globals, env or "
                          "runtime_params)", text, r->resolver, hint ? " (did you mean '" : "",
                          hint ? hint : "", hint ? "'?)" : "");
    }
    if (!*r->key)
        return conf_error(err, at, "${%s}: the reference names nothing", text);
    return 0;
}

/* Resolve the reference text (between "${" and "}") into a new node placed at at. */
static int resolve(const char *text, size_t len, const conf_node *at, const walk *w,
                   conf_node **out, crun_error *err)
{
    char *shown = strndup(text, len), *work = strndup(text, len);
    int rc = shown && work ? 0 : CRUN_ENOMEM;
    ref r = {0};
    if (rc == 0 && !split_ref(work, &r))
        rc = conf_error(err, at, "${%s}: a reference needs a resolver: ${globals:...}, "
                        "${env:...} or ${runtime_params:...}", shown);
    if (rc == 0)
        rc = check_ref(&r, at, shown, err);
    if (rc == 0)
        rc = find_value(&r, at, w, out, err);
    if (rc == 0 && !*out && r.def) {
        if (!(*out = conf_new_scalar(r.def, at->file, at->line, at->col)))
            rc = CRUN_ENOMEM;
        else
            (*out)->quoted = r.def_quoted;
    } else if (rc == 0 && !*out) {
        rc = missing_error(&r, at, shown, err);
    }
    size_t cost = rc == 0 && w->ctx->budget ? value_cost(*out) : 0;
    if (cost && cost > *w->ctx->budget)
        rc = conf_error(err, at, "${%s}: the values that references copy in pass the %zu MiB "
                        "they may add to the configuration", shown, CONF_MAX_REFERENCED_BYTES >> 20);
    else if (cost)
        *w->ctx->budget -= cost;
    if (rc == CRUN_ENOMEM)
        crun_error_set(err, rc, "out of memory");
    if (rc != 0) {
        conf_free(*out);
        *out = NULL;
    } else {
        (*out)->line = at->line;
        (*out)->col = at->col;
        (*out)->file = at->file;
    }
    free(shown);
    free(work);
    return rc;
}

/* The scalar is exactly "${...}": it becomes the value, keeping its position. */
static int replace_whole(conf_node *node, const walk *w, crun_error *err)
{
    conf_node *value = NULL;
    int rc = resolve(node->str + 2, strlen(node->str) - 3, node, w, &value, err);
    if (rc != 0)
        return rc;
    char *text = NULL;
    if (value->str && !(text = value->inline_str ? strdup(value->str) : value->str)) {
        conf_free(value);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    conf_set_text(node, text);
    /* "${env:PORT}" in quotes asked for a string: keep it one. */
    node->quoted = value->kind == CONF_SCALAR && (node->quoted || value->quoted);
    node->kind = value->kind;
    node->n = value->n;
    node->items = value->items;
    node->items_in_arena = value->items_in_arena;
    free(value);
    return 0;
}

static int append_ref(strbuf *sb, const char *text, size_t len, const conf_node *node,
                      const walk *w, crun_error *err)
{
    conf_node *value = NULL;
    int rc = resolve(text, len, node, w, &value, err);
    if (rc != 0)
        return rc;
    if (value->kind == CONF_MAP || value->kind == CONF_SEQ)
        rc = conf_error(err, node, "${%.*s}: refers to %s, which cannot be part of a string",
                        (int)len, text, conf_kind_name(value));
    else if (value->kind == CONF_NULL)
        rc = sb_add(sb, "null", 4);
    else
        rc = sb_add(sb, value->str, strlen(value->str));
    conf_free(value);
    return rc;
}

static int interpolate_text(conf_node *node, const walk *w, crun_error *err)
{
    strbuf sb = {0};
    int rc = sb_add(&sb, "", 0);
    for (const char *p = node->str; *p && rc == 0;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            rc = sb_add(&sb, "${", 2);
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                rc = conf_error(err, node, "unterminated reference '%s' (a '${' needs its '}'; "
                                "write '$${' for a literal '${')", p);
                break;
            }
            rc = append_ref(&sb, p + 2, (size_t)(end - p - 2), node, w, err);
            p = end + 1;
        } else {
            rc = sb_add(&sb, p, 1);
            p++;
        }
    }
    if (rc == CRUN_ENOMEM)
        crun_error_set(err, rc, "out of memory");
    if (rc != 0) {
        free(sb.s);
        return rc;
    }
    conf_set_text(node, sb.s);
    return 0;
}

static int interpolate_scalar(conf_node *node, const walk *w, crun_error *err)
{
    const char *s = node->str;
    if (!strstr(s, "${"))
        return 0;
    const char *end = s[0] == '$' && s[1] == '{' ? strchr(s + 2, '}') : NULL;
    if (end && end[1] == '\0')
        return replace_whole(node, w, err);
    return interpolate_text(node, w, err);
}

int conf_interpolate(conf_node *root, const conf_interp *ctx, crun_error *err)
{
    if (!root)
        return 0;
    if (root->kind == CONF_SCALAR)
        return interpolate_scalar(root, &(walk){ctx, NULL, NULL}, err);
    bool map = root->kind == CONF_MAP;
    size_t count = root->kind == CONF_SEQ ? root->n : map ? root->n : 0;
    for (size_t i = 0; i < count; i++) {
        int rc = conf_interpolate(map ? root->items[2 * i + 1] : root->items[i], ctx, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

bool conf_refers_to(const conf_node *root, const char *resolver, const char *key)
{
    if (!root)
        return false;
    if (root->kind == CONF_SCALAR) {
        size_t n = strlen(resolver), k = key ? strlen(key) : 0;
        for (const char *p = strstr(root->str, "${"); p; p = strstr(p + 2, "${")) {
            const char *at = p + 2;
            while (*at == ' ')
                at++;
            if (strncmp(at, resolver, n) != 0 || at[n] != ':')
                continue;
            if (!key)
                return true;
            at += n + 1;
            while (*at == ' ')
                at++;
            if (strncmp(at, key, k) == 0 && (at[k] == '}' || at[k] == ',' || at[k] == ' '))
                return true;
        }
        return false;
    }
    size_t count = root->kind == CONF_SEQ || root->kind == CONF_MAP ? root->n : 0;
    for (size_t i = 0; i < count; i++)
        if (conf_refers_to(root->kind == CONF_MAP ? root->items[2 * i + 1] : root->items[i],
                           resolver, key))
            return true;
    return false;
}

bool conf_uses_resolver(const conf_node *root, const char *resolver)
{
    return conf_refers_to(root, resolver, NULL);
}
