/* files.c - the file side of datasets: atomic saves, whole-file reads, and
 * where a (versioned) dataset's file lives.
 *
 * A save never writes the target in place: it writes "<dir>/.<base>.tmp-XXXXXX"
 * next to it, fsyncs, renames over the target and fsyncs the folder, so a
 * crash leaves either the old file or the new one.  A versioned dataset keeps
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
#include <sys/stat.h>
#include <unistd.h>

#include "crun/dataset.h"

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
    char *dir = dir_of(path);
    if (!dir)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = 0;
    /* Walk the prefixes left to right; each mkdir either makes a folder or
     * finds one already there. */
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            rc = io_error(err, dir);
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(dir);
    return rc;
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

static char *temp_template(const char *path)
{
    char *dir = dir_of(path), *tmpl = NULL;
    if (dir && asprintf(&tmpl, "%s/.%s.tmp-XXXXXX", dir, base_of(path)) < 0)
        tmpl = NULL;
    free(dir);
    return tmpl;
}

/* Write data into a fresh temporary file next to path; *tmp_out names it. */
static int write_temp(const char *path, const void *data, size_t len, char **tmp_out,
                      crun_error *err)
{
    char *tmp = temp_template(path);
    if (!tmp)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = io_error(err, tmp);
        free(tmp);
        return rc;
    }
    int rc = 0;
    if (copy_mode(fd, path) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        rc = io_error(err, path);
    if (close(fd) != 0 && rc == 0)
        rc = io_error(err, path);
    if (rc != 0) {
        unlink(tmp);
        free(tmp);
        return rc;
    }
    *tmp_out = tmp;
    return 0;
}

int crun_file_write_atomic(const char *path, const void *data, size_t len, crun_error *err)
{
    int rc = crun_mkdir_parents(path, err);
    if (rc != 0)
        return rc;
    char *tmp = NULL;
    rc = write_temp(path, data, len, &tmp, err);
    if (rc != 0)
        return rc;
    if (rename(tmp, path) != 0) {
        rc = io_error(err, path);
        unlink(tmp);
    }
    free(tmp);
    return rc != 0 ? rc : sync_dir(path, err);
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

int crun_file_commit(const char *tmp_path, const char *path, crun_error *err)
{
    int rc = crun_mkdir_parents(path, err);
    if (rc == 0)
        rc = sync_file(tmp_path, err);
    if (rc == 0 && rename(tmp_path, path) != 0)
        rc = io_error(err, path);
    if (rc != 0) {
        /* The content is not going anywhere: do not leave it lying around. */
        unlink(tmp_path);
        return rc;
    }
    return sync_dir(path, err);
}

static int read_fd(int fd, char **data, size_t *len)
{
    size_t cap = 4096, n = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
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
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return io_error(err, path);
    }
    int rc = read_fd(fd, data, len) != 0 ? io_error(err, path) : 0;
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

static int versioned_path(const crun_dataset_ctx *ctx, const char *filepath, const char *root,
                          bool for_save, char **out, crun_error *err)
{
    const char *base = base_of(filepath);
    const char *version = for_save ? ctx->save_version : ctx->load_version;
    char *found = NULL;
    if (for_save && !version)
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s': no save version was given",
                              ctx->name);
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
