/* snapshot.h - the snapshot runner's parts: the git state of a run, its manifest. */
#ifndef CRUN_SNAPSHOT_H
#define CRUN_SNAPSHOT_H

#include "crun/crun.h"

typedef enum snap_dirty { SNAP_REFUSE, SNAP_RECORD, SNAP_COMMIT } snap_dirty;

/* What git says about the project's work tree when the run starts. */
typedef struct snap_git {
    char *top;          /* the work tree's top folder */
    char *head;         /* HEAD's commit, or NULL before the first commit */
    bool dirty;         /* uncommitted changes or untracked files (.crun/ aside) */
    json_t *changes;    /* `git status --porcelain` lines, an array */
    char *snap_commit;  /* SNAP_COMMIT: the commit of the work tree */
    char *snap_ref;     /* SNAP_COMMIT: refs/crun/runs/<run id> */
} snap_git;

/* git.c */
int snap_git_read(crun_run *run, const char *dir, snap_git *g, crun_error *err);
/* Commit the work tree (untracked files too, ignored ones not) to
 * refs/crun/runs/<run id>, leaving the branch, index and work tree alone. */
int snap_git_commit(crun_run *run, const char *dir, snap_git *g, crun_error *err);
void snap_git_clear(snap_git *g);

/* manifest.c: write <dir>/.crun/runs/<run id>/manifest.json atomically. */
typedef struct snap_manifest {
    const char *dir;
    const snap_git *git;
    const char *dirty_mode;
    json_t *stack;   /* borrowed: the runner stack */
    const char *status; /* "running", "succeeded", "failed", "cancelled" */
    const char *error;  /* the failure's message, or NULL */
    double started, finished;
} snap_manifest;
int snap_manifest_write(crun_run *run, const snap_manifest *m, crun_error *err);

#endif
