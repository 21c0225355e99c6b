/* value.c - crun_value: the reference-counted values that flow between nodes.
 *
 * A value is one small header (kind, atomic count) around its payload: a
 * byte buffer, a jansson tree, a crun_table (table.c) or an opaque pointer.
 * Values are immutable once shared, so the count is the only thing threads
 * touch concurrently.  The conversions at the bottom turn any value into JSON
 * (for the service runner and the json dataset) or into bytes (for command
 * nodes' scratch files): tables become {"columns","rows"} or RFC 4180 CSV.
 * The number, path and UTF-8 functions every writer of text shares (the
 * json, csv and partitioned datasets, the configuration) live here too, so
 * a real reads back the same whoever wrote it.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crun/value.h"

static const char default_media_type[] = "application/octet-stream";

struct crun_value {
    atomic_size_t refs;
    crun_value_kind kind;
    union {
        struct {
            void *data;
            size_t len;
            char *media_type; /* NULL: default_media_type */
        } bytes;
        json_t *json;
        crun_table *table;
        struct {
            void *ptr;
            void (*destroy)(void *ptr);
            char *type_name;
        } opaque;
    } u;
};

static crun_value *value_alloc(crun_value_kind kind)
{
    /* malloc and a zeroed struct rather than calloc, which glibc serves
     * without its per-thread cache: a value is made per node output */
    crun_value *v = malloc(sizeof(*v));
    if (!v)
        return NULL;
    *v = (crun_value){.kind = kind};
    atomic_init(&v->refs, 1);
    return v;
}

/* --- construction ------------------------------------------------------ */

crun_value *crun_value_bytes_take(void *data, size_t len, const char *media_type)
{
    crun_value *v = value_alloc(CRUN_VALUE_BYTES);
    char *type = v && media_type ? strdup(media_type) : NULL;
    if (!v || (media_type && !type)) {
        free(type);
        free(v);
        free(data);
        return NULL;
    }
    v->u.bytes.data = data;
    v->u.bytes.len = len;
    v->u.bytes.media_type = type;
    return v;
}

crun_value *crun_value_bytes_new(const void *data, size_t len, const char *media_type)
{
    /* One spare byte keeps the copy NUL-terminated, handy for text readers. */
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    return crun_value_bytes_take(copy, len, media_type);
}

crun_value *crun_value_json_new(json_t *json)
{
    if (!json)
        return NULL;
    crun_value *v = value_alloc(CRUN_VALUE_JSON);
    if (!v) {
        json_decref(json);
        return NULL;
    }
    v->u.json = json;
    return v;
}

crun_value *crun_value_table_new(crun_table *table)
{
    if (!table)
        return NULL;
    crun_value *v = value_alloc(CRUN_VALUE_TABLE);
    if (!v) {
        crun_table_free(table);
        return NULL;
    }
    v->u.table = table;
    return v;
}

crun_value *crun_value_opaque_new(void *ptr, void (*destroy)(void *ptr), const char *type_name)
{
    crun_value *v = value_alloc(CRUN_VALUE_OPAQUE);
    if (!v)
        return NULL;
    v->u.opaque.type_name = strdup(type_name ? type_name : "opaque");
    if (!v->u.opaque.type_name) {
        free(v);
        return NULL;
    }
    v->u.opaque.ptr = ptr;
    v->u.opaque.destroy = destroy;
    return v;
}

/* --- references -------------------------------------------------------- */

crun_value *crun_value_ref(crun_value *value)
{
    if (value)
        atomic_fetch_add_explicit(&value->refs, 1, memory_order_relaxed);
    return value;
}

static void value_free(crun_value *v)
{
    switch (v->kind) {
    case CRUN_VALUE_BYTES:
        free(v->u.bytes.data);
        free(v->u.bytes.media_type);
        break;
    case CRUN_VALUE_JSON:
        json_decref(v->u.json);
        break;
    case CRUN_VALUE_TABLE:
        crun_table_free(v->u.table);
        break;
    case CRUN_VALUE_OPAQUE:
        if (v->u.opaque.destroy)
            v->u.opaque.destroy(v->u.opaque.ptr);
        free(v->u.opaque.type_name);
        break;
    }
    free(v);
}

