/* partitioned.c - the "partitioned" dataset type: a folder of files as one value.
 *
 * Kedro's PartitionedDataset: every file under `path` ending in
 * `filename_suffix` is a partition, named by its path under the folder
 * without the suffix, and read by the underlying type named in `dataset`.
 * A load lists the folder (recursively, sorted, hidden files skipped) and
 * returns a crun.partitions value (crun/partitions.h); a save writes each
 * partition of such a value, or of a JSON object, to path/<name><suffix>,
 * each file atomically and synced as the dataset's durability says (the
 * run's level by default: one sync at its end).  A plugin cannot load
 * another plugin through the host, so the underlying types are built in:
 * text, bytes, json, and csv through the csv plugin's own reader
 * (csv_parse.c, compiled in here).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <crun/dataset.h>
#include <crun/partitions.h>

#include "partition_files.h"

typedef struct partitioned_settings {
    const char *path;
    json_t *dataset;
    const char *filename_suffix;
} partitioned_settings;

static const crun_option partitioned_options[] = {
    {.name = "path", .type = CRUN_OPTION_STRING,
     .doc = "the folder of the partitions, relative to the project folder (required)",
     .offset = offsetof(partitioned_settings, path)},
    {.name = "dataset", .type = CRUN_OPTION_JSON,
     .doc = "the partitions' type: text, bytes, json or csv, or a map {type: csv, load_args: ...}",
     .offset = offsetof(partitioned_settings, dataset)},
    {.name = "filename_suffix", .type = CRUN_OPTION_STRING, .def = "",
     .doc = "only files ending in it are partitions, named without it",
     .offset = offsetof(partitioned_settings, filename_suffix)},
};

static const char *const part_type_names[] = {"text", "bytes", "json", "csv"};
enum { NPART_TYPES = 4 };

/* The options each underlying type takes inside `dataset` (besides type). */
static const char *const part_type_options[NPART_TYPES][3] = {
    {"encoding", NULL}, {NULL}, {"indent", NULL}, {"load_args", "save_args", NULL}};

typedef struct partitioned_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    char *path;                  /* the folder, as written in the catalog */
    char *folder;                /* the folder, resolved in the project */
    char *suffix;                /* "" when every file is a partition */
    part_format format;          /* the underlying type and its options */
} partitioned_ds;

/* ------------------------------------------------------------------------
 * options
 * ------------------------------------------------------------------------ */

static void partitioned_destroy(void *instance)
{
    partitioned_ds *ds = instance;
    if (!ds)
        return;
    csv_read_options_clear(&ds->format.csv_load);
    free(ds->path);
    free(ds->folder);
    free(ds->suffix);
    free(ds);
}

/* "<where>: dataset 'x'", the start of every complaint about an option. */
static void context_of(const partitioned_ds *ds, const crun_options *opts, const char *key,
                       char *buf, size_t size)
{
    const char *where = crun_options_where(opts, key);
    snprintf(buf, size, "%s%sdataset '%s'", where ? where : "", where ? ": " : "", ds->ctx->name);
}

static int option_error(const partitioned_ds *ds, const crun_options *opts, const char *key,
                        const char *what, const char *detail, crun_error *err)
{
    char context[512];
    context_of(ds, opts, key, context, sizeof(context));
    return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s': %s%s", context, key, what,
                          detail ? detail : "");
}

static int type_named(const partitioned_ds *ds, const crun_options *opts, const char *name,
                      part_type *out, crun_error *err)
{
    for (int i = 0; name && i < NPART_TYPES; i++) {
        if (strcmp(name, part_type_names[i]) == 0) {
            *out = (part_type)i;
            return 0;
        }
    }
    char what[160];
    snprintf(what, sizeof(what), "unknown type '%.60s'", name ? name : "");
    return option_error(ds, opts, "dataset", what,
                        " (a partitioned dataset supports text, bytes, json and csv)", err);
}

/* Every key of the `dataset` map must be one its type takes. */
static int check_type_options(const partitioned_ds *ds, const crun_options *opts, json_t *map,
                              crun_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(map, key, value) {
        const char *const *known = part_type_options[ds->format.type];
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (strcmp(key, "type") == 0 || known[i])
            continue;
        char what[160];
        snprintf(what, sizeof(what), "a %s partition takes no option '%.60s'",
                 part_type_names[ds->format.type], key);
        return option_error(ds, opts, "dataset", what,
                            strcmp(key, "filepath") == 0
                                ? " (each partition's file comes from path and its name)"
                                : NULL,
                            err);
    }
    return 0;
}

static int read_text_options(const partitioned_ds *ds, const crun_options *opts, json_t *map,
                             crun_error *err)
{
    const char *encoding = json_string_value(json_object_get(map, "encoding"));
    if (!json_object_get(map, "encoding") || (encoding && (strcasecmp(encoding, "utf-8") == 0 ||
                                                           strcasecmp(encoding, "utf8") == 0)))
        return 0;
    return option_error(ds, opts, "dataset", "encoding: only utf-8 is supported", NULL, err);
}

