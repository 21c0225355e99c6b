/* execute.c - executing one node: load its inputs, call it, save its outputs.
 *
 * crun_run_execute is what every runner calls per node, on any thread: it
 * loads the inputs through the catalog (with hooks), calls the function (or
 * hands a command node to command.c), saves the outputs and releases memory
 * datasets after their last consumer.  It touches only that node's data and
 * atomic counters, so many nodes execute at once while one thread schedules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run/run.h"
#include "run/incremental.h"

/* --- executing a function node --- */

static int node_hooks_fire(crun_run *run, crun_hook_point point, crun_call *call,
                           const crun_error *nerr, crun_error *err);

/* The common case, no hooks, costs one test per call site. */
static inline int node_hooks(crun_run *run, crun_hook_point point, crun_call *call,
                             const crun_error *nerr, crun_error *err)
{
    return run_has_hooks(run) ? node_hooks_fire(run, point, call, nerr, err) : 0;
}

static int node_hooks_fire(crun_run *run, crun_hook_point point, crun_call *call,
                           const crun_error *nerr, crun_error *err)
{
    crun_hook_event ev = {.node = call->node->name, .call = call, .error = nerr,
                          .status = nerr ? nerr->code : 0, .attempt = call->attempt};
    call->in_before_node_run = point == CRUN_HOOK_BEFORE_NODE_RUN;
    int rc = run_hooks_fire(run, point, &ev, err);
    call->in_before_node_run = false;
    return rc;
}

static int call_function(crun_run *run, size_t pn, crun_call *call, crun_error *err)
{
    const ir_node *node = call->node;
    int rc = 0;
    for (size_t i = 0; i < node->n_in && !rc; i++)
        rc = catalog_load(&run->catalog, node->in[i].ds, call->node->name, call, &call->inputs[i], err);
    if (!rc)
        rc = node_hooks(run, CRUN_HOOK_BEFORE_NODE_RUN, call, NULL, err);
    if (rc)
        return rc;
    /* what a program that gives up on a cancelled run names (relaxed: a
     * report, not a synchronisation) */
    atomic_store_explicit(&run->calling[pn], 1, memory_order_relaxed);
    rc = run->fns[pn](call);
    atomic_store_explicit(&run->calling[pn], 0, memory_order_relaxed);
    if (rc && !err->message) /* the caller puts "node 'x': " in front */
        crun_error_set(err, CRUN_ENODE, "function '%s' failed (it returned %d) and gave no "
                       "reason", node->func, rc);
    if (rc) {
        /* a node that gave up because its run was cancelled (it asked
         * crun_call_cancelled) did not fail: the run was interrupted */
        err->code = crun_run_cancelled(run) ? CRUN_ECANCELED : err->code ? err->code : CRUN_ENODE;
        return err->code;
    }
    for (size_t i = 0; i < node->n_out; i++)
        if (!call->outputs[i])
            return crun_error_set(err, CRUN_ENODE, "the function returned without setting output "
                                  "'%s'", node->out[i].arg);
    rc = node_hooks(run, CRUN_HOOK_AFTER_NODE_RUN, call, NULL, err);
    for (size_t i = 0; i < node->n_out && !rc; i++)
        rc = catalog_save(&run->catalog, node->out[i].ds, call->node->name, call, call->outputs[i], err);
    return rc;
}

size_t run_calling_nodes(crun_run *run, const char **names, size_t max, size_t found)
{
    for (size_t pn = 0; pn < run->plan->n; pn++)
        if (atomic_load_explicit(&run->calling[pn], memory_order_relaxed)) {
            if (found < max)
                names[found] = run->ir->nodes[run->plan->node[pn]].name;
            found++;
        }
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < run->inner.n_active; i++)
        found = run_calling_nodes(run->inner.active[i], names, max, found);
    pthread_mutex_unlock(&run->lock);
    return found;
}

int crun_run_execute(crun_run *run, size_t pn, crun_error *err)
{
    const ir_node *node = &run->ir->nodes[run->plan->node[pn]];
    if (crun_run_cancelled(run))
        return crun_error_set(err, CRUN_ECANCELED, "node '%s': cancelled", node->name);
    crun_value *small[16];
    size_t slots = node->n_in + node->n_out;
    crun_value **vals = slots <= 16 ? small : calloc(slots, sizeof(crun_value *));
    if (!vals)
        return crun_error_set(err, CRUN_ENOMEM, "node '%s': out of memory", node->name);
    if (vals == small) /* only the slots used (this is per node of every run) */
        memset(small, 0, slots * sizeof(crun_value *));
    crun_call call = {.run = run, .pnode = pn, .node = node, .inputs = vals,
                      .outputs = vals + node->n_in, .err = err, .attempt = 1, .status = -1};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc;
    for (;;) {
        rc = node->func ? call_function(run, pn, &call, err)
                        : command_execute(run, pn, &call, err);
        if (!rc || !node->retry || !run_retry(run, &call, &rc, err))
            break;
        /* the next attempt starts from its inputs again */
        for (size_t i = 0; i < slots; i++) {
            crun_value_unref(vals[i]);
            vals[i] = NULL;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    run->seconds[pn] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc && rc != CRUN_EHOOK && rc != CRUN_ECANCELED) {
        crun_error nerr = CRUN_ERROR_INIT;
        crun_error_set(&nerr, rc, "%s", err->message ? err->message : crun_strerror(rc));
        if (node_hooks(run, CRUN_HOOK_ON_NODE_ERROR, &call, &nerr, err) == 0)
            crun_error_move(err, &nerr);
        crun_error_clear(&nerr);
    }
    for (size_t i = 0; i < slots; i++)
        crun_value_unref(vals[i]);
    if (vals != small)
        free(vals);
    for (size_t i = 0; i < node->n_in; i++)
        catalog_consumed(&run->catalog, node->in[i].ds);
    if (!rc)
        incr_node_done(run, pn); /* its outputs are saved: record what made them */
    if (rc) {
        crun_error_prefix(err, "node '%s': ", node->name);
        /* whatever went wrong inside (a missing or corrupt file, a refused
         * output), the node failed: the run's outcome is "pipeline failed" */
        if (rc != CRUN_ECANCELED && rc != CRUN_EHOOK && rc != CRUN_ENOMEM)
            err->code = rc = CRUN_ENODE;
    }
    return rc;
}
