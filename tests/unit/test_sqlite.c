/* test_sqlite.c - the sqlite dataset plugin, driven through the plugin ABI.
 *
 * sqlite.so is dlopen()ed from the folders in CRUN_TEST_PLUGIN_DIRS, as
 * the host would.  Databases the plugin did not write (declared types,
 * constraints, a file that is not a database) are made with SQL run through
 * libsqlite3, itself dlopen()ed: the unit tests link only libcrun and
 * cmocka, and the plugin has already brought libsqlite3 into the process.
 * Each test gets a fresh project folder from mkdtemp, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crun/dataset.h"
#include "fixture_dataset.h"

typedef int (*sqlite_open_fn)(const char *path, void **db);
typedef int (*sqlite_exec_fn)(void *db, const char *sql, void *cb, void *arg, char **errmsg);
typedef int (*sqlite_close_fn)(void *db);

typedef struct fixture {
    fixture_dataset ds; /* the sqlite plugin and this test's folder */
    void *sqlite;       /* libsqlite3, to write databases the plugin reads */
    sqlite_open_fn db_open;
    sqlite_exec_fn db_exec;
    sqlite_close_fn db_close;
} fixture;

static int open_sqlite(fixture *f)
{
    if (!(f->sqlite = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL)))
        return -1;
    *(void **)&f->db_open = dlsym(f->sqlite, "sqlite3_open");
    *(void **)&f->db_exec = dlsym(f->sqlite, "sqlite3_exec");
    *(void **)&f->db_close = dlsym(f->sqlite, "sqlite3_close");
    return f->db_open && f->db_exec && f->db_close ? 0 : -1;
}

static int group_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    *state = f;
    if (!f || fixture_dataset_open(&f->ds, "sqlite") != 0)
        return -1;
    return open_sqlite(f);
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    if (f && f->sqlite)
        dlclose(f->sqlite);
    if (f)
        fixture_dataset_close(&f->ds);
    free(f);
    return 0;
}

static int setup(void **state)
{
    fixture *f = *state;
    return fixture_dataset_begin(&f->ds, "sqlite");
}

static int teardown(void **state)
{
    fixture *f = *state;
    return fixture_dataset_end(&f->ds);
}

/* --- helpers ----------------------------------------------------------------- */

/* Run sql on the database data/x.db (made if missing). */
static void run_sql(fixture *f, const char *sql)
{
    char *path = fixture_path(f->ds.dir, "data/x.db");
    assert_int_equal(crun_mkdir_parents(path, NULL), 0);
    void *db = NULL;
    char *msg = NULL;
    assert_int_equal(f->db_open(path, &db), 0);
    if (f->db_exec(db, sql, NULL, NULL, &msg) != 0)
        fail_msg("sql: %s", msg ? msg : "?");
    assert_int_equal(f->db_close(db), 0);
    free(path);
}

static void *create_table_ds(fixture *f, const char *if_exists)
{
    char options[256];
    snprintf(options, sizeof(options),
             "{\"filepath\": \"data/x.db\", \"table_name\": \"t\", \"save_args\": "
             "{\"if_exists\": \"%s\"}}",
             if_exists);
    return fixture_dataset_create(&f->ds, options);
}

static void save_ok(fixture *f, void *ds, crun_table *t)
{
    fixture_dataset_save(&f->ds, ds, crun_value_table_new(t));
}

static void expect_save_error(fixture *f, void *ds, crun_table *t, int code, const char *want)
{
    crun_value *v = crun_value_table_new(t);
    crun_error err = CRUN_ERROR_INIT;
    int rc = f->ds.type->save(ds, v, &err);
    crun_value_unref(v);
    fixture_expect_error(rc, &err, code, want);
}

static crun_value *load_ok(fixture *f, void *ds)
{
    crun_value *v = fixture_dataset_load(&f->ds, ds);
    assert_non_null(crun_value_table(v));
    return v;
}

/* A table of n rows: id int64 (first_id...), score double (missing on odd
 * ids), name string. */
