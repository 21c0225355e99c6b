/* slurm.c - the slurm runner: every node of the plan becomes one sbatch job.
 *
 * run() submits the jobs in topological order, each with
 * --dependency=afterok on its producers' jobs, so Slurm alone decides when
 * a node starts; each job runs `crun run --node NAME --run-id ID` in the
 * project folder, which fires the run's hooks there and passes memory
 * datasets to the other jobs through .crun/runs/<ID>/.  Then one squeue call
 * per poll_interval follows every job; finished jobs are reported to the run
 * API in topological order (a node is popped with crun_run_next_ready once
 * its producers are done), so progress, the failed node and the resume
 * command come out as with any runner.  A failed job's dependents are
 * cancelled by Slurm (--kill-on-invalid-dep); the runner waits for the other
 * jobs, then returns CRUN_ENODE.  On a cancel (Ctrl-C, SIGTERM) it scancels
 * every job it submitted and waits until none is left in squeue.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slurm.h"

static const double submit_timeout = 120.0;  /* seconds one sbatch may take */
static const double cancel_wait = 15.0;      /* seconds to see scancelled jobs leave */
static const double lost_contact = 300.0;    /* seconds of failing squeue before giving up */
static const double lost_after = 60.0;       /* seconds no source knows a job: LOST */
enum { MISSING_POLLS = 3, LOG_TAIL_LINES = 10 };

typedef struct slurm_runner {
    slurm_config cfg;
    crun_logger *logger;
} slurm_runner;

