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
 *
 * Deadlines: a fast-path run past its deadline is answered on its socket by
 * the watch (its HTTP thread is inside the run); one that overstays the fast
 * path turns it off at once.  A run cancelled by its timeout that goes on
 * anyway (a function node cannot be stopped) is set aside: it stops counting
 * against `workers` and a spare thread takes its worker's place.
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

/* Slot i is an inline slot (else a worker's). */
static bool is_inline(const svc_pool *p, size_t i)
{
    return i >= p->n_workers && i < p->n_workers + p->n_inline;
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
        svc->answer(conn, status, body);
    } else {
        free(body);
    }
}

static char *stop_body(const svc_job *job, const char *status, const char *fmt, double seconds);

/* A run set aside returned. */
static void aside_ended(svc_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->n_set_aside--;
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
}

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
    job->answered = true; /* only this thread answers an inline job (or, past its
                           * deadline, the watch through the socket) */
    job->slot = slot;
    job->started = svc_now();
    pthread_mutex_lock(&slot->lock);
    slot->job = job;
    slot->holder = pthread_self();
    pthread_mutex_unlock(&slot->lock);
    /* reserved and published before looking at `refusing`: the drain sets
     * refusing before it counts the running and looks at the slots, so
     * either it sees this job (and cancels it at the end of the grace
     * period) or this thread sees it stopping and backs out */
    if (atomic_load(&p->refusing)) {
        pthread_mutex_lock(&slot->lock);
        slot->job = NULL;
        pthread_mutex_unlock(&slot->lock);
        *job = (svc_job){.req = job->req, .accepted = job->accepted, .deadline = job->deadline,
                         .fd = -1};
        atomic_store(&slot->busy, false);
        run_ended(p);
        return false;
    }
    char run_id[64];
    *status = run_job(svc, job, body, run_id, sizeof(run_id));
    pthread_mutex_lock(&slot->lock);
    slot->job = NULL;
    bool timed_out = job->timed_out, sent_raw = job->sent_raw, set_aside = job->set_aside;
    pthread_mutex_unlock(&slot->lock);
    atomic_store(&slot->busy, false);
    if (set_aside)
        aside_ended(p);
    else
        run_ended(p);
    if (sent_raw) { /* answered, counted and recorded by the watch or the drain */
        free(*body);
        *body = NULL;
        *status = 0;
        job_free(job);
        return true;
    }
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
        if (!job) {
            w->done = true;
            break; /* closing, and nothing waits */
        }
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
        if (job->set_aside)
            p->n_set_aside--; /* it stopped counting when it was set aside */
        else
            atomic_fetch_sub(&p->running, 1);
        if (p->head)
            pthread_cond_signal(&p->wake);
        pthread_cond_broadcast(&p->idle);
        job_free(job);
        if (w->retiring) { /* another thread took this one's place */
            w->retiring = false;
            w->done = true;
            break;
        }
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
    size_t n_slots = 2 * workers + n_inline, bytes = n_slots * sizeof(svc_worker);
    p->workers = aligned_alloc(_Alignof(svc_worker), bytes ? bytes : sizeof(svc_worker));
    if (!p->workers)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    memset(p->workers, 0, bytes);
    p->n_workers = workers;
    p->n_slots = n_slots;
    for (size_t i = 0; i < n_slots; i++) {
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
        p->workers[i].thread_live = true;
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
    bool sent;         /* already on the socket: only to record */
} pending;

typedef struct pending_list {
    service *svc;
    pending *items;
    size_t n, cap;
} pending_list;

static void pend(pending_list *l, void *conn, svc_job *free_job, const char *run_id,
                 unsigned status, char *body, bool sent)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        pending *items = realloc(l->items, cap * sizeof(pending));
        if (!items) { /* cannot remember it: answer now (still correct, just under the lock) */
            if (conn)
                l->svc->answer(conn, status, body);
            else
                free(body);
            job_free(free_job);
            return;
        }
        l->items = items;
        l->cap = cap;
    }
    pending *it = &l->items[l->n++];
    *it = (pending){.conn = conn, .job = free_job, .status = status, .body = body, .sent = sent};
    copy_id(it->run_id, sizeof(it->run_id), run_id);
}

