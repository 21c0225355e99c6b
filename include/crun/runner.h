/* crun/runner.h - runners and the run API they are built from.
 *
 * A runner is a plugin of kind CRUN_PLUGIN_RUNNER.  The host resolves the
 * plan (a validated DAG of the nodes to run), opens the catalog, fires
 * before_pipeline_run, and calls the runner's run() with a crun_run.  The
 * runner decides only *when* each node runs; the run API does the rest:
 *
 *     size_t node;
 *     while (!crun_run_finished(run)) {
 *         if (!crun_run_next_ready(run, &node)) break;      // nothing ready: failed or cancelled
 *         if (crun_run_execute(run, node, err) != 0) {        // load, call, save, release
 *             crun_run_node_failed(run, node, err);
 *             return err->code;
 *         }
 *         crun_run_node_done(run, node);                     // dependents become ready
 *     }
 *
 * Thread-safety: crun_run_execute and the command functions may run on many
 * threads at once for different nodes.  The scheduling calls (next_ready,
 * node_done, node_failed, finished) belong to one thread at a time: the
 * runner's scheduler.  crun_run_cancel and crun_run_cancelled are safe from
 * any thread.
 */
#ifndef CRUN_RUNNER_H
#define CRUN_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "hooks.h"
#include "plugin.h"
#include "session.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* crun_runner_type.flags */
enum {
    /* One instance serves every run of a session that asks for this runner
     * with the same options, several at once from different threads: the
     * session creates it at the first such run and destroys it when the
     * session closes, instead of one create/destroy per run.  run() must
     * then keep nothing of a run in the instance (only the options). */
    CRUN_RUNNER_SHARED = 1u << 0,
    /* The runner executes the plan's nodes itself (crun_run_next_ready,
     * crun_run_execute), as sequential, parallel and slurm do.  For an
     * incremental run (crun_run_options.incremental) the host then decides
     * before run() which nodes are up to date and hands it a run of the
     * others only.  A runner without it (one that hands the plan to runs
     * of its own, or serves requests) gets every node: its inner runs
     * decide for themselves. */
    CRUN_RUNNER_EXECUTES = 1u << 1,
};

/* A runner's table.  The host reads table->size and gives members the
 * table does not have their defaults (NULL, 0); the members of ABI 2.0 are
 * required to be present (size at least that of 2.0). */
typedef struct crun_runner_type {
    uint32_t size;  /* sizeof(crun_runner_type) */
    uint32_t flags; /* CRUN_RUNNER_* */
    /* Check options (crun_options_check_known and friends) and make an instance. */
    int (*create)(const crun_options *opts, crun_logger *logger, void **instance,
                  crun_error *err);
    /* Run every node of the plan.  Return 0 when all succeeded, else the code of
     * the failure (CRUN_ENODE, CRUN_ECANCELED, ...) with err filled. */
    int (*run)(void *instance, crun_run *run, crun_error *err);
    void (*destroy)(void *instance);
    /* Optional: check options against the session before anything runs, for
     * what create() cannot see (a runner.yml name given in an option, a
     * parameter key).  Called for every runner of a stack, outermost first,
     * before the first create().  Return 0, or CRUN_ECONFIG with err saying
     * what and where (crun_options_where). */
    int (*check)(const crun_options *opts, crun_session *session, crun_error *err);
} crun_runner_type;

/* --- what the run is (borrowed, valid until the runner's run() returns) --- */
const char *crun_run_id(const crun_run *run);
crun_logger *crun_run_logger(crun_run *run);
json_t *crun_run_params(const crun_run *run); /* read-only, maybe shared: never incref */
size_t crun_run_node_count(const crun_run *run);
const char *crun_run_node_name(const crun_run *run, size_t node);
bool crun_run_node_is_command(const crun_run *run, size_t node);
/* The node's tags (borrowed). */
size_t crun_run_node_tag_count(const crun_run *run, size_t node);
const char *crun_run_node_tag(const crun_run *run, size_t node, size_t i);
/* The nodes that node waits for (indices into the run's nodes). */
size_t crun_run_node_dep_count(const crun_run *run, size_t node);
size_t crun_run_node_dep(const crun_run *run, size_t node, size_t i);

/* --- scheduling (the scheduler thread) --- */
/* Pop a node whose inputs are all available.  Returns false when none is ready
 * now (others still running), or when the run failed or was cancelled. */
