/* schedule.c - the ready set of a run, and stopping it: what runners loop on.
 *
 * The scheduling state is a ready queue (a ring over the planned nodes) plus,
 * per node, how many predecessors it still waits for: finishing a node walks
 * its successors once, so each scheduling step is O(1) amortised.  The
 * scheduling calls belong to one thread (the runner's); cancelling, the
 * children tracked for it and the queries of runner.h are safe from any.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"

/* --- what the run is --- */

const char *crun_run_id(const crun_run *run) { return run->run_id; }
crun_logger *crun_run_logger(crun_run *run) { return run->logger; }
json_t *crun_run_params(const crun_run *run) { return run->params; }
size_t crun_run_node_count(const crun_run *run) { return run->plan->n; }
size_t crun_run_done_count(const crun_run *run) { return run->n_done; }
size_t crun_run_running_count(const crun_run *run)
{
    return run->n_started - run->n_done - run->n_failed;
}
size_t crun_run_failed_count(const crun_run *run) { return run->n_failed; }

const char *crun_run_node_name(const crun_run *run, size_t node)
{
    return node < run->plan->n ? run->ir->nodes[run->plan->node[node]].name : NULL;
}

bool crun_run_node_is_command(const crun_run *run, size_t node)
{
    return node < run->plan->n && !run->ir->nodes[run->plan->node[node]].func;
}

size_t crun_run_node_tag_count(const crun_run *run, size_t node)
{
    return node < run->plan->n ? run->ir->nodes[run->plan->node[node]].n_tags : 0;
}

const char *crun_run_node_tag(const crun_run *run, size_t node, size_t i)
{
    if (node >= run->plan->n)
        return NULL;
    const ir_node *n = &run->ir->nodes[run->plan->node[node]];
    return i < n->n_tags ? n->tags[i] : NULL;
}

size_t crun_run_node_dep_count(const crun_run *run, size_t node)
{
    return run->plan->dep_start[node + 1] - run->plan->dep_start[node];
}

size_t crun_run_node_dep(const crun_run *run, size_t node, size_t i)
{
    return run->plan->deps[run->plan->dep_start[node] + i];
}

/* --- scheduling --- */

static bool stopped(const crun_run *run)
{
    return crun_run_cancelled(run) || (run->failed && !run->keep_going);
}

/* The running list: O(1) in and out, so the progress line can name a few. */
static void running_add(crun_run *run, size_t node)
{
    size_t none = run->plan->n;
    run->run_prev[node] = none;
    run->run_next[node] = run->run_head;
    if (run->run_head != none)
        run->run_prev[run->run_head] = node;
    run->run_head = node;
}

static void running_remove(crun_run *run, size_t node)
{
    size_t none = run->plan->n, prev = run->run_prev[node], next = run->run_next[node];
    if (prev != none)
        run->run_next[prev] = next;
    else if (run->run_head == node)
        run->run_head = next;
    if (next != none)
        run->run_prev[next] = prev;
}

bool crun_run_next_ready(crun_run *run, size_t *node)
{
    if (stopped(run) || run->ready_head == run->ready_tail)
        return false;
    *node = run->ready[run->ready_head++ % run->plan->n];
    run->state[*node] = NODE_RUNNING;
    run->n_started++;
    running_add(run, *node);
    return true;
}

/* "[12/40] train_model" and, on a terminal, what still runs:
 * "[12/40] train_model | running: score, plot +3" (ninja's status line). */
static void show_progress(crun_run *run, const char *name)
{
    crun_logger *log = run->logger;
    const plan *p = run->plan;
    if (!log->tty) {
        logger_write(log, CRUN_LOG_INFO, NULL, "[%zu/%zu] %s", run->n_done, p->n, name);
        return;
    }
    size_t running = crun_run_running_count(run);
    if (!running) {
        logger_progress(log, "[%zu/%zu] %s", run->n_done, p->n, name);
        return;
    }
    const char *a = crun_run_node_name(run, run->run_head);
    size_t second = run->run_next[run->run_head];
    const char *b = running > 1 ? crun_run_node_name(run, second) : NULL;
    char more[32] = "";
    if (running > 2)
        snprintf(more, sizeof(more), " +%zu", running - 2);
    logger_progress(log, "[%zu/%zu] %s | running: %s%s%s%s", run->n_done, p->n, name, a,
                    b ? ", " : "", b ? b : "", more);
}

