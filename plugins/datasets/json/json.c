/* json.c - the "json" dataset type: a JSON file as a json value.
 *
 * Loads parse the file (any JSON value, not only objects) and name the line
 * and column of a syntax error.  Saves take a json value, bytes holding JSON
 * text, or a table ({"columns","rows"}, streamed: json_table.c), and write
 * it indented (option `indent`, default 2) in insertion order with a final
 * newline, atomically.
 * Paths (versions, reading back this run's save) are crun_file_dataset's.
 * State lives in the instance.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <crun/dataset.h>

#include "json_table.h"

typedef struct json_settings {
    const char *filepath;
    int64_t indent;
} json_settings;

static const crun_option json_options[] = {
    CRUN_DATASET_FILEPATH_OPTION(json_settings, filepath),
    /* jansson's limit: JSON_MAX_INDENT is 31. */
    {.name = "indent", .type = CRUN_OPTION_INT, .def = "2", .min = 0, .max = JSON_MAX_INDENT,
     .doc = "spaces per level when saving (0: one line)",
     .offset = offsetof(json_settings, indent)},
};

typedef struct json_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    crun_file_dataset *file;     /* the paths: catalog, load, this instance's save */
    int indent;
} json_ds;

static void json_ds_destroy(void *instance)
{
    json_ds *ds = instance;
    if (!ds)
        return;
    crun_file_dataset_free(ds->file);
    free(ds);
}

static int json_ds_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                          crun_error *err)
{
    json_settings set = {0};
    *instance = NULL;
    int rc = crun_options_read(opts, json_options, CRUN_OPTION_COUNT(json_options), &set, err);
    if (rc != 0)
        return rc;
    json_ds *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    ds->ctx = ctx;
    ds->indent = (int)set.indent;
    if ((rc = crun_file_dataset_new(ctx, set.filepath, &ds->file, err)) != 0) {
        free(ds);
        return rc;
    }
    *instance = ds;
    return 0;
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
    int rc = crun_file_dataset_load_path(ds->file, &path, err);
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

/* The file's text: indented, insertion order, ending in a newline. */
static char *render(const json_ds *ds, json_t *json, size_t *len)
{
    char *text = crun_json_dumps(json, JSON_INDENT(ds->indent) | JSON_ENCODE_ANY);
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
    char *text = render(ds, json, &len);
    if (!text)
        return crun_error_set(err, CRUN_EDATA, "dataset '%s': cannot write the value as JSON",
                              ds->ctx->name);
    int rc = crun_file_dataset_write(ds->file, text, len, err);
    free(text);
    return rc;
}

static int json_ds_save(void *instance, crun_value *value, crun_error *err)
{
    json_ds *ds = instance;
    json_t *json = NULL;
    /* tables as {"columns","rows"}, written as they are encoded (no tree:
     * json_table.c) */
    const crun_table *table = crun_value_table(value);
    if (table)
        return json_table_save(ds->file, ds->ctx->name, table, ds->indent, err);
    /* json values as they are, bytes parsed as JSON text; opaque values have
     * no JSON form and are refused. */
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
    return crun_file_dataset_exists(ds->file, out, err);
}

static json_t *json_ds_describe(void *instance)
{
    json_ds *ds = instance;
    return crun_file_dataset_describe(ds->file);
}

static const char *json_ds_filepath(void *instance)
{
    json_ds *ds = instance;
    return crun_file_dataset_filepath(ds->file);
}

/* A command wrote tmp_path: refuse it unless it is valid JSON, then commit it
 * as written (its formatting is the command's choice). */
static int json_ds_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    json_ds *ds = instance;
    json_t *json = NULL;
    int rc = parse_file(ds, tmp_path, &json, err);
    json_decref(json);
    if (rc != 0) {
        unlink(tmp_path); /* refused content must not linger next to the data */
        return rc;
    }
    return crun_file_dataset_commit(ds->file, tmp_path, err);
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
    .options = json_options,
    .n_options = CRUN_OPTION_COUNT(json_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &json_plugin;
}
