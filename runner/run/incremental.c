/* incremental.c - which nodes of a run are up to date, and recording them.
 *
 * Before an executing runner starts, incr_decide asks plan_decide which
 * planned nodes run (--only-missing-outputs: Kedro's rule on the catalog's
 * exists; --only-changed: also the nodes whose fingerprint differs from the
 * recorded one, and everything downstream of a node that runs), then
 * narrows the run to them: the run gets the plan of the nodes that run, so
 * every runner (and every run inside a run) sees only those.  After each
 * node that succeeded, incr_node_done records its fingerprint, from any
 * thread.  Runs that keep their outputs in memory or take their inputs from
 * a program (the service's requests) record nothing, nor do plain runs of a
 * project that has no store yet (no incremental run made one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/incremental.h"

static bool same(const fp_hash *a, const fp_hash *b)
{
    return XXH128_isEqual(*a, *b);
}

/* One recorded node.  Records mostly come in the order the nodes were
 * saved, which is mostly the IR's: the node after the last one found is
 * tried before the name is hashed (a 100,000-entry map misses the cache). */
static void note_stored(void *user, const char *name, const fp_hash *fp, const fp_hash *out)
{
    incr_state *s = user;
    const ir_t *ir = s->run->ir;
    size_t n = s->next_stored;
    if (!(n < ir->n_nodes && strcmp(ir->nodes[n].name, name) == 0) &&
        !(strmap_get(&ir->node_index, name, &n) && n < ir->n_nodes))
        return;
    s->next_stored = n + 1;
    s->stored[n] = *fp;
    s->stored_out[n] = *out;
    s->has_stored[n] = 1;
}

static void incr_free(incr_state *s)
{
    if (!s)
        return;
    fp_release(s);
    fp_store_close(s->store);
    free(s->fp);
    free(s->fp_set);
    free(s->stored);
    free(s->stored_out);
    free(s->has_stored);
    free(s);
}

int incr_begin(crun_run *run, const crun_run_options *o, crun_error *err)
{
    int mode = o->incremental;
    bool record = !o->memory_outputs && o->n_inputs == 0 && !o->dry_run;
    /* a plain run records once the project has a store (an incremental run
     * or crun status made it): projects that never skip pay nothing */
    if (!mode && record) {
        char *path = NULL;
        record = asprintf(&path, "%s/.crun/fingerprints.db", run->ir->dir) >= 0 &&
                 access(path, F_OK) == 0;
        free(path);
    }
    if (!mode && !record)
        return 0;
    const plan *p = run->plan;
    const ir_t *ir = run->ir;
    incr_state *s = calloc(1, sizeof(*s));
    if (!s)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    *s = (incr_state){.run = run, .mode = mode, .record = record};
    s->fp = calloc(p->n + 1, sizeof(fp_hash));
    s->fp_set = calloc(p->n + 1, 1);
    s->stored = calloc(ir->n_nodes + 1, sizeof(fp_hash));
    s->stored_out = calloc(ir->n_nodes + 1, sizeof(fp_hash));
    s->has_stored = calloc(ir->n_nodes + 1, 1);
    int rc = s->fp && s->fp_set && s->stored && s->stored_out && s->has_stored
                 ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc)
        rc = fp_store_open(ir->dir, &s->store, err);
    if (rc && !mode) {
        /* a plain run goes on without recording: the next incremental run
         * reruns what it cannot vouch for */
        logger_write(run->logger, CRUN_LOG_WARN, NULL, "%s: fingerprints not recorded",
                     err->message ? err->message : "fingerprint store");
        crun_error_clear(err);
        incr_free(s);
        return 0;
    }
    /* the recorded fingerprints are read when deciding, or when a memory
     * input comes from a node of another job of the run */
    if (!rc && (mode || p->crosses))
        rc = fp_store_each_node(s->store, note_stored, s, err);
    if (!rc)
        rc = fp_prepare(s, err);
    if (rc) {
        incr_free(s);
        return rc;
    }
    run->incr = s;
    return 0;
}

void incr_end(crun_run *run)
{
    incr_free(run->incr);
    run->incr = NULL;
}

/* --- recording --- */