/* One call of run(): the run's jobs and what is known about them. */
typedef struct job_table {
    const slurm_config *cfg;
    crun_run *run;
    crun_logger *log;
    size_t n;
    slurm_job *jobs;
    const char **names;
    size_t *order;          /* topological order of the plan's nodes */
    char *project;
    char *runs_rel;         /* .crun/runs/<id> */
    slurm_watch watch;
    size_t n_submitted;
    size_t n_failed;
    bool cancelling;        /* after a cancel, ended jobs are not failures */
    crun_error failure;     /* the first failed node's message */
} job_table;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep up to seconds, waking early when the run is cancelled. */
static void nap(crun_run *run, double seconds)
{
    double end = now_seconds() + seconds;
    for (double left = seconds; left > 0 && !crun_run_cancelled(run);
         left = end - now_seconds()) {
        double step = left < 0.05 ? left : 0.05;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(step * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* --- the plugin --- */

static int slurm_create(const crun_options *opts, crun_logger *logger, void **instance,
                        crun_error *err)
{
    slurm_runner *r = calloc(1, sizeof(*r));
    if (!r)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = slurm_config_parse(opts, &r->cfg, err);
    if (rc) {
        free(r);
        return rc;
    }
    r->logger = logger;
    *instance = r;
    return 0;
}

static void slurm_destroy(void *instance)
{
    slurm_runner *r = instance;
    if (!r)
        return;
    slurm_config_clear(&r->cfg);
    free(r);
}

/* --- preparing: order, folders, paths --- */

static int topological_order(job_table *t, crun_error *err)
{
    crun_run *run = t->run;
    size_t n = t->n, *indeg = calloc(n + 1, sizeof(size_t)), *start = calloc(n + 2, sizeof(size_t));
    size_t n_edges = 0;
    for (size_t i = 0; i < n; i++)
        n_edges += crun_run_node_dep_count(run, i);
    size_t *succ = malloc((n_edges + 1) * sizeof(size_t)), *fill = calloc(n + 1, sizeof(size_t));
    t->order = malloc((n + 1) * sizeof(size_t));
    int rc = indeg && start && succ && fill && t->order ? 0 : CRUN_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        indeg[i] = crun_run_node_dep_count(run, i);
        for (size_t k = 0; k < indeg[i]; k++)
            start[crun_run_node_dep(run, i, k) + 1]++;
    }
    for (size_t i = 0; !rc && i < n; i++)
        start[i + 1] += start[i];
    for (size_t i = 0; !rc && i < n; i++)
        for (size_t k = 0; k < indeg[i]; k++) {
            size_t d = crun_run_node_dep(run, i, k);
            succ[start[d] + fill[d]++] = i;
        }
    size_t head = 0, tail = 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (indeg[i] == 0)
            t->order[tail++] = i;
    while (!rc && head < tail) {
        size_t v = t->order[head++];
        for (size_t e = start[v]; e < start[v + 1]; e++)
            if (--indeg[succ[e]] == 0)
                t->order[tail++] = succ[e];
    }
    if (!rc && tail != n)
        rc = crun_error_set(err, CRUN_EINVAL, "the plan has a cycle");
    else if (rc)
        crun_error_set(err, rc, "out of memory");
    free(indeg);
    free(start);
    free(succ);
    free(fill);
    return rc;
}

static int make_dirs(const char *path, crun_error *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return crun_error_set(err, CRUN_EIO, "cannot create %s: %s", buf, strerror(errno));
        *p = c;
        if (!c)
            return 0;
    }
}

/* The run id names folders and Slurm output files, where % and / would mislead. */
static int check_run_id(const char *id, crun_error *err)
{
    bool ok = id[0] && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
    for (const char *p = id; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr("._:-", *p);
    if (ok)
        return 0;
    return crun_error_set(err, CRUN_EUSAGE, "run id '%s': the slurm runner needs a run id of "
                          "letters, digits and . _ : - (it names the run's folder and job logs)",
                          id);
}

static int crun_program(const slurm_config *cfg, char *out, size_t size, crun_error *err)
{
    if (cfg->crun_path) {
        snprintf(out, size, "%s", cfg->crun_path);
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n <= 0)
        return crun_error_set(err, CRUN_EIO, "cannot find the crun program (/proc/self/exe: %s); "
                              "set the runner option crun_path", strerror(errno));
    out[n] = '\0';
    return 0;
}

/* The plan's memory datasets made by one job and read by another: say where
 * they go, since the user did not ask for a file. */
static void log_crossing(job_table *t)
{
    json_t *all = NULL, *in_plan = json_object();
    crun_error err = CRUN_ERROR_INIT;
    if (!in_plan || crun_session_list(crun_run_session(t->run), "datasets", &all, &err) != 0) {
        json_decref(in_plan);
        crun_error_clear(&err);
        return;
    }
    for (size_t i = 0; i < t->n; i++)
        json_object_set_new(in_plan, t->names[i], json_true());
    size_t k;
    json_t *ds;
    json_array_foreach(all, k, ds) {
        const char *type = json_string_value(json_object_get(ds, "type"));
        if (!type || strcmp(type, "memory") != 0)
            continue;
        json_t *from = json_array_get(json_object_get(ds, "produced_by"), 0);
        if (!from || !json_object_get(in_plan, json_string_value(from)))
            continue;
        size_t c;
        json_t *reader;
        char *readers = NULL;
        json_array_foreach(json_object_get(ds, "used_by"), c, reader) {
            const char *name = json_string_value(reader);
            char *next = NULL;
            if (!name || !json_object_get(in_plan, name) ||
                asprintf(&next, "%s%s'%s'", readers ? readers : "", readers ? ", " : "", name) < 0)
                continue;
            free(readers);
            readers = next;
        }
        const char *name = json_string_value(json_object_get(ds, "name"));
        if (readers)
            crun_log(t->log, CRUN_LOG_INFO, "memory dataset '%s' goes from job '%s' to %s "
                     "through a file: %s/%s.crv", name, json_string_value(from), readers,
                     t->runs_rel, name);
        free(readers);
    }
    json_decref(all);
    json_decref(in_plan);
}

/* name -> tags of every node, when some resources depend on tags. */
static json_t *node_tags(job_table *t, crun_error *err)
{
    json_t *nodes = NULL, *tags = json_object();
    if (!tags || crun_session_list(crun_run_session(t->run), "nodes", &nodes, err) != 0) {
        json_decref(tags);
        return NULL;
    }
    size_t i;
    json_t *node;
    json_array_foreach(nodes, i, node) {
        json_object_set(tags, json_string_value(json_object_get(node, "name")),
                        json_object_get(node, "tags"));
    }
    json_decref(nodes);
    return tags;
}

/* --- submitting --- */

static int parse_job_id(const proc_output *o, char *id, size_t size)
{
    const char *s = o->out + strspn(o->out, " \t\r\n");
    size_t n = strcspn(s, ";\r\n \t");
    if (n == 0 || n >= size || strspn(s, "0123456789") != n)
        return CRUN_EIO;
    snprintf(id, size, "%.*s", (int)n, s);
    return 0;
}

static int submit_one(job_table *t, const slurm_submit_ctx *ctx, json_t *tags, size_t i,
                      crun_error *err)
{
    slurm_job *j = &t->jobs[i];
    size_t n_deps = crun_run_node_dep_count(t->run, i);
    const char **deps = calloc(n_deps + 1, sizeof(char *));
    slurm_resources res;
    if (!deps || resources_for(t->cfg, tags ? json_object_get(tags, t->names[i]) : NULL, &res)) {
        free(deps);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n_deps; k++)
        deps[k] = t->jobs[crun_run_node_dep(t->run, i, k)].id;
    char **argv = sbatch_argv(ctx, t->names[i], &res, j->log_rel, deps, n_deps);
    resources_view_clear(&res);
    free(deps);
    if (!argv)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    proc_output o;
    int rc = proc_capture(t->run, argv, submit_timeout, &o, err);
    argv_free(argv);
    if (rc)
        return crun_error_prefix(err, "node '%s': ", t->names[i]);
    if (o.status != 0 || parse_job_id(&o, j->id, sizeof(j->id)) != 0) {
        char *what = proc_describe("sbatch", &o);
        rc = crun_error_set(err, CRUN_ECONFIG, "node '%s': Slurm refused the job: %s",
                            t->names[i], what ? what : "sbatch failed");
        free(what);
    } else {
        snprintf(j->state, sizeof(j->state), "PENDING");
        t->n_submitted++;
        crun_log(t->log, CRUN_LOG_DEBUG, "job %s (%s): submitted%s%s", j->id, t->names[i],
                 o.err[0] ? "; sbatch said: " : "", o.err);
    }
    proc_output_clear(&o);
    return rc;
}

static int submit_all(job_table *t, crun_error *err)
{
    char crun[PATH_MAX];
    int rc = crun_program(t->cfg, crun, sizeof(crun), err);
    char **forward = NULL;
    if (!rc)
        rc = forward_args(t->run, &forward, err);
    json_t *tags = NULL;
    if (!rc && t->cfg->n_overrides && !(tags = node_tags(t, err)))
        rc = err->code ? err->code : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    crun_session *s = crun_run_session(t->run);
    slurm_submit_ctx ctx = {.cfg = t->cfg, .project = t->project, .env = crun_session_env(s),
                            .crun = crun, .run_id = crun_run_id(t->run), .forward = forward};
    for (size_t k = 0; !rc && k < t->n && !crun_run_cancelled(t->run); k++)
        rc = submit_one(t, &ctx, tags, t->order[k], err);
    json_decref(tags);
    argv_free(forward);
    if (!rc && !crun_run_cancelled(t->run))
        crun_log(t->log, CRUN_LOG_INFO, "submitted %zu Slurm jobs for run %s (job logs in %s/logs/)",
                 t->n_submitted, crun_run_id(t->run), t->runs_rel);
    return rc;
}

/* --- following the jobs --- */

static void describe_end(const slurm_job *j, char *out, size_t size)
{
    int code = j->exit_status >> 8 & 0xff, sig = j->exit_status & 0x7f;
    if (strcmp(j->state, "FAILED") == 0 && sig)
        snprintf(out, size, "FAILED: killed by signal %d", sig);
    else if (strcmp(j->state, "FAILED") == 0)
        snprintf(out, size, "FAILED with exit code %d", code);
    else if (strcmp(j->state, "TIMEOUT") == 0)
        snprintf(out, size, "TIMEOUT: it reached its time limit");
    else if (strcmp(j->state, "OUT_OF_MEMORY") == 0)
        snprintf(out, size, "OUT_OF_MEMORY: it used more memory than it asked for");
    else if (strcmp(j->state, "CANCELLED") == 0)
        snprintf(out, size, "CANCELLED%s", sig ? " while running" : "");
    else
        snprintf(out, size, "%s%s%s%s", j->state, j->reason[0] ? " (" : "", j->reason,
                 j->reason[0] ? ")" : "");
}

static void state_changed(void *user, size_t i, const char *old)
{
    job_table *t = user;
    const slurm_job *j = &t->jobs[i];
    char detail[96] = "";
    int code = j->exit_status >> 8 & 0xff, sig = j->exit_status & 0x7f;
    if (strcmp(j->state, "FAILED") == 0)
        snprintf(detail, sizeof(detail), sig ? " (signal %d)" : " (exit code %d)", sig ? sig : code);
    else if (j->terminal && !j->ok && strcmp(j->state, "CANCELLED") != 0 && j->reason[0])
        snprintf(detail, sizeof(detail), " (%s)", j->reason);
    crun_log(t->log, CRUN_LOG_INFO, "job %s (%s): %s -> %s%s", j->id, t->names[i],
             old[0] ? old : "SUBMITTED", j->state, detail);
}

/* The last lines of a failed job's log, where crun said why. */
static void log_tail(job_table *t, const slurm_job *j)
{
    FILE *f = fopen(j->log_abs, "r");
    if (!f)
        return;
    char *lines[LOG_TAIL_LINES] = {0};
    size_t count = 0;
    char buf[1024];
    while (fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\n")] = '\0';
        free(lines[count % LOG_TAIL_LINES]);
        lines[count++ % LOG_TAIL_LINES] = strdup(buf);
    }
    fclose(f);
    size_t first = count > LOG_TAIL_LINES ? count - LOG_TAIL_LINES : 0;
    for (size_t k = first; k < count; k++)
        if (lines[k % LOG_TAIL_LINES])
            crun_log(t->log, CRUN_LOG_INFO, "  | %s", lines[k % LOG_TAIL_LINES]);
    for (size_t k = 0; k < LOG_TAIL_LINES; k++)
        free(lines[k]);
}

static void pop_ready(job_table *t)
{
    size_t node;
    while (crun_run_next_ready(t->run, &node))
        t->jobs[node].popped = true;
}

static void node_failed(job_table *t, size_t i)
{
    slurm_job *j = &t->jobs[i];
    char end[128];
    describe_end(j, end, sizeof(end));
    crun_error e = CRUN_ERROR_INIT;
    crun_error_set(&e, CRUN_ENODE, "node '%s': Slurm job %s %s (log: %s)", t->names[i], j->id,
                   end, j->log_abs);
    crun_log(t->log, CRUN_LOG_ERROR, "%s", e.message);
    log_tail(t, j);
    crun_run_node_failed(t->run, i, &e);
    if (!t->n_failed++)
        crun_error_move(&t->failure, &e);
    crun_error_clear(&e);
}

static bool upstream_failed(job_table *t, size_t i)
{
    for (size_t k = 0; k < crun_run_node_dep_count(t->run, i); k++) {
        const slurm_job *d = &t->jobs[crun_run_node_dep(t->run, i, k)];
        if (d->terminal && !d->ok)
            return true;
    }
    return false;
}

/* Tell the run API what finished, in topological order.  Returns how many
 * jobs are still going; *to_cancel collects jobs that can never run. */
static size_t settle(job_table *t, slurm_job **to_cancel, size_t *n_cancel)
{
    size_t going = 0;
    *n_cancel = 0;
    for (size_t k = 0; k < t->n; k++) {
        size_t i = t->order[k];
        slurm_job *j = &t->jobs[i];
        if (!j->id[0] || j->reported)
            continue;
        if (!j->terminal && j->missing >= MISSING_POLLS &&
            now_seconds() - j->missing_since >= lost_after) {
            char old[sizeof(j->state)];
            snprintf(old, sizeof(old), "%s", j->state);
            snprintf(j->state, sizeof(j->state), "LOST");
            snprintf(j->reason, sizeof(j->reason), "Slurm has no record of the job any more");
            j->terminal = true;
            state_changed(t, i, old);
        }
        if (!j->terminal) {
            going++;
            if (strcmp(j->state, "PENDING") == 0 && strstr(j->reason, "DependencyNeverSatisfied") &&
                !j->scancel_sent)
                to_cancel[(*n_cancel)++] = j;
        } else if (j->ok && j->popped) {
            crun_run_node_done(t->run, i);
            j->reported = true;
            pop_ready(t);
        } else if (!j->ok && j->popped) {
            if (!t->cancelling)
                node_failed(t, i);
            j->reported = true;
        } else if (t->cancelling || upstream_failed(t, i)) {
            /* never started (the run API skips it with its producer), or the
             * run is being cancelled and nothing more is popped */
            j->reported = true;
        } else {
            going++; /* ended, but a producer is not seen ending yet */
        }
    }
    return going;
}

static void cancel_jobs(job_table *t, slurm_job **jobs, size_t n, const char *why)
{
    if (!n)
        return;
    crun_error err = CRUN_ERROR_INIT;
    for (size_t k = 0; k < n; k++)
        jobs[k]->scancel_sent = true;
    crun_log(t->log, CRUN_LOG_INFO, "scancel %zu job%s %s", n, n == 1 ? "" : "s", why);
    if (slurm_scancel(t->run, jobs, n, &err) != 0)
        crun_log(t->log, CRUN_LOG_WARN, "%s", err.message);
    crun_error_clear(&err);
}

/* Ctrl-C or SIGTERM: scancel everything submitted, wait until Slurm lets go. */
static int cancel_run(job_table *t, crun_error *err)
{
    slurm_job **live = calloc(t->n + 1, sizeof(slurm_job *));
    if (!live)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    size_t n = 0;
    t->cancelling = true;
    for (size_t i = 0; i < t->n; i++)
        if (t->jobs[i].id[0] && !t->jobs[i].terminal)
            live[n++] = &t->jobs[i];
    cancel_jobs(t, live, n, "of the cancelled run");
    double end = now_seconds() + cancel_wait;
    size_t going = n;
    while (going && now_seconds() < end) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 250 * 1000000L};
        nanosleep(&ts, NULL);
        crun_error perr = CRUN_ERROR_INIT;
        if (slurm_poll(&t->watch, t->jobs, t->n, t->names, state_changed, t, &perr) == 0) {
            size_t ignored;
            going = settle(t, live, &ignored);
        }
        crun_error_clear(&perr);
    }
    if (going)
        crun_log(t->log, CRUN_LOG_WARN, "%zu job%s of run %s still in squeue after %.0f s",
                 going, going == 1 ? "" : "s", crun_run_id(t->run), cancel_wait);
    free(live);
    return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled; %zu of its Slurm jobs "
                          "were still queued or running and were cancelled", n);
}

