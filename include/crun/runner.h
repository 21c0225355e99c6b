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
};

typedef struct crun_runner_type {
    uint32_t size; /* sizeof(crun_runner_type) */
    /* Check options (crun_options_check_known and friends) and make an instance. */
    int (*create)(const crun_options *opts, crun_logger *logger, void **instance,
                  crun_error *err);
    /* Run every node of the plan.  Return 0 when all succeeded, else the code of
     * the failure (CRUN_ENODE, CRUN_ECANCELED, ...) with err filled. */
    int (*run)(void *instance, crun_run *run, crun_error *err);
    void (*destroy)(void *instance);
    /* --- ABI 1.1 --- */
    uint32_t flags; /* CRUN_RUNNER_* */
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

/* A command node in steps, for runners that start processes themselves
 * (an event loop): prepare expands {inputs.k}/{outputs.k} and loads what
 * must go through scratch files; the runner spawns argv with envp in cwd
 * (the project folder), feeds each output line to crun_run_command_output, and
 * calls crun_run_command_finish with the wait status.  Both return what
 * crun_run_execute would for the node (CRUN_ENODE for a missing input file as
 * for a failed command); when prepare fails, the node has ended: do not call
 * finish. */
typedef struct crun_command {
    char *const *argv;
    char *const *envp;
    const char *cwd;
} crun_command;
int crun_run_command_prepare(crun_run *run, size_t node, const crun_command **cmd,
                             crun_error *err);
void crun_run_command_output(crun_run *run, size_t node, const char *line, size_t len);
/* wait_status as from waitpid(); -1 when the process could not be started.
 * When the command failed and the node has a retry:, the later attempts run
 * inside this call, on the calling thread, as children of the run's own
 * (tracked, so crun_run_cancel stops them); the result is the last one's. */
int crun_run_command_finish(crun_run *run, size_t node, int wait_status, crun_error *err);
/* Child processes started through the run's own crun_run_execute are tracked
 * and stopped by crun_run_cancel; a runner that spawns its own registers them
 * so that cancel reaches them too (pid is a process-group leader). */
void crun_run_track_child(crun_run *run, pid_t pid);
void crun_run_untrack_child(crun_run *run, pid_t pid);
/* A command node ends when its process exits, and so does everything it
 * started.  Call once pid (a process-group leader) has exited, before it is
 * reaped (waitid with WNOWAIT, so that its group's number stays taken) and
 * after it is untracked: whatever is left in its group gets SIGTERM, then pid
 * is reaped, and what is still there after the run's grace period gets
 * SIGKILL through a pidfd of its own (never by the group's number, which may
 * be another group's by then; without pidfds, before Linux 5.3, SIGTERM is
 * all).  The wait is only that long when something ignores SIGTERM.  Returns
 * pid's wait status, for crun_run_command_finish, or -1 when it could not be
 * reaped.  Do not wait for the output pipe to close first: a background
 * process may hold it; read what the pipe holds when pid exits (FIONREAD). */
int crun_run_command_reap(crun_run *run, pid_t pid);

/* --- runners that do not execute the plan themselves --- */
/* The session the run belongs to: a runner may start runs of its own on it
 * (crun_session_run), as the service runner does for each request. */
struct crun_session *crun_run_session(crun_run *run);
/* Say that the plan was handled by other runs (the service), so that the
 * host does not report its nodes as not run. */
void crun_run_delegated(crun_run *run);

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

#ifdef __cplusplus
}
#endif
#endif
