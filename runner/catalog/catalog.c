/* catalog.c - a run's datasets: plugin instances, loads and saves with hooks.
 *
 * Each run opens its own instances of every dataset its plan touches, so
 * concurrent runs never share a memory dataset or a version.  Memory
 * datasets count their remaining consumers; the last consumer to finish
 * releases the value (a count per input edge, decremented atomically, so it
 * works the same under a parallel runner).  Parameters are not plugins: the
 * catalog hands out the JSON value of the parameter path directly.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/file_saves.h"
#include "catalog/spill.h"
#include "plugin/options.h"

/* "a:v1,b:v2" -> the version for name, or NULL. */
static const char *load_version_for(const char *spec, const char *name, char *buf, size_t size)
{
    size_t nlen = strlen(name);
    for (const char *p = spec; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon && (size_t)(colon - p) == nlen && strncmp(p, name, nlen) == 0) {
            snprintf(buf, size, "%.*s", (int)(len - nlen - 1), colon + 1);
            return buf;
        }
        p = comma ? comma + 1 : NULL;
    }
    return NULL;
}

static int check_load_versions(catalog *c, const char *spec, crun_error *err)
{
    const ir_t *ir = c->shared->ir;
    for (const char *p = spec; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (!colon || colon == p || colon + 1 == p + len)
            return crun_error_set(err, CRUN_EUSAGE, "--load-versions: expected dataset:version, "
                                  "got '%.*s'", (int)len, p);
        /* a version is one folder of the dataset's versions, never a path */
        size_t vlen = (size_t)(p + len - colon - 1);
        if (colon[1] == '.' || memchr(colon + 1, '/', vlen))
            return crun_error_set(err, CRUN_EUSAGE, "--load-versions: version '%.*s' must be a "
                                  "folder name (no '/', not starting with '.')", (int)vlen,
                                  colon + 1);
        char name[512];
        snprintf(name, sizeof(name), "%.*s", (int)(colon - p), p);
        size_t idx;
        if (!strmap_get(&ir->ds_index, name, &idx) || !ir->ds[idx].versioned)
            return crun_error_set(err, CRUN_EUSAGE, "--load-versions: '%s' is not a versioned "
                                  "dataset of the catalog", name);
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* The entry's credentials, from the session's credentials.yml, become its
 * `credentials` option (a map): the only place their values are read. */
static int add_credentials(catalog *c, const ir_dataset *d, crun_options *opts,
                           crun_error *err)
{
    const project *p = c->shared->project;
    const conf_node *cred = p ? conf_get(p->credentials, d->credentials) : NULL;
    if (!cred)
        return crun_error_set(err, CRUN_ECONFIG, "%s: dataset '%s': credentials '%s' are not in "
                              "conf/%s/credentials.yml", d->where ? d->where : "catalog",
                              d->name, d->credentials, c->shared->ir->env);
    json_t *value = conf_to_json(cred);
    if (!value || options_set(opts, "credentials", value, d->where ? d->where : "catalog"))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

/* How a dataset is kept in this run: a request's input is always in memory
 * (IN_MEMORY); an output kept in memory is, unless write_own_outputs writes
 * it because the run resolves its entry to a file of its own (UNLESS_OWN);
 * everything else has the catalog's type (AS_DECLARED). */
enum kept { AS_DECLARED, UNLESS_OWN, IN_MEMORY };

static enum kept kept_in_run(catalog *c, size_t ds, const crun_run_options *o)
{
    const ir_dataset *d = &c->shared->ir->ds[ds];
    for (size_t i = 0; i < o->n_inputs; i++)
        if (strcmp(o->input_names[i], d->name) == 0)
            return IN_MEMORY;
    if (o->memory_outputs && d->kind == IR_DS_CATALOG && c->plan->producer[ds] != PLAN_NONE)
        return o->write_own_outputs ? UNLESS_OWN : IN_MEMORY;
    return AS_DECLARED;
}

/* A memory dataset crossing to or from another job of this run lives in
 * <project>/.crun/runs/<run id>/<name>.crv. */
static int open_shared(catalog *c, size_t ds, cat_entry *e, crun_error *err)
{
    const ir_t *ir = c->shared->ir;
    const ir_dataset *d = &ir->ds[ds];
    char *name = strdup(d->name), *path = NULL;
    for (char *ch = name; ch && *ch; ch++)
        if (*ch == '/')
            *ch = '_';
    if (!name || asprintf(&path, "%s/.crun/runs/%s/%s.crv", ir->dir, c->run_id, name) < 0)
        path = NULL;
    free(name);
    json_t *o = path ? json_pack("{s:s}", "path", path) : NULL;
    crun_options *opts = o ? crun_options_new(o, "dataset", "run") : NULL;
    json_decref(o);
    int rc = opts && (e->ctx = malloc(sizeof(*e->ctx)))
                 ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc)
        *e->ctx = (crun_dataset_ctx){.size = sizeof(crun_dataset_ctx), .name = d->name,
                                     .project_dir = ir->dir,
                                     .logger = c->logger};
    if (!rc && (rc = spill_type.create(e->ctx, opts, &e->instance, err)) == 0) {
        e->type = &spill_type;
        e->in_memory = true;
        logger_write(c->logger, CRUN_LOG_INFO, NULL, "memory dataset '%s' %s "
                     "another job of run %s through %s", d->name,
                     c->plan->crosses[ds] & PLAN_CROSS_IN ? "comes from" : "goes to",
                     c->run_id, path);
    }
    crun_options_free(opts);
    free(path);
    return rc;
}

/* The options of a catalog entry (with its credentials), made by the
 * session's first run that opens it and shared by the later ones: options
 * are immutable once made.  Two first runs at once both make them; one
 * publishes, the other frees its own. */
static int entry_options(catalog *c, size_t ds, const crun_options **out, crun_error *err)
{
    _Atomic(crun_options *) *slot = &c->shared->ds_options[ds];
    crun_options *opts = atomic_load_explicit(slot, memory_order_acquire);
    if (opts) {
        *out = opts;
        return 0;
    }
    const ir_dataset *d = &c->shared->ir->ds[ds];
    char owner[600];
    snprintf(owner, sizeof(owner), "dataset '%s'", d->name);
    if (!(opts = options_from_conf(d->options, owner)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = d->credentials ? add_credentials(c, d, opts, err) : 0;
    if (rc) {
        crun_options_free(opts);
        return rc;
    }
    crun_options *none = NULL;
    if (!atomic_compare_exchange_strong(slot, &none, opts)) {
        crun_options_free(opts);
        opts = none;
    }
    *out = opts;
    return 0;
}

/* A catalog entry whose text uses ${runtime_params:...}, resolved again
 * for a run with parameters of its own (crun_run_options.params, as a
 * sweep's trials have): the session's --params with the run's laid over
 * them.  *out is NULL when the session's options serve (no such entry, no
 * parameters of its own, or the same options come out); else the run's,
 * to free after create. */
static int run_entry_options(catalog *c, size_t ds, const crun_run_options *o,
                             crun_options **out, crun_error *err)
{
    *out = NULL;
    const project *p = c->shared->project;
    const ir_dataset *d = &c->shared->ir->ds[ds];
    json_t *over = o ? o->params : NULL;
    const conf_node *raw = p && p->catalog_raw && json_object_size(over)
                               ? conf_get(p->catalog_raw, d->name) : NULL;
    if (!raw || raw->kind != CONF_MAP || !conf_uses_resolver(raw, "runtime_params"))
        return 0;
    json_t *rt = json_deep_copy(p->runtime_params);
    conf_node *entry = conf_copy(raw);
    conf_node *opts = entry ? conf_new(CONF_MAP, entry->file, entry->line, entry->col) : NULL;
    int rc = rt && opts && json_object_update_recursive(rt, over) == 0
                 ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    conf_interp ictx = {.globals = p->globals, .runtime_params = rt,
                        .environ = c->shared->environ};
    if (!rc)
        rc = conf_interpolate(entry, &ictx, err);
    for (size_t i = 0; !rc && i < entry->n; i++) {
        const char *k = entry->items[2 * i]->str;
        if (strcmp(k, "type") && strcmp(k, "versioned") && strcmp(k, "credentials") &&
            conf_set(opts, conf_copy(entry->items[2 * i]), conf_copy(entry->items[2 * i + 1])))
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    json_t *mine = rc ? NULL : conf_to_json(opts), *shared = conf_to_json(d->options);
    if (!rc && !json_equal(mine, shared)) {
        char owner[600];
        snprintf(owner, sizeof(owner), "dataset '%s'", d->name);
        if (!(*out = options_from_conf(opts, owner)))
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        else if (d->credentials)
            rc = add_credentials(c, d, *out, err);
    }
    json_decref(mine);
    json_decref(shared);
    json_decref(rt);
    conf_free(entry);
    conf_free(opts);
    if (rc) {
        crun_options_free(*out);
        *out = NULL;
    }
    return rc;
}

/* The plugin of a dataset type, remembered by the session for the entry's
 * own type and for memory (what requests and kept outputs swap in). */
static int dataset_plugin(catalog *c, size_t ds, const char *type, const crun_plugin **out,
                          crun_error *err)
{
    catalog_shared *s = c->shared;
    _Atomic(const crun_plugin *) *slot = type == s->ir->ds[ds].type ? &s->ds_plugin[ds]
                                         : strcmp(type, "memory") == 0 ? &s->memory_plugin
                                                                       : NULL;
    if (slot && (*out = atomic_load_explicit(slot, memory_order_acquire)))
        return 0;
    int rc = plugin_load(s->plugins, CRUN_PLUGIN_DATASET, type, out, err);
    if (!rc && slot)
        atomic_store_explicit(slot, *out, memory_order_release);
    return rc;
}

/* The entry's options with the run's given path as filepath (*own, the
 * run's options if it has some, else a copy of the session's). */
static int given_path_options(catalog *c, size_t ds, const char *path, crun_options **own,
                              crun_error *err)
{
    const ir_dataset *d = &c->shared->ir->ds[ds];
    char owner[600];
    snprintf(owner, sizeof(owner), "dataset '%s'", d->name);
    bool made = !*own; /* the run's own options have their credentials already */
    if (made && !(*own = options_from_conf(d->options, owner)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = made && d->credentials ? add_credentials(c, d, *own, err) : 0;
    if (!rc && options_set(*own, "filepath", json_string(path), "--input/--output"))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (rc) {
        crun_options_free(*own);
        *own = NULL;
    }
    return rc;
}

static int open_entry(catalog *c, size_t ds, const crun_run_options *o, crun_error *err)
{
    const catalog_shared *s = c->shared;
    cat_entry *e = &c->entries[ds];
    const ir_dataset *d = &s->ir->ds[ds];
    e->def = d;
    atomic_init(&e->consumers_left, c->plan->consumers[ds]);
    if (c->plan->crosses && c->plan->crosses[ds])
        return open_shared(c, ds, e, err);
    const char *lv = o->load_versions;
    if (d->kind == IR_DS_PARAMS) {
        json_t *v = crun_json_path(c->params, d->param_path);
        if (!v)
            return crun_error_set(err, CRUN_ECONFIG, "parameter '%s' does not exist", d->name);
        e->param = crun_value_json_new(params_private_copy(v));
        return e->param ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    const crun_plugin *plug;
    crun_options *own = NULL;
    enum kept kept = kept_in_run(c, ds, o);
    /* the run's own options of the entry, when they may be used: not for
     * what stays in memory whatever they say (a service request's outputs) */
    int rc = d->options && kept != IN_MEMORY ? run_entry_options(c, ds, o, &own, err) : 0;
    if (rc)
        return rc;
    const char *type = kept == IN_MEMORY || (kept == UNLESS_OWN && !own) ? "memory" : d->type;
    if ((rc = dataset_plugin(c, ds, type, &plug, err)) != 0) {
        crun_options_free(own);
        return crun_error_prefix(err, "%s%sdataset '%s': ", d->where ? d->where : "",
                                 d->where ? ": " : "", d->name);
    }
    e->type = plug->table;
    e->in_memory = e->type->flags & CRUN_DATASET_IN_MEMORY;
    const crun_options *opts = s->no_options;
    if (d->options && type == d->type && !own && (rc = entry_options(c, ds, &opts, err)))
        return rc;
    const char *given = type == d->type ? catalog_given_path(o, d->name) : NULL;
    if (given && (rc = given_path_options(c, ds, given, &own, err)))
        return rc;
    if (own)
        opts = own;
    if ((e->type->flags & (CRUN_DATASET_IN_MEMORY | CRUN_DATASET_VALUE_SLOT)) ==
            (CRUN_DATASET_IN_MEMORY | CRUN_DATASET_VALUE_SLOT) &&
        opts == s->no_options) {
        e->slot = true; /* the entry holds the value: no instance (nor its ctx) per run */
        atomic_init(&e->value, NULL);
        return 0;
    }
    char vbuf[128];
    if (!(e->ctx = malloc(sizeof(*e->ctx)))) {
        crun_options_free(own);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    *e->ctx = (crun_dataset_ctx){
        .size = sizeof(crun_dataset_ctx),
        .name = d->name,
        .project_dir = s->ir->dir,
        .versioned = d->versioned && !given,
        .load_version = d->versioned && !given
                            ? load_version_for(lv, d->name, vbuf, sizeof(vbuf)) : NULL,
        .save_version = c->version,
        .logger = c->logger,
        .durability = (crun_durability)d->durability,
        .saves = c->saves,
    };
    if (e->ctx->load_version && !(e->ctx->load_version = strdup(e->ctx->load_version))) {
        crun_options_free(own);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    rc = e->type->create(e->ctx, opts, &e->instance, err);
    crun_options_free(own);
    if (rc) {
        e->type = NULL; /* nothing to destroy */
        if (!err->message || !strstr(err->message, d->name))
            crun_error_prefix(err, "dataset '%s': ", d->name);
        return rc < 0 ? rc : CRUN_ECONFIG;
    }
    return 0;
}

/* A copy of v that shares nothing with v: the session's parameters are read
 * by runs on many threads, and jansson's reference counts may not be
 * touched from two threads at once (json_incref reads the count plainly). */
json_t *params_private_copy(json_t *v)
{
    return json_is_object(v) || json_is_array(v) ? json_deep_copy(v) : json_copy(v);
}

/* --- an entry's value: through its instance, or in the entry (a slot) --- */

static int entry_load(cat_entry *e, crun_value **out, crun_error *err)
{
    if (!e->slot)
        return e->type->load(e->instance, out, err);
    *out = crun_value_ref(atomic_load_explicit(&e->value, memory_order_acquire));
    if (!*out) /* the memory type's own words */
        return crun_error_set(err, CRUN_ENOENT, "dataset '%s': no value has been saved yet",
                              e->def->name);
    return 0;
}

/* Saves and the release are never concurrent with anything else on the
 * entry (the host's rule for instances too), so they read and then write
 * the slot: no locked read-modify-write on the request's path. */
static int entry_save(cat_entry *e, crun_value *value, crun_error *err)
{
    if (!e->slot)
        return e->type->save(e->instance, value, err);
    if (!value)
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s': no value to save", e->def->name);
    crun_value *old = atomic_load_explicit(&e->value, memory_order_acquire);
    atomic_store_explicit(&e->value, crun_value_ref(value), memory_order_release);
    crun_value_unref(old);
    return 0;
}

static void entry_release(cat_entry *e)
{
    if (e->slot) {
        crun_value *old = atomic_load_explicit(&e->value, memory_order_acquire);
        atomic_store_explicit(&e->value, NULL, memory_order_release);
        crun_value_unref(old);
    } else if (e->type->release) {
        e->type->release(e->instance);
    }
}

int catalog_entry_load(catalog *c, size_t ds, crun_value **out, crun_error *err)
{
    cat_entry *e = &c->entries[ds];
    *out = NULL;
    if (!e->type)
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s' is not open in this run",
                              e->def ? e->def->name : "?");
    return entry_load(e, out, err);
}

/* A run's inputs must be datasets its nodes read and none of them makes. */
static int check_inputs(catalog *c, const crun_run_options *o, crun_error *err)
{
    const ir_t *ir = c->shared->ir;
    const plan *p = c->plan;
    for (size_t i = 0; i < o->n_inputs; i++) {
        size_t ds;
        const char *name = o->input_names[i];
        if (!strmap_get(&ir->ds_index, name, &ds) || p->consumers[ds] == 0)
            return crun_error_set(err, CRUN_EUSAGE, "input '%s' is not read by any node of "
                                  "this run", name);
        if (p->producer[ds] != PLAN_NONE)
            return crun_error_set(err, CRUN_EUSAGE, "input '%s' is made by node '%s' in this run",
                                  name, ir->nodes[p->node[p->producer[ds]]].name);
        if (ir->ds[ds].kind == IR_DS_PARAMS)
            return crun_error_set(err, CRUN_EUSAGE, "input '%s' is a parameter: give it in "
                                  "params instead", name);
        if (!o->input_values || !o->input_values[i])
            return crun_error_set(err, CRUN_EUSAGE, "input '%s' has no value", name);
    }
    return 0;
}

/* Put the run's given inputs into their (memory) datasets. */
static int fill_inputs(catalog *c, const crun_run_options *o, crun_error *err)
{
    for (size_t i = 0; i < o->n_inputs; i++) {
        size_t ds;
        strmap_get(&c->shared->ir->ds_index, o->input_names[i], &ds);
        int rc = entry_save(&c->entries[ds], o->input_values[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

/* The run's level: --durability (the run's options), else crun.ini's, else RUN. */
static crun_durability run_durability(const catalog *c, const crun_run_options *o)
{
    int level = o->size >= offsetof(crun_run_options, durability) + sizeof(o->durability)
                    ? o->durability : 0;
    if (level < CRUN_DURABILITY_NONE || level > CRUN_DURABILITY_NODE)
        level = c->shared->project ? c->shared->project->durability : 0;
    return level >= CRUN_DURABILITY_NONE && level <= CRUN_DURABILITY_NODE
               ? (crun_durability)level : CRUN_DURABILITY_RUN;
}

int catalog_open(catalog *c, const crun_run_options *o, crun_error *err)
{
    const ir_t *ir = c->shared->ir;
    const plan *p = c->plan;
    if (!(c->saves = file_saves_new(run_durability(c, o))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = check_load_versions(c, o->load_versions, err);
    if (!rc)
        rc = check_inputs(c, o, err);
    if (!rc)
        rc = catalog_check_paths(c, o, err);
    if (rc)
        return rc;
    c->n = ir->n_ds;
    for (size_t ds = 0; ds < ir->n_ds && !rc; ds++) {
        if (p->producer[ds] == PLAN_NONE && p->consumers[ds] == 0)
            continue;
        rc = open_entry(c, ds, o, err);
    }
    return rc ? rc : fill_inputs(c, o, err);
}

void catalog_close(catalog *c)
{
    for (size_t i = 0; c->entries && i < c->n; i++) {
        cat_entry *e = &c->entries[i];
        if (e->slot)
            crun_value_unref(atomic_load_explicit(&e->value, memory_order_acquire));
        else if (e->type && e->type->destroy)
            e->type->destroy(e->instance);
        crun_value_unref(e->param);
        if (e->ctx)
            free((char *)e->ctx->load_version);
        free(e->ctx);
        free(e->scratch);
    }
    c->entries = NULL; /* the caller's memory */
    file_saves_free(c->saves);
    c->saves = NULL;
}

int catalog_sync(catalog *c, crun_error *err)
{
    return file_saves_sync(c->saves, err);
}

int catalog_hooks_fire(const catalog *c, crun_hook_point point, crun_hook_event *ev,
                       crun_error *err)
{
    ev->run_id = c->run_id;
    ev->run = c->run;
    ev->params = c->params;
    return hooks_fire(c->shared->hooks, point, ev, err);
}

static int fire_dataset_hooks(catalog *c, crun_hook_point point, size_t ds, const char *node,
                              crun_call *call, crun_value *value, crun_error *err)
{
    crun_hook_event ev = {
        .node = node,
        .call = call,
        .dataset = c->shared->ir->ds[ds].name,
        .value = value,
    };
    return catalog_hooks_fire(c, point, &ev, err);
}

/* The common case, no hook listening to dataset events (the crun program's
 * own crash watch listens to node events only), costs one test per load or save. */
static inline int fire_dataset(catalog *c, crun_hook_point point, size_t ds, const char *node,
                               crun_call *call, crun_value *value, crun_error *err)
{
    return c->shared->hooks->listening[point] ? fire_dataset_hooks(c, point, ds, node, call, value, err)
                                              : 0;
}

/* crun -v: each load and save of a node, with its type, size and time. */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool verbose(const catalog *c)
{
    return c->logger && c->logger->level >= CRUN_LOG_DEBUG;
}

static void log_io(const catalog *c, const char *what, size_t ds, const char *node,
                   const crun_value *v, double start)
{
    const ir_dataset *d = &c->shared->ir->ds[ds];
    const cat_entry *e = &c->entries[ds];
    double size = (double)crun_value_size(v);
    const char *unit = "B";
    if (size >= 1e6)
        size /= 1e6, unit = "MB";
    else if (size >= 1e3)
        size /= 1e3, unit = "kB";
    logger_write(c->logger, CRUN_LOG_DEBUG, node, "%s '%s' (%s, %.*f %s, %.2f ms)", what, d->name,
                 e->param ? "parameter" : d->type ? d->type : "memory", unit[0] == 'B' ? 0 : 1,
                 size, unit, now_ms() - start);
}

int catalog_load(catalog *c, size_t ds, const char *node, crun_call *call, crun_value **out,
                 crun_error *err)
{
    cat_entry *e = &c->entries[ds];
    *out = NULL;
    double start = verbose(c) ? now_ms() : 0;
    int rc = fire_dataset(c, CRUN_HOOK_BEFORE_DATASET_LOADED, ds, node, call, NULL, err);
    if (rc)
        return rc;
    if (e->param)
        *out = crun_value_ref(e->param);
    else if (!e->type)
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s' is not open in this run",
                              e->def ? e->def->name : "?");
    else if ((rc = entry_load(e, out, err)) != 0)
        return rc < 0 ? rc : CRUN_EDATA;
    if (!*out)
        return crun_error_set(err, CRUN_EDATA, "dataset '%s': the load returned no value",
                              e->def->name);
    if (start > 0)
        log_io(c, "loaded", ds, node, *out, start);
    rc = fire_dataset(c, CRUN_HOOK_AFTER_DATASET_LOADED, ds, node, call, *out, err);
    if (rc) {
        crun_value_unref(*out);
        *out = NULL;
    }
    return rc;
}

int catalog_save(catalog *c, size_t ds, const char *node, crun_call *call, crun_value *value,
                 crun_error *err)
{
    cat_entry *e = &c->entries[ds];
    double start = verbose(c) ? now_ms() : 0;
    int rc = fire_dataset(c, CRUN_HOOK_BEFORE_DATASET_SAVED, ds, node, call, value, err);
    if (rc)
        return rc;
    if (!e->type)
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s' cannot be saved", e->def->name);
    if ((rc = entry_save(e, value, err)) != 0)
        return rc < 0 ? rc : CRUN_EIO;
    if (start > 0)
        log_io(c, "saved", ds, node, value, start);
    return fire_dataset(c, CRUN_HOOK_AFTER_DATASET_SAVED, ds, node, call, value, err);
}

void catalog_consumed(catalog *c, size_t ds)
{
    cat_entry *e = &c->entries[ds];
    if (!e->in_memory || !e->type)
        return;
    /* a slot with one consumer: this call is the last one, no count to take
     * (releasing an empty slot again would do nothing) */
    if ((e->slot && c->plan->consumers[ds] == 1) ||
        atomic_fetch_sub(&e->consumers_left, 1) == 1)
        entry_release(e);
}

bool catalog_persisted(void *user, size_t ds)
{
    catalog *c = user;
    cat_entry *e = &c->entries[ds];
    if (e->param)
        return true;
    if (!e->type || e->in_memory || e->slot || !e->type->exists)
        return false;
    bool exists = false;
    crun_error err = CRUN_ERROR_INIT;
    int rc = e->type->exists(e->instance, &exists, &err);
    crun_error_clear(&err);
    return rc == 0 && exists;
}