static int watch(job_table *t, crun_error *err)
{
    slurm_job **to_cancel = calloc(t->n + 1, sizeof(slurm_job *));
    if (!to_cancel)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    double failing_since = 0;
    int rc = 0;
    pop_ready(t);
    for (;;) {
        if (crun_run_cancelled(t->run)) {
            rc = cancel_run(t, err);
            break;
        }
        crun_error perr = CRUN_ERROR_INIT;
        if (slurm_poll(&t->watch, t->jobs, t->n, t->names, state_changed, t, &perr) != 0) {
            double now = now_seconds();
            if (!failing_since)
                crun_log(t->log, CRUN_LOG_WARN, "cannot follow the jobs (will retry): %s",
                         perr.message);
            failing_since = failing_since ? failing_since : now;
            if (now - failing_since > lost_contact) {
                rc = crun_error_set(err, CRUN_EIO, "lost contact with Slurm for %.0f s (%s); "
                                    "the jobs of run %s may still be running: see squeue",
                                    lost_contact, perr.message, crun_run_id(t->run));
                crun_error_clear(&perr);
                break;
            }
        } else {
            failing_since = 0;
            size_t n_cancel;
            size_t going = settle(t, to_cancel, &n_cancel);
            cancel_jobs(t, to_cancel, n_cancel, "that can never start (a job they wait for failed)");
            if (!going)
                break;
        }
        crun_error_clear(&perr);
        nap(t->run, t->cfg->poll_interval);
    }
    free(to_cancel);
    return rc;
}

