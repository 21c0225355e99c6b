/* files.c - the file side of datasets: atomic saves, whole-file reads, and
 * where a (versioned) dataset's file lives.
 *
 * A save never writes the target in place: it writes "<dir>/.<base>.tmp-crun"
 * next to it (locked while written; a killed writer's is taken over by the
 * next save) and renames it over the target, so a killed run leaves either
 * the old file or the new one.  The durability level says when the data
 * also reaches the disk: NODE fsyncs the file before the rename and the
 * folder after it (what crun_file_write_atomic always does), RUN leaves both
 * to one syncfs at the run's end (file_saves.c), NONE to the OS.  A target that is a
 * symbolic link stays one: the file it points to is replaced.  A versioned dataset keeps
 * each save in <filepath>/<version>/<basename>; loads take the newest version
 * folder that holds the file, so a save that never completed is skipped.
 * Every error names the file and the system's reason.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/file_saves.h"

static int io_error(crun_error *err, const char *path)
{
    int code = errno == ENOENT ? CRUN_ENOENT : errno == ENOMEM ? CRUN_ENOMEM : CRUN_EIO;
    return crun_error_set(err, code, "%s: %s", path, strerror(errno));
}

/* The folder part of path ("." when there is none); malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int crun_mkdir_parents(const char *path, crun_error *err)
{
    return file_saves_mkdir(NULL, path, err); /* the walk lives there */
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync a folder so that a rename inside it survives a crash.  Some file
 * systems cannot fsync folders (EINVAL); there is nothing more to do there. */
static int sync_dir(const char *path, crun_error *err)
{
    char *dir = dir_of(path);
    if (!dir)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        rc = io_error(err, dir);
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

/* A new file keeps the mode of the one it replaces, else rw-r--r--
 * (mkstemp's 0600 would hide outputs from the rest of a team). */
static int copy_mode(int fd, const char *path)
{
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    return fchmod(fd, mode);
}

/* Where a save of path lands: path itself, or, when path is a symbolic
 * link, the file it points to (the link stays a link and its target is
 * replaced atomically, as writing through the link would do); malloc'd. */
static char *save_target(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
        return strdup(path);
    char *real = realpath(path, NULL);
    if (real)
        return real;
    /* a dangling link: the file it names is to be made */
    char link[4096];
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0)
        return strdup(path);
    link[n] = '\0';
    if (link[0] == '/')
        return strdup(link);
    char *dir = dir_of(path), *out = NULL;
    if (dir && asprintf(&out, "%s/%s", dir, link) < 0)
        out = NULL;
    free(dir);
    return out;
}

/* Open the temporary file of a save of path, locked (flock) until it is
 * closed: ".<base>.tmp-crun" next to path.  A writer that was killed left
 * that name unlocked, so the next save of the same file takes it over and a
 * crash leaves at most one temporary file per file, gone at its next save.
 * A live writer holds the lock: then a unique ".<base>.tmp-XXXXXX" is used.
 * The inode check makes sure the name was not renamed away (committed)
 * between the open and the lock. */
static int open_temp(const char *path, char **tmp_out)
{
    char *dir = dir_of(path), *tmp = NULL;
    if (!dir || asprintf(&tmp, "%s/.%s.tmp-crun", dir, base_of(path)) < 0) {
        free(dir);
        errno = ENOMEM;
        return -1;
    }
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            break;
        struct stat held, named;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            break;
        }
        if (fstat(fd, &held) == 0 && stat(tmp, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino && ftruncate(fd, 0) == 0) {
            free(dir);
            *tmp_out = tmp;
            return fd;
        }
        close(fd);
    }
    free(tmp);
    tmp = NULL;
    if (asprintf(&tmp, "%s/.%s.tmp-XXXXXX", dir, base_of(path)) < 0)
        tmp = NULL;
    free(dir);
    int fd = tmp ? mkostemp(tmp, O_CLOEXEC) : -1;
    if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
        *tmp_out = tmp;
        return fd;
    }
    int saved = tmp ? errno : ENOMEM;
    if (fd >= 0) {
        unlink(tmp);
        close(fd);
    }
    free(tmp);
    errno = saved;
    return -1;
}

/* How a save reaches the disk: the level and the run's record (or NULL). */
typedef struct save_how {
    crun_durability level; /* NONE, RUN or NODE */
    crun_file_saves *saves;
} save_how;

static save_how how_of(const crun_dataset_ctx *ctx)
{
    bool has = ctx && ctx->size >= offsetof(crun_dataset_ctx, saves) + sizeof(ctx->saves);
    save_how h = {has ? ctx->durability : CRUN_DURABILITY_DEFAULT, has ? ctx->saves : NULL};
    if (h.level == CRUN_DURABILITY_DEFAULT)
        h.level = h.saves ? file_saves_level(h.saves) : CRUN_DURABILITY_NODE;
    if (h.level == CRUN_DURABILITY_RUN && !h.saves) /* no run to sync at its end */
        h.level = CRUN_DURABILITY_NODE;
    return h;
}