bool crun_run_next_ready(crun_run *run, size_t *node);
/* The node succeeded: its dependents whose inputs are now complete become ready. */
void crun_run_node_done(crun_run *run, size_t node);
/* The node failed with err (copied).  The run is now failed: next_ready returns
 * false unless keep_going is set, in which case only the node's descendants are
 * skipped. */
void crun_run_node_failed(crun_run *run, size_t node, const crun_error *err);
void crun_run_set_keep_going(crun_run *run, bool keep_going);
/* True when every node is done, failed or skipped, or the run stopped. */
bool crun_run_finished(const crun_run *run);
/* Nodes done so far, and failed; nodes taken by next_ready and not yet
 * reported done or failed. */
size_t crun_run_done_count(const crun_run *run);
size_t crun_run_running_count(const crun_run *run);
size_t crun_run_failed_count(const crun_run *run);

/* --- executing a node (any thread, distinct nodes) --- */
/* Everything for one node: before_node_run hooks, load inputs, call the function
 * or run the command (output to the log, waiting for it), save outputs, release
 * memory datasets whose last consumer this was, after_node_run hooks.  A node
 * with a retry: (pipelines.yml) is tried again here after a failed attempt,
 * waiting on the calling thread (crun_run_cancel ends the wait at once);
 * the result is its last attempt's. */
int crun_run_execute(crun_run *run, size_t node, crun_error *err);

/* A command node is run by crun_run_execute like any node: its child is
 * started, followed (output logged line by line), stopped on cancel and
 * reaped by libcrun's one child-process module (see "Child processes"
 * below).  A runner that runs several at once calls it from several
 * threads.  The steps below are the older way (ABI 1.0), kept working for
 * runners built against it: prepare expands {inputs.k}/{outputs.k} and loads
 * what must go through scratch files; the runner spawns argv with envp in
 * cwd, feeds each output line to crun_run_command_output, and calls
 * crun_run_command_finish with the wait status.  Both return what
 * crun_run_execute would for the node; when prepare fails, the node has
 * ended: do not call finish. */
typedef struct crun_command {
    uint32_t size;       /* sizeof(crun_command): start from CRUN_COMMAND_INIT */
    char *const *argv;   /* these three are the run's, valid until finish */
    char *const *envp;
    const char *cwd;
} crun_command;

#define CRUN_COMMAND_INIT {.size = sizeof(crun_command)}

/* Fills *cmd (from CRUN_COMMAND_INIT) as far as its size goes, the members
 * it does not hold left alone.  CRUN_EINVAL, before anything of the node is
 * done, for a cmd without a size, or one longer than this crun's whose
 * extra members are not zero (crun/abi.h). */
int crun_run_command_prepare(crun_run *run, size_t node, crun_command *cmd, crun_error *err);
void crun_run_command_output(crun_run *run, size_t node, const char *line, size_t len);
/* wait_status as from waitpid(); -1 when the process could not be started.
 * When the command failed and the node has a retry:, the later attempts run
 * inside this call, on the calling thread, as children of the run's own
 * (tracked, so crun_run_cancel stops them); the result is the last one's. */
int crun_run_command_finish(crun_run *run, size_t node, int wait_status, crun_error *err);
/* Register a child spawned by the runner itself so that cancel reaches it
 * (pid is a process-group leader).  When the run has no memory left to
 * record it, the child is killed at once (and an error logged): a child
 * cancel cannot reach never runs on.  crun_run_spawn with CRUN_SPAWN_TRACK
 * reserves the record before spawning instead, and refuses to spawn. */
void crun_run_track_child(crun_run *run, pid_t pid);
void crun_run_untrack_child(crun_run *run, pid_t pid);
/* A command node ends when its process exits, and so does everything it
 * started.  Call once pid (a process-group leader) has exited, before it is
 * reaped (waitid with WNOWAIT) and after it is untracked: pid is reaped, and
 * whatever is left in its group is held by pidfds (never signalled by the
 * group's number, which may be another group's by then), gets SIGTERM, and
 * SIGKILL when it is still there after the run's grace period (without
 * pidfds, before Linux 5.3, SIGTERM by the group's number before the reap is
 * all).  The wait is only that long when something ignores SIGTERM.  Returns
 * pid's wait status, for crun_run_command_finish, or -1 when it could not be
 * reaped.  crun_run_execute also gives a process that still holds the
 * command's output the grace period to finish before this (a `tee
 * >(gzip > f)`), and warns naming the node when something had to be
 * stopped. */
