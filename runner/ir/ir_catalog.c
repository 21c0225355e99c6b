/* ir_catalog.c - the catalog part of the IR: entries, factories, credentials.
 *
 * A catalog key without braces is one dataset.  A key with {placeholders}
 * is a dataset factory: any dataset a node names that no entry declares is
 * matched against the factories (most literal characters first, then fewest
 * placeholders, as Kedro does) and gets the factory's entry with every
 * {placeholder} in its strings replaced by what the name matched.  An entry's
 * `credentials: NAME` must name an entry of credentials.yml; the IR keeps the
 * name only, so compiled IR never contains secrets.  Every other dataset is
 * interned by name as nodes mention it: a catalog entry, a parameter
 * (params:a.b, parameters), a factory's match or, failing all, memory.
 */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_builder.h"
#include "core/suggest.h"

static bool is_pattern(const char *key)
{
    const char *open = strchr(key, '{');
    return open && strchr(open, '}');
}

static int check_credentials(const conf_node *ref, const conf_node *credentials,
                             const char *entry, crun_error *err)
{
    if (ref->kind != CONF_SCALAR || !ref->str[0])
        return conf_error(err, ref, "catalog entry '%s': 'credentials' must name an entry of "
                          "credentials.yml", entry);
    if (conf_get(credentials, ref->str))
        return 0;
    const char *names[128];
    size_t n = 0;
    for (size_t i = 0; credentials && credentials->kind == CONF_MAP && i < credentials->n &&
                       n < 128; i++)
        names[n++] = credentials->items[2 * i]->str;
    const char *best = suggest_closest(ref->str, names, n);
    return conf_error(err, ref, "catalog entry '%s': no credentials named '%s' in "
                      "conf/<env>/credentials.yml%s%s%s", entry, ref->str,
                      best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
}

/* `durability: none|run|node` of an entry (absent: 0, the run's level). */
static int entry_durability(const conf_node *v, const char *entry, int *out, crun_error *err)
{
    const char *const names[] = {"none", "run", "node"};
    if (!v)
        return 0;
    for (int i = 0; v->kind == CONF_SCALAR && i < 3; i++)
        if (strcmp(v->str, names[i]) == 0) {
            *out = i + 1; /* CRUN_DURABILITY_NONE, _RUN, _NODE */
            return 0;
        }
    return conf_error(err, v, "catalog entry '%s': 'durability' must be none, run or node, "
                      "got '%s'", entry, v->kind == CONF_SCALAR ? v->str : conf_kind_name(v));
}

/* Fill dataset ds from a catalog entry (also a factory's, with name substituted). */
static int fill_entry(ir_t *ir, size_t ds, const conf_node *key, const conf_node *val,
                      crun_error *err)
{
    ir_dataset *d = &ir->ds[ds];
    conf_node *type = conf_get(val, "type");
    /* an explicit entry may replace what a factory filled in before (the
     * old text stays in the arena) */
    conf_free(d->options);
    d->credentials = NULL;
    d->options = NULL;
    d->versioned = false;
    d->kind = IR_DS_CATALOG;
    d->type = ir_intern(ir, type->str);
    char where[512];
    d->where = ir_strdup(ir, conf_where(key, where, sizeof(where)));
    conf_node *ver = conf_get(val, "versioned");
    if (ver) {
        json_t *b = conf_to_json(ver);
        int ok = json_is_boolean(b);
        d->versioned = json_is_true(b);
        json_decref(b);
        if (!ok)
            return conf_error(err, ver, "catalog entry '%s': 'versioned' must be true or false",
                              key->str);
    }
    d->durability = 0;
    int rc = entry_durability(conf_get(val, "durability"), key->str, &d->durability, err);
    if (rc)
        return rc;
    conf_node *cred = conf_get(val, "credentials");
    if (cred && !(d->credentials = ir_strdup(ir, cred->str)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    d->options = conf_new(CONF_MAP, val->file, val->line, val->col);
    if (!d->type || !d->where || !d->options)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < val->n; i++) {
        const char *k = val->items[2 * i]->str;
        if (!strcmp(k, "type") || !strcmp(k, "versioned") || !strcmp(k, "credentials") ||
            !strcmp(k, "durability"))
            continue;
        if (conf_set(d->options, conf_copy(val->items[2 * i]),
                     conf_copy(val->items[2 * i + 1])) != 0)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return 0;
}

static int check_entry(const conf_node *key, const conf_node *val,
                       const conf_node *credentials, crun_error *err)
{
    if (val->kind != CONF_MAP)
        return conf_error(err, val, "catalog entry '%s': expected a map with a 'type', got %s",
                          key->str, conf_kind_name(val));
    conf_node *type = conf_get(val, "type");
    if (!type)
        return conf_error(err, val, "catalog entry '%s': missing 'type' (e.g. type: csv)", key->str);
    if (type->kind != CONF_SCALAR || !type->str[0])
        return conf_error(err, type, "catalog entry '%s': 'type' must be a plugin name or path",
                          key->str);
    if (strncmp(key->str, "params:", 7) == 0 || strcmp(key->str, "parameters") == 0)
        return conf_error(err, key, "catalog entry '%s': the names params:* and 'parameters' are "
                          "reserved for parameters", key->str);
    conf_node *cred = conf_get(val, "credentials");
    return cred ? check_credentials(cred, credentials, key->str, err) : 0;
}

/* Kedro's order: more literal characters first, then fewer placeholders. */
static void pattern_rank(const char *p, size_t *literal, size_t *holes)
{
    *literal = *holes = 0;
    for (bool in = false; *p; p++) {
        if (*p == '{')
            in = true, (*holes)++;
        else if (*p == '}')
            in = false;
        else if (!in)
            (*literal)++;
    }
}

static int factory_cmp(const void *a, const void *b)
{
    const ir_factory *x = a, *y = b;
    size_t lx, hx, ly, hy;
    pattern_rank(x->key->str, &lx, &hx);
    pattern_rank(y->key->str, &ly, &hy);
    if (lx != ly)
        return lx > ly ? -1 : 1;
    if (hx != hy)
        return hx < hy ? -1 : 1;
    return strcmp(x->key->str, y->key->str);
}

int ir_build_catalog(ir_t *ir, const conf_node *catalog, const conf_node *credentials,
                     crun_error *err)
{
    if (!catalog)
        return 0;
    for (size_t i = 0; i < catalog->n; i++) {
        const conf_node *key = catalog->items[2 * i], *val = catalog->items[2 * i + 1];
        int rc = check_entry(key, val, credentials, err);
        if (rc)
            return rc;
        if (is_pattern(key->str)) {
            ir_factory *f = realloc(ir->factories, (ir->n_factories + 1) * sizeof(*f));
            if (!f)
                return crun_error_set(err, CRUN_ENOMEM, "out of memory");
            ir->factories = f;
            f[ir->n_factories].key = conf_copy(key);
            f[ir->n_factories].entry = conf_copy(val);
            if (!f[ir->n_factories++].entry)
                return crun_error_set(err, CRUN_ENOMEM, "out of memory");
            continue;
        }
        size_t idx = ir_dataset_intern(ir, key->str);
        if (idx == (size_t)-1)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        if ((rc = fill_entry(ir, idx, key, val, err)))
            return rc;
    }
    if (ir->n_factories > 1)
        qsort(ir->factories, ir->n_factories, sizeof(ir_factory), factory_cmp);
    return 0;
}

/* --- matching: {x} matches one or more characters --- */

typedef struct capture {
    const char *name;
    size_t name_len;
    const char *text;
    size_t len;
} capture;

#define MAX_CAPTURES 8

static bool match(const char *p, const char *s, capture *caps, size_t *n)
{
    if (!*p)
        return !*s;
    if (*p != '{')
        return *p == *s && match(p + 1, s + 1, caps, n);
    const char *close = strchr(p, '}');
    if (*n >= MAX_CAPTURES)
        return false;
    size_t slot = (*n)++;
    caps[slot].name = p + 1;
    caps[slot].name_len = (size_t)(close - p - 1);
    caps[slot].text = s;
    for (size_t len = strlen(s); len >= 1; len--) { /* longest first, like greedy parse */
        caps[slot].len = len;
        size_t saved = *n;
        if (match(close + 1, s + len, caps, n))
            return true;
        *n = saved;
    }
    (*n)--;
    return false;
}

/* s with every {name} replaced by its capture; NULL when out of memory. */
static char *substitute(const char *s, const capture *caps, size_t n)
{
    size_t cap = strlen(s) + 64, len = 0;
    char *out = malloc(cap);
    while (out && *s) {
        const char *piece = s;
        size_t plen = 1;
        const char *close = *s == '{' ? strchr(s, '}') : NULL;
        for (size_t i = 0; close && i < n; i++)
            if (caps[i].name_len == (size_t)(close - s - 1) &&
                strncmp(caps[i].name, s + 1, caps[i].name_len) == 0) {
                piece = caps[i].text;
                plen = caps[i].len;
                s = close;
                break;
            }
        s++;
        if (len + plen + 1 > cap) {
            cap = 2 * (len + plen + 1);
            char *g = realloc(out, cap);
            if (!g) {
                free(out);
                return NULL;
            }
            out = g;
        }
        memcpy(out + len, piece, plen);
        len += plen;
    }
    if (out)
        out[len] = '\0';
    return out;
}

static int substitute_tree(conf_node *node, const capture *caps, size_t n)
{
    if (node->kind == CONF_SCALAR && strchr(node->str, '{')) {
        char *text = substitute(node->str, caps, n);
        if (!text)
            return CRUN_ENOMEM;
        conf_set_text(node, text);
    }
    size_t count = node->kind == CONF_MAP ? 2 * node->n : node->kind == CONF_SEQ ? node->n : 0;
    for (size_t i = 0; i < count; i++)
        if (node->items[i] && substitute_tree(node->items[i], caps, n) != 0)
            return CRUN_ENOMEM;
    return 0;
}

int ir_factory_apply(ir_t *ir, size_t ds)
{
    const char *name = ir->ds[ds].name;
    for (size_t i = 0; i < ir->n_factories; i++) {
        capture caps[MAX_CAPTURES];
        size_t n = 0;
        if (!match(ir->factories[i].key->str, name, caps, &n))
            continue;
        conf_node *entry = conf_copy(ir->factories[i].entry);
        if (!entry || substitute_tree(entry, caps, n) != 0) {
            conf_free(entry);
            return CRUN_ENOMEM;
        }
        crun_error err = CRUN_ERROR_INIT;
        int rc = fill_entry(ir, ds, ir->factories[i].key, entry, &err);
        crun_error_clear(&err);
        conf_free(entry);
        return rc;
    }
    return 0;
}

/* --- datasets by name, as nodes mention them --- */

size_t ir_dataset_intern(ir_t *ir, const char *name)
{
    size_t idx;
    uint32_t h = strmap_hash(name);
    if (strmap_get_hashed(&ir->ds_index, name, h, &idx))
        return idx;
    if (ir_reserve((void **)&ir->ds, &ir->ds_cap, ir->n_ds + 1, sizeof(ir_dataset)) != 0)
        return (size_t)-1;
    bool param = ir_is_param_name(name);
    const char **type = param ? &ir->params_type : &ir->memory_type;
    if (!*type && !(*type = ir_intern(ir, param ? "params" : "memory")))
        return (size_t)-1;
    ir_dataset *d = &ir->ds[ir->n_ds];
    memset(d, 0, sizeof(*d));
    d->kind = param ? IR_DS_PARAMS : IR_DS_MEMORY;
    d->type = *type;
    if (!(d->name = ir_strdup(ir, name)) || !d->type)
        return (size_t)-1;
    if (param && !(d->param_path = ir_strdup(ir, name[0] == 'p' && name[6] == ':' ? name + 7
                                                                                  : "")))
        return (size_t)-1;
    /* the key must be the stored copy: the map borrows it */
    if (strmap_put_hashed(&ir->ds_index, d->name, h, ir->n_ds, NULL) < 0)
        return (size_t)-1;
    ir->n_ds++;
    if (d->kind == IR_DS_MEMORY && ir->n_factories && ir_factory_apply(ir, ir->n_ds - 1) != 0)
        return (size_t)-1;
    return ir->n_ds - 1;
}