static void deliver(service *svc, pending_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        pending *it = &l->items[i];
        if (it->run_id[0] && it->body && (it->conn || it->sent))
            svc_records_add(&svc->records, it->run_id, it->status, it->body);
        if (it->conn) {
            svc->answer(it->conn, it->status, it->body);
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
                               svc->cfg.timeout), false);
    }
}

/* Under the lock: a free worker slot for a new thread (one whose thread
 * has ended is joined first), or NULL. */
static svc_worker *free_worker_slot(svc_pool *p)
{
    for (size_t i = 0; i < p->n_slots; i++) {
        svc_worker *w = &p->workers[i];
        if (is_inline(p, i) || (w->thread_live && !w->done))
            continue;
        if (w->thread_live) { /* it left its loop under the lock we hold: it is returning */
            pthread_join(w->thread, NULL);
            w->thread_live = false;
        }
        return w;
    }
    return NULL;
}

/* Under the lock and job's slot lock: a run that timed out and was
 * cancelled, but goes on (a function node does not stop on a cancel),
 * stops counting against `workers`, and a new worker thread takes the
 * place of the one it holds, so that the next requests do not wait for it.
 * At most n_workers runs are set aside at once; beyond that they keep
 * their place. */
static void set_aside(service *svc, svc_worker *w, bool on_http_thread, svc_job *job)
{
    svc_pool *p = &svc->pool;
    if (job->set_aside || p->n_set_aside >= p->n_workers || p->refusing)
        return;
    if (!on_http_thread) {
        svc_worker *spare = free_worker_slot(p);
        if (!spare)
            return;
        spare->done = spare->retiring = false;
        if (pthread_create(&spare->thread, NULL, worker_main, spare) != 0)
            return;
        spare->thread_live = true;
        w->retiring = true;
    }
    job->set_aside = true;
    p->n_set_aside++;
    atomic_fetch_sub(&p->running, 1);
    if (p->head)
        pthread_cond_signal(&p->wake);
}

/* Under the lock: cancel running jobs matching and answer them (each
 * slot's job under the slot's lock too). */
static void cancel_running(service *svc, pending_list *l, bool all, double now, unsigned status,
                           const char *fmt)
{
    svc_pool *p = &svc->pool;
    for (size_t i = 0; i < p->n_slots; i++) {
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
        /* an inline job's HTTP thread is inside the run: its answer goes
         * straight to the socket, while that thread surely stays there */
        void *conn = claim_answer(job);
        bool on_socket = !conn && is_inline(p, i) && job->fd >= 0;
        /* the run's id is written under the slot's lock (job_on_run): the
         * answer that names it is made before letting go of it */
        char *body = conn || on_socket
                         ? stop_body(job, status == 504 ? "timed_out" : "cancelled", fmt,
                                     svc->cfg.timeout)
                         : NULL;
        if (on_socket && body)
            job->sent_raw = svc->answer_socket(svc, job->fd, status, body);
        if (status == 504)
            set_aside(svc, w, is_inline(p, i), job);
        bool sent_raw = job->sent_raw;
        char run_id[sizeof(job->run_id)];
        copy_id(run_id, sizeof(run_id), job->run_id);
        pthread_mutex_unlock(&w->lock);
        if (conn) {
            count_answer(svc, job, status);
            pend(l, conn, NULL, run_id, status, body, false);
        } else if (sent_raw) {
            count_answer(svc, job, status);
            pend(l, NULL, NULL, run_id, status, body, true); /* recorded, not sent again */
        } else {
            free(body); /* the thread answers when the run returns */
        }
    }
}

/* A run on an HTTP thread that has gone on this long turns the fast path
 * off at once: the average of run times learns of it only when it ends. */
static const double OVERSTAY_S = 0.005;
/* ... and past this, requests waiting on its other connections are told to
 * retry (they would wait for the run). */
static const double HOSTAGE_S = 1.0;

