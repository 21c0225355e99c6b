/* ir_retry.c - a node's retry: settings, from pipelines.yml and as JSON.
 *
 *     - name: fetch
 *       cmd: [./fetch.sh]
 *       retry: {attempts: 3, delay: 0.5, backoff: 2, jitter: 0.1, on_exit: [75]}
 *
 * Every value is checked against one table of limits, in YAML (with
 * file:line:col of the value) and in a JSON IR alike; the result lives in
 * the IR's arena.  When the waits happen is run/execute.c's business; how
 * long they are is ir_retry_delay, here, so that exporters and runs agree.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef struct retry_limit {
    const char *key;
    double lo, hi;
    bool integer;
    const char *what; /* "must be ..." */
} retry_limit;

enum { LIMIT_ATTEMPTS, LIMIT_DELAY, LIMIT_BACKOFF, LIMIT_JITTER, LIMIT_ON_EXIT };

static const retry_limit limits[] = {
    [LIMIT_ATTEMPTS] = {"attempts", 1, 100, true, "an integer from 1 to 100 (tries, the first included)"},
    [LIMIT_DELAY] = {"delay", 0, 86400, false, "a number of seconds from 0 to 86400"},
    [LIMIT_BACKOFF] = {"backoff", 1, 100, false, "a number from 1 to 100"},
    [LIMIT_JITTER] = {"jitter", 0, 1, false, "a number from 0 to 1"},
    [LIMIT_ON_EXIT] = {"on_exit", 1, 255, true, "an exit status from 1 to 255, or a list of them"},
};

static const char *const retry_keys[] = {"attempts", "delay", "backoff", "jitter", "on_exit", NULL};

/* The longest wait, whatever the backoff makes of it. */
static const double max_wait = 86400;

static bool in_limit(const retry_limit *l, double v)
{
    return isfinite(v) && v >= l->lo && v <= l->hi && (!l->integer || v == floor(v));
}

static void defaults(ir_retry *r)
{
    *r = (ir_retry){.attempts = 1, .backoff = 1};
}

static void set_value(ir_retry *r, int which, double v)
{
    if (which == LIMIT_ATTEMPTS)
        r->attempts = (uint32_t)v;
    else if (which == LIMIT_DELAY)
        r->delay = v;
    else if (which == LIMIT_BACKOFF)
        r->backoff = v;
    else if (which == LIMIT_JITTER)
        r->jitter = v;
}

/* --- from pipelines.yml --- */

static int yaml_number(const conf_node *v, const char *node, int which, double *out,
                       crun_error *err)
{
    const retry_limit *l = &limits[which];
    char *end = NULL;
    double d = v->kind == CONF_SCALAR && v->str[0] ? strtod(v->str, &end) : NAN;
    if (end && *end == '\0' && in_limit(l, d)) {
        *out = d;
        return 0;
    }
    return conf_error(err, v, "node '%s': retry: '%s' must be %s, got %s%s%s", node, l->key,
                      l->what, v->kind == CONF_SCALAR ? "'" : "",
                      v->kind == CONF_SCALAR ? v->str : conf_kind_name(v),
                      v->kind == CONF_SCALAR ? "'" : "");
}