static crun_table *rows_table(size_t n, int64_t first_id)
{
    crun_table *t = crun_table_new(n);
    assert_int_equal(crun_table_add_column(t, "id", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_add_column(t, "score", CRUN_COLUMN_DOUBLE), 1);
    assert_int_equal(crun_table_add_column(t, "name", CRUN_COLUMN_STRING), 2);
    assert_int_equal(crun_table_set_rows(t, n), 0);
    for (size_t r = 0; r < n; r++) {
        int64_t id = first_id + (int64_t)r;
        char name[32];
        snprintf(name, sizeof(name), "name \"%lld\"", (long long)id);
        assert_int_equal(crun_table_set_int64(t, 0, r, id), 0);
        if (id % 2 == 0)
            assert_int_equal(crun_table_set_double(t, 1, r, (double)id / 3.0), 0);
        assert_int_equal(crun_table_set_string(t, 2, r, name), 0);
    }
    return t;
}

static int64_t loaded_rows(fixture *f, void *ds)
{
    crun_value *v = load_ok(f, ds);
    int64_t n = (int64_t)crun_table_rows(crun_value_table(v));
    crun_value_unref(v);
    return n;
}

static void assert_column(const crun_table *t, size_t c, const char *name, crun_column_type type)
{
    assert_string_equal(crun_table_column_name(t, c), name);
    assert_int_equal(crun_table_column_type(t, c), type);
}

/* --- round trip and types ------------------------------------------------------ */

static void test_sqlite_round_trip_keeps_types_values_and_missing_cells(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "replace");
    save_ok(f, ds, rows_table(4, 1));
    f->ds.type->destroy(ds);
    ds = create_table_ds(f, "replace"); /* a fresh instance reads the file */
    crun_value *v = load_ok(f, ds);
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 4);
    assert_column(t, 0, "id", CRUN_COLUMN_INT64);
    assert_column(t, 1, "score", CRUN_COLUMN_DOUBLE);
    assert_column(t, 2, "name", CRUN_COLUMN_STRING);
    assert_int_equal(crun_table_int64(t, 0, 3), 4);
    assert_true(crun_table_is_missing(t, 1, 0));
    assert_true(crun_table_double(t, 1, 1) == 2.0 / 3.0);
    assert_string_equal(crun_table_string(t, 2, 2), "name \"3\"");
    crun_value_unref(v);
    f->ds.type->destroy(ds);
}

static void test_sqlite_declared_types_map_and_undeclared_columns_are_inferred(void **state)
{
    fixture *f = *state;
    run_sql(f, "CREATE TABLE t (i INTEGER, r REAL, s VARCHAR(10), n NUMERIC, u, w);"
               "INSERT INTO t VALUES (1, 1.5, 'a', 10, '7', 1);"
               "INSERT INTO t VALUES (NULL, 2, '12', 2.5, '8', 'x');");
    void *ds = fixture_dataset_create(&f->ds, "{\"filepath\": \"data/x.db\", \"table_name\": \"t\"}");
    crun_value *v = load_ok(f, ds);
    const crun_table *t = crun_value_table(v);
    assert_column(t, 0, "i", CRUN_COLUMN_INT64);
    assert_column(t, 1, "r", CRUN_COLUMN_DOUBLE);
    assert_column(t, 2, "s", CRUN_COLUMN_STRING);
    assert_column(t, 3, "n", CRUN_COLUMN_DOUBLE); /* 10 then 2.5: widened */
    assert_column(t, 4, "u", CRUN_COLUMN_INT64);  /* text that reads as integers */
    assert_column(t, 5, "w", CRUN_COLUMN_STRING); /* 1 then 'x': widened to text */
    assert_true(crun_table_is_missing(t, 0, 1));
    assert_true(crun_table_double(t, 1, 1) == 2.0);
    assert_string_equal(crun_table_string(t, 2, 1), "12");
    assert_true(crun_table_double(t, 3, 0) == 10.0);
    assert_int_equal(crun_table_int64(t, 4, 1), 8);
    assert_string_equal(crun_table_string(t, 5, 0), "1");
    crun_value_unref(v);
    f->ds.type->destroy(ds);
}

/* --- if_exists ------------------------------------------------------------------ */

