/* session.h (internal) - the session as a structure.
 *
 * session.c owns crun_session: the project, its IR, plugins, hooks and
 * logger, the plans and runner instances runs reuse, and the runs in
 * progress (for crun_session_cancel).  What its runs read of it is the
 * run_shared part (run/run.h), so that run/ needs nothing of session/.
 * session_runner.c picks a run's runner; describe.c answers `crun list`.
 */
#ifndef CRUN_SESSION_INTERNAL_H
#define CRUN_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "run/run.h"

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
    run_shared shared;       /* what its runs read */
    crun_logger logger;
    project *project;        /* NULL when opened from an IR file */
    ir_t *ir;
    char *dir;
    char *env;
    char **environ;          /* owned copy, NULL-terminated */
    plugin_cache plugins;
    hook_set hooks;
    pthread_mutex_t runs_lock;
    crun_run **active;       /* runs in progress, for crun_session_cancel */
    size_t n_active;
    size_t cap_active;
    atomic_bool cancel_all;  /* a cancel with no run going: the next run starts cancelled */
    /* What runs reuse.  Runs of one session may start on many threads at
     * once (the service), so what every run reads is published once with
     * atomics and read without a lock; only first uses take cache_lock. */
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

/* session_runner.c: the runner instance for a run; *shared when it is the
 * session's (not to be destroyed after the run). */
typedef struct runner_inst {
    const crun_runner_type *type;
    void *instance;
} runner_inst;
int session_get_runner(crun_session *s, const crun_run_options *o, runner_inst *r,
                       bool *shared, crun_error *err);

/* A run inside a run (crun_run_delegate): the run that hands it its plan,
 * the prefix of its log lines (may be NULL), and its id. */
typedef struct delegation {
    crun_run *outer;
    const char *label;
    const char *run_id;
} delegation;
/* session.c, for session_run.c: the filter as given read at full size;
 * whether a run may use the session's plan; that plan; the runs that
 * crun_session_cancel reaches. */
int session_filter_in(const crun_filter *given, crun_filter *full, crun_error *err);
bool session_plain_run(const crun_run_options *o, const char *given_id);
int session_shared_plan(crun_session *s, const char *pipeline, plan **out, crun_error *err);
void session_register_run(crun_session *s, crun_run *run, bool add);
/* session_run.c: hand a full-size result over to a caller's, as far as its
 * size goes; what does not fit is freed. */
void session_result_out(crun_run_result *dst, crun_run_result *full);
/* Zero a caller's result as far as its size goes (what it held is not
 * freed: results are cleared by their owner, as before a run). */
void session_result_reset(crun_run_result *res);
/* describe.c: a warning for each output of p's nodes that is a memory
 * dataset no node reads (a typo of a catalog name, most often). */
void session_warn_free_outputs(crun_session *s, const plan *p);
/* describe.c: each pinned version of --load-versions exists (else an error
 * naming the dataset's versions). */
int session_check_load_versions(crun_session *s, const char *spec, crun_error *err);
/* session_runner.c: at debug level (crun -v), the project, env and runner
 * stack a run uses. */
void session_log_choice(crun_session *s, const crun_run_options *o);
/* session_runner.c: "tune -> sturdy -> par(parallel)" (a new string). */
char *runner_stack_text(crun_session *s, const char *name);
/* session.c: a run from options read at this host's size into a full-size
 * result; d is NULL for a run of its own. */
int session_run(crun_session *s, const crun_run_options *o, crun_run_result *res,
                const delegation *d, crun_error *err);
/* session_runner.c: a run inside a run joins its outer run (logger, cancel)
 * once made, and leaves it before it is freed, its failure (res, NULL
 * when it never started) recorded as the outer run's.  d NULL: no-ops. */
int inner_run_begin(crun_run *run, const delegation *d, crun_error *err);
void inner_run_end(crun_run *run, const delegation *d, const crun_run_result *res);

#endif
