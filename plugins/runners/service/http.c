/* http.c - the HTTP API on libmicrohttpd.
 *
 * libmicrohttpd parses HTTP, runs its own epoll thread pool, times out idle
 * connections and caps their number, so a slow client holds one connection
 * slot and never a thread.  The access handler routes, checks the token,
 * collects the body (refusing more than max_body with 413) and answers the
 * cheap routes at once.  POST /v1/runs becomes a job: the connection is
 * suspended, the job queued, and whoever answers the job (a worker, the
 * timeout watch, the drain) stores the answer and resumes the connection;
 * libmicrohttpd then calls the handler again, which sends it.
 *
 * libmicrohttpd bounds a connection's silence, not how long a request takes
 * to arrive: every connection is listed (conn_notify) with the time it began
 * to owe a request, and the watch shuts down those past request_timeout.
 * A request whose Content-Length is in doubt is refused before its body.
 */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <microhttpd.h>

#include "service.h"

/* A connection as the request deadline sees it (conn_notify makes it). */
typedef struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    pthread_t owner;         /* the HTTP thread that serves it */
    /* when the connection began to owe a request (its opening, or the end
     * of its previous request), in microseconds; 0: a request is complete
     * and being answered.  Written by the connection's thread, read by the
     * watch. */
    atomic_llong owing_since_us;
    bool cut;                /* the watch shut it down */
} conn_watch;

struct svc_http {
    struct MHD_Daemon *daemon;
    struct sockaddr_storage addr;
    MHD_socket listen_fd;    /* returned by quiesce; closed after the stop */
    atomic_size_t waiting;   /* requests suspended or answered but not yet sent */
    unsigned port;
    pthread_mutex_t conns_lock; /* the list below; a connection's socket stays open while listed */
    conn_watch *conns;
};

typedef struct request_ctx {
    service *svc;
    struct MHD_Connection *connection;
    conn_watch *watch;       /* the connection's, or NULL */
    enum svc_route route;
    char *body;
    size_t len, cap;
    size_t discarded;        /* body bytes dropped past max_body */
    bool too_large;
    bool waiting;            /* counted in svc_http.waiting */
    bool answered;           /* answer_* set by a job's answer */
    bool must_close;         /* the request cannot be trusted to end where it seems to */
    unsigned answer_status;
    char *answer_body;
} request_ctx;

static const char json_media[] = "application/json";

/* --- responses --- */

static enum MHD_Result send_body(request_ctx *rq, unsigned status, char *body,
                                 enum MHD_ResponseMemoryMode mode, const char *content_type)
{
    service *svc = rq->svc;
    if (!body) {
        status = 500;
        body = (char *)"{\"error\":\"out of memory\"}";
        mode = MHD_RESPMEM_PERSISTENT;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"crun\"");
    if (status == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                rq->route == SVC_ROUTE_RUNS ? "POST" : "GET, HEAD");
    if (atomic_load(&svc->stopping) || status == 413 || rq->must_close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(rq->connection, status, r);
    MHD_destroy_response(r);
    svc_metrics_request(&svc->metrics, rq->route, status);
    return ok;
}

static enum MHD_Result send_json(request_ctx *rq, unsigned status, char *body)
{
    return send_body(rq, status, body, MHD_RESPMEM_MUST_FREE, json_media);
}

static enum MHD_Result send_error(request_ctx *rq, unsigned status, const char *fmt, ...)
    CRUN_PRINTF(3, 4);
static enum MHD_Result send_error(request_ctx *rq, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    char *body = n < 0 ? NULL : svc_error_body("%s", msg);
    free(msg);
    return send_json(rq, status, body);
}

static void http_answer(void *conn, unsigned status, char *body)
{
    request_ctx *rq = conn;
    rq->answer_status = status;
    rq->answer_body = body;
    rq->answered = true;
    MHD_resume_connection(rq->connection);
}

static bool answer_socket(service *svc, int fd, enum svc_route route, unsigned status,
                          const char *body)
{
    char head[256];
    size_t len = strlen(body);
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %u %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     MHD_get_reason_phrase_for(status), json_media, len);
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent <= 0)
        return false; /* nothing went out: the HTTP thread answers when it can */
    /* the rest of the connection is lost (its thread closes it when the run
     * returns): the client sees the end now */
    shutdown(fd, SHUT_RDWR);
    svc_metrics_request(&svc->metrics, route, status);
    return true;
}

