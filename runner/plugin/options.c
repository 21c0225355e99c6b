/* options.c - crun_options: a plugin's options plus where each was written.
 *
 * The host builds options from a runner.yml or catalog.yml map (each key's
 * file:line:col kept), then overlays --runner-opt values, which arrive as
 * strings; the typed accessors therefore accept a string that reads as the
 * wanted type.  Every complaint names the option's place and its owner, so
 * a plugin author never has to format positions.  Immutable once handed to
 * a plugin, hence safe to share between threads.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/options.h"
#include "core/suggest.h"

struct crun_options {
    json_t *values; /* the options */
    json_t *where;  /* key -> "file:line:col" */
    char *owner;    /* "runner 'parallel'" */
    char *origin;   /* where keys without a position came from */
    char *dir;      /* the project folder, for relative paths; NULL if unknown */
};

const char *crun_options_dir(const crun_options *opts)
{
    return opts->dir;
}

int crun_options_set_dir(crun_options *opts, const char *dir)
{
    char *copy = dir ? strdup(dir) : NULL;
    if (dir && !copy)
        return CRUN_ENOMEM;
    free(opts->dir);
    opts->dir = copy;
    return 0;
}

crun_options *crun_options_new(json_t *object, const char *owner, const char *origin)
{
    if (object && !json_is_object(object))
        return NULL;
    crun_options *opts = calloc(1, sizeof(crun_options));
    if (!opts)
        return NULL;
    /* A copy, so that options_set never changes the caller's object. */
    opts->values = object ? json_deep_copy(object) : json_object();
    opts->where = json_object();
    opts->owner = strdup(owner ? owner : "");
    opts->origin = strdup(origin ? origin : "options");
    if (!opts->values || !opts->where || !opts->owner || !opts->origin) {
        crun_options_free(opts);
        return NULL;
    }
    return opts;
}

void crun_options_free(crun_options *opts)
{
    if (!opts)
        return;
    json_decref(opts->values);
    json_decref(opts->where);
    free(opts->owner);
    free(opts->origin);
    free(opts->dir);
    free(opts);
}

json_t *crun_options_json(const crun_options *opts)
{
    return opts->values;
}

const char *crun_options_where(const crun_options *opts, const char *key)
{
    const char *where = json_string_value(json_object_get(opts->where, key));
    return where ? where : opts->origin;
}

const char *crun_options_owner(const crun_options *opts)
{
    return opts->owner;
}

bool crun_options_has(const crun_options *opts, const char *key)
{
    return json_object_get(opts->values, key) != NULL;
}

/* "<where>: <owner>: option 'key': expected <what>, got <value as JSON>" */
static int type_error(const crun_options *opts, const char *key, const char *what,
                      json_t *value, crun_error *err)
{
    char *shown = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    crun_error_set(err, CRUN_ECONFIG, "%s: %s%soption '%s': expected %s, got %s",
                   crun_options_where(opts, key), opts->owner, opts->owner[0] ? ": " : "", key,
                   what, shown ? shown : "a value");
    free(shown);
    return CRUN_ECONFIG;
}

/* A null value means "not set": the caller's default stays. */
static json_t *lookup(const crun_options *opts, const char *key)
{
    json_t *v = json_object_get(opts->values, key);
    return json_is_null(v) ? NULL : v;
}

static bool parse_int_text(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    bool hex = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'));
    long long v = strtoll(s, &end, hex ? 16 : 10);
    if (errno || end == s || *end || s[0] == ' ')
        return false;
    *out = v;
    return true;
}

static bool as_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return false;
        *out = (int64_t)d;
        return true;
    }
    return json_is_string(v) && parse_int_text(json_string_value(v), out);
}