static void test_sqlite_save_replaces_the_table_by_default(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(&f->ds, "{\"filepath\": \"data/x.db\", \"table_name\": \"t\"}");
    save_ok(f, ds, rows_table(5, 1));
    save_ok(f, ds, rows_table(2, 100));
    crun_value *v = load_ok(f, ds);
    assert_int_equal(crun_table_rows(crun_value_table(v)), 2);
    assert_int_equal(crun_table_int64(crun_value_table(v), 0, 0), 100);
    crun_value_unref(v);
    f->ds.type->destroy(ds);
}

static void test_sqlite_append_adds_rows_to_the_table(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "append");
    save_ok(f, ds, rows_table(3, 1));
    save_ok(f, ds, rows_table(2, 10));
    assert_int_equal(loaded_rows(f, ds), 5);
    f->ds.type->destroy(ds);
}

static void test_sqlite_fail_refuses_an_existing_table(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "fail");
    save_ok(f, ds, rows_table(3, 1));
    expect_save_error(f, ds, rows_table(1, 9), CRUN_EDATA,
                      "table 't' already exists (save_args.if_exists is 'fail')");
    assert_int_equal(loaded_rows(f, ds), 3);
    f->ds.type->destroy(ds);
}

static void test_sqlite_bad_if_exists_is_a_config_error(void **state)
{
    fixture *f = *state;
    void *ds = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = fixture_dataset_try_create(&f->ds, "{\"filepath\": \"x.db\", \"table_name\": \"t\", \"save_args\": "
                           "{\"if_exists\": \"merge\"}}", &ds, &err);
    assert_int_equal(rc, CRUN_ECONFIG);
    assert_non_null(strstr(err.message, "dataset 'x': option 'save_args': if_exists: expected "
                                        "replace, append or fail"));
    crun_error_clear(&err);
}

/* --- failed saves ----------------------------------------------------------------- */

static void test_sqlite_failed_append_leaves_the_old_table(void **state)
{
    fixture *f = *state;
    run_sql(f, "CREATE TABLE t (id INTEGER CHECK (id < 10), score REAL, name TEXT);"
               "INSERT INTO t VALUES (1, NULL, 'a');");
    void *ds = create_table_ds(f, "append");
    /* ids 8, 9 go in, 10 breaks the CHECK: the whole save rolls back */
    expect_save_error(f, ds, rows_table(3, 8), CRUN_EDATA, "CHECK constraint failed");
    assert_int_equal(loaded_rows(f, ds), 1);
    f->ds.type->destroy(ds);
}

static void test_sqlite_failed_replace_leaves_the_old_table(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "replace");
    save_ok(f, ds, rows_table(3, 1));
    /* SQLite's column names ignore case: CREATE fails after the DROP */
    crun_table *t = crun_table_new(1);
    assert_int_equal(crun_table_add_column(t, "a", CRUN_COLUMN_INT64), 0);
    assert_int_equal(crun_table_add_column(t, "A", CRUN_COLUMN_INT64), 1);
    expect_save_error(f, ds, t, CRUN_EDATA, "duplicate column name");
    assert_int_equal(loaded_rows(f, ds), 3);
    f->ds.type->destroy(ds);
}

static void test_sqlite_save_refuses_a_value_that_is_not_a_table(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "replace");
    crun_value *v = crun_value_json_new(json_string("x"));
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(f->ds.type->save(ds, v, &err), CRUN_EDATA);
    assert_non_null(strstr(err.message, "cannot save a json value to SQLite: expected a table"));
    crun_error_clear(&err);
    crun_value_unref(v);
    f->ds.type->destroy(ds);
}

/* --- sql queries --------------------------------------------------------------------- */