static bool http_answer_socket(service *svc, int fd, unsigned status, const char *body)
{
    return answer_socket(svc, fd, SVC_ROUTE_RUNS, status, body);
}

static long long now_us(void)
{
    return (long long)(svc_now() * 1e6);
}

/* --- the request deadline: headers and body within request_timeout --- */

static void conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    service *svc = cls;
    svc_http *h = svc->http;
    conn_watch *w = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(w = calloc(1, sizeof(*w))))
            return; /* not watched: only client_timeout bounds it */
        w->fd = ci->connect_fd;
        w->owner = pthread_self(); /* connections are started on the thread that serves them */
        atomic_init(&w->owing_since_us, now_us());
        pthread_mutex_lock(&h->conns_lock);
        w->next = h->conns;
        if (h->conns)
            h->conns->prev = w;
        h->conns = w;
        pthread_mutex_unlock(&h->conns_lock);
        *socket_context = w;
        return;
    }
    if (!w)
        return;
    pthread_mutex_lock(&h->conns_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        h->conns = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&h->conns_lock);
    free(w);
    *socket_context = NULL;
}

void svc_http_expire(service *svc, double now)
{
    svc_http *h = svc->http;
    if (!h || svc->cfg.request_timeout <= 0)
        return;
    long long limit = (long long)(svc->cfg.request_timeout * 1e6), t = (long long)(now * 1e6);
    size_t cut = 0;
    pthread_mutex_lock(&h->conns_lock);
    for (conn_watch *w = h->conns; w; w = w->next) {
        long long since = atomic_load_explicit(&w->owing_since_us, memory_order_relaxed);
        if (w->cut || !since || t - since <= limit)
            continue;
        /* its thread sees the end of the stream and closes it */
        shutdown(w->fd, SHUT_RDWR);
        w->cut = true;
        cut++;
    }
    pthread_mutex_unlock(&h->conns_lock);
    if (cut)
        crun_log(svc->logger, CRUN_LOG_DEBUG, "service: closed %zu connections that did not "
                 "send a whole request within request_timeout (%g s)", cut,
                 svc->cfg.request_timeout);
}

static const char busy_body[] = "{\"error\":\"the HTTP thread that serves this connection is "
                                "busy with a long run: retry on a new connection\"}";

