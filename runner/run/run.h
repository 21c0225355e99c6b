/* run.h (internal) - one run and one node call as structures.
 *
 * run.c creates and ends crun_run (plan, scheduling state, its catalog,
 * children); schedule.c, execute.c and call.c are the run API of runner.h
 * and node.h; command.c runs command nodes; scratch.c keeps their files.  A run reads what
 * its session keeps for all runs through run_shared and nothing else of the
 * session (session/ comes after run/).
 */
#ifndef CRUN_RUN_INTERNAL_H
#define CRUN_RUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "catalog/catalog.h"
#include "crun/crun.h"
#include "run/process.h"

/* What a session keeps for all its runs: its catalogs' share, the process
 * environment its commands get, each node's function once resolved, and the
 * counters that make run ids and versions unique.  Set when the session
 * opens (session/); read by runs on many threads (atomics for first uses). */
typedef struct run_shared {
    catalog_shared catalog;
    char *const *environ;                /* NULL-terminated */
    _Atomic(crun_node_fn) *fn_cache;     /* per IR node: its function, once resolved */
    atomic_int_fast64_t last_version_ms; /* the newest save version handed out */
    atomic_uint_fast64_t id_counter;     /* run-id suffixes: mixed from this */
    proc_guard guard;                    /* ends tracked children with crun (run/guard.c) */
} run_shared;

typedef struct cmd_state cmd_state;

/* What a run knows of the runs it handed its plan to (crun_run_delegate):
 * those going on, to cancel them with it, and the last one that failed, to
 * report as its own failure. */
typedef struct inner_runs {
    crun_run **active;
    size_t n_active, cap_active;
    char **failed_nodes;     /* the last failed inner run's, owned */
    char *resume_from;       /* its resume point: the nodes of --from-nodes */
} inner_runs;

/* A run's grace period unless its runner sets one (crun_run_set_grace_period). */
#define RUN_GRACE_PERIOD_S 5.0

enum node_state { NODE_PENDING, NODE_READY, NODE_RUNNING, NODE_DONE, NODE_FAILED, NODE_SKIPPED };

struct crun_run {
    run_shared *shared;      /* the session's */
    crun_session *session;   /* opaque here: for crun_run_session */
    const ir_t *ir;
    plan *plan;
    char run_id[CRUN_RUN_ID_MAX];
    char version[64];        /* the run's save version (Kedro's timestamp format) */
    json_t *params;          /* the session's (borrowed) unless params_owned */
    bool params_owned;
    catalog catalog;
    crun_node_fn *fns;       /* per plan node: the function, NULL for commands */
    /* scheduling (scheduler thread) */
    size_t *waiting;
    size_t *ready;
    size_t ready_head, ready_tail;
    unsigned char *state;
    atomic_uchar *calling;   /* per plan node: inside its function now (any thread) */
    size_t n_started, n_done, n_failed, n_skipped;
    /* running nodes, most recently started first (for the progress line) */
    size_t *run_prev, *run_next, run_head;
    bool failed;
    bool keep_going;
    bool progress;
    crun_error first_error;
    /* any thread */
    atomic_bool cancelled;
    atomic_bool stopping;    /* a node failed without keep_going: no node retries */
    pthread_mutex_t lock;    /* children, scratch files, cmd states */
    proc_table procs;        /* tracked children, program paths (run/process.c) */
    pthread_cond_t wake;     /* with lock, CLOCK_MONOTONIC: cancel and stopping end retry waits */
    char *scratch_dir;
    int scratch_lock;        /* scratch_dir/.owner, locked while the run lives */
    cmd_state **cmds;        /* per plan node, for the stepwise command API */
    _Atomic double grace_period; /* seconds between SIGTERM and SIGKILL (any thread) */
    void (*on_cancel)(void *user); /* under lock */
    void *on_cancel_user;
    double *seconds;         /* per plan node: how long its execution took */
    bool delegated;          /* the runner handed the plan to other runs */
    bool plan_shared;        /* plan is the session's cached one: not freed with the run */
    /* runs inside runs (session/session_runner.c): what the run was asked */
    const crun_run_options *opts; /* as crun_session_run read it; borrowed for the run */
    crun_logger *logger;     /* the session's, or own_logger for a run inside a run */
    crun_logger own_logger;
    bool own_logger_set;
    atomic_uint n_delegated; /* runs started by crun_run_delegate, for their ids */
    inner_runs inner;        /* under lock */
    /* incremental runs (run/incremental.c): fingerprints, the store */
    struct incr_state *incr; /* NULL when the run neither decides nor records */
    size_t n_up_to_date;     /* planned nodes left out as up to date */
};

