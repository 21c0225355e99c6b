/* run/process.c - child processes of a run: spawn (PATH of the child's own
 * environment, looked up once per program per run), the table of tracked
 * children that cancel reaches, following a child's output line by line,
 * and reaping with the group rules.  The policy is in process.h and
 * docs/design-decisions.md; everything in libcrun that starts a process
 * goes through proc_spawn.
 */
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "run/run.h"
#include "run/process.h"

enum {
    READ_BUF_SIZE = 16384,
    CANCEL_POLL_MS = 100, /* how often a follower looks for a cancel */
    MAX_LEFTOVERS = 64    /* leftovers held by pidfds at once */
};
static const double EXITING_S = 0.05; /* how long a leftover may take to finish exiting */
static const double KILLED_S = 1.0;   /* and to go once it had SIGKILL */

/* crun_run_cancelled, read here without calling back into schedule.c */
static bool run_cancelled(const crun_run *run)
{
    return atomic_load(&((crun_run *)run)->cancelled);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void proc_table_free(proc_table *t)
{
    for (size_t i = 0; i < t->n_found; i++) {
        free(t->found[i].name);
        free(t->found[i].path_env);
        free(t->found[i].file);
    }
    free(t->found);
    free(t->kids);
    memset(t, 0, sizeof(*t));
}

/* --- the table of tracked children (under run->lock) --- */

/* Room for one more tracked child, before it exists. */
static int reserve_slot(proc_table *t)
{
    if (t->n + t->reserved == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        proc_kid *k = realloc(t->kids, cap * sizeof(*k));
        if (!k)
            return -1;
        t->kids = k;
        t->cap = cap;
    }
    t->reserved++;
    return 0;
}

/* A child that started (pid > 0) takes its reserved slot; a signal it
 * missed while it was being spawned is sent now. */
static void fill_slot(crun_run *run, pid_t pid, int cancel_signal)
{
    proc_table *t = &run->procs;
    t->reserved--;
    if (pid <= 0)
        return;
    t->kids[t->n++] = (proc_kid){pid, cancel_signal ? cancel_signal : SIGTERM};
    if (t->stop_signal)
        kill(-pid, t->stop_signal);
    else if (run_cancelled(run))
        kill(-pid, t->kids[t->n - 1].cancel_signal);
}

void crun_run_track_child(crun_run *run, pid_t pid)
{
    pthread_mutex_lock(&run->lock);
    bool room = reserve_slot(&run->procs) == 0;
    if (room)
        fill_slot(run, pid, SIGTERM);
    pthread_mutex_unlock(&run->lock);
    if (room)
        proc_guard_add(&run->shared->guard, pid);
    else {
        /* a child cancel could not reach must not run on: stop it now */
        kill(-pid, SIGKILL);
        crun_log(run->logger, CRUN_LOG_ERROR, "out of memory: child process %d "
                 "could not be tracked, killed", (int)pid);
    }
}

void crun_run_untrack_child(crun_run *run, pid_t pid)
{
    proc_table *t = &run->procs;
    bool found = false;
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < t->n && !found; i++)
        if ((found = t->kids[i].pid == pid))
            t->kids[i] = t->kids[--t->n];
    pthread_mutex_unlock(&run->lock);
    if (found)
        proc_guard_remove(&run->shared->guard, pid);
}

void proc_signal_all(crun_run *run, int sig)
{
    for (size_t i = 0; i < run->procs.n; i++)
        kill(-run->procs.kids[i].pid, sig ? sig : run->procs.kids[i].cancel_signal);
}

void crun_run_stop_commands(crun_run *run, int sig)
{
    pthread_mutex_lock(&run->lock);
    run->procs.stopping = true;
    if (sig) {
        run->procs.stop_signal = sig;
        proc_signal_all(run, sig);
    }
    pthread_mutex_unlock(&run->lock);
}

/* --- finding programs --- */

static const char *env_path(char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            return envp[i] + 5;
    return "/bin:/usr/bin"; /* posix_spawnp's default */
}

