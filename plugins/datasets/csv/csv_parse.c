/* csv_parse.c - reading a CSV file into a crun table (see csv_parse.h).
 *
 * Reading is one pass of libcsv over the file, read() in large chunks and
 * fed one line at a time so that every complaint can name its line.  Each
 * field is appended to its column's raw arena (NUL-terminated text, with a
 * bitmap for missing cells) and classified on the way in (could it be an
 * int64? a double?), so no cell is scanned twice for inference.  Columns
 * are then converted one at a time into the table, and each arena is freed
 * as soon as its column is done: peak memory is about the raw text plus one
 * converted column, not the text plus the whole table.  Options parsing is
 * in csv_options.c, writing in csv_write.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <csv.h>

#include "csv_parse.h"

/* libcsv's state for "between rows" (ROW_NOT_BEGUN in libcsv.c): the struct
 * is public, the constant is not. */
enum { LIBCSV_ROW_NOT_BEGUN = 0 };

enum { READ_CHUNK = 1 << 20 };

/* What a cell rules out for its column. */
enum { RAW_NOT_INT = 1u << 0, RAW_NOT_NUMBER = 1u << 1 };

/* ------------------------------------------------------------------------
 * numbers
 * ------------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Does the all-digit run s[0..len) (after an optional sign) fit an int64? */
static bool int_fits(const char *s, size_t len, bool negative)
{
    while (len > 1 && *s == '0') {
        s++;
        len--;
    }
    if (len != 19)
        return len < 19;
    return memcmp(s, negative ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

static bool is_special_double(const char *s, size_t len)
{
    if (len && (*s == '-' || *s == '+')) {
        s++;
        len--;
    }
    return (len == 3 && (strncasecmp(s, "inf", 3) == 0 || strncasecmp(s, "nan", 3) == 0)) ||
           (len == 8 && strncasecmp(s, "infinity", 8) == 0);
}

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit(s[i]))
        i++;
    return i;
}

/* What s rules out.  The number syntax is checked in full here, so that the
 * conversion later cannot fail: [sign] digits [. digits] [e [sign] digits],
 * or inf/infinity/nan.  An empty cell (a quoted "") rules out nothing,
 * because numeric columns read it as missing. */
static unsigned classify(const char *s, size_t len)
{
    size_t i = len && (s[0] == '-' || s[0] == '+');
    size_t start = i, end = skip_digits(s, i, len);
    if (end == len && end > start)
        return int_fits(s + start, len - start, s[0] == '-') ? 0 : RAW_NOT_INT;
    if (len == 0)
        return 0;
    size_t digits = end - start;
    if (end < len && s[end] == '.') {
        size_t frac = end + 1;
        end = skip_digits(s, frac, len);
        digits += end - frac;
    }
    if (digits == 0)
        return is_special_double(s, len) ? RAW_NOT_INT : RAW_NOT_INT | RAW_NOT_NUMBER;
    if (end < len && (s[end] == 'e' || s[end] == 'E')) {
        size_t exp = end + 1 + (end + 1 < len && (s[end + 1] == '-' || s[end + 1] == '+'));
        end = skip_digits(s, exp, len);
        if (end == exp)
            return RAW_NOT_INT | RAW_NOT_NUMBER;
    }
    return end == len ? RAW_NOT_INT : RAW_NOT_INT | RAW_NOT_NUMBER;
}

/* s was classified as an int64; *end is set past its last digit. */
static int64_t parse_int(const char *s, const char **end)
{
    bool negative = *s == '-';
    s += *s == '-' || *s == '+';
    uint64_t u = 0;
    while (is_digit(*s))
        u = u * 10 + (uint64_t)(*s++ - '0');
    *end = s;
    return negative ? (int64_t)(0 - u) : (int64_t)u;
}

static const double exact_powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Clinger's fast path: digits up to 2^53 and a power of ten up to 1e22 make
 * one correctly rounded multiplication or division, hence exactly strtod's
 * result, several times faster.  Returns false to leave it to strtod. */
