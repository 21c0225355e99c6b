/* service.c - the service runner: serve the project over HTTP, one run per request.
 *
 * The host calls run() once for the plan of `crun --runner service`.  Instead
 * of executing the plan, run() works out what to serve (served.c), does the
 * warm-up run when asked (Kedro's "run, then serve"), starts the workers
 * (pool.c) and the HTTP daemon (http.c), and then waits until the run is
 * cancelled: the crun program turns SIGINT/SIGTERM into a cancel.  Then it
 * stops accepting connections, lets in-flight and queued runs finish within
 * grace_period, answers what is left with 503, closes everything and marks
 * the plan as handled by other runs (crun_run_set_delegated).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service.h"

#define SVC_OPTION(field) .offset = offsetof(svc_config, field)

static const crun_option service_option_table[] = {
    {.name = "host", .type = CRUN_OPTION_STRING, .def = "127.0.0.1", .flags = CRUN_OPTION_NONEMPTY,
     .doc = "where to listen (an IPv6 address works too)", SVC_OPTION(host)},
    {.name = "port", .type = CRUN_OPTION_INT, .def = "8080", .min = 0, .max = 65535,
     .doc = "TCP port (0: any free port; the log line says which)", SVC_OPTION(port)},
    {.name = "workers", .type = CRUN_OPTION_INT, .min = 1, .max = 4096,
     .doc = "runs executing at once; default: the number of CPUs", SVC_OPTION(workers)},
    {.name = "queue", .type = CRUN_OPTION_INT, .def = "256", .min = 0, .max = 1 << 20,
     .doc = "runs waiting for a worker; one more gets 503", SVC_OPTION(queue)},
    {.name = "max_body", .type = CRUN_OPTION_SIZE, .def = "1M", .min = 1,
     .max = (double)((int64_t)1 << 32), .doc = "request body limit; beyond: 413",
     SVC_OPTION(max_body)},
    {.name = "timeout", .type = CRUN_OPTION_DURATION, .def = "60", .min = 0, .max = INFINITY,
     .doc = "per run, from acceptance to answer; then 504 (0: no limit)", SVC_OPTION(timeout)},
    {.name = "token", .type = CRUN_OPTION_STRING,
     .doc = "when set, requests need Authorization: Bearer <token>", SVC_OPTION(token)},
    {.name = "keep_runs", .type = CRUN_OPTION_INT, .def = "1000", .min = 0, .max = 1 << 24,
     .doc = "finished runs GET /v1/runs/{id} remembers", SVC_OPTION(keep_runs)},
    {.name = "pipeline", .type = CRUN_OPTION_STRING,
     .doc = "what to serve; default: the nodes the command line selects", SVC_OPTION(pipeline)},
    {.name = "warmup", .type = CRUN_OPTION_BOOL, .def = "false",
     .doc = "run the pipeline once, normally, before serving", SVC_OPTION(warmup)},
    {.name = "executor", .type = CRUN_OPTION_STRING, .def = "sequential",
     .doc = "the runner of runner.yml that executes each run", SVC_OPTION(executor)},
    {.name = "threads", .type = CRUN_OPTION_INT, .min = 1, .max = 1024,
     .doc = "libmicrohttpd's epoll threads; default: the number of CPUs", SVC_OPTION(threads)},
    {.name = "client_timeout", .type = CRUN_OPTION_INT, .def = "30", .min = 1, .max = 86400,
     .doc = "seconds a connection may stay idle before it is closed", SVC_OPTION(client_timeout)},
    {.name = "max_connections", .type = CRUN_OPTION_INT, .def = "1024", .min = 1, .max = 1 << 20,
     .doc = "open connections at most", SVC_OPTION(max_connections)},
    {.name = "max_connections_per_client", .type = CRUN_OPTION_INT, .def = "0", .min = 0,
     .max = 1 << 20, .doc = "open connections per client address (0: no limit)",
     SVC_OPTION(max_connections_per_client)},
    {.name = "request_timeout", .type = CRUN_OPTION_DURATION, .def = "30", .min = 0,
     .max = INFINITY, .doc = "time a client has to send a request's headers and body (0: no "
     "limit)", SVC_OPTION(request_timeout)},
    {.name = "grace_period", .type = CRUN_OPTION_DURATION, .def = "30", .min = 0, .max = INFINITY,
     .doc = "time in-flight runs get when the service stops", SVC_OPTION(grace_period)},
    {.name = "fast_path", .type = CRUN_OPTION_BOOL, .def = "true",
     .doc = "short function-only runs may run on the HTTP thread", SVC_OPTION(fast_path)},
};

/* How long a cancelled run gets to return after the grace period, and
 * answers to go out, before the service gives up on it. */
