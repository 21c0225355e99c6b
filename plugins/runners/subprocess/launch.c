/* launch.c - the child crun of the subprocess runner.
 *
 *     <command...> <crun> run --project P --env E --runner <wrapped>
 *                  --run-id ID --nodes a,b [--pipeline X] --params k=<json>,...
 *
 * It gets the outer run's id, nodes, parameters (each top-level key as
 * JSON) and env; libcrun starts it (crun_run_spawn: the session's PATH and
 * environment, a session of its own).  Its stdout is ours; its stderr
 * passes through line by line, except the failure summary and the resume
 * hint, which are read (what failed, where a resume starts) and left for
 * the outer run to print with the outer runner's name.  Cancelling the run
 * sends SIGINT to its group (its spec's cancel_signal), as a Ctrl-C at a
 * terminal would, and SIGKILL if it has not ended after `grace` seconds;
 * the child and what it left are reaped (crun_run_reap) before this
 * returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "subprocess.h"

typedef struct child {
    char line[8192];
    size_t len;
    bool resume_next;
    inner_outcome *out;
} child;

/* --- the command line --- */

static int push(json_t *argv, const char *s)
{
    return json_array_append_new(argv, json_string(s ? s : ""));
}

/* "k=<json>,..." of every top-level parameter. */
static char *params_text(json_t *params)
{
    char *text = strdup(""), *next = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        char *val = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text || !val || asprintf(&next, "%s%s%s=%s", text, text[0] ? "," : "", key,
                                      val) < 0)
            next = NULL;
        free(val);
        free(text);
        text = next;
    }
    return text;
}

static json_t *child_argv(subprocess *sp, crun_run *run)
{
    crun_session *s = crun_run_session(run);
    json_t *argv = json_array(), *pipes = NULL;
    for (size_t i = 0; sp->command[i]; i++)
        push(argv, sp->command[i]);
    char *nodes = inner_node_list(run), *params = params_text(crun_run_params(run));
    const char *pipeline = inner_pipeline(run, &pipes);
    const char *fixed[] = {sp->crun, "run", "--project", crun_session_dir(s), "--env",
                           crun_session_env(s), "--runner", sp->runner, "--run-id",
                           crun_run_id(run), "--nodes", nodes};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
        push(argv, fixed[i]);
    if (pipeline) {
        push(argv, "--pipeline");
        push(argv, pipeline);
    }
    if (params && params[0]) {
        push(argv, "--params");
        push(argv, params);
    }
    json_decref(pipes);
    if (!nodes || !params) {
        json_decref(argv);
        argv = NULL;
    }
    free(nodes);
    free(params);
    return argv;
}

/* --- its stderr --- */

static void put_line(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* "crun: the run failed at nodes 'a', 'b'" into out->failed_nodes. */
static void read_failed(const char *line, inner_outcome *out)
{
    size_t n = 0;
    for (const char *p = line; (p = strchr(p, '\'')); p++, n++)
        p = strchr(p + 1, '\'');
    char **names = calloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (const char *p = line; names && (p = strchr(p, '\''));) {
        const char *end = strchr(p + 1, '\'');
        if (!end)
            break;
        names[k++] = strndup(p + 1, (size_t)(end - p - 1));
        p = end + 1;
    }
    out->failed_nodes = names;
}

static void take_line(child *c, const char *line, size_t n)
{
    static const char resume[] = "crun: resume with:";
    static const char failed[] = "crun: the run failed at node";
    if (c->resume_next) {
        const char *flag = strstr(line, " --from-nodes ");
        c->resume_next = false;
        if (flag) {
            const char *v = flag + strlen(" --from-nodes ");
            size_t len = strlen(v);
            bool quoted = len >= 2 && v[0] == '\'' && v[len - 1] == '\'';
            free(c->out->from_nodes);
            c->out->from_nodes = quoted ? strndup(v + 1, len - 2) : strdup(v);
        }
        return;
    }
    if (strcmp(line, resume) == 0) {
        c->resume_next = true;
        return;
    }
    if (strncmp(line, failed, sizeof(failed) - 1) == 0 && !c->out->failed_nodes) {
        read_failed(line + sizeof(failed) - 1, c->out);
        return;
    }
    put_line(line, n);
    put_line("\n", 1);
}

/* Pass its stderr on line by line, as it comes. */
static void take_output(void *user, const char *data, size_t n)
{
    child *c = user;
    while (n) {
        size_t k = sizeof(c->line) - 1 - c->len;
        k = n < k ? n : k;
        memcpy(c->line + c->len, data, k);
        c->len += k;
        data += k;
        n -= k;
        char *start = c->line, *nl;
        while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->line)))) {
            *nl = '\0';
            take_line(c, start, (size_t)(nl - start));
            start = nl + 1;
        }
        c->len -= (size_t)(start - c->line);
        memmove(c->line, start, c->len);
        if (c->len == sizeof(c->line) - 1) { /* a line longer than the buffer */
            put_line(c->line, c->len);
            c->len = 0;
        }
    }
}