int crun_run_command_reap(crun_run *run, pid_t pid);

/* --- child processes (any thread) ---
 * Every child libcrun starts follows one policy (docs/design-decisions.md,
 * "Child processes"): posix_spawn with every step checked; argv[0] without
 * a slash looked up on the PATH of the session's environment (crun's own
 * PATH is never used), once per program per run; the child leads a session
 * of its own (its own process group, no controlling terminal); every signal
 * at its default and none blocked; stdin /dev/null; the session's
 * environment (with the spec's env laid over it). */
enum {
    /* crun_run_cancel (SIGTERM) and crun_run_stop_commands reach the child;
     * once the run is cancelled or stopped, such a child is not started. */
    CRUN_SPAWN_TRACK = 1u << 0,
};
typedef struct crun_spawn {
    uint32_t size;       /* sizeof(crun_spawn) */
    uint32_t flags;      /* CRUN_SPAWN_* */
    char *const *argv;   /* borrowed for the call */
    const char *cwd;     /* the child's folder; NULL: crun's */
    int out_fd, err_fd;  /* the child's stdout and stderr (the caller keeps its own) */
    /* ABI 2.1; a 2.0 spec (shorter) has them at their zero defaults */
    char *const *env;    /* NULL-terminated "NAME=value" entries laid over the session's
                          * environment for this child, each replacing the variable of
                          * its name (GIT_INDEX_FILE for one git call); NULL: none */
    int cancel_signal;   /* what crun_run_cancel sends a tracked child's group; 0:
                          * SIGTERM.  SIGINT for a child that should take a cancel as
                          * the Ctrl-C it would get at a terminal (a crun, which then
                          * reports an interrupted run and its resume point) */
} crun_spawn;

#define CRUN_SPAWN_INIT {.size = sizeof(crun_spawn), .out_fd = -1, .err_fd = -1}

/* Start a program for the run.  0 with *pid set, else CRUN_ENODE ("cannot
 * run 'x': ..."), CRUN_ECANCELED (a tracked child once the run stopped),
 * CRUN_ENOMEM or CRUN_EINVAL (a spec without a size, no out_fd or err_fd,
 * a cancel_signal that is no signal), with err filled.  A spec of an older
 * minor is read with the defaults of what it lacks (crun/abi.h). */
int crun_run_spawn(crun_run *run, const crun_spawn *spec, pid_t *pid, crun_error *err);
/* Wait for a child of crun_run_spawn to exit, untrack it, end what it left
 * in its group as crun_run_command_reap does, and reap it.  Returns its wait
 * status, or -1. */
int crun_run_reap(crun_run *run, pid_t pid);
/* Stop the run's commands without cancelling the run (a runner whose node
 * failed): no tracked child starts from now on (crun_run_execute returns
 * CRUN_ECANCELED "not started" for a command node), and when sig is not 0
 * every tracked child's group gets sig, as does one that was being spawned
 * meanwhile.  Running children are reaped with their leftovers killed at
 * once once a signal was sent. */
void crun_run_stop_commands(crun_run *run, int sig);

/* --- runners that do not execute the plan themselves --- */
/* The session the run belongs to: a runner may start runs of its own on it
 * (crun_session_run), as the service runner does for each request. */
crun_session *crun_run_session(crun_run *run);
/* Say that the plan was handled by other runs (the service), so that the
 * host does not report its nodes as not run. */
void crun_run_set_delegated(crun_run *run);