/* --- one run --- */

static int prepare(job_table *t, crun_error *err)
{
    const char *id = crun_run_id(t->run);
    int rc = check_run_id(id, err);
    if (rc)
        return rc;
    t->jobs = calloc(t->n + 1, sizeof(slurm_job));
    t->names = calloc(t->n + 1, sizeof(char *));
    t->project = strdup(crun_session_dir(crun_run_session(t->run)));
    if (!t->jobs || !t->names || !t->project || asprintf(&t->runs_rel, ".crun/runs/%s", id) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++) {
        t->names[i] = crun_run_node_name(t->run, i);
        char *file = log_file_name(t->names[i], i);
        slurm_job *j = &t->jobs[i];
        if (!file || asprintf(&j->log_rel, "%s/logs/%s", t->runs_rel, file) < 0 ||
            asprintf(&j->log_abs, "%s/%s", t->project, j->log_rel) < 0) {
            free(file);
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        }
        free(file);
    }
    char logs[PATH_MAX];
    snprintf(logs, sizeof(logs), "%s/%s/logs", t->project, t->runs_rel);
    if ((rc = make_dirs(logs, err)))
        return rc;
    return topological_order(t, err);
}

static void table_free(job_table *t)
{
    for (size_t i = 0; t->jobs && i < t->n; i++) {
        free(t->jobs[i].log_rel);
        free(t->jobs[i].log_abs);
    }
    free(t->jobs);
    free(t->names);
    free(t->order);
    free(t->project);
    free(t->runs_rel);
    slurm_watch_clear(&t->watch);
    crun_error_clear(&t->failure);
}

