/* sqlite.c - the "sqlite" dataset type: a table of an SQLite file as a table value.
 *
 * Loads read `table_name` (or run the query `sql`) and map INTEGER, REAL,
 * TEXT and NULL to int64, double, string and missing.  A column's type
 * comes from its declared type; one without (an expression, a NUMERIC
 * column) is inferred from its values as the csv type does, and a value
 * its type cannot hold widens the column (int64 -> double -> string).
 * Saves run in one BEGIN IMMEDIATE transaction (replace / append / fail)
 * with prepared statements: SQLite's journal, not a file rename, makes
 * them atomic, and a failed save rolls back to the old table.  Each call
 * opens its own connection (NOMUTEX, busy timeout) and closes it, so the
 * instance holds no connection and threads never share one.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include <crun/dataset.h>

#include "csv_number.h"

typedef struct sqlite_settings {
    const char *filepath;
    const char *table_name;
    const char *sql;
    json_t *save_args;
} sqlite_settings;

static const crun_option sqlite_options[] = {
    {.name = "filepath", .type = CRUN_OPTION_STRING,
     .doc = "the SQLite file, relative to the project folder (required)",
     .offset = offsetof(sqlite_settings, filepath)},
    {.name = "table_name", .type = CRUN_OPTION_STRING,
     .doc = "the table loads read and saves write (this, or sql, is required)",
     .offset = offsetof(sqlite_settings, table_name)},
    {.name = "sql", .type = CRUN_OPTION_STRING,
     .doc = "a query loads run instead of reading table_name (then saves are refused)",
     .offset = offsetof(sqlite_settings, sql)},
    {.name = "save_args", .type = CRUN_OPTION_JSON,
     .doc = "a map: if_exists: replace (default), append or fail",
     .offset = offsetof(sqlite_settings, save_args)},
};

/* How long a connection waits for another process's write lock. */
enum { BUSY_TIMEOUT_MS = 10000 };

typedef enum if_exists { IF_EXISTS_REPLACE, IF_EXISTS_APPEND, IF_EXISTS_FAIL } if_exists;
static const char *const if_exists_names[] = {"replace", "append", "fail"};

typedef struct sqlite_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    crun_file_dataset *file;     /* the database file: catalog, load, this instance's save */
    char *table_name;            /* NULL when only sql is given */
    char *sql;                   /* a query loaded instead of the table, or NULL */
    if_exists if_exists;
} sqlite_ds;

/* --- errors and connections ----------------------------------------------------- */

static int code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return CRUN_ENOMEM;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return CRUN_EIO;
    default: /* NOTADB, CORRUPT, CONSTRAINT, MISMATCH, a bad statement */
        return CRUN_EDATA;
    }
}

/* "dataset 'x': <file>: <SQLite's message>", with SQLite's code mapped. */
static int db_error(const sqlite_ds *ds, sqlite3 *db, int rc, const char *path, crun_error *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return crun_error_set(err, code_of(rc), "dataset '%s': %s: %s", ds->ctx->name, path, msg);
}

