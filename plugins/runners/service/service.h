/* service.h (internal) - the pieces of the service runner and what they share.
 *
 * The service keeps one session loaded and answers HTTP requests with runs of
 * it.  A request flows: http.c (libmicrohttpd threads: route, auth, body) ->
 * request.c (JSON body -> run options, checked) -> pool.c (a bounded queue
 * and `workers` threads calling crun_session_run) -> request.c (run result ->
 * JSON) -> http.c (the suspended connection is resumed with the answer).
 * records.c remembers finished runs for GET /v1/runs/{id}; metrics.c counts
 * for GET /metrics.  service.c owns the options and the life cycle: warm-up,
 * start, wait for the cancel, drain, stop.  All state hangs off one `service`
 * made by create(); nothing is global.
 */
#ifndef CRUN_SERVICE_H
#define CRUN_SERVICE_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crun/crun.h"

/* --- what is served: fixed when the service starts, then read-only ------- */

typedef struct svc_served {
    crun_session *session;
    const char *executor;   /* the runner that executes each request's run */
    const char *pipeline;   /* filter.pipeline of every run (NULL: __default__) */
    char *owned_pipeline;   /* the pipeline found for the outer run's nodes */
    char *nodes;            /* filter.nodes limiting runs to the served nodes, or NULL */
    json_t *node_set;       /* served node name -> true */
    json_t *dataset_types;  /* dataset name -> its catalog type ("csv", "memory", ...) */
    json_t *params;         /* the session's parameters (borrowed) */
} svc_served;

/* Build what is served: `pipeline` when given, else exactly the nodes of the
 * outer run.  Returns 0 or a CRUN_E* code with err filled. */
int svc_served_init(svc_served *sv, crun_session *session, crun_run *outer, const char *pipeline,
                    const char *executor, crun_error *err);
void svc_served_clear(svc_served *sv);

/* --- a request as a run (request.c) -------------------------------------- */

typedef struct svc_request {
    json_t *body;           /* the parsed body (owned) */
    json_t *params;         /* borrowed from body, or NULL */
    size_t n_inputs;
    const char **input_names;   /* borrowed from body */
    crun_value **input_values;  /* owned references */
    char *nodes;            /* "a,b" or NULL */
    bool persist;
} svc_request;

/* Parse and check a POST /v1/runs body.  Returns 0, or an HTTP status (400)
 * with *error a message naming what is wrong (malloc'd). */
int svc_request_parse(const svc_served *sv, const char *body, size_t len, svc_request *req,
                      char **error);
void svc_request_clear(svc_request *req);
/* The run options for a request (pointers borrowed from req and sv). */
/* filter: where ro's filter lives (it must outlive ro's use). */
void svc_request_options(const svc_served *sv, const svc_request *req, crun_run_options *ro,
                         crun_filter *filter);
/* The answer to a run that ended with rc: an HTTP status and a new JSON
 * object ({"run_id", "status", "outputs", "timings"} or {"error", ...}). */
int svc_result_json(const svc_served *sv, int rc, const crun_error *err,
                    const crun_run_result *res, json_t **out);
/* The answer as compact JSON text (malloc'd); timings to the nanosecond. */
char *svc_answer_text(json_t *answer);
/* The same for a run that succeeded, written straight from the result
 * (the common case, without building the JSON tree); NULL if out of memory. */
char *svc_success_text(const svc_served *sv, const crun_run_result *res);
/* One value as the JSON of the API (a new reference, never NULL unless out
 * of memory): json inline, text as a string, bytes as {"base64"}, tables as
 * {"columns", "rows"}.  declared is the dataset's catalog type or NULL. */
json_t *svc_value_to_json(const crun_value *value, const char *declared);
/* "{"error": message}" as malloc'd text. */
char *svc_error_body(const char *fmt, ...) CRUN_PRINTF(1, 2);

/* --- metrics (metrics.c): lock-free counters ------------------------------- */