/* run.c */
/* A run of session s (opaque; shared is its share).  Takes ownership of p
 * (freed on failure too) unless shared_plan: then p belongs to the
 * session's plan cache and outlives the run.  Takes params too: the run's
 * own tree, or NULL to read the session's parameters. */
int run_create(run_shared *shared, crun_session *s, plan *p, bool shared_plan, json_t *params,
               const crun_run_options *o, crun_run **out, crun_error *err);
void run_destroy(crun_run *run);
/* schedule.c: the longest grace period of run and the runs inside it (any
 * thread; takes their locks). */
double run_grace_period(crun_run *run);
/* execute.c: the function nodes of run and of the runs inside it that are
 * inside their function now: up to max names (the IR's) into names, from
 * index found on; returns found plus how many there are (any thread; takes
 * the runs' locks). */
size_t run_calling_nodes(crun_run *run, const char **names, size_t max, size_t found);
void inner_runs_free(inner_runs *in);
/* schedule.c: node joins the ready set (scheduler thread). */
static inline void run_push_ready(crun_run *run, size_t node)
{
    run->state[node] = NODE_READY;
    run->ready[run->ready_tail++ % run->plan->n] = node;
}
/* run_ids.c: the run's version, and its id (run_id, or a new one). */
void run_make_ids(crun_run *run, const char *run_id);
/* Fire a hook event of the run (its id, parameters and the run filled in). */
static inline int run_hooks_fire(crun_run *run, crun_hook_point point, crun_hook_event *ev,
                                 crun_error *err)
{
    return catalog_hooks_fire(&run->catalog, point, ev, err);
}
/* Whether the session has hooks at all: the common case costs one test. */
static inline bool run_has_hooks(const crun_run *run)
{
    return run->shared->catalog.hooks->n != 0;
}
/* scratch.c: the run's scratch folder (made on first use; removed with the run). */
int run_scratch_dir(crun_run *run, crun_error *err);
void run_scratch_free(crun_run *run);
/* Remove path and, when it is a folder, everything in it, without following
 * symbolic links (what a command made: it may be a folder where a file was due). */
int run_remove_tree(const char *path);

/* retry.c: after attempt call->attempt of a node with a retry ended with
 * *rc (not 0) and err: whether to run it again.  If so, on_node_error has
 * fired for that attempt, the log says so, the wait is over and err is
 * cleared, call->attempt counts the next one, and true is returned.  False
 * leaves the failure as it was, or makes it CRUN_ECANCELED (in *rc and err)
 * when a cancel ended the wait, or CRUN_EHOOK when on_node_error failed. */
bool run_retry(crun_run *run, crun_call *call, int *rc, crun_error *err);

/* command.c */
int command_execute(crun_run *run, size_t pnode, crun_call *call, crun_error *err);
void command_state_free(cmd_state *st);

struct crun_call {
    crun_run *run;
    size_t pnode;
    const ir_node *node;
    crun_value **inputs;
    crun_value **outputs;
    crun_error *err;
    bool in_before_node_run;
    uint32_t attempt;  /* 1 for the first try of the node (hook events carry it) */
    int status;        /* a command's wait status once it ended, else -1 */
};

#endif