/* The file execvp would run for name on path: the first entry holding an
 * executable regular file (an empty or relative entry is taken from cwd, the
 * child's folder).  NULL with errno ENOENT or EACCES as execvp reports. */
static char *search_path(const char *name, const char *path, const char *cwd)
{
    bool denied = false;
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int dlen = (int)(end - p);
        char *file = NULL;
        bool rel = dlen == 0 || *p != '/';
        if (asprintf(&file, "%s%s%.*s%s%s", rel && cwd ? cwd : "", rel && cwd ? "/" : "",
                     dlen, p, dlen ? "/" : "", name) < 0)
            return errno = ENOMEM, NULL;
        struct stat st; /* execve's test: effective ids, a regular file with x for us */
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            if (faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) == 0)
                return file;
            denied = true;
        }
        free(file);
        if (!*end)
            break;
        p = end;
    }
    errno = denied ? EACCES : ENOENT;
    return NULL;
}

/* What to execute for argv0 (a new string): kept in the run after the first
 * look-up; forget says the kept one failed, look again. */
static char *find_program(crun_run *run, const char *argv0, char *const *envp,
                          const char *cwd, bool forget)
{
    if (strchr(argv0, '/'))
        return strdup(argv0);
    const char *path = env_path(envp);
    proc_table *t = &run->procs;
    char *file = NULL;
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < t->n_found; i++) {
        proc_found *f = &t->found[i];
        if (strcmp(f->name, argv0) != 0 || strcmp(f->path_env, path) != 0)
            continue;
        if (!forget)
            file = strdup(f->file);
        else {
            free(f->name), free(f->path_env), free(f->file);
            *f = t->found[--t->n_found];
        }
        break;
    }
    pthread_mutex_unlock(&run->lock);
    if (file)
        return file;
    if (!(file = search_path(argv0, path, cwd)))
        return NULL;
    proc_found f = {strdup(argv0), strdup(path), strdup(file)};
    pthread_mutex_lock(&run->lock);
    proc_found *g = f.name && f.path_env && f.file
                        ? realloc(t->found, (t->n_found + 1) * sizeof(*g)) : NULL;
    if (g) {
        t->found = g;
        t->found[t->n_found++] = f;
    }
    pthread_mutex_unlock(&run->lock);
    if (!g) /* not kept: looked up again next time */
        free(f.name), free(f.path_env), free(f.file);
    return file;
}

/* --- spawning --- */

static int set_attrs(posix_spawnattr_t *attr)
{
    sigset_t none, all;
    sigemptyset(&none);
    sigemptyset(&all); /* the standard signals: crun sets no real-time one */
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaddset(&all, sig);
    int rc = posix_spawnattr_setsigmask(attr, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(attr, &all);
    if (!rc)
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF);
    return rc;
}

static int set_files(posix_spawn_file_actions_t *fa, const proc_spec *s, int out, int err)
{
    int rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(fa, out, STDOUT_FILENO);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(fa, err, STDERR_FILENO);
    if (!rc && s->cwd)
        rc = posix_spawn_file_actions_addchdir_np(fa, s->cwd);
    return rc;
}

