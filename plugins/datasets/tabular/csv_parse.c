/* csv_parse.c - reading a CSV file into a crun table (see csv_parse.h).
 *
 * One pass over the file, read() in large chunks and taken a line at a time
 * so that every complaint can name its line.  Lines without quotes are split
 * here; the rest (quotes, fields spanning lines) go through libcsv, which
 * keeps its state between calls; both end in the same callbacks.  Each cell
 * is converted as it arrives into its column's raw store: 8-byte numbers
 * while the column still reads as int64 or double (int64 widens to double
 * in place), NUL-terminated text once it is a string column, so a numeric
 * column costs what it will cost in the table, not its text.  A column that
 * turns to strings after numbers were stored needs its original text back:
 * a second pass reads the file again for those columns only.  At the end
 * the raw columns are copied into the table one at a time, each freed as
 * soon as it is copied.  Names are matched through arrays sorted by name
 * (repeated header names, load_args.columns), never pair by pair, so that
 * a file of many columns costs n log n to name, not n^2.  Options:
 * csv_options.c; writing: csv_write.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>

#include "csv_number.h"
#include "csv_parse.h"

/* libcsv's state for "between rows" (ROW_NOT_BEGUN in libcsv.c): the struct
 * is public, the constant is not. */
enum { LIBCSV_ROW_NOT_BEGUN = 0 };

enum { READ_CHUNK = 1 << 20 };

typedef union raw_number {
    int64_t i;
    double d;
} raw_number;

typedef struct raw_column {
    crun_column_type kind;   /* what the cells are stored as so far */
    crun_column_type forced; /* from load_args.columns, or 0 to infer */
    bool has_cells;          /* a numeric kind has stored a cell ("" counts) */
    bool reread;             /* became string after numbers: the second pass reads it */
    raw_number *values;      /* numeric kinds: one slot per row */
    size_t values_cap;
    char *text;              /* string kind: present cells, NUL-terminated, in order */
    size_t len, cap;
    uint64_t *missing;       /* bit per row; NULL until a cell is missing */
    size_t missing_words;
} raw_column;

/* A name and where it came from (a column, an entry of load_args.columns),
 * in arrays sorted by name and then by position: among equal names the
 * first in the file or in the options comes first. */
typedef struct named {
    const char *name;
    size_t index;
} named;

typedef struct reader {
    struct csv_parser csv;
    const csv_read_options *opts;
    named *specs;        /* opts->columns, sorted; NULL when there are none */
    const char *path;
    crun_error *err;
    int rc;
    raw_column *cols;
    char **names;
    size_t ncols, cap;
    size_t field;        /* fields seen so far in the current row */
    size_t rows;         /* data rows stored */
    size_t line;         /* the line being fed, from 1 */
    size_t row_line;     /* the line where the current row began */
    int last_term;       /* the character that ended the last row */
    bool have_shape;     /* the first row has fixed the column count */
    bool second_pass;    /* re-reading the columns marked reread */
    bool row_seen;       /* this pass has met a row that is not blank */
    bool header_pending; /* second pass: the header row is still to come */
} reader;

/* ------------------------------------------------------------------------
 * the raw store
 * ------------------------------------------------------------------------ */

static void raw_column_free(raw_column *col)
{
    free(col->values);
    free(col->text);
    free(col->missing);
    *col = (raw_column){.kind = col->kind, .forced = col->forced, .reread = col->reread};
}

static void reader_free(reader *r)
{
    for (size_t c = 0; c < r->cap; c++) {
        raw_column_free(&r->cols[c]);
        free(r->names[c]);
    }
    free(r->cols);
    free(r->names);
    free(r->specs);
    csv_free(&r->csv);
}

/* Record the first error, at line, as "path:line: message". */
static void fail(reader *r, int code, size_t line, const char *fmt, ...) CRUN_PRINTF(4, 5);

static void fail(reader *r, int code, size_t line, const char *fmt, ...)
{
    if (r->rc)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    r->rc = crun_error_set(r->err, code, "%s:%zu: %s", r->path, line, what);
}

static void out_of_memory(reader *r)
{
    if (!r->rc)
        r->rc = crun_error_set(r->err, CRUN_ENOMEM, "%s: out of memory", r->path);
}

