/* child.h - a wrapping runner's commands: a check, a git call, the
 * subprocess runner's child crun.
 *
 * libcrun starts and reaps them (crun_run_spawn, crun_run_reap: the
 * session's PATH and environment, a session of their own, every signal at
 * its default, stdin /dev/null); what is here is reading a child's output
 * until it exits.  Every child is tracked, so cancelling the run (Ctrl-C)
 * reaches it, and it is reaped with everything it started before these
 * return.
 */
#ifndef CRUN_WRAPPING_CHILD_H
#define CRUN_WRAPPING_CHILD_H

#include <stddef.h>

#include "crun/crun.h"

/* Output as it is read (any piece of it, not lines). */
typedef void (*child_take_fn)(void *user, const char *data, size_t len);

/* Pass what pid (from crun_run_spawn) writes to fd, the read end of its
 * pipe, to take until pid exits, then reap it (crun_run_reap).  With
 * kill_after >= 0 (seconds), a child still there that long after the run
 * was cancelled gets SIGKILL; < 0: never.  fd stays the caller's.  Returns the wait status,
 * or -1 when pid could not be reaped. */
int child_follow(crun_run *run, pid_t pid, int fd, child_take_fn take, void *user,
                 double kill_after);

typedef struct child_output {
    char *text;  /* what it wrote (NUL-terminated, at most CHILD_OUTPUT_MAX bytes kept) */
    size_t len;
    bool cut;    /* more was written than kept */
} child_output;

enum { CHILD_OUTPUT_MAX = 1 << 20 };

/* Run argv in folder cwd with env ("NAME=value" laid over the session's
 * environment; NULL: none), its stdout and stderr caught together, and wait
 * for it.  Returns 0 with *wait_status as from waitpid, or the error of
 * crun_run_spawn (CRUN_ENODE "cannot run 'x': ...", CRUN_ECANCELED once the
 * run is stopping) or CRUN_EIO, with err set; out (may be NULL) receives the
 * output, to free with child_output_free. */
int child_run(crun_run *run, char *const *argv, char *const *env, const char *cwd,
              int *wait_status, child_output *out, crun_error *err);
void child_output_free(child_output *out);

/* "exited with status 1", "was killed by signal 9" into buf. */
const char *child_status_text(int wait_status, char *buf, size_t size);

/* argv as one line for messages ("cppcheck src"), into buf. */
const char *child_argv_text(char *const *argv, char *buf, size_t size);

#endif
