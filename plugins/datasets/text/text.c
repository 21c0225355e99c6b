/* text.c - the "text" dataset type: a UTF-8 text file as a bytes value.
 *
 * Loads give a bytes value of media type "text/plain; charset=utf-8" after
 * checking the file is valid UTF-8; saves take bytes or a JSON string and
 * write them atomically.  Versioned entries go through crun_dataset_path:
 * a run reads back its own save, otherwise the pinned or newest version.
 * All state lives in the instance; the plugin has no writable globals.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <crun/dataset.h>

static const char media_type[] = "text/plain; charset=utf-8";
static const char *const known_options[] = {"filepath", "encoding", NULL};

typedef struct text_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    char *filepath;              /* as written in the catalog */
    char *load_file;             /* the file a load would read at create time, or NULL */
    char *saved_file;            /* this instance's last save, set once */
} text_ds;

/* --- UTF-8 ----------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not
 * one: overlong forms, surrogates and code points past U+10FFFF are refused. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* Offset of the first invalid byte, or len when all of it is valid. */
static size_t utf8_invalid_at(const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *)data;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

static int check_utf8(const text_ds *ds, const char *file, const char *data, size_t len,
                      crun_error *err)
{
    size_t at = utf8_invalid_at(data, len);
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
    free(ds->filepath);
    free(ds->load_file);
    free(ds->saved_file);
    free(ds);
}

static int check_encoding(const crun_dataset_ctx *ctx, const crun_options *opts, crun_error *err)
{
    const char *encoding = "utf-8";
    int rc = crun_options_string(opts, "encoding", &encoding, err);
    if (rc != 0)
        return rc;
    if (strcasecmp(encoding, "utf-8") == 0 || strcasecmp(encoding, "utf8") == 0)
        return 0;
    const char *where = crun_options_where(opts, "encoding");
    return crun_error_set(err, CRUN_ECONFIG,
                          "%s%sdataset '%s': option 'encoding': only utf-8 is supported, got '%s'",
                          where ? where : "", where ? ": " : "", ctx->name, encoding);
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

static int text_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                       crun_error *err)
{
    const char *filepath = NULL;
    *instance = NULL;
    int rc = crun_options_check_known(opts, known_options, err);
    if (rc == 0)
        rc = required_filepath(ctx, opts, &filepath, err);
    if (rc == 0)
        rc = check_encoding(ctx, opts, err);
    if (rc != 0)
        return rc;
    text_ds *ds = calloc(1, sizeof(*ds));
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
static int load_path(const text_ds *ds, char **out, crun_error *err)
{
    if (ds->saved_file && !ds->ctx->load_version) {
        *out = strdup(ds->saved_file);
        return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return crun_dataset_path(ds->ctx, ds->filepath, false, out, err);
}

static int text_load(void *instance, crun_value **out, crun_error *err)
{
    text_ds *ds = instance;
    char *path = NULL, *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = load_path(ds, &path, err);
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

/* Remember where this instance saved, so its loads read it back.  The string
 * is kept once: a pointer filepath() handed out stays valid. */
static void remember_save(text_ds *ds, char *path)
{
    if (!ds->saved_file) {
        ds->saved_file = path;
        return;
    }
    free(path);
}

static int save_path(text_ds *ds, char **out, crun_error *err)
{
    return crun_dataset_path(ds->ctx, ds->filepath, true, out, err);
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
    int rc = save_path(ds, &path, err);
    if (rc == 0)
        rc = check_utf8(ds, path, data, len, err);
    if (rc == 0 && (rc = crun_file_write_atomic(path, data, len, err)) != 0)
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    if (rc != 0) {
        free(path);
        return rc;
    }
    remember_save(ds, path);
    return 0;
}

static int text_exists(void *instance, bool *out, crun_error *err)
{
    text_ds *ds = instance;
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

static json_t *text_describe(void *instance)
{
    text_ds *ds = instance;
    return json_pack("{s:s, s:b}", "filepath", ds->filepath, "versioned", ds->ctx->versioned);
}

static const char *text_filepath(void *instance)
{
    text_ds *ds = instance;
    return ds->saved_file && !ds->ctx->load_version ? ds->saved_file : ds->load_file;
}

static int text_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    text_ds *ds = instance;
    char *data = NULL, *path = NULL;
    size_t len = 0;
    int rc = crun_file_read(tmp_path, &data, &len, err);
    if (rc != 0)
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    if (rc == 0)
        rc = check_utf8(ds, tmp_path, data, len, err);
    free(data);
    if (rc == 0)
        rc = save_path(ds, &path, err);
    if (rc != 0) {
        unlink(tmp_path); /* refused content must not linger next to the data */
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
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &text_plugin;
}