static int mark_missing(raw_column *col, size_t row)
{
    size_t word = row / 64;
    if (word >= col->missing_words) {
        size_t words = col->missing_words ? col->missing_words * 2 : 64;
        while (words <= word)
            words *= 2;
        uint64_t *map = realloc(col->missing, words * sizeof(uint64_t));
        if (!map)
            return CRUN_ENOMEM;
        memset(map + col->missing_words, 0, (words - col->missing_words) * sizeof(uint64_t));
        col->missing = map;
        col->missing_words = words;
    }
    col->missing[word] |= UINT64_C(1) << (row % 64);
    return 0;
}

static bool is_missing(const raw_column *col, size_t row)
{
    size_t word = row / 64;
    return word < col->missing_words && (col->missing[word] >> (row % 64)) & 1;
}

static int append_text(raw_column *col, const char *s, size_t len)
{
    if (col->len + len + 1 > col->cap) {
        size_t cap = col->cap ? col->cap : 4096;
        while (cap < col->len + len + 1)
            cap *= 2;
        char *text = realloc(col->text, cap);
        if (!text)
            return CRUN_ENOMEM;
        col->text = text;
        col->cap = cap;
    }
    memcpy(col->text + col->len, s, len);
    col->text[col->len + len] = '\0';
    col->len += len + 1;
    return 0;
}

/* The slot for row, growing the store by doubling. */
static raw_number *number_slot(raw_column *col, size_t row)
{
    if (row >= col->values_cap) {
        size_t cap = col->values_cap ? col->values_cap * 2 : 1024;
        while (cap <= row)
            cap *= 2;
        raw_number *values = realloc(col->values, cap * sizeof(*values));
        if (!values)
            return NULL;
        col->values = values;
        col->values_cap = cap;
    }
    col->has_cells = true;
    return &col->values[row];
}

/* An int64 column met a double: widen the stored cells in place (the
 * nearest double, as strtod would give for their text). */
static void widen_to_double(raw_column *col, size_t rows)
{
    for (size_t row = 0; row < rows && row < col->values_cap; row++)
        if (!is_missing(col, row))
            col->values[row].d = (double)col->values[row].i;
    col->kind = CRUN_COLUMN_DOUBLE;
}

/* A numeric column met text.  Cells stored as numbers have lost their
 * text ("1.50" is 1.5), so such a column is read again in a second pass;
 * one that held only missing cells just starts collecting text. */
static void turn_to_string(raw_column *col)
{
    col->kind = CRUN_COLUMN_STRING;
    col->reread = col->has_cells;
    free(col->values);
    col->values = NULL;
    col->values_cap = 0;
}

/* ------------------------------------------------------------------------
 * cells
 * ------------------------------------------------------------------------ */

static inline bool is_na(const reader *r, const char *s, size_t len)
{
    if (r->opts->nna == 0)
        return false;
    for (size_t i = 0; i < r->opts->nna; i++)
        if (strlen(r->opts->na_values[i]) == len && memcmp(r->opts->na_values[i], s, len) == 0)
            return true;
    return false;
}

static void refuse_cell(reader *r, const raw_column *col, const char *s)
{
    const char *type = col->forced == CRUN_COLUMN_INT64 ? "an int64" : "a double";
    fail(r, CRUN_EDATA, r->line, "column '%.100s': '%.40s' is not %s", r->names[col - r->cols],
         s, type);
}

/* Store s in a numeric column; false when it is not a number of the
 * column's kind (or, inferring, of any numeric kind). */
static bool store_number(reader *r, raw_column *col, const char *s, size_t len)
{
    raw_number *slot = number_slot(col, r->rows);
    if (!slot) {
        out_of_memory(r);
        return true;
    }
    /* A quoted "" is missing in a numeric column. */
    if (len == 0) {
        if (mark_missing(col, r->rows) != 0)
            out_of_memory(r);
        return true;
    }
    if (col->kind == CRUN_COLUMN_INT64 && csv_number_int64(s, len, &slot->i))
        return true;
    if (col->forced == CRUN_COLUMN_INT64)
        return false;
    double d;
    if (!csv_number_double(s, len, &d))
        return false;
    if (col->kind == CRUN_COLUMN_INT64)
        widen_to_double(col, r->rows);
    slot->d = d;
    return true;
}

