/* json_table.c - a table saved as JSON, written row by row.
 *
 * A table's JSON is {"columns": [...], "rows": [[...], ...]}.  Building it
 * as a jansson tree first (crun_value_to_json) costs about ten times the
 * table (a json_t per cell, and the whole text in memory at the end): a
 * 189 MB CSV took 2.4 GB.  This writer encodes the same text straight into
 * the save's temporary file through a 64 KiB buffer, so a save needs the
 * table and little more.  Its output is byte for byte what jansson writes
 * for that tree with crun_json_dumps: the same layout for every `indent`,
 * one precision for every real of the document (the fewest digits that
 * read each back, 15 to 17), jansson's form of a real ("%.*g", ".0" when
 * there is no point or exponent, no "+" nor leading zeros in the exponent),
 * missing cells, NaN and infinities as null, and strings escaped by jansson
 * itself when they hold anything but printable ASCII (invalid UTF-8 is
 * refused, as jansson refuses it).  Pure: the state is the caller's.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_table.h"

enum { OUT_SIZE = 64 * 1024 };

typedef struct writer {
    const crun_table *t;
    int fd;
    int indent;       /* spaces per level; 0: one line */
    int precision;    /* digits of every real */
    char buf[OUT_SIZE];
    size_t len;
    crun_error *err;
    int rc;           /* the first failure; nothing is written after it */
} writer;

static void flush_out(writer *w)
{
    size_t done = 0;
    while (!w->rc && done < w->len) {
        ssize_t n = write(w->fd, w->buf + done, w->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            w->rc = crun_error_set(w->err, CRUN_EIO, "cannot write its file: %s",
                                   n < 0 ? strerror(errno) : "nothing written");
        else
            done += (size_t)n;
    }
    w->len = 0;
}

static void put(writer *w, const char *s, size_t n)
{
    while (n > 0 && !w->rc) {
        if (w->len == OUT_SIZE)
            flush_out(w);
        size_t room = OUT_SIZE - w->len, take = n < room ? n : room;
        memcpy(w->buf + w->len, s, take);
        w->len += take;
        s += take;
        n -= take;
    }
}

static void puts_w(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* A line break and depth levels of indentation; nothing on one line. */
static void newline(writer *w, int depth)
{
    if (w->indent <= 0)
        return;
    put(w, "\n", 1);
    for (int i = 0; i < depth * w->indent; i++)
        put(w, " ", 1);
}

/* Between items: "," and a line break, or ", " on one line. */
static void separator(writer *w, int depth)
{
    if (w->indent > 0) {
        put(w, ",", 1);
        newline(w, depth);
    } else {
        put(w, ", ", 2);
    }
}

/* jansson's jsonp_dtostr at precision digits. */
static void put_real(writer *w, double d)
{
    char text[64];
    int n = snprintf(text, sizeof(text) - 2, "%.*g", w->precision, d);
    if (n < 0 || (size_t)n >= sizeof(text) - 2)
        n = 0;
    if (!strchr(text, '.') && !strchr(text, 'e')) {
        memcpy(text + n, ".0", 3);
        n += 2;
    }
    char *start = strchr(text, 'e');
    if (start) { /* "1e+20" -> "1e20", "1e-05" -> "1e-5" */
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            n -= (int)(end - start);
            memmove(start, end, strlen(end) + 1);
        }
    }
    put(w, text, (size_t)n);
}

/* Printable ASCII without '"' and '\\' is written as it is; anything else
 * goes through jansson, which escapes it and refuses invalid UTF-8. */
static void put_string(writer *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
    if (!*p) {
        put(w, "\"", 1);
        put(w, s, (size_t)(p - (const unsigned char *)s));
        put(w, "\"", 1);
        return;
    }
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!text) {
        if (!w->rc)
            w->rc = crun_error_set(w->err, CRUN_EDATA, "cannot save the table as JSON: a "
                                   "string is not valid UTF-8");
        return;
    }
    puts_w(w, text);
    free(text);
}

static void put_cell(writer *w, size_t c, size_t r)
{
    const crun_table *t = w->t;
    if (crun_table_is_missing(t, c, r)) {
        put(w, "null", 4);
        return;
    }
    char num[32];
    switch (crun_table_column_type(t, c)) {
    case CRUN_COLUMN_INT64:
        snprintf(num, sizeof(num), "%lld", (long long)crun_table_int64(t, c, r));
        puts_w(w, num);
        return;
    case CRUN_COLUMN_DOUBLE: {
        double d = crun_table_double(t, c, r);
        if (isfinite(d)) /* JSON has no NaN or infinity: they read as missing */
            put_real(w, d);
        else
            put(w, "null", 4);
        return;
    }
    case CRUN_COLUMN_STRING:
        put_string(w, crun_table_string(t, c, r));
        return;
    }
    put(w, "null", 4);
}

/* "[" items "]" at depth; an empty array is "[]". */
static void put_row(writer *w, size_t r, int depth)
{
    size_t cols = crun_table_columns(w->t);
    put(w, "[", 1);
    for (size_t c = 0; c < cols && !w->rc; c++) {
        if (c)
            separator(w, depth + 1);
        else
            newline(w, depth + 1);
        put_cell(w, c, r);
    }
    if (cols)
        newline(w, depth);
    put(w, "]", 1);
}

/* The precision crun_json_dumps gives the tree: the most any real needs. */
static int table_precision(const crun_table *t)
{
    int best = 15;
    for (size_t c = 0; c < crun_table_columns(t); c++) {
        if (crun_table_column_type(t, c) != CRUN_COLUMN_DOUBLE)
            continue;
        for (size_t r = 0; r < crun_table_rows(t) && best < 17; r++) {
            if (crun_table_is_missing(t, c, r))
                continue;
            double d = crun_table_double(t, c, r);
            if (isfinite(d)) {
                int digits = crun_real_digits(d);
                best = digits > best ? digits : best;
            }
        }
    }
    return best;
}

static int write_table(void *user, int fd, crun_error *err)
{
    writer *w = user;
    w->fd = fd;
    w->err = err;
    size_t cols = crun_table_columns(w->t), rows = crun_table_rows(w->t);
    put(w, "{", 1);
    newline(w, 1);
    put(w, "\"columns\": [", 12);
    for (size_t c = 0; c < cols && !w->rc; c++) {
        if (c)
            separator(w, 2);
        else
            newline(w, 2);
        put_string(w, crun_table_column_name(w->t, c));
    }
    if (cols)
        newline(w, 1);
    put(w, "]", 1);
    separator(w, 1);
    put(w, "\"rows\": [", 9);
    for (size_t r = 0; r < rows && !w->rc; r++) {
        if (r)
            separator(w, 2);
        else
            newline(w, 2);
        put_row(w, r, 2);
    }
    if (rows)
        newline(w, 1);
    put(w, "]", 1);
    newline(w, 0);
    put(w, "}\n", 2);
    flush_out(w);
    return w->rc;
}

int json_table_save(crun_file_dataset *file, const char *name, const crun_table *table,
                    int indent, crun_error *err)
{
    writer *w = malloc(sizeof(*w));
    if (!w)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", name);
    w->t = table;
    w->indent = indent;
    w->precision = table_precision(table);
    w->len = 0;
    w->rc = 0;
    int rc = crun_file_dataset_write_with(file, write_table, w, err);
    free(w);
    return rc;
}