static int slurm_run(void *instance, crun_run *run, crun_error *err)
{
    slurm_runner *r = instance;
    job_table t = {.cfg = &r->cfg, .run = run, .log = crun_run_logger(run),
                   .n = crun_run_node_count(run), .watch = {.run = run}};
    /* jobs of other branches go on after a failure: account for them */
    crun_run_set_keep_going(run, true);
    int rc = prepare(&t, err);
    if (!rc) {
        log_crossing(&t);
        rc = submit_all(&t, err);
    }
    if (rc && t.n_submitted) {
        crun_error cerr = CRUN_ERROR_INIT;
        cancel_run(&t, &cerr);
        crun_error_clear(&cerr);
    }
    if (!rc)
        rc = watch(&t, err);
    if (!rc && t.n_failed) {
        size_t skipped = 0;
        for (size_t i = 0; i < t.n; i++)
            skipped += t.jobs[i].reported && !t.jobs[i].popped;
        crun_log(t.log, CRUN_LOG_ERROR, "%zu of %zu jobs failed; %zu never started because a "
                 "job they wait for failed", t.n_failed, t.n, skipped);
        crun_error_move(err, &t.failure);
        rc = CRUN_ENODE;
    }
    table_free(&t);
    return rc;
}

static const crun_runner_type slurm_type = {
    .size = sizeof(crun_runner_type),
    .flags = CRUN_RUNNER_EXECUTES, /* incremental runs submit no job for a node up to date */
    .create = slurm_create,
    .run = slurm_run,
    .destroy = slurm_destroy,
};

static const crun_plugin slurm_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "slurm",
    .version = "1.0.0",
    .description = "runs each node as a Slurm job (sbatch, afterok dependencies)",
    .table = &slurm_type,
    .options = slurm_option_table,
    .n_options = SLURM_OPTION_COUNT,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &slurm_plugin;
}
