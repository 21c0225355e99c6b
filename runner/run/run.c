/* run.c - creating and ending a run: one execution of a plan.
 *
 * A run is one block: the run, its catalog's entries and its per-node
 * arrays (one allocation per run matters to the service, which makes a run
 * per request).  Creating it resolves each planned node's function (once
 * per session: the session remembers them), fills the ready set and opens
 * the catalog; the run API that runners are built from is in schedule.c
 * (the ready set, stopping), execute.c (a node) and call.c (node.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run/run.h"
#include "run/incremental.h"
#include "core/suggest.h"

/* --- creating and ending a run --- */

/* The parts of one run (cluster jobs sharing a --run-id) save versioned
 * datasets under one version: the first part to start writes it to
 * .crun/runs/<id>/save-version (link() makes the first writer win), the
 * others read it. */
static void shared_version(crun_run *run)
{
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/.crun/runs/%s/save-version", run->ir->dir, run->run_id) < 0)
        return;
    crun_error err = CRUN_ERROR_INIT;
    if (asprintf(&tmp, "%s.%d", path, (int)getpid()) >= 0 && crun_mkdir_parents(path, &err) == 0) {
        FILE *f = fopen(tmp, "wx");
        if (f) {
            fprintf(f, "%s\n", run->version);
            fclose(f);
            link(tmp, path); /* fails when another part was first: fine */
            unlink(tmp);
        }
        FILE *r = fopen(path, "r");
        char line[64];
        if (r && fgets(line, sizeof(line), r)) {
            line[strcspn(line, "\n")] = '\0';
            if (line[0])
                snprintf(run->version, sizeof(run->version), "%s", line);
        }
        if (r)
            fclose(r);
    }
    crun_error_clear(&err);
    free(tmp);
    free(path);
}

static crun_node_fn find_function(const crun_nodes_type *t, const char *name)
{
    for (size_t i = 0; i < t->n_nodes; i++)
        if (t->nodes[i].name && strcmp(t->nodes[i].name, name) == 0)
            return t->nodes[i].fn;
    return NULL;
}

/* The function of IR node n (plugin lookup and symbol search); the session
 * remembers it, so each node's library is looked up once per session. */
static int resolve_function(crun_run *run, size_t n, crun_node_fn *out, crun_error *err)
{
    const ir_node *node = &run->ir->nodes[n];
    const char *dot = strchr(node->func, '.');
    if (!dot) /* both readers of the IR refuse it: never trust that here */
        return crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': 'func' must be "
                              "library.function", node->where, node->name);
    int lib_len = (int)(dot - node->func);
    const char *lib = node->func;
    const char *target =
        json_string_value(json_object_getn(run->ir->libraries, lib, (size_t)lib_len));
    if (!target)
        return crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': unknown node library '%.*s'",
                              node->where, node->name, lib_len, lib);
    const crun_plugin *plug;
    int rc = plugin_load(run->shared->catalog.plugins, CRUN_PLUGIN_NODES, target, &plug, err);
    if (rc)
        return crun_error_prefix(err, "%s: node '%s': library '%.*s': ", node->where,
                                 node->name, lib_len, lib);
    const crun_nodes_type *t = plug->table;
    if ((*out = find_function(t, dot + 1)))
        return 0;
    const char **names = calloc(t->n_nodes + 1, sizeof(char *));
    for (size_t i = 0; names && i < t->n_nodes; i++)
        names[i] = t->nodes[i].name;
    const char *best = names ? suggest_closest(dot + 1, names, t->n_nodes) : NULL;
    rc = crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': library '%.*s' has no function "
                        "'%s'%s%s%s", node->where, node->name, lib_len, lib, dot + 1, best ? " (did you mean '" : "",
                        best ? best : "", best ? "'?)" : "");
    free(names);
    return rc;
}

/* Every planned function node's function, from the session's memory when an
 * earlier run resolved it (two runs resolving one at once find the same). */
static int resolve_functions(crun_run *run, crun_error *err)
{
    _Atomic(crun_node_fn) *cache = run->shared->fn_cache;
    const plan *p = run->plan;
    const char *last_name = NULL; /* function names are interned: one pointer per name */
    crun_node_fn last_fn = NULL;
    for (size_t i = 0; i < p->n; i++) {
        size_t n = p->node[i];
        const char *name = run->ir->nodes[n].func;
        if (!name)
            continue;
        crun_node_fn fn = atomic_load_explicit(&cache[n], memory_order_acquire);
        if (!fn) {
            int rc = name == last_name ? (fn = last_fn, 0) : resolve_function(run, n, &fn, err);
            if (rc)
                return rc;
            atomic_store_explicit(&cache[n], fn, memory_order_release);
        }
        run->fns[i] = last_fn = fn;
        last_name = name;
    }
    return 0;
}

