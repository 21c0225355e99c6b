/* bytes.c - the "bytes" dataset type: any file, loaded as it is.
 *
 * Loads give a bytes value of media type "application/octet-stream" (models,
 * images, pickles); saves take bytes values only and write them atomically.
 * Versioned entries go through crun_dataset_path: a run reads back its own
 * save, otherwise the pinned or newest version.  All state lives in the
 * instance; the plugin has no writable globals.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <crun/dataset.h>

static const char media_type[] = "application/octet-stream";
static const char *const known_options[] = {"filepath", NULL};

typedef struct bytes_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    char *filepath;              /* as written in the catalog */
    char *load_file;             /* the file a load would read at create time, or NULL */
    char *saved_file;            /* this instance's last save, set once */
} bytes_ds;

static void bytes_destroy(void *instance)
{
    bytes_ds *ds = instance;
    if (!ds)
        return;
    free(ds->filepath);
    free(ds->load_file);
    free(ds->saved_file);
    free(ds);
}

static int required_filepath(const crun_dataset_ctx *ctx, const crun_options *opts,
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

static int bytes_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                        crun_error *err)
{
    const char *filepath = NULL;
    *instance = NULL;
    int rc = crun_options_check_known(opts, known_options, err);
    if (rc == 0)
        rc = required_filepath(ctx, opts, &filepath, err);
    if (rc != 0)
        return rc;
    bytes_ds *ds = calloc(1, sizeof(*ds));
    if (!ds || !(ds->filepath = strdup(filepath))) {
        free(ds);
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    }
    ds->ctx = ctx;
    /* No version to load yet is normal for an output; filepath() then says NULL. */
    crun_error ignored = CRUN_ERROR_INIT;
    if (crun_dataset_path(ctx, filepath, false, &ds->load_file, &ignored) != 0)
        ds->load_file = NULL;
    crun_error_clear(&ignored);
    *instance = ds;
    return 0;
}

/* The file a load reads now: this instance's own save unless a version is
 * pinned, else the pinned or newest one.  *out is malloc'd. */
static int load_path(const bytes_ds *ds, char **out, crun_error *err)
{
    if (ds->saved_file && !ds->ctx->load_version) {
        *out = strdup(ds->saved_file);
        return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return crun_dataset_path(ds->ctx, ds->filepath, false, out, err);
}

static int bytes_load(void *instance, crun_value **out, crun_error *err)
{
    bytes_ds *ds = instance;
    char *path = NULL, *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = load_path(ds, &path, err);
    if (rc == 0 && (rc = crun_file_read(path, &data, &len, err)) != 0)
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    free(path);
    if (rc != 0)
        return rc;
    *out = crun_value_bytes_take(data, len, media_type);
    if (!*out)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    return 0;
}

/* Remember where this instance saved, so its loads read it back.  The string
 * is kept once: a pointer filepath() handed out stays valid. */
static void remember_save(bytes_ds *ds, char *path)
{
    if (!ds->saved_file) {
        ds->saved_file = path;
        return;
    }
    free(path);
}

static int bytes_save(void *instance, crun_value *value, crun_error *err)
{
    bytes_ds *ds = instance;
    size_t len = 0;
    const void *data = crun_value_bytes(value, &len);
    if (!data)
        return crun_error_set(err, CRUN_EDATA, "dataset '%s': cannot save a %s value as bytes",
                              ds->ctx->name, crun_value_kind_name(crun_value_kind_of(value)));
    char *path = NULL;
    int rc = crun_dataset_path(ds->ctx, ds->filepath, true, &path, err);
    if (rc == 0 && (rc = crun_file_write_atomic(path, data, len, err)) != 0)
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    if (rc != 0) {
        free(path);
        return rc;
    }
    remember_save(ds, path);
    return 0;
}

static int bytes_exists(void *instance, bool *out, crun_error *err)
{
    bytes_ds *ds = instance;
    char *path = NULL;
    crun_error ignored = CRUN_ERROR_INIT;
    *out = false;
    /* No version at all simply means the dataset does not exist yet. */
    if (load_path(ds, &path, &ignored) != 0) {
        crun_error_clear(&ignored);
        return 0;
    }
    struct stat st;
    int rc = 0;
    if (stat(path, &st) == 0)
        *out = S_ISREG(st.st_mode);
    else if (errno != ENOENT && errno != ENOTDIR)
        rc = crun_error_set(err, CRUN_EIO, "dataset '%s': %s: %s", ds->ctx->name, path,
                            strerror(errno));
    free(path);
    return rc;
}

static json_t *bytes_describe(void *instance)
{
    bytes_ds *ds = instance;
    return json_pack("{s:s, s:b}", "filepath", ds->filepath, "versioned", ds->ctx->versioned);
}

static const char *bytes_filepath(void *instance)
{
    bytes_ds *ds = instance;
    return ds->saved_file && !ds->ctx->load_version ? ds->saved_file : ds->load_file;
}

/* Any content is valid bytes: committing is all there is to do. */
static int bytes_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    bytes_ds *ds = instance;
    char *path = NULL;
    int rc = crun_dataset_path(ds->ctx, ds->filepath, true, &path, err);
    if (rc != 0) {
        unlink(tmp_path); /* nowhere to put it: do not leave it lying around */
        return rc;
    }
    if ((rc = crun_file_commit(tmp_path, path, err)) != 0) {
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
        free(path);
        return rc;
    }
    remember_save(ds, path);
    return 0;
}

static const crun_dataset_type bytes_type = {
    .size = sizeof(crun_dataset_type),
    .flags = 0,
    .create = bytes_create,
    .destroy = bytes_destroy,
    .load = bytes_load,
    .save = bytes_save,
    .exists = bytes_exists,
    .describe = bytes_describe,
    .filepath = bytes_filepath,
    .save_file = bytes_save_file,
};

static const crun_plugin bytes_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "bytes",
    .version = "1.0.0",
    .description = "any file, loaded as application/octet-stream bytes",
    .table = &bytes_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &bytes_plugin;
}
