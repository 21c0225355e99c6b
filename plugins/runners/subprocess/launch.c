/* launch.c - the child crun of the subprocess runner.
 *
 *     <command...> <crun> run --project P --env E --runner <wrapped>
 *                  --run-id ID --nodes a,b [--pipeline X] --params k=<json>,...
 *
 * It gets the outer run's id, nodes, parameters (each top-level key as
 * JSON) and env, in a process group of its own.  Its stdout is ours; its
 * stderr passes through line by line, except the failure summary and the
 * resume hint, which are read (what failed, where a resume starts) and left
 * for the outer run to print with the outer runner's name.  Cancelling the
 * run sends SIGINT to the group, as a terminal would, and SIGKILL if it has
 * not ended after `grace` seconds; the child and what it left are reaped
 * (crun_run_command_reap) before this returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "subprocess.h"

extern char **environ; /* no public call gives the session's environment yet */

typedef struct child {
    pid_t pid;
    atomic_bool cancelled;
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

/* --- starting it --- */

static int spawn(char *const *argv, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGPIPE);
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    if ((rc = posix_spawnattr_init(&at))) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (!rc)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                               POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&at, &deflt);
    if (!rc)
        rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Runs under the run's lock: only a signal. */
static void forward_cancel(void *user)
{
    child *c = user;
    atomic_store(&c->cancelled, true);
    kill(-c->pid, SIGINT);
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

/* Pass what fd holds on, line by line; false at end of file. */
static bool relay(child *c, int fd)
{
    for (;;) {
        ssize_t n = read(fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 && errno == EAGAIN;
        c->len += (size_t)n;
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool exited(pid_t pid)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Until the child has exited (not reaped), relaying its stderr and killing
 * it when a cancel was not enough. */
static void follow(subprocess *sp, child *c, int fd)
{
    double killed_at = 0;
    bool open = true;
    while (!exited(c->pid)) {
        struct pollfd p = {.fd = open ? fd : -1, .events = POLLIN};
        if (poll(&p, 1, 100) > 0 && open)
            open = relay(c, fd);
        if (atomic_load(&c->cancelled)) {
            if (killed_at == 0)
                killed_at = now();
            else if (now() - killed_at > (double)sp->grace)
                kill(-c->pid, SIGKILL);
        }
    }
    if (open)
        relay(c, fd);
    if (c->len)
        put_line(c->line, c->len);
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

static int wait_child(subprocess *sp, crun_run *run, child *c, int fd, crun_error *err)
{
    crun_run_on_cancel(run, forward_cancel, c);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    follow(sp, c, fd);
    crun_run_on_cancel(run, NULL, NULL);
    int st = crun_run_command_reap(run, c->pid);
    if (st == -1)
        return crun_error_set(err, CRUN_EIO, "runner '%s': cannot reap the subprocess (pid %d)",
                              sp->self, (int)c->pid);
    return status_code(sp, st, atomic_load(&c->cancelled), err);
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
    if (!argv || !c)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    else if (crun_run_cancelled(run))
        rc = crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
    else if (pipe2(fds, O_CLOEXEC) != 0)
        rc = crun_error_set(err, CRUN_EIO, "cannot make a pipe: %s", strerror(errno));
    if (!rc) {
        c->out = out;
        crun_log(sp->logger, CRUN_LOG_DEBUG, "subprocess: starting %s", argv[0]);
        int s = spawn(argv, fds[1], &c->pid);
        close(fds[1]);
        if (s)
            rc = crun_error_set(err, CRUN_EIO, "runner '%s': cannot start %s: %s", sp->self,
                                argv[0], strerror(s));
        else
            rc = wait_child(sp, run, c, fds[0], err);
    }
    if (fds[0] >= 0)
        close(fds[0]);
    out->status = rc;
    free(c);
    free(argv);
    json_decref(args);
    return rc;
}
