/* checks.c - the checks runner: commands that must pass around a run.
 *
 *     safe: {type: checks, runner: par,
 *            before: {lint: [cppcheck, src]}, after: {smoke: [sh, -c, "test -s out"]}}
 *
 * `before` checks run in the project folder, in the order written, before
 * any node; the first that fails stops the run (status 1) naming it and
 * showing its output.  Then the wrapped runner runs the plan; when it
 * succeeded, the `after` checks run, and one that fails fails the run
 * (the outputs stay).  Checks are started by child.c (Ctrl-C stops them).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "inner.h"

typedef struct check {
    char *name;
    char **argv; /* NULL-terminated */
} check;

typedef struct checks {
    crun_logger *logger;
    char *self;
    char *runner;
    check *before, *after;
    size_t n_before, n_after;
} checks;

static void free_list(check *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].name);
        for (size_t k = 0; list[i].argv && list[i].argv[k]; k++)
            free(list[i].argv[k]);
        free(list[i].argv);
    }
    free(list);
}

static int parse_argv(const crun_options *opts, const char *key, const char *name, json_t *v,
                      check *c, crun_error *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(v, i)))
            n = 0;
    if (n == 0)
        return crun_error_set(err, CRUN_ECONFIG, "%s: %s check '%s': expected a command as a "
                              "non-empty list of strings ([cppcheck, src])",
                              crun_options_where(opts, key), key, name);
    if (!(c->name = strdup(name)) || !(c->argv = calloc(n + 1, sizeof(char *))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!(c->argv[i] = strdup(json_string_value(json_array_get(v, i)))))
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

static int parse_list(const crun_options *opts, const char *key, check **out, size_t *n,
                      crun_error *err)
{
    json_t *map = json_object_get(crun_options_json(opts), key);
    if (!map)
        return 0;
    if (!json_is_object(map))
        return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s': expected a map of check "
                              "names to commands ({lint: [cppcheck, src]})",
                              crun_options_where(opts, key), key);
    if (!(*out = calloc(json_object_size(map) + 1, sizeof(check))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v) {
        int rc = parse_argv(opts, key, name, v, &(*out)[*n], err);
        (*n)++;
        if (rc)
            return rc;
    }
    return 0;
}

static void checks_destroy(void *instance)
{
    checks *c = instance;
    if (!c)
        return;
    free_list(c->before, c->n_before);
    free_list(c->after, c->n_after);
    free(c->self);
    free(c->runner);
    free(c);
}

static int checks_create(const crun_options *opts, crun_logger *logger, void **instance,
                         crun_error *err)
{
    static const char *const known[] = {"runner", "before", "after", NULL};
    int rc = crun_options_check_known(opts, known, err);
    const char *runner = NULL;
    if (!rc)
        rc = crun_options_string(opts, "runner", &runner, err);
    if (!rc && !runner)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: option 'runner' is required: the name of "
                            "the runner whose runs are checked", crun_options_owner(opts));
    checks *c = rc ? NULL : calloc(1, sizeof(*c));
    if (!rc && !c)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc) {
        c->logger = logger;
        c->self = inner_own_name(opts);
        c->runner = strdup(runner);
        rc = parse_list(opts, "before", &c->before, &c->n_before, err);
    }
    if (!rc)
        rc = parse_list(opts, "after", &c->after, &c->n_after, err);
    if (!rc && (!c->self || !c->runner))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (rc) {
        checks_destroy(c);
        return rc;
    }
    *instance = c;
    return 0;
}

/* The output, line by line, under the check's name. */
static void show_output(checks *c, crun_log_level level, const check *k, const child_output *o)
{
    const char *p = o->text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        crun_log(c->logger, level, "check '%s': | %.*s", k->name, len, p);
        p = nl ? nl + 1 : p + len;
    }
    if (o->cut)
        crun_log(c->logger, level, "check '%s': | (output cut at %d bytes)", k->name,
                 CHILD_OUTPUT_MAX);
}

/* Run one check: 0 when it passed, else CRUN_ENODE (or CRUN_ECANCELED). */
static int run_check(checks *c, crun_run *run, const char *when, const check *k, crun_error *err)
{
    char cmd[512], how[128];
    child_argv_text(k->argv, cmd, sizeof(cmd));
    crun_log(c->logger, CRUN_LOG_INFO, "%s check '%s': %s", when, k->name, cmd);
    int st = 0;
    child_output out;
    const char *dir = crun_session_dir(crun_run_session(run));
    int rc = child_run(run, k->argv, NULL, dir, &st, &out, err);
    if (rc) {
        crun_error_prefix(err, "%s check '%s': ", when, k->name);
        return rc;
    }
    if (crun_run_cancelled(run)) {
        child_output_free(&out);
        return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled during %s check '%s'",
                              when, k->name);
    }
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    show_output(c, ok ? CRUN_LOG_DEBUG : CRUN_LOG_ERROR, k, &out);
    child_output_free(&out);
    if (ok)
        return 0;
    return crun_error_set(err, CRUN_ENODE, "%s check '%s' failed: `%s` %s", when, k->name, cmd,
                          child_status_text(st, how, sizeof(how)));
}

static int checks_run(void *instance, crun_run *run, crun_error *err)
{
    checks *c = instance;
    json_t *stack = NULL;
    int rc = inner_stack(run, c->self, c->runner, &stack, err);
    json_decref(stack);
    for (size_t i = 0; !rc && i < c->n_before; i++)
        rc = run_check(c, run, "before", &c->before[i], err);
    if (rc)
        return rc;
    inner_outcome out;
    rc = inner_run(run, c->runner, NULL, &out, err);
    inner_outcome_clear(&out);
    for (size_t i = 0; !rc && i < c->n_after; i++)
        rc = run_check(c, run, "after", &c->after[i], err);
    return rc;
}

static const crun_runner_type checks_type = {
    .size = sizeof(crun_runner_type),
    .create = checks_create,
    .run = checks_run,
    .destroy = checks_destroy,
    .flags = CRUN_RUNNER_SHARED, /* the instance holds only the options */
};

static const crun_plugin checks_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "checks",
    .version = "1.0.0",
    .description = "runs commands before and after a wrapped runner's run; a failing one "
                   "fails the run",
    .table = &checks_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &checks_plugin;
}