/* posix_spawn of file with every attribute checked: 0 or an errno. */
static int spawn_file(const char *file, const proc_spec *s, char *const *envp, int out,
                      int err, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    if ((rc = posix_spawnattr_init(&attr))) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    rc = set_attrs(&attr);
    if (!rc)
        rc = set_files(&fa, s, out, err);
    if (!rc)
        rc = posix_spawn(pid, file, &fa, &attr, s->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* base with each "NAME=value" of set in place of the variable of its name:
 * a new array of borrowed strings, NULL when out of memory. */
static char **env_overlay(char *const *base, char *const *set)
{
    size_t nb = 0, ns = 0;
    while (base && base[nb])
        nb++;
    while (set[ns])
        ns++;
    char **env = malloc((nb + ns + 1) * sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; env && i < nb; i++) {
        size_t len = strcspn(base[i], "=");
        bool replaced = false;
        for (size_t j = 0; j < ns && !replaced; j++)
            replaced = strncmp(set[j], base[i], len) == 0 && set[j][len] == '=';
        if (!replaced)
            env[k++] = base[i];
    }
    for (size_t j = 0; env && j < ns; j++)
        env[k++] = set[j];
    if (env)
        env[k] = NULL;
    return env;
}

/* Find and start the program; a kept path that has gone is looked up again. */
static int start(crun_run *run, const proc_spec *s, int out, int err_fd, pid_t *pid,
                 crun_error *err)
{
    char *const *envp = s->envp ? s->envp : run->shared->environ;
    char **merged = s->env ? env_overlay(envp, s->env) : NULL;
    if (s->env && !merged)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (merged)
        envp = merged;
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *file = find_program(run, s->argv[0], envp, s->cwd, attempt > 0);
        rc = file ? spawn_file(file, s, envp, out, err_fd, pid) : errno;
        free(file);
        if (!file || !(rc == ENOENT || rc == EACCES || rc == ENOTDIR) ||
            strchr(s->argv[0], '/'))
            break;
    }
    free(merged);
    if (!rc)
        return 0;
    return crun_error_set(err, rc == ENOMEM ? CRUN_ENOMEM : CRUN_ENODE, "cannot run '%s': %s",
                          s->argv[0], strerror(rc));
}

static int refuse_or_reserve(crun_run *run, crun_error *err)
{
    pthread_mutex_lock(&run->lock);
    int rc = 0;
    if (run_cancelled(run) || run->procs.stopping)
        rc = crun_error_set(err, CRUN_ECANCELED, "not started: the run is stopping");
    else if (reserve_slot(&run->procs) != 0)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory: no room to track a child, "
                            "not started");
    pthread_mutex_unlock(&run->lock);
    return rc;
}

int proc_spawn(crun_run *run, const proc_spec *spec, pid_t *pid, int *pipe_fd,
               crun_error *err)
{
    if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
        return crun_error_set(err, CRUN_EINVAL, "cannot run an empty command");
    int fds[2] = {-1, -1}, rc;
    if (spec->track && (rc = refuse_or_reserve(run, err)))
        return rc;
    if (spec->out_fd < 0 && pipe2(fds, O_CLOEXEC) != 0)
        rc = crun_error_set(err, CRUN_EIO, "cannot make a pipe: %s", strerror(errno));
    /* our end only: what is left once the child exits is read without waiting */
    else if (spec->out_fd < 0 && fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0)
        rc = crun_error_set(err, CRUN_EIO, "pipe: %s", strerror(errno));
    else
        rc = start(run, spec, spec->out_fd < 0 ? fds[1] : spec->out_fd,
                   spec->out_fd < 0 ? fds[1] : spec->err_fd, pid, err);
    if (fds[1] >= 0)
        close(fds[1]);
    if (spec->track) {
        pthread_mutex_lock(&run->lock);
        fill_slot(run, rc ? 0 : *pid, spec->cancel_signal);
        pthread_mutex_unlock(&run->lock);
        if (!rc)
            proc_guard_add(&run->shared->guard, *pid);
    }
    if (rc && fds[0] >= 0)
        close(fds[0]);
    else if (pipe_fd)
        *pipe_fd = fds[0];
    return rc;
}

/* What crun_run_spawn can refuse in a spec read at this crun's size. */
static int check_spawn(const crun_spawn *sp, crun_error *err)
{
    if (sp->out_fd < 0 || sp->err_fd < 0)
        return crun_error_set(err, CRUN_EINVAL, "crun_run_spawn: no stdout or stderr given");
    if (sp->cancel_signal < 0 || sp->cancel_signal >= NSIG)
        return crun_error_set(err, CRUN_EINVAL, "crun_run_spawn: cancel_signal %d is no "
                              "signal", sp->cancel_signal);
    for (size_t i = 0; sp->env && sp->env[i]; i++)
        if (!strchr(sp->env[i], '=') || sp->env[i][0] == '=')
            return crun_error_set(err, CRUN_EINVAL, "crun_run_spawn: env entry '%s' is not "
                                  "NAME=value", sp->env[i]);
    return 0;
}

