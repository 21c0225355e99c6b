/* children.c - the parallel runner's event loop: command nodes as child
 * processes.
 *
 * The loop runs on the thread that called the runner's run().  Workers hand
 * it prepared commands through `spawn` and a uv_async_t; it starts each with
 * posix_spawn in a session of its own (so kill(-pid) reaches grandchildren),
 * stdin on /dev/null and stdout+stderr on one pipe, logs the output line by
 * line as it comes (a uv_poll_t on the pipe), reaps the child when its pidfd
 * says it has exited (SIGCHLD where there are no pidfds), and hands the task
 * back to the workers to finish.  Stopping is timed here too: a 20 ms timer
 * notices crun_run_cancel (the run API has already sent SIGTERM to every
 * tracked child) and SIGKILLs what is left after grace_period; a failure
 * without keep_going gives running nodes grace_period, then SIGTERM, then
 * SIGKILL one second later.
 *
 * Why not uv_spawn: it forks, copying the page tables of a process that may
 * hold gigabytes of datasets, on the loop thread, for every node, and the
 * copy-on-write faults that follow slow every worker; posix_spawn is a vfork.
 * And libuv closes the fds it owns with a raw syscall that ThreadSanitizer
 * cannot see, so its pipes show up as false races on reused fd numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parallel.h"

enum {
    READ_BUF_SIZE = 65536,
    MAX_LINE = 65536,     /* a longer line is logged in pieces */
    CANCEL_POLL_MS = 20,
    KILL_AFTER_TERM_MS = 1000
};

static void close_loop_handles(par_run *pr);

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

/* --- a child's life --- */

/* Output closed and exit reaped: hand the node back to the workers. */
static void child_done(task *t)
{
    par_run *pr = t->pr;
    if (t->pid) {
        crun_run_untrack_child(pr->run, t->pid);
        /* the leader is gone; on a stop, so must be anything it left in its group */
        if (t->stopped || crun_run_cancelled(pr->run))
            kill(-t->pid, SIGKILL);
        task *last = pr->live_tasks[--pr->live];
        pr->live_tasks[t->live_index] = last;
        last->live_index = t->live_index;
    }
    par_finish_later(pr, t);
}

static void settle(task *t)
{
    if (--t->pending == 0)
        child_done(t);
}

static void output_watch_closed(uv_handle_t *h)
{
    task *t = h->data;
    close(t->out_fd);
    t->out_fd = -1;
    settle(t);
}

static void exit_watch_closed(uv_handle_t *h)
{
    task *t = h->data;
    close(t->pidfd);
    t->pidfd = -1;
    settle(t);
}

