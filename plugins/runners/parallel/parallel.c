/* parallel.c - the parallel runner: independent nodes at the same time.
 *
 * max_workers worker threads share the run API's scheduler, one at a time
 * under a lock, and each runs the node it took to the end:
 *   - every node with crun_run_execute: a command node's child is spawned,
 *     followed (its output logged) and reaped on this worker by libcrun's
 *     child-process module, the same as under the sequential runner.
 * The worker that ends a node reports it (node_done / node_failed) and takes
 * the next ready node itself: a chain of cheap nodes costs a lock per node,
 * and a command one wake-up (its child's exit), as under make, not a trip
 * through another thread.  The caller's thread runs a libuv loop that times
 * stops (stop.c): the grace period after a failure, SIGTERM then SIGKILL to
 * running children (crun_run_stop_commands), and cancel (crun_run_cancel
 * wakes it through crun_run_on_cancel).
 * At most max_workers nodes are in flight, at most max_processes of them
 * command nodes.  A ready command node that finds every process slot taken
 * waits in `held` (FIFO) while function nodes behind it go ahead.
 */
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

/* --- options --- */

/* runner.yml's options as written; read_options turns them into parallel_options. */
typedef struct parallel_settings {
    int64_t max_workers;
    int64_t max_processes;
    double grace_period;
    bool keep_going;
    bool is_async;
} parallel_settings;

static const crun_option parallel_option_table[] = {
    {.name = "max_workers", .type = CRUN_OPTION_INT, .min = 1, .max = 1024,
     .doc = "nodes running at once (worker threads); default: the number of CPUs",
     .offset = offsetof(parallel_settings, max_workers)},
    {.name = "max_processes", .type = CRUN_OPTION_INT, .min = 1, .max = 65536,
     .doc = "of those, command nodes (child processes) at once; default: max_workers",
     .offset = offsetof(parallel_settings, max_processes)},
    {.name = "grace_period", .type = CRUN_OPTION_DURATION, .def = "5s", .min = 0, .max = 86400,
     .doc = "after a failure or cancel, how long running children get before SIGKILL",
     .offset = offsetof(parallel_settings, grace_period)},
    {.name = "keep_going", .type = CRUN_OPTION_BOOL, .def = "false",
     .doc = "after a failure, still run every node that does not depend on it",
     .offset = offsetof(parallel_settings, keep_going)},
    {.name = "is_async", .type = CRUN_OPTION_BOOL, .def = "false",
     .doc = "Kedro's flag, accepted: loads and saves already run on the worker threads",
     .offset = offsetof(parallel_settings, is_async)},
};

static int read_options(const crun_options *opts, parallel_options *o, crun_error *err)
{
    unsigned cpus = uv_available_parallelism();
    parallel_settings set = {.max_workers = cpus ? cpus : 1, .max_processes = -1};
    int rc = crun_options_read(opts, parallel_option_table,
                               CRUN_OPTION_COUNT(parallel_option_table), &set, err);
    if (rc)
        return rc;
    o->max_workers = (size_t)set.max_workers;
    /* more process slots than nodes in flight would never be used */
    o->max_processes = set.max_processes < 0 || (size_t)set.max_processes > o->max_workers
                           ? o->max_workers : (size_t)set.max_processes;
    o->grace_period = set.grace_period;
    o->keep_going = set.keep_going;
    o->is_async = set.is_async;
    return 0;
}

static int par_create(const crun_options *opts, crun_logger *logger, void **instance,
                      crun_error *err)
{
    parallel_options o;
    int rc = read_options(opts, &o, err);
    if (rc)
        return rc;
    if (o.is_async)
        crun_log(logger, CRUN_LOG_DEBUG, "parallel runner: is_async: each node's loads and "
                 "saves already run on its worker thread, off the event loop");
    parallel_options *inst = malloc(sizeof(*inst));
    if (!inst)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    *inst = o;
    *instance = inst;
    return 0;
}

static void par_destroy(void *instance)
{
    free(instance);
}

/* --- task lists (under lock) --- */

static void list_push(task_list *l, task *t)
{
    t->next = NULL;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
}

static task *list_pop(task_list *l)
{
    task *t = l->head;
    if (t) {
        l->head = t->next;
        if (!l->head)
            l->tail = NULL;
        t->next = NULL;
    }
    return t;
}

static task *task_take(par_run *pr, size_t node, task_step step)
{
    task *t = pr->free_tasks;
    pr->free_tasks = t->next;
    memset(t, 0, sizeof(*t));
    t->pr = pr;
    t->node = node;
    t->step = step;
    pr->in_flight++;
    if (step == STEP_COMMAND)
        pr->processes++;
    return t;
}

static void task_release(par_run *pr, task *t)
{
    crun_error_clear(&t->err);
    pr->in_flight--;
    t->next = pr->free_tasks;
    pr->free_tasks = t;
}