void incr_node_done(crun_run *run, size_t pn)
{
    incr_state *s = run->incr;
    if (!s || !s->record)
        return;
    fp_text in = {0}, out = {0};
    fp_node_lines(s, pn, &in, &out);
    fp_hash fp = fp_hash_text(in.s ? in.s : "", in.len);
    fp_hash ofp = fp_hash_text(out.s ? out.s : "", out.len);
    s->fp[pn] = fp;
    s->fp_set[pn] = 1;
    char *detail = NULL;
    const char *name = run->ir->nodes[run->plan->node[pn]].name;
    if (asprintf(&detail, "%s%s", in.s ? in.s : "", out.s ? out.s : "") < 0 ||
        fp_store_put_node(s->store, name, &fp, &ofp, detail) != 0)
        logger_write(run->logger, CRUN_LOG_WARN, NULL, "node '%s': its fingerprint was not "
                     "recorded: the next incremental run reruns it", name);
    free(detail);
    fp_text_free(&in);
    fp_text_free(&out);
}

/* --- deciding --- */

typedef struct decide_ctx {
    crun_run *run;
    incr_state *s;          /* NULL for a dry run that is not incremental */
    signed char *exists;    /* per IR dataset: -1 not asked yet */
    unsigned char *changed; /* per planned node: 1 code/inputs, 2 outputs */
} decide_ctx;

static bool probe_ephemeral(void *user, size_t ds)
{
    decide_ctx *d = user;
    const cat_entry *e = &d->s->run->catalog.entries[ds];
    return !e->type || e->in_memory || e->slot || d->s->run->ir->ds[ds].kind != IR_DS_CATALOG;
}

static bool probe_exists(void *user, size_t ds)
{
    decide_ctx *d = user;
    if (d->exists[ds] < 0) {
        const cat_entry *e = &d->s->run->catalog.entries[ds];
        bool yes = false;
        crun_error err = CRUN_ERROR_INIT;
        if (e->param)
            yes = true;
        else if (e->type && e->type->exists && e->type->exists(e->instance, &yes, &err) != 0)
            yes = false;
        crun_error_clear(&err);
        d->exists[ds] = yes;
    }
    return d->exists[ds];
}

static bool probe_collected(void *user, size_t ds)
{
    (void)ds; /* every free output is returned */
    decide_ctx *d = user;
    return d->run->opts->collect_outputs;
}

static bool probe_changed(void *user, size_t i, plan_why *why)
{
    decide_ctx *d = user;
    if (!d->changed[i])
        return false;
    *why = (plan_why){.kind = PLAN_WHY_CHANGED};
    return true;
}

/* Every node's fingerprint in plan order (a memory input's producer comes first). */
static void fingerprint_all(decide_ctx *d)
{
    incr_state *s = d->s;
    const plan *p = s->run->plan;
    fp_text in = {0}, out = {0};
    for (size_t i = 0; i < p->n; i++) {
        size_t n = p->node[i];
        fp_node_lines(s, i, &in, &out);
        s->fp[i] = fp_hash_text(in.s ? in.s : "", in.len);
        s->fp_set[i] = 1;
        fp_hash ofp = fp_hash_text(out.s ? out.s : "", out.len);
        d->changed[i] = !s->has_stored[n] || !same(&s->fp[i], &s->stored[n]) ? 1
                        : !same(&ofp, &s->stored_out[n])                     ? 2
                                                                             : 0;
    }
    fp_text_free(&in);
    fp_text_free(&out);
}

/* Why changed node i runs, in words (malloc'd). */
static char *changed_reason(decide_ctx *d, size_t i)
{
    incr_state *s = d->s;
    size_t n = s->run->plan->node[i];
    if (!s->has_stored[n])
        return strdup("no fingerprint recorded");
    char *old = fp_store_detail(s->store, s->run->ir->nodes[n].name);
    fp_text in = {0}, out = {0};
    fp_node_lines(s, i, &in, &out);
    char *why = fp_explain(old ? old : "", d->changed[i] == 1 ? in.s : out.s, d->changed[i] == 2);
    free(old);
    fp_text_free(&in);
    fp_text_free(&out);
    return why;
}

static char *reason(decide_ctx *d, size_t i, const plan_why *w)
{
    const crun_run *run = d->s->run;
    const char *ds = w->ds < run->ir->n_ds ? run->ir->ds[w->ds].name : "?";
    const char *node = w->node < run->plan->n ? crun_run_node_name(run, w->node) : "?";
    char *out = NULL;
    int n = 0;
    switch (w->kind) {
    case PLAN_WHY_UP_TO_DATE: n = asprintf(&out, "up to date"); break;
    case PLAN_WHY_NO_OUTPUTS: n = asprintf(&out, "no outputs"); break;
    case PLAN_WHY_MISSING: n = asprintf(&out, "output %s missing", ds); break;
    case PLAN_WHY_NEEDED:
        n = w->node == PLAN_NONE
                ? asprintf(&out, "memory output %s is returned by the run", ds)
                : asprintf(&out, "%s %s needed by %s, which runs",
                           probe_ephemeral(d, w->ds) ? "memory output" : "output", ds, node);
        break;
    case PLAN_WHY_UPSTREAM: n = asprintf(&out, "upstream %s runs", node); break;
    case PLAN_WHY_CHANGED: return changed_reason(d, i);
    }
    return n < 0 ? NULL : out;
}