static void store_cell(reader *r, raw_column *col, const char *s, size_t len)
{
    /* libcsv hands an empty unquoted field over as NULL (CSV_EMPTY_IS_NULL);
     * a quoted "" arrives as an empty string. */
    if (!s || is_na(r, s, len)) {
        if (mark_missing(col, r->rows) != 0)
            out_of_memory(r);
        return;
    }
    if (col->kind != CRUN_COLUMN_STRING) {
        if (store_number(r, col, s, len))
            return;
        if (col->forced) {
            refuse_cell(r, col, s);
            return;
        }
        turn_to_string(col);
    }
    if (!col->reread && append_text(col, s, len) != 0)
        out_of_memory(r);
}

/* The second pass only collects the text of the columns marked reread. */
static void restore_cell(reader *r, raw_column *col, const char *s, size_t len)
{
    int rc = !s || is_na(r, s, len) ? mark_missing(col, r->rows) : append_text(col, s, len);
    if (rc != 0)
        out_of_memory(r);
}

/* ------------------------------------------------------------------------
 * rows
 * ------------------------------------------------------------------------ */

static int by_name_then_index(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    return d ? d : (x->index > y->index) - (x->index < y->index);
}

/* The first of the n sorted entries called name, or NULL. */
static const named *find_named(const named *sorted, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(sorted[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(sorted[lo].name, name) == 0 ? &sorted[lo] : NULL;
}

/* The columns' names, sorted; NULL when out of memory. */
static named *sort_column_names(const reader *r)
{
    named *sorted = malloc(r->ncols * sizeof(*sorted));
    for (size_t c = 0; sorted && c < r->ncols; c++)
        sorted[c] = (named){r->names[c], c};
    if (sorted)
        qsort(sorted, r->ncols, sizeof(*sorted), by_name_then_index);
    return sorted;
}

/* load_args.columns' names, sorted; NULL when out of memory. */
static named *sort_specs(const csv_read_options *opts)
{
    named *sorted = malloc(opts->ncolumns * sizeof(*sorted));
    for (size_t i = 0; sorted && i < opts->ncolumns; i++)
        sorted[i] = (named){opts->columns[i].name, i};
    if (sorted)
        qsort(sorted, opts->ncolumns, sizeof(*sorted), by_name_then_index);
    return sorted;
}

static const csv_column_spec *forced_spec(const reader *r, const char *name)
{
    const named *spec = r->specs ? find_named(r->specs, r->opts->ncolumns, name) : NULL;
    return spec ? &r->opts->columns[spec->index] : NULL;
}

static void set_kind(raw_column *col, const csv_column_spec *spec)
{
    col->forced = spec ? spec->type : (crun_column_type)0;
    /* Inference starts from int64, the narrowest, and widens. */
    col->kind = spec ? spec->type : CRUN_COLUMN_INT64;
}

/* Make column c (first row only).  Without a header its name is its index,
 * known now, so load_args.columns applies from the first cell on. */
static int add_column(reader *r, size_t c)
{
    if (c >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        raw_column *cols = realloc(r->cols, cap * sizeof(*cols));
        if (cols)
            r->cols = cols;
        char **names = cols ? realloc(r->names, cap * sizeof(*names)) : NULL;
        if (!names)
            return CRUN_ENOMEM;
        r->names = names;
        memset(cols + r->cap, 0, (cap - r->cap) * sizeof(*cols));
        memset(names + r->cap, 0, (cap - r->cap) * sizeof(*names));
        r->cap = cap;
    }
    if (r->opts->header)
        return 0;
    char num[24];
    snprintf(num, sizeof(num), "%zu", c);
    if (!(r->names[c] = strdup(num)))
        return CRUN_ENOMEM;
    set_kind(&r->cols[c], forced_spec(r, num));
    return 0;
}

/* A header cell: a name, with pandas' "Unnamed: N" for an empty one. */
static void store_name(reader *r, size_t c, const char *s, size_t len)
{
    char unnamed[32];
    if (!s || len == 0) {
        snprintf(unnamed, sizeof(unnamed), "Unnamed: %zu", c);
        s = unnamed;
        len = strlen(unnamed);
    }
    if (!(r->names[c] = strndup(s, len)))
        out_of_memory(r);
}

static void on_field(void *s, size_t len, void *data)
{
    reader *r = data;
    size_t c = r->field++;
    if (r->rc || r->header_pending)
        return;
    if (!r->have_shape) {
        if (add_column(r, c) != 0) {
            out_of_memory(r);
            return;
        }
        if (r->opts->header) {
            store_name(r, c, s, len);
            return;
        }
    } else if (c >= r->ncols) {
        return; /* counted; on_row refuses the row */
    }
    if (!r->second_pass)
        store_cell(r, &r->cols[c], s, len);
    else if (r->cols[c].reread)
        restore_cell(r, &r->cols[c], s, len);
}

/* The header row is read: check the names and apply load_args.columns.
 * The column named is the first, in the file, to repeat an earlier name:
 * the least position of a name's second and later columns, which follow
 * their first in the sorted names. */
static void name_columns(reader *r, const named *sorted)
{
    size_t repeat = r->ncols;
    for (size_t i = 1; i < r->ncols; i++)
        if (sorted[i].index < repeat && strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            repeat = sorted[i].index;
    if (repeat < r->ncols) {
        fail(r, CRUN_EDATA, r->row_line, "column '%.100s' appears twice in the header",
             r->names[repeat]);
        return;
    }
    for (size_t c = 0; c < r->ncols; c++)
        set_kind(&r->cols[c], forced_spec(r, r->names[c]));
}

/* The first row fixes the column count; every forced column must exist. */
static void first_row(reader *r, size_t n)
{
    r->ncols = n;
    r->have_shape = true;
    named *sorted = sort_column_names(r);
    if (!sorted) {
        out_of_memory(r);
        return;
    }
    if (r->opts->header)
        name_columns(r, sorted);
    for (size_t i = 0; i < r->opts->ncolumns && !r->rc; i++)
        if (!find_named(sorted, n, r->opts->columns[i].name))
            fail(r, CRUN_EDATA, r->row_line,
                 "load_args.columns names column '%.100s', which the file does not have",
                 r->opts->columns[i].name);
    free(sorted);
}

/* libcsv reports every line break (CSV_REPALL_NL) so that a one-column
 * table keeps its missing cells, which are blank lines.  A blank row is
 * therefore a row only in a one-column file; elsewhere it is skipped, and
 * the '\n' of a "\r\n" pair is never a row of its own.  Blank lines
 * before the first row are skipped in both passes (the second knows the
 * shape from the start: it asks whether this pass has met a row). */
static bool blank_row_counts(reader *r, int c)
{
    bool crlf_tail = c == '\n' && r->last_term == '\r';
    r->last_term = c;
    if (crlf_tail || !r->row_seen || r->header_pending || r->ncols != 1)
        return false;
    if (mark_missing(&r->cols[0], r->rows) != 0) {
        out_of_memory(r);
        return false;
    }
    return true;
}

static void on_row(int c, void *data)
{
    reader *r = data;
    size_t n = r->field;
    r->field = 0;
    if (r->rc)
        return;
    if (n == 0) {
        r->rows += blank_row_counts(r, c);
        return;
    }
    r->last_term = c;
    r->row_seen = true;
    if (r->header_pending) {
        r->header_pending = false;
        return;
    }
    if (!r->have_shape) {
        first_row(r, n);
        if (r->opts->header)
            return;
    } else if (n != r->ncols) {
        fail(r, CRUN_EDATA, r->row_line, "row has %zu fields, the %s has %zu", n,
             r->opts->header ? "header" : "first row", r->ncols);
        return;
    }
    r->rows++;
}

/* ------------------------------------------------------------------------
 * the file
 * ------------------------------------------------------------------------ */

/* libcsv stopped early: strict mode met a stray quote, or memory ran out. */
static void parse_error(reader *r)
{
    int status = csv_error(&r->csv);
    if (status == CSV_EPARSE)
        fail(r, CRUN_EDATA, r->line,
             "malformed quoting: a quote inside an unquoted field or text after a closing quote");
    else if (status == CSV_ENOMEM)
        out_of_memory(r);
    else
        fail(r, CRUN_EDATA, r->line, "%s", csv_strerror(status));
}

/* A complete line holding no quote, and no carriage return but one just
 * before its '\n', means the same split at each delimiter by hand as it
 * does through libcsv (with our options: no trimming, empty fields NULL,
 * every line break reported).  Most lines of most files are such lines,
 * and splitting them here is several times faster than libcsv's
 * byte-at-a-time state machine. */
static bool is_plain_line(const char *line, size_t n)
{
    const char *cr = memchr(line, '\r', n);
    return !memchr(line, '"', n) && (!cr || cr == line + n - 2);
}

static void split_line(reader *r, char *line, size_t n)
{
    char *end = line + n - 1; /* the '\n' */
    bool crlf = end > line && end[-1] == '\r';
    end -= crlf;
    for (char *field = line; end > line;) {
        char *p = memchr(field, r->opts->delimiter, (size_t)(end - field));
        p = p ? p : end;
        *p = '\0'; /* the buffer is ours: cells get their NUL in place */
        on_field(p == field ? NULL : field, (size_t)(p - field), r);
        if (p == end)
            break;
        field = p + 1;
    }
    on_row(crlf ? '\r' : '\n', r);
    if (crlf)
        on_row('\n', r);
}

/* Feed buf one line at a time, so that r->line is the line every callback
 * is about and r->row_line the line its row began on.  Lines inside a
 * quoted field, lines with quotes and a last line cut by the chunk go
 * through libcsv, which keeps its state across calls. */
static int feed(reader *r, char *buf, size_t len)
{
    while (len > 0 && !r->rc) {
        char *nl = memchr(buf, '\n', len);
        size_t n = nl ? (size_t)(nl - buf) + 1 : len;
        bool between_rows = r->csv.pstate == LIBCSV_ROW_NOT_BEGUN;
        if (between_rows)
            r->row_line = r->line;
        if (nl && between_rows && is_plain_line(buf, n))
            split_line(r, buf, n);
        else if (csv_parse(&r->csv, buf, n, on_field, on_row, r) != n)
            parse_error(r);
        r->line += nl != NULL;
        buf += n;
        len -= n;
    }
    return r->rc;
}

static int io_error(reader *r)
{
    int code = errno == ENOENT ? CRUN_ENOENT : errno == ENOMEM ? CRUN_ENOMEM : CRUN_EIO;
    return crun_error_set(r->err, code, "%s: %s", r->path, strerror(errno));
}

/* The end of the file: flush the last row, which may lack its line break. */
static int finish(reader *r)
{
    if (csv_fini(&r->csv, on_field, on_row, r) != 0)
        fail(r, CRUN_EDATA, r->row_line, "unterminated quoted field at the end of the file");
    return r->rc;
}

static int never_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* (Re)start libcsv at the top of the file. */
static int start_pass(reader *r, int fd)
{
    csv_free(&r->csv);
    r->line = r->row_line = 1;
    r->field = 0;
    r->last_term = 0;
    r->row_seen = false;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return io_error(r);
    if (csv_init(&r->csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL |
                              CSV_REPALL_NL) != 0)
        return crun_error_set(r->err, CRUN_ENOMEM, "%s: out of memory", r->path);
    csv_set_delim(&r->csv, (unsigned char)r->opts->delimiter);
    /* libcsv trims blanks around unquoted fields by default; a cell is
     * what the file says, as in pandas. */
    csv_set_space_func(&r->csv, never_space);
    csv_set_blk_size(&r->csv, 4096);
    return 0;
}

/* Cells are C strings, so a NUL byte cannot be one's content: such a file
 * is not text.  One scan per chunk costs less than one per cell. */
static int refuse_nul(reader *r, const char *buf, size_t len)
{
    const char *nul = memchr(buf, '\0', len);
    if (!nul)
        return 0;
    size_t line = r->line;
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(nul - p))); p++)
        line++;
    fail(r, CRUN_EDATA, line, "a NUL byte: this is not a text CSV file");
    return r->rc;
}

