/* plan.h - the validated DAG of the nodes one run executes.
 *
 * plan_build checks the chosen pipeline as a graph (one producer per dataset,
 * every input produced or in the catalog, no cycle), applies the filters with
 * Kedro's semantics (each filter selects a set of the pipeline's nodes; the
 * sets are intersected), and lays the result out for runners: nodes in a
 * topological order with predecessor/successor lists (compressed rows), and
 * per dataset its producer and how many planned nodes consume it (so memory
 * datasets can be released after their last consumer).
 */
#ifndef CRUN_PLAN_H
#define CRUN_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "crun/session.h"
#include "ir/ir.h"

#define PLAN_NONE ((size_t)-1)

typedef struct plan {
    const ir_t *ir;        /* borrowed */
    char *pipeline;
    size_t n;            /* planned nodes */
    size_t *node;        /* plan index -> ir node index, topological order */
    size_t *dep_start;   /* n+1 offsets into deps */
    size_t *deps;        /* predecessors (plan indices) */
    size_t *succ_start;  /* n+1 offsets into succs */
    size_t *succs;       /* successors (plan indices) */
    size_t *producer;    /* per ir dataset: plan index of its producer, or PLAN_NONE */
    size_t *consumers;   /* per ir dataset: planned nodes reading it */
    unsigned char *crosses; /* per ir dataset, PLAN_CROSS_SHARED plans only: see below */
} plan;

/* A memory dataset that crosses the boundary of a filtered plan: made by a
 * node left out and read by a planned one (IN), or made by a planned node and
 * read by one left out (OUT).  Plans built with PLAN_CROSS_SHARED exchange
 * them through files (one job per node on a cluster) instead of refusing. */
enum { PLAN_CROSS_NONE = 0, PLAN_CROSS_IN = 1, PLAN_CROSS_OUT = 2 };
enum { PLAN_CROSS_SHARED = 1u << 0 };

/* CRUN_EUSAGE for a bad filter (unknown node, pipeline, dataset; empty
 * result), CRUN_ECONFIG with the node's position for a broken graph. */
int plan_build(const ir_t *ir, const crun_filter *filter, plan **out, crun_error *err);
/* plan_build with flags (PLAN_CROSS_SHARED) and the datasets the run is
 * given values for (they count as available even when their producer is
 * filtered out). */
int plan_build_flags(const ir_t *ir, const crun_filter *filter, unsigned flags,
                     const char *const *given, size_t n_given, plan **out, crun_error *err);
void plan_free(plan *p);

/* Kedro's resume rule: given which planned nodes finished (done[i]) and
 * whether a dataset is persisted (saved somewhere that outlives the run and
 * exists), the nodes to restart from.  Returns a malloc'd comma-separated list
 * of names, or NULL when every node finished. */
char *plan_resume_nodes(const plan *p, const unsigned char *done,
                        bool (*persisted)(void *user, size_t ds), void *user);

/* --- incremental runs (plan_skip.c) --- */

/* Why a node runs or is skipped: the dataset or node it names (ds is an IR
 * dataset, node a plan index). */
typedef enum plan_why_kind {
    PLAN_WHY_UP_TO_DATE,  /* skipped */
    PLAN_WHY_NO_OUTPUTS,  /* Kedro: a node without outputs always runs */
    PLAN_WHY_MISSING,     /* output ds is persistent and does not exist */
    PLAN_WHY_NEEDED,      /* node (which runs) reads output ds, ephemeral or missing;
                           * node PLAN_NONE: the caller collects ds (probe->collected) */
    PLAN_WHY_UPSTREAM,    /* node, upstream, runs (--only-changed) */
    PLAN_WHY_CHANGED      /* the caller's changed() said so (its own reason) */
} plan_why_kind;

typedef struct plan_why {
    plan_why_kind kind;
    size_t ds;
    size_t node;
} plan_why;

/* The questions plan_decide asks of the run's catalog.  changed is NULL for
 * --only-missing-outputs; else whether planned node i changed since its
 * outputs were saved (it may fill *why, kind PLAN_WHY_CHANGED). */
typedef struct plan_probe {
    bool (*ephemeral)(void *user, size_t ds); /* a memory dataset */
    bool (*exists)(void *user, size_t ds);    /* the dataset's own exists */
    bool (*changed)(void *user, size_t i, plan_why *why);
    /* NULL, or whether the caller wants the value of free output ds (a
     * run that returns its outputs): made again when it is ephemeral */
    bool (*collected)(void *user, size_t ds);
    void *user;
} plan_probe;

/* runs[i] (p->n of them) and why[i] for every planned node, by Kedro's
 * --only-missing-outputs rule and, with probe->changed, --only-changed. */
void plan_decide(const plan *p, const plan_probe *probe, unsigned char *runs, plan_why *why);
/* A new plan of the nodes of p with keep[i] set, in p's order (may be
 * empty).  0, or -1 when out of memory. */
int plan_subset(const plan *p, const unsigned char *keep, plan **out);

#endif
