/* crun/value.h - the values that flow between nodes and datasets.
 *
 * A crun_value is reference-counted and immutable once a node has output it,
 * so parallel nodes share one value without copies.  Four kinds exist:
 *   bytes  - a byte buffer with a media type ("text/plain", "application/octet-stream")
 *   json   - a jansson json_t (treat it as read-only once wrapped)
 *   table  - named, typed columns (int64, double, string) with missing values
 *   opaque - a pointer, its destructor and a type name; lives in memory only
 *
 * Thread-safety: crun_value_ref/unref are atomic; every read accessor may be
 * called from any thread on a value that is no longer being built.  Builders
 * (crun_table_set_*) are for the single thread that created the table.
 */
#ifndef CRUN_VALUE_H
#define CRUN_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum crun_value_kind {
    CRUN_VALUE_BYTES = 1,
    CRUN_VALUE_JSON = 2,
    CRUN_VALUE_TABLE = 3,
    CRUN_VALUE_OPAQUE = 4
} crun_value_kind;

typedef struct crun_value crun_value;
typedef struct crun_table crun_table;

/* --- construction: each returns a new reference (count 1), NULL when out of memory --- */

/* Copies len bytes of data.  media_type may be NULL ("application/octet-stream"). */
crun_value *crun_value_bytes_new(const void *data, size_t len, const char *media_type);
/* Takes ownership of data, which must come from malloc(); it is freed with the value.
 * On failure (NULL return) data is freed too. */
crun_value *crun_value_bytes_take(void *data, size_t len, const char *media_type);
/* Takes over the caller's reference to json (json_decref'd on failure). */
crun_value *crun_value_json_new(json_t *json);
/* Takes ownership of table (freed on failure). */
crun_value *crun_value_table_new(crun_table *table);
/* destroy(ptr) runs when the last reference goes; type_name is copied. */
crun_value *crun_value_opaque_new(void *ptr, void (*destroy)(void *ptr), const char *type_name);

/* --- references --- */
crun_value *crun_value_ref(crun_value *value);   /* returns value; NULL-safe */
void crun_value_unref(crun_value *value);        /* NULL-safe */

/* --- reading (all borrowed, valid while the caller holds a reference) --- */
crun_value_kind crun_value_kind_of(const crun_value *value);
const char *crun_value_kind_name(crun_value_kind kind); /* "bytes", "json", ... */
const void *crun_value_bytes(const crun_value *value, size_t *len); /* NULL unless bytes */
const char *crun_value_media_type(const crun_value *value);         /* NULL unless bytes */
json_t *crun_value_json(const crun_value *value);                  /* NULL unless json */
const crun_table *crun_value_table(const crun_value *value);        /* NULL unless table */
void *crun_value_opaque(const crun_value *value, const char *type_name); /* NULL unless opaque of that type */
/* A rough count of the bytes the value holds (for logs and memory accounting). */
size_t crun_value_size(const crun_value *value);

/* Convert to JSON: json values give a new reference to themselves, bytes are
 * parsed as JSON text, tables become {"columns": [...], "rows": [[...]]}.
 * Returns 0 or CRUN_EDATA with a message. */
int crun_value_to_json(const crun_value *value, json_t **out, crun_error *err);
/* Serialise to bytes: bytes as they are, json as compact text, tables as CSV
 * with a header line.  *out is malloc'd and owned by the caller. */
int crun_value_serialize(const crun_value *value, char **out, size_t *len, crun_error *err);

/* --- numbers, paths and text as every plugin writes and reads them ---
 * Pure functions of their arguments: thread-safe, no state. */

/* The fewest significant digits (15..17) with which "%.*g" reads d back
 * exactly. */
int crun_real_digits(double d);
/* d in the shortest form that reads back exactly, with ".0" added to a whole
 * number so it reads back as a real ("2.0", "0.1", "1e+300", "nan").  Writes
 * at most size bytes into buf (32 are always enough); returns snprintf's count. */
int crun_real_format(double d, char *buf, size_t size);
/* json_dumps(json, flags) with JSON_REAL_PRECISION set to the fewest digits
 * that read every real of the document back exactly (jansson's fixed 17 turn
 * 0.1 into 0.10000000000000001).  Returns malloc'd text owned by the caller,
 * or NULL (out of memory, or json_dumps refused the value). */
char *crun_json_dumps(const json_t *json, size_t flags);
/* The value at a dotted path ("model.alpha") in a tree of JSON objects; ""
 * is root itself; NULL when a step is missing or not an object.  Borrowed
 * from root. */
json_t *crun_json_path(json_t *root, const char *path);
/* Length of the valid UTF-8 sequence that starts data (n bytes left), or 0
 * when it is not one: overlong forms, surrogates and code points past
 * U+10FFFF are refused. */
size_t crun_utf8_sequence(const void *data, size_t n);
/* Offset of the first byte of data that is not valid UTF-8, or len when all
 * of it is. */
size_t crun_utf8_invalid_at(const void *data, size_t len);

/* --- tables --- */
typedef enum crun_column_type {
    CRUN_COLUMN_INT64 = 1,
    CRUN_COLUMN_DOUBLE = 2,
    CRUN_COLUMN_STRING = 3
} crun_column_type;

/* A new empty table with room for capacity rows; free with crun_table_free
 * unless handed to crun_value_table_new. */
crun_table *crun_table_new(size_t capacity);
void crun_table_free(crun_table *table);
/* Add a column (all rows missing until set).  Returns its index or a negative code. */
int crun_table_add_column(crun_table *table, const char *name, crun_column_type type);
/* Grow the row count to rows (new cells are missing).  Returns 0 or CRUN_ENOMEM. */
int crun_table_set_rows(crun_table *table, size_t rows);
int crun_table_set_int64(crun_table *table, size_t col, size_t row, int64_t v);
int crun_table_set_double(crun_table *table, size_t col, size_t row, double v);
int crun_table_set_string(crun_table *table, size_t col, size_t row, const char *v); /* copies */
int crun_table_set_missing(crun_table *table, size_t col, size_t row);

size_t crun_table_rows(const crun_table *table);
size_t crun_table_columns(const crun_table *table);
const char *crun_table_column_name(const crun_table *table, size_t col);
crun_column_type crun_table_column_type(const crun_table *table, size_t col);
/* Index of the named column, or -1. */
int crun_table_column_index(const crun_table *table, const char *name);
bool crun_table_is_missing(const crun_table *table, size_t col, size_t row);
int64_t crun_table_int64(const crun_table *table, size_t col, size_t row);
double crun_table_double(const crun_table *table, size_t col, size_t row);
const char *crun_table_string(const crun_table *table, size_t col, size_t row); /* borrowed */

#ifdef __cplusplus
}
#endif
#endif