static int open_db(const sqlite_ds *ds, const char *path, bool writable, sqlite3 **out,
                   crun_error *err)
{
    struct stat st;
    *out = NULL;
    /* A read must not create the file SQLite would happily make. */
    if (!writable && stat(path, &st) != 0)
        return crun_error_set(err, errno == ENOENT ? CRUN_ENOENT : CRUN_EIO,
                              "dataset '%s': %s: %s", ds->ctx->name, path, strerror(errno));
    if (writable && crun_mkdir_parents(path, err) != 0)
        return crun_error_prefix(err, "dataset '%s': ", ds->ctx->name);
    int flags = (writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
                SQLITE_OPEN_NOMUTEX;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK) {
        rc = db_error(ds, db, rc, path, err);
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

/* Close db; a failure to close only matters when nothing failed before. */
static int close_db(const sqlite_ds *ds, sqlite3 *db, const char *path, int rc, crun_error *err)
{
    if (db && sqlite3_close(db) != SQLITE_OK && rc == 0)
        rc = crun_error_set(err, CRUN_EIO, "dataset '%s': %s: cannot close the database",
                            ds->ctx->name, path);
    return rc;
}

/* Run one statement built by sqlite3_mprintf/sqlite3_str (NULL: out of
 * memory); frees it. */
static int exec_sql(const sqlite_ds *ds, sqlite3 *db, char *sql, const char *path,
                    crun_error *err)
{
    if (!sql)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc == SQLITE_OK ? 0 : db_error(ds, db, rc, path, err);
}

/* SQLite's table names ignore case, so the lookup does too. */
static const char table_query[] =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE";

static int table_exists(const sqlite_ds *ds, sqlite3 *db, const char *path, bool *out,
                        crun_error *err)
{
    sqlite3_stmt *st = NULL;
    *out = false;
    int rc = sqlite3_prepare_v2(db, table_query, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, ds->table_name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *out = rc == SQLITE_ROW;
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc != SQLITE_OK)
        rc = db_error(ds, db, rc, path, err); /* before finalize, which resets the message */
    sqlite3_finalize(st);
    return rc;
}

/* --- reading: values into growable columns ---------------------------------------- */

typedef union cell {
    int64_t i;
    double d;
    char *s;
} cell;

/* One column of a result being read; its type widens as values demand. */
typedef struct column_buf {
    crun_column_type type;
    cell *cells;
    unsigned char *present; /* 1: the cell has a value */
} column_buf;

typedef struct result_buf {
    column_buf *cols;
    size_t ncols, rows, cap;
} result_buf;

static void result_free(result_buf *res)
{
    for (size_t c = 0; c < res->ncols; c++) {
        column_buf *col = &res->cols[c];
        for (size_t r = 0; col->type == CRUN_COLUMN_STRING && r < res->rows; r++)
            if (col->present[r])
                free(col->cells[r].s);
        free(col->cells);
        free(col->present);
    }
    free(res->cols);
}

static int result_grow(result_buf *res)
{
    if (res->rows < res->cap)
        return 0;
    size_t cap = res->cap ? res->cap * 2 : 256;
    for (size_t c = 0; c < res->ncols; c++) {
        column_buf *col = &res->cols[c];
        cell *cells = realloc(col->cells, cap * sizeof(cell));
        if (cells)
            col->cells = cells;
        unsigned char *present = cells ? realloc(col->present, cap) : NULL;
        if (!present)
            return CRUN_ENOMEM;
        col->present = present;
        memset(present + res->cap, 0, cap - res->cap);
    }
    res->cap = cap;
    return 0;
}

/* The column type a declared type gives, by SQLite's affinity rules; 0
 * (infer from the values) for NUMERIC, BLOB and no declared type. */
static crun_column_type declared_type(const char *decl)
{
    if (!decl)
        return 0;
    if (strcasestr(decl, "INT"))
        return CRUN_COLUMN_INT64;
    if (strcasestr(decl, "CHAR") || strcasestr(decl, "CLOB") || strcasestr(decl, "TEXT"))
        return CRUN_COLUMN_STRING;
    if (strcasestr(decl, "REAL") || strcasestr(decl, "FLOA") || strcasestr(decl, "DOUB"))
        return CRUN_COLUMN_DOUBLE;
    return 0;
}

static void widen_to_double(column_buf *col, size_t rows)
{
    for (size_t r = 0; r < rows; r++)
        if (col->present[r])
            col->cells[r].d = (double)col->cells[r].i;
    col->type = CRUN_COLUMN_DOUBLE;
}

/* Numbers become their text.  On running out of memory the cells not yet
 * converted are dropped, so that freeing stays right. */
static int widen_to_string(column_buf *col, size_t rows)
{
    crun_column_type was = col->type;
    col->type = CRUN_COLUMN_STRING;
    for (size_t r = 0; r < rows; r++) {
        if (!col->present[r])
            continue;
        char text[CSV_NUMBER_DOUBLE_MAX];
        if (was == CRUN_COLUMN_INT64)
            snprintf(text, sizeof(text), "%lld", (long long)col->cells[r].i);
        else
            crun_real_format(col->cells[r].d, text, sizeof(text));
        if (!(col->cells[r].s = strdup(text))) {
            memset(col->present + r, 0, rows - r);
            return CRUN_ENOMEM;
        }
    }
    return 0;
}

static int store_text(column_buf *col, sqlite3_stmt *st, int i, size_t row)
{
    const char *text = (const char *)sqlite3_column_text(st, i);
    if (!text || !(col->cells[row].s = strdup(text)))
        return CRUN_ENOMEM;
    col->present[row] = 1;
    return 0;
}

/* Text that reads as a number keeps a numeric column numeric (as in CSV). */
static bool store_text_number(column_buf *col, sqlite3_stmt *st, int i, size_t row)
{
    const char *text = (const char *)sqlite3_column_text(st, i);
    size_t len = (size_t)sqlite3_column_bytes(st, i);
    int64_t iv;
    double dv;
    if (!text || sqlite3_column_type(st, i) != SQLITE_TEXT)
        return false;
    if (col->type == CRUN_COLUMN_INT64 && csv_number_int64(text, len, &iv)) {
        col->cells[row].i = iv;
        return true;
    }
    if (!csv_number_double(text, len, &dv))
        return false;
    if (col->type == CRUN_COLUMN_INT64)
        widen_to_double(col, row);
    col->cells[row].d = dv;
    return true;
}

static int store_value(column_buf *col, sqlite3_stmt *st, int i, size_t row)
{
    int kind = sqlite3_column_type(st, i);
    if (kind == SQLITE_NULL)
        return 0;
    if (col->type == CRUN_COLUMN_STRING)
        return store_text(col, st, i, row);
    if (kind == SQLITE_INTEGER) {
        int64_t v = sqlite3_column_int64(st, i);
        if (col->type == CRUN_COLUMN_INT64)
            col->cells[row].i = v;
        else
            col->cells[row].d = (double)v;
    } else if (kind == SQLITE_FLOAT) {
        if (col->type == CRUN_COLUMN_INT64)
            widen_to_double(col, row);
        col->cells[row].d = sqlite3_column_double(st, i);
    } else if (!store_text_number(col, st, i, row)) {
        int rc = widen_to_string(col, row);
        return rc != 0 ? rc : store_text(col, st, i, row);
    }
    col->present[row] = 1;
    return 0;
}

static int read_rows(const sqlite_ds *ds, sqlite3 *db, sqlite3_stmt *st, const char *path,
                     result_buf *res, crun_error *err)
{
    res->ncols = (size_t)sqlite3_column_count(st);
    res->cols = calloc(res->ncols ? res->ncols : 1, sizeof(column_buf));
    if (!res->cols)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    for (size_t c = 0; c < res->ncols; c++) {
        crun_column_type type = declared_type(sqlite3_column_decltype(st, (int)c));
        /* Inference starts from int64, the narrowest, and widens. */
        res->cols[c].type = type ? type : CRUN_COLUMN_INT64;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int mem = result_grow(res);
        for (size_t c = 0; c < res->ncols && mem == 0; c++)
            mem = store_value(&res->cols[c], st, (int)c, res->rows);
        if (mem != 0)
            return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
        res->rows++;
    }
    return rc == SQLITE_DONE ? 0 : db_error(ds, db, rc, path, err);
}

static int fill_column(crun_table *t, size_t c, const column_buf *col, size_t rows)
{
    int rc = 0;
    for (size_t r = 0; r < rows && rc == 0; r++) {
        if (!col->present[r])
            continue;
        if (col->type == CRUN_COLUMN_INT64)
            rc = crun_table_set_int64(t, c, r, col->cells[r].i);
        else if (col->type == CRUN_COLUMN_DOUBLE)
            rc = crun_table_set_double(t, c, r, col->cells[r].d);
        else
            rc = crun_table_set_string(t, c, r, col->cells[r].s);
    }
    return rc;
}

static int build_table(const sqlite_ds *ds, sqlite3_stmt *st, const result_buf *res,
                       crun_table **out, crun_error *err)
{
    crun_table *t = crun_table_new(res->rows);
    int rc = t ? crun_table_set_rows(t, res->rows) : CRUN_ENOMEM;
    for (size_t c = 0; c < res->ncols && rc == 0; c++) {
        const char *name = sqlite3_column_name(st, (int)c);
        int idx = name ? crun_table_add_column(t, name, res->cols[c].type) : CRUN_ENOMEM;
        if (idx == CRUN_EINVAL) {
            crun_table_free(t);
            return crun_error_set(err, CRUN_EDATA,
                                  "dataset '%s': the query gives two columns named '%s'",
                                  ds->ctx->name, name);
        }
        rc = idx < 0 ? idx : fill_column(t, c, &res->cols[c], res->rows);
    }
    if (rc != 0) {
        crun_table_free(t);
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    }
    *out = t;
    return 0;
}

/* Run the dataset's query on db into a new table. */
static int query_table(const sqlite_ds *ds, sqlite3 *db, const char *path, crun_table **out,
                       crun_error *err)
{
    char *sql = ds->sql ? sqlite3_mprintf("%s", ds->sql)
                        : sqlite3_mprintf("SELECT * FROM \"%w\"", ds->table_name);
    sqlite3_stmt *st = NULL;
    if (!sql)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        rc = db_error(ds, db, rc, path, err);
        sqlite3_finalize(st);
        return rc;
    }
    result_buf res = {0};
    rc = read_rows(ds, db, st, path, &res, err);
    if (rc == 0)
        rc = build_table(ds, st, &res, out, err);
    result_free(&res);
    sqlite3_finalize(st);
    return rc;
}

/* Read the table (or query) from the database file at path. */
static int load_file(const sqlite_ds *ds, const char *path, crun_table **out, crun_error *err)
{
    sqlite3 *db = NULL;
    bool exists = true;
    int rc = open_db(ds, path, false, &db, err);
    /* Looking the table up first also turns "not a database" into a clear
     * message before any query runs. */
    if (rc == 0 && ds->table_name && !ds->sql)
        rc = table_exists(ds, db, path, &exists, err);
    if (rc == 0 && !exists)
        rc = crun_error_set(err, CRUN_ENOENT, "dataset '%s': %s: no table '%s'", ds->ctx->name,
                            path, ds->table_name);
    if (rc == 0)
        rc = query_table(ds, db, path, out, err);
    return close_db(ds, db, path, rc, err);
}

/* --- writing ------------------------------------------------------------------ */

static const char *sql_type(crun_column_type type)
{
    return type == CRUN_COLUMN_INT64 ? "INTEGER" : type == CRUN_COLUMN_DOUBLE ? "REAL" : "TEXT";
}

static char *create_sql(sqlite3 *db, const char *name, const crun_table *t)
{
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "CREATE TABLE \"%w\" (", name);
    for (size_t c = 0; c < crun_table_columns(t); c++)
        sqlite3_str_appendf(s, "%s\"%w\" %s", c ? ", " : "", crun_table_column_name(t, c),
                            sql_type(crun_table_column_type(t, c)));
    sqlite3_str_appendall(s, ")");
    return sqlite3_str_finish(s);
}

