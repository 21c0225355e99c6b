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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service.h"

static const char *const known_options[] = {
    "host",     "port",     "workers",  "queue",   "max_body",       "timeout",
    "token",    "keep_runs", "pipeline", "warmup", "executor",       "threads",
    "client_timeout", "max_connections", "grace_period", "fast_path", NULL};

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* A string option copied (NULL when absent or empty). */
static int string_option(const crun_options *opts, const char *key, const char *def, char **out,
                         crun_error *err)
{
    const char *v = def;
    int rc = crun_options_string(opts, key, &v, err);
    if (rc)
        return rc;
    *out = v && v[0] ? strdup(v) : NULL;
    return v && v[0] && !*out ? crun_error_set(err, CRUN_ENOMEM, "out of memory") : 0;
}

static int read_options(service *svc, const crun_options *opts, crun_error *err)
{
    svc_config *c = &svc->cfg;
    int ncpu = cpu_count();
    *c = (svc_config){.port = 8080, .workers = ncpu, .queue = 256, .max_body = 1 << 20,
                      .timeout = 60, .keep_runs = 1000, .threads = ncpu,
                      .client_timeout = 30, .max_connections = 1024, .grace_period = 30,
                      .fast_path = true};
    int rc = crun_options_check_known(opts, known_options, err);
    if (!rc)
        rc = crun_options_int(opts, "port", 0, 65535, &c->port, err);
    if (!rc)
        rc = crun_options_int(opts, "workers", 1, 4096, &c->workers, err);
    if (!rc)
        rc = crun_options_int(opts, "queue", 0, 1 << 20, &c->queue, err);
    if (!rc)
        rc = crun_options_int(opts, "max_body", 1, (int64_t)1 << 32, &c->max_body, err);
    if (!rc)
        rc = crun_options_double(opts, "timeout", &c->timeout, err);
    if (!rc)
        rc = crun_options_int(opts, "keep_runs", 0, 1 << 24, &c->keep_runs, err);
    if (!rc)
        rc = crun_options_bool(opts, "warmup", &c->warmup, err);
    if (!rc)
        rc = crun_options_int(opts, "threads", 1, 1024, &c->threads, err);
    if (!rc)
        rc = crun_options_int(opts, "client_timeout", 1, 86400, &c->client_timeout, err);
    if (!rc)
        rc = crun_options_int(opts, "max_connections", 1, 1 << 20, &c->max_connections, err);
    if (!rc)
        rc = crun_options_double(opts, "grace_period", &c->grace_period, err);
    if (!rc)
        rc = crun_options_bool(opts, "fast_path", &c->fast_path, err);
    if (!rc && (c->timeout < 0 || c->grace_period < 0)) {
        const char *key = c->timeout < 0 ? "timeout" : "grace_period";
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: %s: option '%s': expected seconds >= 0 "
                            "(0: no limit)", crun_options_where(opts, key),
                            crun_options_owner(opts), key);
    }
    if (!rc)
        rc = string_option(opts, "host", "127.0.0.1", &svc->host, err);
    if (!rc)
        rc = string_option(opts, "token", NULL, &svc->token, err);
    if (!rc)
        rc = string_option(opts, "pipeline", NULL, &svc->pipeline, err);
    if (!rc)
        rc = string_option(opts, "executor", "sequential", &svc->executor, err);
    if (!rc && !svc->host)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: %s: option 'host' must not be empty",
                            crun_options_where(opts, "host"), crun_options_owner(opts));
    if (!rc && svc->executor && strcmp(svc->executor, "service") == 0)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: %s: option 'executor' names the runner "
                            "that executes each request's run (sequential, parallel...), not "
                            "the service", crun_options_where(opts, "executor"),
                            crun_options_owner(opts));
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
    }
    svc_http_stop(svc, svc_now() + 2);
    if (pool_started)
        svc_pool_stop(&svc->pool);
}

static int svc_run(void *instance, crun_run *run, crun_error *err)
{
    service *svc = instance;
    svc->outer = run;
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
            svc_pool_expire(svc, svc_now());
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
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &service_plugin;
}
