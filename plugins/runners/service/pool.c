/* pool.c - the bounded queue and the worker threads that run requests.
 *
 * `workers` threads each take a job, call crun_session_run, turn the result
 * into the answer and hand it to the waiting connection.  Jobs beyond the
 * workers wait in a FIFO of at most `queue`; past that, submit refuses and
 * the client gets 503.  One mutex guards the queue, the workers' current
 * jobs and every job's answer state, so that exactly one party answers: the
 * worker when the run ends, or the timeout watch (504) or the drain (503)
 * before that.
 *
 * The fast path (a short run on the HTTP thread itself) takes no pool lock
 * when nothing waits in the queue and the service is not stopping: it
 * reserves one of `running` with an atomic, an inline slot with another, and
 * guards its job with the slot's own lock, which only a timeout or the drain
 * would also take.  Two HTTP threads would otherwise meet on the pool's lock
 * four times a request, and each meeting is a futex sleep and a wake-up.
 *
 * Cancelling one run: crun_session_run hands each job its crun_run through
 * on_run while the run exists, so a timeout or the drain can crun_run_cancel
 * exactly that run.  Request runs are their own to cancel (own_cancel): the
 * shutdown signal's session-wide cancel leaves them to finish within the
 * grace period.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service.h"

static const char timeout_fmt[] = "the run took longer than the service's timeout (%g s) and "
                                   "was cancelled";

double svc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* src into dst[size] as far as it fits, always terminated: snprintf's "%s"
 * without its format machinery (this runs twice per request). */
