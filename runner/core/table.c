/* table.c - crun_table: named, typed columns stored column by column.
 *
 * Each column is one plain array of its type (int64_t, double or char *) plus
 * a bitmap of missing cells, so a million-row numeric column costs eight bytes
 * a cell and a bit, with no per-cell struct.  A string column's cells are
 * pointers into the column's arena: a list of large blocks (64 KiB, doubling
 * up to 1 MiB) filled by bump allocation, so a string cell costs its bytes, a
 * NUL and its 8-byte pointer, with no per-cell malloc.  Blocks never move, so
 * a string stays valid while the table lives; they are freed only with the
 * table.  Replacing a string (crun_table_set_string, crun_table_set_missing)
 * or shrinking the rows (crun_table_set_rows) leaves the old bytes in the
 * arena as waste: tables are built once and then read, so this is cheap.
 * Rows grow by doubling the shared capacity; a new cell is missing until set.  Accessors are total: out-of-range or mistyped reads
 * return a zero value instead of crashing, because plugins read user data.
 * Column names are also keys of a hash map (strmap.h) to their index, so
 * that adding a column (which refuses a name already there) and looking one
 * up by name cost the same for the 20,000th column of a wide CSV file as for
 * the first.
 */
#include <stdlib.h>
#include <string.h>

#include "crun/value.h"
#include "core/strmap.h"

/* One arena block: cap bytes of data, of which used are handed out. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

enum { ARENA_FIRST_BLOCK = 64 * 1024, ARENA_MAX_BLOCK = 1024 * 1024 };

typedef struct column {
    char *name;
    crun_column_type type;
    union {
        int64_t *i64;
        double *f64;
        char **str;
        void *any;
    } v;
    uint64_t *missing; /* bit set: the cell is missing */
    arena_block *arena; /* string columns: the block being filled first */
} column;

struct crun_table {
    column *cols;
    size_t ncols, cols_cap;
    size_t rows, capacity;
    strmap names; /* column name (borrowed from its column) -> index */
};

static size_t bitmap_words(size_t bits)
{
    return (bits + 63) / 64;
}

static void bit_set(uint64_t *map, size_t i, bool on)
{
    uint64_t mask = UINT64_C(1) << (i % 64);
    if (on)
        map[i / 64] |= mask;
    else
        map[i / 64] &= ~mask;
}

static size_t cell_size(crun_column_type type)
{
    return type == CRUN_COLUMN_STRING ? sizeof(char *) : sizeof(int64_t);
}