void crun_value_unref(crun_value *value)
{
    if (!value)
        return;
    /* Release on every drop, acquire on the last one: the freeing thread
     * must see all writes other holders made before letting go. */
    if (atomic_fetch_sub_explicit(&value->refs, 1, memory_order_acq_rel) == 1)
        value_free(value);
}

/* --- reading ----------------------------------------------------------- */

crun_value_kind crun_value_kind_of(const crun_value *value)
{
    return value->kind;
}

const char *crun_value_kind_name(crun_value_kind kind)
{
    switch (kind) {
    case CRUN_VALUE_BYTES: return "bytes";
    case CRUN_VALUE_JSON: return "json";
    case CRUN_VALUE_TABLE: return "table";
    case CRUN_VALUE_OPAQUE: return "opaque";
    }
    return "unknown";
}

const void *crun_value_bytes(const crun_value *value, size_t *len)
{
    if (!value || value->kind != CRUN_VALUE_BYTES) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = value->u.bytes.len;
    /* A zero-length buffer still gets a non-NULL pointer, so callers can
     * tell "empty bytes" from "not bytes". */
    return value->u.bytes.data ? value->u.bytes.data : (const void *)"";
}

const char *crun_value_media_type(const crun_value *value)
{
    if (!value || value->kind != CRUN_VALUE_BYTES)
        return NULL;
    return value->u.bytes.media_type ? value->u.bytes.media_type : default_media_type;
}

json_t *crun_value_json(const crun_value *value)
{
    return value && value->kind == CRUN_VALUE_JSON ? value->u.json : NULL;
}

const crun_table *crun_value_table(const crun_value *value)
{
    return value && value->kind == CRUN_VALUE_TABLE ? value->u.table : NULL;
}

void *crun_value_opaque(const crun_value *value, const char *type_name)
{
    if (!value || value->kind != CRUN_VALUE_OPAQUE)
        return NULL;
    if (type_name && strcmp(type_name, value->u.opaque.type_name) != 0)
        return NULL;
    return value->u.opaque.ptr;
}

static size_t table_size(const crun_table *t)
{
    size_t rows = crun_table_rows(t), cols = crun_table_columns(t);
    size_t total = cols * (rows * sizeof(int64_t) + rows / 8 + 1);
    for (size_t c = 0; c < cols; c++) {
        if (crun_table_column_type(t, c) != CRUN_COLUMN_STRING)
            continue;
        for (size_t r = 0; r < rows; r++) {
            const char *s = crun_table_string(t, c, r);
            total += s ? strlen(s) + 1 : 0;
        }
    }
    return total;
}