static char *insert_sql(sqlite3 *db, const char *name, const crun_table *t)
{
    size_t cols = crun_table_columns(t);
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "INSERT INTO \"%w\" (", name);
    for (size_t c = 0; c < cols; c++)
        sqlite3_str_appendf(s, "%s\"%w\"", c ? ", " : "", crun_table_column_name(t, c));
    sqlite3_str_appendall(s, ") VALUES (");
    for (size_t c = 0; c < cols; c++)
        sqlite3_str_appendall(s, c ? ", ?" : "?");
    sqlite3_str_appendall(s, ")");
    return sqlite3_str_finish(s);
}

static int bind_cell(sqlite3_stmt *st, const crun_table *t, size_t c, size_t r)
{
    int at = (int)c + 1;
    if (crun_table_is_missing(t, c, r))
        return sqlite3_bind_null(st, at);
    switch (crun_table_column_type(t, c)) {
    case CRUN_COLUMN_INT64:
        return sqlite3_bind_int64(st, at, crun_table_int64(t, c, r));
    case CRUN_COLUMN_DOUBLE:
        return sqlite3_bind_double(st, at, crun_table_double(t, c, r));
    case CRUN_COLUMN_STRING:
        /* STATIC: the table outlives the statement's step. */
        return sqlite3_bind_text(st, at, crun_table_string(t, c, r), -1, SQLITE_STATIC);
    }
    return SQLITE_MISMATCH;
}

