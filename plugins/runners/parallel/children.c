/* children.c - the children of command nodes, and the event loop that stops
 * them.
 *
 * A worker that took a command node runs its child itself (children_run):
 * posix_spawn (a vfork) in a session of its own, so kill(-pid) reaches
 * grandchildren; stdin on /dev/null, stdout+stderr on one pipe that the
 * worker reads, logging line by line as the output comes, until the output
 * ends or the child exits (a process it left in the background may hold the
 * pipe); then crun_run_command_reap stops what it left in its group and
 * reaps it.  One wake-up per command (its output ending), where handing each
 * child to a loop thread and back cost three cross-thread wake-ups per node,
 * and a worker has nothing else to do meanwhile: every node in flight holds
 * a worker, busy or waiting.  A program named without a slash is looked up
 * on PATH once per worker instead of by an execve per PATH entry per spawn.
 *
 * The loop runs on the thread that called the runner's run() and only times
 * stops: woken (uv_async_t) by a failure without keep_going, by
 * crun_run_cancel (through crun_run_on_cancel; the run API has already sent
 * SIGTERM to every tracked child) and by the workers quitting.  A failure
 * gives running nodes grace_period, then SIGTERM, then SIGKILL one second
 * later; a cancel SIGKILLs what is left after grace_period.  The children
 * it signals are the `live` tasks, under the scheduler's lock; a child
 * spawned after a stop began gets the phase's signal from its worker.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parallel.h"

enum {
    READ_BUF_SIZE = 16384,
    MAX_LINE = 65536,      /* a longer line is logged in pieces */
    EXIT_POLL_MS = 100,    /* how often to ask waitid, on kernels without pidfd */
    KILL_AFTER_TERM_MS = 1000
};

/* --- output --- */

static bool keep_partial(task *t, const char *data, size_t n)
{
    if (t->partial_len + n > t->partial_cap) {
        size_t cap = t->partial_cap ? t->partial_cap : 256;
        while (cap < t->partial_len + n)
            cap *= 2;
        char *p = realloc(t->partial, cap);
        if (!p)
            return false;
        t->partial = p;
        t->partial_cap = cap;
    }
    memcpy(t->partial + t->partial_len, data, n);
    t->partial_len += n;
    return true;
}

static void emit_partial(task *t)
{
    if (t->partial_len)
        crun_run_command_output(t->pr->run, t->node, t->partial, t->partial_len);
    t->partial_len = 0;
}

/* Log every complete line; keep the unfinished rest for the next read. */
static void split_lines(task *t, const char *data, size_t n)
{
    crun_run *run = t->pr->run;
    size_t start = 0;
    for (const char *nl; start < n && (nl = memchr(data + start, '\n', n - start));) {
        size_t end = (size_t)(nl - data);
        if (t->partial_len) {
            keep_partial(t, data + start, end - start);
            emit_partial(t);
        } else {
            crun_run_command_output(run, t->node, data + start, end - start);
        }
        start = end + 1;
    }
    if (start < n && !keep_partial(t, data + start, n - start))
        crun_run_command_output(run, t->node, data + start, n - start);
    if (t->partial_len >= MAX_LINE)
        emit_partial(t);
}

/* A descriptor that poll() finds readable once pid has exited, or -1 where
 * the kernel has none (before Linux 5.3): then waitid is asked. */
static int exit_fd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* Whether pid has exited, leaving it unreaped. */
static bool has_exited(pid_t pid)
{
    siginfo_t info;
    info.si_pid = 0;
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* Log what fd (non-blocking) holds, at most limit bytes; false at its end. */
static bool read_some(task *t, int fd, size_t limit)
{
    char buf[READ_BUF_SIZE];
    for (size_t got = 0; got < limit;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            split_lines(t, buf, (size_t)n);
            got += (size_t)n;
            if ((size_t)n < sizeof(buf))
                return true; /* all there was: spare the read that says EAGAIN */
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return n < 0 && errno == EAGAIN; /* an error ends the output too */
        }
    }
    return true;
}

/* Read the child's output until it ends or the child exits, whichever
 * comes first: a process the child left in the background may hold the
 * pipe after it, and the node must not wait for that one. */
