/* csv_write.c - a crun table as CSV text (see csv_parse.h).
 *
 * The whole text is rendered into one buffer, which the caller saves with
 * crun_file_write_atomic.  Quoting follows RFC 4180; numbers are written so
 * that csv_parse.c reads every column back with its type: doubles keep a
 * ".0" when whole, and empty strings are quoted apart from missing cells
 * (which are empty fields).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv_number.h"
#include "csv_parse.h"

/* A growable buffer; `failed` latches the first allocation failure so that
 * the writer appends freely and checks once at the end. */
typedef struct out_buf {
    char *data;
    size_t len, cap;
    bool failed;
} out_buf;

/* Room for n more bytes, or NULL once an allocation has failed. */
static char *out_reserve(out_buf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

static void out_append(out_buf *b, const char *s, size_t n)
{
    char *p = out_reserve(b, n);
    if (!p)
        return;
    memcpy(p, s, n);
    b->len += n;
}

/* RFC 4180: a field holding the delimiter, a quote or a line break is
 * quoted with quotes doubled.  An empty string is quoted too, so that it
 * reads back apart from a missing cell, and so is one that starts with a
 * UTF-8 byte order mark, which the reader would take off at the start of
 * the file. */
static void write_field(out_buf *b, const char *s, char delimiter)
{
    size_t n = strlen(s);
    bool quote = n == 0 || strncmp(s, "\xef\xbb\xbf", 3) == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == delimiter || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        out_append(b, s, n);
        return;
    }
    out_append(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        out_append(b, s, (size_t)(q - s) + 1);
        out_append(b, "\"", 1);
    }
    out_append(b, s, strlen(s));
    out_append(b, "\"", 1);
}

static void write_int(out_buf *b, int64_t v)
{
    char digits[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[sizeof(digits) - ++n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[sizeof(digits) - ++n] = '-';
    out_append(b, digits + sizeof(digits) - n, n);
}

static void write_double(out_buf *b, double d)
{
    char s[CSV_NUMBER_DOUBLE_MAX];
    out_append(b, s, (size_t)crun_real_format(d, s, sizeof(s)));
}

static void write_cell(out_buf *b, const crun_table *t, size_t c, size_t r, char delimiter)
{
    if (crun_table_is_missing(t, c, r))
        return;
    switch (crun_table_column_type(t, c)) {
    case CRUN_COLUMN_INT64:
        write_int(b, crun_table_int64(t, c, r));
        break;
    case CRUN_COLUMN_DOUBLE:
        write_double(b, crun_table_double(t, c, r));
        break;
    case CRUN_COLUMN_STRING:
        write_field(b, crun_table_string(t, c, r), delimiter);
        break;
    }
}

int csv_table_write(const crun_table *table, const csv_write_options *opts, char **out,
                    size_t *len, crun_error *err)
{
    out_buf b = {0};
    size_t cols = crun_table_columns(table), rows = crun_table_rows(table);
    char delim = opts->delimiter;
    *out = NULL;
    *len = 0;
    /* No columns, no lines: a blank line would not read back as anything. */
    for (size_t c = 0; cols && opts->header && c < cols; c++) {
        if (c)
            out_append(&b, &delim, 1);
        write_field(&b, crun_table_column_name(table, c), delim);
    }
    if (cols && opts->header)
        out_append(&b, "\n", 1);
    for (size_t r = 0; cols && r < rows && !b.failed; r++) {
        for (size_t c = 0; c < cols; c++) {
            if (c)
                out_append(&b, &delim, 1);
            write_cell(&b, table, c, r, delim);
        }
        out_append(&b, "\n", 1);
    }
    /* A NUL after the text: an empty result is still a malloc'd string. */
    char *nul = out_reserve(&b, 1);
    if (!nul) {
        free(b.data);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory writing a table as CSV");
    }
    *nul = '\0';
    *out = b.data;
    *len = b.len;
    return 0;
}