static void watch_inline(svc_pool *p, double now)
{
    for (size_t i = p->n_workers; i < p->n_workers + p->n_inline; i++) {
        svc_worker *w = &p->workers[i];
        if (!atomic_load_explicit(&w->busy, memory_order_relaxed))
            continue;
        pthread_mutex_lock(&w->lock);
        bool overstays = w->job && now - w->job->started > OVERSTAY_S;
        if (w->job && now - w->job->started > HOSTAGE_S)
            w->svc->rescue(w->svc, w->holder, w->job->fd);
        pthread_mutex_unlock(&w->lock);
        if (overstays)
            atomic_store_explicit(&p->slow_share, SLOW_ONE, memory_order_relaxed);
    }
}

void svc_pool_expire(service *svc, double now)
{
    svc_pool *p = &svc->pool;
    if (p->fast_path)
        watch_inline(p, now);
    if (svc->cfg.timeout <= 0)
        return;
    pending_list l = {.svc = svc};
    pthread_mutex_lock(&p->lock);
    take_queued(svc, &l, false, now, 504, timeout_fmt);
    cancel_running(svc, &l, false, now, 504, timeout_fmt);
    pthread_mutex_unlock(&p->lock);
    deliver(svc, &l);
}

/* Under the lock: runs still to wait for, leaving out those already
 * cancelled (a timeout answered them: nobody waits for their result). */
static size_t runs_to_wait_for(svc_pool *p)
{
    size_t cancelled = 0;
    for (size_t i = 0; i < p->n_slots; i++) {
        svc_worker *w = &p->workers[i];
        pthread_mutex_lock(&w->lock);
        cancelled += w->job && w->job->cancel_asked && !w->job->set_aside;
        pthread_mutex_unlock(&w->lock);
    }
    size_t running = p->running;
    return p->queued + (running > cancelled ? running - cancelled : 0);
}

void svc_pool_drain(service *svc, double until)
{
    svc_pool *p = &svc->pool;
    pthread_mutex_lock(&p->lock);
    p->refusing = true;
    while (runs_to_wait_for(p) > 0 && svc_now() < until) {
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
    pending_list l = {.svc = svc};
    take_queued(svc, &l, true, 0, 503, "the service stopped before the run started");
    cancel_running(svc, &l, true, 0, 503, "the service is stopping: the run was cancelled at "
                   "the end of the grace period");
    pthread_mutex_unlock(&p->lock);
    deliver(svc, &l);
}

/* Runs executing now: counted or set aside. */
static size_t runs_executing(svc_pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = atomic_load(&p->running) + p->n_set_aside;
    pthread_mutex_unlock(&p->lock);
    return n;
}

size_t svc_pool_settle(svc_pool *p, double until)
{
    size_t n = runs_executing(p);
    while (n > 0 && svc_now() < until) {
        usleep(10 * 1000);
        n = runs_executing(p);
    }
    return n;
}

size_t svc_pool_inline_busy(svc_pool *p)
{
    size_t n = 0;
    for (size_t i = p->n_workers; i < p->n_workers + p->n_inline; i++)
        n += atomic_load(&p->workers[i].busy);
    return n;
}

void svc_pool_log_stuck(service *svc)
{
    svc_pool *p = &svc->pool;
    for (size_t i = 0; i < p->n_slots; i++) {
        svc_worker *w = &p->workers[i];
        pthread_mutex_lock(&w->lock);
        if (w->job)
            crun_log(svc->logger, CRUN_LOG_ERROR, "service: abandoning run %s on %s thread: "
                     "cancelled, it has not returned (a function node that does not check "
                     "for cancellation); its answer was 503 or 504",
                     w->job->run_id[0] ? w->job->run_id : "(not started)",
                     is_inline(p, i) ? "an HTTP" : "a worker");
        pthread_mutex_unlock(&w->lock);
    }
}

void svc_pool_stop(svc_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->closing = true;
    p->refusing = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    /* refusing: no thread is created from here on */
    for (size_t i = 0; p->workers && i < p->n_slots; i++)
        if (p->workers[i].thread_live)
            pthread_join(p->workers[i].thread, NULL);
    for (size_t i = 0; p->workers && i < p->n_slots; i++)
        pthread_mutex_destroy(&p->workers[i].lock);
    free(p->workers);
    p->workers = NULL;
    p->n_workers = p->n_slots = 0;
}