/* Wake the loop.  Always under lock: the loop closes the handle only after it
 * has seen `quit` under the same lock, so no send can hit a closed handle. */
static void wake_loop(par_run *pr)
{
    uv_async_send(&pr->wake);
}

/* --- the scheduler (under lock) --- */

static bool may_start(par_run *pr)
{
    return !pr->stopping && !crun_run_cancelled(pr->run);
}

/* A new node for a worker if a slot is free.  O(1) per node: each node
 * passes through `held` at most once. */
static task *take_work(par_run *pr)
{
    if (pr->in_flight >= pr->opt->max_workers || !may_start(pr))
        return NULL;
    bool proc_free = pr->processes < pr->opt->max_processes;
    if (proc_free && pr->held_head != pr->held_tail)
        return task_take(pr, pr->held[pr->held_head++ % pr->held_cap], STEP_COMMAND);
    size_t node;
    while (crun_run_next_ready(pr->run, &node)) {
        if (!crun_run_node_is_command(pr->run, node))
            return task_take(pr, node, STEP_EXECUTE);
        if (proc_free)
            return task_take(pr, node, STEP_COMMAND);
        pr->held[pr->held_tail++ % pr->held_cap] = node;
    }
    return NULL;
}

/* A task taken for a woken worker, else the next from the scheduler. */
static task *next_task(par_run *pr)
{
    task *t;
    while ((t = list_pop(&pr->taken))) {
        if (may_start(pr))
            return t;
        /* the run stopped before any worker began it: it never starts */
        if (t->step == STEP_COMMAND)
            pr->processes--;
        task_release(pr, t);
    }
    return take_work(pr);
}

static void cancelled_node(par_run *pr, task *t)
{
    crun_error e = CRUN_ERROR_INIT;
    crun_error_set(&e, CRUN_ECANCELED, "node '%s': cancelled",
                   crun_run_node_name(pr->run, t->node));
    crun_run_node_failed(pr->run, t->node, &e);
    crun_error_clear(&e);
}

/* "node 'x': what" -> "what", for lines that name the node already. */
static const char *without_node_prefix(const char *message, const char *name)
{
    size_t n = strlen(name);
    if (!message)
        return "no message";
    if (strncmp(message, "node '", 6) == 0 && strncmp(message + 6, name, n) == 0 &&
        strncmp(message + 6 + n, "': ", 3) == 0)
        return message + 6 + n + 3;
    return message;
}

/* A node ended with an error.  A child the runner stopped is not a failure of
 * its own; a cancelled run reports its nodes as cancelled, like sequential. */
static void node_error(par_run *pr, task *t, int rc)
{
    crun_run *run = pr->run;
    const char *name = crun_run_node_name(run, t->node);
    bool command = t->step == STEP_COMMAND;
    if (crun_run_cancelled(run) && (rc == CRUN_ECANCELED || command)) {
        cancelled_node(pr, t);
        return;
    }
    if (command && rc == CRUN_ECANCELED && pr->stopping)
        return; /* not started: the run stopped between prepare and spawn */
    if (command && pr->phase >= STOP_TERM) { /* the runner signalled it */
        crun_log(pr->logger, CRUN_LOG_WARN, "node '%s': stopped after the grace period (%s)",
                 name, without_node_prefix(t->err.message, name));
        return;
    }
    crun_run_node_failed(run, t->node, &t->err);
    if (pr->failures++ == 0)
        crun_error_set(&pr->first_failure, t->err.code ? t->err.code : CRUN_ENODE, "%s",
                       t->err.message ? t->err.message : "failed");
    if (pr->opt->keep_going) {
        crun_log(pr->logger, CRUN_LOG_ERROR, "%s (keep_going: running what does not depend on "
                 "it)", t->err.message ? t->err.message : name);
        return;
    }
    if (pr->failures > 1) {
        crun_log(pr->logger, CRUN_LOG_ERROR, "%s", t->err.message ? t->err.message : name);
        return;
    }
    pr->stopping = true;
    crun_run_stop_commands(run, 0); /* a command not yet spawned is not started */
    size_t running = pr->in_flight - 1;
    if (running)
        crun_log(pr->logger, CRUN_LOG_INFO, "node '%s' failed: starting nothing new, waiting "
                 "up to %g s for %zu running node%s", name, pr->opt->grace_period, running,
                 running == 1 ? "" : "s");
    wake_loop(pr); /* the loop times the grace period */
}

/* Report what a worker did with t, and free t's slot. */
static void complete(par_run *pr, task *t, int rc)
{
    if (t->step == STEP_COMMAND)
        pr->processes--;
    if (rc)
        node_error(pr, t, rc);
    else
        crun_run_node_done(pr->run, t->node);
    task_release(pr, t);
}

static int do_task(par_worker *w, task *t)
{
    return crun_run_execute(w->pr->run, t->node, &t->err);
}

