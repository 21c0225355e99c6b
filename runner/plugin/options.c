/* options.c - crun_options: a plugin's options plus where each was written.
 *
 * Plugins read them one key at a time (crun_options_int...) or all at once
 * from a table of crun_option (crun_options_read, at the end of this file):
 * unknown keys refused, each value converted to the member's type, checked
 * against its range or choices, defaults applied, and stored at its offset.
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
#include <strings.h>

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

/* "<where>: <owner>: option 'key': expected <what>, got <value as JSON>", and
 * " (did you mean '<hint>'?)" when there is a hint. */
static int value_error(const crun_options *opts, const char *key, const char *what,
                       json_t *value, const char *hint, crun_error *err)
{
    char *shown = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    crun_error_set(err, CRUN_ECONFIG, "%s: %s%soption '%s': expected %s, got %s%s%s%s",
                   crun_options_where(opts, key), opts->owner, opts->owner[0] ? ": " : "", key,
                   what, shown ? shown : "a value", hint ? " (did you mean '" : "",
                   hint ? hint : "", hint ? "'?)" : "");
    free(shown);
    return CRUN_ECONFIG;
}

static int type_error(const crun_options *opts, const char *key, const char *what,
                      json_t *value, crun_error *err)
{
    return value_error(opts, key, what, value, NULL, err);
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

/* A number, or a string that starts with one: *rest is what follows it
 * ("ms" of "500ms"; "" for a JSON number). */
static bool number_and_rest(json_t *v, double *out, const char **rest)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        *rest = "";
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || s[0] == ' ')
        return false;
    *out = d;
    *rest = end;
    return true;
}

static bool as_double(json_t *v, double *out)
{
    const char *rest;
    return number_and_rest(v, out, &rest) && !*rest;
}

int crun_options_double(const crun_options *opts, const char *key, double *out, crun_error *err)
{
    json_t *v = lookup(opts, key);
    if (!v)
        return 0;
    if (as_double(v, out))
        return 0;
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

static bool as_bool(json_t *v, bool *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    return json_is_string(v) && text_bool(json_string_value(v), out);
}

int crun_options_bool(const crun_options *opts, const char *key, bool *out, crun_error *err)
{
    json_t *v = lookup(opts, key);
    if (!v)
        return 0;
    if (as_bool(v, out))
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

/* Refuse the first key of opts not among names[0..n), suggesting the closest. */
static int refuse_unknown(const crun_options *opts, const char *const *names, size_t n,
                          crun_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(opts->values, key, v) {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = strcmp(key, names[i]) == 0;
        if (ok)
            continue;
        const char *hint = suggest_closest(key, names, n);
        return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s' is not known%s%s%s%s%s",
                              crun_options_where(opts, key), key, opts->owner[0] ? " to " : "",
                              opts->owner, hint ? " (did you mean '" : "", hint ? hint : "",
                              hint ? "'?)" : "");
    }
    return 0;
}

int crun_options_check_known(const crun_options *opts, const char *const *known, crun_error *err)
{
    size_t n_known = 0;
    while (known[n_known])
        n_known++;
    return refuse_unknown(opts, known, n_known, err);
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

/* --- option tables --- */

static const char *const type_names[] = {"unknown",  "int",  "double",      "bool", "string",
                                         "choice",   "duration", "size", "string list", "json"};

const char *crun_option_type_name(crun_option_type type)
{
    return type >= CRUN_OPTION_INT && type <= CRUN_OPTION_JSON ? type_names[type] : "unknown";
}

/* A value converted to its option's type, before it is stored. */
typedef union option_value {
    int64_t i;
    double d;
    bool b;
    const char *s;
    json_t *j;
} option_value;

static bool ranged(const crun_option *o)
{
    return o->min != 0 || o->max != 0;
}

static bool in_range(const crun_option *o, double x)
{
    if (!ranged(o))
        return isfinite(x);
    return x >= o->min && x <= o->max;
}

static const struct unit {
    const char *name;
    double scale;
} duration_units[] = {{"", 1},    {"s", 1},     {"ms", 0.001}, {"m", 60},
                      {"h", 3600}, {"d", 86400}, {NULL, 0}};

/* Seconds: a number, or a number followed by ms, s, m, h or d. */
static bool as_duration(json_t *v, double *out)
{
    double x;
    const char *rest;
    if (!number_and_rest(v, &x, &rest))
        return false;
    for (const struct unit *u = duration_units; u->name; u++)
        if (strcmp(rest, u->name) == 0) {
            *out = x * u->scale;
            return isfinite(*out);
        }
    return false;
}

/* Bytes: a number, or one followed by k, M, G or T (powers of 1024), each
 * optionally followed by B or iB ("64k", "10MiB", "1G"). */
static bool as_size(json_t *v, int64_t *out)
{
    double x;
    const char *rest;
    if (!number_and_rest(v, &x, &rest))
        return false;
    const char *powers = "kmgt";
    const char *p = rest[0] ? strchr(powers, rest[0] | 0x20) : NULL;
    if (p)
        rest++;
    if (*rest && strcasecmp(rest, "b") != 0 && (!p || strcasecmp(rest, "ib") != 0))
        return false;
    x *= pow(1024, p ? (double)(p - powers + 1) : 0);
    if (!isfinite(x) || x < -9.2e18 || x > 9.2e18 || (!p && x != floor(x)))
        return false;
    *out = (int64_t)x;
    return true;
}

static size_t n_choices(const crun_option *o)
{
    size_t n = 0;
    while (o->choices && o->choices[n])
        n++;
    return n;
}

static bool as_choice(const crun_option *o, json_t *v, const char **out)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s && o->choices && o->choices[i]; i++)
        if (strcmp(s, o->choices[i]) == 0) {
            *out = o->choices[i]; /* the table's own string: it outlives the options */
            return true;
        }
    return false;
}

