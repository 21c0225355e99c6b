/* subprocess.h - the subprocess runner's parts. */
#ifndef CRUN_SUBPROCESS_H
#define CRUN_SUBPROCESS_H

#include "crun/crun.h"
#include "inner.h"

typedef struct subprocess {
    crun_logger *logger;
    char *self;
    char *runner;      /* the wrapped runner, run by the child crun */
    char **command;    /* the prefix, NULL-terminated (may be empty) */
    char ***setup;     /* commands run first, NULL-terminated */
    char *crun;        /* the crun program */
    int64_t grace;     /* seconds between forwarding a cancel and SIGKILL */
} subprocess;

/* launch.c: run the child crun under the prefix until it ends; out gets its
 * status as a CRUN_E* code, the failed nodes and the resume point it
 * printed.  Returns out->status with err set when not 0. */
int sub_launch(subprocess *sp, crun_run *run, inner_outcome *out, crun_error *err);

#endif
