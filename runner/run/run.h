/* run.h (internal) - the session, the run and the node call as structures.
 *
 * session.c owns crun_session (project, IR, plugins, hooks, logger);
 * run.c owns crun_run (plan, scheduling state, catalog, children) and the
 * run API of runner.h; catalog.c the per-run dataset instances; command.c
 * command nodes.  They share these definitions and nothing else.
 */
#ifndef CRUN_RUN_INTERNAL_H
#define CRUN_RUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "crun/crun.h"
#include "ir/ir.h"
#include "core/log.h"
#include "plan/plan.h"
#include "plugin/plugin.h"
#include "conf/project.h"

/* Room for a run id and its NUL (crun_session_run refuses longer ids). */
enum { CRUN_RUN_ID_MAX = 64 };

typedef struct session_hook {
    char *name;
    const crun_hooks_type *type;
    void *instance;
    bool serialize;          /* not thread-safe: calls go through lock */
    pthread_mutex_t lock;
} session_hook;

typedef struct cached_plan {
    char *pipeline;          /* a named pipeline's whole plan */
    plan *p;
} cached_plan;

/* The one instance of a runner flagged CRUN_RUNNER_SHARED, for every run
 * that asks for it with the same options. */
typedef struct shared_runner {
    struct shared_runner *next;
    char *key;               /* the runner asked for and its options, as given */
    const crun_runner_type *type;
    void *instance;
} shared_runner;

struct crun_session {
    crun_logger logger;
    project *project;        /* NULL when opened from an IR file */
    ir_t *ir;
    char *dir;
    char *env;
    char **environ;          /* owned copy, NULL-terminated */
    plugin_cache plugins;
    session_hook *hooks;
    size_t n_hooks;
    pthread_mutex_t runs_lock;
    crun_run **active;       /* runs in progress, for crun_session_cancel */
    size_t n_active;
    size_t cap_active;
    atomic_bool cancel_all;  /* a cancel with no run going: the next run starts cancelled */
    /* What runs reuse.  Runs of one session may start on many threads at
     * once (the service), so what every run reads is published once with
     * atomics and read without a lock; only first uses take cache_lock. */
    atomic_int_fast64_t last_version_ms; /* the newest save version handed out */
    atomic_uint_fast64_t id_counter;     /* run-id suffixes: mixed from this */
    _Atomic(crun_node_fn) *fn_cache;     /* per IR node: its function, once resolved */
    _Atomic(const crun_plugin *) *ds_plugin; /* per IR dataset: its type's plugin */
    _Atomic(const crun_plugin *) memory_plugin;
    _Atomic(crun_options *) *ds_options; /* per IR dataset: its catalog options */
    crun_options *no_options;            /* datasets without options */
    _Atomic(plan *) whole_plan;          /* the default pipeline's plan */
    _Atomic(shared_runner *) last_runner;
    pthread_mutex_t cache_lock;          /* plans, runners */
    cached_plan *plans;
    size_t n_plans;
    shared_runner *runners;
    /* how the session was opened, as given, for the resume command */
    char *given_project;
    char *given_env;
    char *given_params;
    char *given_ir;
};

/* --- catalog: one per run --- */
typedef struct cat_entry {
    const ir_dataset *def;
    const crun_dataset_type *type; /* NULL for parameters */
    void *instance;                /* NULL for a slot */
    crun_dataset_ctx *ctx;         /* the instance's (malloc'd, outlives it); NULL for a slot */
    crun_value *param;             /* parameters: the JSON value */
    atomic_size_t consumers_left;  /* released at zero when in memory */
    char *scratch;                 /* a file holding the value for commands, once made */
    /* A type flagged CRUN_DATASET_VALUE_SLOT without options has no
     * instance: the entry holds its value (an owned reference or NULL).
     * The run's order makes the accesses safe without a lock: the save
     * happens before the consumers' loads, and the release after the last
     * consumer finished (consumers_left). */
    _Atomic(crun_value *) value;
    bool slot;
    bool in_memory;
} cat_entry;

typedef struct catalog {
    cat_entry *entries;  /* indexed by ir dataset; type/instance NULL when unused;
                          * part of the run's block (run_create) */
    size_t n;
} catalog;

typedef struct cmd_state cmd_state;

enum node_state { NODE_PENDING, NODE_READY, NODE_RUNNING, NODE_DONE, NODE_FAILED, NODE_SKIPPED };

struct crun_run {
    crun_session *session;
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
    size_t n_started, n_done, n_failed, n_skipped;
    /* running nodes, most recently started first (for the progress line) */
    size_t *run_prev, *run_next, run_head;
    bool failed;
    bool keep_going;
    bool progress;
    crun_error first_error;
    /* any thread */
    atomic_bool cancelled;
    pthread_mutex_t lock;    /* children, scratch files, cmd states */
    pid_t *children;
    size_t n_children, cap_children;
    char *scratch_dir;
    cmd_state **cmds;        /* per plan node, for the stepwise command API */
    double grace_period;     /* seconds between SIGTERM and SIGKILL */
    void (*on_cancel)(void *user); /* under lock */
    void *on_cancel_user;
    double *seconds;         /* per plan node: how long its execution took */
    bool delegated;          /* the runner handed the plan to other runs */
    bool plan_shared;        /* plan is the session's cached one: not freed with the run */
};

/* catalog.c */
/* Open the plan's datasets into run->catalog.entries (zeroed, ir->n_ds of
 * them, allocated with the run). */
int catalog_open(crun_run *run, const crun_run_options *o, crun_error *err);
void catalog_close(crun_run *run);
/* Load/save with hooks; node may be NULL outside a node. */
int catalog_load(crun_run *run, size_t ds, crun_call *call, crun_value **out, crun_error *err);
int catalog_save(crun_run *run, size_t ds, crun_call *call, crun_value *value, crun_error *err);
/* The value of an open entry, without hooks (the run's results). */
int catalog_entry_load(crun_run *run, size_t ds, crun_value **out, crun_error *err);
/* A consumer of ds finished: release the value after the last one. */
void catalog_consumed(crun_run *run, size_t ds);
bool catalog_persisted(void *run, size_t ds);

/* run.c */
/* Takes ownership of p (freed on failure too) unless shared_plan: then p
 * belongs to the session's plan cache and outlives the run.  Takes params
 * too: the run's own tree, or NULL to read the session's parameters. */
int run_create(crun_session *s, plan *p, bool shared_plan, json_t *params,
               const crun_run_options *o, crun_run **out, crun_error *err);
/* session_runner.c: the runner instance for a run; *shared when it is the
 * session's (not to be destroyed after the run). */
typedef struct runner_inst {
    const crun_runner_type *type;
    void *instance;
} runner_inst;
int session_get_runner(crun_session *s, const crun_run_options *o, runner_inst *r,
                       bool *shared, crun_error *err);

/* session.c: a copy of a parameter value that shares no reference count
 * with the session's tree (runs on other threads read that one). */
json_t *params_private_copy(json_t *v);
void run_destroy(crun_run *run);
/* run_ids.c: the run's version, and its id (run_id, or a new one). */
void run_make_ids(crun_run *run, const char *run_id);
int hooks_fire(crun_run *run, crun_hook_point point, crun_hook_event *ev, crun_error *err);
int run_scratch_dir(crun_run *run, crun_error *err);
/* Remove path and, when it is a folder, everything in it, without following
 * symbolic links (what a command made: it may be a folder where a file was due). */
int run_remove_tree(const char *path);

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
};

#endif