/* jansson does not report sizes, so JSON is measured by its compact text. */
static size_t dumped_size(json_t *json)
{
    return json_dumpb(json, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

size_t crun_value_size(const crun_value *value)
{
    if (!value)
        return 0;
    switch (value->kind) {
    case CRUN_VALUE_BYTES: return value->u.bytes.len;
    case CRUN_VALUE_JSON: return dumped_size(value->u.json);
    case CRUN_VALUE_TABLE: return table_size(value->u.table);
    case CRUN_VALUE_OPAQUE: return 0;
    }
    return 0;
}

/* --- conversion to JSON -------------------------------------------------- */

static json_t *cell_to_json(const crun_table *t, size_t c, size_t r)
{
    if (crun_table_is_missing(t, c, r))
        return json_null();
    switch (crun_table_column_type(t, c)) {
    case CRUN_COLUMN_INT64:
        return json_integer((json_int_t)crun_table_int64(t, c, r));
    case CRUN_COLUMN_DOUBLE: {
        double d = crun_table_double(t, c, r);
        /* JSON has no NaN or infinity: they read as missing. */
        return isfinite(d) ? json_real(d) : json_null();
    }
    case CRUN_COLUMN_STRING:
        return json_string(crun_table_string(t, c, r));
    }
    return json_null();
}

static json_t *table_row_to_json(const crun_table *t, size_t r)
{
    json_t *row = json_array();
    for (size_t c = 0; row && c < crun_table_columns(t); c++) {
        if (json_array_append_new(row, cell_to_json(t, c, r)) != 0) {
            json_decref(row);
            row = NULL;
        }
    }
    return row;
}

static json_t *table_to_json(const crun_table *t)
{
    json_t *out = json_object();
    json_t *columns = json_array();
    json_t *rows = json_array();
    if (!out || !columns || !rows)
        goto fail;
    for (size_t c = 0; c < crun_table_columns(t); c++)
        if (json_array_append_new(columns, json_string(crun_table_column_name(t, c))) != 0)
            goto fail;
    for (size_t r = 0; r < crun_table_rows(t); r++)
        if (json_array_append_new(rows, table_row_to_json(t, r)) != 0)
            goto fail;
    if (json_object_set_new(out, "columns", columns) != 0) {
        columns = NULL; /* json_object_set_new consumed it even on failure */
        goto fail;
    }
    if (json_object_set_new(out, "rows", rows) != 0) {
        rows = NULL;
        columns = NULL;
        goto fail;
    }
    return out;
fail:
    json_decref(rows);
    json_decref(columns);
    json_decref(out);
    return NULL;
}

int crun_value_to_json(const crun_value *value, json_t **out, crun_error *err)
{
    *out = NULL;
    if (!value)
        return crun_error_set(err, CRUN_EINVAL, "no value to convert to JSON");
    switch (value->kind) {
    case CRUN_VALUE_JSON:
        *out = json_incref(value->u.json);
        return 0;
    case CRUN_VALUE_BYTES: {
        json_error_t jerr;
        const char *data = value->u.bytes.data ? value->u.bytes.data : "";
        *out = json_loadb(data, value->u.bytes.len, JSON_DECODE_ANY, &jerr);
        if (!*out)
            return crun_error_set(err, CRUN_EDATA, "%d:%d: invalid JSON: %s", jerr.line,
                                  jerr.column, jerr.text);
        return 0;
    }
    case CRUN_VALUE_TABLE:
        *out = table_to_json(value->u.table);
        if (!*out)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory converting a table to JSON");
        return 0;
    case CRUN_VALUE_OPAQUE:
        return crun_error_set(err, CRUN_EDATA,
                              "cannot convert an opaque value of type '%s' to JSON",
                              value->u.opaque.type_name);
    }
    return crun_error_set(err, CRUN_EINVAL, "unknown value kind %d", (int)value->kind);
}

/* --- serialisation --------------------------------------------------------- */

/* A growable output buffer; `failed` latches the first allocation failure so
 * the CSV writer can append freely and check once at the end. */
typedef struct out_buf {
    char *data;
    size_t len, cap;
    int failed;
} out_buf;

static void buf_append(out_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void csv_field(out_buf *b, const char *s)
{
    /* An empty string is quoted so that it reads back apart from a missing cell. */
    if (*s && !strpbrk(s, ",\"\r\n")) {
        buf_append(b, s, strlen(s));
        return;
    }
    buf_append(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        buf_append(b, s, (size_t)(q - s));
        buf_append(b, "\"\"", 2);
    }
    buf_append(b, s, strlen(s));
    buf_append(b, "\"", 1);
}

/* --- numbers, paths and text (value.h) --- */

int crun_real_digits(double d)
{
    char buf[32];
    for (int digits = 15; digits < 17; digits++) {
        snprintf(buf, sizeof(buf), "%.*g", digits, d);
        if (strtod(buf, NULL) == d)
            return digits;
    }
    return 17;
}

/* ".0" keeps a table column a double column, and a YAML scalar a float,
 * when the text is read back. */
int crun_real_format(double d, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%.*g", crun_real_digits(d), d);
    if (n >= 0 && isfinite(d) && !strpbrk(buf, ".eE") && (size_t)n + 3 <= size) {
        strcat(buf, ".0");
        n += 2;
    }
    return n;
}

/* The precision every real in json needs: one per document in jansson. */
static int real_precision(const json_t *json)
{
    if (json_is_real(json))
        return crun_real_digits(json_real_value(json));
    int best = 15;
    size_t i;
    const char *key;
    json_t *item;
    if (json_is_array(json)) {
        json_array_foreach((json_t *)json, i, item) {
            int digits = real_precision(item);
            best = digits > best ? digits : best;
        }
    }
    if (json_is_object(json)) {
        json_object_foreach((json_t *)json, key, item) {
            int digits = real_precision(item);
            best = digits > best ? digits : best;
        }
    }
    return best;
}

char *crun_json_dumps(const json_t *json, size_t flags)
{
    flags &= ~(size_t)JSON_REAL_PRECISION(31);
    return json_dumps(json, flags | JSON_REAL_PRECISION(real_precision(json)));
}

json_t *crun_json_path(json_t *root, const char *path)
{
    json_t *cur = root;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        cur = json_is_object(cur) ? json_object_getn(cur, p, len) : NULL;
        p = dot ? dot + 1 : p + len;
    }
    return cur;
}

size_t crun_utf8_sequence(const void *data, size_t n)
{
    const unsigned char *s = data;
    if (n == 0)
        return 0;
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

size_t crun_utf8_invalid_at(const void *data, size_t len)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < len;) {
        size_t n = crun_utf8_sequence(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

static void csv_cell(out_buf *b, const crun_table *t, size_t c, size_t r)
{
    char num[40];
    if (crun_table_is_missing(t, c, r))
        return;
    switch (crun_table_column_type(t, c)) {
    case CRUN_COLUMN_INT64:
        snprintf(num, sizeof(num), "%lld", (long long)crun_table_int64(t, c, r));
        buf_append(b, num, strlen(num));
        break;
    case CRUN_COLUMN_DOUBLE:
        crun_real_format(crun_table_double(t, c, r), num, sizeof(num));
        buf_append(b, num, strlen(num));
        break;
    case CRUN_COLUMN_STRING:
        csv_field(b, crun_table_string(t, c, r));
        break;
    }
}

static int table_to_csv(const crun_table *t, char **out, size_t *len, crun_error *err)
{
    out_buf b = {0};
    size_t cols = crun_table_columns(t);
    for (size_t c = 0; c < cols; c++) {
        if (c)
            buf_append(&b, ",", 1);
        csv_field(&b, crun_table_column_name(t, c));
    }
    buf_append(&b, "\n", 1);
    for (size_t r = 0; r < crun_table_rows(t); r++) {
        for (size_t c = 0; c < cols; c++) {
            if (c)
                buf_append(&b, ",", 1);
            csv_cell(&b, t, c, r);
        }
        buf_append(&b, "\n", 1);
    }
    if (b.failed) {
        free(b.data);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory writing a table as CSV");
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

static int bytes_copy(const crun_value *v, char **out, size_t *len, crun_error *err)
{
    char *copy = malloc(v->u.bytes.len + 1);
    if (!copy)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory copying %zu bytes", v->u.bytes.len);
    if (v->u.bytes.len)
        memcpy(copy, v->u.bytes.data, v->u.bytes.len);
    copy[v->u.bytes.len] = '\0';
    *out = copy;
    *len = v->u.bytes.len;
    return 0;
}

int crun_value_serialize(const crun_value *value, char **out, size_t *len, crun_error *err)
{
    *out = NULL;
    *len = 0;
    if (!value)
        return crun_error_set(err, CRUN_EINVAL, "no value to serialise");
    switch (value->kind) {
    case CRUN_VALUE_BYTES:
        return bytes_copy(value, out, len, err);
    case CRUN_VALUE_JSON: {
        *out = crun_json_dumps(value->u.json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!*out)
            return crun_error_set(err, CRUN_EDATA, "cannot write the JSON value as text");
        *len = strlen(*out);
        return 0;
    }
    case CRUN_VALUE_TABLE:
        return table_to_csv(value->u.table, out, len, err);
    case CRUN_VALUE_OPAQUE:
        return crun_error_set(err, CRUN_EDATA,
                              "cannot write an opaque value of type '%s' to a file",
                              value->u.opaque.type_name);
    }
    return crun_error_set(err, CRUN_EINVAL, "unknown value kind %d", (int)value->kind);
}
