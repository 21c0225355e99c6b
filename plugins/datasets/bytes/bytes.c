/* bytes.c - the "bytes" dataset type: any file, loaded as it is.
 *
 * Loads give a bytes value of media type "application/octet-stream" (models,
 * images, pickles); saves take bytes values only and write them atomically.
 * Paths (versions, reading back this run's save) are crun_file_dataset's.
 * All state lives in the instance; the plugin has no writable globals.
 */
#include <stddef.h>
#include <stdlib.h>

#include <crun/dataset.h>

static const char media_type[] = "application/octet-stream";

typedef struct bytes_settings {
    const char *filepath;
} bytes_settings;

static const crun_option bytes_options[] = {
    CRUN_DATASET_FILEPATH_OPTION(bytes_settings, filepath),
};

typedef struct bytes_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    crun_file_dataset *file;     /* the paths: catalog, load, this instance's save */
} bytes_ds;

static void bytes_destroy(void *instance)
{
    bytes_ds *ds = instance;
    if (!ds)
        return;
    crun_file_dataset_free(ds->file);
    free(ds);
}

static int bytes_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                        crun_error *err)
{
    bytes_settings set = {0};
    *instance = NULL;
    int rc = crun_options_read(opts, bytes_options, CRUN_OPTION_COUNT(bytes_options), &set, err);
    if (rc != 0)
        return rc;
    bytes_ds *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    ds->ctx = ctx;
    if ((rc = crun_file_dataset_new(ctx, set.filepath, &ds->file, err)) != 0) {
        free(ds);
        return rc;
    }
    *instance = ds;
    return 0;
}

static int bytes_load(void *instance, crun_value **out, crun_error *err)
{
    bytes_ds *ds = instance;
    char *path = NULL, *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = crun_file_dataset_load_path(ds->file, &path, err);
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

static int bytes_save(void *instance, crun_value *value, crun_error *err)
{
    bytes_ds *ds = instance;
    size_t len = 0;
    const void *data = crun_value_bytes(value, &len);
    if (!data)
        return crun_error_set(err, CRUN_EDATA, "dataset '%s': cannot save a %s value as bytes",
                              ds->ctx->name, crun_value_kind_name(crun_value_kind_of(value)));
    return crun_file_dataset_write(ds->file, data, len, err);
}

static int bytes_exists(void *instance, bool *out, crun_error *err)
{
    bytes_ds *ds = instance;
    return crun_file_dataset_exists(ds->file, out, err);
}

static json_t *bytes_describe(void *instance)
{
    bytes_ds *ds = instance;
    return crun_file_dataset_describe(ds->file);
}

static const char *bytes_filepath(void *instance)
{
    bytes_ds *ds = instance;
    return crun_file_dataset_filepath(ds->file);
}

/* Any content is valid bytes: committing is all there is to do. */
static int bytes_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    bytes_ds *ds = instance;
    return crun_file_dataset_commit(ds->file, tmp_path, err);
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
    .options = bytes_options,
    .n_options = CRUN_OPTION_COUNT(bytes_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &bytes_plugin;
}