/* Reap the child if it has exited; true when it has. */
static bool try_reap(task *t)
{
    int status = 0;
    pid_t r;
    while ((r = waitpid(t->pid, &status, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        return false;
    t->wait_status = r == t->pid ? status : -1; /* -1: reaped by someone else */
    t->reaped = true;
    return true;
}

static void exit_ready(uv_poll_t *w, int status, int events)
{
    (void)status;
    (void)events;
    task *t = w->data;
    if (!try_reap(t))
        return;
    uv_poll_stop(w);
    uv_close((uv_handle_t *)w, exit_watch_closed);
}

/* Without pidfds: every SIGCHLD, look at each child that has none. */
static void sigchld_received(uv_signal_t *s, int signum)
{
    (void)signum;
    par_run *pr = s->data;
    for (size_t i = pr->live; i-- > 0;) {
        task *t = pr->live_tasks[i];
        if (t->pidfd < 0 && !t->reaped && try_reap(t))
            settle(t); /* may move live_tasks[i]: the walk goes downwards */
    }
}

static void output_ready(uv_poll_t *w, int status, int events)
{
    (void)events;
    task *t = w->data;
    bool over = status < 0;
    for (int round = 0; !over && round < 4; round++) {
        ssize_t n = read(t->out_fd, t->pr->read_buf, READ_BUF_SIZE);
        if (n > 0)
            split_lines(t, t->pr->read_buf, (size_t)n);
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        else if (n == 0 || errno != EINTR)
            over = true; /* end of output, or an error: either way it is over */
    }
    if (!over)
        return; /* four full buffers: other children get a turn first */
    emit_partial(t);
    uv_poll_stop(w);
    uv_close((uv_handle_t *)w, output_watch_closed);
}

static void not_started(par_run *pr, task *t)
{
    t->wait_status = -1;
    par_finish_later(pr, t);
}

/* posix_spawn (a vfork: no copy of this process's page tables, unlike
 * fork) in a new session, so that kill(-pid) reaches the whole tree; every
 * signal back to its default and none blocked, whatever the host set. */
static int spawn(const crun_command *cmd, int out_fd, pid_t *pid)
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
    if (!rc)
        rc = posix_spawnp(pid, cmd->argv[0], &fa, &attr, cmd->argv, cmd->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec */
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* Watch for the child's exit: its pidfd, else SIGCHLD. */
static void watch_exit(par_run *pr, task *t)
{
    t->pidfd = open_pidfd(t->pid);
    if (t->pidfd >= 0) {
        t->exit_watch.data = t;
        if (uv_poll_init(&pr->loop, &t->exit_watch, t->pidfd) == 0) {
            t->pending++;
            uv_poll_start(&t->exit_watch, UV_READABLE, exit_ready);
            return;
        }
        close(t->pidfd);
        t->pidfd = -1;
    }
    if (!pr->sigchld_on) {
        pr->sigchld_on = true;
        uv_signal_start(&pr->sigchld, sigchld_received, SIGCHLD);
    }
    t->pending++;
    if (try_reap(t)) /* it may have exited before the watch began */
        t->pending--;
}

static void start_child(par_run *pr, task *t)
{
    t->out_fd = t->pidfd = -1;
    if (t->not_started || crun_run_cancelled(pr->run)) {
        t->not_started = true;
        not_started(pr, t);
        return;
    }
    const crun_command *cmd = t->cmd;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(t->spawn_error, sizeof(t->spawn_error), "cannot make a pipe: %s",
                 strerror(errno));
        not_started(pr, t);
        return;
    }
    int rc = spawn(cmd, fds[1], &t->pid);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        t->pid = 0;
        snprintf(t->spawn_error, sizeof(t->spawn_error), "cannot run '%s': %s", cmd->argv[0],
                 strerror(rc));
        not_started(pr, t);
        return;
    }
    crun_run_track_child(pr->run, t->pid);
    t->live_index = pr->live;
    pr->live_tasks[pr->live++] = t;
    t->pending = 1; /* until this function is through */
    t->out_fd = fds[0];
    t->out_watch.data = t;
    if (fcntl(t->out_fd, F_SETFL, O_NONBLOCK) == 0 &&
        uv_poll_init(&pr->loop, &t->out_watch, t->out_fd) == 0) {
        t->pending++;
        uv_poll_start(&t->out_watch, UV_READABLE, output_ready);
    } else {
        close(t->out_fd); /* no output then, but the child is still reaped */
        t->out_fd = -1;
    }
    watch_exit(pr, t);
    settle(t);
}

/* --- stopping --- */

static void signal_children(par_run *pr, int sig)
{
    /* the whole group: a leader that has exited may have left children holding the pipe */
    for (size_t i = 0; i < pr->live; i++) {
        pr->live_tasks[i]->stopped = true;
        kill(-pr->live_tasks[i]->pid, sig);
    }
}

static void stop_timer_fired(uv_timer_t *timer)
{
    par_run *pr = timer->data;
    if (pr->phase == STOP_GRACE) {
        if (pr->live)
            crun_log(pr->logger, CRUN_LOG_WARN, "grace period of %g s over: stopping %zu "
                     "running command%s", pr->opt->grace_period, pr->live,
                     pr->live == 1 ? "" : "s");
        signal_children(pr, SIGTERM);
        pr->phase = STOP_TERM;
        uv_timer_start(&pr->stop_timer, stop_timer_fired, KILL_AFTER_TERM_MS, 0);
    } else if (pr->phase == STOP_TERM) {
        signal_children(pr, SIGKILL);
        pr->phase = STOP_KILL;
    }
}

static uint64_t grace_ms(const par_run *pr)
{
    return (uint64_t)(pr->opt->grace_period * 1000.0 + 0.5);
}

static void cancel_polled(uv_timer_t *timer)
{
    par_run *pr = timer->data;
    if (pr->cancel_seen || !crun_run_cancelled(pr->run))
        return;
    /* the run API sent SIGTERM to every tracked child; SIGKILL after the grace */
    pr->cancel_seen = true;
    uv_timer_stop(&pr->cancel_poll);
    if (pr->phase < STOP_TERM) {
        pr->phase = STOP_TERM;
        uv_timer_start(&pr->stop_timer, stop_timer_fired, grace_ms(pr), 0);
    }
}

/* --- the loop --- */

static void woken(uv_async_t *async)
{
    par_run *pr = async->data;
    task_list spawn;
    bool stop_now, quit;
    par_take_for_loop(pr, &spawn, &stop_now, &quit);
    for (task *t = spawn.head, *next; t; t = next) {
        next = t->next;
        start_child(pr, t);
    }
    if (stop_now && pr->phase == STOP_NONE) {
        pr->phase = STOP_GRACE;
        uv_timer_start(&pr->stop_timer, stop_timer_fired, grace_ms(pr), 0);
    }
    if (quit)
        close_loop_handles(pr); /* the workers quit only when nothing is in flight */
}

int children_loop_init(par_run *pr, crun_error *err)
{
    pr->read_buf = malloc(READ_BUF_SIZE);
    pr->live_tasks = calloc(pr->opt->max_workers, sizeof(task *));
    if (!pr->read_buf || !pr->live_tasks) {
        free(pr->read_buf);
        free(pr->live_tasks);
        pr->read_buf = NULL;
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    int rc = uv_loop_init(&pr->loop);
    if (rc) {
        free(pr->read_buf);
        free(pr->live_tasks);
        pr->read_buf = NULL;
        return crun_error_set(err, CRUN_EIO, "parallel runner: cannot start an event loop: %s",
                              uv_strerror(rc));
    }
    pr->wake.data = pr->cancel_poll.data = pr->stop_timer.data = pr->sigchld.data = pr;
    uv_async_init(&pr->loop, &pr->wake, woken);
    uv_signal_init(&pr->loop, &pr->sigchld);
    uv_timer_init(&pr->loop, &pr->cancel_poll);
    uv_timer_init(&pr->loop, &pr->stop_timer);
    uv_timer_start(&pr->cancel_poll, cancel_polled, CANCEL_POLL_MS, CANCEL_POLL_MS);
    return 0;
}

static void close_loop_handles(par_run *pr)
{
    if (pr->closing)
        return;
    pr->closing = true;
    uv_close((uv_handle_t *)&pr->wake, NULL);
    uv_close((uv_handle_t *)&pr->cancel_poll, NULL);
    uv_close((uv_handle_t *)&pr->stop_timer, NULL);
    uv_close((uv_handle_t *)&pr->sigchld, NULL);
}

void children_loop_run(par_run *pr)
{
    uv_run(&pr->loop, UV_RUN_DEFAULT);
}

void children_loop_close(par_run *pr)
{
    if (!pr->read_buf)
        return; /* never initialised */
    close_loop_handles(pr);
    uv_run(&pr->loop, UV_RUN_DEFAULT); /* close callbacks */
    uv_loop_close(&pr->loop);
    free(pr->live_tasks);
    free(pr->read_buf);
    pr->read_buf = NULL;
}
