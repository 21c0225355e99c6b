/* child.c - starting a wrapping runner's command and catching its output.
 *
 * posix_spawnp in a new process group with a clean signal mask and default
 * dispositions (the crun program blocks SIGINT/SIGTERM and ignores SIGPIPE,
 * and a child would inherit both).  The run tracks the group, so
 * crun_run_cancel reaches it; once the child has exited (a pidfd says so;
 * without pidfds, a short poll) what its pipe holds is read and
 * crun_run_command_reap reaps it and stops whatever it left behind, so no
 * background process outlives the command and none holds us up.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

static int spawn(char *const *argv, char *const *envp, const char *cwd, int out_fd, pid_t *pid)
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
    if (!rc)
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    if (!rc && cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, cwd);
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
        rc = posix_spawnp(pid, argv[0], &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static void keep(child_output *out, const char *buf, size_t n)
{
    if (!out)
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

/* Read what fd holds now (non-blocking); false at end of file. */
static bool drain(int fd, child_output *out)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            keep(out, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

static bool exited(pid_t pid)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Until pid has exited (not reaped), keeping what it writes to fd. */
static void follow(pid_t pid, int fd, child_output *out)
{
    int pidfd = open_pidfd(pid);
    bool open = true;
    for (;;) {
        struct pollfd p[2] = {{.fd = open ? fd : -1, .events = POLLIN},
                              {.fd = pidfd, .events = POLLIN}};
        int n = poll(p, 2, pidfd >= 0 ? -1 : 50);
        if (n < 0 && errno != EINTR)
            break;
        if (open && p[0].revents)
            open = drain(fd, out);
        if (pidfd >= 0 ? (p[1].revents & POLLIN) != 0 : exited(pid))
            break;
    }
    if (open)
        drain(fd, out);
    if (pidfd >= 0)
        close(pidfd);
}

int child_run(crun_run *run, char *const *argv, char *const *envp, const char *cwd,
              int *wait_status, child_output *out, crun_error *err)
{
    if (out)
        *out = (child_output){0};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return crun_error_set(err, CRUN_EIO, "cannot make a pipe: %s", strerror(errno));
    pid_t pid;
    int rc = spawn(argv, envp, cwd, fds[1], &pid);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return crun_error_set(err, CRUN_EIO, "cannot start %s: %s", argv[0], strerror(rc));
    }
    crun_run_track_child(run, pid);
    if (crun_run_cancelled(run)) /* cancelled before it was tracked */
        kill(-pid, SIGTERM);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    follow(pid, fds[0], out);
    crun_run_untrack_child(run, pid);
    *wait_status = crun_run_command_reap(run, pid);
    close(fds[0]);
    if (*wait_status == -1)
        return crun_error_set(err, CRUN_EIO, "cannot reap %s (pid %d)", argv[0], (int)pid);
    return 0;
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
