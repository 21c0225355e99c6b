/* child.c - a wrapping runner's commands, through libcrun's child-process
 * API: crun_run_spawn starts them (tracked: crun_run_cancel reaches them)
 * and crun_run_reap reaps them and stops whatever they left behind; this
 * file reads their output until they exit (not until the output ends,
 * which a process left behind may hold open).
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

#include "child.h"

enum { FOLLOW_POLL_MS = 100 }; /* how often an exit or a cancel is looked for */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether pid has exited, leaving it unreaped. */
static bool exited(pid_t pid)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Pass on what fd (non-blocking) holds now; false at its end. */
static bool drain(int fd, child_take_fn take, void *user)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            take(user, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

int child_follow(crun_run *run, pid_t pid, int fd, child_take_fn take, void *user,
                 double kill_after)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    double cancelled_at = 0;
    bool open = true, killed = false;
    /* at the end of the output the child is exiting: crun_run_reap waits */
    while (open && !exited(pid)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, FOLLOW_POLL_MS) > 0)
            open = drain(fd, take, user);
        if (kill_after >= 0 && !killed && crun_run_cancelled(run)) {
            if (cancelled_at == 0)
                cancelled_at = now();
            else if (now() - cancelled_at > kill_after) {
                kill(-pid, SIGKILL); /* unreaped: the group's number is still its */
                killed = true;
            }
        }
    }
    if (open)
        drain(fd, take, user); /* what it wrote before it exited */
    return crun_run_reap(run, pid);
}

static void keep(void *user, const char *buf, size_t n)
{
    child_output *out = user;
    if (!out || out->cut)
        return;
    if (out->len + n > CHILD_OUTPUT_MAX) {
        out->cut = true;
        n = CHILD_OUTPUT_MAX - out->len;
    }
    char *t = realloc(out->text, out->len + n + 1);
    if (!t) {
        out->cut = true;
        return;
    }
    memcpy(t + out->len, buf, n);
    out->len += n;
    t[out->len] = '\0';
    out->text = t;
}

int child_run(crun_run *run, char *const *argv, char *const *env, const char *cwd,
              int *wait_status, child_output *out, crun_error *err)
{
    if (out)
        *out = (child_output){0};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return crun_error_set(err, CRUN_EIO, "cannot make a pipe: %s", strerror(errno));
    crun_spawn spec = CRUN_SPAWN_INIT;
    spec.flags = CRUN_SPAWN_TRACK;
    spec.argv = argv;
    spec.cwd = cwd;
    spec.env = env;
    spec.out_fd = spec.err_fd = fds[1];
    pid_t pid;
    int rc = crun_run_spawn(run, &spec, &pid, err);
    close(fds[1]);
    if (!rc && (*wait_status = child_follow(run, pid, fds[0], keep, out, -1)) == -1)
        rc = crun_error_set(err, CRUN_EIO, "cannot reap %s (pid %d)", argv[0], (int)pid);
    close(fds[0]);
    return rc;
}

void child_output_free(child_output *out)
{
    free(out->text);
    *out = (child_output){0};
}

const char *child_status_text(int st, char *buf, size_t size)
{
    if (WIFEXITED(st))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, size, "ended with wait status %d", st);
    return buf;
}

const char *child_argv_text(char *const *argv, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; argv[i] && len + 1 < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i ? " " : "", argv[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    return buf;
}