static bool as_string_list(const crun_option *o, json_t *v)
{
    if (!json_is_array(v) || ((o->flags & CRUN_OPTION_NONEMPTY) && !json_array_size(v)))
        return false;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
        if (!json_is_string(item))
            return false;
    return true;
}

static bool convert(const crun_option *o, json_t *v, option_value *out)
{
    bool nonempty = o->flags & CRUN_OPTION_NONEMPTY;
    switch (o->type) {
    case CRUN_OPTION_INT:
        return as_int(v, &out->i) && in_range(o, (double)out->i);
    case CRUN_OPTION_DOUBLE:
        return as_double(v, &out->d) && in_range(o, out->d);
    case CRUN_OPTION_BOOL:
        return as_bool(v, &out->b);
    case CRUN_OPTION_STRING:
        out->s = json_string_value(v);
        return out->s && (!nonempty || out->s[0]);
    case CRUN_OPTION_CHOICE:
        return as_choice(o, v, &out->s);
    case CRUN_OPTION_DURATION:
        return as_duration(v, &out->d) && in_range(o, out->d);
    case CRUN_OPTION_SIZE:
        return as_size(v, &out->i) && in_range(o, (double)out->i);
    case CRUN_OPTION_STRING_LIST:
        out->j = v;
        return as_string_list(o, v);
    case CRUN_OPTION_JSON:
        out->j = v;
        return !nonempty || !(json_is_object(v) ? json_object_size(v) == 0
                              : json_is_array(v) ? json_array_size(v) == 0
                              : json_is_string(v) && !json_string_length(v));
    }
    return false;
}

static void store(const crun_option *o, const option_value *v, void *config)
{
    char *at = (char *)config + o->offset;
    switch (o->type) {
    case CRUN_OPTION_INT:
    case CRUN_OPTION_SIZE:
        memcpy(at, &v->i, sizeof(v->i));
        break;
    case CRUN_OPTION_DOUBLE:
    case CRUN_OPTION_DURATION:
        memcpy(at, &v->d, sizeof(v->d));
        break;
    case CRUN_OPTION_BOOL:
        memcpy(at, &v->b, sizeof(v->b));
        break;
    case CRUN_OPTION_STRING:
    case CRUN_OPTION_CHOICE:
        memcpy(at, &v->s, sizeof(v->s));
        break;
    case CRUN_OPTION_STRING_LIST:
    case CRUN_OPTION_JSON:
        memcpy(at, &v->j, sizeof(v->j));
        break;
    }
}

/* " from 1 to 1024", " >= 0", " <= 9" or "" */
static void range_text(const crun_option *o, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!ranged(o))
        return;
    if (o->max == INFINITY)
        snprintf(buf, size, " >= %.15g", o->min);
    else if (o->min == -INFINITY)
        snprintf(buf, size, " <= %.15g", o->max);
    else
        snprintf(buf, size, " from %.15g to %.15g", o->min, o->max);
}

