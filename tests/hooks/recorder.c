/* recorder.c - a hook plugin for the tests: it writes every event it sees as
 * one line "event[ node[ dataset]]" to a file, and misbehaves on request.
 *
 * Options (crun.ini: `recorder = path=events.txt,fail_at=after_node_run`):
 *   path=FILE          append the lines here (required)
 *   tag=T              start each line with "T " (two recorders, one file)
 *   errors=true        end on_*_error lines with ": <the error message>"
 *   fail_at=EVENT      fail in that hook point ("refused by the recorder");
 *   fail_node=NODE     ... only for that node's event
 *   replace_node=N, replace_arg=A, replace_value=JSON
 *                      in before_node_run of N, replace input A with the value
 *   dwell_ms=N         stay N ms inside every callback that names a node, so
 *                      that concurrent calls would overlap if not serialised
 *
 * Built twice: `recorder` leaves CRUN_HOOKS_THREAD_SAFE out, so the host must
 * serialise its calls; `recorder_ts` (-DRECORDER_THREAD_SAFE) sets it.  Both
 * check: a call that starts while another is inside writes "OVERLAP <event>".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crun/crun.h"

#ifdef RECORDER_THREAD_SAFE
#define RECORDER_NAME "recorder_ts"
#define RECORDER_FLAGS CRUN_HOOKS_THREAD_SAFE
#else
#define RECORDER_NAME "recorder"
#define RECORDER_FLAGS 0
#endif

typedef struct recorder {
    int fd;
    char tag[32];
    bool errors;
    int fail_at;            /* a crun_hook_point, or -1 */
    char *fail_node;
    char *replace_node;
    char *replace_arg;
    json_t *replace_value;
    int64_t dwell_ms;
    atomic_int inside;      /* calls in progress */
} recorder;

static void write_line(recorder *r, const char *text)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s%s%s\n", r->tag, r->tag[0] ? " " : "", text);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    /* O_APPEND and one write per line: whole lines even if calls overlapped */
    while (write(r->fd, buf, len) < 0 && errno == EINTR)
        continue;
}

static void dwell(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

static int replace(recorder *r, const crun_hook_event *ev, crun_error *err)
{
    crun_value *v = crun_value_json_new(json_deep_copy(r->replace_value));
    int rc = crun_hook_replace_input(ev, r->replace_arg, v);
    if (rc)
        return crun_error_set(err, rc, "cannot replace input '%s' of node '%s'", r->replace_arg,
                              ev->node);
    return 0;
}

static int record(void *instance, const crun_hook_event *ev, crun_error *err)
{
    recorder *r = instance;
    bool overlap = atomic_fetch_add(&r->inside, 1) != 0;
    char text[900];
    int len = snprintf(text, sizeof(text), "%s%s", overlap ? "OVERLAP " : "",
                       crun_hook_point_name(ev->point));
    if (ev->node)
        len += snprintf(text + len, sizeof(text) - (size_t)len, " %s", ev->node);
    if (ev->dataset && len < (int)sizeof(text))
        len += snprintf(text + len, sizeof(text) - (size_t)len, " %s", ev->dataset);
    if (r->errors && ev->error && len < (int)sizeof(text))
        snprintf(text + len, sizeof(text) - (size_t)len, ": %s",
                 ev->error->message ? ev->error->message : "(no message)");
    write_line(r, text);
    if (r->dwell_ms > 0 && ev->node)
        dwell(r->dwell_ms);
    int rc = 0;
    bool for_node = !r->fail_node || (ev->node && strcmp(ev->node, r->fail_node) == 0);
    if ((int)ev->point == r->fail_at && for_node)
        rc = crun_error_set(err, CRUN_EHOOK, "refused by the recorder");
    else if (ev->point == CRUN_HOOK_BEFORE_NODE_RUN && r->replace_node && ev->node &&
             strcmp(ev->node, r->replace_node) == 0)
        rc = replace(r, ev, err);
    atomic_fetch_sub(&r->inside, 1);
    return rc;
}

/* --- options ------------------------------------------------------------------------ */

static int point_named(const char *name)
{
    for (int p = 0; p < CRUN_HOOK_POINT_COUNT; p++)
        if (strcmp(crun_hook_point_name((crun_hook_point)p), name) == 0)
            return p;
    return -1;
}

static int copy_option(const crun_options *opts, const char *key, char **out, crun_error *err)
{
    const char *s = NULL;
    int rc = crun_options_string(opts, key, &s, err);
    if (!rc && s && !(*out = strdup(s)))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return rc;
}

static void rec_destroy(void *instance)
{
    recorder *r = instance;
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->fail_node);
    free(r->replace_node);
    free(r->replace_arg);
    json_decref(r->replace_value);
    free(r);
}