static int read_type_options(partitioned_ds *ds, const crun_options *opts, json_t *map,
                             crun_error *err)
{
    char context[512];
    context_of(ds, opts, "dataset", context, sizeof(context));
    json_t *indent = json_object_get(map, "indent");
    switch (ds->format.type) {
    case PART_TEXT:
        return read_text_options(ds, opts, map, err);
    case PART_JSON:
        if (!indent)
            return 0;
        /* jansson's limit: JSON_MAX_INDENT is 31. */
        if (!json_is_integer(indent) || json_integer_value(indent) < 0 ||
            json_integer_value(indent) > JSON_MAX_INDENT)
            return option_error(ds, opts, "dataset", "indent: expected 0 to 31", NULL, err);
        ds->format.indent = (int)json_integer_value(indent);
        return 0;
    case PART_CSV: {
        int rc = csv_read_options_parse(json_object_get(map, "load_args"), context,
                                        "dataset.load_args", &ds->format.csv_load, err);
        return rc ? rc : csv_write_options_parse(json_object_get(map, "save_args"), context,
                                                 "dataset.save_args", &ds->format.csv_save, err);
    }
    case PART_BYTES:
        return 0;
    }
    return 0;
}

/* `dataset` is a type name, or a map with `type` and that type's options. */
static int read_dataset_option(partitioned_ds *ds, const crun_options *opts, json_t *v,
                               crun_error *err)
{
    if (!v)
        return option_error(ds, opts, "dataset", "is required (text, bytes, json or csv)", NULL,
                            err);
    if (json_is_string(v))
        return type_named(ds, opts, json_string_value(v), &ds->format.type, err);
    if (!json_is_object(v))
        return option_error(ds, opts, "dataset", "expected a type name or a map with 'type'",
                            NULL, err);
    int rc = type_named(ds, opts, json_string_value(json_object_get(v, "type")), &ds->format.type, err);
    if (rc == 0)
        rc = check_type_options(ds, opts, v, err);
    return rc ? rc : read_type_options(ds, opts, v, err);
}

static int read_options(partitioned_ds *ds, const crun_options *opts, crun_error *err)
{
    partitioned_settings set = {0};
    int rc = crun_options_read(opts, partitioned_options, CRUN_OPTION_COUNT(partitioned_options),
                               &set, err);
    const char *path = set.path, *suffix = set.filename_suffix;
    if (rc == 0 && (!path || !*path))
        rc = option_error(ds, opts, "path", "is required (the folder of the partitions)", NULL,
                          err);
    /* Kedro does not version partitioned datasets either: each partition
     * would need its own version folder. */
    if (rc == 0 && ds->ctx->versioned)
        rc = option_error(ds, opts, "path", "a partitioned dataset cannot be versioned", NULL,
                          err);
    if (rc == 0)
        rc = read_dataset_option(ds, opts, set.dataset, err);
    if (rc != 0)
        return rc;
    if (!(ds->path = strdup(path)) || !(ds->suffix = strdup(suffix)))
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    return crun_dataset_path(ds->ctx, path, false, &ds->folder, err);
}

static int partitioned_create(const crun_dataset_ctx *ctx, const crun_options *opts,
                              void **instance, crun_error *err)
{
    *instance = NULL;
    partitioned_ds *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    ds->ctx = ctx;
    ds->format.indent = 2;
    csv_read_options_init(&ds->format.csv_load);
    csv_write_options_init(&ds->format.csv_save);
    int rc = read_options(ds, opts, err);
    if (rc != 0) {
        partitioned_destroy(ds);
        return rc;
    }
    *instance = ds;
    return 0;
}


/* ------------------------------------------------------------------------
 * load and save
 * ------------------------------------------------------------------------ */

static int no_partitions(const partitioned_ds *ds, crun_error *err)
{
    if (!*ds->suffix)
        return crun_error_set(err, CRUN_ENOENT, "dataset '%s': %s: no partitions (no files)",
                              ds->ctx->name, ds->folder);
    return crun_error_set(err, CRUN_ENOENT,
                          "dataset '%s': %s: no partitions (no files ending in '%s')",
                          ds->ctx->name, ds->folder, ds->suffix);
}

/* Read every listed file; values[i] receives partition i. */
static int read_all(const partitioned_ds *ds, const partition_list *list, crun_value **values,
                    crun_error *err)
{
    for (size_t i = 0; i < list->n; i++) {
        int rc = partition_read(&ds->format, list->files[i], &values[i], err);
        if (rc != 0)
            return crun_error_prefix(err, "dataset '%s': partition '%s': ", ds->ctx->name,
                                     list->names[i]);
    }
    return 0;
}

