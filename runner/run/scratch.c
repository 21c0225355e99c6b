/* scratch.c - a run's scratch folder, and removing what commands leave.
 *
 * Command nodes read and write files: inputs written out for them, outputs
 * they make, made in one folder per run under $TMPDIR (the session's
 * environment, not the process's), created on first use and removed whole
 * with the run.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/run.h"

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* FTW_PHYS: a symbolic link is removed itself, never what it points to */
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0; /* what cannot go stays; the rest goes all the same */
}

/* Commands write where they are told as they please, folders included
 * (mkdir -p {outputs.x}).  Depth first, not following symbolic links, nor
 * crossing into another file system mounted inside. */
int run_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int run_scratch_dir(crun_run *run, crun_error *err)
{
    pthread_mutex_lock(&run->lock);
    int rc = 0;
    if (!run->scratch_dir) {
        const char *tmp = conf_getenv(run->shared->environ, "TMPDIR");
        char *path = NULL;
        if (asprintf(&path, "%s/crun-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", run->run_id) < 0)
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        else if (!mkdtemp(path)) {
            rc = crun_error_set(err, CRUN_EIO, "cannot create the run's scratch folder %s: %s",
                                path, strerror(errno));
            free(path);
        } else
            run->scratch_dir = path;
    }
    pthread_mutex_unlock(&run->lock);
    return rc;
}
