/* params.c - "a.b=1,c=x,d=[1,2]" (--params, crun.ini hook options) into JSON.
 *
 * Items are split at commas outside brackets and quotes; a dotted key builds
 * nested objects.  Values are typed as JSON when they read as JSON (numbers,
 * true/false/null, "strings", arrays, objects), lists and maps written the
 * YAML way ("[a, b]") as YAML flow, and are strings otherwise, so that
 * "path=data/x.csv" needs no quotes.  params_apply then sets them on the
 * project's parameters, refusing keys that neither parameters nor a
 * ${runtime_params:...} reference know.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/project.h"
#include "core/suggest.h"

/* Length of the item starting at s (up to a top-level comma), or -1 when a
 * bracket or quote is left open. */
static long item_length(const char *s)
{
    int depth = 0;
    char quote = 0;
    const char *p = s;
    for (; *p; p++) {
        if (quote) {
            if (*p == '\\' && quote == '"' && p[1])
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '[' || *p == '{') {
            depth++;
        } else if ((*p == ']' || *p == '}') && depth > 0) {
            depth--;
        } else if (*p == ',' && depth == 0) {
            break;
        }
    }
    return quote || depth ? -1 : (long)(p - s);
}

static json_t *parse_value(const char *text)
{
    size_t n = strlen(text);
    json_t *json = n ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    if (json)
        return json;
    if (n >= 2 && text[0] == '\'' && text[n - 1] == '\'')
        return json_stringn(text + 1, n - 2);
    if (text[0] == '[' || text[0] == '{') {
        conf_pool *pool = conf_pool_new();
        conf_node *node = NULL;
        if (pool && conf_parse_string(pool, text, "--params", &node, NULL) == 0)
            json = conf_to_json(node);
        conf_free(node);
        conf_pool_free(pool);
        if (json)
            return json;
    }
    return json_string(text);
}

/* Put value (taken over) at the dotted key, creating objects on the way. */
static int set_path(json_t *root, const char *key, json_t *value, crun_error *err)
{
    char *copy = strdup(key), *save = NULL;
    if (!copy || !value) {
        free(copy);
        json_decref(value);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    json_t *at = root;
    char *seg = strtok_r(copy, ".", &save);
    for (char *next; (next = strtok_r(NULL, ".", &save)); seg = next) {
        json_t *child = json_object_get(at, seg);
        if (child && !json_is_object(child)) {
            crun_error_set(err, CRUN_EUSAGE, "'%s': '%s' already has a value", key, seg);
            json_decref(value);
            free(copy);
            return CRUN_EUSAGE;
        }
        if (!child && json_object_set_new(at, seg, child = json_object()) != 0)
            child = NULL;
        if (!child) {
            json_decref(value);
            free(copy);
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        }
        at = child;
    }
    /* "a.b=1,a=2" is refused as "a=2,a.b=1" is: one of them would be lost */
    json_t *before = json_object_get(at, seg);
    if (before && json_is_object(before) && json_object_size(before) && !json_is_object(value)) {
        crun_error_set(err, CRUN_EUSAGE, "'%s' already has values under it (%s.*)", key, key);
        json_decref(value);
        free(copy);
        return CRUN_EUSAGE;
    }
    int rc = json_object_set_new(at, seg, value);
    free(copy);
    return rc == 0 ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static bool valid_key(const char *key)
{
    if (!*key || key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, ".."))
        return false;
    return true;
}

static int parse_item(json_t *root, char *item, crun_error *err)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return crun_error_set(err, CRUN_EUSAGE, "expected key=value, got '%s'", conf_trim(item));
    *eq = '\0';
    char *key = conf_trim(item), *value = conf_trim(eq + 1);
    if (!*key)
        return crun_error_set(err, CRUN_EUSAGE, "missing a name before '=%s'", value);
    if (!valid_key(key))
        return crun_error_set(err, CRUN_EUSAGE, "'%s' is not a valid name (an empty part "
                              "between dots)", key);
    return set_path(root, key, parse_value(value), err);
}