int crun_run_spawn(crun_run *run, const crun_spawn *spec, pid_t *pid, crun_error *err)
{
    if (!spec)
        return crun_error_set(err, CRUN_EINVAL, "crun_run_spawn: no spec");
    crun_spawn sp = CRUN_SPAWN_INIT; /* what an older minor's spec lacks: zero */
    int rc = abi_struct_in(&sp, sizeof(sp), spec, "crun_spawn", err);
    if (!rc)
        rc = check_spawn(&sp, err);
    if (rc)
        return rc;
    proc_spec s = {.argv = sp.argv, .env = sp.env, .cwd = sp.cwd, .out_fd = sp.out_fd,
                   .err_fd = sp.err_fd, .track = (sp.flags & CRUN_SPAWN_TRACK) != 0,
                   .cancel_signal = sp.cancel_signal};
    return proc_spawn(run, &s, pid, NULL, err);
}

/* --- following output --- */

typedef struct lines {
    proc_line_fn fn;
    void *user;
    char *partial; /* a line not ended yet, at most PROC_MAX_LINE */
    size_t len;
} lines;

static void lines_flush(lines *l)
{
    if (l->len)
        l->fn(l->user, l->partial, l->len);
    l->len = 0;
}

/* Keep data as the start of a line; false when there is no memory for it
 * (the caller passes it on as it is: nothing is dropped). */
static bool lines_keep(lines *l, const char *data, size_t n)
{
    if (!l->partial && !(l->partial = malloc(PROC_MAX_LINE)))
        return false;
    while (n > 0) {
        size_t take = n < PROC_MAX_LINE - l->len ? n : PROC_MAX_LINE - l->len;
        memcpy(l->partial + l->len, data, take);
        l->len += take;
        data += take;
        n -= take;
        if (l->len == PROC_MAX_LINE)
            lines_flush(l); /* a piece of a long line */
    }
    return true;
}

/* The complete lines of data go on as one block (one write to the log for
 * a read, not one per line), a line begun before first; the unfinished rest
 * is kept for the next read. */
static void lines_feed(lines *l, const char *data, size_t n)
{
    const char *last = memrchr(data, '\n', n);
    size_t start = 0;
    if (last && l->len) {
        size_t end = (size_t)((const char *)memchr(data, '\n', n) - data);
        if (!lines_keep(l, data, end)) {
            lines_flush(l);
            l->fn(l->user, data, end);
        }
        lines_flush(l);
        start = end + 1;
    }
    if (last && data + start <= last)
        l->fn(l->user, data + start, (size_t)(last - data) - start);
    if (last)
        start = (size_t)(last - data) + 1;
    if (start < n && !lines_keep(l, data + start, n - start)) {
        lines_flush(l);
        l->fn(l->user, data + start, n - start);
    }
}

/* Read from fd (non-blocking) what is there, at most limit bytes (a process
 * left behind may write on and on); false at its end or on an error. */
static bool read_some(lines *l, int fd, size_t limit)
{
    char buf[READ_BUF_SIZE];
    for (size_t got = 0; got < limit;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            lines_feed(l, buf, (size_t)n);
            got += (size_t)n;
            if ((size_t)n < sizeof(buf))
                return true; /* all there was: spare the read that says EAGAIN */
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return n < 0 && errno == EAGAIN;
        }
    }
    return true;
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* A pidfd is opened by a raw system call, so it is closed by one.
 * ThreadSanitizer then sees neither; it sees close(2) only through libc.
 * libuv also closes its descriptors with raw calls, so a libc close of a
 * number TSan still believes is one of another thread's pipes (the
 * parallel runner's loop) would show as a race that is not one. */
static void pidfd_close(int fd)
{
    syscall(SYS_close, fd);
}

