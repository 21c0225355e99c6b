/* events.c - the `events` hook: one JSON object per line for every hook
 * event, to a file (appended) or to stderr.
 *
 *   {"event":"after_node_run","run_id":"...","time":1763917846.123456,"node":"split","status":"ok","attempt":1}
 *
 * Keys, in this order: event (the hook point's name), run_id, time (Unix
 * seconds, fractional), then where they apply node, dataset, status ("ok",
 * "failed", "cancelled"), error (the message) and attempt (before/after_node_run
 * and on_node_error: 1 for a node's first try, 2 for its first retry...).  A line is built on the
 * calling thread, in a buffer sized for the worst case, by a small JSON
 * writer of its own (strings are escaped and bytes that are not UTF-8 become
 * U+FFFD, so every line is valid JSON; no printf: this runs several times per
 * node).  It then goes out in one write(2) under the instance's mutex, to a
 * file opened with O_APPEND: lines of parallel nodes (or of several crun
 * processes sharing the file) never interleave, nothing sits in a buffer, and
 * a reader tailing the file sees whole lines.  The hook is thread-safe by
 * that mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crun/crun.h"

typedef struct events {
    pthread_mutex_t lock;
    int fd;               /* stderr, or the file opened with O_APPEND */
    char *path;           /* NULL for stderr */
} events;

/* --- a line ------------------------------------------------------------------------ */

/* The most bytes a JSON string of s can take: every byte as \u00XX. */
static size_t json_bound(const char *s)
{
    return s ? 6 * strlen(s) + 2 : 0;
}

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

static char *put_json_string(char *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *w++ = '"';
    const unsigned char *p = (const unsigned char *)s;
    for (;;) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        w = put(w, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        if (*p >= 0x80) {
            size_t n = crun_utf8_sequence(p, strnlen((const char *)p, 4));
            w = n ? put(w, (const char *)p, n) : put(w, "\\ufffd", 6);
            p += n ? n : 1;
            continue;
        }
        *w++ = '\\';
        switch (*p) {
        case '"': case '\\': *w++ = (char)*p; break;
        case '\n': *w++ = 'n'; break;
        case '\t': *w++ = 't'; break;
        case '\r': *w++ = 'r'; break;
        default:
            w = put(w, "u00", 3);
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
        p++;
    }
    *w++ = '"';
    return w;
}

static char *put_field(char *w, const char *key, const char *value)
{
    *w++ = ',';
    *w++ = '"';
    w = put(w, key, strlen(key));
    *w++ = '"';
    *w++ = ':';
    return put_json_string(w, value);
}

/* v in decimal, at least `digits` digits (zero-padded). */
static char *put_uint(char *w, unsigned long long v, int digits)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < digits);
    while (n)
        *w++ = buf[--n];
    return w;
}

/* The status an event reports, or NULL when it has none. */
static const char *status_of(const crun_hook_event *ev)
{
    switch (ev->point) {
    case CRUN_HOOK_AFTER_NODE_RUN:
    case CRUN_HOOK_AFTER_PIPELINE_RUN:
        return "ok";
    case CRUN_HOOK_ON_NODE_ERROR:
    case CRUN_HOOK_ON_PIPELINE_ERROR:
        return ev->status == CRUN_ECANCELED ? "cancelled" : "failed";
    default:
        return NULL;
    }
}

static const char *error_of(const crun_hook_event *ev)
{
    if (!ev->error)
        return NULL;
    return ev->error->message ? ev->error->message : crun_strerror(ev->error->code);
}

/* Room for the line of ev: fixed text, the time, every string escaped. */
static size_t line_bound(const crun_hook_event *ev)
{
    return 192 + json_bound(ev->run_id) + json_bound(ev->node) + json_bound(ev->dataset) +
           json_bound(error_of(ev));
}