static void http_rescue(service *svc, pthread_t thread, int skip_fd)
{
    svc_http *h = svc->http;
    if (!h)
        return;
    size_t freed = 0;
    pthread_mutex_lock(&h->conns_lock);
    for (conn_watch *w = h->conns; w; w = w->next) {
        char byte;
        /* owing a request (no answer half sent) and a request has come */
        if (w->cut || w->fd == skip_fd || !pthread_equal(w->owner, thread) ||
            !atomic_load_explicit(&w->owing_since_us, memory_order_relaxed) ||
            recv(w->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
            continue;
        answer_socket(svc, w->fd, SVC_ROUTE_OTHER, 503, busy_body);
        shutdown(w->fd, SHUT_RDWR);
        w->cut = true;
        freed++;
    }
    pthread_mutex_unlock(&h->conns_lock);
    if (freed)
        crun_log(svc->logger, CRUN_LOG_DEBUG, "service: %zu requests on connections of an HTTP "
                 "thread busy with a long run were answered 503 (retry)", freed);
}

/* --- routes --- */

static enum svc_route route_of(const char *url)
{
    if (strcmp(url, "/healthz") == 0)
        return SVC_ROUTE_HEALTHZ;
    if (strcmp(url, "/v1/pipeline") == 0)
        return SVC_ROUTE_PIPELINE;
    if (strcmp(url, "/v1/runs") == 0)
        return SVC_ROUTE_RUNS;
    if (strncmp(url, "/v1/runs/", 9) == 0 && url[9] && !strchr(url + 9, '/'))
        return SVC_ROUTE_RUN;
    if (strcmp(url, "/metrics") == 0)
        return SVC_ROUTE_METRICS;
    return SVC_ROUTE_OTHER;
}

/* Compare in time independent of where the first difference is. */
static bool same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    return diff == 0;
}

static bool authorized(service *svc, struct MHD_Connection *c)
{
    const char *token = svc->cfg.token;
    if (!token)
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    return same_secret(h, strlen(h), token, strlen(token));
}

static enum MHD_Result get_route(request_ctx *rq, const char *url)
{
    service *svc = rq->svc;
    switch (rq->route) {
    case SVC_ROUTE_HEALTHZ:
        return send_body(rq, 200, (char *)"{\"status\":\"ok\"}", MHD_RESPMEM_PERSISTENT,
                         json_media);
    case SVC_ROUTE_PIPELINE:
        return send_body(rq, 200, svc->pipeline_body, MHD_RESPMEM_PERSISTENT, json_media);
    case SVC_ROUTE_METRICS: {
        size_t running, queued;
        svc_pool_counts(&svc->pool, &running, &queued);
        char *text = svc_metrics_text(&svc->metrics, running, queued, svc->pool.n_workers,
                                      svc->pool.queue_cap);
        return send_body(rq, 200, text, MHD_RESPMEM_MUST_FREE,
                         "text/plain; version=0.0.4; charset=utf-8");
    }
    default: { /* SVC_ROUTE_RUN */
        const char *id = url + 9;
        unsigned status = 200;
        char *body = svc_records_find(&svc->records, id, &status);
        if (!body)
            return send_error(rq, 404, "no run '%s' among the last %lld runs this service keeps",
                              id, (long long)svc->cfg.keep_runs);
        return send_json(rq, 200, body);
    }
    }
}

typedef struct length_check {
    const char *first;      /* the first Content-Length value */
    bool bad;               /* a second one that differs, or one that is not a number */
} length_check;

static enum MHD_Result check_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    length_check *lc = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
        return MHD_YES;
    value = value ? value : "";
    bool digits = value[0] != '\0' && strspn(value, "0123456789") == strlen(value);
    if (!digits || (lc->first && strcmp(lc->first, value) != 0))
        lc->bad = true;
    if (!lc->first)
        lc->first = value;
    return lc->bad ? MHD_NO : MHD_YES;
}

/* Where a request ends must be beyond doubt (RFC 9112, 6.3): Content-Length
 * given twice with different values, or not a number, is refused, and the
 * connection closed. */
static bool length_in_doubt(struct MHD_Connection *c)
{
    length_check lc = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, check_length, &lc);
    return lc.bad;
}

/* The first call for a request: everything decided from the headers alone.
 * Returns true when an answer was sent (*result set). */
static bool early_answer(request_ctx *rq, struct MHD_Connection *c, const char *url,
                         const char *method, enum MHD_Result *result)
{
    service *svc = rq->svc;
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool is_post = strcmp(method, "POST") == 0;
    if (atomic_load(&svc->stopping)) {
        *result = rq->route == SVC_ROUTE_HEALTHZ
                      ? send_body(rq, 503, (char *)"{\"status\":\"stopping\"}",
                                  MHD_RESPMEM_PERSISTENT, json_media)
                      : send_error(rq, 503, "the service is stopping");
        return true;
    }
    if (length_in_doubt(c)) {
        rq->must_close = true;
        *result = send_error(rq, 400, "the request's Content-Length is given twice with "
                             "different values, or is not a number");
        return true;
    }
    if (rq->route == SVC_ROUTE_OTHER) {
        *result = send_error(rq, 404, "no route %s %s (routes: GET /healthz, GET /v1/pipeline, "
                             "POST /v1/runs, GET /v1/runs/{id}, GET /metrics)", method, url);
        return true;
    }
    if (rq->route != SVC_ROUTE_HEALTHZ && !authorized(svc, c)) {
        *result = send_error(rq, 401, "this service needs an Authorization: Bearer token");
        return true;
    }
    if (rq->route == SVC_ROUTE_RUNS ? !is_post : !is_get) {
        *result = send_error(rq, 405, "%s is not allowed on %s (use %s)", method, url,
                             rq->route == SVC_ROUTE_RUNS ? "POST" : "GET");
        return true;
    }
    if (rq->route != SVC_ROUTE_RUNS)
        return false; /* answered on the next call: an answer queued before the request
                       * was read to its end makes libmicrohttpd close the connection */
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)svc->cfg.max_body) {
        *result = send_error(rq, 413, "the body has %s bytes; this service takes at most %lld",
                             cl, (long long)svc->cfg.max_body);
        return true;
    }
    return false;
}

