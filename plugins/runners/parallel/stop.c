/* stop.c - the event loop that times the stops of a parallel run.
 *
 * Command nodes run on the workers through crun_run_execute: libcrun's
 * child-process module spawns, follows and reaps them.  This loop runs on
 * the thread that called the runner's run() and only times stops: woken
 * (uv_async_t) by a failure without keep_going, by crun_run_cancel (through
 * crun_run_on_cancel; the run API has already sent SIGTERM to every tracked
 * child) and by the workers quitting.  A failure gives running nodes
 * grace_period, then SIGTERM, then SIGKILL one second later; a cancel
 * SIGKILLs what is left after grace_period.  The signals go through
 * crun_run_stop_commands, which also reaches a child being spawned at that
 * moment.
 */
#include <signal.h>

#include "parallel.h"

enum { KILL_AFTER_TERM_MS = 1000 };

/* --- stopping --- */

static void set_phase(par_run *pr, enum stop_phase phase, int sig)
{
    pthread_mutex_lock(&pr->lock);
    pr->phase = phase;
    pthread_mutex_unlock(&pr->lock);
    if (sig) /* the whole group: a leader that has exited may have left children */
        crun_run_stop_commands(pr->run, sig);
}

static void stop_timer_fired(uv_timer_t *timer)
{
    par_run *pr = timer->data;
    pthread_mutex_lock(&pr->lock);
    enum stop_phase phase = pr->phase;
    size_t live = pr->processes;
    pthread_mutex_unlock(&pr->lock);
    if (phase == STOP_GRACE) {
        if (live)
            crun_log(pr->logger, CRUN_LOG_WARN, "grace period of %g s over: stopping %zu "
                     "running command%s", pr->opt->grace_period, live, live == 1 ? "" : "s");
        set_phase(pr, STOP_TERM, SIGTERM);
        uv_timer_start(&pr->stop_timer, stop_timer_fired, KILL_AFTER_TERM_MS, 0);
    } else if (phase == STOP_TERM) {
        set_phase(pr, STOP_KILL, SIGKILL);
    }
}

static uint64_t grace_ms(const par_run *pr)
{
    return (uint64_t)(pr->opt->grace_period * 1000.0 + 0.5);
}

/* crun_run_cancel, any thread, under the run's lock: only wake the loop. */
static void cancelled(void *user)
{
    par_run *pr = user;
    uv_async_send(&pr->wake);
}

/* --- the loop --- */

static void close_loop_handles(par_run *pr)
{
    if (pr->closing)
        return;
    pr->closing = true;
    /* after this returns no cancel callback runs, nor will: the handle may go */
    crun_run_on_cancel(pr->run, NULL, NULL);
    uv_close((uv_handle_t *)&pr->wake, NULL);
    uv_close((uv_handle_t *)&pr->stop_timer, NULL);
}

/* The loop's side of the lock: what the workers asked of it. */
static void take_for_loop(par_run *pr, bool *stop_now, bool *quit)
{
    pthread_mutex_lock(&pr->lock);
    *stop_now = pr->stopping && !pr->stop_noticed;
    pr->stop_noticed = pr->stopping;
    *quit = pr->quit;
    pthread_mutex_unlock(&pr->lock);
}

static void woken(uv_async_t *async)
{
    par_run *pr = async->data;
    bool stop_now, quit;
    take_for_loop(pr, &stop_now, &quit);
    enum stop_phase phase = pr->phase; /* only this thread writes it */
    if (!pr->cancel_seen && crun_run_cancelled(pr->run)) {
        /* the run API sent SIGTERM to every tracked child; SIGKILL after the grace */
        pr->cancel_seen = true;
        if (phase < STOP_TERM) {
            set_phase(pr, STOP_TERM, 0);
            uv_timer_start(&pr->stop_timer, stop_timer_fired, grace_ms(pr), 0);
        }
    } else if (stop_now && phase == STOP_NONE) {
        set_phase(pr, STOP_GRACE, 0);
        uv_timer_start(&pr->stop_timer, stop_timer_fired, grace_ms(pr), 0);
    }
    if (quit)
        close_loop_handles(pr); /* the workers quit only when nothing is in flight */
}

int stop_loop_init(par_run *pr, crun_error *err)
{
    int rc = uv_loop_init(&pr->loop);
    if (rc)
        return crun_error_set(err, CRUN_EIO, "parallel runner: cannot start an event loop: %s",
                              uv_strerror(rc));
    pr->wake.data = pr->stop_timer.data = pr;
    uv_async_init(&pr->loop, &pr->wake, woken);
    uv_timer_init(&pr->loop, &pr->stop_timer);
    pr->loop_ready = true;
    crun_run_on_cancel(pr->run, cancelled, pr);
    return 0;
}

void stop_loop_run(par_run *pr)
{
    uv_run(&pr->loop, UV_RUN_DEFAULT);
}

void stop_loop_close(par_run *pr)
{
    if (!pr->loop_ready)
        return;
    close_loop_handles(pr);
    uv_run(&pr->loop, UV_RUN_DEFAULT); /* close callbacks */
    uv_loop_close(&pr->loop);
    pr->loop_ready = false;
}