/* What a save writes: len bytes at data, or what fn(user, fd) writes. */
typedef struct save_src {
    const void *data;
    size_t len;
    crun_write_fn fn;
    void *user;
    bool written; /* fn was called (a retry would call it again) */
} save_src;

/* src into fd: 0, or a CRUN_E* code with err set (a writer's own error as
 * it said it, a system error naming path). */
static int write_src(int fd, const char *path, save_src *src, crun_error *err)
{
    if (!src->fn)
        return write_all(fd, src->data, src->len) != 0 ? io_error(err, path) : 0;
    src->written = true;
    int rc = src->fn(src->user, fd, err);
    if (rc && !err->message)
        rc = crun_error_set(err, rc, "%s: cannot write the content", path);
    return rc;
}

/* Write src into the locked temporary file of path; *tmp_out names it and
 * the returned descriptor (>= 0) holds the lock: close it only once the
 * temporary name is gone (renamed or unlinked).  Synced at NODE only. */
static int write_temp(const char *path, save_src *src, save_how how, char **tmp_out,
                      crun_error *err)
{
    char *tmp = NULL;
    int fd = open_temp(path, &tmp);
    if (fd < 0)
        return io_error(err, path);
    int rc = copy_mode(fd, path) != 0 ? io_error(err, path) : write_src(fd, path, src, err);
    if (!rc && how.level == CRUN_DURABILITY_NODE && fsync(fd) != 0)
        rc = io_error(err, path);
    if (rc) {
        unlink(tmp);
        close(fd);
        free(tmp);
        return rc;
    }
    *tmp_out = tmp;
    return fd;
}

/* A RUN save marks its file system for the run's end sync (the folder is
 * made by then); when that cannot be promised, it is synced as at NODE. */
static save_how for_target(save_how how, const char *target)
{
    if (how.level == CRUN_DURABILITY_RUN && file_saves_written(how.saves, target) != 0)
        how.level = CRUN_DURABILITY_NODE;
    return how;
}

/* The temporary file of a save of target, in its folder (made once per
 * run).  A folder the run made and someone removed since is made again. */
static int open_save(const char *target, save_src *src, save_how *how, char **tmp,
                     crun_error *err)
{
    int rc = file_saves_mkdir(how->saves, target, err);
    if (rc)
        return rc;
    *how = for_target(*how, target);
    int fd = write_temp(target, src, *how, tmp, err);
    if (fd == CRUN_ENOENT && how->saves && !src->written) {
        crun_error_clear(err);
        file_saves_forget(how->saves, target);
        if ((rc = file_saves_mkdir(how->saves, target, err)) != 0)
            return rc;
        fd = write_temp(target, src, *how, tmp, err);
    }
    return fd;
}

static int write_atomic(const char *path, save_src *src, save_how how, crun_error *err)
{
    char *target = save_target(path);
    if (!target)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    char *tmp = NULL;
    int fd = open_save(target, src, &how, &tmp, err), rc = 0;
    if (fd < 0) {
        free(target);
        return fd;
    }
    if (rename(tmp, target) != 0) {
        rc = io_error(err, path);
        unlink(tmp);
    }
    if (rc == 0 && how.level == CRUN_DURABILITY_NODE)
        rc = sync_dir(target, err);
    close(fd);
    free(tmp);
    free(target);
    return rc;
}

int crun_file_write_atomic(const char *path, const void *data, size_t len, crun_error *err)
{
    save_src src = {.data = data, .len = len};
    return write_atomic(path, &src, how_of(NULL), err);
}

int crun_dataset_write_atomic(const crun_dataset_ctx *ctx, const char *path, const void *data,
                              size_t len, crun_error *err)
{
    save_src src = {.data = data, .len = len};
    return write_atomic(path, &src, how_of(ctx), err);
}

int crun_dataset_write_atomic_with(const crun_dataset_ctx *ctx, const char *path,
                                   crun_write_fn fn, void *user, crun_error *err)
{
    save_src src = {.fn = fn, .user = user};
    return write_atomic(path, &src, how_of(ctx), err);
}

static int sync_file(const char *path, crun_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(err, path);
    int rc = fsync(fd) != 0 ? io_error(err, path) : 0;
    close(fd);
    return rc;
}

static int commit(const char *tmp_path, const char *path, save_how how, crun_error *err)
{
    char *target = save_target(path);
    int rc = target ? file_saves_mkdir(how.saves, target, err)
                    : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    bool node = rc == 0 && for_target(how, target).level == CRUN_DURABILITY_NODE;
    if (rc == 0 && node)
        rc = sync_file(tmp_path, err);
    if (rc == 0 && rename(tmp_path, target) != 0)
        rc = io_error(err, path);
    if (rc == 0 && node)
        rc = sync_dir(target, err);
    else if (rc != 0) /* the content is not going anywhere: do not leave it lying around */
        unlink(tmp_path);
    free(target);
    return rc;
}