enum svc_route {
    SVC_ROUTE_HEALTHZ, SVC_ROUTE_PIPELINE, SVC_ROUTE_RUNS, SVC_ROUTE_RUN, SVC_ROUTE_METRICS,
    SVC_ROUTE_OTHER, SVC_ROUTE_COUNT
};
enum { SVC_N_STATUS = 12, SVC_N_BUCKETS = 14 };

/* One thread's share of the counters.  Threads count into the shard their
 * id hashes to, so that two request threads rarely write one cache line
 * (each atomic add on a line another core owns costs a transfer); the
 * exposition sums the shards. */
typedef struct svc_counters {
    atomic_uint_fast64_t requests[SVC_ROUTE_COUNT][SVC_N_STATUS];
    atomic_uint_fast64_t latency_bucket[SVC_N_BUCKETS]; /* run latency, cumulative at print */
    atomic_uint_fast64_t latency_count;
    atomic_uint_fast64_t latency_sum_ns;
    atomic_uint_fast64_t runs_ok, runs_failed, runs_timed_out, runs_rejected;
    atomic_uint_fast64_t node_failures;
    char pad[64]; /* no cache line holds counters of two shards (without
                   * asking the allocator of the service for alignment) */
} svc_counters;

enum { SVC_METRIC_SHARDS = 8 };

typedef struct svc_metrics {
    svc_counters shard[SVC_METRIC_SHARDS];
} svc_metrics;

/* The calling thread's shard. */
svc_counters *svc_metrics_here(svc_metrics *m);
void svc_metrics_request(svc_metrics *m, enum svc_route route, unsigned status);
void svc_metrics_run(svc_metrics *m, double seconds);
/* The Prometheus text exposition (malloc'd). */
char *svc_metrics_text(svc_metrics *m, size_t in_flight, size_t queued, size_t workers,
                       size_t queue_cap);

/* A connection's memory for its request's headers (and libmicrohttpd's own
 * bookkeeping): larger headers are refused with 431. */
enum { SVC_HEADER_MEMORY = 16 * 1024 };

/* --- records of recent runs (records.c) ------------------------------------ */

/* Slots are written by different request threads one after the other: each
 * on cache lines of its own, so that writing one never evicts another. */
typedef struct svc_record {
    alignas(64) pthread_mutex_t lock; /* the fields below */
    size_t seq;             /* 1 + the number of the answer held; 0: empty */
    char id[64];
    unsigned http_status;
    char *body;             /* the JSON answer as sent */
    size_t body_cap;        /* bytes body can hold (kept from answer to answer) */
} svc_record;

/* A ring of cap slots, each with its lock: two threads adding answers take
 * different slots and never wait for each other. */
typedef struct svc_records {
    svc_record *ring;
    size_t cap;
    atomic_size_t added;    /* answers added so far: the next one's number */
} svc_records;

int svc_records_init(svc_records *r, size_t cap);
void svc_records_destroy(svc_records *r);
/* Remember a run's answer (body copied); the oldest is forgotten. */
void svc_records_add(svc_records *r, const char *id, unsigned http_status, const char *body);
/* A copy of the answer of run id (malloc'd), or NULL. */
char *svc_records_find(svc_records *r, const char *id, unsigned *http_status);

/* --- jobs and the worker pool (pool.c) ------------------------------------- */

typedef struct svc_job svc_job;
typedef struct service service;

/* Called once per job with its answer, from a worker or the timeout watch:
 * status and body (malloc'd, taken). */
typedef void (*svc_answer_fn)(void *conn, unsigned status, char *body);