/* Whether pid has exited, leaving it unreaped. */
static bool has_exited(pid_t pid)
{
    siginfo_t info;
    info.si_pid = 0;
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* A cancelled run: SIGTERM at once, SIGKILL after the grace period. */
static void on_cancel(crun_run *run, pid_t pid, double *cancel_at, bool *killed)
{
    if (!run_cancelled(run) || *killed)
        return;
    if (*cancel_at == 0) {
        *cancel_at = now();
        kill(-pid, SIGTERM);
    } else if (now() - *cancel_at > run->grace_period) {
        kill(-pid, SIGKILL);
        *killed = true;
    }
}

/* The child has exited, and processes it left still hold its output open
 * (a `tee >(gzip > f)` finishing its file): they get the grace period to
 * finish, their output logged meanwhile.  Returns fd, or -1 once the output
 * ended. */
static int wait_for_holders(crun_run *run, lines *l, int fd)
{
    double deadline = now() + run->grace_period;
    while (fd >= 0 && !run_cancelled(run)) {
        double left = deadline - now();
        if (left <= 0)
            break;
        int ms = left * 1000 < CANCEL_POLL_MS ? (int)(left * 1000) + 1 : CANCEL_POLL_MS;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, ms) > 0 && !read_some(l, fd, READ_BUF_SIZE * 4)) {
            close(fd);
            fd = -1;
        }
    }
    return fd;
}

void proc_follow(crun_run *run, pid_t pid, int fd, proc_line_fn fn, void *user)
{
    lines l = {.fn = fn, .user = user};
    int pidfd = pidfd_of(pid); /* -1 before Linux 5.3: waitid is asked then */
    double cancel_at = 0;
    bool killed = false;
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int r = poll(p, 2, CANCEL_POLL_MS); /* poll skips a descriptor of -1 */
        if (r > 0 && p[0].revents && !read_some(&l, fd, READ_BUF_SIZE * 4)) {
            close(fd); /* the output is over; the exit may still take a while */
            fd = -1;
        }
        if (pidfd >= 0 ? (r > 0 && p[1].revents) : has_exited(pid))
            break;
        on_cancel(run, pid, &cancel_at, &killed);
    }
    if (fd >= 0)
        fd = wait_for_holders(run, &l, fd);
    /* what is in the pipe now, and no more: a process left behind may write
     * on and on (it is stopped next) */
    int queued = 0;
    if (fd >= 0 && ioctl(fd, FIONREAD, &queued) == 0 && queued > 0)
        read_some(&l, fd, (size_t)queued);
    if (fd >= 0)
        close(fd);
    lines_flush(&l);
    free(l.partial);
    if (pidfd >= 0)
        pidfd_close(pidfd);
}

/* --- ending a child's group, reaping --- */

/* Whether process `name` (a /proc entry) is in group pgid and not a zombie. */
static bool live_member(const char *name, pid_t pgid)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", name);
    FILE *f = fopen(path, "re");
    if (!f)
        return false; /* gone meanwhile */
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    const char *end = got ? strrchr(line, ')') : NULL; /* the name may hold anything */
    char state;
    int ppid, pgrp;
    return end && sscanf(end + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
           state != 'Z' && state != 'X';
}

/* Descriptors (pidfds) of the live members of group pgid, at most cap: each
 * checked again once open, so that a number taken over between the scan and
 * the open is never signalled.  None where pidfds are not to be had. */
static size_t open_members(pid_t pgid, int *fds, size_t cap)
{
    DIR *d = opendir("/proc");
    size_t n = 0;
    for (struct dirent *e; d && n < cap && (e = readdir(d));) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || !live_member(e->d_name, pgid))
            continue;
        int fd = pidfd_of((pid_t)atol(e->d_name));
        if (fd >= 0 && live_member(e->d_name, pgid))
            fds[n++] = fd;
        else if (fd >= 0)
            pidfd_close(fd);
    }
    if (d)
        closedir(d);
    return n;
}

/* Wait until every process of p has exited or deadline (CLOCK_MONOTONIC
 * seconds) has passed; an exited one's fd becomes -1 in p.  Returns how
 * many are left. */