static int insert_rows(const sqlite_ds *ds, sqlite3 *db, const crun_table *t, const char *path,
                       crun_error *err)
{
    char *sql = insert_sql(db, ds->table_name, t);
    sqlite3_stmt *st = NULL;
    if (!sql)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    for (size_t r = 0; r < crun_table_rows(t) && rc == SQLITE_OK; r++) {
        for (size_t c = 0; c < crun_table_columns(t) && rc == SQLITE_OK; c++)
            rc = bind_cell(st, t, c, r);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
            rc = sqlite3_reset(st);
    }
    if (rc != SQLITE_OK)
        rc = db_error(ds, db, rc, path, err); /* before finalize, which resets the message */
    sqlite3_finalize(st);
    return rc;
}

/* Inside the transaction: make the table as if_exists says, then fill it. */
static int write_table(const sqlite_ds *ds, sqlite3 *db, const crun_table *t, const char *path,
                       crun_error *err)
{
    bool exists = false;
    int rc = table_exists(ds, db, path, &exists, err);
    if (rc == 0 && exists && ds->if_exists == IF_EXISTS_FAIL)
        return crun_error_set(err, CRUN_EDATA,
                              "dataset '%s': %s: table '%s' already exists "
                              "(save_args.if_exists is 'fail')",
                              ds->ctx->name, path, ds->table_name);
    if (rc == 0 && exists && ds->if_exists == IF_EXISTS_REPLACE)
        rc = exec_sql(ds, db, sqlite3_mprintf("DROP TABLE \"%w\"", ds->table_name), path, err);
    if (rc == 0 && (!exists || ds->if_exists == IF_EXISTS_REPLACE))
        rc = exec_sql(ds, db, create_sql(db, ds->table_name, t), path, err);
    return rc == 0 ? insert_rows(ds, db, t, path, err) : rc;
}