/* Write the line into buf (line_bound(ev) bytes); returns its length. */
static size_t build(char *buf, const crun_hook_event *ev)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *w = put(buf, "{\"event\":", 9);
    w = put_json_string(w, crun_hook_point_name(ev->point));
    w = put_field(w, "run_id", ev->run_id ? ev->run_id : "");
    w = put(w, ",\"time\":", 8);
    w = put_uint(w, (unsigned long long)ts.tv_sec, 1);
    *w++ = '.';
    w = put_uint(w, (unsigned long long)(ts.tv_nsec / 1000), 6);
    if (ev->node)
        w = put_field(w, "node", ev->node);
    if (ev->dataset)
        w = put_field(w, "dataset", ev->dataset);
    const char *status = status_of(ev), *error = error_of(ev);
    if (status)
        w = put_field(w, "status", status);
    if (error)
        w = put_field(w, "error", error);
    if (CRUN_HOOK_EVENT_HAS(ev, attempt) && ev->attempt) {
        w = put(w, ",\"attempt\":", 11);
        w = put_uint(w, ev->attempt, 1);
    }
    w = put(w, "}\n", 2);
    return (size_t)(w - buf);
}

/* --- the callback ------------------------------------------------------------------------ */

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int on_event(void *instance, const crun_hook_event *ev, crun_error *err)
{
    events *e = instance;
    char small[1024];
    size_t bound = line_bound(ev);
    char *buf = bound <= sizeof(small) ? small : malloc(bound);
    if (!buf)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    size_t len = build(buf, ev);
    pthread_mutex_lock(&e->lock);
    int rc = write_all(e->fd, buf, len);
    int saved = errno;
    pthread_mutex_unlock(&e->lock);
    if (buf != small)
        free(buf);
    if (rc)
        return crun_error_set(err, CRUN_EIO, "writing %s: %s", e->path ? e->path : "stderr",
                              strerror(saved));
    return 0;
}

/* --- the plugin ----------------------------------------------------------------------------- */

typedef struct events_settings {
    const char *path;
} events_settings;

static const crun_option events_options[] = {
    {.name = "path", .type = CRUN_OPTION_STRING, .def = "-",
     .doc = "file the lines are appended to (folders created); - or empty: stderr",
     .offset = offsetof(events_settings, path)},
};

static int events_create(const crun_options *opts, crun_logger *logger, void **instance,
                         crun_error *err)
{
    (void)logger;
    events_settings set = {0};
    int rc = crun_options_read(opts, events_options, CRUN_OPTION_COUNT(events_options), &set, err);
    if (rc)
        return rc;
    const char *path = set.path;
    if (path && (!path[0] || strcmp(path, "-") == 0))
        path = NULL;
    events *e = calloc(1, sizeof(*e));
    if (!e || (path && !(e->path = strdup(path)))) {
        free(e);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    e->fd = STDERR_FILENO;
    if (path) {
        if ((rc = crun_mkdir_parents(path, err)) == 0 &&
            (e->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666)) < 0)
            rc = crun_error_set(err, CRUN_ECONFIG, "%s", strerror(errno));
        if (rc) {
            crun_error_prefix(err, "%s: option 'path': cannot create %s: ",
                              crun_options_where(opts, "path"), path);
            err->code = CRUN_ECONFIG;
            free(e->path);
            free(e);
            return CRUN_ECONFIG;
        }
    }
    pthread_mutex_init(&e->lock, NULL);
    *instance = e;
    return 0;
}

static void events_destroy(void *instance)
{
    events *e = instance;
    if (!e)
        return;
    if (e->path)
        close(e->fd);
    pthread_mutex_destroy(&e->lock);
    free(e->path);
    free(e);
}

static const crun_hooks_type events_type = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .create = events_create,
    .destroy = events_destroy,
    .on = {on_event, on_event, on_event, on_event, on_event, on_event, on_event, on_event,
           on_event, on_event, on_event},
};

static const crun_plugin events_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_HOOKS,
    .name = "events",
    .version = "1.0.0",
    .description = "one JSON line per hook event (run id, node, dataset, time, status) to a "
                   "file or stderr",
    .table = &events_type,
    .options = events_options,
    .n_options = CRUN_OPTION_COUNT(events_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &events_plugin;
}