/* What a value of o must be: "an integer from 1 to 1024", "one of 'a', 'b'". */
static void expected_text(const crun_option *o, char *buf, size_t size)
{
    char range[96];
    const char *ne = (o->flags & CRUN_OPTION_NONEMPTY) ? "non-empty " : "";
    range_text(o, range, sizeof(range));
    switch (o->type) {
    case CRUN_OPTION_INT:
        snprintf(buf, size, "an integer%s", range);
        return;
    case CRUN_OPTION_DOUBLE:
        snprintf(buf, size, "a number%s", range);
        return;
    case CRUN_OPTION_BOOL:
        snprintf(buf, size, "true or false");
        return;
    case CRUN_OPTION_DURATION:
        snprintf(buf, size, "a number of seconds%s (or 500ms, 2m, 1h...)", range);
        return;
    case CRUN_OPTION_SIZE:
        snprintf(buf, size, "a number of bytes%s (or 64k, 10M, 1G...)", range);
        return;
    case CRUN_OPTION_STRING_LIST:
        snprintf(buf, size, "a %slist of strings", ne);
        return;
    case CRUN_OPTION_CHOICE: {
        size_t len = (size_t)snprintf(buf, size, "one of");
        for (size_t i = 0; o->choices && o->choices[i] && len < size; i++)
            len += (size_t)snprintf(buf + len, size - len, "%s '%s'", i ? "," : "",
                                    o->choices[i]);
        return;
    }
    default:
        snprintf(buf, size, "a %s%s", ne, o->type == CRUN_OPTION_STRING ? "string" : "value");
    }
}

static int bad_value(const crun_options *opts, const crun_option *o, json_t *v, crun_error *err)
{
    char what[512];
    expected_text(o, what, sizeof(what));
    const char *hint = o->type == CRUN_OPTION_CHOICE && json_is_string(v)
                           ? suggest_closest(json_string_value(v), o->choices, n_choices(o))
                           : NULL;
    return value_error(opts, o->name, what, v, hint, err);
}

/* The default of o applied: read like a user's value, but the stored string
 * is the table's own so that it outlives the temporary JSON. */
static int apply_default(const crun_options *opts, const crun_option *o, void *config,
                         crun_error *err)
{
    option_value val;
    json_t *d = json_string(o->def);
    if (!d)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    bool ok = o->type != CRUN_OPTION_STRING_LIST && o->type != CRUN_OPTION_JSON &&
              convert(o, d, &val);
    json_decref(d);
    if (!ok) {
        char what[512];
        expected_text(o, what, sizeof(what));
        return crun_error_set(err, CRUN_EINVAL, "%s%soption '%s': the plugin's default '%s' is "
                              "not %s", opts->owner, opts->owner[0] ? ": " : "", o->name, o->def,
                              what);
    }
    if (o->type == CRUN_OPTION_STRING)
        val.s = o->def;
    store(o, &val, config);
    return 0;
}

static int read_one(const crun_options *opts, const crun_option *o, void *config,
                    crun_error *err)
{
    json_t *v = lookup(opts, o->name);
    if (v) {
        option_value val;
        if (!convert(o, v, &val))
            return bad_value(opts, o, v, err);
        store(o, &val, config);
        return 0;
    }
    if (o->flags & CRUN_OPTION_REQUIRED)
        return crun_error_set(err, CRUN_ECONFIG, "%s: %s%soption '%s' is required",
                              crun_options_where(opts, o->name), opts->owner,
                              opts->owner[0] ? ": " : "", o->name);
    return o->def ? apply_default(opts, o, config, err) : 0;
}

int crun_options_read(const crun_options *opts, const crun_option *table, size_t n,
                      void *config, crun_error *err)
{
    const char **names = n ? calloc(n, sizeof(char *)) : NULL;
    if (n && !names)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = table[i].name;
    int rc = refuse_unknown(opts, names, n, err);
    free(names);
    for (size_t i = 0; !rc && i < n; i++)
        rc = read_one(opts, &table[i], config, err);
    return rc;
}

/* One bound as JSON: an integer for integer types, omitted when infinite. */
static void set_bound(json_t *o, const char *key, double x, bool integral)
{
    if (isfinite(x))
        json_object_set_new(o, key, integral ? json_integer((json_int_t)x) : json_real(x));
}

json_t *options_table_json(const crun_option *table, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const crun_option *t = &table[i];
        json_t *o = json_pack("{s:s, s:s, s:s?, s:s, s:b}", "name", t->name, "type",
                              crun_option_type_name(t->type), "default", t->def, "doc",
                              t->doc ? t->doc : "", "required",
                              (t->flags & CRUN_OPTION_REQUIRED) != 0);
        if (!o)
            continue;
        if (!t->def)
            json_object_set_new(o, "default", json_null());
        bool integral = t->type == CRUN_OPTION_INT || t->type == CRUN_OPTION_SIZE;
        if (ranged(t)) {
            set_bound(o, "min", t->min, integral);
            set_bound(o, "max", t->max, integral);
        }
        if (t->type == CRUN_OPTION_CHOICE) {
            json_t *c = json_array();
            for (size_t k = 0; t->choices && t->choices[k]; k++)
                json_array_append_new(c, json_string(t->choices[k]));
            json_object_set_new(o, "choices", c);
        }
        json_array_append_new(a, o);
    }
    return a;
}
