/* json.c - the "json" dataset type: a JSON file as a json value.
 *
 * Loads parse the file (any JSON value, not only objects) and name the line
 * and column of a syntax error.  Saves take a json value, bytes holding JSON
 * text, or a table ({"columns","rows"}), and write it indented (option
 * `indent`, default 2) in insertion order with a final newline, atomically.
 * Versioned entries go through crun_dataset_path: a run reads back its own
 * save, otherwise the pinned or newest version.  State lives in the instance.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <crun/dataset.h>

static const char *const known_options[] = {"filepath", "indent", NULL};

typedef struct json_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    char *filepath;              /* as written in the catalog */
    char *load_file;             /* the file a load would read at create time, or NULL */
    char *saved_file;            /* this instance's last save, set once */
    int indent;
} json_ds;

static void json_ds_destroy(void *instance)
{
    json_ds *ds = instance;
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

static int json_ds_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                          crun_error *err)
{
    const char *filepath = NULL;
    int64_t indent = 2;
    *instance = NULL;
    int rc = crun_options_check_known(opts, known_options, err);
    if (rc == 0)
        rc = required_filepath(ctx, opts, &filepath, err);
    /* jansson's limit: JSON_MAX_INDENT is 31. */
    if (rc == 0)
        rc = crun_options_int(opts, "indent", 0, JSON_MAX_INDENT, &indent, err);
    if (rc != 0)
        return rc;
    json_ds *ds = calloc(1, sizeof(*ds));
    if (!ds || !(ds->filepath = strdup(filepath))) {
        free(ds);
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    }
    ds->ctx = ctx;
    ds->indent = (int)indent;
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
static int load_path(const json_ds *ds, char **out, crun_error *err)
{
    if (ds->saved_file && !ds->ctx->load_version) {
        *out = strdup(ds->saved_file);
        return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return crun_dataset_path(ds->ctx, ds->filepath, false, out, err);
}

/* Read and parse file; a syntax error names dataset, file, line and column. */
static int parse_file(const json_ds *ds, const char *file, json_t **out, crun_error *err)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = crun_file_read(file, &data, &len, err);
    if (rc != 0)
        return crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    json_error_t jerr;
    *out = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
    free(data);
    if (!*out)
        return crun_error_set(err, CRUN_EDATA, "dataset '%s': %s:%d:%d: invalid JSON: %s",
                              ds->ctx->name, file, jerr.line, jerr.column, jerr.text);
    return 0;
}

static int json_ds_load(void *instance, crun_value **out, crun_error *err)
{
    json_ds *ds = instance;
    char *path = NULL;
    json_t *json = NULL;
    *out = NULL;
    int rc = load_path(ds, &path, err);
    if (rc == 0)
        rc = parse_file(ds, path, &json, err);
    free(path);
    if (rc != 0)
        return rc;
    *out = crun_value_json_new(json);
    if (!*out)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    return 0;
}

/* Remember where this instance saved, so its loads read it back.  The string
 * is kept once: a pointer filepath() handed out stays valid. */
static void remember_save(json_ds *ds, char *path)
{
    if (!ds->saved_file) {
        ds->saved_file = path;
        return;
    }
    free(path);
}

/* The fewest significant digits (15..17) that read d back exactly. */
static int real_digits(double d)
{
    char buf[32];
    for (int digits = 15; digits < 17; digits++) {
        snprintf(buf, sizeof(buf), "%.*g", digits, d);
        if (strtod(buf, NULL) == d)
            return digits;
    }
    return 17;
}

/* The precision every real in json needs.  jansson's fixed 17 digits turn
 * 0.1 into 0.10000000000000001; one precision per document keeps metrics
 * files as readable as Python's while still reading back exactly. */
static int real_precision(json_t *json)
{
    if (json_is_real(json))
        return real_digits(json_real_value(json));
    int best = 15;
    size_t i;
    const char *key;
    json_t *item;
    if (json_is_array(json)) {
        json_array_foreach(json, i, item) {
            int digits = real_precision(item);
            best = digits > best ? digits : best;
        }
    }
    if (json_is_object(json)) {
        json_object_foreach(json, key, item) {
            int digits = real_precision(item);
            best = digits > best ? digits : best;
        }
    }
    return best;
}

/* The file's text: indented, insertion order, ending in a newline. */
static char *render(const json_ds *ds, json_t *json, size_t *len)
{
    size_t flags = JSON_INDENT(ds->indent) | JSON_ENCODE_ANY |
                   JSON_REAL_PRECISION(real_precision(json));
    char *text = json_dumps(json, flags);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *out = realloc(text, n + 2);
    if (!out) {
        free(text);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    *len = n + 1;
    return out;
}

static int write_json(json_ds *ds, json_t *json, crun_error *err)
{
    size_t len = 0;
    char *text = render(ds, json, &len), *path = NULL;
    if (!text)
        return crun_error_set(err, CRUN_EDATA, "dataset '%s': cannot write the value as JSON",
                              ds->ctx->name);
    int rc = crun_dataset_path(ds->ctx, ds->filepath, true, &path, err);
    if (rc == 0 && (rc = crun_file_write_atomic(path, text, len, err)) != 0)
        crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    free(text);
    if (rc != 0) {
        free(path);
        return rc;
    }
    remember_save(ds, path);
    return 0;
}

static int json_ds_save(void *instance, crun_value *value, crun_error *err)
{
    json_ds *ds = instance;
    json_t *json = NULL;
    /* json values as they are, bytes parsed as JSON text, tables as
     * {"columns","rows"}; opaque values have no JSON form and are refused. */
    int rc = crun_value_to_json(value, &json, err);
    if (rc != 0)
        return crun_error_prefix(err, "dataset '%s': cannot save a %s value as JSON: ",
                                 ds->ctx->name, crun_value_kind_name(crun_value_kind_of(value)));
    rc = write_json(ds, json, err);
    json_decref(json);
    return rc;
}

static int json_ds_exists(void *instance, bool *out, crun_error *err)
{
    json_ds *ds = instance;
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

static json_t *json_ds_describe(void *instance)
{
    json_ds *ds = instance;
    return json_pack("{s:s, s:b}", "filepath", ds->filepath, "versioned", ds->ctx->versioned);
}

static const char *json_ds_filepath(void *instance)
{
    json_ds *ds = instance;
    return ds->saved_file && !ds->ctx->load_version ? ds->saved_file : ds->load_file;
}

/* A command wrote tmp_path: refuse it unless it is valid JSON, then commit it
 * as written (its formatting is the command's choice). */
static int json_ds_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    json_ds *ds = instance;
    json_t *json = NULL;
    char *path = NULL;
    int rc = parse_file(ds, tmp_path, &json, err);
    json_decref(json);
    if (rc == 0)
        rc = crun_dataset_path(ds->ctx, ds->filepath, true, &path, err);
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

static const crun_dataset_type json_ds_type = {
    .size = sizeof(crun_dataset_type),
    .flags = 0,
    .create = json_ds_create,
    .destroy = json_ds_destroy,
    .load = json_ds_load,
    .save = json_ds_save,
    .exists = json_ds_exists,
    .describe = json_ds_describe,
    .filepath = json_ds_filepath,
    .save_file = json_ds_save_file,
};

static const crun_plugin json_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "json",
    .version = "1.0.0",
    .description = "a JSON file, loaded as a json value",
    .table = &json_ds_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &json_plugin;
}