static size_t wait_exits(struct pollfd *p, size_t n, double deadline)
{
    size_t left = 0;
    for (size_t i = 0; i < n; i++)
        left += p[i].fd >= 0;
    while (left > 0) {
        double wait = deadline - now();
        if (wait <= 0)
            break;
        int r = poll(p, n, (int)(wait * 1000) + 1);
        if (r < 0 && errno != EINTR)
            break;
        for (size_t i = 0; r > 0 && i < n; i++)
            if (p[i].fd >= 0 && p[i].revents) {
                p[i].fd = -1; /* exited: poll skips it from now on */
                left--;
            }
    }
    return left;
}

/* Send sig to the processes of p still there. */
static void pidfds_signal(const struct pollfd *p, size_t n, int sig)
{
#ifdef SYS_pidfd_send_signal
    for (size_t i = 0; i < n; i++)
        if (p[i].fd >= 0)
            syscall(SYS_pidfd_send_signal, p[i].fd, sig, NULL, 0);
#else
    (void)p, (void)n, (void)sig;
#endif
}

/* The leader is reaped.  Nothing is signalled by the group's number from
 * here on: the number is free again once the last member goes, and may be
 * another group's then.  The members still there (only when kill() says
 * the group still exists: rare) are found in /proc and held by pidfds, get
 * SIGTERM, are waited for until the grace period ends, and what ignored
 * SIGTERM gets SIGKILL; a second look catches what they started meanwhile.
 * Returns how many were stopped. */
static size_t end_leftovers(crun_run *run, pid_t pgid, bool at_once)
{
    double deadline = now() + run->grace_period;
    size_t stopped = 0;
    for (int look = 0; look < 2 && kill(-pgid, 0) == 0; look++) {
        int fds[MAX_LEFTOVERS];
        struct pollfd p[MAX_LEFTOVERS];
        size_t n = open_members(pgid, fds, MAX_LEFTOVERS);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        /* one that has closed its files is on its way out: not stopped by us */
        size_t left = wait_exits(p, n, now() + EXITING_S);
        pidfds_signal(p, n, at_once ? SIGKILL : SIGTERM);
        if (look == 0 && left && !at_once)
            wait_exits(p, n, deadline);
        pidfds_signal(p, n, SIGKILL); /* what ignored SIGTERM */
        wait_exits(p, n, now() + KILLED_S); /* gone before the second look */
        for (size_t i = 0; i < n; i++)
            pidfd_close(fds[i]);
        stopped += left;
    }
    return stopped;
}

/* Reap pid; stop what it left in its group; warn naming node (NULL: none)
 * when something had to be stopped. */
static int reap_group(crun_run *run, pid_t pid, const char *node, bool at_once)
{
    int pidfd = pidfd_of(pid);
    if (pidfd < 0) /* no pidfds (Linux before 5.3): SIGTERM while the zombie holds the number */
        kill(-pid, at_once ? SIGKILL : SIGTERM);
    else
        pidfd_close(pidfd);
    int status = -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1; /* reaped by someone else: its number is not ours to probe */
    }
    size_t stopped = pidfd < 0 ? 0 : end_leftovers(run, pid, at_once);
    if (stopped && node && !at_once)
        crun_log(run->logger, CRUN_LOG_WARN, "node '%s': stopped %zu process%s its "
                 "command left running", node, stopped, stopped == 1 ? "" : "es");
    return status;
}

int crun_run_command_reap(crun_run *run, pid_t pid)
{
    return reap_group(run, pid, NULL, false);
}

int proc_reap(crun_run *run, pid_t pid, const char *node)
{
    siginfo_t info;
    int r;
    while ((r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT)) < 0 && errno == EINTR)
        ;
    if (r != 0)
        return -1;
    crun_run_untrack_child(run, pid);
    pthread_mutex_lock(&run->lock);
    bool at_once = run->procs.stop_signal != 0 || run_cancelled(run);
    pthread_mutex_unlock(&run->lock);
    /* a stopped run: what the child left goes at once */
    return reap_group(run, pid, node, at_once);
}

int crun_run_reap(crun_run *run, pid_t pid)
{
    return proc_reap(run, pid, NULL);
}