static void *worker_main(void *arg)
{
    par_worker *w = arg;
    par_run *pr = w->pr;
    pthread_mutex_lock(&pr->lock);
    while (!pr->quit) {
        task *t = next_task(pr);
        if (!t) {
            if (pr->in_flight == 0) {
                /* nothing runs and nothing can start: the run is over */
                pr->quit = true;
                pthread_cond_broadcast(&pr->work);
                wake_loop(pr);
                break;
            }
            pr->idle++;
            pthread_cond_wait(&pr->work, &pr->lock);
            pr->idle--;
            continue;
        }
        /* wake an idle worker only with something in hand for it: in a chain,
         * the other workers sleep instead of waking for nothing at every node */
        task *more = pr->idle ? take_work(pr) : NULL;
        if (more) {
            list_push(&pr->taken, more);
            pthread_cond_signal(&pr->work);
        }
        pthread_mutex_unlock(&pr->lock);
        int rc = do_task(w, t);
        pthread_mutex_lock(&pr->lock);
        complete(pr, t, rc);
    }
    pthread_mutex_unlock(&pr->lock);
    return NULL;
}

/* --- the run --- */

static void run_free(par_run *pr)
{
    free(pr->held);
    free(pr->tasks);
    free(pr->workers);
    crun_error_clear(&pr->first_failure);
    pthread_cond_destroy(&pr->work);
    pthread_mutex_destroy(&pr->lock);
    free(pr);
}

static par_run *run_new(const parallel_options *opt, crun_run *run)
{
    par_run *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return NULL;
    pr->opt = opt;
    pr->run = run;
    pr->logger = crun_run_logger(run);
    pthread_mutex_init(&pr->lock, NULL);
    pthread_cond_init(&pr->work, NULL);
    pr->held_cap = crun_run_node_count(run) + 1;
    pr->held = malloc(pr->held_cap * sizeof(size_t));
    pr->tasks = calloc(opt->max_workers, sizeof(task));
    pr->workers = calloc(opt->max_workers, sizeof(par_worker));
    if (!pr->held || !pr->tasks || !pr->workers) {
        run_free(pr);
        return NULL;
    }
    for (size_t i = opt->max_workers; i-- > 0;) {
        pr->tasks[i].next = pr->free_tasks;
        pr->free_tasks = &pr->tasks[i];
    }
    return pr;
}

static int start_workers(par_run *pr, crun_error *err)
{
    for (size_t i = 0; i < pr->opt->max_workers; i++) {
        pr->workers[i].pr = pr;
        if (pthread_create(&pr->workers[i].thread, NULL, worker_main, &pr->workers[i]) != 0)
            break;
        pr->n_threads++;
    }
    if (pr->n_threads == 0)
        return crun_error_set(err, CRUN_ENOMEM, "parallel runner: cannot start a worker thread");
    if (pr->n_threads < pr->opt->max_workers)
        crun_log(pr->logger, CRUN_LOG_WARN, "parallel runner: only %zu of %zu worker threads "
                 "could start", pr->n_threads, pr->opt->max_workers);
    return 0;
}

static int result(par_run *pr, crun_error *err)
{
    if (crun_run_cancelled(pr->run))
        return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
    if (!pr->failures)
        return 0;
    crun_error_move(err, &pr->first_failure);
    if (pr->failures > 1)
        crun_error_set(err, err->code, "%s (and %zu more failed node%s)", err->message,
                       pr->failures - 1, pr->failures == 2 ? "" : "s");
    return err->code;
}

static int par_run_plan(void *instance, crun_run *run, crun_error *err)
{
    const parallel_options *opt = instance;
    par_run *pr = run_new(opt, run);
    if (!pr)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    crun_run_set_keep_going(run, opt->keep_going);
    crun_run_set_grace_period(run, opt->grace_period);
    int rc = stop_loop_init(pr, err);
    if (rc) {
        run_free(pr);
        return rc;
    }
    rc = start_workers(pr, err);
    if (!rc) {
        stop_loop_run(pr);
        for (size_t i = 0; i < pr->n_threads; i++)
            pthread_join(pr->workers[i].thread, NULL);
        rc = result(pr, err);
    }
    stop_loop_close(pr);
    run_free(pr);
    return rc;
}

static const crun_runner_type parallel_type = {
    .size = sizeof(crun_runner_type),
    .create = par_create,
    .run = par_run_plan,
    .destroy = par_destroy,
    /* the instance is the options; a run's state is its par_run */
    .flags = CRUN_RUNNER_SHARED | CRUN_RUNNER_EXECUTES,
};

static const crun_plugin parallel_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "parallel",
    .version = "1.0.0",
    .description = "runs independent nodes at the same time: function nodes on worker "
                   "threads, command nodes as child processes (libuv)",
    .table = &parallel_type,
    .options = parallel_option_table,
    .n_options = CRUN_OPTION_COUNT(parallel_option_table),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &parallel_plugin;
}