static void test_sqlite_sql_query_loads_its_result(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "replace");
    save_ok(f, ds, rows_table(6, 1));
    f->ds.type->destroy(ds);
    ds = fixture_dataset_create(&f->ds, "{\"filepath\": \"data/x.db\", \"sql\": "
                   "\"SELECT id, id * 0.5 AS half, upper(name) AS up FROM t WHERE id > 4 "
                   "ORDER BY id\"}");
    crun_value *v = load_ok(f, ds);
    const crun_table *t = crun_value_table(v);
    assert_int_equal(crun_table_rows(t), 2);
    assert_column(t, 0, "id", CRUN_COLUMN_INT64);
    assert_column(t, 1, "half", CRUN_COLUMN_DOUBLE);
    assert_column(t, 2, "up", CRUN_COLUMN_STRING);
    assert_true(crun_table_double(t, 1, 1) == 3.0);
    assert_string_equal(crun_table_string(t, 2, 0), "NAME \"5\"");
    crun_value_unref(v);
    f->ds.type->destroy(ds);
}

static void test_sqlite_sql_dataset_refuses_to_save(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(&f->ds, "{\"filepath\": \"data/x.db\", \"table_name\": \"t\", \"sql\": "
                         "\"SELECT 1\"}");
    expect_save_error(f, ds, rows_table(1, 1), CRUN_EDATA,
                      "dataset 'x': cannot save: it loads the query in 'sql'");
    char *path = fixture_path(f->ds.dir, "data/x.db");
    assert_int_equal(access(path, F_OK), -1); /* nothing was created */
    free(path);
    f->ds.type->destroy(ds);
}

static void test_sqlite_bad_sql_names_dataset_and_file(void **state)
{
    fixture *f = *state;
    run_sql(f, "CREATE TABLE t (a INTEGER);");
    void *ds = fixture_dataset_create(&f->ds, "{\"filepath\": \"data/x.db\", \"sql\": \"SELEC a FROM t\"}");
    fixture_dataset_expect_load_error(&f->ds, ds, CRUN_EDATA, "data/x.db: near \"SELEC\": syntax error");
    f->ds.type->destroy(ds);
}

/* --- errors ---------------------------------------------------------------------- */

static void test_sqlite_file_that_is_not_a_database_is_a_data_error(void **state)
{
    fixture *f = *state;
    char *path = fixture_path(f->ds.dir, "data/x.db");
    const char text[] = "id,name\n1,this is a CSV file, not a database, as long as a header\n";
    assert_int_equal(crun_file_write_atomic(path, text, sizeof(text) - 1, NULL), 0);
    void *ds = create_table_ds(f, "replace");
    char *want = NULL;
    assert_true(asprintf(&want, "dataset 'x': %s: file is not a database", path) > 0);
    fixture_dataset_expect_load_error(&f->ds, ds, CRUN_EDATA, want);
    free(want);
    free(path);
    f->ds.type->destroy(ds);
}

static void test_sqlite_missing_file_names_dataset_and_path(void **state)
{
    fixture *f = *state;
    void *ds = fixture_dataset_create(&f->ds, "{\"filepath\": \"data/none.db\", \"table_name\": \"t\"}");
    char *path = fixture_path(f->ds.dir, "data/none.db"), *want = NULL;
    assert_true(asprintf(&want, "dataset 'x': %s: No such file or directory", path) > 0);
    fixture_dataset_expect_load_error(&f->ds, ds, CRUN_ENOENT, want);
    free(want);
    assert_int_equal(access(path, F_OK), -1); /* a load never creates the file */
    free(path);
    f->ds.type->destroy(ds);
}

static void test_sqlite_missing_table_names_the_table(void **state)
{
    fixture *f = *state;
    run_sql(f, "CREATE TABLE other (a INTEGER);");
    void *ds = create_table_ds(f, "replace");
    fixture_dataset_expect_load_error(&f->ds, ds, CRUN_ENOENT, "data/x.db: no table 't'");
    f->ds.type->destroy(ds);
}

static void test_sqlite_requires_table_name_or_sql(void **state)
{
    fixture *f = *state;
    void *ds = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(fixture_dataset_try_create(&f->ds, "{\"filepath\": \"x.db\"}", &ds, &err), CRUN_ECONFIG);
    assert_non_null(strstr(err.message, "dataset 'x': option 'table_name': is required"));
    crun_error_clear(&err);
}

/* --- the rest of the dataset interface --------------------------------------------- */