/* The run keeps only the nodes that run: the plan of those, its scheduling
 * state laid out again, the catalog's consumer counts with it. */
static int narrow(crun_run *run, const unsigned char *runs, crun_error *err)
{
    plan *old = run->plan, *np;
    if (plan_subset(old, runs, &np) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    incr_state *s = run->incr;
    for (size_t i = 0, j = 0; i < old->n; i++)
        if (runs[i]) {
            run->fns[j] = run->fns[i];
            s->fp[j] = s->fp[i];
            s->fp_set[j++] = s->fp_set[i];
        }
    memset(run->state, 0, old->n);
    run->ready_head = run->ready_tail = 0;
    run->run_head = np->n;
    run->plan = np;
    run->catalog.plan = np;
    run->n_up_to_date = old->n - np->n;
    for (size_t ds = 0; ds < run->ir->n_ds; ds++)
        if (run->catalog.entries[ds].def)
            atomic_store(&run->catalog.entries[ds].consumers_left, np->consumers[ds]);
    for (size_t i = 0; i < np->n; i++)
        if ((run->waiting[i] = np->dep_start[i + 1] - np->dep_start[i]) == 0)
            run_push_ready(run, i);
    if (!run->plan_shared)
        plan_free(old);
    run->plan_shared = false;
    return 0;
}

/* A dry run's line for every node, or the log's for the nodes that run. */
static int describe(decide_ctx *d, const unsigned char *runs, const plan_why *why,
                    json_t *decisions, crun_error *err)
{
    const crun_run *run = d->run;
    bool debug = run->logger->level >= CRUN_LOG_DEBUG;
    for (size_t i = 0; i < run->plan->n; i++) {
        if (!decisions && (!debug || !runs[i]))
            continue;
        char *text = d->s && d->s->mode ? reason(d, i, &why[i])
                                : strdup("every node runs without --only-changed or "
                                         "--only-missing-outputs");
        if (!text)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        if (decisions)
            json_array_append_new(decisions, json_pack("{s:s, s:s, s:s}", "node",
                                                       crun_run_node_name(run, i), "action",
                                                       runs[i] ? "run" : "skip", "reason",
                                                       text));
        else
            logger_write(run->logger, CRUN_LOG_DEBUG, NULL, "node '%s' runs: %s",
                         crun_run_node_name(run, i), text);
        free(text);
    }
    return 0;
}

int incr_decide(crun_run *run, json_t **decisions, crun_error *err)
{
    const plan *p = run->plan;
    incr_state *s = run->incr;
    unsigned char *runs = malloc(p->n + 1);
    plan_why *why = malloc((p->n + 1) * sizeof(plan_why));
    decide_ctx d = {.run = run, .s = s, .exists = malloc(run->ir->n_ds + 1),
                    .changed = calloc(p->n + 1, 1)};
    int rc = runs && why && d.exists && d.changed
                 ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (decisions && !rc && !(*decisions = json_array()))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc && (!s || !s->mode)) {
        memset(runs, 1, p->n);
    } else if (!rc) {
        memset(d.exists, -1, run->ir->n_ds);
        if (s->mode == CRUN_INCREMENTAL_CHANGED)
            fingerprint_all(&d);
        plan_probe probe = {.ephemeral = probe_ephemeral, .exists = probe_exists,
                            .changed = s->mode == CRUN_INCREMENTAL_CHANGED ? probe_changed
                                                                           : NULL,
                            .collected = probe_collected, .user = &d};
        plan_decide(p, &probe, runs, why);
    }
    if (!rc)
        rc = describe(&d, runs, why, decisions ? *decisions : NULL, err);
    size_t n_run = 0;
    for (size_t i = 0; !rc && i < p->n; i++)
        n_run += runs[i];
    if (!rc && s && s->mode && !decisions)
        logger_write(run->logger, CRUN_LOG_INFO, NULL, "%zu of %zu nodes up to date",
                     p->n - n_run, p->n);
    if (!rc && n_run < p->n && !decisions)
        rc = narrow(run, runs, err);
    free(runs);
    free(why);
    free(d.exists);
    free(d.changed);
    return rc;
}