static int save_table(const sqlite_ds *ds, const crun_table *t, const char *path,
                      crun_error *err)
{
    sqlite3 *db = NULL;
    int rc = open_db(ds, path, true, &db, err);
    if (rc != 0)
        return rc;
    /* IMMEDIATE takes the write lock now, so no other writer slips in
     * between our check of the table and our changes to it. */
    rc = exec_sql(ds, db, sqlite3_mprintf("BEGIN IMMEDIATE"), path, err);
    if (rc == 0 && (rc = write_table(ds, db, t, path, err)) == 0)
        rc = exec_sql(ds, db, sqlite3_mprintf("COMMIT"), path, err);
    /* Our error is the one to report.  ROLLBACK fails only when no
     * transaction is open, and then closing leaves nothing behind. */
    if (rc != 0)
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return close_db(ds, db, path, rc, err);
}

/* --- instance --------------------------------------------------------------------- */

static void sqlite_ds_destroy(void *instance)
{
    sqlite_ds *ds = instance;
    if (!ds)
        return;
    crun_file_dataset_free(ds->file);
    free(ds->table_name);
    free(ds->sql);
    free(ds);
}

/* "<where>: dataset 'x': option 'key': what" */
static int config_error(const crun_dataset_ctx *ctx, const crun_options *opts, const char *key,
                        const char *what, crun_error *err)
{
    const char *where = crun_options_where(opts, key);
    return crun_error_set(err, CRUN_ECONFIG, "%s%sdataset '%s': option '%s': %s",
                          where ? where : "", where ? ": " : "", ctx->name, key, what);
}

