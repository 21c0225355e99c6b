/* conf_interp.c - ${...} references in configuration trees, resolved in place.
 *
 * Each scalar is scanned once, left to right: "$${" is a literal "${"; a
 * scalar that is exactly one reference becomes a copy of the referenced value
 * (a map stays a map, a number a number) at the scalar's own position; other
 * references are replaced by their text.  Resolved values are never scanned
 * again, so a value from the environment cannot smuggle in a reference.
 * Errors name the scalar's position and the reference as written.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "core/suggest.h"

static const char *const resolvers[] = {"globals", "env", "runtime_params", NULL};

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

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static bool split_ref(char *text, ref *r)
{
    char *colon = strchr(text, ':');
    if (!colon)
        return false;
    *colon = '\0';
    r->resolver = trim(text);
    char *key = colon + 1, *comma = strchr(key, ',');
    r->def = NULL;
    r->def_quoted = false;
    if (comma) {
        *comma = '\0';
        char *def = trim(comma + 1);
        size_t n = strlen(def);
        if (n >= 2 && (def[0] == '"' || def[0] == '\'') && def[n - 1] == def[0]) {
            def[n - 1] = '\0';
            def++;
            r->def_quoted = true;
        }
        r->def = def;
    }
    r->key = trim(key);
    return true;
}

static const conf_node *lookup_conf(const conf_node *node, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    if (!copy)
        return NULL;
    for (char *seg = strtok_r(copy, ".", &save); seg && node; seg = strtok_r(NULL, ".", &save)) {
        if (node->kind == CONF_MAP) {
            node = conf_get(node, seg);
        } else if (node->kind == CONF_SEQ && seg[strspn(seg, "0123456789")] == '\0') {
            size_t i = strtoul(seg, NULL, 10);
            node = i < node->n ? node->items[i] : NULL;
        } else {
            node = NULL;
        }
    }
    free(copy);
    return node;
}

static json_t *lookup_json(json_t *json, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    if (!copy)
        return NULL;
    for (char *seg = strtok_r(copy, ".", &save); seg && json; seg = strtok_r(NULL, ".", &save))
        json = json_object_get(json, seg);
    free(copy);
    return json;
}

/* Find the value; *out stays NULL when the key is absent. */
static int find_value(const ref *r, const conf_node *at, const conf_interp *ctx, conf_node **out)
{
    *out = NULL;
    if (strcmp(r->resolver, "globals") == 0) {
        const conf_node *v = lookup_conf(ctx->globals, r->key);
        if (v && !(*out = conf_copy(v)))
            return CRUN_ENOMEM;
    } else if (strcmp(r->resolver, "env") == 0) {
        const char *v = conf_getenv(ctx->environ, r->key);
        if (v && !(*out = conf_new_scalar(v, at->file, at->line, at->col)))
            return CRUN_ENOMEM;
    } else {
        if (ctx->used_runtime_params &&
            json_object_set_new(ctx->used_runtime_params, r->key, json_true()) != 0)
            return CRUN_ENOMEM;
        json_t *v = lookup_json(ctx->runtime_params, r->key);
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
static int resolve(const char *text, size_t len, const conf_node *at, const conf_interp *ctx,
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
        rc = find_value(&r, at, ctx, out);
    if (rc == 0 && !*out && r.def) {
        if (!(*out = conf_new_scalar(r.def, at->file, at->line, at->col)))
            rc = CRUN_ENOMEM;
        else
            (*out)->quoted = r.def_quoted;
    } else if (rc == 0 && !*out) {
        rc = missing_error(&r, at, shown, err);
    }
    if (rc == CRUN_ENOMEM)
        crun_error_set(err, rc, "out of memory");
    if (rc == 0) {
        (*out)->line = at->line;
        (*out)->col = at->col;
        (*out)->file = at->file;
    }
    free(shown);
    free(work);
    return rc;
}

/* The scalar is exactly "${...}": it becomes the value, keeping its position. */
static int replace_whole(conf_node *node, const conf_interp *ctx, crun_error *err)
{
    conf_node *value = NULL;
    int rc = resolve(node->str + 2, strlen(node->str) - 3, node, ctx, &value, err);
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
                      const conf_interp *ctx, crun_error *err)
{
    conf_node *value = NULL;
    int rc = resolve(text, len, node, ctx, &value, err);
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

static int interpolate_text(conf_node *node, const conf_interp *ctx, crun_error *err)
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
            rc = append_ref(&sb, p + 2, (size_t)(end - p - 2), node, ctx, err);
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

static int interpolate_scalar(conf_node *node, const conf_interp *ctx, crun_error *err)
{
    const char *s = node->str;
    if (!strstr(s, "${"))
        return 0;
    const char *end = s[0] == '$' && s[1] == '{' ? strchr(s + 2, '}') : NULL;
    if (end && end[1] == '\0')
        return replace_whole(node, ctx, err);
    return interpolate_text(node, ctx, err);
}

int conf_interpolate(conf_node *root, const conf_interp *ctx, crun_error *err)
{
    if (!root)
        return 0;
    if (root->kind == CONF_SCALAR)
        return interpolate_scalar(root, ctx, err);
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
