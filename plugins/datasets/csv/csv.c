/* csv.c - the "csv" dataset type: a CSV file as a table value.
 *
 * Loads read the file with csv_parse.c (libcsv underneath): typed columns,
 * int64 / double / string inferred per column unless load_args.columns
 * forces them, empty cells and load_args.na_values missing, and every
 * malformed row named by file and line.  Saves take a table and write RFC
 * 4180 CSV atomically (save_args: delimiter, header).  Versioned entries go
 * through crun_dataset_path: a run reads back its own save, otherwise the
 * pinned or newest version.  State lives in the instance.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <crun/dataset.h>

#include "csv_parse.h"

static const char *const known_options[] = {"filepath", "load_args", "save_args", NULL};

typedef struct csv_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    char *filepath;              /* as written in the catalog */
    char *load_file;             /* the file a load would read at create time, or NULL */
    char *saved_file;            /* this instance's last save, set once */
    csv_read_options load;
    csv_write_options save;
} csv_ds;

static void csv_ds_destroy(void *instance)
{
    csv_ds *ds = instance;
    if (!ds)
        return;
    csv_read_options_clear(&ds->load);
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

/* load_args and save_args are maps, which the typed accessors do not read:
 * parse them here, naming their place in the catalog. */
static int parse_args(csv_ds *ds, const crun_options *opts, crun_error *err)
{
    json_t *all = crun_options_json(opts);
    char context[512];
    const char *where = crun_options_where(opts, "load_args");
    snprintf(context, sizeof(context), "%s%sdataset '%s'", where ? where : "", where ? ": " : "",
             ds->ctx->name);
    int rc = csv_read_options_parse(json_object_get(all, "load_args"), context, "load_args",
                                    &ds->load, err);
    if (rc != 0)
        return rc;
    where = crun_options_where(opts, "save_args");
    snprintf(context, sizeof(context), "%s%sdataset '%s'", where ? where : "", where ? ": " : "",
             ds->ctx->name);
    return csv_write_options_parse(json_object_get(all, "save_args"), context, "save_args",
                                   &ds->save, err);
}

static int csv_ds_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                         crun_error *err)
{
    const char *filepath = NULL;
    *instance = NULL;
    int rc = crun_options_check_known(opts, known_options, err);
    if (rc == 0)
        rc = required_filepath(ctx, opts, &filepath, err);
    if (rc != 0)
        return rc;
    csv_ds *ds = calloc(1, sizeof(*ds));
    if (!ds || !(ds->filepath = strdup(filepath))) {
        free(ds);
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    }
    ds->ctx = ctx;
    csv_read_options_init(&ds->load);
    csv_write_options_init(&ds->save);
    if ((rc = parse_args(ds, opts, err)) != 0) {
        csv_ds_destroy(ds);
        return rc;
    }
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
static int load_path(const csv_ds *ds, char **out, crun_error *err)
{
    if (ds->saved_file && !ds->ctx->load_version) {
        *out = strdup(ds->saved_file);
        return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return crun_dataset_path(ds->ctx, ds->filepath, false, out, err);
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
    int rc = load_path(ds, &path, err);
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

/* Remember where this instance saved, so its loads read it back.  The string
 * is kept once: a pointer filepath() handed out stays valid. */
static void remember_save(csv_ds *ds, char *path)
{
    if (!ds->saved_file) {
        ds->saved_file = path;
        return;
    }
    free(path);
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
    int rc = csv_table_write(table, &ds->save, &text, &len, err);
    if (rc == 0)
        rc = crun_dataset_path(ds->ctx, ds->filepath, true, &path, err);
    if (rc == 0)
        rc = crun_file_write_atomic(path, text, len, err);
    free(text);
    if (rc != 0) {
        free(path);
        return crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    }
    remember_save(ds, path);
    return 0;
}

static int csv_ds_exists(void *instance, bool *out, crun_error *err)
{
    csv_ds *ds = instance;
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

static json_t *csv_ds_describe(void *instance)
{
    csv_ds *ds = instance;
    return json_pack("{s:s, s:b}", "filepath", ds->filepath, "versioned", ds->ctx->versioned);
}

static const char *csv_ds_filepath(void *instance)
{
    csv_ds *ds = instance;
    return ds->saved_file && !ds->ctx->load_version ? ds->saved_file : ds->load_file;
}

/* A command wrote tmp_path: refuse it unless it reads as CSV with this
 * dataset's load_args, then commit it as written. */
static int csv_ds_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    csv_ds *ds = instance;
    crun_table *table = NULL;
    char *path = NULL;
    int rc = read_table(ds, tmp_path, &table, err);
    crun_table_free(table);
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
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &csv_plugin;
}
