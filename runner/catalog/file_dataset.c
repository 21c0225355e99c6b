/* file_dataset.c - what every file-backed dataset type shares.
 *
 * A dataset instance resolves its catalog `filepath` through
 * crun_dataset_path (files.c): the run's version folder for saves, the
 * pinned or newest version for loads.  Once it has saved, its loads read
 * that file back, so a node downstream sees this run's output even when a
 * newer version appears meanwhile.  Only the first save is kept: filepath()
 * hands the string to command nodes, and it must stay valid.  The type
 * plugins (bytes, text, json, csv, sqlite) keep their formats; this file
 * keeps the paths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crun/dataset.h"

struct crun_file_dataset {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the handle's life */
    char *filepath;              /* as written in the catalog */
    char *load_file;             /* the file a load would read at create time, or NULL */
    char *saved_file;            /* this instance's first save, set once */
};

int crun_dataset_filepath_option(const crun_dataset_ctx *ctx, const crun_options *opts,
                                 const char **out, crun_error *err)
{
    *out = NULL;
    int rc = crun_options_string(opts, "filepath", out, err);
    if (rc != 0 || (*out && **out))
        return rc;
    const char *where = crun_options_where(opts, "filepath");
    return crun_error_set(err, CRUN_ECONFIG, "%s%sdataset '%s': option 'filepath' is required",
                          where ? where : "", where ? ": " : "", ctx->name);
}

int crun_file_dataset_new(const crun_dataset_ctx *ctx, const char *filepath,
                          crun_file_dataset **out, crun_error *err)
{
    *out = NULL;
    crun_file_dataset *f = calloc(1, sizeof(*f));
    if (!f || !(f->filepath = strdup(filepath))) {
        free(f);
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    }
    f->ctx = ctx;
    /* No version to load yet is normal for an output; filepath() then says NULL. */
    crun_error ignored = CRUN_ERROR_INIT;
    if (crun_dataset_path(ctx, filepath, false, &f->load_file, &ignored) != 0)
        f->load_file = NULL;
    crun_error_clear(&ignored);
    *out = f;
    return 0;
}

void crun_file_dataset_free(crun_file_dataset *f)
{
    if (!f)
        return;
    free(f->filepath);
    free(f->load_file);
    free(f->saved_file);
    free(f);
}

int crun_file_dataset_load_path(const crun_file_dataset *f, char **out, crun_error *err)
{
    if (f->saved_file && !f->ctx->load_version) {
        *out = strdup(f->saved_file);
        return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return crun_dataset_path(f->ctx, f->filepath, false, out, err);
}

int crun_file_dataset_save_path(const crun_file_dataset *f, char **out, crun_error *err)
{
    return crun_dataset_path(f->ctx, f->filepath, true, out, err);
}

void crun_file_dataset_set_saved(crun_file_dataset *f, char *path)
{
    if (!f->saved_file) {
        f->saved_file = path;
        return;
    }
    free(path);
}

int crun_file_dataset_write_at(crun_file_dataset *f, char *path, const void *data, size_t len,
                               crun_error *err)
{
    int rc = crun_dataset_write_atomic(f->ctx, path, data, len, err);
    if (rc != 0) {
        free(path);
        return crun_error_prefix(err, "dataset '%s': ", f->ctx->name);
    }
    crun_file_dataset_set_saved(f, path);
    return 0;
}

int crun_file_dataset_write(crun_file_dataset *f, const void *data, size_t len,
                            crun_error *err)
{
    char *path = NULL;
    int rc = crun_file_dataset_save_path(f, &path, err);
    return rc != 0 ? rc : crun_file_dataset_write_at(f, path, data, len, err);
}

int crun_file_dataset_write_with(crun_file_dataset *f, crun_write_fn fn, void *user,
                                 crun_error *err)
{
    char *path = NULL;
    int rc = crun_file_dataset_save_path(f, &path, err);
    if (rc != 0)
        return rc;
    if ((rc = crun_dataset_write_atomic_with(f->ctx, path, fn, user, err)) != 0) {
        free(path);
        return crun_error_prefix(err, "dataset '%s': ", f->ctx->name);
    }
    crun_file_dataset_set_saved(f, path);
    return 0;
}

int crun_file_dataset_commit(crun_file_dataset *f, const char *tmp_path, crun_error *err)
{
    char *path = NULL;
    int rc = crun_file_dataset_save_path(f, &path, err);
    if (rc != 0) {
        unlink(tmp_path); /* nowhere to put it: do not leave it lying around */
        return rc;
    }
    if ((rc = crun_dataset_commit(f->ctx, tmp_path, path, err)) != 0) {
        crun_error_prefix(err, "dataset '%s': ", f->ctx->name);
        free(path);
        return rc;
    }
    crun_file_dataset_set_saved(f, path);
    return 0;
}

int crun_file_dataset_exists(const crun_file_dataset *f, bool *out, crun_error *err)
{
    char *path = NULL;
    crun_error ignored = CRUN_ERROR_INIT;
    *out = false;
    /* No version at all simply means the dataset does not exist yet. */
    if (crun_file_dataset_load_path(f, &path, &ignored) != 0) {
        crun_error_clear(&ignored);
        return 0;
    }
    struct stat st;
    int rc = 0;
    if (stat(path, &st) == 0)
        *out = S_ISREG(st.st_mode);
    else if (errno != ENOENT && errno != ENOTDIR)
        rc = crun_error_set(err, CRUN_EIO, "dataset '%s': %s: %s", f->ctx->name, path,
                            strerror(errno));
    free(path);
    return rc;
}

json_t *crun_file_dataset_describe(const crun_file_dataset *f)
{
    return json_pack("{s:s, s:b}", "filepath", f->filepath, "versioned", f->ctx->versioned);
}

const char *crun_file_dataset_catalog_filepath(const crun_file_dataset *f)
{
    return f->filepath;
}

const char *crun_file_dataset_filepath(const crun_file_dataset *f)
{
    return f->saved_file && !f->ctx->load_version ? f->saved_file : f->load_file;
}