static int yaml_on_exit(ir_t *ir, ir_retry *r, const conf_node *v, const char *node,
                        crun_error *err)
{
    size_t n = v->kind == CONF_SEQ ? v->n : 1;
    if (v->kind == CONF_SEQ && n == 0)
        return conf_error(err, v, "node '%s': retry: 'on_exit' must list at least one exit "
                          "status (leave it out to retry any failure)", node);
    if (!(r->on_exit = conf_arena_alloc(ir->arena, n * sizeof(int))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        double d;
        int rc = yaml_number(v->kind == CONF_SEQ ? v->items[i] : v, node, LIMIT_ON_EXIT, &d, err);
        if (rc)
            return rc;
        r->on_exit[r->n_on_exit++] = (int)d;
    }
    return 0;
}

int ir_retry_parse(ir_t *ir, const ir_node *node, const conf_node *spec, const ir_retry **out,
                   crun_error *err)
{
    *out = NULL;
    if (!spec || spec->kind == CONF_NULL)
        return 0;
    if (spec->kind != CONF_MAP)
        return conf_error(err, spec, "node '%s': 'retry' must be a map, e.g. {attempts: 3, "
                          "delay: 1, backoff: 2}, got %s", node->name, conf_kind_name(spec));
    int rc = conf_check_keys(spec, retry_keys, "a node's retry", err);
    if (rc)
        return rc;
    ir_retry *r = conf_arena_alloc(ir->arena, sizeof(*r));
    if (!r)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    defaults(r);
    const conf_node *attempts = conf_get(spec, "attempts");
    if (!attempts)
        return conf_error(err, spec, "node '%s': retry: missing 'attempts' (tries in all, the "
                          "first included)", node->name);
    for (int k = LIMIT_ATTEMPTS; k < LIMIT_ON_EXIT && !rc; k++) {
        const conf_node *v = conf_get(spec, limits[k].key);
        double d;
        if (v && !(rc = yaml_number(v, node->name, k, &d, err)))
            set_value(r, k, d);
    }
    const conf_node *on_exit = conf_get(spec, "on_exit");
    if (!rc && on_exit && node->func)
        rc = conf_error(err, conf_get_key(spec, "on_exit"), "node '%s': retry: 'on_exit' "
                        "applies to command nodes only (a function has no exit status)",
                        node->name);
    if (!rc && on_exit)
        rc = yaml_on_exit(ir, r, on_exit, node->name, err);
    if (!rc)
        *out = r;
    return rc;
}

/* --- as JSON --- */

json_t *ir_retry_to_json(const ir_retry *r)
{
    json_t *o = json_pack("{s:I, s:f, s:f, s:f}", "attempts", (json_int_t)r->attempts, "delay",
                          r->delay, "backoff", r->backoff, "jitter", r->jitter);
    if (o && r->n_on_exit) {
        json_t *codes = json_array();
        for (uint32_t i = 0; i < r->n_on_exit; i++)
            json_array_append_new(codes, json_integer(r->on_exit[i]));
        json_object_set_new(o, "on_exit", codes);
    }
    return o;
}

static int json_bad(crun_error *err, const char *display, const char *path, const char *key,
                    const char *what)
{
    return crun_error_set(err, CRUN_ECONFIG, "%s: %s.retry%s%s: %s", display, path,
                          key ? "." : "", key ? key : "", what);
}

static int json_on_exit(ir_t *ir, ir_retry *r, json_t *v, const char *display, const char *path,
                        crun_error *err)
{
    const retry_limit *l = &limits[LIMIT_ON_EXIT];
    if (!json_is_array(v) || json_array_size(v) == 0)
        return json_bad(err, display, path, l->key, "expected a non-empty list of exit statuses");
    if (!(r->on_exit = conf_arena_alloc(ir->arena, json_array_size(v) * sizeof(int))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c) {
        if (!json_is_integer(c) || !in_limit(l, (double)json_integer_value(c)))
            return json_bad(err, display, path, l->key, "expected exit statuses from 1 to 255");
        r->on_exit[r->n_on_exit++] = (int)json_integer_value(c);
    }
    return 0;
}

int ir_retry_from_json(ir_t *ir, json_t *j, const char *display, const char *path,
                       const ir_retry **out, crun_error *err)
{
    *out = NULL;
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_object(j))
        return json_bad(err, display, path, NULL, "expected an object");
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        size_t k = 0;
        while (retry_keys[k] && strcmp(retry_keys[k], key) != 0)
            k++;
        if (!retry_keys[k])
            return json_bad(err, display, path, key, "unknown key");
    }
    ir_retry *r = conf_arena_alloc(ir->arena, sizeof(*r));
    if (!r)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    defaults(r);
    if (!json_object_get(j, "attempts"))
        return json_bad(err, display, path, "attempts", "missing");
    for (int k = LIMIT_ATTEMPTS; k < LIMIT_ON_EXIT; k++) {
        json_t *x = json_object_get(j, limits[k].key);
        if (!x)
            continue;
        if (!json_is_number(x) || !in_limit(&limits[k], json_number_value(x)))
            return json_bad(err, display, path, limits[k].key, limits[k].what);
        set_value(r, k, json_number_value(x));
    }
    json_t *on_exit = json_object_get(j, "on_exit");
    int rc = on_exit ? json_on_exit(ir, r, on_exit, display, path, err) : 0;
    if (!rc)
        *out = r;
    return rc;
}

/* --- the schedule --- */

double ir_retry_delay(const ir_retry *r, uint32_t attempt, double u)
{
    double d = r->delay * pow(r->backoff, attempt > 0 ? (double)(attempt - 1) : 0);
    d += d * r->jitter * (2 * u - 1);
    if (!(d > 0))
        return 0;
    return d < max_wait ? d : max_wait;
}