int params_parse(const char *text, json_t **out, crun_error *err)
{
    json_t *root = json_object();
    int rc = root ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (const char *p = text ? text : ""; rc == 0 && *p;) {
        long n = item_length(p);
        if (n < 0) {
            rc = crun_error_set(err, CRUN_EUSAGE, "unbalanced brackets or quotes in '%s'", p);
            break;
        }
        char *item = strndup(p, (size_t)n);
        if (!item)
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        else if (*conf_trim(item)) /* "a=1," and "a=1,,b=2" are forgiven */
            rc = parse_item(root, item, err);
        free(item);
        p += n;
        if (*p == ',')
            p++;
    }
    if (rc != 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

/* --- --params onto parameters (project_load) ------------------------------------ */

static const conf_node *conf_path(const conf_node *node, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    if (!copy)
        return NULL;
    for (char *seg = strtok_r(copy, ".", &save); seg && node; seg = strtok_r(NULL, ".", &save))
        node = conf_get(node, seg);
    free(copy);
    return node;
}

/* A reference to a.b uses --params a.b, a.b.c and a alike. */
static bool used_by_reference(json_t *used, const char *path)
{
    const char *u;
    json_t *v;
    size_t n = strlen(path);
    json_object_foreach(used, u, v) {
        size_t m = strlen(u);
        size_t shorter = m < n ? m : n;
        if (strncmp(u, path, shorter) == 0 &&
            (m == n || (m < n ? path[m] : u[n]) == '.'))
            return true;
    }
    return false;
}

typedef struct path_list {
    char **paths;
    size_t n;
} path_list;

static int collect_paths(const conf_node *node, const char *prefix, path_list *out)
{
    for (size_t i = 0; node && node->kind == CONF_MAP && i < node->n; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", prefix, *prefix ? "." : "", node->items[2 * i]->str) < 0)
            return CRUN_ENOMEM;
        char **grown = realloc(out->paths, (out->n + 1) * sizeof(char *));
        if (!grown) {
            free(path);
            return CRUN_ENOMEM;
        }
        out->paths = grown;
        out->paths[out->n++] = path;
        int rc = collect_paths(node->items[2 * i + 1], path, out);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A parameter parameters.yml does not have is added, as Kedro's --params
 * does, unless it looks like a typo of one it has: then it is refused with
 * that name (0 or CRUN_EUSAGE). */
static int unknown_param(const project *p, const char *path, crun_error *err)
{
    path_list all = {0};
    const char *hint = NULL;
    if (collect_paths(p->parameters, "", &all) == 0)
        hint = suggest_closest(path, (const char *const *)all.paths, all.n);
    if (hint)
        crun_error_set(err, CRUN_EUSAGE, "--params: unknown parameter '%s' (did you mean "
                       "'%s'?)", path, hint);
    for (size_t i = 0; i < all.n; i++)
        free(all.paths[i]);
    free(all.paths);
    return hint ? CRUN_EUSAGE : 0;
}

/* Set parameters at the dotted path, making maps where there are none. */
static int set_param(project *p, const char *path, conf_node *value)
{
    const char *file = value->file;
    if (!p->parameters && !(p->parameters = conf_new(CONF_MAP, file, 0, 0))) {
        conf_free(value);
        return CRUN_ENOMEM;
    }
    char *copy = strdup(path), *save = NULL, *seg = copy ? strtok_r(copy, ".", &save) : NULL;
    conf_node *at = p->parameters;
    int rc = copy ? 0 : CRUN_ENOMEM;
    for (char *next; rc == 0 && (next = strtok_r(NULL, ".", &save)); seg = next) {
        conf_node *child = conf_get(at, seg);
        if (!child || child->kind != CONF_MAP) {
            child = conf_new(CONF_MAP, file, 0, 0);
            rc = child ? conf_set(at, conf_new_scalar(seg, file, 0, 0), child) : CRUN_ENOMEM;
        }
        at = child;
    }
    if (rc == 0)
        rc = conf_set(at, conf_new_scalar(seg, file, 0, 0), value);
    else
        conf_free(value);
    free(copy);
    return rc;
}

static int set_param_json(project *p, const char *path, json_t *val, crun_error *err)
{
    const char *file = conf_pool_intern(p->pool, "--params");
    conf_node *node = file ? conf_from_json(val, file, 0, 0) : NULL;
    if (!node || set_param(p, path, node) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

static int apply_leaves(project *p, json_t *obj, const char *prefix, json_t *used,
                        crun_error *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", prefix, *prefix ? "." : "", key) < 0)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        int rc = 0;
        if (json_is_object(val) && json_object_size(val) > 0)
            rc = apply_leaves(p, val, path, used, err);
        else if ((conf_path(p->parameters, path) || used_by_reference(used, path) ||
                  (rc = unknown_param(p, path, err)) == 0))
            rc = set_param_json(p, path, val, err);
        free(path);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int params_apply(project *p, json_t *used, crun_error *err)
{
    return apply_leaves(p, p->runtime_params, "", used, err);
}