/* Copy len bytes of s and a NUL into col's arena; NULL when out of memory. */
static char *arena_copy(column *col, const char *s, size_t len)
{
    arena_block *head = col->arena;
    if (len >= SIZE_MAX - sizeof(arena_block) - 1)
        return NULL;
    size_t need = len + 1;
    if (!head || head->cap - head->used < need) {
        size_t cap = head ? head->cap * 2 : ARENA_FIRST_BLOCK;
        if (cap > ARENA_MAX_BLOCK)
            cap = ARENA_MAX_BLOCK;
        if (head && need > cap / 4 && head->cap - head->used >= ARENA_FIRST_BLOCK / 4) {
            /* A big string while the current block still has room: give it
             * a block of its own behind the current one, which stays first. */
            arena_block *own = malloc(sizeof(*own) + need);
            if (!own)
                return NULL;
            own->used = own->cap = need;
            own->next = head->next;
            head->next = own;
            memcpy(own->data, s, len);
            own->data[len] = '\0';
            return own->data;
        }
        if (cap < need)
            cap = need;
        arena_block *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = head;
        col->arena = head = b;
    }
    char *p = head->data + head->used;
    head->used += need;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void arena_free(arena_block *b)
{
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
}

crun_table *crun_table_new(size_t capacity)
{
    crun_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->capacity = capacity;
    strmap_init(&t->names);
    return t;
}

static void column_free(column *col)
{
    arena_free(col->arena);
    free(col->v.any);
    free(col->missing);
    free(col->name);
}

void crun_table_free(crun_table *table)
{
    if (!table)
        return;
    for (size_t c = 0; c < table->ncols; c++)
        column_free(&table->cols[c]);
    strmap_free(&table->names);
    free(table->cols);
    free(table);
}

/* Make col's arrays hold cap cells; cells from old_cap on start missing
 * (and NULL for strings). */
static int column_reserve(column *col, size_t old_cap, size_t cap)
{
    void *values = realloc(col->v.any, (cap ? cap : 1) * cell_size(col->type));
    if (!values)
        return CRUN_ENOMEM;
    col->v.any = values;
    if (col->type == CRUN_COLUMN_STRING)
        memset(col->v.str + old_cap, 0, (cap - old_cap) * sizeof(char *));
    size_t old_words = old_cap ? bitmap_words(old_cap) : 0, words = bitmap_words(cap);
    uint64_t *missing = realloc(col->missing, (words ? words : 1) * sizeof(uint64_t));
    if (!missing)
        return CRUN_ENOMEM;
    col->missing = missing;
    for (size_t w = old_words; w < words; w++)
        missing[w] = ~UINT64_C(0);
    for (size_t i = old_cap; i < old_words * 64 && i < cap; i++)
        bit_set(missing, i, true);
    return 0;
}

static int table_reserve(crun_table *t, size_t cap)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (column_reserve(&t->cols[c], t->capacity, cap) != 0)
            return CRUN_ENOMEM;
    t->capacity = cap;
    return 0;
}

int crun_table_column_index(const crun_table *table, const char *name)
{
    size_t c;
    if (!table || !name || !strmap_get(&table->names, name, &c))
        return -1;
    return (int)c;
}

int crun_table_add_column(crun_table *table, const char *name, crun_column_type type)
{
    if (!table || !name || type < CRUN_COLUMN_INT64 || type > CRUN_COLUMN_STRING)
        return CRUN_EINVAL;
    /* Names are keys (crun_table_column_index, JSON rows): refuse duplicates. */
    uint32_t hash = strmap_hash(name);
    if (strmap_get_hashed(&table->names, name, hash, NULL) || table->ncols >= INT32_MAX)
        return CRUN_EINVAL;
    if (table->ncols == table->cols_cap) {
        size_t cap = table->cols_cap ? table->cols_cap * 2 : 8;
        column *cols = realloc(table->cols, cap * sizeof(*cols));
        if (!cols)
            return CRUN_ENOMEM;
        table->cols = cols;
        table->cols_cap = cap;
    }
    column col = {.type = type, .name = strdup(name)};
    /* The map borrows col.name, which stays put when cols is reallocated. */
    if (!col.name || column_reserve(&col, 0, table->capacity) != 0 ||
        strmap_put_hashed(&table->names, col.name, hash, table->ncols, NULL) != 0) {
        column_free(&col);
        return CRUN_ENOMEM;
    }
    table->cols[table->ncols] = col;
    return (int)table->ncols++;
}

/* Forget cells from row `from` on, so that a later grow finds them missing.
 * Their strings' bytes stay in the arena (waste until the table is freed). */
static void table_truncate(crun_table *t, size_t from)
{
    for (size_t c = 0; c < t->ncols; c++) {
        column *col = &t->cols[c];
        for (size_t r = from; r < t->rows; r++) {
            if (col->type == CRUN_COLUMN_STRING)
                col->v.str[r] = NULL;
            bit_set(col->missing, r, true);
        }
    }
    t->rows = from;
}

int crun_table_set_rows(crun_table *table, size_t rows)
{
    if (!table)
        return CRUN_EINVAL;
    if (rows < table->rows) {
        table_truncate(table, rows);
        return 0;
    }
    if (rows > table->capacity) {
        size_t cap = table->capacity ? table->capacity : 16;
        while (cap < rows)
            cap = cap > SIZE_MAX / 2 ? rows : cap * 2;
        if (table_reserve(table, cap) != 0)
            return CRUN_ENOMEM;
    }
    table->rows = rows;
    return 0;
}

