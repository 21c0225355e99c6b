/* timing.c - the `timing` hook: per-node wall time, CPU time and growth of
 * the peak RSS, a table of the slowest nodes when the run ends, and an
 * optional JSON report (timing_report.c).
 *
 * before_node_run takes a snapshot into the node's record and after_node_run
 * (or on_node_error) turns it into deltas, so a node's time is its own work:
 * loading inputs and saving outputs are outside it.  The snapshot is the
 * monotonic clock, the thread's CPU clock (a function node runs on one thread
 * from before_node_run to after_node_run) and the process's peak RSS; for a
 * command node, the CPU time of the waited-for children (RUSAGE_CHILDREN),
 * which is the command's own only when no other node ran meanwhile (else
 * "n/a").  Records live per run, because the runs of one session may
 * overlap (the service runner); a run's records are made for every planned
 * node when its first event arrives, so node events only look up a hash.
 *
 * The hook says it is thread-safe and guards its tables with its own mutex
 * rather than letting the host serialise it: the clocks are read outside the
 * lock, so a parallel run's nodes are measured without waiting on each other.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "timing.h"

typedef struct timing {
    crun_logger *logger;
    timing_options opts;
    pthread_mutex_t lock;
    run_times *runs;       /* runs in progress */
    size_t active;         /* nodes running now, over all runs */
    uint64_t starts;       /* nodes started so far, over all runs */
} timing;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* What a node's start and end are measured with: the thread's CPU clock
 * (nanoseconds; getrusage's utime/stime only move by scheduler ticks), or the
 * waited-for children's CPU for a command; and the process's peak RSS, read
 * with getrusage(RUSAGE_THREAD): on Linux its ru_maxrss is the process's high
 * water mark, and unlike RUSAGE_SELF it does not sum over every thread. */
typedef struct snapshot {
    double cpu;      /* seconds */
    long maxrss;     /* KiB */
} snapshot;

static snapshot take_snapshot(bool command)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    snapshot s = {0, ru.ru_maxrss};
    if (command) {
        getrusage(RUSAGE_CHILDREN, &ru);
        s.cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    } else {
        s.cpu = clock_s(CLOCK_THREAD_CPUTIME_ID);
    }
    return s;
}

/* --- a run's records -------------------------------------------------------- */

static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    /* FNV's low bits mix poorly and the table uses only those */
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93u;
    return (size_t)(h ^ (h >> 32));
}

static void run_times_free(run_times *rt)
{
    if (!rt)
        return;
    free(rt->names);
    free(rt->nodes);
    free(rt->slots);
    free(rt->run_id);
    free(rt);
}

static run_times *run_times_new(const crun_hook_event *ev)
{
    run_times *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return NULL;
    size_t n = crun_run_node_count(ev->run), bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(crun_run_node_name(ev->run, i)) + 1;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    rt->run = ev->run;
    rt->run_id = strdup(ev->run_id ? ev->run_id : "");
    rt->wall0 = clock_s(CLOCK_MONOTONIC);
    rt->nodes = calloc(n + 1, sizeof(node_times));
    rt->names = malloc(bytes + 1);
    rt->slots = calloc(cap, sizeof(size_t));
    rt->mask = cap - 1;
    if (!rt->run_id || !rt->nodes || !rt->names || !rt->slots) {
        run_times_free(rt);
        return NULL;
    }
    char *w = rt->names;
    for (size_t i = 0; i < n; i++) {
        node_times *nt = &rt->nodes[rt->n];
        nt->name = w;
        w = stpcpy(w, crun_run_node_name(ev->run, i)) + 1;
        nt->command = crun_run_node_is_command(ev->run, i);
        size_t slot = hash_name(nt->name) & rt->mask;
        while (rt->slots[slot])
            slot = (slot + 1) & rt->mask;
        rt->slots[slot] = ++rt->n;
    }
    return rt;
}

static node_times *find_node(run_times *rt, const char *name)
{
    for (size_t s = hash_name(name) & rt->mask; rt->slots[s]; s = (s + 1) & rt->mask) {
        node_times *nt = &rt->nodes[rt->slots[s] - 1];
        if (strcmp(nt->name, name) == 0)
            return nt;
    }
    return NULL;
}