static void describe_range(char *buf, size_t size, int64_t min, int64_t max)
{
    if (min == INT64_MIN && max == INT64_MAX)
        snprintf(buf, size, "an integer");
    else if (max == INT64_MAX)
        snprintf(buf, size, "an integer >= %lld", (long long)min);
    else if (min == INT64_MIN)
        snprintf(buf, size, "an integer <= %lld", (long long)max);
    else
        snprintf(buf, size, "an integer from %lld to %lld", (long long)min, (long long)max);
}

int crun_options_int(const crun_options *opts, const char *key, int64_t min, int64_t max,
                     int64_t *out, crun_error *err)
{
    json_t *v = lookup(opts, key);
    if (!v)
        return 0;
    int64_t n;
    if (as_int(v, &n) && n >= min && n <= max) {
        *out = n;
        return 0;
    }
    char what[96];
    describe_range(what, sizeof(what), min, max);
    return type_error(opts, key, what, v, err);
}

int crun_options_double(const crun_options *opts, const char *key, double *out, crun_error *err)
{
    json_t *v = lookup(opts, key);
    if (!v)
        return 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (!errno && end != s && !*end && s[0] != ' ') {
            *out = d;
            return 0;
        }
    }
    return type_error(opts, key, "a number", v, err);
}

static const char *const true_words[] = {"true", "True", "TRUE"};
static const char *const false_words[] = {"false", "False", "FALSE"};

static bool text_bool(const char *s, bool *out)
{
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, true_words[i]) == 0 || strcmp(s, false_words[i]) == 0) {
            *out = strcmp(s, true_words[i]) == 0;
            return true;
        }
    }
    return false;
}

int crun_options_bool(const crun_options *opts, const char *key, bool *out, crun_error *err)
{
    json_t *v = lookup(opts, key);
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && text_bool(json_string_value(v), out))
        return 0;
    return type_error(opts, key, "true or false", v, err);
}

int crun_options_string(const crun_options *opts, const char *key, const char **out,
                        crun_error *err)
{
    json_t *v = lookup(opts, key);
    if (!v)
        return 0;
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    return type_error(opts, key, "a string", v, err);
}

int crun_options_check_known(const crun_options *opts, const char *const *known, crun_error *err)
{
    size_t n_known = 0;
    while (known[n_known])
        n_known++;
    const char *key;
    json_t *v;
    json_object_foreach(opts->values, key, v) {
        bool ok = false;
        for (size_t i = 0; i < n_known && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (ok)
            continue;
        const char *hint = suggest_closest(key, known, n_known);
        return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s' is not known%s%s%s%s%s",
                              crun_options_where(opts, key), key, opts->owner[0] ? " to " : "",
                              opts->owner, hint ? " (did you mean '" : "", hint ? hint : "",
                              hint ? "'?)" : "");
    }
    return 0;
}

crun_options *options_from_conf(const conf_node *map, const char *owner)
{
    char where[512];
    const char *origin = map ? conf_where(map, where, sizeof(where)) : "options";
    crun_options *opts = crun_options_new(NULL, owner, origin);
    if (!opts || !map || map->kind != CONF_MAP)
        return opts;
    for (size_t i = 0; i < map->n; i++) {
        const conf_node *key = map->items[2 * i];
        json_t *value = conf_to_json(map->items[2 * i + 1]);
        if (!value || options_set(opts, key->str, value, conf_where(key, where, sizeof(where)))) {
            crun_options_free(opts);
            return NULL;
        }
    }
    return opts;
}

int options_set(crun_options *opts, const char *key, json_t *value, const char *where)
{
    if (json_object_set_new(opts->values, key, value) != 0)
        return CRUN_ENOMEM;
    if (!where) {
        json_object_del(opts->where, key); /* absent when never positioned: fine */
        return 0;
    }
    return json_object_set_new(opts->where, key, json_string(where)) == 0 ? 0 : CRUN_ENOMEM;
}

void options_remove(crun_options *opts, const char *key)
{
    json_object_del(opts->values, key); /* absent keys are fine: nothing to remove */
    json_object_del(opts->where, key);
}