static void read_output(task *t, int fd)
{
    int pidfd = exit_fd(t->pid);
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int r = poll(p, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : EXIT_POLL_MS);
        if (r > 0 && p[0].revents && !read_some(t, fd, READ_BUF_SIZE * 4))
            break;
        if (pidfd >= 0 ? (r > 0 && p[1].revents) : has_exited(t->pid)) {
            /* what it wrote before it exited, and no more: a process left
             * behind may write on and on */
            int queued = 0;
            if (ioctl(fd, FIONREAD, &queued) == 0 && queued > 0)
                read_some(t, fd, (size_t)queued);
            break;
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    emit_partial(t);
}

/* --- finding programs --- */

/* The file posix_spawnp would execute for name, by its rules: PATH (this
 * process's, "/bin:/usr/bin" without one), the first entry holding an
 * executable regular file.  NULL when name has a slash, when an entry before
 * the match is relative (it would depend on the child's cwd), or when nothing
 * matches: posix_spawnp then searches, and reports, as before. */
static char *find_program(const char *name)
{
    if (!name[0] || strchr(name, '/'))
        return NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t nlen = strlen(name);
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        if (end == p || *p != '/')
            return NULL;
        char *file = malloc((size_t)(end - p) + nlen + 2);
        if (!file)
            return NULL;
        memcpy(file, p, (size_t)(end - p));
        file[end - p] = '/';
        memcpy(file + (end - p) + 1, name, nlen + 1);
        struct stat st; /* execve's test: effective ids, a regular file with x for us */
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
            faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) == 0)
            return file;
        free(file);
        if (!*end)
            return NULL;
        p = end;
    }
}

static const char *program_file(par_worker *w, const char *name)
{
    for (size_t i = 0; i < w->n_paths; i++)
        if (strcmp(w->paths[i].name, name) == 0)
            return w->paths[i].path;
    char *file = find_program(name);
    char *key = file ? strdup(name) : NULL;
    if (!key || w->n_paths == PROGRAM_PATHS) {
        free(file);
        free(key);
        return NULL;
    }
    w->paths[w->n_paths++] = (program_path){.name = key, .path = file};
    return file;
}

/* The program was found once but is gone: search again next time. */
static void forget_program(par_worker *w, const char *name)
{
    for (size_t i = 0; i < w->n_paths; i++)
        if (strcmp(w->paths[i].name, name) == 0) {
            free(w->paths[i].name);
            free(w->paths[i].path);
            w->paths[i] = w->paths[--w->n_paths];
            return;
        }
}

void children_worker_done(par_worker *w)
{
    while (w->n_paths > 0)
        forget_program(w, w->paths[w->n_paths - 1].name);
}

/* --- starting a child --- */

/* posix_spawn (a vfork: no copy of this process's page tables, unlike
 * fork) in a new session, so that kill(-pid) reaches the whole tree; every
 * signal back to its default and none blocked, whatever the host set. */
static int spawn(par_worker *w, const crun_command *cmd, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return ENOMEM;
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return ENOMEM;
    }
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaddset(&defaults, s);
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    if (!rc && cmd->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, cmd->cwd);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF);
    const char *file = rc ? NULL : program_file(w, cmd->argv[0]);
    if (file) {
        rc = posix_spawn(pid, file, &fa, &attr, cmd->argv, cmd->envp);
        if (rc == ENOENT || rc == EACCES || rc == ENOTDIR) {
            forget_program(w, cmd->argv[0]); /* removed meanwhile: search as posix_spawnp */
            file = NULL;
        }
    }
    if (!rc && !file)
        rc = posix_spawnp(pid, cmd->argv[0], &fa, &attr, cmd->argv, cmd->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* Under lock: the child is running; the loop may signal it from now on.  A
 * stop that began before it was registered reaches it here. */
static void live_add(par_run *pr, task *t)
{
    t->live_index = pr->live;
    pr->live_tasks[pr->live++] = t;
    if (pr->phase >= STOP_TERM) {
        t->stopped = true;
        kill(-t->pid, pr->phase == STOP_KILL ? SIGKILL : SIGTERM);
    }
}

static void live_remove(par_run *pr, task *t)
{
    task *last = pr->live_tasks[--pr->live];
    pr->live_tasks[t->live_index] = last;
    last->live_index = t->live_index;
}

/* Wait for the leader to exit, then end what it left and reap it.  It stays
 * a zombie (its pid and group taken) until it is out of `live` and
 * untracked, so no signal can reach a process that took the number over. */
static int reap(par_run *pr, task *t)
{
    siginfo_t info;
    int r;
    while ((r = waitid(P_PID, (id_t)t->pid, &info, WEXITED | WNOWAIT)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&pr->lock);
    live_remove(pr, t);
    bool stopped = t->stopped;
    pthread_mutex_unlock(&pr->lock);
    crun_run_untrack_child(pr->run, t->pid);
    /* on a stop, whatever the leader left in its group goes at once */
    if (stopped || crun_run_cancelled(pr->run))
        kill(-t->pid, SIGKILL);
    return r == 0 ? crun_run_command_reap(pr->run, t->pid) : -1;
}

int children_run(par_worker *w, task *t, const crun_command *cmd)
{
    par_run *pr = w->pr;
    pthread_mutex_lock(&pr->lock);
    t->not_started = pr->stopping || crun_run_cancelled(pr->run);
    pthread_mutex_unlock(&pr->lock);
    if (t->not_started)
        return -1;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(t->spawn_error, sizeof(t->spawn_error), "cannot make a pipe: %s",
                 strerror(errno));
        return -1;
    }
    /* our end only: what is left once the child exits is read without waiting */
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    int rc = spawn(w, cmd, fds[1], &t->pid);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        t->pid = 0;
        snprintf(t->spawn_error, sizeof(t->spawn_error), "cannot run '%s': %s", cmd->argv[0],
                 strerror(rc));
        return -1;
    }
    crun_run_track_child(pr->run, t->pid);
    pthread_mutex_lock(&pr->lock);
    live_add(pr, t);
    pthread_mutex_unlock(&pr->lock);
    read_output(t, fds[0]);
    close(fds[0]);
    return reap(pr, t);
}