static int status_code(subprocess *sp, int st, bool cancelled, crun_error *err)
{
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == 0)
        return 0;
    if (cancelled || code == 130 || (WIFSIGNALED(st) && WTERMSIG(st) == SIGINT))
        return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
    if (code == 1)
        return crun_error_set(err, CRUN_ENODE, "runner '%s': the run of '%s' in the subprocess "
                              "failed (exit status 1)", sp->self, sp->runner);
    if (code == 2)
        return crun_error_set(err, CRUN_ECONFIG, "runner '%s': the crun in the subprocess "
                              "refused its configuration or arguments (exit status 2)", sp->self);
    if (code > 0)
        return crun_error_set(err, CRUN_ENODE, "runner '%s': the subprocess exited with status "
                              "%d (is the command %s%s right?)", sp->self, code,
                              sp->command[0] ? "starting with " : "", sp->command[0] ? sp->command[0] : "");
    return crun_error_set(err, CRUN_ENODE, "runner '%s': the subprocess was killed by signal %d",
                          sp->self, WTERMSIG(st));
}

/* Start the child crun; 0 with *pid, else err (prefixed with our name). */
static int start(subprocess *sp, crun_run *run, char *const *argv, int err_fd, pid_t *pid,
                 crun_error *err)
{
    crun_spawn spec = CRUN_SPAWN_INIT;
    spec.flags = CRUN_SPAWN_TRACK;
    spec.argv = argv;
    spec.out_fd = STDOUT_FILENO;
    spec.err_fd = err_fd;
    spec.cancel_signal = SIGINT; /* a crun takes it as Ctrl-C: interrupted, resume point */
    crun_log(sp->logger, CRUN_LOG_DEBUG, "subprocess: starting %s", argv[0]);
    int rc = crun_run_spawn(run, &spec, pid, err);
    if (rc && rc != CRUN_ECANCELED)
        crun_error_prefix(err, "runner '%s': ", sp->self);
    return rc;
}

int sub_launch(subprocess *sp, crun_run *run, inner_outcome *out, crun_error *err)
{
    *out = (inner_outcome){0};
    json_t *args = child_argv(sp, run);
    size_t n = json_array_size(args);
    char **argv = args ? calloc(n + 1, sizeof(char *)) : NULL;
    for (size_t i = 0; argv && i < n; i++)
        argv[i] = (char *)json_string_value(json_array_get(args, i));
    int fds[2] = {-1, -1}, rc = 0;
    child *c = calloc(1, sizeof(*c));
    pid_t pid = 0;
    if (!argv || !c)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    else if (pipe2(fds, O_CLOEXEC) != 0)
        rc = crun_error_set(err, CRUN_EIO, "cannot make a pipe: %s", strerror(errno));
    else if (!(rc = start(sp, run, argv, fds[1], &pid, err))) {
        c->out = out;
        close(fds[1]);
        fds[1] = -1;
        int st = child_follow(run, pid, fds[0], take_output, c, (double)sp->grace);
        if (c->len)
            put_line(c->line, c->len);
        rc = st == -1 ? crun_error_set(err, CRUN_EIO, "runner '%s': cannot reap the "
                                       "subprocess (pid %d)", sp->self, (int)pid)
                      : status_code(sp, st, crun_run_cancelled(run), err);
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    out->status = rc;
    free(c);
    free(argv);
    json_decref(args);
    return rc;
}