static const double STUCK_MARGIN_S = 1.0;

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* A copy of an option's string; NULL for NULL or "" (not set). */
static int copy_option(const char *v, char **out, crun_error *err)
{
    *out = v && v[0] ? strdup(v) : NULL;
    return v && v[0] && !*out ? crun_error_set(err, CRUN_ENOMEM, "out of memory") : 0;
}

static int read_options(service *svc, const crun_options *opts, crun_error *err)
{
    svc_config *c = &svc->cfg;
    int ncpu = cpu_count();
    *c = (svc_config){.workers = ncpu, .threads = ncpu};
    int rc = crun_options_read(opts, service_option_table,
                               CRUN_OPTION_COUNT(service_option_table), c, err);
    if (!rc && strcmp(c->executor, "service") == 0)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: %s: option 'executor' names the runner "
                            "that executes each request's run (sequential, parallel...), not "
                            "the service", crun_options_where(opts, "executor"),
                            crun_options_owner(opts));
    /* the strings are the options' own: keep copies, and point cfg at them */
    if (!rc)
        rc = copy_option(c->host, &svc->host, err);
    if (!rc)
        rc = copy_option(c->token, &svc->token, err);
    if (!rc)
        rc = copy_option(c->pipeline, &svc->pipeline, err);
    if (!rc)
        rc = copy_option(c->executor, &svc->executor, err);
    c->host = svc->host;
    c->token = svc->token;
    c->pipeline = svc->pipeline;
    c->executor = svc->executor ? svc->executor : "sequential";
    return rc;
}

static void service_free(service *svc)
{
    svc_records_destroy(&svc->records);
    pthread_mutex_destroy(&svc->pool.lock);
    pthread_cond_destroy(&svc->pool.wake);
    pthread_cond_destroy(&svc->pool.idle);
    pthread_mutex_destroy(&svc->pool.persist_lock);
    free(svc->host);
    free(svc->token);
    free(svc->pipeline);
    free(svc->executor);
    free(svc);
}

static int svc_create(const crun_options *opts, crun_logger *logger, void **instance,
                      crun_error *err)
{
    service *svc = calloc(1, sizeof(*svc));
    if (!svc)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    svc->logger = logger;
    pthread_mutex_init(&svc->pool.lock, NULL);
    pthread_cond_init(&svc->pool.wake, NULL);
    pthread_cond_init(&svc->pool.idle, NULL);
    pthread_mutex_init(&svc->pool.persist_lock, NULL);
    atomic_init(&svc->stopping, false);
    int rc = read_options(svc, opts, err);
    if (!rc && svc_records_init(&svc->records, (size_t)svc->cfg.keep_runs) != 0)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (rc) {
        service_free(svc);
        return rc;
    }
    *instance = svc;
    return 0;
}

static void svc_destroy(void *instance)
{
    if (instance)
        service_free(instance);
}

