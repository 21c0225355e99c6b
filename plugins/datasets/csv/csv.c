/* csv.c - the "csv" dataset type: a CSV file as a table value.
 *
 * Loads read the file with csv_parse.c (libcsv underneath): typed columns,
 * int64 / double / string inferred per column unless load_args.columns
 * forces them, empty cells and load_args.na_values missing, and every
 * malformed row named by file and line.  Saves take a table and write RFC
 * 4180 CSV atomically (save_args: delimiter, header).  Paths (versions,
 * reading back this run's save) are crun_file_dataset's.  State lives in
 * the instance.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <crun/dataset.h>

#include "csv_parse.h"

typedef struct csv_settings {
    const char *filepath;
    json_t *load_args;
    json_t *save_args;
} csv_settings;

static const crun_option csv_options[] = {
    CRUN_DATASET_FILEPATH_OPTION(csv_settings, filepath),
    {.name = "load_args", .type = CRUN_OPTION_JSON,
     .doc = "a map: delimiter, header, columns (name: int64|double|string), na_values",
     .offset = offsetof(csv_settings, load_args)},
    {.name = "save_args", .type = CRUN_OPTION_JSON, .doc = "a map: delimiter, header",
     .offset = offsetof(csv_settings, save_args)},
};

typedef struct csv_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    crun_file_dataset *file;     /* the paths: catalog, load, this instance's save */
    csv_read_options load;
    csv_write_options save;
} csv_ds;

static void csv_ds_destroy(void *instance)
{
    csv_ds *ds = instance;
    if (!ds)
        return;
    csv_read_options_clear(&ds->load);
    crun_file_dataset_free(ds->file);
    free(ds);
}

/* load_args and save_args are maps, which the typed accessors do not read:
 * parse them here, naming their place in the catalog. */
static int parse_args(csv_ds *ds, const crun_options *opts, const csv_settings *set,
                      crun_error *err)
{
    char context[512];
    const char *where = crun_options_where(opts, "load_args");
    snprintf(context, sizeof(context), "%s%sdataset '%s'", where ? where : "", where ? ": " : "",
             ds->ctx->name);
    int rc = csv_read_options_parse(set->load_args, context, "load_args",
                                    &ds->load, err);
    if (rc != 0)
        return rc;
    where = crun_options_where(opts, "save_args");
    snprintf(context, sizeof(context), "%s%sdataset '%s'", where ? where : "", where ? ": " : "",
             ds->ctx->name);
    return csv_write_options_parse(set->save_args, context, "save_args",
                                   &ds->save, err);
}

static int csv_ds_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                         crun_error *err)
{
    csv_settings set = {0};
    *instance = NULL;
    int rc = crun_options_read(opts, csv_options, CRUN_OPTION_COUNT(csv_options), &set, err);
    if (rc != 0)
        return rc;
    csv_ds *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    ds->ctx = ctx;
    csv_read_options_init(&ds->load);
    csv_write_options_init(&ds->save);
    if ((rc = parse_args(ds, opts, &set, err)) != 0 ||
        (rc = crun_file_dataset_new(ctx, set.filepath, &ds->file, err)) != 0) {
        csv_ds_destroy(ds);
        return rc;
    }
    *instance = ds;
    return 0;
}

static int read_table(const csv_ds *ds, const char *file, crun_table **out, crun_error *err)
{
    int rc = csv_table_read(file, &ds->load, out, err);
    return rc != 0 ? crun_error_prefix(err, "dataset '%s': ", ds->ctx->name) : 0;
}

static int csv_ds_load(void *instance, crun_value **out, crun_error *err)
{
    csv_ds *ds = instance;
    char *path = NULL;
    crun_table *table = NULL;
    *out = NULL;
    int rc = crun_file_dataset_load_path(ds->file, &path, err);
    if (rc == 0)
        rc = read_table(ds, path, &table, err);
    free(path);
    if (rc != 0)
        return rc;
    *out = crun_value_table_new(table);
    if (!*out)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    return 0;
}

static int csv_ds_save(void *instance, crun_value *value, crun_error *err)
{
    csv_ds *ds = instance;
    const crun_table *table = crun_value_table(value);
    if (!table)
        return crun_error_set(err, CRUN_EDATA,
                              "dataset '%s': cannot save a %s value as CSV: expected a table",
                              ds->ctx->name, crun_value_kind_name(crun_value_kind_of(value)));
    char *text = NULL, *path = NULL;
    size_t len = 0;
    /* Every failure, the path's included, gets the dataset's prefix here;
     * write_at adds it to the write's own. */
    int rc = csv_table_write(table, &ds->save, &text, &len, err);
    if (rc == 0)
        rc = crun_file_dataset_save_path(ds->file, &path, err);
    if (rc != 0) {
        free(text);
        return crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    }
    rc = crun_file_dataset_write_at(ds->file, path, text, len, err);
    free(text);
    return rc;
}

static int csv_ds_exists(void *instance, bool *out, crun_error *err)
{
    csv_ds *ds = instance;
    return crun_file_dataset_exists(ds->file, out, err);
}

static json_t *csv_ds_describe(void *instance)
{
    csv_ds *ds = instance;
    return crun_file_dataset_describe(ds->file);
}

static const char *csv_ds_filepath(void *instance)
{
    csv_ds *ds = instance;
    return crun_file_dataset_filepath(ds->file);
}

/* A command wrote tmp_path: refuse it unless it reads as CSV with this
 * dataset's load_args, then commit it as written. */
static int csv_ds_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    csv_ds *ds = instance;
    crun_table *table = NULL;
    int rc = read_table(ds, tmp_path, &table, err);
    crun_table_free(table);
    if (rc != 0) {
        unlink(tmp_path); /* refused content must not linger next to the data */
        return rc;
    }
    return crun_file_dataset_commit(ds->file, tmp_path, err);
}

static const crun_dataset_type csv_ds_type = {
    .size = sizeof(crun_dataset_type),
    .flags = 0,
    .create = csv_ds_create,
    .destroy = csv_ds_destroy,
    .load = csv_ds_load,
    .save = csv_ds_save,
    .exists = csv_ds_exists,
    .describe = csv_ds_describe,
    .filepath = csv_ds_filepath,
    .save_file = csv_ds_save_file,
};

static const crun_plugin csv_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "csv",
    .version = "1.0.0",
    .description = "a CSV file, loaded as a table with typed columns",
    .table = &csv_ds_type,
    .options = csv_options,
    .n_options = CRUN_OPTION_COUNT(csv_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &csv_plugin;
}
