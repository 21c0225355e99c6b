/* partition_files.c - listing a partitioned folder, and each partition's file.
 *
 * Listing walks the folder depth first into one flat list and sorts it by
 * name, so loads see partitions in the same order on every file system.
 * Reading and writing follow the text, bytes, json and csv dataset types:
 * text is checked to be UTF-8, JSON is written indented with reals as
 * short as read back exactly, CSV goes through csv_parse.c.  Every write
 * is crun_dataset_write_atomic: a partition is either old or new, never
 * cut, and reaches the disk as the dataset's durability says (at the
 * default, `run`, with all the run's saves at its end, not one by one).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <crun/dataset.h>

#include "partition_files.h"

static const char text_media_type[] = "text/plain; charset=utf-8";
static const char bytes_media_type[] = "application/octet-stream";

/* Folders nested deeper than this are not followed: a symlink loop must end. */
enum { MAX_DEPTH = 32 };

/* ------------------------------------------------------------------------
 * listing
 * ------------------------------------------------------------------------ */

void partition_list_clear(partition_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->names[i]);
        free(list->files[i]);
    }
    free(list->names);
    free(list->files);
    *list = (partition_list){0};
}

static int list_add(partition_list *list, const char *rel, size_t name_len, const char *file)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        char **names = realloc(list->names, cap * sizeof(char *));
        if (names)
            list->names = names;
        char **files = names ? realloc(list->files, cap * sizeof(char *)) : NULL;
        if (!files)
            return CRUN_ENOMEM;
        list->files = files;
        list->cap = cap;
    }
    char *name = strndup(rel, name_len), *copy = strdup(file);
    if (!name || !copy) {
        free(name);
        free(copy);
        return CRUN_ENOMEM;
    }
    list->names[list->n] = name;
    list->files[list->n++] = copy;
    return 0;
}

static bool ends_with(const char *s, const char *suffix, size_t *stem)
{
    size_t n = strlen(s), k = strlen(suffix);
    *stem = n - k;
    /* The suffix alone names no partition. */
    return n > k && strcmp(s + n - k, suffix) == 0;
}

typedef struct walk {
    const char *root;
    const char *suffix;
    partition_list *list;
    crun_error *err;
} walk;

static int walk_dir(walk *w, const char *rel, int depth);

/* One entry of a folder: a file to keep, a folder to enter, or neither. */
static int walk_entry(walk *w, const char *rel, int depth)
{
    char *file = NULL;
    struct stat st;
    size_t stem;
    if (asprintf(&file, "%s/%s", w->root, rel) < 0)
        return crun_error_set(w->err, CRUN_ENOMEM, "out of memory");
    int rc = 0;
    if (stat(file, &st) != 0)
        rc = 0; /* gone since readdir, or a dangling link: not a partition */
    else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
        rc = walk_dir(w, rel, depth + 1);
    else if (S_ISREG(st.st_mode) && ends_with(rel, w->suffix, &stem))
        rc = list_add(w->list, rel, stem, file) == 0
                 ? 0
                 : crun_error_set(w->err, CRUN_ENOMEM, "out of memory");
    free(file);
    return rc;
}