/* The column to write, when col/row are in range and the type matches. */
static column *writable(crun_table *t, size_t col, size_t row, crun_column_type type)
{
    if (!t || col >= t->ncols || row >= t->rows || t->cols[col].type != type)
        return NULL;
    return &t->cols[col];
}

int crun_table_set_int64(crun_table *table, size_t col, size_t row, int64_t v)
{
    column *c = writable(table, col, row, CRUN_COLUMN_INT64);
    if (!c)
        return CRUN_EINVAL;
    c->v.i64[row] = v;
    bit_set(c->missing, row, false);
    return 0;
}

int crun_table_set_double(crun_table *table, size_t col, size_t row, double v)
{
    column *c = writable(table, col, row, CRUN_COLUMN_DOUBLE);
    if (!c)
        return CRUN_EINVAL;
    c->v.f64[row] = v;
    bit_set(c->missing, row, false);
    return 0;
}

int crun_table_set_string(crun_table *table, size_t col, size_t row, const char *v)
{
    column *c = writable(table, col, row, CRUN_COLUMN_STRING);
    if (!c || !v)
        return CRUN_EINVAL;
    /* A replaced string's bytes stay in the arena as waste.  v may point
     * into this arena (blocks never move), so copying from it is safe. */
    char *copy = arena_copy(c, v, strlen(v));
    if (!copy)
        return CRUN_ENOMEM;
    c->v.str[row] = copy;
    bit_set(c->missing, row, false);
    return 0;
}

int crun_table_set_missing(crun_table *table, size_t col, size_t row)
{
    if (!table || col >= table->ncols || row >= table->rows)
        return CRUN_EINVAL;
    column *c = &table->cols[col];
    if (c->type == CRUN_COLUMN_STRING)
        c->v.str[row] = NULL; /* the old bytes stay in the arena */
    bit_set(c->missing, row, true);
    return 0;
}

/* --- reading ------------------------------------------------------------- */

size_t crun_table_rows(const crun_table *table)
{
    return table ? table->rows : 0;
}

size_t crun_table_columns(const crun_table *table)
{
    return table ? table->ncols : 0;
}

const char *crun_table_column_name(const crun_table *table, size_t col)
{
    return table && col < table->ncols ? table->cols[col].name : NULL;
}

crun_column_type crun_table_column_type(const crun_table *table, size_t col)
{
    return table && col < table->ncols ? table->cols[col].type : (crun_column_type)0;
}

bool crun_table_is_missing(const crun_table *table, size_t col, size_t row)
{
    if (!table || col >= table->ncols || row >= table->rows)
        return true;
    return (table->cols[col].missing[row / 64] >> (row % 64)) & 1;
}

/* The column to read, when the cell exists and holds a value. */
static const column *readable(const crun_table *t, size_t col, size_t row)
{
    return crun_table_is_missing(t, col, row) ? NULL : &t->cols[col];
}

int64_t crun_table_int64(const crun_table *table, size_t col, size_t row)
{
    const column *c = readable(table, col, row);
    return c && c->type == CRUN_COLUMN_INT64 ? c->v.i64[row] : 0;
}

double crun_table_double(const crun_table *table, size_t col, size_t row)
{
    const column *c = readable(table, col, row);
    if (!c)
        return 0.0;
    /* Integers widen to double so numeric code can read any number column. */
    if (c->type == CRUN_COLUMN_INT64)
        return (double)c->v.i64[row];
    return c->type == CRUN_COLUMN_DOUBLE ? c->v.f64[row] : 0.0;
}

const char *crun_table_string(const crun_table *table, size_t col, size_t row)
{
    const column *c = readable(table, col, row);
    return c && c->type == CRUN_COLUMN_STRING ? c->v.str[row] : NULL;
}