static bool append_body(request_ctx *rq, const char *data, size_t n)
{
    size_t max = (size_t)rq->svc->cfg.max_body;
    if (rq->too_large || rq->len + n > max) {
        rq->too_large = true;
        rq->discarded += n;
        return rq->discarded <= 16 * max + 65536; /* then hang up on it */
    }
    if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 1024;
        while (cap < rq->len + n + 1)
            cap *= 2;
        char *b = realloc(rq->body, cap);
        if (!b)
            return false;
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    return true;
}

static enum MHD_Result start_run(request_ctx *rq)
{
    service *svc = rq->svc;
    svc_http *h = svc->http;
    if (rq->too_large)
        return send_error(rq, 413, "the body is larger than %lld bytes",
                          (long long)svc->cfg.max_body);
    /* malloc and a zeroed struct, not calloc: glibc's calloc bypasses the
     * per-thread cache, and this is per request */
    svc_job *job = malloc(sizeof(*job));
    if (!job)
        return send_error(rq, 500, "out of memory");
    *job = (svc_job){.conn = NULL};
    char *error = NULL;
    int status = svc_request_parse(&svc->served, rq->body ? rq->body : "", rq->len, &job->req,
                                   &error);
    if (status) {
        free(job);
        enum MHD_Result r = send_error(rq, (unsigned)status, "%s", error ? error : "bad request");
        free(error);
        atomic_fetch_add_explicit(&svc_metrics_here(&svc->metrics)->runs_rejected, 1,
                                  memory_order_relaxed);
        return r;
    }
    job->accepted = svc_now();
    job->deadline = svc->cfg.timeout > 0 ? job->accepted + svc->cfg.timeout : 0;
    /* counted before running or queueing it: a stop waits for its answer to
     * go out (an inline run's too), and the stop either sees us waiting or
     * we see it stopping (both are sequentially consistent) */
    atomic_fetch_add(&h->waiting, 1);
    rq->waiting = true;
    unsigned inline_status;
    char *inline_body;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(rq->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    job->fd = ci ? ci->connect_fd : -1;
    if (svc_pool_run_inline(svc, job, &inline_status, &inline_body))
        return inline_status ? send_json(rq, inline_status, inline_body)
                             : MHD_NO; /* answered on the socket past the deadline: close */
    job->fd = -1;
    job->conn = rq;
    if (atomic_load(&svc->stopping)) {
        svc_request_clear(&job->req);
        free(job);
        return send_error(rq, 503, "the service is stopping");
    }
    MHD_suspend_connection(rq->connection);
    if (!svc_pool_submit(&svc->pool, job)) {
        svc_request_clear(&job->req);
        free(job);
        atomic_fetch_add_explicit(&svc_metrics_here(&svc->metrics)->runs_rejected, 1,
                                  memory_order_relaxed);
        http_answer(rq, 503, svc_error_body("the service is at capacity (%lld running, "
                                                "%lld waiting): try again later",
                                                (long long)svc->cfg.workers,
                                                (long long)svc->cfg.queue));
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    service *svc = cls;
    request_ctx *rq = *con_cls;
    if (!rq) {
        if (!(rq = malloc(sizeof(*rq)))) /* not calloc: see start_run */
            return MHD_NO;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        *rq = (request_ctx){.svc = svc, .connection = c, .route = route_of(url),
                            .watch = ci ? ci->socket_context : NULL};
        *con_cls = rq;
        enum MHD_Result result;
        if (early_answer(rq, c, url, method, &result))
            return result;
        return MHD_YES; /* the body follows */
    }
    if (rq->answered) {
        char *body = rq->answer_body;
        rq->answer_body = NULL;
        rq->answered = false;
        return send_json(rq, rq->answer_status, body);
    }
    if (*upload_size) {
        if (!append_body(rq, upload_data, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->watch) /* the whole request is here: no deadline while it is answered */
        atomic_store_explicit(&rq->watch->owing_since_us, 0, memory_order_relaxed);
    return rq->route == SVC_ROUTE_RUNS ? start_run(rq) : get_route(rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    service *svc = cls;
    request_ctx *rq = *con_cls;
    if (!rq)
        return;
    if (rq->waiting)
        atomic_fetch_sub(&svc->http->waiting, 1);
    if (rq->watch) /* the next request's clock */
        atomic_store_explicit(&rq->watch->owing_since_us, now_us(), memory_order_relaxed);
    free(rq->answer_body);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    service *svc = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    crun_log(svc->logger, CRUN_LOG_DEBUG, "service: http: %s", line);
}

/* --- starting and stopping --- */

static int resolve(service *svc, svc_http *h, crun_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%lld", (long long)svc->cfg.port);
    int e = getaddrinfo(svc->cfg.host, port, &hints, &ai);
    if (e || !ai)
        return crun_error_set(err, CRUN_ECONFIG, "service: host '%s': %s", svc->cfg.host,
                              e ? gai_strerror(e) : "no address");
    memcpy(&h->addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

int svc_http_start(service *svc, crun_error *err)
{
    svc_http *h = calloc(1, sizeof(*h));
    if (!h)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    h->listen_fd = MHD_INVALID_SOCKET;
    pthread_mutex_init(&h->conns_lock, NULL);
    svc->http = h;
    svc->answer = http_answer;
    svc->answer_socket = http_answer_socket;
    svc->rescue = http_rescue;
    int rc = resolve(svc, h, err);
    if (rc)
        return rc;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (h->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* one request thread: no pool (libmicrohttpd warns that a pool of one
     * is ignored) */
    /* with the fast path, one thread more than runs may hold: one is always
     * free to accept connections (GET /healthz) */
    int64_t threads = svc->cfg.threads + (svc->pool.fast_path ? 1 : 0);
    struct MHD_OptionItem pool[3] = {{MHD_OPTION_END, 0, NULL}};
    size_t n = 0;
    if (threads > 1)
        pool[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
    if (svc->cfg.max_connections_per_client > 0)
        pool[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                            (intptr_t)svc->cfg.max_connections_per_client, NULL};
    pool[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)svc->cfg.port, NULL, NULL, on_request, svc,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)svc->cfg.client_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)svc->cfg.max_connections,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        /* a connection's memory holds its request's headers: 16 KiB, as
         * Node.js allows (libmicrohttpd's 32 KiB is zeroed per request) */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SVC_HEADER_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, svc,
        MHD_OPTION_NOTIFY_CONNECTION, conn_notify, svc,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, svc,
        MHD_OPTION_END);
    if (!h->daemon)
        return crun_error_set(err, CRUN_EPLUGIN, "service: cannot listen on %s:%lld (is the "
                              "port in use? run with -v for details)", svc->cfg.host,
                              (long long)svc->cfg.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (unsigned)svc->cfg.port;
    return 0;
}

unsigned svc_http_port(const service *svc)
{
    return svc->http ? svc->http->port : 0;
}

void svc_http_quiesce(service *svc)
{
    svc_http *h = svc->http;
    if (h && h->daemon && h->listen_fd == MHD_INVALID_SOCKET)
        h->listen_fd = MHD_quiesce_daemon(h->daemon);
}

void svc_http_flush(service *svc, double until, size_t stuck)
{
    svc_http *h = svc->http;
    while (h && h->daemon && atomic_load(&h->waiting) > stuck && svc_now() < until)
        usleep(5000);
}

void svc_http_stop(service *svc, double until)
{
    svc_http *h = svc->http;
    if (!h)
        return;
    while (h->daemon && atomic_load(&h->waiting) > 0 && svc_now() < until)
        usleep(5000);
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    if (h->listen_fd != MHD_INVALID_SOCKET)
        close(h->listen_fd);
    pthread_mutex_destroy(&h->conns_lock);
    free(h);
    svc->http = NULL;
}