struct svc_job {
    svc_job *next;          /* queue link */
    svc_request req;
    void *conn;             /* the waiting connection (http.c), NULL once answered */
    double deadline;        /* monotonic seconds; 0: none */
    double accepted;
    bool answered;          /* the client has its answer (maybe a 504) */
    bool cancel_asked;      /* we cancelled it (timeout, end of grace) */
    bool timed_out;         /* ... because of its deadline */
    struct svc_worker *slot; /* where it runs; slot->lock guards run, cancel_asked, timed_out */
    crun_run *run;          /* while running: from the tracking hook */
    char run_id[64];        /* the core's id for the run, once it started */
    /* A fast-path job: the socket of its connection (else -1), and when its
     * run started.  Its HTTP thread is inside the run, so a timeout or the
     * drain writes the answer to the socket itself (sent_raw, under
     * slot->lock) instead of waiting for the run to return. */
    int fd;
    double started;
    bool sent_raw;
    /* timed out and still executing, it no longer counts against `workers`
     * (pool.lock and slot->lock to set; see set_aside in pool.c) */
    bool set_aside;
};

/* A place where a run executes: a worker thread, or (the fast path) an
 * HTTP thread running a short run itself while it holds an inline slot. */
typedef struct svc_worker {
    alignas(64) pthread_t thread; /* slots on lines of their own (see svc_record) */
    service *svc;
    /* The running job's run and cancel fields; an inline slot's job.  Only
     * the slot's own thread and a timeout or drain ever take it, so it is
     * not contended on a request's path (the pool's lock would be). */
    pthread_mutex_t lock;
    svc_job *job;           /* running now, or NULL (a worker's: also under the pool lock) */
    atomic_bool busy;       /* an inline slot an HTTP thread holds */
    pthread_t holder;       /* that thread, set with job */
    /* a worker slot's thread, under the pool lock: */
    bool thread_live;       /* created and not joined yet */
    bool retiring;          /* its run was set aside: the thread ends with it */
    bool done;              /* the thread has left its loop (joinable at once) */
} svc_worker;

typedef struct svc_pool {
    pthread_mutex_t lock;   /* everything below except the atomics, and the jobs' answers */
    pthread_cond_t wake;    /* workers: a job or the end */
    pthread_cond_t idle;    /* the drain: a job finished */
    svc_job *head, *tail;
    size_t queue_cap, n_workers;
    char apart_lock_[64];   /* every request writes the next line: apart from the rest */
    /* Changed under the lock, except running by the fast path (which never
     * takes the lock when nothing waits and nobody stops the service). */
    atomic_size_t queued, running;
    char apart_counts_[64];
    /* n_workers worker slots, n_inline inline slots, then n_workers spare
     * worker slots for the threads that replace those whose runs were set
     * aside */
    svc_worker *workers;
    size_t n_inline, n_slots;
    size_t n_set_aside;     /* runs set aside and still executing (at most n_workers) */
    atomic_uint_fast64_t slow_share; /* recent runs over 1 ms, a moving fraction (pool.c) */
    char apart_share_[64];
    bool fast_path;         /* the served nodes are all functions and fast_path is on */
    pthread_mutex_t persist_lock; /* persisting runs go one at a time */
    long long last_persist_ms;    /* under persist_lock: when the last one ended */
    bool closing;           /* workers exit when the queue is empty */
    atomic_bool refusing;   /* no new jobs (stopping) */
} svc_pool;

int svc_pool_start(service *svc, size_t workers, size_t queue_cap, size_t n_inline,
                   crun_error *err);
/* The fast path: when a worker slot is free, nothing waits and recent runs
 * took under a millisecond, run the job on this thread now and return true
 * with its answer (the job is freed); else false (submit it instead).  A
 * status of 0 (body NULL) means the answer already went out on the socket
 * (the run outlived its deadline): the caller closes the connection. */
bool svc_pool_run_inline(service *svc, svc_job *job, unsigned *status, char **body);
/* Queue a job; false when at capacity or stopping (the caller answers 503). */
bool svc_pool_submit(svc_pool *p, svc_job *job);
/* Answer jobs past their deadline with 504 and cancel their runs; turn the
 * fast path off while a run on an HTTP thread overstays it, and after a
 * second of such a run, free the thread's other waiting connections
 * (svc->rescue). */