static int read_pass(reader *r, int fd)
{
    int rc = start_pass(r, fd);
    char *buf = rc == 0 ? malloc(READ_CHUNK) : NULL;
    if (rc == 0 && !buf)
        rc = crun_error_set(r->err, CRUN_ENOMEM, "%s: out of memory", r->path);
    for (bool first = true; rc == 0; first = false) {
        ssize_t got = read(fd, buf, READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = io_error(r);
        if (got <= 0)
            break;
        /* A UTF-8 byte order mark (Excel's exports) is not part of a name. */
        size_t skip = first && got >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        rc = refuse_nul(r, buf, (size_t)got);
        if (rc == 0)
            rc = feed(r, buf + skip, (size_t)got - skip);
    }
    free(buf);
    return rc ? rc : finish(r);
}

/* Read the file again for the columns that turned to strings late. */
static int reread_pass(reader *r, int fd)
{
    bool any = false;
    for (size_t c = 0; c < r->ncols; c++) {
        if (!r->cols[c].reread)
            continue;
        any = true;
        free(r->cols[c].missing);
        r->cols[c].missing = NULL;
        r->cols[c].missing_words = 0;
    }
    if (!any)
        return 0;
    size_t rows = r->rows;
    r->rows = 0;
    r->second_pass = true;
    r->header_pending = r->opts->header;
    int rc = read_pass(r, fd);
    if (rc == 0 && r->rows != rows)
        rc = crun_error_set(r->err, CRUN_EIO, "%s: the file changed while it was read", r->path);
    return rc;
}

/* ------------------------------------------------------------------------
 * the table
 * ------------------------------------------------------------------------ */

static int fill_numbers(const raw_column *col, crun_table *t, size_t idx, size_t rows)
{
    int rc = 0;
    for (size_t row = 0; row < rows && row < col->values_cap && rc == 0; row++) {
        if (is_missing(col, row))
            continue;
        if (col->kind == CRUN_COLUMN_INT64)
            rc = crun_table_set_int64(t, idx, row, col->values[row].i);
        else
            rc = crun_table_set_double(t, idx, row, col->values[row].d);
    }
    return rc;
}

static int fill_strings(const raw_column *col, crun_table *t, size_t idx, size_t rows)
{
    const char *p = col->text;
    int rc = 0;
    for (size_t row = 0; row < rows && rc == 0; row++) {
        if (is_missing(col, row))
            continue;
        rc = crun_table_set_string(t, idx, row, p);
        p += strlen(p) + 1;
    }
    return rc;
}

static int build_table(reader *r, crun_table **out)
{
    crun_table *t = crun_table_new(r->rows);
    if (!t || crun_table_set_rows(t, r->rows) != 0) {
        crun_table_free(t);
        return crun_error_set(r->err, CRUN_ENOMEM, "%s: out of memory", r->path);
    }
    for (size_t c = 0; c < r->ncols; c++) {
        raw_column *col = &r->cols[c];
        int idx = crun_table_add_column(t, r->names[c], col->kind);
        int rc = idx;
        if (idx >= 0 && col->kind == CRUN_COLUMN_STRING)
            rc = fill_strings(col, t, (size_t)idx, r->rows);
        else if (idx >= 0)
            rc = fill_numbers(col, t, (size_t)idx, r->rows);
        /* Give each column's raw store back as soon as it is copied. */
        raw_column_free(col);
        if (rc != 0) {
            crun_table_free(t);
            return crun_error_set(r->err, rc, "%s: column '%s': out of memory", r->path,
                                  r->names[c]);
        }
    }
    *out = t;
    return 0;
}

int csv_table_read(const char *path, const csv_read_options *opts, crun_table **out,
                   crun_error *err)
{
    reader r = {.opts = opts, .path = path, .err = err};
    *out = NULL;
    if (opts->ncolumns && !(r.specs = sort_specs(opts)))
        return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = io_error(&r);
        free(r.specs);
        return rc;
    }
    int rc = read_pass(&r, fd);
    if (rc == 0)
        rc = reread_pass(&r, fd);
    close(fd);
    if (rc == 0)
        rc = build_table(&r, out);
    reader_free(&r);
    return rc;
}
