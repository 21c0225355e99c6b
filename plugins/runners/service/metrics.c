/* metrics.c - the service's counters and their Prometheus text format.
 *
 * Every counter is a relaxed atomic in fixed arrays (route x status, latency
 * buckets), sharded by thread, so counting costs a few uncontended atomic
 * adds and no lock on the request path; GET /metrics sums the shards and
 * prints the text exposition format (version 0.0.4).  Gauges (runs in
 * flight, queue length) come from the pool at print time.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

static const unsigned statuses[SVC_N_STATUS - 1] = {200, 202, 400, 401, 404, 405,
                                                    413, 422, 500, 503, 504};
static const char *const route_names[SVC_ROUTE_COUNT] = {
    "/healthz", "/v1/pipeline", "/v1/runs", "/v1/runs/{id}", "/metrics", "other"};
static const double buckets[SVC_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};

static size_t status_index(unsigned status)
{
    for (size_t i = 0; i < SVC_N_STATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return SVC_N_STATUS - 1; /* "other" */
}

svc_counters *svc_metrics_here(svc_metrics *m)
{
    /* pthread_t is the address of the thread's control block here; any
     * other representation still hashes to some shard */
    pthread_t self = pthread_self();
    uint64_t h = 0;
    memcpy(&h, &self, sizeof(self) < sizeof(h) ? sizeof(self) : sizeof(h));
    h *= 0x9e3779b97f4a7c15u;
    return &m->shard[(h >> 58) % SVC_METRIC_SHARDS];
}

void svc_metrics_request(svc_metrics *m, enum svc_route route, unsigned status)
{
    atomic_fetch_add_explicit(&svc_metrics_here(m)->requests[route][status_index(status)], 1,
                              memory_order_relaxed);
}

void svc_metrics_run(svc_metrics *ms, double seconds)
{
    svc_counters *m = svc_metrics_here(ms);
    size_t b = 0;
    while (b < SVC_N_BUCKETS && seconds > buckets[b])
        b++;
    if (b < SVC_N_BUCKETS)
        atomic_fetch_add_explicit(&m->latency_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns, (uint_fast64_t)(seconds * 1e9),
                              memory_order_relaxed);
}

/* A counter summed over the shards: the same field at offset in each. */
static unsigned long long sum(svc_metrics *m, const atomic_uint_fast64_t *field)
{
    size_t offset = (size_t)((const char *)field - (const char *)&m->shard[0]);
    unsigned long long n = 0;
    for (size_t i = 0; i < SVC_METRIC_SHARDS; i++)
        n += (unsigned long long)atomic_load_explicit(
            (atomic_uint_fast64_t *)(void *)((char *)&m->shard[i] + offset), memory_order_relaxed);
    return n;
}

#define get(field) sum(m, &m->shard[0].field)

/* A growing text buffer; on out of memory the text is dropped. */
typedef struct text {
    char *s;
    size_t len, cap;
    bool failed;
} text;

static void add(text *t, const char *fmt, ...) CRUN_PRINTF(2, 3);
static void add(text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
        } else if (t->s && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        } else {
            size_t cap = (t->cap + (size_t)n + 1) * 2;
            char *s = realloc(t->s, cap);
            if (!s)
                t->failed = true;
            else {
                t->s = s;
                t->cap = cap;
            }
        }
    }
}

static void requests(text *t, svc_metrics *m)
{
    add(t, "# HELP crun_service_requests_total HTTP requests answered, by route and status.\n"
           "# TYPE crun_service_requests_total counter\n");
    for (size_t r = 0; r < SVC_ROUTE_COUNT; r++)
        for (size_t s = 0; s < SVC_N_STATUS; s++) {
            unsigned long long n = get(requests[r][s]);
            if (!n)
                continue;
            if (s < SVC_N_STATUS - 1)
                add(t, "crun_service_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
                    route_names[r], statuses[s], n);
            else
                add(t, "crun_service_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                    route_names[r], n);
        }
}

static void latency(text *t, svc_metrics *m)
{
    add(t, "# HELP crun_service_run_duration_seconds Time from accepting a run request to "
           "its answer.\n# TYPE crun_service_run_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t b = 0; b < SVC_N_BUCKETS; b++) {
        cum += get(latency_bucket[b]);
        add(t, "crun_service_run_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[b], cum);
    }
    unsigned long long count = get(latency_count);
    add(t, "crun_service_run_duration_seconds_bucket{le=\"+Inf\"} %llu\n", count);
    add(t, "crun_service_run_duration_seconds_sum %.9f\n", (double)get(latency_sum_ns) / 1e9);
    add(t, "crun_service_run_duration_seconds_count %llu\n", count);
}

char *svc_metrics_text(svc_metrics *m, size_t in_flight, size_t queued, size_t workers,
                       size_t queue_cap)
{
    text t = {0};
    requests(&t, m);
    latency(&t, m);
    add(&t, "# HELP crun_service_runs_total Runs finished, by result.\n"
            "# TYPE crun_service_runs_total counter\n"
            "crun_service_runs_total{result=\"succeeded\"} %llu\n"
            "crun_service_runs_total{result=\"failed\"} %llu\n"
            "crun_service_runs_total{result=\"timed_out\"} %llu\n"
            "crun_service_runs_total{result=\"rejected\"} %llu\n",
        get(runs_ok), get(runs_failed), get(runs_timed_out), get(runs_rejected));
    add(&t, "# HELP crun_service_node_failures_total Nodes that failed in request runs.\n"
            "# TYPE crun_service_node_failures_total counter\n"
            "crun_service_node_failures_total %llu\n", get(node_failures));
    add(&t, "# HELP crun_service_runs_in_flight Runs executing now.\n"
            "# TYPE crun_service_runs_in_flight gauge\n"
            "crun_service_runs_in_flight %zu\n"
            "# HELP crun_service_queue_length Runs waiting for a worker.\n"
            "# TYPE crun_service_queue_length gauge\n"
            "crun_service_queue_length %zu\n"
            "# HELP crun_service_workers Runs that may execute at once.\n"
            "# TYPE crun_service_workers gauge\n"
            "crun_service_workers %zu\n"
            "# HELP crun_service_queue_capacity Runs that may wait before requests get 503.\n"
            "# TYPE crun_service_queue_capacity gauge\n"
            "crun_service_queue_capacity %zu\n", in_flight, queued, workers, queue_cap);
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
