/* cli_viz_serve.c - `crun viz --serve [--port N] [--events FILE]`: the html
 * page of `crun viz` on http://127.0.0.1:PORT/, and, read again on every
 * request, the events file a run's events hook is writing:
 *   GET /              the page (its script polls /events.json each second)
 *   GET /events.json   the file's events, a JSON array ([] while it is absent)
 *   GET /states.json   the last run in it: {"run_id", "status", "nodes":
 *                      {NAME: {"status", "start", "end", "duration", "error"}}}
 * Loopback only, GET only; it serves until SIGINT or SIGTERM (exit 130).
 * Without libmicrohttpd at build time --serve says so (exit 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#ifdef CRUN_HAVE_MHD
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

typedef struct viz_server {
    const char *page;
    size_t len;
    const char *events; /* the events file, or NULL */
} viz_server;

/* The events of the file; [] while the run has not created it. */
static json_t *current_events(const viz_server *v, crun_error *err)
{
    json_t *events = NULL;
    if (!v->events)
        return json_array();
    FILE *probe = fopen(v->events, "r");
    if (!probe)
        return json_array();
    fclose(probe);
    return cli_viz_read_events(v->events, &events, err) == 0 ? events : NULL;
}

static void node_event(json_t *nodes, json_t *e, const char *kind)
{
    const char *node = json_string_value(json_object_get(e, "node"));
    if (!node)
        return;
    json_t *st = json_object_get(nodes, node), *time = json_object_get(e, "time");
    if (!st) {
        st = json_object();
        json_object_set_new(nodes, node, st);
    }
    const char *status = json_string_value(json_object_get(e, "status"));
    if (strcmp(kind, "before_node_run") == 0) {
        json_object_set_new(st, "status", json_string("running"));
        json_object_set(st, "start", time);
        return;
    }
    bool cancelled = status && strcmp(status, "cancelled") == 0;
    bool failed = strcmp(kind, "on_node_error") == 0 || (status && strcmp(status, "failed") == 0);
    json_object_set_new(st, "status", json_string(cancelled ? "cancelled" : failed ? "failed" : "ok"));
    json_object_set(st, "end", time);
    json_t *start = json_object_get(st, "start");
    if (json_is_number(start) && json_is_number(time))
        json_object_set_new(st, "duration",
                            json_real(json_number_value(time) - json_number_value(start)));
    json_t *error = json_object_get(e, "error");
    if (error)
        json_object_set(st, "error", error);
}

/* The node states of the last run among events (the run of the last event). */
static json_t *run_states(json_t *events)
{
    size_t n = json_array_size(events);
    json_t *run_id = n ? json_object_get(json_array_get(events, n - 1), "run_id") : NULL;
    json_t *nodes = json_object();
    const char *status = n ? "running" : "none";
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        if (!json_equal(json_object_get(e, "run_id"), run_id) &&
            (run_id || json_object_get(e, "run_id")))
            continue;
        const char *kind = json_string_value(json_object_get(e, "event"));
        const char *st = json_string_value(json_object_get(e, "status"));
        if (strcmp(kind, "after_pipeline_run") == 0)
            status = "ok";
        else if (strcmp(kind, "on_pipeline_error") == 0)
            status = st && strcmp(st, "cancelled") == 0 ? "cancelled" : "failed";
        else if (strcmp(kind, "before_node_run") == 0 || strcmp(kind, "after_node_run") == 0 ||
                 strcmp(kind, "on_node_error") == 0)
            node_event(nodes, e, kind);
    }
    return json_pack("{s:O?, s:s, s:o}", "run_id", run_id, "status", status, "nodes", nodes);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                            void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned code, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (!text)
        return MHD_NO;
    return reply(conn, code, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    const viz_server *v = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_json(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                         json_pack("{s:s}", "error", "crun viz --serve answers GET only"));
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)v->page, v->len,
                    MHD_RESPMEM_PERSISTENT);
    bool states = strcmp(url, "/states.json") == 0;
    if (!states && strcmp(url, "/events.json") != 0)
        return send_json(conn, MHD_HTTP_NOT_FOUND,
                         json_pack("{s:s, s:s}", "error", "no such page", "url", url));
    crun_error err = {0};
    json_t *events = current_events(v, &err);
    if (!events) {
        json_t *e = json_pack("{s:s}", "error", err.message ? err.message : "cannot read events");
        crun_error_clear(&err);
        return send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, e);
    }
    if (!states)
        return send_json(conn, MHD_HTTP_OK, events);
    json_t *st = run_states(events);
    json_decref(events);
    return send_json(conn, MHD_HTTP_OK, st);
}

static int parse_port(const char *text, unsigned *port)
{
    char *end = NULL;
    long p = text ? strtol(text, &end, 10) : 0;
    if (text && (!*text || *end || p < 0 || p > 65535))
        return usage_error("--port must be a number from 0 to 65535, got '%s'", text);
    *port = (unsigned)p;
    return 0;
}

int cli_viz_serve(cli *c, const char *page, size_t len, crun_error *err)
{
    unsigned port = 0;
    if (parse_port(c->port, &port) != 0)
        return EXIT_USAGE;
    viz_server v = {page, len, c->events};
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, answer,
        &v, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_END);
    if (!d) {
        crun_error_set(err, CRUN_EUSAGE, "crun viz --serve: cannot listen on 127.0.0.1:%u "
                       "(in use? try another --port, or --port 0 for any free one)", port);
        return report(err);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("crun viz: serving http://127.0.0.1:%u/ (Ctrl-C stops)\n",
           info ? (unsigned)info->port : port);
    fflush(stdout);
    struct timespec tick = {0, 100 * 1000 * 1000};
    while (!c->signalled || !atomic_load(c->signalled))
        nanosleep(&tick, NULL);
    MHD_stop_daemon(d);
    return EXIT_OK; /* main makes it 130: the server ends on a signal */
}

#else

int cli_viz_serve(cli *c, const char *page, size_t len, crun_error *err)
{
    (void)c;
    (void)page;
    (void)len;
    (void)err;
    return usage_error("%s", "crun viz --serve needs libmicrohttpd, which this crun was built "
                       "without (Debian: libmicrohttpd-dev, then rebuild)");
}

#endif
