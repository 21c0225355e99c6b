/* tables.c - copy, join, filter and split for the demo's tables.
 *
 * Joins use a hash of the right table's keys (open addressing, chained rows
 * per key) so joining the spaceflights tables is linear.  Rows are copied
 * cell by cell through the public crun_table API; the tables are small
 * enough (tens of thousands of rows) that clarity wins here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tables.h"

static int copy_cell(crun_table *dst, size_t dcol, size_t drow, const crun_table *src,
                     size_t scol, size_t srow)
{
    if (crun_table_is_missing(src, scol, srow))
        return 0;
    switch (crun_table_column_type(src, scol)) {
    case CRUN_COLUMN_INT64:
        return crun_table_set_int64(dst, dcol, drow, crun_table_int64(src, scol, srow));
    case CRUN_COLUMN_DOUBLE:
        return crun_table_set_double(dst, dcol, drow, crun_table_double(src, scol, srow));
    default:
        return crun_table_set_string(dst, dcol, drow, crun_table_string(src, scol, srow));
    }
}

int table_copy_column(crun_table *dst, const crun_table *src, size_t col)
{
    int c = crun_table_add_column(dst, crun_table_column_name(src, col),
                                  crun_table_column_type(src, col));
    if (c < 0)
        return -1;
    size_t rows = crun_table_rows(src);
    for (size_t r = 0; r < rows; r++)
        if (copy_cell(dst, (size_t)c, r, src, col, r) != 0)
            return -1;
    return c;
}

/* --- an int64 -> first row map with a next-row chain --- */
typedef struct key_index {
    int64_t *keys;
    size_t *first;  /* row + 1, 0 = empty slot */
    size_t *next;   /* per row: next row + 1 with the same key */
    size_t cap;
} key_index;

static size_t slot_of(const key_index *ix, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    size_t s = (size_t)(h >> 20) & (ix->cap - 1);
    while (ix->first[s] && ix->keys[s] != key)
        s = (s + 1) & (ix->cap - 1);
    return s;
}

static int index_build(key_index *ix, const crun_table *t, size_t col)
{
    size_t rows = crun_table_rows(t);
    ix->cap = 16;
    while (ix->cap < rows * 2)
        ix->cap *= 2;
    ix->keys = calloc(ix->cap, sizeof(int64_t));
    ix->first = calloc(ix->cap, sizeof(size_t));
    ix->next = calloc(rows + 1, sizeof(size_t));
    if (!ix->keys || !ix->first || !ix->next)
        return -1;
    /* insert backwards so chains list rows in table order */
    for (size_t r = rows; r-- > 0;) {
        if (crun_table_is_missing(t, col, r))
            continue;
        int64_t k = crun_table_int64(t, col, r);
        size_t s = slot_of(ix, k);
        ix->keys[s] = k;
        ix->next[r] = ix->first[s];
        ix->first[s] = r + 1;
    }
    return 0;
}

static void index_free(key_index *ix)
{
    free(ix->keys);
    free(ix->first);
    free(ix->next);
}

static int key_column(const crun_table *t, const char *name, char *why, size_t size)
{
    int c = crun_table_column_index(t, name);
    if (c < 0)
        snprintf(why, size, "no column '%s'", name);
    else if (crun_table_column_type(t, (size_t)c) != CRUN_COLUMN_INT64)
        snprintf(why, size, "column '%s' must hold integers", name), c = -1;
    return c;
}

crun_table *table_join(const crun_table *left, const char *lkey, const crun_table *right,
                       const char *rkey, const char *drop, char *why, size_t why_size)
{
    int lc = key_column(left, lkey, why, why_size), rc = key_column(right, rkey, why, why_size);
    if (lc < 0 || rc < 0)
        return NULL;
    key_index ix = {0};
    size_t lrows = crun_table_rows(left), count = 0;
    size_t *pairs = NULL, cap = 0;
    if (index_build(&ix, right, (size_t)rc) != 0)
        goto oom;
    for (size_t r = 0; r < lrows; r++) {
        if (crun_table_is_missing(left, (size_t)lc, r))
            continue;
        size_t s = slot_of(&ix, crun_table_int64(left, (size_t)lc, r));
        for (size_t m = ix.first[s]; m; m = ix.next[m - 1]) {
            if (count + 1 > cap) {
                cap = cap ? cap * 2 : 1024;
                size_t *p = realloc(pairs, cap * 2 * sizeof(size_t));
                if (!p)
                    goto oom;
                pairs = p;
            }
            pairs[2 * count] = r;
            pairs[2 * count + 1] = m - 1;
            count++;
        }
    }
    crun_table *out = crun_table_new(count);
    if (!out || crun_table_set_rows(out, count) != 0)
        goto oom_table;
    const crun_table *sides[2] = {left, right};
    for (size_t side = 0; side < 2; side++) {
        const crun_table *t = sides[side];
        for (size_t c = 0; c < crun_table_columns(t); c++) {
            if (side == 0 && drop && strcmp(crun_table_column_name(t, c), drop) == 0)
                continue;
            int d = crun_table_add_column(out, crun_table_column_name(t, c),
                                          crun_table_column_type(t, c));
            if (d < 0) {
                snprintf(why, why_size, "column '%s' is on both sides",
                         crun_table_column_name(t, c));
                crun_table_free(out);
                out = NULL;
                goto done;
            }
            for (size_t i = 0; i < count; i++)
                if (copy_cell(out, (size_t)d, i, t, c, pairs[2 * i + side]) != 0)
                    goto oom_table;
        }
    }
done:
    free(pairs);
    index_free(&ix);
    return out;
oom_table:
    crun_table_free(out);
oom:
    snprintf(why, why_size, "out of memory");
    free(pairs);
    index_free(&ix);
    return NULL;
}