_Static_assert(sizeof(crun_node_fn) == sizeof(size_t) && sizeof(double) == sizeof(size_t) &&
                   sizeof(cmd_state *) == sizeof(size_t) && _Alignof(crun_run) >= sizeof(size_t),
               "run_create lays the per-node arrays out as words after the run");
_Static_assert(_Alignof(cat_entry) <= _Alignof(crun_run) && sizeof(cat_entry) % sizeof(size_t) == 0,
               "run_create lays the catalog's entries out right after the run");

int run_create(run_shared *shared, crun_session *s, plan *p, bool shared_plan, json_t *params,
               const crun_run_options *o, crun_run **out, crun_error *err)
{
    *out = NULL;
    /* the run, its catalog's entries and its per-node arrays are one block
     * (one allocation per run matters to the service, which makes a run
     * per request); malloc and zeroing rather than calloc, which glibc
     * serves without its per-thread cache (a memset of the whole block
     * would be turned back into calloc by the compiler) */
    size_t n = p->n, words = (n + 1) * sizeof(size_t);
    const ir_t *ir = shared->catalog.ir;
    size_t entries = ir->n_ds * sizeof(cat_entry);
    size_t size = sizeof(crun_run) + entries + 7 * words + 2 * (n + 1);
    crun_run *run = malloc(size);
    if (!run) {
        if (!shared_plan)
            plan_free(p);
        json_decref(params);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    *run = (crun_run){.shared = shared, .session = s};
    memset(run + 1, 0, size - sizeof(crun_run));
    char *at = (char *)(run + 1);
    run->catalog.entries = (cat_entry *)(void *)at;
    at += entries;
    run->fns = (crun_node_fn *)(void *)at;
    run->waiting = (size_t *)(void *)(at += words);
    run->ready = (size_t *)(void *)(at += words);
    run->run_prev = (size_t *)(void *)(at += words);
    run->run_next = (size_t *)(void *)(at += words);
    run->cmds = (cmd_state **)(void *)(at += words);
    run->seconds = (double *)(void *)(at += words);
    run->state = (unsigned char *)(at += words);
    run->calling = (atomic_uchar *)(void *)(at + n + 1);
    run->run_head = n;
    run->ir = ir;
    run->plan = p;
    run->plan_shared = shared_plan;
    run->params = params ? params : ir->params;
    run->params_owned = params != NULL;
    run->progress = o->progress;
    run->opts = o;
    run->logger = shared->catalog.logger;
    atomic_init(&run->grace_period, RUN_GRACE_PERIOD_S);
    atomic_init(&run->cancelled, false);
    atomic_init(&run->stopping, false);
    pthread_mutex_init(&run->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run->wake, &ca);
    pthread_condattr_destroy(&ca);
    run_make_ids(run, o->run_id);
    if (o->run_id)
        shared_version(run);
    run->catalog.shared = &shared->catalog;
    run->catalog.plan = p;
    run->catalog.params = run->params;
    run->catalog.run_id = run->run_id;
    run->catalog.version = run->version;
    run->catalog.run = run;
    run->catalog.logger = run->logger;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        run->waiting[i] = p->dep_start[i + 1] - p->dep_start[i];
    if (!rc)
        rc = resolve_functions(run, err);
    for (size_t i = 0; i < n && !rc; i++)
        if (run->waiting[i] == 0)
            run_push_ready(run, i);
    if (!rc)
        rc = catalog_open(&run->catalog, o, err);
    if (rc) {
        run_destroy(run);
        return rc;
    }
    *out = run;
    return 0;
}

void inner_runs_free(inner_runs *in)
{
    free(in->active);
    for (size_t i = 0; in->failed_nodes && in->failed_nodes[i]; i++)
        free(in->failed_nodes[i]);
    free(in->failed_nodes);
    free(in->resume_from);
    memset(in, 0, sizeof(*in));
}

void run_destroy(crun_run *run)
{
    if (!run)
        return;
    incr_end(run); /* writes the fingerprints still pending */
    catalog_close(&run->catalog);
    for (size_t i = 0; run->cmds && i < run->plan->n; i++)
        command_state_free(run->cmds[i]);
    run_scratch_free(run);
    proc_table_free(&run->procs);
    inner_runs_free(&run->inner);
    if (run->own_logger_set)
        logger_destroy(&run->own_logger);
    crun_error_clear(&run->first_error);
    if (run->params_owned)
        json_decref(run->params);
    if (!run->plan_shared)
        plan_free(run->plan);
    pthread_cond_destroy(&run->wake);
    pthread_mutex_destroy(&run->lock);
    free(run);
}
