/* run/guard.c - children end with crun, however crun ends.
 *
 * A session that starts a tracked child forks a guard first (once per
 * session): a small process that shares a table of process groups with
 * crun (an anonymous MAP_SHARED mapping) and blocks reading a pipe whose
 * write end only crun holds (close-on-exec: no child inherits it).  crun
 * writes every tracked child's group into the table when it starts and
 * clears it when it is untracked, before it is reaped: plain stores, no
 * system call and no wake-up of the guard per command.  When crun ends,
 * whether it returns, is killed with SIGKILL or crashes, the kernel closes
 * the write end; the guard's read returns, and it sends SIGKILL to every
 * group still in the table, then exits.  PR_SET_PDEATHSIG would need code
 * in each child before its exec (not possible through posix_spawn) and
 * would reach the child only, not what it started.
 *
 * The guard is forked from a process that may have threads: it calls only
 * async-signal-safe functions (raw system calls), closes every other
 * descriptor, and ignores the signals a terminal or a `kill` of crun's group
 * sends, so that it outlives crun.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
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

/* The guard: fd 0 is the pipe, slots the shared table.  Never returns. */
static void guard_main(_Atomic int32_t *slots)
{
    char byte;
    prctl(PR_SET_NAME, "crun-guard", 0, 0, 0);
    guard_ignore_signals();
    for (;;) { /* nothing is ever written: the read returns when crun has gone */
        ssize_t r = read(STDIN_FILENO, &byte, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
    }
    for (size_t k = 0; k < GUARD_GROUPS; k++) {
        int32_t pgid = atomic_load_explicit(&slots[k], memory_order_relaxed);
        if (pgid > 0)
            kill(-pgid, SIGKILL);
    }
    _exit(0);
}

/* Under g->lock. */
static void guard_start(proc_guard *g)
{
    int fds[2];
    g->started = true;
    void *table = mmap(NULL, GUARD_GROUPS * sizeof(int32_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (table == MAP_FAILED)
        return;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        munmap(table, GUARD_GROUPS * sizeof(int32_t));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(1);
        guard_close_others();
        guard_main(table);
    }
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        munmap(table, GUARD_GROUPS * sizeof(int32_t));
        return;
    }
    g->pid = pid;
    g->fd = fds[1];
    g->slots = table;
}

void proc_guard_init(proc_guard *g)
{
    memset(g, 0, sizeof(*g));
    g->fd = -1;
    pthread_mutex_init(&g->lock, NULL);
}

void proc_guard_add(proc_guard *g, pid_t pgid)
{
    pthread_mutex_lock(&g->lock);
    if (!g->started)
        guard_start(g);
    size_t k = 0;
    while (g->slots && k < g->used &&
           atomic_load_explicit(&g->slots[k], memory_order_relaxed) != 0)
        k++;
    if (g->slots && k < GUARD_GROUPS) { /* else: no guard, or full: unguarded */
        atomic_store_explicit(&g->slots[k], (int32_t)pgid, memory_order_relaxed);
        if (k == g->used)
            g->used++;
    }
    pthread_mutex_unlock(&g->lock);
}

void proc_guard_remove(proc_guard *g, pid_t pgid)
{
    pthread_mutex_lock(&g->lock);
    for (size_t k = 0; g->slots && k < g->used; k++)
        if (atomic_load_explicit(&g->slots[k], memory_order_relaxed) == (int32_t)pgid) {
            atomic_store_explicit(&g->slots[k], 0, memory_order_relaxed);
            while (g->used > 0 &&
                   atomic_load_explicit(&g->slots[g->used - 1], memory_order_relaxed) == 0)
                g->used--;
            break;
        }
    pthread_mutex_unlock(&g->lock);
}

void proc_guard_close(proc_guard *g)
{
    if (g->fd >= 0) {
        close(g->fd); /* the guard sees the end, has nothing to stop, exits */
        while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        munmap((void *)g->slots, GUARD_GROUPS * sizeof(int32_t));
    }
    pthread_mutex_destroy(&g->lock);
    g->fd = -1;
}