int crun_file_commit(const char *tmp_path, const char *path, crun_error *err)
{
    return commit(tmp_path, path, how_of(NULL), err);
}

int crun_dataset_commit(const crun_dataset_ctx *ctx, const char *tmp_path, const char *path,
                        crun_error *err)
{
    return commit(tmp_path, path, how_of(ctx), err);
}

/* Read fd to its end; st (NULL: unknown) sizes the buffer for a regular file. */
static int read_fd(int fd, const struct stat *st, char **data, size_t *len)
{
    size_t cap = 4096, n = 0;
    if (st && S_ISREG(st->st_mode) && st->st_size > 0)
        cap = (size_t)st->st_size + 1;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    for (;;) {
        if (n + 1 >= cap) {
            char *p = realloc(buf, cap * 2);
            if (!p)
                goto fail;
            buf = p;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto fail;
        if (got == 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
fail:
    free(buf);
    return -1;
}

int crun_file_read(const char *path, char **data, size_t *len, crun_error *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(err, path);
    struct stat st;
    bool known = fstat(fd, &st) == 0;
    if (known && S_ISDIR(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return io_error(err, path);
    }
    int rc = read_fd(fd, known ? &st : NULL, data, len) != 0 ? io_error(err, path) : 0;
    close(fd);
    return rc;
}

/* --- where a dataset's file lives ------------------------------------------ */

static char *resolve(const crun_dataset_ctx *ctx, const char *filepath)
{
    char *out = NULL;
    if (filepath[0] == '/' || !ctx->project_dir || !ctx->project_dir[0])
        return strdup(filepath);
    if (asprintf(&out, "%s/%s", ctx->project_dir, filepath) < 0)
        return NULL;
    return out;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Does <root>/<version>/<base> exist as a file? */
static int version_complete(const char *root, const char *version, const char *base)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s/%s", root, version, base) < 0)
        return 0;
    int ok = is_regular_file(path);
    free(path);
    return ok;
}

/* The greatest version folder name under root holding base; Kedro's version
 * names (2026-11-23T16.45.00.123Z) sort by time.  NULL when there is none. */
static char *newest_version(const char *root, const char *base)
{
    DIR *dir = opendir(root);
    if (!dir)
        return NULL;
    char *best = NULL;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        if (best && strcmp(e->d_name, best) <= 0)
            continue;
        if (!version_complete(root, e->d_name, base))
            continue;
        char *name = strdup(e->d_name);
        if (name) {
            free(best);
            best = name;
        }
    }
    closedir(dir);
    return best;
}

/* Whether a file's lock is free: its writer, if it ever had one, is gone. */
static bool unlocked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return false;
    bool free_ = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return free_;
}

/* Remove what killed saves left in version folder dir: temporary files no
 * writer holds, then the folder if that emptied it.  A folder changed in the
 * last seconds may be a live save's, made but not yet written: left alone. */
static void drop_unfinished(const char *dir, const char *base)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || time(NULL) - st.st_mtime < 10)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t blen = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, blen) != 0 || strncmp(n + 1 + blen, ".tmp-", 5))
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, n) >= 0 && unlocked(path))
            unlink(path);
        free(path);
    }
    closedir(d);
    rmdir(dir); /* only when nothing else is in it */
}

/* Before a versioned save: the version folders of root without base's file
 * are saves that never completed; clean what their writers left. */
static void drop_unfinished_versions(const char *root, const char *base)
{
    DIR *dir = opendir(root);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.' || version_complete(root, e->d_name, base))
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", root, e->d_name) >= 0)
            drop_unfinished(path, base);
        free(path);
    }
    closedir(dir);
}

static int versioned_path(const crun_dataset_ctx *ctx, const char *filepath, const char *root,
                          bool for_save, char **out, crun_error *err)
{
    const char *base = base_of(filepath);
    const char *version = for_save ? ctx->save_version : ctx->load_version;
    char *found = NULL;
    if (for_save && !version)
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s': no save version was given",
                              ctx->name);
    if (for_save)
        drop_unfinished_versions(root, base);
    if (!version && !(version = found = newest_version(root, base)))
        return crun_error_set(err, CRUN_ENOENT, "dataset '%s': no version of %s found",
                              ctx->name, filepath);
    int rc = asprintf(out, "%s/%s/%s", root, version, base) < 0 ? CRUN_ENOMEM : 0;
    free(found);
    if (rc != 0) {
        *out = NULL;
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return 0;
}

int crun_dataset_path(const crun_dataset_ctx *ctx, const char *filepath, bool for_save,
                      char **out, crun_error *err)
{
    *out = NULL;
    if (!filepath || !filepath[0])
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s': empty filepath", ctx->name);
    char *root = resolve(ctx, filepath);
    if (!root)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!ctx->versioned) {
        *out = root;
        return 0;
    }
    int rc = versioned_path(ctx, filepath, root, for_save, out, err);
    free(root);
    return rc;
}
