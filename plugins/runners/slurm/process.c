/* process.c - run one Slurm client program (sbatch, squeue, scontrol,
 * scancel) and capture its output.
 *
 * The program is started and reaped by libcrun (crun_run_spawn,
 * crun_run_reap): the session's PATH and environment, every signal at its
 * default, a session of its own so that a Ctrl-C typed at the terminal goes
 * to crun, which then decides to scancel, instead of killing an scancel
 * half-way.  It is not tracked: a cancel must not stop it either.  Pipes are
 * close-on-exec so that programs other threads start never hold them open.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slurm.h"

typedef struct sink {
    char *data;
    size_t len, cap;
    bool open;
} sink;

static int sink_read(int fd, sink *s)
{
    if (s->cap - s->len < 4096) {
        size_t cap = s->cap ? s->cap * 2 : 8192;
        char *d = realloc(s->data, cap);
        if (!d)
            return CRUN_ENOMEM;
        s->data = d;
        s->cap = cap;
    }
    ssize_t n = read(fd, s->data + s->len, s->cap - s->len - 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        s->open = false;
    else
        s->len += (size_t)n;
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read both pipes until they close or the deadline passes. */
static int drain(int out_fd, int err_fd, sink *out, sink *errs, double deadline, bool *timed_out)
{
    while (out->open || errs->open) {
        double left = deadline - now_seconds();
        if (left <= 0) {
            *timed_out = true;
            return 0;
        }
        struct pollfd p[2] = {{.fd = out->open ? out_fd : -1, .events = POLLIN},
                              {.fd = errs->open ? err_fd : -1, .events = POLLIN}};
        int n = poll(p, 2, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR)
            return CRUN_EIO;
        if (n <= 0)
            continue;
        if (p[0].revents && sink_read(out_fd, out))
            return CRUN_ENOMEM;
        if (p[1].revents && sink_read(err_fd, errs))
            return CRUN_ENOMEM;
    }
    return 0;
}

int proc_capture(crun_run *run, char *const argv[], double timeout, proc_output *res,
                 crun_error *err)
{
    memset(res, 0, sizeof(*res));
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0)
        return crun_error_set(err, CRUN_EIO, "%s: cannot make a pipe: %s", argv[0], strerror(errno));
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return crun_error_set(err, CRUN_EIO, "%s: cannot make a pipe: %s", argv[0], strerror(errno));
    }
    pid_t pid;
    crun_spawn spec = {.size = sizeof(spec), .argv = argv, .out_fd = out_pipe[1],
                       .err_fd = err_pipe[1]};
    int src = crun_run_spawn(run, &spec, &pid, err);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (src != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        if (src == CRUN_ENODE && strstr(err->message, strerror(ENOENT)))
            crun_error_set(err, CRUN_EIO, "%s (is Slurm's client installed and on PATH?)",
                           err->message);
        return err->code = CRUN_EIO;
    }
    sink out = {.open = true}, errs = {.open = true};
    bool timed_out = false;
    int rc = drain(out_pipe[0], err_pipe[0], &out, &errs, now_seconds() + timeout, &timed_out);
    if (rc || timed_out)
        kill(-pid, SIGKILL);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status = crun_run_reap(run, pid);
    if (!rc && !timed_out && !out.data && !(out.data = calloc(1, 1)))
        rc = CRUN_ENOMEM;
    if (!rc && !timed_out && !errs.data && !(errs.data = calloc(1, 1)))
        rc = CRUN_ENOMEM;
    if (rc || timed_out) {
        free(out.data);
        free(errs.data);
        if (timed_out)
            return crun_error_set(err, CRUN_EIO, "%s did not answer within %.0f s", argv[0],
                                  timeout);
        return crun_error_set(err, rc, "%s: %s", argv[0],
                              rc == CRUN_ENOMEM ? "out of memory" : "cannot read its output");
    }
    out.data[out.len] = '\0';
    while (errs.len && (errs.data[errs.len - 1] == '\n' || errs.data[errs.len - 1] == '\r'))
        errs.len--;
    errs.data[errs.len] = '\0';
    res->status = status;
    res->out = out.data;
    res->err = errs.data;
    return 0;
}

void proc_output_clear(proc_output *out)
{
    free(out->out);
    free(out->err);
    memset(out, 0, sizeof(*out));
}

char *proc_describe(const char *program, const proc_output *out)
{
    char *s = NULL;
    int st = out->status;
    const char *text = out->err && out->err[0] ? out->err : "(no message)";
    int n = WIFSIGNALED(st) ? asprintf(&s, "%s was killed by signal %d: %s", program,
                                       WTERMSIG(st), text)
                            : asprintf(&s, "%s exited with status %d: %s", program,
                                       WEXITSTATUS(st), text);
    return n < 0 ? NULL : s;
}