static bool fast_double(const char *s, double *out, const char **end)
{
    bool negative = *s == '-';
    s += *s == '-' || *s == '+';
    uint64_t m = 0;
    int digits = 0, scale = 0;
    for (; is_digit(*s); s++, digits++)
        m = m * 10 + (uint64_t)(*s - '0');
    if (*s == '.')
        for (s++; is_digit(*s); s++, digits++, scale--)
            m = m * 10 + (uint64_t)(*s - '0');
    if (*s == 'e' || *s == 'E') {
        bool exp_negative = s[1] == '-';
        int exp = 0;
        for (s += 1 + (s[1] == '-' || s[1] == '+'); is_digit(*s); s++)
            exp = exp < 1000 ? exp * 10 + (*s - '0') : exp;
        scale += exp_negative ? -exp : exp;
    }
    /* x87 arithmetic (FLT_EVAL_METHOD 2) would round twice. */
    if (FLT_EVAL_METHOD != 0 || digits == 0 || digits > 19 || m > (UINT64_C(1) << 53) || scale < -22 || scale > 22)
        return false;
    double d = scale < 0 ? (double)m / exact_powers[-scale] : (double)m * exact_powers[scale];
    *out = negative ? -d : d;
    *end = s;
    return true;
}

/* s was classified as a number; *end is set past it. */
static double parse_double(const char *s, const char **end)
{
    double d;
    if (fast_double(s, &d, end))
        return d;
    /* classify() checked the syntax, so strtod reads all of it (overflow
     * gives +-HUGE_VAL, as pandas gives inf). */
    char *stop = NULL;
    d = strtod(s, &stop);
    *end = stop;
    return d;
}

/* ------------------------------------------------------------------------
 * reading: libcsv callbacks fill raw columns
 * ------------------------------------------------------------------------ */

typedef struct raw_column {
    char *text;            /* present cells, each NUL-terminated, in row order */
    size_t len, cap;
    uint64_t *missing;     /* bit per row; NULL until a cell is missing */
    size_t missing_words;
    unsigned ruled_out;    /* RAW_* over all cells */
    crun_column_type type; /* forced by load_args.columns, or 0 to infer */
} raw_column;

typedef struct reader {
    struct csv_parser csv;
    const csv_read_options *opts;
    const char *path;
    crun_error *err;
    int rc;
    raw_column *cols;
    char **names;
    size_t ncols, cap;
    size_t field;    /* fields seen so far in the current row */
    size_t rows;     /* data rows stored */
    size_t line;     /* the line being fed, from 1 */
    size_t row_line; /* the line where the current row began */
    bool have_shape; /* the first row has fixed the column count */
    int last_term;   /* the character that ended the last row */
} reader;

static void raw_column_free(raw_column *col)
{
    free(col->text);
    free(col->missing);
    col->text = NULL;
    col->missing = NULL;
    col->len = col->cap = col->missing_words = 0;
}