void crun_run_node_done(crun_run *run, size_t node)
{
    const plan *p = run->plan;
    if (run->state[node] == NODE_RUNNING)
        running_remove(run, node);
    run->state[node] = NODE_DONE;
    run->n_done++;
    for (size_t e = p->succ_start[node]; e < p->succ_start[node + 1]; e++) {
        size_t s = p->succs[e];
        if (--run->waiting[s] == 0 && run->state[s] == NODE_PENDING)
            run_push_ready(run, s);
    }
    if (run->progress)
        show_progress(run, crun_run_node_name(run, node));
}

/* Nodes waiting to retry (retry.c) give up: the run is ending. */
static void wake_retry_waits(crun_run *run)
{
    pthread_mutex_lock(&run->lock);
    pthread_cond_broadcast(&run->wake);
    pthread_mutex_unlock(&run->lock);
}

/* keep_going: every node downstream of a failure is skipped. */
static void skip_descendants(crun_run *run, size_t node)
{
    const plan *p = run->plan;
    for (size_t e = p->succ_start[node]; e < p->succ_start[node + 1]; e++) {
        size_t s = p->succs[e];
        if (run->state[s] != NODE_PENDING)
            continue;
        run->state[s] = NODE_SKIPPED;
        run->n_skipped++;
        skip_descendants(run, s);
    }
}

void crun_run_node_failed(crun_run *run, size_t node, const crun_error *err)
{
    if (run->state[node] == NODE_RUNNING)
        running_remove(run, node);
    run->state[node] = NODE_FAILED;
    run->n_failed++;
    if (!run->failed || (run->first_error.code == CRUN_ECANCELED && err->code != CRUN_ECANCELED)) {
        crun_error_set(&run->first_error, err->code ? err->code : CRUN_ENODE, "%s",
                       err->message ? err->message : "failed");
    }
    run->failed = true;
    if (run->keep_going) {
        skip_descendants(run, node);
    } else if (!atomic_exchange(&run->stopping, true)) {
        wake_retry_waits(run);
    }
}

void crun_run_set_keep_going(crun_run *run, bool keep_going)
{
    run->keep_going = keep_going;
}

bool crun_run_finished(const crun_run *run)
{
    size_t accounted = run->n_done + run->n_failed + run->n_skipped;
    size_t running = run->n_started - run->n_done - run->n_failed;
    if (accounted == run->plan->n)
        return true;
    return running == 0 && (stopped(run) || run->ready_head == run->ready_tail);
}

/* --- stopping --- */

void crun_run_cancel(crun_run *run)
{
    atomic_store(&run->cancelled, true);
    pthread_mutex_lock(&run->lock);
    proc_signal_all(run, 0); /* each child's cancel signal: SIGTERM unless it asked */
    for (size_t i = 0; i < run->inner.n_active; i++)
        crun_run_cancel(run->inner.active[i]);
    if (run->on_cancel)
        run->on_cancel(run->on_cancel_user);
    pthread_cond_broadcast(&run->wake); /* retry waits end at once */
    pthread_mutex_unlock(&run->lock);
}

void crun_run_on_cancel(crun_run *run, void (*fn)(void *user), void *user)
{
    pthread_mutex_lock(&run->lock);
    run->on_cancel = fn;
    run->on_cancel_user = user;
    if (fn && crun_run_cancelled(run))
        fn(user);
    pthread_mutex_unlock(&run->lock);
}

void crun_run_set_grace_period(crun_run *run, double seconds)
{
    atomic_store(&run->grace_period, seconds >= 0 ? seconds : 0);
}

double run_grace_period(crun_run *run)
{
    double longest = atomic_load(&run->grace_period);
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < run->inner.n_active; i++) {
        double inner = run_grace_period(run->inner.active[i]);
        if (inner > longest)
            longest = inner;
    }
    pthread_mutex_unlock(&run->lock);
    return longest;
}

crun_session *crun_run_session(crun_run *run)
{
    return run->session;
}

void crun_run_set_delegated(crun_run *run)
{
    run->delegated = true;
}

bool crun_run_cancelled(const crun_run *run)
{
    return atomic_load(&((crun_run *)run)->cancelled);
}