/* --- stopping --- */

/* Under lock. */
static void signal_children(par_run *pr, int sig)
{
    /* the whole group: a leader that has exited may have left children holding the pipe */
    for (size_t i = 0; i < pr->live; i++) {
        pr->live_tasks[i]->stopped = true;
        kill(-pr->live_tasks[i]->pid, sig);
    }
}

static void set_phase(par_run *pr, enum stop_phase phase, int sig)
{
    pthread_mutex_lock(&pr->lock);
    pr->phase = phase;
    if (sig)
        signal_children(pr, sig);
    pthread_mutex_unlock(&pr->lock);
}

static void stop_timer_fired(uv_timer_t *timer)
{
    par_run *pr = timer->data;
    pthread_mutex_lock(&pr->lock);
    enum stop_phase phase = pr->phase;
    size_t live = pr->live;
    pthread_mutex_unlock(&pr->lock);
    if (phase == STOP_GRACE) {
        if (live)
            crun_log(pr->logger, CRUN_LOG_WARN, "grace period of %g s over: stopping %zu "
                     "running command%s", pr->opt->grace_period, live, live == 1 ? "" : "s");
        set_phase(pr, STOP_TERM, SIGTERM);
        uv_timer_start(&pr->stop_timer, stop_timer_fired, KILL_AFTER_TERM_MS, 0);
    } else if (phase == STOP_TERM) {
        set_phase(pr, STOP_KILL, SIGKILL);
    }
}

static uint64_t grace_ms(const par_run *pr)
{
    return (uint64_t)(pr->opt->grace_period * 1000.0 + 0.5);
}

/* crun_run_cancel, any thread, under the run's lock: only wake the loop. */
static void cancelled(void *user)
{
    par_run *pr = user;
    uv_async_send(&pr->wake);
}

/* --- the loop --- */

static void close_loop_handles(par_run *pr)
{
    if (pr->closing)
        return;
    pr->closing = true;
    /* after this returns no cancel callback runs, nor will: the handle may go */
    crun_run_on_cancel(pr->run, NULL, NULL);
    uv_close((uv_handle_t *)&pr->wake, NULL);
    uv_close((uv_handle_t *)&pr->stop_timer, NULL);
}

static void woken(uv_async_t *async)
{
    par_run *pr = async->data;
    bool stop_now, quit;
    par_take_for_loop(pr, &stop_now, &quit);
    enum stop_phase phase = pr->phase; /* only this thread writes it */
    if (!pr->cancel_seen && crun_run_cancelled(pr->run)) {
        /* the run API sent SIGTERM to every tracked child; SIGKILL after the grace */
        pr->cancel_seen = true;
        if (phase < STOP_TERM) {
            set_phase(pr, STOP_TERM, 0);
            uv_timer_start(&pr->stop_timer, stop_timer_fired, grace_ms(pr), 0);
        }
    } else if (stop_now && phase == STOP_NONE) {
        set_phase(pr, STOP_GRACE, 0);
        uv_timer_start(&pr->stop_timer, stop_timer_fired, grace_ms(pr), 0);
    }
    if (quit)
        close_loop_handles(pr); /* the workers quit only when nothing is in flight */
}

int children_loop_init(par_run *pr, crun_error *err)
{
    int rc = uv_loop_init(&pr->loop);
    if (rc)
        return crun_error_set(err, CRUN_EIO, "parallel runner: cannot start an event loop: %s",
                              uv_strerror(rc));
    pr->wake.data = pr->stop_timer.data = pr;
    uv_async_init(&pr->loop, &pr->wake, woken);
    uv_timer_init(&pr->loop, &pr->stop_timer);
    pr->loop_ready = true;
    crun_run_on_cancel(pr->run, cancelled, pr);
    return 0;
}

void children_loop_run(par_run *pr)
{
    uv_run(&pr->loop, UV_RUN_DEFAULT);
}

void children_loop_close(par_run *pr)
{
    if (!pr->loop_ready)
        return;
    close_loop_handles(pr);
    uv_run(&pr->loop, UV_RUN_DEFAULT); /* close callbacks */
    uv_loop_close(&pr->loop);
    pr->loop_ready = false;
}