static crun_table *select_rows(const crun_table *t, const size_t *rows, size_t n,
                               const size_t *cols, size_t nc, const crun_column_type *as)
{
    crun_table *out = crun_table_new(n);
    if (!out || crun_table_set_rows(out, n) != 0)
        goto fail;
    for (size_t k = 0; k < nc; k++) {
        size_t c = cols[k];
        crun_column_type type = as ? as[k] : crun_table_column_type(t, c);
        int d = crun_table_add_column(out, crun_table_column_name(t, c), type);
        if (d < 0)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            int rc = type == CRUN_COLUMN_DOUBLE && crun_table_column_type(t, c) != type
                         ? crun_table_set_double(out, (size_t)d, i,
                                                 crun_table_double(t, c, rows[i]))
                         : copy_cell(out, (size_t)d, i, t, c, rows[i]);
            if (rc != 0)
                goto fail;
        }
    }
    return out;
fail:
    crun_table_free(out);
    return NULL;
}

crun_table *table_drop_missing(const crun_table *t)
{
    size_t rows = crun_table_rows(t), nc = crun_table_columns(t), n = 0;
    size_t *keep = malloc((rows + 1) * sizeof(size_t));
    size_t *cols = malloc((nc + 1) * sizeof(size_t));
    crun_table *out = NULL;
    if (keep && cols) {
        for (size_t c = 0; c < nc; c++)
            cols[c] = c;
        for (size_t r = 0; r < rows; r++) {
            size_t c = 0;
            while (c < nc && !crun_table_is_missing(t, c, r))
                c++;
            if (c == nc)
                keep[n++] = r;
        }
        out = select_rows(t, keep, n, cols, nc, NULL);
    }
    free(keep);
    free(cols);
    return out;
}

/* floor(a / b) for b > 0, also for negative a */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && a < 0);
}

static bool is_test_row(int64_t id, int64_t per_10000, int64_t offset)
{
    int64_t x = id + offset;
    return floor_div(x * per_10000, 10000) != floor_div((x - 1) * per_10000, 10000);
}

int table_split_rows(const crun_table *t, size_t id_col, int64_t test_per_10000, int64_t offset,
                     const char *const *features, size_t nf, const char *target,
                     crun_table *out[4], char *why, size_t why_size)
{
    size_t rows = crun_table_rows(t);
    size_t *cols = malloc((nf + 1) * sizeof(size_t));
    crun_column_type *as = malloc((nf + 1) * sizeof(crun_column_type));
    size_t *train = malloc((rows + 1) * sizeof(size_t)), *test = malloc((rows + 1) * sizeof(size_t));
    int rc = -1;
    if (!cols || !as || !train || !test) {
        snprintf(why, why_size, "out of memory");
        goto end;
    }
    for (size_t i = 0; i < nf; i++) {
        int c = crun_table_column_index(t, features[i]);
        if (c < 0 || crun_table_column_type(t, (size_t)c) == CRUN_COLUMN_STRING) {
            snprintf(why, why_size, "feature '%s' is %s", features[i],
                     c < 0 ? "not a column of the table" : "not numeric");
            goto end;
        }
        cols[i] = (size_t)c;
        as[i] = CRUN_COLUMN_DOUBLE;
    }
    int tc = crun_table_column_index(t, target);
    if (tc < 0) {
        snprintf(why, why_size, "the target '%s' is not a column of the table", target);
        goto end;
    }
    size_t ntrain = 0, ntest = 0;
    for (size_t r = 0; r < rows; r++) {
        if (is_test_row(crun_table_int64(t, id_col, r), test_per_10000, offset))
            test[ntest++] = r;
        else
            train[ntrain++] = r;
    }
    size_t tcol = (size_t)tc;
    crun_column_type dbl = CRUN_COLUMN_DOUBLE;
    out[0] = select_rows(t, train, ntrain, cols, nf, as);
    out[1] = select_rows(t, test, ntest, cols, nf, as);
    out[2] = select_rows(t, train, ntrain, &tcol, 1, &dbl);
    out[3] = select_rows(t, test, ntest, &tcol, 1, &dbl);
    rc = 0;
    for (size_t i = 0; i < 4; i++)
        if (!out[i])
            rc = -1;
    if (rc) {
        for (size_t i = 0; i < 4; i++)
            crun_table_free(out[i]);
        snprintf(why, why_size, "out of memory");
    }
end:
    free(cols);
    free(as);
    free(train);
    free(test);
    return rc;
}
