/* plan_skip.c - which planned nodes an incremental run skips, and the plan
 * of the rest.
 *
 * plan_decide is Kedro 1.0's --only-missing-outputs rule, walked in reverse
 * topological order: a node runs when it has no outputs, when one of its
 * persistent outputs does not exist, or when a node that runs reads one of
 * its outputs that is ephemeral (a memory dataset) or missing.  With
 * --only-changed a node whose fingerprint differs runs too, and so does
 * everything downstream of a node that runs (a forward walk); the two walks
 * repeat until nothing new runs.  What a dataset is (ephemeral, existing) and whether a
 * node changed are the caller's questions (the run knows its catalog), so
 * this file is plain graph logic.  plan_subset lays out the nodes that run
 * as a plan of their own, the one runners then see.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"

/* Kedro's rules on a node's own outputs: none, or a persistent one missing. */
static bool own_state_runs(const plan *p, size_t i, const plan_probe *q, plan_why *why)
{
    const ir_node *n = &p->ir->nodes[p->node[i]];
    if (n->n_out == 0) {
        *why = (plan_why){.kind = PLAN_WHY_NO_OUTPUTS};
        return true;
    }
    for (size_t k = 0; k < n->n_out; k++) {
        size_t ds = n->out[k].ds;
        bool ephemeral = q->ephemeral(q->user, ds);
        if (!ephemeral && !q->exists(q->user, ds)) {
            *why = (plan_why){.kind = PLAN_WHY_MISSING, .ds = ds};
            return true;
        }
        if (ephemeral && q->collected && p->consumers[ds] == 0 && q->collected(q->user, ds)) {
            *why = (plan_why){.kind = PLAN_WHY_NEEDED, .ds = ds, .node = PLAN_NONE};
            return true;
        }
    }
    return false;
}

/* Whether node i (plan index) must run by Kedro's rule; *why filled. */
static bool kedro_runs(const plan *p, size_t i, const plan_probe *q, const unsigned char *runs,
                       plan_why *why)
{
    if (own_state_runs(p, i, q, why))
        return true;
    for (size_t e = p->succ_start[i]; e < p->succ_start[i + 1]; e++) {
        size_t s = p->succs[e];
        if (!runs[s])
            continue;
        const ir_node *c = &p->ir->nodes[p->node[s]];
        for (size_t k = 0; k < c->n_in; k++) {
            size_t ds = c->in[k].ds;
            if (p->producer[ds] != i)
                continue;
            if (q->ephemeral(q->user, ds) || !q->exists(q->user, ds)) {
                *why = (plan_why){.kind = PLAN_WHY_NEEDED, .ds = ds, .node = s};
                return true;
            }
        }
    }
    return false;
}

/* One reverse walk; returns whether a node was added. */
static bool reverse_walk(const plan *p, const plan_probe *q, unsigned char *runs, plan_why *why)
{
    bool added = false;
    for (size_t i = p->n; i-- > 0;)
        if (!runs[i] && kedro_runs(p, i, q, runs, &why[i])) {
            runs[i] = 1;
            added = true;
        }
    return added;
}

/* --only-changed, in topological order: a node downstream of one that runs
 * runs, and so does a node with an output missing or that changed; returns
 * whether a node was added. */
static bool forward_walk(const plan *p, const plan_probe *q, unsigned char *runs, plan_why *why)
{
    bool added = false;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t e = p->dep_start[i]; !runs[i] && e < p->dep_start[i + 1]; e++)
            if (runs[p->deps[e]]) {
                why[i] = (plan_why){.kind = PLAN_WHY_UPSTREAM, .node = p->deps[e]};
                runs[i] = 1;
                added = true;
            }
        if (!runs[i] && (own_state_runs(p, i, q, &why[i]) || q->changed(q->user, i, &why[i]))) {
            runs[i] = 1;
            added = true;
        }
    }
    return added;
}

void plan_decide(const plan *p, const plan_probe *q, unsigned char *runs, plan_why *why)
{
    memset(runs, 0, p->n);
    for (size_t i = 0; i < p->n; i++)
        why[i] = (plan_why){.kind = PLAN_WHY_UP_TO_DATE};
    if (!q->changed) {
        reverse_walk(p, q, runs, why); /* Kedro's rule settles in one reverse walk */
        return;
    }
    /* a node that runs upstream is the reason given before the node's own
     * change (its inputs change with it); the producers the nodes that run
     * need run too, and so on until nothing is added */
    do
        forward_walk(p, q, runs, why);
    while (reverse_walk(p, q, runs, why));
}

int plan_subset(const plan *p, const unsigned char *keep, plan **out)
{
    *out = NULL;
    const ir_t *ir = p->ir;
    plan *s = calloc(1, sizeof(*s));
    size_t *map = malloc((p->n + 1) * sizeof(size_t));
    if (!s || !map)
        goto oom;
    s->ir = ir;
    s->pipeline = strdup(p->pipeline ? p->pipeline : "");
    s->node = malloc((p->n + 1) * sizeof(size_t));
    s->producer = malloc((ir->n_ds + 1) * sizeof(size_t));
    s->consumers = calloc(ir->n_ds + 1, sizeof(size_t));
    s->dep_start = calloc(p->n + 2, sizeof(size_t));
    s->succ_start = calloc(p->n + 2, sizeof(size_t));
    s->deps = malloc((p->dep_start[p->n] + 1) * sizeof(size_t));
    s->succs = malloc((p->dep_start[p->n] + 1) * sizeof(size_t));
    if (p->crosses && (s->crosses = malloc(ir->n_ds + 1)))
        memcpy(s->crosses, p->crosses, ir->n_ds);
    if (!s->pipeline || !s->node || !s->producer || !s->consumers || !s->dep_start ||
        !s->succ_start || !s->deps || !s->succs || (p->crosses && !s->crosses))
        goto oom;
    for (size_t ds = 0; ds < ir->n_ds; ds++)
        s->producer[ds] = PLAN_NONE;
    for (size_t i = 0; i < p->n; i++) {
        map[i] = keep[i] ? s->n : PLAN_NONE;
        if (keep[i])
            s->node[s->n++] = p->node[i];
    }
    size_t d = 0;
    for (size_t j = 0; j < s->n; j++) {
        const ir_node *n = &ir->nodes[s->node[j]];
        for (size_t k = 0; k < n->n_out; k++)
            s->producer[n->out[k].ds] = j;
        for (size_t k = 0; k < n->n_in; k++)
            s->consumers[n->in[k].ds]++;
    }
    /* predecessors, then successors from them (both in plan order) */
    for (size_t i = 0; i < p->n; i++) {
        if (!keep[i])
            continue;
        for (size_t e = p->dep_start[i]; e < p->dep_start[i + 1]; e++)
            if (keep[p->deps[e]]) {
                s->deps[d++] = map[p->deps[e]];
                s->succ_start[map[p->deps[e]] + 1]++;
            }
        s->dep_start[map[i] + 1] = d;
    }
    for (size_t j = 0; j < s->n; j++)
        s->succ_start[j + 1] += s->succ_start[j];
    size_t *fill = malloc((s->n + 1) * sizeof(size_t));
    if (!fill)
        goto oom;
    memcpy(fill, s->succ_start, s->n * sizeof(size_t));
    for (size_t j = 0; j < s->n; j++)
        for (size_t e = s->dep_start[j]; e < s->dep_start[j + 1]; e++)
            s->succs[fill[s->deps[e]]++] = j;
    free(fill);
    free(map);
    *out = s;
    return 0;
oom:
    free(map);
    plan_free(s);
    return -1;
}