static int partitioned_load(void *instance, crun_value **out, crun_error *err)
{
    partitioned_ds *ds = instance;
    partition_list list;
    *out = NULL;
    int rc = partition_list_folder(ds->folder, ds->suffix, &list, err);
    if (rc != 0)
        return crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    crun_value **values = calloc(list.n ? list.n : 1, sizeof(crun_value *));
    if (!values)
        rc = crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    else if (list.n == 0)
        rc = no_partitions(ds, err);
    else
        rc = read_all(ds, &list, values, err);
    if (rc == 0 && !(*out = crun_partitions_new(list.n, (const char *const *)list.names, values)))
        rc = crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    for (size_t i = 0; values && i < list.n; i++)
        crun_value_unref(values[i]);
    free(values);
    partition_list_clear(&list);
    return rc;
}

/* A name must stay inside the folder and be found again by a load: a
 * relative path with no empty, "." or ".." part and no hidden part. */
static bool valid_name(const char *name)
{
    if (!*name || *name == '/')
        return false;
    for (const char *part = name; part; part = strchr(part, '/') ? strchr(part, '/') + 1 : NULL)
        if (*part == '/' || *part == '\0' || *part == '.')
            return false;
    return true;
}

static int save_one(partitioned_ds *ds, const char *name, const crun_value *value,
                    crun_error *err)
{
    if (!valid_name(name))
        return crun_error_set(err, CRUN_EDATA,
                              "dataset '%s': partition name '%s' is not a relative path of "
                              "visible names inside the folder",
                              ds->ctx->name, name);
    char *file = NULL;
    if (asprintf(&file, "%s/%s%s", ds->folder, name, ds->suffix) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    int rc = partition_write(&ds->format, ds->ctx, file, value, err);
    free(file);
    if (rc != 0)
        return crun_error_prefix(err, "dataset '%s': partition '%s': ", ds->ctx->name, name);
    return 0;
}

/* A JSON object saves each member as one partition (a json value). */
static int save_object(partitioned_ds *ds, json_t *object, crun_error *err)
{
    const char *name;
    json_t *member;
    json_object_foreach(object, name, member) {
        crun_value *v = crun_value_json_new(json_incref(member));
        if (!v)
            return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
        int rc = save_one(ds, name, v, err);
        crun_value_unref(v);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int partitioned_save(void *instance, crun_value *value, crun_error *err)
{
    partitioned_ds *ds = instance;
    if (crun_value_opaque(value, CRUN_PARTITIONS_TYPE)) {
        for (size_t i = 0; i < crun_partitions_count(value); i++) {
            int rc = save_one(ds, crun_partitions_name(value, i), crun_partitions_get(value, i),
                              err);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (json_is_object(crun_value_json(value)))
        return save_object(ds, crun_value_json(value), err);
    return crun_error_set(err, CRUN_EDATA,
                          "dataset '%s': cannot save a %s value as partitions: expected a "
                          "partitions value (crun/partitions.h) or a JSON object",
                          ds->ctx->name, crun_value_kind_name(crun_value_kind_of(value)));
}

/* ------------------------------------------------------------------------
 * the rest of the dataset interface
 * ------------------------------------------------------------------------ */

/* As in Kedro: the dataset exists when it has at least one partition. */
static int partitioned_exists(void *instance, bool *out, crun_error *err)
{
    partitioned_ds *ds = instance;
    partition_list list;
    crun_error local = CRUN_ERROR_INIT;
    *out = false;
    int rc = partition_list_folder(ds->folder, ds->suffix, &list, &local);
    if (rc == CRUN_ENOENT) {
        crun_error_clear(&local);
        return 0;
    }
    if (rc != 0) {
        crun_error_move(err, &local);
        return crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    }
    *out = list.n > 0;
    partition_list_clear(&list);
    return 0;
}

static json_t *partitioned_describe(void *instance)
{
    partitioned_ds *ds = instance;
    return json_pack("{s:s, s:s, s:s, s:b}", "path", ds->path, "dataset",
                     part_type_names[ds->format.type], "filename_suffix", ds->suffix, "versioned",
                     ds->ctx->versioned);
}

static const crun_dataset_type partitioned_type = {
    .size = sizeof(crun_dataset_type),
    .flags = 0,
    .create = partitioned_create,
    .destroy = partitioned_destroy,
    .load = partitioned_load,
    .save = partitioned_save,
    .exists = partitioned_exists,
    .describe = partitioned_describe,
};

static const crun_plugin partitioned_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "partitioned",
    .version = "1.0.0",
    .description = "a folder of text, bytes, json or csv files, loaded as named partitions",
    .table = &partitioned_type,
    .options = partitioned_options,
    .n_options = CRUN_OPTION_COUNT(partitioned_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &partitioned_plugin;
}