/* GET /v1/pipeline: the IR of what is served, made once. */
static int pipeline_body(service *svc, crun_error *err)
{
    crun_filter f = CRUN_FILTER_INIT;
    f.pipeline = svc->served.pipeline;
    f.nodes = svc->served.nodes;
    json_t *ir = NULL;
    int rc = crun_session_compile(svc->served.session, &f, &ir, err);
    if (rc)
        return rc;
    /* runs may take the fast path only when no node is a command (a process) */
    size_t i;
    json_t *node;
    bool functions_only = true;
    json_array_foreach(json_object_get(ir, "nodes"), i, node)
        functions_only = functions_only && !json_object_get(node, "cmd");
    svc->pool.fast_path = svc->cfg.fast_path && functions_only;
    /* runner.yml may hold this service's token: not for clients */
    json_object_del(ir, "runner");
    svc->pipeline_body = json_dumps(ir, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ir);
    return svc->pipeline_body ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

/* Kedro's "run, then serve": one ordinary run that writes its outputs. */
static int warmup(service *svc, crun_error *err)
{
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    ro.runner = svc->cfg.executor;
    crun_filter f = CRUN_FILTER_INIT;
    f.pipeline = svc->served.pipeline;
    f.nodes = svc->served.nodes;
    ro.filter = &f;
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    double t0 = svc_now();
    int rc = crun_session_run(svc->served.session, &ro, &res, err);
    if (rc == 0)
        crun_log(svc->logger, CRUN_LOG_INFO, "service: warm-up run %s: %zu nodes in %.3f s",
                 res.run_id, res.nodes_done, svc_now() - t0);
    else if (rc != CRUN_ECANCELED)
        crun_error_prefix(err, "service: the warm-up run failed%s%s: ",
                          res.failed_nodes && res.failed_nodes[0] ? " at node " : "",
                          res.failed_nodes && res.failed_nodes[0] ? res.failed_nodes[0] : "");
    crun_run_result_clear(&res);
    return rc;
}

static void announce(service *svc)
{
    bool v6 = strchr(svc->cfg.host, ':') != NULL;
    crun_log(svc->logger, CRUN_LOG_INFO,
             "service: listening on http://%s%s%s:%u (pipeline %s%s, %lld workers, queue %lld)",
             v6 ? "[" : "", svc->cfg.host, v6 ? "]" : "", svc_http_port(svc),
             svc->served.pipeline ? svc->served.pipeline : "__default__",
             svc->served.nodes ? " (filtered)" : "", (long long)svc->cfg.workers,
             (long long)svc->cfg.queue);
}

/* After the grace period every run is cancelled; one that still has not
 * returned a moment later is stuck in a function node (a command stops on
 * the cancel).  Its thread cannot be stopped, and the session cannot be
 * freed under it: with every answer sent, the process exits here. */
static void abandon_stuck(service *svc)
{
    size_t stuck = svc_pool_settle(&svc->pool, svc_now() + STUCK_MARGIN_S);
    if (!stuck)
        return;
    /* answers on their way out go first; runs on HTTP threads hold theirs */
    svc_http_flush(svc, svc_now() + STUCK_MARGIN_S, svc_pool_inline_busy(&svc->pool));
    svc_pool_log_stuck(svc);
    crun_log(svc->logger, CRUN_LOG_INFO, "service: stopped, abandoning %zu runs that did not "
             "return after their cancel", stuck);
    fflush(NULL);
    _exit(0);
}

/* Stop accepting, let in-flight runs finish within the grace period, close. */
static void shut_down(service *svc, bool pool_started)
{
    atomic_store(&svc->stopping, true);
    double grace = svc->cfg.grace_period;
    pthread_mutex_lock(&svc->pool.lock);
    svc->grace_until = svc_now() + grace;
    pthread_mutex_unlock(&svc->pool.lock);
    svc_http_quiesce(svc);
    size_t running = 0, queued = 0;
    if (pool_started) {
        svc_pool_counts(&svc->pool, &running, &queued);
        if (running + queued)
            crun_log(svc->logger, CRUN_LOG_INFO, "service: stopping: waiting up to %g s for %zu "
                     "running and %zu queued runs", grace, running, queued);
        svc_pool_drain(svc, svc->grace_until);
        abandon_stuck(svc);
    }
    svc_http_stop(svc, svc_now() + 2);
    if (pool_started)
        svc_pool_stop(&svc->pool);
}

static int svc_run(void *instance, crun_run *run, crun_error *err)
{
    service *svc = instance;
    svc->outer = run;
    /* its stop: the grace period, a margin for runs to return after their
     * cancel, one to flush answers, and the HTTP threads' own stop */
    crun_run_set_grace_period(run, svc->cfg.grace_period + 2 * STUCK_MARGIN_S + 2);
    int rc = svc_served_init(&svc->served, crun_run_session(run), run, svc->cfg.pipeline,
                             svc->cfg.executor, err);
    if (!rc)
        rc = pipeline_body(svc, err);
    if (!rc && svc->cfg.warmup)
        rc = warmup(svc, err);
    bool pool_started = false;
    if (!rc && !(rc = svc_pool_start(svc, (size_t)svc->cfg.workers, (size_t)svc->cfg.queue,
                                     (size_t)svc->cfg.threads, err)))
        pool_started = true;
    if (!rc)
        rc = svc_http_start(svc, err);
    if (!rc) {
        announce(svc);
        while (!crun_run_cancelled(run)) {
            usleep(50 * 1000);
            double now = svc_now();
            svc_pool_expire(svc, now);
            svc_http_expire(svc, now);
        }
        crun_log(svc->logger, CRUN_LOG_INFO, "service: stopping");
    }
    shut_down(svc, pool_started);
    free(svc->pipeline_body);
    svc->pipeline_body = NULL;
    svc_served_clear(&svc->served);
    if (rc)
        return rc;
    crun_run_set_delegated(run);
    crun_log(svc->logger, CRUN_LOG_INFO, "service: stopped");
    return 0;
}

static const crun_runner_type service_type = {
    .size = sizeof(crun_runner_type),
    .create = svc_create,
    .run = svc_run,
    .destroy = svc_destroy,
};

static const crun_plugin service_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "service",
    .version = "1.0.0",
    .description = "serves the pipeline over HTTP: one isolated run per request",
    .table = &service_type,
    .options = service_option_table,
    .n_options = CRUN_OPTION_COUNT(service_option_table),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &service_plugin;
}