/* The run's records, made on its first event (under t->lock). */
static run_times *get_run(timing *t, const crun_hook_event *ev, bool create)
{
    for (run_times *rt = t->runs; rt; rt = rt->next)
        if (rt->run == ev->run)
            return rt;
    if (!create || !ev->run)
        return NULL;
    run_times *rt = run_times_new(ev);
    if (rt) {
        rt->next = t->runs;
        t->runs = rt;
    }
    return rt;
}

static run_times *take_run(timing *t, const crun_run *run)
{
    for (run_times **p = &t->runs; *p; p = &(*p)->next)
        if ((*p)->run == run) {
            run_times *rt = *p;
            *p = rt->next;
            return rt;
        }
    return NULL;
}

/* --- the callbacks ---------------------------------------------------------------- */

static int on_before_pipeline_run(void *instance, const crun_hook_event *ev, crun_error *err)
{
    timing *t = instance;
    pthread_mutex_lock(&t->lock);
    run_times *rt = get_run(t, ev, true);
    if (rt) /* the run starts now, whatever event made the records */
        rt->wall0 = clock_s(CLOCK_MONOTONIC);
    pthread_mutex_unlock(&t->lock);
    return rt ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static int on_before_node_run(void *instance, const crun_hook_event *ev, crun_error *err)
{
    timing *t = instance;
    pthread_mutex_lock(&t->lock);
    run_times *rt = get_run(t, ev, true);
    node_times *nt = rt && ev->node ? find_node(rt, ev->node) : NULL;
    if (nt) {
        nt->status = NODE_RUNNING;
        nt->thread = pthread_self();
        nt->start_seq = ++t->starts;
        nt->overlapped = t->active > 0;
        t->active++;
    }
    pthread_mutex_unlock(&t->lock);
    if (!rt)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!nt)
        return 0; /* not a node of this run's plan: nothing to time */
    /* the clocks last, so that the lock is not part of the measurement; only
     * this node's own events (one at a time) touch these fields */
    snapshot s0 = take_snapshot(nt->command);
    double wall0 = clock_s(CLOCK_MONOTONIC);
    pthread_mutex_lock(&t->lock);
    nt->cpu0 = s0.cpu;
    nt->maxrss0 = s0.maxrss;
    nt->wall0 = wall0;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* The deltas of a node that was running (under t->lock). */
static void node_ended(timing *t, node_times *nt, double wall1, snapshot s1, bool ok)
{
    nt->status = ok ? NODE_OK : NODE_FAILED;
    nt->measured = true;
    nt->wall = wall1 - nt->wall0;
    nt->rss_delta = s1.maxrss - nt->maxrss0;
    /* children's CPU is process-wide: only a command that ran alone owns the delta */
    nt->overlapped = nt->overlapped || t->starts != nt->start_seq;
    if (!nt->command && pthread_equal(nt->thread, pthread_self()))
        nt->cpu_from = CPU_THREAD;
    else if (nt->command && !nt->overlapped)
        nt->cpu_from = CPU_CHILDREN;
    else
        nt->cpu_from = CPU_NONE;
    nt->cpu = s1.cpu - nt->cpu0;
    t->active--;
}

/* after_node_run and on_node_error. */
static int on_node_end(void *instance, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    timing *t = instance;
    double wall1 = clock_s(CLOCK_MONOTONIC);
    pthread_mutex_lock(&t->lock);
    run_times *rt = get_run(t, ev, false);
    node_times *nt = rt && ev->node ? find_node(rt, ev->node) : NULL;
    bool running = nt && nt->status == NODE_RUNNING;
    if (nt && !running && ev->point == CRUN_HOOK_ON_NODE_ERROR)
        nt->status = NODE_FAILED; /* a save failed after it ran, or an input before */
    pthread_mutex_unlock(&t->lock);
    if (!running)
        return 0;
    snapshot s1 = take_snapshot(nt->command);
    pthread_mutex_lock(&t->lock);
    node_ended(t, nt, wall1, s1, ev->point == CRUN_HOOK_AFTER_NODE_RUN);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* after_pipeline_run and on_pipeline_error: the table, the report. */
static int on_pipeline_end(void *instance, const crun_hook_event *ev, crun_error *err)
{
    timing *t = instance;
    double now = clock_s(CLOCK_MONOTONIC);
    pthread_mutex_lock(&t->lock);
    run_times *rt = take_run(t, ev->run);
    /* nodes that never saw their end (cancelled, or a hook failed around
     * them) stop counting as running */
    for (size_t i = 0; rt && i < rt->n; i++)
        if (rt->nodes[i].status == NODE_RUNNING) {
            rt->nodes[i].status = NODE_FAILED;
            t->active--;
        }
    pthread_mutex_unlock(&t->lock);
    if (!rt)
        return 0; /* the run failed before any timing began */
    bool failed = ev->point == CRUN_HOOK_ON_PIPELINE_ERROR;
    /* the run's logger: a run inside a run (a sweep's trial) prefixes its label */
    crun_logger *logger = ev->run ? crun_run_logger(ev->run) : t->logger;
    int rc = timing_report(&t->opts, logger ? logger : t->logger, rt, now - rt->wall0, failed,
                           err);
    run_times_free(rt);
    return rc;
}

/* --- the plugin -------------------------------------------------------------------- */

typedef struct timing_settings {
    int64_t top;
    bool table;
    const char *report;
} timing_settings;

static const crun_option timing_option_table[] = {
    {.name = "top", .type = CRUN_OPTION_INT, .def = "20", .min = 1, .max = 1000000,
     .doc = "rows in the table (the rest are counted in one line)",
     .offset = offsetof(timing_settings, top)},
    {.name = "table", .type = CRUN_OPTION_BOOL, .def = "true",
     .doc = "false: no table (with report, only the file)",
     .offset = offsetof(timing_settings, table)},
    {.name = "report", .type = CRUN_OPTION_STRING,
     .doc = "also write every node's numbers to this JSON file; {run_id} is replaced",
     .offset = offsetof(timing_settings, report)},
};

static int timing_create(const crun_options *opts, crun_logger *logger, void **instance,
                         crun_error *err)
{
    timing_settings set = {0};
    int rc = crun_options_read(opts, timing_option_table, CRUN_OPTION_COUNT(timing_option_table),
                               &set, err);
    if (rc)
        return rc;
    const char *report = set.report;
    timing_options o = {.table = set.table, .top = set.top};
    if (report && !report[0])
        return crun_error_set(err, CRUN_ECONFIG, "%s: option 'report': expected a file path, "
                              "got an empty string", crun_options_where(opts, "report"));
    timing *t = calloc(1, sizeof(*t));
    if (!t || (report && !(o.report = strdup(report)))) {
        free(t);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    t->logger = logger;
    t->opts = o;
    pthread_mutex_init(&t->lock, NULL);
    *instance = t;
    return 0;
}

static void timing_destroy(void *instance)
{
    timing *t = instance;
    if (!t)
        return;
    while (t->runs) {
        run_times *rt = t->runs;
        t->runs = rt->next;
        run_times_free(rt);
    }
    pthread_mutex_destroy(&t->lock);
    free(t->opts.report);
    free(t);
}

static const crun_hooks_type timing_type = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .create = timing_create,
    .destroy = timing_destroy,
    .on = {
        [CRUN_HOOK_BEFORE_PIPELINE_RUN] = on_before_pipeline_run,
        [CRUN_HOOK_AFTER_PIPELINE_RUN] = on_pipeline_end,
        [CRUN_HOOK_ON_PIPELINE_ERROR] = on_pipeline_end,
        [CRUN_HOOK_BEFORE_NODE_RUN] = on_before_node_run,
        [CRUN_HOOK_AFTER_NODE_RUN] = on_node_end,
        [CRUN_HOOK_ON_NODE_ERROR] = on_node_end,
    },
};

static const crun_plugin timing_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_HOOKS,
    .name = "timing",
    .version = "1.0.0",
    .description = "per-node wall time, CPU time and peak RSS growth; a table of the slowest "
                   "nodes after the run",
    .table = &timing_type,
    .options = timing_option_table,
    .n_options = CRUN_OPTION_COUNT(timing_option_table),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &timing_plugin;
}