void svc_pool_expire(service *svc, double now);
/* Stop taking jobs; wait up to until (monotonic) for queued and running jobs
 * to finish; then cancel what is left and answer it with 503. */
void svc_pool_drain(service *svc, double until);
/* Wait up to until for the runs cancelled by the drain to return; the
 * number still running (stuck in a function node that does not return). */
size_t svc_pool_settle(svc_pool *p, double until);
/* Inline slots held by an HTTP thread now. */
size_t svc_pool_inline_busy(svc_pool *p);
/* Log the runs still running, as abandoned (their ids). */
void svc_pool_log_stuck(service *svc);
void svc_pool_stop(svc_pool *p);
void svc_pool_counts(svc_pool *p, size_t *running, size_t *queued);


/* --- the HTTP side (http.c) ------------------------------------------------ */

typedef struct svc_http svc_http;
int svc_http_start(service *svc, crun_error *err);
/* Stop accepting new connections; requests on open ones get 503. */
void svc_http_quiesce(service *svc);
/* Wait (up to until) for answered requests to be sent, then close everything. */
void svc_http_stop(service *svc, double until);
unsigned svc_http_port(const service *svc);
/* Hand a job's answer to its connection (any thread). */
/* svc->answer: the job's answer to its waiting connection. */
/* Write a complete answer (with Connection: close) straight to the socket
 * of a connection whose HTTP thread is busy inside a run; false if it did
 * not all go out at once.  The caller guarantees that thread is still in
 * the run (slot->lock). */
/* svc->answer_socket: an answer written straight to a connection's socket. */
/* Wait up to until for answers handed to connections to be sent, leaving
 * out `stuck` requests whose HTTP thread will not come back in time. */
void svc_http_flush(service *svc, double until, size_t stuck);
/* Close connections that took longer than request_timeout to send a
 * request's headers and body (the watch calls it). */
void svc_http_expire(service *svc, double now);
/* HTTP thread `thread` is inside a long run: answer 503 (retry) on its
 * other connections that have a request waiting, and close them, rather
 * than leave them waiting for the run.  The caller holds the slot lock that
 * keeps the thread in the run. */
/* svc->rescue (http.c): answer the other connections of a thread stuck in a run. */

/* --- the service ----------------------------------------------------------- */

typedef struct svc_config {
    const char *host;
    int64_t port;
    int64_t workers;
    int64_t queue;
    int64_t max_body;
    double timeout;         /* seconds per run; 0: none */
    const char *token;      /* NULL: no auth */
    int64_t keep_runs;
    const char *pipeline;
    bool warmup;
    const char *executor;
    int64_t threads;        /* libmicrohttpd's thread pool */
    int64_t client_timeout; /* seconds a connection may stay idle */
    int64_t max_connections;
    int64_t max_connections_per_client; /* per client address; 0: no limit */
    double request_timeout; /* seconds to send a request's headers and body */
    bool fast_path;         /* short function-only runs may run on the HTTP thread */
    double grace_period;    /* seconds in-flight runs get at shutdown */
} svc_config;

struct service {
    svc_config cfg;
    char *host, *token, *pipeline, *executor; /* owned; cfg's strings point here */
    crun_logger *logger;
    svc_served served;
    char *pipeline_body;    /* GET /v1/pipeline, made once */
    svc_metrics metrics;
    svc_records records;
    svc_pool pool;
    svc_http *http;
    /* How the pool hands answers back to HTTP (set by svc_http_start, so
     * that pool.c calls http.c only through these, never by name). */
    svc_answer_fn answer;
    bool (*answer_socket)(service *svc, int fd, unsigned status, const char *body);
    void (*rescue)(service *svc, pthread_t thread, int skip_fd);
    crun_run *outer;        /* the run that started the service */
    atomic_bool stopping;   /* shutdown began: refuse new work */
    double grace_until;     /* monotonic, under pool.lock: in-flight runs may restart until then */
};

double svc_now(void);

#endif