static void copy_id(char *dst, size_t size, const char *src)
{
    size_t len = strnlen(src, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void job_free(svc_job *job)
{
    if (!job)
        return;
    svc_request_clear(&job->req);
    free(job);
}

/* Under the pool lock: claim the right to answer; the caller answers after
 * unlocking with the connection returned (NULL: someone answered first). */
static void *claim_answer(svc_job *job)
{
    if (job->answered)
        return NULL;
    job->answered = true;
    void *conn = job->conn;
    job->conn = NULL;
    return conn;
}

static void count_answer(service *svc, svc_job *job, unsigned status)
{
    svc_metrics_run(&svc->metrics, svc_now() - job->accepted);
    svc_counters *m = svc_metrics_here(&svc->metrics);
    atomic_uint_fast64_t *c = &m->runs_rejected; /* 400, 503 */
    if (status == 200)
        c = &m->runs_ok;
    else if (status == 504)
        c = &m->runs_timed_out;
    else if (status == 422 || (status >= 500 && status != 503))
        c = &m->runs_failed;
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* --- knowing a job's run --- */

typedef struct job_ref {
    service *svc;
    svc_job *job;
} job_ref;

/* on_run: the job's run exists (run) or is about to end (NULL). */
static void job_on_run(void *user, crun_run *run)
{
    job_ref *ref = user;
    svc_worker *slot = ref->job->slot;
    pthread_mutex_lock(&slot->lock);
    ref->job->run = run;
    if (run) {
        copy_id(ref->job->run_id, sizeof(ref->job->run_id), crun_run_id(run));
        if (ref->job->cancel_asked)
            crun_run_cancel(run);
    }
    pthread_mutex_unlock(&slot->lock);
}

/* One of the n_workers runs that may go at once, or false. */
static bool reserve_run(svc_pool *p)
{
    size_t r = atomic_load(&p->running);
    while (r < p->n_workers)
        if (atomic_compare_exchange_weak(&p->running, &r, r + 1))
            return true;
    return false;
}

/* A run ended: a worker may take a queued job now, the drain may be done.
 * The lock only when someone may be waiting for it. */
static void run_ended(svc_pool *p)
{
    atomic_fetch_sub(&p->running, 1);
    if (atomic_load(&p->queued) == 0 && !atomic_load(&p->refusing))
        return;
    pthread_mutex_lock(&p->lock);
    if (p->head)
        pthread_cond_signal(&p->wake);
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
}

/* --- running a job --- */

/* The fast path follows how many recent runs took over FAST_PATH_NS: a
 * moving fraction (SLOW_ONE = all) that rises fast on slow runs (three in a
 * row turn the fast path off) and decays slowly, so that a run now and then
 * slowed by the scheduler does not matter but a slow pipeline goes to the
 * workers at once. */
enum { FAST_PATH_NS = 1000000, SLOW_ONE = 1 << 16 };

static void note_run_time(svc_pool *p, double seconds)
{
    uint_fast64_t f = atomic_load_explicit(&p->slow_share, memory_order_relaxed);
    uint_fast64_t next = seconds * 1e9 > FAST_PATH_NS ? f + (SLOW_ONE - f) / 4 : f - f / 32;
    /* lost updates between threads do not matter; a store that changes
     * nothing would still take the line from the other request thread */
    if (next != f)
        atomic_store_explicit(&p->slow_share, next, memory_order_relaxed);
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Persisting runs write the catalog's files: one at a time, so that two never
 * interleave their outputs, and in different milliseconds, so that each gets
 * its own version (versions are Kedro's millisecond timestamps). */
static void persist_begin(svc_pool *p)
{
    pthread_mutex_lock(&p->persist_lock);
    while (wall_ms() <= p->last_persist_ms)
        usleep(200);
}

static void persist_end(svc_pool *p)
{
    p->last_persist_ms = wall_ms();
    pthread_mutex_unlock(&p->persist_lock);
}

/* Run a job and make its answer (status, malloc'd body). */
static unsigned run_job(service *svc, svc_job *job, char **body_out, char *run_id, size_t id_size)
{
    crun_run_options ro;
    crun_filter filter;
    svc_request_options(&svc->served, &job->req, &ro, &filter);
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    job_ref ref = {svc, job};
    ro.on_run = job_on_run;
    ro.on_run_user = &ref;
    ro.own_cancel = true;
    double t0 = svc_now();
    if (job->req.persist)
        persist_begin(&svc->pool);
    int rc = crun_session_run(svc->served.session, &ro, &res, &err);
    if (job->req.persist)
        persist_end(&svc->pool);
    note_run_time(&svc->pool, svc_now() - t0);
    for (size_t i = 0; res.failed_nodes && res.failed_nodes[i]; i++)
        atomic_fetch_add_explicit(&svc_metrics_here(&svc->metrics)->node_failures, 1,
                                  memory_order_relaxed);
    char *body = rc == 0 ? svc_success_text(&svc->served, &res) : NULL;
    unsigned status = 200;
    if (!body) {
        json_t *answer = NULL;
        status = (unsigned)svc_result_json(&svc->served, rc, &err, &res, &answer);
        if (rc == CRUN_ECANCELED)
            json_object_set_new(answer, "error", json_string("the service is stopping: the run "
                                                             "was cancelled"));
        body = answer ? svc_answer_text(answer) : NULL;
        json_decref(answer);
    }
    if (!body) {
        status = 500;
        body = svc_error_body("out of memory");
    }
    copy_id(run_id, id_size, res.run_id ? res.run_id : "");
    crun_run_result_clear(&res);
    crun_error_clear(&err);
    *body_out = body;
    return status;
}

static void execute_job(service *svc, svc_job *job)
{
    char *body = NULL, run_id[64];
    unsigned status = run_job(svc, job, &body, run_id, sizeof(run_id));
    svc_pool *p = &svc->pool;
    pthread_mutex_lock(&p->lock);
    void *conn = claim_answer(job);
    pthread_mutex_unlock(&p->lock);
    if (conn) {
        if (run_id[0])
            svc_records_add(&svc->records, run_id, status, body);
        count_answer(svc, job, status);
        svc_http_answer(conn, status, body);
    } else {
        free(body);
    }
}

static char *stop_body(const svc_job *job, const char *status, const char *fmt, double seconds);

/* A free inline slot, starting from one that depends on the thread (two
 * HTTP threads then rarely try the same one), or NULL. */
static svc_worker *take_inline_slot(svc_pool *p)
{
    size_t start = (size_t)pthread_self() / 64;
    for (size_t k = 0; k < p->n_inline; k++) {
        svc_worker *w = &p->workers[p->n_workers + (start + k) % p->n_inline];
        bool free_slot = false;
        if (!atomic_load_explicit(&w->busy, memory_order_relaxed) &&
            atomic_compare_exchange_strong(&w->busy, &free_slot, true))
            return w;
    }
    return NULL;
}

bool svc_pool_run_inline(service *svc, svc_job *job, unsigned *status, char **body)
{
    svc_pool *p = &svc->pool;
    if (!p->fast_path ||
        atomic_load_explicit(&p->slow_share, memory_order_relaxed) >= SLOW_ONE / 2 ||
        atomic_load(&p->queued) > 0)
        return false;
    svc_worker *slot = take_inline_slot(p);
    if (!slot)
        return false;
    if (!reserve_run(p)) {
        atomic_store(&slot->busy, false);
        return false;
    }
    job->answered = true; /* only this thread answers an inline job */
    job->slot = slot;
    pthread_mutex_lock(&slot->lock);
    slot->job = job;
    pthread_mutex_unlock(&slot->lock);
    /* reserved and published before looking at `refusing`: the drain sets
     * refusing before it counts the running and looks at the slots, so
     * either it sees this job (and cancels it at the end of the grace
     * period) or this thread sees it stopping and backs out */
    if (atomic_load(&p->refusing)) {
        pthread_mutex_lock(&slot->lock);
        slot->job = NULL;
        pthread_mutex_unlock(&slot->lock);
        *job = (svc_job){.req = job->req, .accepted = job->accepted, .deadline = job->deadline};
        atomic_store(&slot->busy, false);
        run_ended(p);
        return false;
    }
    char run_id[64];
    *status = run_job(svc, job, body, run_id, sizeof(run_id));
    pthread_mutex_lock(&slot->lock);
    slot->job = NULL;
    bool timed_out = job->timed_out;
    pthread_mutex_unlock(&slot->lock);
    atomic_store(&slot->busy, false);
    run_ended(p);
    if (timed_out) {
        free(*body);
        *status = 504;
        *body = stop_body(job, "timed_out", timeout_fmt, svc->cfg.timeout);
    }
    if (run_id[0])
        svc_records_add(&svc->records, run_id, *status, *body);
    count_answer(svc, job, *status);
    job_free(job);
    return true;
}

static void *worker_main(void *arg)
{
    svc_worker *w = arg;
    service *svc = w->svc;
    svc_pool *p = &svc->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        /* inline runs count too: at most n_workers runs at once */
        bool reserved = false;
        while (!p->closing && !(p->head && (reserved = reserve_run(p))))
            pthread_cond_wait(&p->wake, &p->lock);
        svc_job *job = p->head;
        if (!job)
            break; /* closing, and nothing waits */
        if (!reserved)
            atomic_fetch_add(&p->running, 1); /* closing: what waits runs now */
        p->head = job->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        job->slot = w;
        pthread_mutex_lock(&w->lock);
        w->job = job;
        pthread_mutex_unlock(&w->lock);
        pthread_mutex_unlock(&p->lock);
        execute_job(svc, job);
        pthread_mutex_lock(&p->lock);
        pthread_mutex_lock(&w->lock);
        w->job = NULL;
        pthread_mutex_unlock(&w->lock);
        atomic_fetch_sub(&p->running, 1);
        if (p->head)
            pthread_cond_signal(&p->wake);
        pthread_cond_broadcast(&p->idle);
        job_free(job);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int svc_pool_start(service *svc, size_t workers, size_t queue_cap, size_t n_inline,
                   crun_error *err)
{
    svc_pool *p = &svc->pool;
    p->queue_cap = queue_cap;
    p->n_inline = n_inline;
    size_t bytes = (workers + n_inline) * sizeof(svc_worker);
    p->workers = aligned_alloc(_Alignof(svc_worker), bytes ? bytes : sizeof(svc_worker));
    if (!p->workers)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    memset(p->workers, 0, bytes);
    p->n_workers = workers;
    for (size_t i = 0; i < workers + n_inline; i++) {
        svc_worker *w = &p->workers[i];
        w->svc = svc;
        pthread_mutex_init(&w->lock, NULL);
        atomic_init(&w->busy, false);
    }
    for (size_t i = 0; i < workers; i++) {
        int e = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
        if (e) {
            svc_pool_stop(p);
            return crun_error_set(err, CRUN_EPLUGIN, "service: cannot start worker %zu: %s", i,
                                  strerror(e));
        }
        p->n_started++;
    }
    return 0;
}

bool svc_pool_submit(svc_pool *p, svc_job *job)
{
    pthread_mutex_lock(&p->lock);
    bool ok = !p->refusing && p->queued + p->running < p->queue_cap + p->n_workers;
    if (ok) {
        job->next = NULL;
        if (p->tail)
            p->tail->next = job;
        else
            p->head = job;
        p->tail = job;
        p->queued++;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

void svc_pool_counts(svc_pool *p, size_t *running, size_t *queued)
{
    pthread_mutex_lock(&p->lock);
    *running = p->running;
    *queued = p->queued;
    pthread_mutex_unlock(&p->lock);
}

/* An answer decided under the lock, delivered after it. */
typedef struct pending {
    void *conn;
    svc_job *job;      /* to free (a queued job taken out), or NULL */
    unsigned status;
    char *body;
    char run_id[64];
} pending;

typedef struct pending_list {
    pending *items;
    size_t n, cap;
} pending_list;

static void pend(pending_list *l, void *conn, svc_job *free_job, const char *run_id,
                 unsigned status, char *body)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        pending *items = realloc(l->items, cap * sizeof(pending));
        if (!items) { /* cannot remember it: answer now (still correct, just under the lock) */
            if (conn)
                svc_http_answer(conn, status, body);
            else
                free(body);
            job_free(free_job);
            return;
        }
        l->items = items;
        l->cap = cap;
    }
    pending *it = &l->items[l->n++];
    *it = (pending){.conn = conn, .job = free_job, .status = status, .body = body};
    copy_id(it->run_id, sizeof(it->run_id), run_id);
}

static void deliver(service *svc, pending_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        pending *it = &l->items[i];
        if (it->conn) {
            if (it->run_id[0])
                svc_records_add(&svc->records, it->run_id, it->status, it->body);
            svc_http_answer(it->conn, it->status, it->body);
        } else {
            free(it->body);
        }
        job_free(it->job);
    }
    free(l->items);
}

static char *stop_body(const svc_job *job, const char *status, const char *fmt, double seconds)
{
    json_t *o = json_object();
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, seconds);
    json_object_set_new(o, "error", json_string(msg));
    json_object_set_new(o, "status", json_string(status));
    if (job->run_id[0])
        json_object_set_new(o, "run_id", json_string(job->run_id));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return body;
}

/* Under the lock: take queued jobs matching (all, or past their deadline)
 * out of the queue and answer them. */
static void take_queued(service *svc, pending_list *l, bool all, double now, unsigned status,
                        const char *fmt)
{
    svc_pool *p = &svc->pool;
    svc_job **link = &p->head, *prev = NULL;
    while (*link) {
        svc_job *job = *link;
        if (!all && !(job->deadline && now >= job->deadline)) {
            prev = job;
            link = &job->next;
            continue;
        }
        *link = job->next;
        if (p->tail == job)
            p->tail = prev;
        p->queued--;
        void *conn = claim_answer(job);
        if (conn)
            count_answer(svc, job, status);
        pend(l, conn, job, job->run_id,
             status, stop_body(job, status == 504 ? "timed_out" : "cancelled", fmt,
                               svc->cfg.timeout));
    }
}

/* Under the lock: cancel running jobs matching and answer them (each
 * slot's job under the slot's lock too). */
static void cancel_running(service *svc, pending_list *l, bool all, double now, unsigned status,
                           const char *fmt)
{
    svc_pool *p = &svc->pool;
    for (size_t i = 0; i < p->n_workers + p->n_inline; i++) {
        svc_worker *w = &p->workers[i];
        pthread_mutex_lock(&w->lock);
        svc_job *job = w->job;
        if (!job || job->cancel_asked || (!all && !(job->deadline && now >= job->deadline))) {
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        job->cancel_asked = true;
        job->timed_out = status == 504;
        if (job->run)
            crun_run_cancel(job->run);
        /* an inline job is answered by its own thread: nothing to claim */
        void *conn = claim_answer(job);
        /* the run's id is written under the slot's lock (job_on_run): the
         * answer that names it is made before letting go of it */
        char *body = conn ? stop_body(job, status == 504 ? "timed_out" : "cancelled", fmt,
                                      svc->cfg.timeout)
                          : NULL;
        char run_id[sizeof(job->run_id)];
        copy_id(run_id, sizeof(run_id), job->run_id);
        pthread_mutex_unlock(&w->lock);
        if (conn) {
            count_answer(svc, job, status);
            pend(l, conn, NULL, run_id, status, body);
        }
    }
}

void svc_pool_expire(service *svc, double now)
{
    if (svc->cfg.timeout <= 0)
        return;
    svc_pool *p = &svc->pool;
    pending_list l = {0};
    pthread_mutex_lock(&p->lock);
    take_queued(svc, &l, false, now, 504, timeout_fmt);
    cancel_running(svc, &l, false, now, 504, timeout_fmt);
    pthread_mutex_unlock(&p->lock);
    deliver(svc, &l);
}

void svc_pool_drain(service *svc, double until)
{
    svc_pool *p = &svc->pool;
    pthread_mutex_lock(&p->lock);
    p->refusing = true;
    while (p->queued + p->running > 0 && svc_now() < until) {
        pthread_mutex_unlock(&p->lock);
        svc_pool_expire(svc, svc_now());
        pthread_mutex_lock(&p->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (p->queued + p->running > 0)
            pthread_cond_timedwait(&p->idle, &p->lock, &ts);
    }
    pending_list l = {0};
    take_queued(svc, &l, true, 0, 503, "the service stopped before the run started");
    cancel_running(svc, &l, true, 0, 503, "the service is stopping: the run was cancelled at "
                   "the end of the grace period");
    pthread_mutex_unlock(&p->lock);
    deliver(svc, &l);
}

void svc_pool_stop(svc_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->closing = true;
    p->refusing = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->n_started; i++)
        pthread_join(p->workers[i].thread, NULL);
    for (size_t i = 0; p->workers && i < p->n_workers + p->n_inline; i++)
        pthread_mutex_destroy(&p->workers[i].lock);
    free(p->workers);
    p->workers = NULL;
    p->n_workers = p->n_started = 0;
}