/* --- runners that wrap runners (a sweep, a retry, checks before a run) ---
 *
 * A wrapping runner names the runner it wraps with `runner:` in runner.yml
 * (the host resolves and checks such stacks before anything runs: unknown
 * names and cycles are configuration errors at the `runner:` line) and, in
 * its run(), hands the plan to it as many times as it likes:
 *
 *     crun_delegate_options o = CRUN_DELEGATE_OPTIONS_INIT;
 *     o.runner = my->inner;        // from crun_options_string(opts, "runner", ...)
 *     o.label = "trial 3";         // its log lines: "trial 3: train: ..."
 *     o.params = overrides;        // {"model": {"alpha": 0.5}}
 *     crun_run_result res = CRUN_RUN_RESULT_INIT;
 *     int rc = crun_run_delegate(run, &o, &res, err);
 *
 * The inner run inherits the outer run's filters, load versions, inputs,
 * progress, hooks (the session's) and logger (prefixed with the label);
 * its id is "<outer id>-<id_suffix>" (default: a count from 1) or run_id.  Its
 * parameters are the outer run's with params laid over them, and they
 * reach the catalog: an entry that uses ${runtime_params:key} is resolved
 * again for that run with the overrides.  When it fails, its failed nodes
 * and resume point become the outer run's (the last failure wins: the
 * outer run's resume command starts the outer runner from there), and err
 * is prefixed with the label; the outer run is marked delegated.
 * Cancelling the outer run cancels the inner ones.  Any thread; several
 * at once for one outer run are fine. */
typedef struct crun_delegate_options {
    uint32_t size;            /* sizeof(crun_delegate_options): CRUN_DELEGATE_OPTIONS_INIT */
    const char *runner;       /* runner.yml name, plugin name or .so path (required) */
    const char *label;        /* prefix of the inner run's log lines and errors; NULL: none */
    const char *id_suffix;    /* NULL: the count of this outer run's delegations */
    json_t *params;           /* borrowed; overrides, every key a parameter or a
                               * ${runtime_params:...} key of the catalog; NULL: none */
    const crun_filter *filter;/* NULL: the outer run's */
    bool collect_outputs;     /* the inner run's free outputs in result */
    /* The inner run's whole id, instead of "<outer id>-<suffix>": the outer
     * run's own (crun_run_id), so that hooks and .crun/runs/<id>/ see one
     * run, or a resumed sweep's "<sweep id>-<k>".  NULL: from id_suffix. */
    const char *run_id;
    /* Narrow the plan to these nodes (comma-separated) and what depends on
     * them, within the outer run's filters: a resume from a failed inner
     * run's crun_run_result.resume_from.  NULL: the whole plan. */
    const char *from_nodes;
    /* Outputs that every inner run would write to the same file stay in
     * memory (no file is written), so that inner runs at once do not
     * overwrite each other; an entry that the params resolve to a file of
     * this run's own (${runtime_params:...}) is still written. */
    bool memory_outputs;
} crun_delegate_options;

#define CRUN_DELEGATE_OPTIONS_INIT {.size = sizeof(crun_delegate_options)}

/* Run the plan in a run of its own with another runner and wait for it
 * (see above).  result as for crun_session_run.  Returns what the inner
 * run returned; CRUN_ECANCELED at once when the outer run is cancelled. */
int crun_run_delegate(crun_run *run, const crun_delegate_options *opts, crun_run_result *result,
                      crun_error *err);

/* Resolve a runner name as `--runner` would (a runner.yml name, a plugin
 * name or a .so path) with the stack it wraps, and check each runner of it
 * (plugin found, its check() passes), creating nothing.  For a wrapper's
 * check() of a runner named in another option.  0, or CRUN_ECONFIG /
 * CRUN_EPLUGIN / CRUN_EUSAGE with err naming where. */
int crun_session_check_runner(crun_session *session, const char *name, crun_error *err);

/* --- stopping --- */
/* Ask the run to stop (any thread): nothing new starts, running commands get
 * SIGTERM (SIGKILL after the grace period), next_ready returns false. */
void crun_run_cancel(crun_run *run);
bool crun_run_cancelled(const crun_run *run);
/* Have crun_run_cancel call fn(user) (on the cancelling thread, under the
 * run's lock: fn must be quick and must not call the run API, e.g.
 * uv_async_send), or call it at once if the run is already cancelled, so an
 * event-loop runner wakes up instead of polling.  fn NULL removes it; once
 * this returns, fn is not running and will not be called. */
void crun_run_on_cancel(crun_run *run, void (*fn)(void *user), void *user);
/* How long the run takes to stop once cancelled, in seconds (default 5):
 * its commands get SIGTERM, then SIGKILL after this long.  A runner whose
 * own option times its stop (parallel's grace_period, the service's) says
 * so here, before it runs anything: a program that stops a run which does
 * not return (a function node deaf to cancellation) waits this long, plus
 * a margin, before it gives up on it (crun_session_grace_period).  Any
 * thread. */
void crun_run_set_grace_period(crun_run *run, double seconds);

#ifdef __cplusplus
}
#endif
#endif
