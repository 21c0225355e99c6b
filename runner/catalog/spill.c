/* spill.c - the self-describing value files that carry memory datasets
 * between the processes of one run (see spill.h).
 *
 * Tables keep their column types and missing cells, which CSV would lose;
 * bytes keep their media type.  Writes are atomic like every other save, so
 * a consumer job never reads half a value.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/spill.h"

static const char *const column_types[] = {NULL, "int64", "double", "string"};

static json_t *table_json(const crun_table *t)
{
    json_t *cols = json_array(), *rows = json_array();
    size_t nc = crun_table_columns(t), nr = crun_table_rows(t);
    for (size_t c = 0; c < nc; c++)
        json_array_append_new(cols, json_pack("{s:s, s:s}", "name", crun_table_column_name(t, c),
                                              "type", column_types[crun_table_column_type(t, c)]));
    for (size_t r = 0; r < nr; r++) {
        json_t *row = json_array();
        for (size_t c = 0; c < nc; c++) {
            json_t *cell;
            if (crun_table_is_missing(t, c, r))
                cell = json_null();
            else if (crun_table_column_type(t, c) == CRUN_COLUMN_INT64)
                cell = json_integer(crun_table_int64(t, c, r));
            else if (crun_table_column_type(t, c) == CRUN_COLUMN_DOUBLE)
                cell = json_real(crun_table_double(t, c, r));
            else
                cell = json_string(crun_table_string(t, c, r));
            json_array_append_new(row, cell);
        }
        json_array_append_new(rows, row);
    }
    return json_pack("{s:o, s:o}", "columns", cols, "rows", rows);
}

int spill_encode(const crun_value *v, char **out, size_t *len, crun_error *err)
{
    crun_value_kind kind = crun_value_kind_of(v);
    char *body = NULL;
    size_t body_len = 0;
    char header[256];
    if (kind == CRUN_VALUE_BYTES) {
        const void *data = crun_value_bytes(v, &body_len);
        snprintf(header, sizeof(header), "crun-value 1 bytes %s\n", crun_value_media_type(v));
        if (!(body = malloc(body_len + 1)))
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        memcpy(body, data, body_len);
    } else if (kind == CRUN_VALUE_JSON || kind == CRUN_VALUE_TABLE) {
        json_t *j = kind == CRUN_VALUE_JSON ? json_incref(crun_value_json(v))
                                            : table_json(crun_value_table(v));
        body = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        if (!body)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        body_len = strlen(body);
        snprintf(header, sizeof(header), "crun-value 1 %s\n", kind == CRUN_VALUE_JSON ? "json"
                                                                                      : "table");
    } else {
        return crun_error_set(err, CRUN_EDATA, "an opaque value lives in memory only and cannot "
                              "be handed to another process");
    }
    size_t hlen = strlen(header);
    char *all = malloc(hlen + body_len + 1);
    if (!all) {
        free(body);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    memcpy(all, header, hlen);
    memcpy(all + hlen, body, body_len);
    free(body);
    *out = all;
    *len = hlen + body_len;
    return 0;
}

static int column_type(const char *name)
{
    for (int i = 1; i <= 3; i++)
        if (name && strcmp(name, column_types[i]) == 0)
            return i;
    return 0;
}

static int decode_table(json_t *j, const char *what, crun_value **out, crun_error *err)
{
    json_t *cols = json_object_get(j, "columns"), *rows = json_object_get(j, "rows");
    if (!json_is_array(cols) || !json_is_array(rows))
        return crun_error_set(err, CRUN_EDATA, "%s: a table needs columns and rows", what);
    size_t nr = json_array_size(rows), nc = json_array_size(cols);
    crun_table *t = crun_table_new(nr);
    if (!t || crun_table_set_rows(t, nr) != 0) {
        crun_table_free(t);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < nc; c++) {
        json_t *col = json_array_get(cols, c);
        int type = column_type(json_string_value(json_object_get(col, "type")));
        const char *name = json_string_value(json_object_get(col, "name"));
        if (!type || !name || crun_table_add_column(t, name, (crun_column_type)type) < 0) {
            crun_table_free(t);
            return crun_error_set(err, CRUN_EDATA, "%s: column %zu is malformed", what, c);
        }
        for (size_t r = 0; r < nr; r++) {
            json_t *cell = json_array_get(json_array_get(rows, r), c);
            if (!cell || json_is_null(cell))
                continue;
            if (type == CRUN_COLUMN_INT64)
                crun_table_set_int64(t, c, r, json_integer_value(cell));
            else if (type == CRUN_COLUMN_DOUBLE)
                crun_table_set_double(t, c, r, json_number_value(cell));
            else
                crun_table_set_string(t, c, r, json_string_value(cell));
        }
    }
    *out = crun_value_table_new(t);
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

int spill_decode(const char *data, size_t len, const char *what, crun_value **out,
                 crun_error *err)
{
    const char *nl = memchr(data, '\n', len);
    char kind[16] = "", media[200] = "";
    int version = 0;
    if (!nl || sscanf(data, "crun-value %d %15s %199[^\n]", &version, kind, media) < 2 ||
        version != 1)
        return crun_error_set(err, CRUN_EDATA, "%s: not a crun value file", what);
    const char *body = nl + 1;
    size_t blen = len - (size_t)(body - data);
    if (strcmp(kind, "bytes") == 0) {
        *out = crun_value_bytes_new(body, blen, media[0] ? media : NULL);
        return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    json_error_t jerr;
    json_t *j = json_loadb(body, blen, JSON_DECODE_ANY, &jerr);
    if (!j)
        return crun_error_set(err, CRUN_EDATA, "%s: %s", what, jerr.text);
    int rc;
    if (strcmp(kind, "json") == 0) {
        *out = crun_value_json_new(j);
        return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    rc = strcmp(kind, "table") == 0 ? decode_table(j, what, out, err)
                                    : crun_error_set(err, CRUN_EDATA, "%s: unknown kind '%s'",
                                                     what, kind);
    json_decref(j);
    return rc;
}

/* --- the dataset type --- */

