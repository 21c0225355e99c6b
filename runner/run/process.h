/* run/process.h (internal) - the one way libcrun starts, follows, stops and
 * reaps a child process: command nodes (sequential, parallel through
 * crun_run_execute) and the programs runner plugins start (crun_run_spawn).
 *
 * Policy (docs/design-decisions.md, "Child processes"):
 * - posix_spawn (a vfork), every posix_spawn* result checked.  argv[0]
 *   without a slash is looked up on the PATH of the child's environment (the
 *   session's copy, never crun's own), once per program per run: the answer
 *   is kept in the run (a removed program is looked up again).
 * - The child leads a session of its own (setsid): a process group that
 *   kill(-pid) reaches as a whole, and no controlling terminal, so nothing
 *   typed at the terminal reaches it (crun decides) and a child that opens
 *   /dev/tty gets an error instead of stopping on SIGTTIN.
 * - Every signal back to its default disposition (crun ignores SIGPIPE),
 *   none blocked (crun blocks SIGINT/SIGTERM in its threads).
 * - stdin is /dev/null; stdout and stderr go where the caller says, else one
 *   pipe whose lines the caller logs.
 * - A tracked child has its slot in the run reserved before it is spawned:
 *   when that slot cannot be had, nothing is spawned (CRUN_ENOMEM), so
 *   crun_run_cancel can always reach every tracked child.  A tracked child
 *   is refused (CRUN_ECANCELED) once the run is cancelled or its commands
 *   stopped (crun_run_stop_commands).
 * - Its group is signalled by number only while the leader is unreaped (the
 *   number stays taken); leftovers after that are held by pidfds.
 * - A tracked child's group is announced to the session's guard, which
 *   SIGKILLs it if crun ends (even by SIGKILL or a crash) before reaping it.
 *
 * Thread-safety: every function may run on many threads at once for
 * different children; the run's lock guards the table and the path cache.
 */
#ifndef CRUN_RUN_PROCESS_H
#define CRUN_RUN_PROCESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crun/crun.h"

/* The session's guard (run/guard.c): a process that SIGKILLs every tracked
 * child's group when crun ends, however it ends.  Started at the first
 * tracked child; one per session. */
typedef struct proc_guard {
    pthread_mutex_t lock;    /* all of it */
    bool started;
    pid_t pid;
    int fd;                  /* the pipe's write end; -1: no guard */
    _Atomic int32_t *slots;  /* shared with the guard: groups, 0 for a free slot */
    size_t used;             /* slots past this are all free */
} proc_guard;

void proc_guard_init(proc_guard *g);
/* Announce a tracked child's group (starting the guard if need be), and its
 * end (before it is reaped).  Any thread. */
void proc_guard_add(proc_guard *g, pid_t pgid);
void proc_guard_remove(proc_guard *g, pid_t pgid);
/* At the session's close: the guard ends (and is reaped). */
void proc_guard_close(proc_guard *g);

/* Children and program paths of one run (in crun_run, under its lock). */
typedef struct proc_found {
    char *name;     /* argv[0] as given */
    char *path_env; /* the PATH it was looked up on */
    char *file;     /* what is executed */
} proc_found;

typedef struct proc_kid {
    pid_t pid;            /* a tracked child: a process-group leader */
    int cancel_signal;    /* what crun_run_cancel sends its group */
} proc_kid;

typedef struct proc_table {
    proc_kid *kids;       /* tracked children */
    size_t n, reserved, cap;
    bool stopping;        /* crun_run_stop_commands: no tracked child starts */
    int stop_signal;      /* the last signal it sent (a late child gets it) */
    proc_found *found;
    size_t n_found;
} proc_table;

void proc_table_free(proc_table *t);

/* Under run->lock: every tracked child's group gets sig, or its own
 * cancel signal when sig is 0 (crun_run_cancel). */
void proc_signal_all(crun_run *run, int sig);

/* What to start. */
typedef struct proc_spec {
    char *const *argv;
    char *const *envp; /* NULL: the session's environment */
    char *const *env;  /* "NAME=value" laid over envp (or the session's); NULL: none */
    const char *cwd;   /* NULL: crun's current folder */
    int out_fd;        /* the child's stdout; -1: a pipe, its read end returned */
    int err_fd;        /* the child's stderr (ignored with out_fd -1: the pipe) */
    bool track;        /* crun_run_cancel and crun_run_stop_commands reach it */
    int cancel_signal; /* what crun_run_cancel sends it; 0: SIGTERM */
} proc_spec;

/* Start spec.  *pid is the child (a session leader).  With out_fd -1,
 * *pipe_fd is the read end (non-blocking, close-on-exec) of the pipe holding
 * the child's stdout and stderr, the caller's to close.  Errors: CRUN_ENODE
 * "cannot run 'x': ..." when the program cannot be started, CRUN_ECANCELED
 * when a tracked child is refused, CRUN_ENOMEM, CRUN_EIO. */
int proc_spawn(crun_run *run, const proc_spec *spec, pid_t *pid, int *pipe_fd,
               crun_error *err);

/* Lines of output, passed on as they are read: text is one or more lines
 * parted by '\n' (none after the last).  A line longer than PROC_MAX_LINE is
 * passed on in pieces of that size, so one line without an end never takes
 * more memory. */
enum { PROC_MAX_LINE = 65536 };
typedef void (*proc_line_fn)(void *user, const char *text, size_t len);

/* Pass fd's lines to fn until pid exits (not until the output ends, which a
 * process it left behind may hold open); then, while processes it left
 * still hold the output open, their lines too, for at most the run's grace
 * period; then what the pipe holds at that moment; close fd.  A cancelled
 * run's child gets SIGTERM, and SIGKILL after the run's grace period.  pid
 * is left unreaped (its number stays taken). */
void proc_follow(crun_run *run, pid_t pid, int fd, proc_line_fn fn, void *user);

/* Wait for pid to exit, stop it from being tracked, reap it, and stop what
 * it left in its group through pidfds: SIGTERM, SIGKILL after the grace
 * period (SIGKILL at once when the run was cancelled or its commands
 * stopped), with a warning naming node (NULL: none) when something had to
 * be stopped.  Returns the wait status, -1 when pid could not be waited
 * for. */
int proc_reap(crun_run *run, pid_t pid, const char *node);

#endif
