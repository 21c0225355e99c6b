/* run/guard.c - children end with crun, however crun ends.
 *
 * A session that starts a tracked child forks a guard first (once per
 * session): a small process that holds the read end of a pipe whose write
 * end only crun holds (close-on-exec: no child inherits it).  Every tracked
 * child's process group is announced on the pipe when it starts (its pid)
 * and when it is untracked, before it is reaped (minus its pid).  When crun
 * ends, whether it returns, is killed with SIGKILL or crashes, the kernel
 * closes the write end; the guard reads the end of the pipe and sends
 * SIGKILL to every group still announced, then exits.  PR_SET_PDEATHSIG
 * would need code in each child before its exec (not possible through
 * posix_spawn) and would reach the child only, not what it started.
 *
 * The guard is forked from a process that may have threads: it calls only
 * async-signal-safe functions (raw system calls), keeps its table on its
 * stack, closes every other descriptor, and ignores the signals a terminal
 * or a `kill` of crun's group sends, so that it outlives crun.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run/run.h"

enum { GUARD_GROUPS = 8192 }; /* groups a guard follows at once; more go unguarded */

static void guard_ignore_signals(void)
{
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &ign, NULL);
}

static void guard_close_others(void)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 1u, ~0u, 0u) == 0)
        return;
#endif
    for (int fd = 1; fd < 4096; fd++)
        close(fd);
}

/* The guard: fd 0 is the pipe.  Never returns. */
static void guard_main(void)
{
    pid_t groups[GUARD_GROUPS];
    size_t n = 0;
    int32_t msg[512];
    prctl(PR_SET_NAME, "crun-guard", 0, 0, 0);
    guard_ignore_signals();
    for (;;) {
        ssize_t r = read(STDIN_FILENO, msg, sizeof(msg));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* crun has gone */
        for (size_t i = 0; i < (size_t)r / sizeof(int32_t); i++) {
            if (msg[i] > 0 && n < GUARD_GROUPS) {
                groups[n++] = msg[i];
                continue;
            }
            for (size_t k = 0; k < n; k++)
                if (groups[k] == -msg[i]) {
                    groups[k] = groups[--n];
                    break;
                }
        }
    }
    for (size_t k = 0; k < n; k++)
        kill(-groups[k], SIGKILL);
    _exit(0);
}

/* Under g->lock. */
static void guard_start(proc_guard *g)
{
    int fds[2];
    g->started = true;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(1);
        guard_close_others();
        guard_main();
    }
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        return;
    }
    g->pid = pid;
    g->fd = fds[1];
}

void proc_guard_init(proc_guard *g)
{
    memset(g, 0, sizeof(*g));
    g->fd = -1;
    pthread_mutex_init(&g->lock, NULL);
}

static void guard_send(proc_guard *g, int32_t msg)
{
    pthread_mutex_lock(&g->lock);
    if (!g->started && msg > 0)
        guard_start(g);
    int fd = g->fd;
    pthread_mutex_unlock(&g->lock);
    if (fd < 0)
        return; /* no guard could start: children end with crun only when it exits cleanly */
    while (write(fd, &msg, sizeof(msg)) < 0 && errno == EINTR)
        ;
}

void proc_guard_add(proc_guard *g, pid_t pgid)
{
    guard_send(g, (int32_t)pgid);
}

void proc_guard_remove(proc_guard *g, pid_t pgid)
{
    guard_send(g, -(int32_t)pgid);
}

void proc_guard_close(proc_guard *g)
{
    if (g->fd >= 0) {
        close(g->fd); /* the guard sees the end, has nothing to stop, exits */
        while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_destroy(&g->lock);
    g->fd = -1;
}
