/* text.c - the "text" dataset type: a UTF-8 text file as a bytes value.
 *
 * Loads give a bytes value of media type "text/plain; charset=utf-8" after
 * checking the file is valid UTF-8; saves take bytes or a JSON string and
 * write them atomically.  Paths (versions, reading back this run's save)
 * are crun_file_dataset's.  All state lives in the instance; the plugin has
 * no writable globals.
 */
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include <crun/dataset.h>

static const char media_type[] = "text/plain; charset=utf-8";

typedef struct text_settings {
    const char *filepath;
    const char *encoding;
} text_settings;

static const crun_option text_options[] = {
    CRUN_DATASET_FILEPATH_OPTION(text_settings, filepath),
    {.name = "encoding", .type = CRUN_OPTION_STRING, .def = "utf-8",
     .doc = "accepted for Kedro's catalogs: only utf-8 (utf8, any case) is supported",
     .offset = offsetof(text_settings, encoding)},
};

typedef struct text_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    crun_file_dataset *file;     /* the paths: catalog, load, this instance's save */
} text_ds;

/* --- UTF-8 ----------------------------------------------------------------- */

static int check_utf8(const text_ds *ds, const char *file, const char *data, size_t len,
                      crun_error *err)
{
    size_t at = crun_utf8_invalid_at(data, len);
    if (at == len)
        return 0;
    return crun_error_set(err, CRUN_EDATA, "dataset '%s': %s: invalid UTF-8 at byte %zu",
                          ds->ctx->name, file, at);
}

/* --- instance --------------------------------------------------------------- */

static void text_destroy(void *instance)
{
    text_ds *ds = instance;
    if (!ds)
        return;
    crun_file_dataset_free(ds->file);
    free(ds);
}

static int check_encoding(const crun_dataset_ctx *ctx, const crun_options *opts,
                          const char *encoding, crun_error *err)
{
    if (strcasecmp(encoding, "utf-8") == 0 || strcasecmp(encoding, "utf8") == 0)
        return 0;
    const char *where = crun_options_where(opts, "encoding");
    return crun_error_set(err, CRUN_ECONFIG,
                          "%s%sdataset '%s': option 'encoding': only utf-8 is supported, got '%s'",
                          where ? where : "", where ? ": " : "", ctx->name, encoding);
}

static int text_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                       crun_error *err)
{
    text_settings set = {0};
    *instance = NULL;
    int rc = crun_options_read(opts, text_options, CRUN_OPTION_COUNT(text_options), &set, err);
    if (rc == 0)
        rc = check_encoding(ctx, opts, set.encoding, err);
    if (rc != 0)
        return rc;
    text_ds *ds = calloc(1, sizeof(*ds));
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

static int text_load(void *instance, crun_value **out, crun_error *err)
{
    text_ds *ds = instance;
    char *path = NULL, *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = crun_file_dataset_load_path(ds->file, &path, err);
    if (rc == 0 && (rc = crun_file_read(path, &data, &len, err)) != 0)
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    if (rc == 0 && (rc = check_utf8(ds, path, data, len, err)) == 0) {
        *out = crun_value_bytes_take(data, len, media_type);
        data = NULL;
        if (!*out)
            rc = crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    }
    free(data);
    free(path);
    return rc;
}

static int text_save(void *instance, crun_value *value, crun_error *err)
{
    text_ds *ds = instance;
    const char *data = NULL;
    size_t len = 0;
    json_t *json = crun_value_json(value);
    if (crun_value_kind_of(value) == CRUN_VALUE_BYTES) {
        data = crun_value_bytes(value, &len);
    } else if (json_is_string(json)) {
        data = json_string_value(json);
        len = json_string_length(json);
    } else {
        const char *kind = json ? "JSON value that is not a string"
                                : crun_value_kind_name(crun_value_kind_of(value));
        return crun_error_set(err, CRUN_EDATA, "dataset '%s': cannot save a %s as text",
                              ds->ctx->name, kind);
    }
    char *path = NULL;
    int rc = crun_file_dataset_save_path(ds->file, &path, err);
    if (rc == 0 && (rc = check_utf8(ds, path, data, len, err)) != 0)
        free(path);
    return rc != 0 ? rc : crun_file_dataset_write_at(ds->file, path, data, len, err);
}

static int text_exists(void *instance, bool *out, crun_error *err)
{
    text_ds *ds = instance;
    return crun_file_dataset_exists(ds->file, out, err);
}

static json_t *text_describe(void *instance)
{
    text_ds *ds = instance;
    return crun_file_dataset_describe(ds->file);
}

static const char *text_filepath(void *instance)
{
    text_ds *ds = instance;
    return crun_file_dataset_filepath(ds->file);
}

static int text_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    text_ds *ds = instance;
    char *data = NULL;
    size_t len = 0;
    int rc = crun_file_read(tmp_path, &data, &len, err);
    if (rc != 0)
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    if (rc == 0)
        rc = check_utf8(ds, tmp_path, data, len, err);
    free(data);
    if (rc != 0) {
        unlink(tmp_path); /* refused content must not linger next to the data */
        return rc;
    }
    return crun_file_dataset_commit(ds->file, tmp_path, err);
}

static const crun_dataset_type text_type = {
    .size = sizeof(crun_dataset_type),
    .flags = 0,
    .create = text_create,
    .destroy = text_destroy,
    .load = text_load,
    .save = text_save,
    .exists = text_exists,
    .describe = text_describe,
    .filepath = text_filepath,
    .save_file = text_save_file,
};

static const crun_plugin text_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "text",
    .version = "1.0.0",
    .description = "a UTF-8 text file, loaded as text/plain bytes",
    .table = &text_type,
    .options = text_options,
    .n_options = CRUN_OPTION_COUNT(text_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &text_plugin;
}