static void test_sqlite_exists_means_the_table_is_in_the_file(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "replace");
    bool exists = true;
    assert_int_equal(f->ds.type->exists(ds, &exists, NULL), 0);
    assert_false(exists);
    run_sql(f, "CREATE TABLE other (a INTEGER);");
    assert_int_equal(f->ds.type->exists(ds, &exists, NULL), 0);
    assert_false(exists);
    run_sql(f, "CREATE TABLE T (a INTEGER);");
    assert_int_equal(f->ds.type->exists(ds, &exists, NULL), 0);
    assert_true(exists);
    f->ds.type->destroy(ds);
}

static void test_sqlite_describe_names_file_table_and_versioning(void **state)
{
    fixture *f = *state;
    void *ds = create_table_ds(f, "replace");
    json_t *d = f->ds.type->describe(ds);
    assert_string_equal(json_string_value(json_object_get(d, "filepath")), "data/x.db");
    assert_string_equal(json_string_value(json_object_get(d, "table_name")), "t");
    assert_true(json_is_false(json_object_get(d, "versioned")));
    json_decref(d);
    f->ds.type->destroy(ds);
}

static void test_sqlite_versioned_save_writes_run_version_and_loads_it(void **state)
{
    fixture *f = *state;
    f->ds.ctx.versioned = true;
    f->ds.ctx.save_version = "2026-01-01T00.00.00.000Z";
    void *ds = create_table_ds(f, "append");
    save_ok(f, ds, rows_table(2, 1));
    f->ds.type->destroy(ds);
    f->ds.ctx.save_version = "2026-02-01T00.00.00.000Z";
    ds = create_table_ds(f, "append");
    save_ok(f, ds, rows_table(3, 1)); /* a new version is a new file: nothing to append to */
    f->ds.type->destroy(ds);

    char *older = fixture_path(f->ds.dir, "data/x.db/2026-01-01T00.00.00.000Z/x.db");
    assert_int_equal(access(older, F_OK), 0);
    free(older);
    f->ds.ctx.save_version = NULL;
    ds = create_table_ds(f, "append");
    assert_int_equal(loaded_rows(f, ds), 3); /* the newest */
    f->ds.type->destroy(ds);
    f->ds.ctx.load_version = "2026-01-01T00.00.00.000Z";
    ds = create_table_ds(f, "append");
    assert_int_equal(loaded_rows(f, ds), 2); /* the pinned one */
    f->ds.type->destroy(ds);
}

#define SQLITE_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SQLITE_TEST(test_sqlite_round_trip_keeps_types_values_and_missing_cells),
        SQLITE_TEST(test_sqlite_declared_types_map_and_undeclared_columns_are_inferred),
        SQLITE_TEST(test_sqlite_save_replaces_the_table_by_default),
        SQLITE_TEST(test_sqlite_append_adds_rows_to_the_table),
        SQLITE_TEST(test_sqlite_fail_refuses_an_existing_table),
        SQLITE_TEST(test_sqlite_bad_if_exists_is_a_config_error),
        SQLITE_TEST(test_sqlite_failed_append_leaves_the_old_table),
        SQLITE_TEST(test_sqlite_failed_replace_leaves_the_old_table),
        SQLITE_TEST(test_sqlite_save_refuses_a_value_that_is_not_a_table),
        SQLITE_TEST(test_sqlite_sql_query_loads_its_result),
        SQLITE_TEST(test_sqlite_sql_dataset_refuses_to_save),
        SQLITE_TEST(test_sqlite_bad_sql_names_dataset_and_file),
        SQLITE_TEST(test_sqlite_file_that_is_not_a_database_is_a_data_error),
        SQLITE_TEST(test_sqlite_missing_file_names_dataset_and_path),
        SQLITE_TEST(test_sqlite_missing_table_names_the_table),
        SQLITE_TEST(test_sqlite_requires_table_name_or_sql),
        SQLITE_TEST(test_sqlite_exists_means_the_table_is_in_the_file),
        SQLITE_TEST(test_sqlite_describe_names_file_table_and_versioning),
        SQLITE_TEST(test_sqlite_versioned_save_writes_run_version_and_loads_it),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