static int parse_save_args(const crun_dataset_ctx *ctx, const crun_options *opts, json_t *args,
                           if_exists *out, crun_error *err)
{
    const char *key;
    json_t *value;
    *out = IF_EXISTS_REPLACE;
    if (!args)
        return 0;
    if (!json_is_object(args))
        return config_error(ctx, opts, "save_args", "expected a map", err);
    json_object_foreach(args, key, value) {
        if (strcmp(key, "if_exists") != 0)
            return config_error(ctx, opts, "save_args",
                                "unknown key (known: if_exists)", err);
    }
    const char *name = json_string_value(json_object_get(args, "if_exists"));
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, if_exists_names[i]) == 0) {
            *out = (if_exists)i;
            return 0;
        }
    }
    return config_error(ctx, opts, "save_args",
                        "if_exists: expected replace, append or fail", err);
}

/* filepath is required (*filepath_out, borrowed from opts), and table_name
 * or sql (or both: load the query, refuse saves). */
static int read_options(const crun_dataset_ctx *ctx, const crun_options *opts, sqlite_ds *ds,
                        const char **filepath_out, crun_error *err)
{
    sqlite_settings set = {0};
    int rc = crun_options_read(opts, sqlite_options, CRUN_OPTION_COUNT(sqlite_options), &set, err);
    if (rc == 0)
        rc = parse_save_args(ctx, opts, set.save_args, &ds->if_exists, err);
    if (rc != 0)
        return rc;
    const char *filepath = set.filepath, *table_name = set.table_name, *sql = set.sql;
    if (!filepath || !*filepath)
        return config_error(ctx, opts, "filepath", "is required", err);
    if ((!table_name || !*table_name) && (!sql || !*sql))
        return config_error(ctx, opts, "table_name",
                            "is required (or 'sql', a query to load)", err);
    *filepath_out = filepath;
    ds->table_name = table_name && *table_name ? strdup(table_name) : NULL;
    ds->sql = sql && *sql ? strdup(sql) : NULL;
    if ((table_name && *table_name && !ds->table_name) || (sql && *sql && !ds->sql))
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    return 0;
}

static int sqlite_ds_create(const crun_dataset_ctx *ctx, const crun_options *opts,
                            void **instance, crun_error *err)
{
    *instance = NULL;
    sqlite_ds *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    ds->ctx = ctx;
    const char *filepath = NULL;
    int rc = read_options(ctx, opts, ds, &filepath, err);
    if (rc == 0)
        rc = crun_file_dataset_new(ctx, filepath, &ds->file, err);
    if (rc != 0) {
        sqlite_ds_destroy(ds);
        return rc;
    }
    *instance = ds;
    return 0;
}

static int sqlite_ds_load(void *instance, crun_value **out, crun_error *err)
{
    sqlite_ds *ds = instance;
    char *path = NULL;
    crun_table *table = NULL;
    *out = NULL;
    int rc = crun_file_dataset_load_path(ds->file, &path, err);
    if (rc == 0)
        rc = load_file(ds, path, &table, err);
    free(path);
    if (rc != 0)
        return rc;
    *out = crun_value_table_new(table);
    if (!*out)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ds->ctx->name);
    return 0;
}

