/* repeat_runner.c - a runner that wraps a runner: it runs the runner named
 * by `runner:` `times` times, with parameter `param` (if given) set to the
 * repetition's number each time, and stops at the first failure. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <crun/crun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct repeat { char *inner, *param; int64_t times; } repeat;

static const char *const known[] = {"runner", "times", "param", NULL};

/* Before anything runs, with the session: the options and the wrapped runner. */
static int check(const crun_options *opts, crun_session *session, crun_error *err)
{
    const char *inner = NULL;
    int rc = crun_options_check_known(opts, known, err);
    if (!rc)
        rc = crun_options_string(opts, "runner", &inner, err);
    if (!rc && !inner)
        return crun_error_set(err, CRUN_ECONFIG, "%s: needs 'runner'", crun_options_owner(opts));
    return rc ? rc : crun_session_check_runner(session, inner, err);
}

static int create(const crun_options *opts, crun_logger *log, void **out, crun_error *err)
{
    (void)log;
    const char *inner = NULL, *param = NULL;
    repeat *r = calloc(1, sizeof(*r));
    if (!r)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    r->times = 2;
    int rc = crun_options_int(opts, "times", 1, 1000, &r->times, err);
    if (!rc)
        rc = crun_options_string(opts, "runner", &inner, err);
    if (!rc)
        rc = crun_options_string(opts, "param", &param, err);
    r->inner = inner ? strdup(inner) : NULL;
    r->param = param ? strdup(param) : NULL;
    *out = r;
    return rc;
}

static int run(void *instance, crun_run *run, crun_error *err)
{
    repeat *r = instance;
    int rc = 0;
    for (int64_t i = 1; i <= r->times && rc == 0; i++) {
        char label[32];
        snprintf(label, sizeof(label), "repeat %lld", (long long)i);
        crun_delegate_options o = CRUN_DELEGATE_OPTIONS_INIT;
        o.runner = r->inner;
        o.label = label; /* its log lines: "repeat 2: node: ..." */
        o.params = r->param ? json_pack("{sI}", r->param, (json_int_t)i) : NULL;
        crun_run_result res = CRUN_RUN_RESULT_INIT;
        rc = crun_run_delegate(run, &o, &res, err); /* its failure is the outer run's */
        if (rc == 0)
            crun_log(crun_run_logger(run), CRUN_LOG_INFO, "%s: %zu nodes", label, res.nodes_done);
        crun_run_result_clear(&res);
        json_decref(o.params);
    }
    return rc;
}

static void destroy(void *instance)
{
    free(((repeat *)instance)->inner);
    free(((repeat *)instance)->param);
    free(instance);
}

static const crun_runner_type type = {.size = sizeof(type), .check = check, .create = create,
                                      .run = run, .destroy = destroy};
static const crun_plugin plugin = {CRUN_PLUGIN_HEAD, .kind = CRUN_PLUGIN_RUNNER, .name = "repeat",
                                   .version = "0.1.0", .table = &type,
                                   .description = "runs the runner it wraps N times"};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void) { return &plugin; }
