/* retry.c - a node's retry: (pipelines.yml): another attempt after a failure.
 *
 * crun_run_execute, and crun_run_command_finish for runners that run
 * commands themselves, ask run_retry after a failed attempt.  A node is
 * tried again only when its retry allows one more attempt, the failure is
 * the node's own (not a cancel, a hook's refusal or out of memory), a
 * command's exit status is among on_exit (when given), and the run goes on
 * (not cancelled, no other node failed without keep_going).  The wait is
 * on the run's condition variable, so crun_run_cancel ends it at once.
 * Each retried attempt fires on_node_error with its number (the event's
 * `attempt`) and logs one line; the last failure is reported as before.
 * CRUN_NODE_RETRY=off in the environment turns retries off: where something
 * outside retries the whole process (Argo's retryStrategy), tries would
 * otherwise multiply.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "run/run.h"

static bool run_goes_on(crun_run *run)
{
    return !crun_run_cancelled(run) && !atomic_load(&run->stopping);
}

/* Wait seconds, or less when the run is cancelled or stops; whether the
 * whole wait passed with the run going on. */
static bool wait_for(crun_run *run, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    double whole = floor(seconds);
    until.tv_sec += (time_t)whole;
    until.tv_nsec += (long)((seconds - whole) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&run->lock);
    int rc = 0;
    while (run_goes_on(run) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&run->wake, &run->lock, &until);
    bool go_on = run_goes_on(run);
    pthread_mutex_unlock(&run->lock);
    return go_on;
}

/* A number in [0, 1) for the jitter: no state kept, so the clock, the
 * node and the attempt are mixed (splitmix64's finaliser). */
static double spread(const crun_call *call)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)call->pnode << 8) ^ call->attempt;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (double)(x >> 11) / 9007199254740992.0;
}

/* Whether the failure may be retried as far as the node says: attempts
 * left, and for a command with on_exit, an exit status among them. */
static bool retryable(const crun_run *run, const crun_call *call, int rc)
{
    const ir_retry *r = call->node->retry;
    if (!r || call->attempt >= r->attempts)
        return false;
    const char *off = conf_getenv(run->shared->environ, "CRUN_NODE_RETRY");
    if (off && strcmp(off, "off") == 0)
        return false;
    if (rc == CRUN_ECANCELED || rc == CRUN_EHOOK || rc == CRUN_ENOMEM)
        return false;
    if (call->node->func || r->n_on_exit == 0)
        return true;
    if (call->status == -1 || !WIFEXITED(call->status))
        return false;
    for (uint32_t i = 0; i < r->n_on_exit; i++)
        if (r->on_exit[i] == WEXITSTATUS(call->status))
            return true;
    return false;
}

static int attempt_failed_hooks(crun_run *run, crun_call *call, int rc, crun_error *err)
{
    if (!run_has_hooks(run))
        return 0;
    crun_hook_event ev = {.node = call->node->name, .call = call, .error = err, .status = rc,
                          .attempt = call->attempt};
    crun_error herr = CRUN_ERROR_INIT;
    int hrc = run_hooks_fire(run, CRUN_HOOK_ON_NODE_ERROR, &ev, &herr);
    if (hrc)
        crun_error_move(err, &herr);
    crun_error_clear(&herr);
    return hrc;
}

bool run_retry(crun_run *run, crun_call *call, int *rc, crun_error *err)
{
    if (!run_goes_on(run) || !retryable(run, call, *rc))
        return false;
    const ir_retry *r = call->node->retry;
    double wait = ir_retry_delay(r, call->attempt, r->jitter > 0 ? spread(call) : 0.5);
    crun_log(crun_run_logger(run), CRUN_LOG_WARN, "node '%s' failed (attempt %u of %u): %s; "
             "retrying in %.3g s", call->node->name, call->attempt, r->attempts,
             err->message ? err->message : crun_strerror(*rc), wait);
    int hrc = attempt_failed_hooks(run, call, *rc, err);
    if (hrc) {
        *rc = hrc;
        return false;
    }
    if (!wait_for(run, wait)) {
        if (crun_run_cancelled(run))
            *rc = crun_error_set(err, CRUN_ECANCELED, "cancelled while waiting to retry");
        return false;
    }
    crun_error_clear(err);
    call->attempt++;
    call->status = -1;
    return true;
}
