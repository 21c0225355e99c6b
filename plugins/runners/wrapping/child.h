/* child.h - a wrapping runner's commands: a check, a git call.
 *
 * child_run starts argv (searched on PATH) in its own process group, in
 * folder cwd, with envp, stdin from /dev/null and stdout and stderr caught
 * together; the run tracks it, so cancelling the run (Ctrl-C) stops it, and
 * it is reaped with everything it started before child_run returns.
 */
#ifndef CRUN_WRAPPING_CHILD_H
#define CRUN_WRAPPING_CHILD_H

#include <stddef.h>

#include "crun/crun.h"

typedef struct child_output {
    char *text;  /* what it wrote (NUL-terminated, at most CHILD_OUTPUT_MAX bytes kept) */
    size_t len;
    bool cut;    /* more was written than kept */
} child_output;

enum { CHILD_OUTPUT_MAX = 1 << 20 };

/* Returns 0 with *wait_status as from waitpid, or CRUN_EIO (err set) when it
 * could not be started; out (may be NULL) receives the output, to free with
 * child_output_free. */
int child_run(crun_run *run, char *const *argv, char *const *envp, const char *cwd,
              int *wait_status, child_output *out, crun_error *err);
void child_output_free(child_output *out);

/* "exited with status 1", "was killed by signal 9" into buf. */
const char *child_status_text(int wait_status, char *buf, size_t size);

/* argv as one line for messages ("cppcheck src"), into buf. */
const char *child_argv_text(char *const *argv, char *buf, size_t size);

#endif
