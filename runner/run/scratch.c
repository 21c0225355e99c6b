/* scratch.c - a run's scratch folder, and removing what commands leave.
 *
 * Command nodes read and write files: inputs written out for them, outputs
 * they make, made in one folder per run under $TMPDIR (the session's
 * environment, not the process's), created on first use and removed whole
 * with the run; what a crashed run left is removed by the next one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
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

/* A scratch folder is "crun-scratch-<run id>-XXXXXX" under $TMPDIR, holding
 * ".owner", a file its run keeps locked (flock) while it lives.  A run that
 * crashed or was killed cannot remove its folder; its lock went with it, so
 * the next run that makes a scratch folder removes it.  Folders without the
 * marker are never touched: /tmp is shared. */
static const char SCRATCH_PREFIX[] = "crun-scratch-";

/* Remove the scratch folders under tmp whose run is gone. */
static void drop_orphans(const char *tmp)
{
    DIR *dir = opendir(tmp);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, SCRATCH_PREFIX, sizeof(SCRATCH_PREFIX) - 1) != 0)
            continue;
        char *path = NULL, *owner = NULL;
        if (asprintf(&path, "%s/%s", tmp, e->d_name) < 0)
            continue;
        struct stat st;
        int fd = -1;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
            asprintf(&owner, "%s/.owner", path) >= 0)
            fd = open(owner, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            run_remove_tree(path);
        if (fd >= 0)
            close(fd);
        free(owner);
        free(path);
    }
    closedir(dir);
}

static int make_scratch(crun_run *run, crun_error *err)
{
    const char *tmp = conf_getenv(run->shared->environ, "TMPDIR");
    tmp = tmp && tmp[0] ? tmp : "/tmp";
    drop_orphans(tmp);
    char *path = NULL, *owner = NULL;
    if (asprintf(&path, "%s/%s%s-XXXXXX", tmp, SCRATCH_PREFIX, run->run_id) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!mkdtemp(path)) {
        int rc = crun_error_set(err, CRUN_EIO, "cannot create the run's scratch folder %s: %s",
                                path, strerror(errno));
        free(path);
        return rc;
    }
    /* .owner appears already locked (made under another name, locked, then
     * renamed): another run's sweep never finds it unlocked while we live */
    char *made = NULL;
    int fd = asprintf(&owner, "%s/.owner", path) < 0 || asprintf(&made, "%s/.lock-XXXXXX", path) < 0
                 ? -1 : mkostemp(made, O_CLOEXEC);
    if (fd >= 0 && (flock(fd, LOCK_EX) != 0 || rename(made, owner) != 0)) {
        close(fd);
        fd = -1;
    }
    free(made);
    if (fd < 0) {
        int rc = crun_error_set(err, CRUN_EIO, "cannot lock the run's scratch folder %s: %s",
                                path, strerror(errno));
        run_remove_tree(path);
        free(owner);
        free(path);
        return rc;
    }
    free(owner);
    run->scratch_dir = path;
    run->scratch_lock = fd;
    return 0;
}

int run_scratch_dir(crun_run *run, crun_error *err)
{
    pthread_mutex_lock(&run->lock);
    int rc = run->scratch_dir ? 0 : make_scratch(run, err);
    pthread_mutex_unlock(&run->lock);
    return rc;
}

void run_scratch_free(crun_run *run)
{
    if (!run->scratch_dir)
        return;
    run_remove_tree(run->scratch_dir);
    close(run->scratch_lock);
    free(run->scratch_dir);
    run->scratch_dir = NULL;
}