typedef struct spill {
    char *name;
    char *path;
    pthread_mutex_t lock;
    crun_value *value; /* the cached value, for consumers in this process */
} spill;

static int spill_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                        crun_error *err)
{
    const char *path = NULL;
    int rc = crun_options_string(opts, "path", &path, err);
    if (rc)
        return rc;
    spill *s = calloc(1, sizeof(*s));
    if (!s || !(s->name = strdup(ctx->name)) || !path || !(s->path = strdup(path))) {
        if (s)
            free(s->name);
        free(s);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    *instance = s;
    return 0;
}

static void spill_destroy(void *instance)
{
    spill *s = instance;
    crun_value_unref(s->value);
    pthread_mutex_destroy(&s->lock);
    free(s->name);
    free(s->path);
    free(s);
}

static int spill_load(void *instance, crun_value **out, crun_error *err)
{
    spill *s = instance;
    pthread_mutex_lock(&s->lock);
    *out = crun_value_ref(s->value);
    pthread_mutex_unlock(&s->lock);
    if (*out)
        return 0;
    char *data;
    size_t len;
    int rc = crun_file_read(s->path, &data, &len, err);
    if (rc)
        return crun_error_prefix(err, "dataset '%s' (made by another job of this run): ",
                                 s->name);
    rc = spill_decode(data, len, s->path, out, err);
    free(data);
    if (rc)
        return crun_error_prefix(err, "dataset '%s': ", s->name);
    pthread_mutex_lock(&s->lock);
    if (!s->value)
        s->value = crun_value_ref(*out);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int spill_save(void *instance, crun_value *value, crun_error *err)
{
    spill *s = instance;
    char *data;
    size_t len;
    int rc = spill_encode(value, &data, &len, err);
    if (!rc)
        rc = crun_file_write_atomic(s->path, data, len, err);
    if (rc)
        return crun_error_prefix(err, "dataset '%s': ", s->name);
    free(data);
    pthread_mutex_lock(&s->lock);
    crun_value_unref(s->value);
    s->value = crun_value_ref(value);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int spill_exists(void *instance, bool *out, crun_error *err)
{
    spill *s = instance;
    struct stat st;
    (void)err;
    *out = s->value || stat(s->path, &st) == 0;
    return 0;
}

static json_t *spill_describe(void *instance)
{
    spill *s = instance;
    return json_pack("{s:s, s:s}", "filepath", s->path, "shared_by", "jobs of one run");
}

static void spill_release(void *instance)
{
    spill *s = instance;
    pthread_mutex_lock(&s->lock);
    crun_value_unref(s->value);
    s->value = NULL;
    pthread_mutex_unlock(&s->lock);
}

const crun_dataset_type spill_type = {
    .size = sizeof(crun_dataset_type),
    .flags = CRUN_DATASET_IN_MEMORY, /* released after its last consumer here */
    .create = spill_create,
    .destroy = spill_destroy,
    .load = spill_load,
    .save = spill_save,
    .exists = spill_exists,
    .describe = spill_describe,
    .release = spill_release,
};