static int read_options(recorder *r, const crun_options *opts, const char **path, crun_error *err)
{
    static const char *const known[] = {"path", "tag", "errors", "fail_at", "fail_node",
                                        "replace_node", "replace_arg", "replace_value",
                                        "dwell_ms", NULL};
    const char *tag = "", *fail_at = NULL;
    int rc = crun_options_check_known(opts, known, err);
    if (!rc)
        rc = crun_options_string(opts, "path", path, err);
    if (!rc)
        rc = crun_options_string(opts, "tag", &tag, err);
    if (!rc)
        rc = crun_options_bool(opts, "errors", &r->errors, err);
    if (!rc)
        rc = crun_options_string(opts, "fail_at", &fail_at, err);
    if (!rc)
        rc = copy_option(opts, "fail_node", &r->fail_node, err);
    if (!rc)
        rc = copy_option(opts, "replace_node", &r->replace_node, err);
    if (!rc)
        rc = copy_option(opts, "replace_arg", &r->replace_arg, err);
    if (!rc)
        rc = crun_options_int(opts, "dwell_ms", 0, 10000, &r->dwell_ms, err);
    if (rc)
        return rc;
    snprintf(r->tag, sizeof(r->tag), "%s", tag);
    if (fail_at && (r->fail_at = point_named(fail_at)) < 0)
        return crun_error_set(err, CRUN_ECONFIG, "%s: option 'fail_at': no hook point '%s'",
                              crun_options_where(opts, "fail_at"), fail_at);
    r->replace_value = json_incref(json_object_get(crun_options_json(opts), "replace_value"));
    if (r->replace_node && (!r->replace_arg || !r->replace_value))
        return crun_error_set(err, CRUN_ECONFIG, "%s: replace_node needs replace_arg and "
                              "replace_value", crun_options_where(opts, "replace_node"));
    if (!*path)
        return crun_error_set(err, CRUN_ECONFIG, "%s: option 'path' is required",
                              crun_options_owner(opts));
    return 0;
}

static int rec_create(const crun_options *opts, crun_logger *logger, void **instance,
                      crun_error *err)
{
    (void)logger;
    recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    r->fd = -1;
    r->fail_at = -1;
    atomic_init(&r->inside, 0);
    const char *path = NULL;
    int rc = read_options(r, opts, &path, err);
    if (!rc && (r->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        rc = crun_error_set(err, CRUN_ECONFIG, "cannot open %s: %s", path, strerror(errno));
    if (rc) {
        rec_destroy(r);
        return rc;
    }
    *instance = r;
    return 0;
}

static const crun_hooks_type recorder_type = {
    .size = sizeof(crun_hooks_type),
    .flags = RECORDER_FLAGS,
    .create = rec_create,
    .destroy = rec_destroy,
    .on = {record, record, record, record, record, record, record, record, record, record,
           record},
};

static const crun_plugin recorder_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_HOOKS,
    .name = RECORDER_NAME,
    .version = "0.0.1",
    .description = "test fixture: records every hook event to a file",
    .table = &recorder_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &recorder_plugin;
}