static void reader_free(reader *r)
{
    for (size_t c = 0; c < r->cap; c++) {
        raw_column_free(&r->cols[c]);
        free(r->names ? r->names[c] : NULL);
    }
    free(r->cols);
    free(r->names);
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

/* Make room for column index c (first row only). */
static int grow_columns(reader *r, size_t c)
{
    if (c < r->cap)
        return 0;
    size_t cap = r->cap ? r->cap * 2 : 16;
    raw_column *cols = realloc(r->cols, cap * sizeof(*cols));
    if (!cols)
        return CRUN_ENOMEM;
    r->cols = cols;
    memset(cols + r->cap, 0, (cap - r->cap) * sizeof(*cols));
    char **names = realloc(r->names, cap * sizeof(*names));
    if (!names)
        return CRUN_ENOMEM;
    r->names = names;
    memset(names + r->cap, 0, (cap - r->cap) * sizeof(*names));
    r->cap = cap;
    return 0;
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

static bool is_na(const reader *r, const char *s, size_t len)
{
    for (size_t i = 0; i < r->opts->nna; i++)
        if (strlen(r->opts->na_values[i]) == len && memcmp(r->opts->na_values[i], s, len) == 0)
            return true;
    return false;
}

/* A forced numeric column refuses text that is not its type, naming the line. */
static bool fits_forced_type(reader *r, const raw_column *col, const char *s, unsigned out)
{
    if (col->type == CRUN_COLUMN_INT64 && (out & RAW_NOT_INT))
        fail(r, CRUN_EDATA, r->line, "column '%.100s': '%.40s' is not an int64",
             r->names[col - r->cols], s);
    else if (col->type == CRUN_COLUMN_DOUBLE && (out & RAW_NOT_NUMBER))
        fail(r, CRUN_EDATA, r->line, "column '%.100s': '%.40s' is not a double",
             r->names[col - r->cols], s);
    return r->rc == 0;
}

static void store_cell(reader *r, raw_column *col, const char *s, size_t len)
{
    /* libcsv hands an empty unquoted field over as NULL (CSV_EMPTY_IS_NULL);
     * a quoted "" arrives as an empty string and stays one. */
    if (!s || is_na(r, s, len)) {
        if (mark_missing(col, r->rows) != 0)
            out_of_memory(r);
        return;
    }
    if (memchr(s, '\0', len)) {
        fail(r, CRUN_EDATA, r->line, "a field holds a NUL byte");
        return;
    }
    unsigned out = classify(s, len);
    col->ruled_out |= out;
    if (col->type && col->type != CRUN_COLUMN_STRING && !fits_forced_type(r, col, s, out))
        return;
    if (append_text(col, s, len) != 0)
        out_of_memory(r);
}

/* The header row: names, with pandas' "Unnamed: N" for empty ones. */
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
    if (r->rc)
        return;
    if (!r->have_shape) {
        if (grow_columns(r, c) != 0) {
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
    store_cell(r, &r->cols[c], s, len);
}

static const char *find_name(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return names[i];
    return NULL;
}

/* Apply load_args.columns to the header's names. */
static void force_types(reader *r)
{
    for (size_t i = 0; i < r->opts->ncolumns && !r->rc; i++) {
        const csv_column_spec *spec = &r->opts->columns[i];
        size_t c = 0;
        while (c < r->ncols && strcmp(r->names[c], spec->name) != 0)
            c++;
        if (c == r->ncols)
            fail(r, CRUN_EDATA, r->row_line,
                 "load_args.columns names column '%.100s', which the file does not have",
                 spec->name);
        else
            r->cols[c].type = spec->type;
    }
}

/* Without a header, row 0 was stored before load_args.columns could apply:
 * check its cells now. */
static void check_first_row(reader *r)
{
    for (size_t c = 0; c < r->ncols && !r->rc; c++) {
        raw_column *col = &r->cols[c];
        if (col->type == CRUN_COLUMN_INT64 || col->type == CRUN_COLUMN_DOUBLE)
            if (!is_missing(col, 0))
                fits_forced_type(r, col, col->text, classify(col->text, strlen(col->text)));
    }
}

/* The first row fixes the column count (and, with a header, the names). */
static void first_row(reader *r, size_t n)
{
    r->ncols = n;
    r->have_shape = true;
    for (size_t c = 0; c < n && !r->rc; c++) {
        if (!r->opts->header) {
            char num[24];
            snprintf(num, sizeof(num), "%zu", c);
            if (!(r->names[c] = strdup(num)))
                out_of_memory(r);
        } else if (find_name(r->names, c, r->names[c])) {
            fail(r, CRUN_EDATA, r->row_line, "column '%.100s' appears twice in the header",
                 r->names[c]);
        }
    }
    if (!r->rc)
        force_types(r);
    if (!r->rc && !r->opts->header)
        check_first_row(r);
}

/* libcsv reports every line break (CSV_REPALL_NL) so that a one-column
 * table keeps its missing cells, which are blank lines.  A blank row is
 * therefore a row only in a one-column file; elsewhere it is skipped, and
 * the '\n' of a "\r\n" pair is never a row of its own. */
static bool blank_row_counts(reader *r, int c)
{
    bool crlf_tail = c == '\n' && r->last_term == '\r';
    r->last_term = c;
    if (crlf_tail || !r->have_shape || r->ncols != 1)
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

/* Feed buf to libcsv one line at a time, so that r->line is the line every
 * callback is about and r->row_line the line its row began on. */
static int feed(reader *r, const char *buf, size_t len)
{
    while (len > 0 && !r->rc) {
        const char *nl = memchr(buf, '\n', len);
        size_t n = nl ? (size_t)(nl - buf) + 1 : len;
        if (r->csv.pstate == LIBCSV_ROW_NOT_BEGUN)
            r->row_line = r->line;
        if (csv_parse(&r->csv, buf, n, on_field, on_row, r) != n)
            parse_error(r);
        r->line += nl != NULL;
        buf += n;
        len -= n;
    }
    return r->rc;
}

static int read_error(reader *r)
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

static int read_all(reader *r, int fd)
{
    char *buf = malloc(READ_CHUNK);
    bool first = true;
    if (!buf)
        return crun_error_set(r->err, CRUN_ENOMEM, "%s: out of memory", r->path);
    for (;;) {
        ssize_t got = read(fd, buf, READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0)
                r->rc = read_error(r);
            break;
        }
        /* A UTF-8 byte order mark (Excel's exports) is not part of a name. */
        size_t skip = first && got >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        first = false;
        if (feed(r, buf + skip, (size_t)got - skip) != 0)
            break;
    }
    free(buf);
    return r->rc ? r->rc : finish(r);
}

static int never_space(unsigned char c)
{
    (void)c;
    return 0;
}

static int reader_init(reader *r, const char *path, const csv_read_options *opts,
                       crun_error *err)
{
    *r = (reader){.opts = opts, .path = path, .err = err, .line = 1, .row_line = 1};
    if (csv_init(&r->csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL |
                              CSV_REPALL_NL) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", path);
    csv_set_delim(&r->csv, (unsigned char)opts->delimiter);
    /* libcsv trims blanks around unquoted fields by default; a cell is
     * what the file says, as in pandas. */
    csv_set_space_func(&r->csv, never_space);
    csv_set_blk_size(&r->csv, 4096);
    return 0;
}

/* ------------------------------------------------------------------------
 * reading: raw columns become table columns
 * ------------------------------------------------------------------------ */

static crun_column_type final_type(const raw_column *col)
{
    if (col->type)
        return col->type;
    if (col->ruled_out & RAW_NOT_NUMBER)
        return CRUN_COLUMN_STRING;
    return col->ruled_out & RAW_NOT_INT ? CRUN_COLUMN_DOUBLE : CRUN_COLUMN_INT64;
}

/* Walk the column's present cells into table column idx.  Numbers were
 * checked on the way in; an empty one (a quoted "") is missing. */
static int fill_column(const raw_column *col, crun_column_type type, crun_table *t, size_t idx,
                       size_t rows)
{
    const char *p = col->text;
    int rc = 0;
    for (size_t row = 0; row < rows && rc == 0; row++) {
        if (is_missing(col, row))
            continue;
        const char *end = p;
        if (type == CRUN_COLUMN_STRING) {
            rc = crun_table_set_string(t, idx, row, p);
            end = p + strlen(p);
        } else if (*p && type == CRUN_COLUMN_INT64) {
            rc = crun_table_set_int64(t, idx, row, parse_int(p, &end));
        } else if (*p) {
            rc = crun_table_set_double(t, idx, row, parse_double(p, &end));
        }
        p = end + 1;
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
        crun_column_type type = final_type(&r->cols[c]);
        int idx = crun_table_add_column(t, r->names[c], type);
        int rc = idx < 0 ? idx : fill_column(&r->cols[c], type, t, (size_t)idx, r->rows);
        /* Give each column's text back as soon as it is converted. */
        raw_column_free(&r->cols[c]);
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
    reader r;
    *out = NULL;
    int rc = reader_init(&r, path, opts, err);
    if (rc != 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = read_error(&r);
    } else {
        rc = read_all(&r, fd);
        close(fd);
    }
    if (rc == 0)
        rc = build_table(&r, out);
    reader_free(&r);
    return rc;
}