static int walk_dir(walk *w, const char *rel, int depth)
{
    char *dir_path = NULL;
    if (asprintf(&dir_path, "%s%s%s", w->root, *rel ? "/" : "", rel) < 0)
        return crun_error_set(w->err, CRUN_ENOMEM, "out of memory");
    DIR *dir = opendir(dir_path);
    if (!dir) {
        int code = errno == ENOENT ? CRUN_ENOENT : CRUN_EIO;
        int rc = crun_error_set(w->err, code, "%s: %s", dir_path, strerror(errno));
        free(dir_path);
        return rc;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        char *child = NULL;
        if (asprintf(&child, "%s%s%s", rel, *rel ? "/" : "", e->d_name) < 0)
            rc = crun_error_set(w->err, CRUN_ENOMEM, "out of memory");
        else
            rc = walk_entry(w, child, depth);
        free(child);
    }
    closedir(dir);
    free(dir_path);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort names and files together: sort indices by name, then permute. */
static int sort_list(partition_list *list)
{
    char **pairs = malloc((list->n ? list->n : 1) * 2 * sizeof(char *));
    if (!pairs)
        return CRUN_ENOMEM;
    for (size_t i = 0; i < list->n; i++) {
        pairs[2 * i] = list->names[i];
        pairs[2 * i + 1] = list->files[i];
    }
    qsort(pairs, list->n, 2 * sizeof(char *), by_name);
    for (size_t i = 0; i < list->n; i++) {
        list->names[i] = pairs[2 * i];
        list->files[i] = pairs[2 * i + 1];
    }
    free(pairs);
    return 0;
}

int partition_list_folder(const char *folder, const char *suffix, partition_list *out,
                          crun_error *err)
{
    walk w = {.root = folder, .suffix = suffix, .list = out, .err = err};
    *out = (partition_list){0};
    int rc = walk_dir(&w, "", 0);
    if (rc == 0 && sort_list(out) != 0)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (rc != 0)
        partition_list_clear(out);
    return rc;
}

/* ------------------------------------------------------------------------
 * text: UTF-8, as the text dataset type checks it
 * ------------------------------------------------------------------------ */

static int check_utf8(const char *file, const char *data, size_t len, crun_error *err)
{
    size_t at = crun_utf8_invalid_at(data, len);
    if (at < len)
        return crun_error_set(err, CRUN_EDATA, "%s: invalid UTF-8 at byte %zu", file, at);
    return 0;
}

/* ------------------------------------------------------------------------
 * json: reals as short as read back exactly, as the json dataset type does
 * ------------------------------------------------------------------------ */

static int render_json(const part_format *fmt, const crun_value *value, char **text,
                       size_t *len, crun_error *err)
{
    json_t *json = NULL;
    int rc = crun_value_to_json(value, &json, err);
    if (rc != 0)
        return crun_error_prefix(err, "cannot save a %s value as JSON: ",
                                 crun_value_kind_name(crun_value_kind_of(value)));
    char *dumped = crun_json_dumps(json, JSON_INDENT(fmt->indent) | JSON_ENCODE_ANY);
    json_decref(json);
    size_t n = dumped ? strlen(dumped) : 0;
    char *out = dumped ? realloc(dumped, n + 2) : NULL;
    if (!out) {
        free(dumped);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory writing JSON");
    }
    memcpy(out + n, "\n", 2); /* files end in a newline */
    *text = out;
    *len = n + 1;
    return 0;
}

/* ------------------------------------------------------------------------
 * reading and writing one partition
 * ------------------------------------------------------------------------ */

static int read_json(const char *file, char *data, size_t len, crun_value **out,
                     crun_error *err)
{
    json_error_t jerr;
    json_t *json = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
    free(data);
    if (!json)
        return crun_error_set(err, CRUN_EDATA, "%s:%d:%d: invalid JSON: %s", file, jerr.line,
                              jerr.column, jerr.text);
    *out = crun_value_json_new(json);
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static int read_csv(const part_format *fmt, const char *file, crun_value **out, crun_error *err)
{
    crun_table *table = NULL;
    int rc = csv_table_read(file, &fmt->csv_load, &table, err);
    if (rc != 0)
        return rc;
    *out = crun_value_table_new(table);
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

int partition_read(const part_format *fmt, const char *file, crun_value **out, crun_error *err)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    if (fmt->type == PART_CSV)
        return read_csv(fmt, file, out, err);
    int rc = crun_file_read(file, &data, &len, err);
    if (rc == 0 && fmt->type == PART_JSON)
        return read_json(file, data, len, out, err);
    if (rc == 0 && fmt->type == PART_TEXT)
        rc = check_utf8(file, data, len, err);
    if (rc != 0) {
        free(data);
        return rc;
    }
    *out = crun_value_bytes_take(data, len,
                                 fmt->type == PART_TEXT ? text_media_type : bytes_media_type);
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

/* The bytes a text or bytes partition holds: bytes values, and for text
 * also a JSON string (as the text type saves). */
static int raw_bytes(const part_format *fmt, const crun_value *value, const char **data,
                     size_t *len, crun_error *err)
{
    json_t *json = crun_value_json(value);
    if (crun_value_kind_of(value) == CRUN_VALUE_BYTES) {
        *data = crun_value_bytes(value, len);
        return 0;
    }
    if (fmt->type == PART_TEXT && json_is_string(json)) {
        *data = json_string_value(json);
        *len = json_string_length(json);
        return 0;
    }
    return crun_error_set(err, CRUN_EDATA, "cannot save a %s value as %s",
                          crun_value_kind_name(crun_value_kind_of(value)),
                          fmt->type == PART_TEXT ? "text" : "bytes");
}

/* The file's content for value: *owned is set when it was made here. */
static int render(const part_format *fmt, const crun_value *value, const char **data,
                  size_t *len, char **owned, crun_error *err)
{
    *owned = NULL;
    if (fmt->type == PART_JSON) {
        int rc = render_json(fmt, value, owned, len, err);
        *data = *owned;
        return rc;
    }
    if (fmt->type != PART_CSV)
        return raw_bytes(fmt, value, data, len, err);
    const crun_table *table = crun_value_table(value);
    if (!table)
        return crun_error_set(err, CRUN_EDATA, "cannot save a %s value as CSV: expected a table",
                              crun_value_kind_name(crun_value_kind_of(value)));
    int rc = csv_table_write(table, &fmt->csv_save, owned, len, err);
    *data = *owned;
    return rc;
}

int partition_write(const part_format *fmt, const crun_dataset_ctx *ctx, const char *file,
                    const crun_value *value, crun_error *err)
{
    const char *data = NULL;
    size_t len = 0;
    char *owned = NULL;
    int rc = render(fmt, value, &data, &len, &owned, err);
    if (rc == 0 && fmt->type == PART_TEXT)
        rc = check_utf8(file, data, len, err);
    if (rc == 0)
        rc = crun_dataset_write_atomic(ctx, file, data, len, err);
    free(owned);
    return rc;
}