/* Saving is refused before anything is touched when it cannot work. */
static int check_savable(const sqlite_ds *ds, const crun_value *value, crun_error *err)
{
    if (ds->sql)
        return crun_error_set(err, CRUN_EDATA,
                              "dataset '%s': cannot save: it loads the query in 'sql'; "
                              "a dataset to save needs 'table_name' and no 'sql'",
                              ds->ctx->name);
    const crun_table *t = crun_value_table(value);
    if (!t)
        return crun_error_set(err, CRUN_EDATA,
                              "dataset '%s': cannot save a %s value to SQLite: expected a table",
                              ds->ctx->name, crun_value_kind_name(crun_value_kind_of(value)));
    if (crun_table_columns(t) == 0)
        return crun_error_set(err, CRUN_EDATA,
                              "dataset '%s': cannot save a table without columns to SQLite",
                              ds->ctx->name);
    return 0;
}

static int sqlite_ds_save(void *instance, crun_value *value, crun_error *err)
{
    sqlite_ds *ds = instance;
    char *path = NULL;
    int rc = check_savable(ds, value, err);
    if (rc == 0)
        rc = crun_file_dataset_save_path(ds->file, &path, err);
    if (rc == 0)
        rc = save_table(ds, crun_value_table(value), path, err);
    if (rc != 0) {
        free(path);
        return rc;
    }
    crun_file_dataset_set_saved(ds->file, path);
    return 0;
}

/* With table_name: the file holds that table.  With only sql: the file exists. */
static int sqlite_ds_exists(void *instance, bool *out, crun_error *err)
{
    sqlite_ds *ds = instance;
    char *path = NULL;
    crun_error ignored = CRUN_ERROR_INIT;
    struct stat st;
    *out = false;
    /* No version at all simply means the dataset does not exist yet. */
    if (crun_file_dataset_load_path(ds->file, &path, &ignored) != 0) {
        crun_error_clear(&ignored);
        return 0;
    }
    int rc = 0;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = crun_error_set(err, CRUN_EIO, "dataset '%s': %s: %s", ds->ctx->name, path,
                                strerror(errno));
    } else if (!ds->table_name || ds->sql) {
        *out = S_ISREG(st.st_mode);
    } else {
        sqlite3 *db = NULL;
        rc = open_db(ds, path, false, &db, err);
        if (rc == 0)
            rc = table_exists(ds, db, path, out, err);
        rc = close_db(ds, db, path, rc, err);
    }
    free(path);
    return rc;
}

static json_t *sqlite_ds_describe(void *instance)
{
    sqlite_ds *ds = instance;
    return json_pack("{s:s, s:s?, s:s?, s:b}", "filepath",
                     crun_file_dataset_catalog_filepath(ds->file), "table_name",
                     ds->table_name, "sql", ds->sql, "versioned", ds->ctx->versioned);
}

static const char *sqlite_ds_filepath(void *instance)
{
    sqlite_ds *ds = instance;
    return crun_file_dataset_filepath(ds->file);
}

/* A command wrote a database at tmp_path: refuse it unless it is one that
 * holds the table, then commit it whole. */
static int sqlite_ds_save_file(void *instance, const char *tmp_path, crun_error *err)
{
    sqlite_ds *ds = instance;
    crun_table *table = NULL;
    int rc = ds->sql ? check_savable(ds, NULL, err) : load_file(ds, tmp_path, &table, err);
    crun_table_free(table);
    if (rc != 0) {
        unlink(tmp_path); /* refused content must not linger next to the data */
        return rc;
    }
    return crun_file_dataset_commit(ds->file, tmp_path, err);
}

static const crun_dataset_type sqlite_ds_type = {
    .size = sizeof(crun_dataset_type),
    .flags = 0,
    .create = sqlite_ds_create,
    .destroy = sqlite_ds_destroy,
    .load = sqlite_ds_load,
    .save = sqlite_ds_save,
    .exists = sqlite_ds_exists,
    .describe = sqlite_ds_describe,
    .filepath = sqlite_ds_filepath,
    .save_file = sqlite_ds_save_file,
};

static const crun_plugin sqlite_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "sqlite",
    .version = "1.0.0",
    .description = "a table (or a query) of an SQLite database file, loaded as a table",
    .table = &sqlite_ds_type,
    .options = sqlite_options,
    .n_options = CRUN_OPTION_COUNT(sqlite_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &sqlite_plugin;
}
