/* subprocess.c - the subprocess runner: run the wrapped runner inside a
 * prepared environment.
 *
 *     inside: {type: subprocess, runner: par, command: [conda, run, -n, env],
 *              setup: [[conda, env, update, -f, environment.yml]]}
 *
 * After the `setup` commands (each must succeed; run in the project folder,
 * output logged), a child crun runs the plan with the wrapped runner under
 * the `command` prefix (launch.c).  Its output, exit status, Ctrl-C and
 * resume point pass through.  The child is this same crun program
 * (/proc/self/exe) unless `crun:` names another.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "subprocess.h"

static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static void sub_destroy(void *instance)
{
    subprocess *sp = instance;
    if (!sp)
        return;
    free(sp->self);
    free(sp->runner);
    free(sp->crun);
    free_argv(sp->command);
    for (size_t i = 0; sp->setup && sp->setup[i]; i++)
        free_argv(sp->setup[i]);
    free(sp->setup);
    free(sp);
}

/* A JSON list of strings as argv (empty allowed when may_be_empty). */
static int to_argv(const crun_options *opts, const char *key, json_t *v, bool may_be_empty,
                   char ***out, crun_error *err)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    bool ok = json_is_array(v) && (n || may_be_empty);
    for (size_t i = 0; ok && i < n; i++)
        ok = json_is_string(json_array_get(v, i));
    if (!ok)
        return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s': expected a command as a "
                              "%slist of strings ([conda, run, -n, env])",
                              crun_options_where(opts, key), key, may_be_empty ? "" : "non-empty ");
    if (!(*out = calloc(n + 1, sizeof(char *))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!((*out)[i] = strdup(json_string_value(json_array_get(v, i)))))
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

static int parse_setup(const crun_options *opts, subprocess *sp, crun_error *err)
{
    json_t *v = json_object_get(crun_options_json(opts), "setup");
    size_t n = json_array_size(v);
    if (v && !json_is_array(v))
        return crun_error_set(err, CRUN_ECONFIG, "%s: option 'setup': expected a list of "
                              "commands ([[make, env]])", crun_options_where(opts, "setup"));
    if (!(sp->setup = calloc(n + 1, sizeof(char **))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = to_argv(opts, "setup", json_array_get(v, i), false, &sp->setup[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

/* The crun program: `crun:`, else this process's own (/proc/self/exe). */
static int find_crun(const crun_options *opts, subprocess *sp, crun_error *err)
{
    const char *given = NULL;
    int rc = crun_options_string(opts, "crun", &given, err);
    if (rc)
        return rc;
    if (given) {
        sp->crun = strdup(given);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
            return crun_error_set(err, CRUN_ECONFIG, "%s: cannot find the crun program "
                                  "(/proc/self/exe); say where with option 'crun'",
                                  crun_options_owner(opts));
        exe[n] = '\0';
        sp->crun = strdup(exe);
    }
    return sp->crun ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static int sub_create(const crun_options *opts, crun_logger *logger, void **instance,
                      crun_error *err)
{
    static const char *const known[] = {"runner", "command", "setup", "crun", "grace", NULL};
    const char *runner = NULL;
    int rc = crun_options_check_known(opts, known, err);
    if (!rc)
        rc = crun_options_string(opts, "runner", &runner, err);
    if (!rc && !runner)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: option 'runner' is required: the runner "
                            "the subprocess runs", crun_options_owner(opts));
    if (rc)
        return rc;
    subprocess *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    *sp = (subprocess){.logger = logger, .self = inner_own_name(opts), .runner = strdup(runner),
                       .grace = 10};
    if (!sp->self || !sp->runner)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    json_t *cmd = json_object_get(crun_options_json(opts), "command");
    if (!rc)
        rc = cmd ? to_argv(opts, "command", cmd, true, &sp->command, err)
                 : (sp->command = calloc(1, sizeof(char *))) ? 0
                 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc)
        rc = parse_setup(opts, sp, err);
    if (!rc)
        rc = find_crun(opts, sp, err);
    if (!rc)
        rc = crun_options_int(opts, "grace", 0, 3600, &sp->grace, err);
    if (rc) {
        sub_destroy(sp);
        return rc;
    }
    *instance = sp;
    return 0;
}

static int run_setup(subprocess *sp, crun_run *run, char **argv, crun_error *err)
{
    char cmd[512], how[128];
    child_argv_text(argv, cmd, sizeof(cmd));
    crun_log(sp->logger, CRUN_LOG_INFO, "subprocess: setup: %s", cmd);
    int st = 0;
    child_output out;
    int rc = child_run(run, argv, NULL, crun_session_dir(crun_run_session(run)), &st, &out, err);
    if (rc)
        return rc;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    for (const char *p = out.text; p && *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        crun_log(sp->logger, ok ? CRUN_LOG_DEBUG : CRUN_LOG_ERROR, "setup: | %.*s", len, p);
        p = nl ? nl + 1 : p + len;
    }
    child_output_free(&out);
    if (crun_run_cancelled(run))
        return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled during setup");
    if (ok)
        return 0;
    return crun_error_set(err, CRUN_ENODE, "runner '%s': setup command `%s` %s", sp->self, cmd,
                          child_status_text(st, how, sizeof(how)));
}

static int sub_run(void *instance, crun_run *run, crun_error *err)
{
    subprocess *sp = instance;
    json_t *stack = NULL;
    int rc = inner_stack(run, sp->self, sp->runner, &stack, err);
    json_decref(stack);
    for (size_t i = 0; !rc && sp->setup[i]; i++)
        rc = run_setup(sp, run, sp->setup[i], err);
    if (rc)
        return rc;
    inner_outcome out;
    rc = sub_launch(sp, run, &out, err);
    inner_report(run, &out);
    inner_outcome_clear(&out);
    return rc;
}

static const crun_runner_type sub_type = {
    .size = sizeof(crun_runner_type),
    .create = sub_create,
    .run = sub_run,
    .destroy = sub_destroy,
    .flags = CRUN_RUNNER_SHARED, /* the instance holds only the options */
};

static const crun_plugin sub_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "subprocess",
    .version = "1.0.0",
    .description = "runs a wrapped runner in a child crun under a command prefix (conda run, "
                   "env, bwrap, srun)",
    .table = &sub_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &sub_plugin;
}
