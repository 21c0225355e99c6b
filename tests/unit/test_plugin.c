/* test_plugin.c - the plugin loader (runner/plugin/plugin.c): refusals of files
 * that are not crun plugins of the right ABI and kind, the search path, the
 * cache and the listing.
 *
 * The plugin files are built by tests/fixtures/plugins/meson.build into the
 * folder named by CRUN_TEST_FIXTURE_DIR (else <build>/tests/fixtures/plugins
 * next to this program): fixture_alpha.so and fixture_beta.so are good dataset plugins
 * named "alpha" and "beta"; the others are each wrong in one way.  Tests
 * copy them into temporary search folders under the names they need.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/plugin.h"
#include "fixture.h"

typedef struct fixture {
    char root[FIXTURE_DIR_SIZE]; /* temporary folder holding d1/ and d2/ */
    char d1[128], d2[128];  /* two search folders */
    char fixtures[1024];
    plugin_cache cache;
    bool cache_open;
    crun_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    if (!f)
        return -1;
    if (fixture_tmpdir(f->root, "plugin") != 0)
        return -1;
    snprintf(f->d1, sizeof(f->d1), "%s/d1", f->root);
    snprintf(f->d2, sizeof(f->d2), "%s/d2", f->root);
    if (mkdir(f->d1, 0755) != 0 || mkdir(f->d2, 0755) != 0)
        return -1;
    if (fixture_plugins_dir(f->fixtures, sizeof(f->fixtures)) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->cache_open)
        plugin_cache_destroy(&f->cache);
    crun_error_clear(&f->err);
    int rc = fixture_rmtree(f->root);
    free(f);
    return rc;
}

/* Path of a built fixture, e.g. fixture("alpha") -> <fixtures>/fixture_alpha.so */
static const char *built_fixture(fixture *f, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/fixture_%s.so", f->fixtures, name);
    if (access(buf, R_OK) != 0) {
        print_error("fixture %s is missing (is CRUN_TEST_FIXTURE_DIR right?)\n", buf);
        fail();
    }
    return buf;
}

/* Copy the fixture `name` to dir/file; returns the new path in buf. */
static const char *install(fixture *f, const char *name, const char *dir, const char *file,
                           char *buf, size_t size)
{
    char src[PATH_MAX];
    built_fixture(f, name, src, sizeof(src));
    snprintf(buf, size, "%s/%s", dir, file);
    FILE *in = fopen(src, "rb"), *out = fopen(buf, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        assert_int_equal(fwrite(chunk, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static void open_cache(fixture *f, const char *first, const char *second)
{
    char *dirs[2] = {(char *)first, (char *)second};
    assert_int_equal(plugin_cache_init(&f->cache, f->root, dirs, second ? 2 : first ? 1 : 0), 0);
    f->cache_open = true;
}

static int load(fixture *f, crun_plugin_kind kind, const char *name, const crun_plugin **out)
{
    crun_error_clear(&f->err);
    *out = NULL;
    return plugin_load(&f->cache, kind, name, out, &f->err);
}

static void assert_message_contains(fixture *f, const char *part)
{
    assert_non_null(f->err.message);
    if (!strstr(f->err.message, part)) {
        print_error("message \"%s\"\nlacks \"%s\"\n", f->err.message, part);
        fail();
    }
}

/* Loading path as a `kind` plugin is refused with CRUN_EPLUGIN, a message
 * naming the file, and the reason.  The load runs in a child process, so that
 * a loader that crashes on a bad file fails this test only (under ASan too). */
static void assert_refused(fixture *f, const char *path, crun_plugin_kind kind, const char *reason)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's handlers would report the crash as a test of this child */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        close(fds[0]);
        open_cache(f, f->d1, NULL);
        const crun_plugin *d;
        int rc = load(f, kind, path, &d);
        char out[2048];
        int len = snprintf(out, sizeof(out), "%d %d %zu %s", rc, d != NULL, f->cache.n,
                           f->err.message ? f->err.message : "(no message)");
        ssize_t w = write(fds[1], out, (size_t)len);
        (void)w;
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    char buf[2048];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 && (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_error("the loader crashed on %s (%s %d)\n", path,
                    WIFSIGNALED(status) ? "signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        fail();
    }
    int rc = 0, have = 0;
    size_t cached = 0;
    int used = 0;
    assert_int_equal(sscanf(buf, "%d %d %zu %n", &rc, &have, &cached, &used), 3);
    assert_int_equal(rc, CRUN_EPLUGIN);
    assert_int_equal(have, 0);
    assert_int_equal(cached, 0);
    crun_error_set(&f->err, rc, "%s", buf + used);
    assert_message_contains(f, path);
    assert_message_contains(f, reason);
}

/* --- refusals ------------------------------------------------------------------------- */

static void test_missing_file_is_refused(void **state)
{
    fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/nothing_here.so", f->d1);
    assert_refused(f, path, CRUN_PLUGIN_DATASET, "no such file");
}

static void test_text_file_named_so_is_not_elf(void **state)
{
    fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/x.so", f->d1);
    write_text(path, "this is not a shared object\n");
    assert_refused(f, path, CRUN_PLUGIN_DATASET, "not a shared object (not an ELF file)");
}

static void test_shared_object_without_entry_is_refused(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "no_entry", path, sizeof(path));
    assert_refused(f, path, CRUN_PLUGIN_DATASET, "not a crun plugin (no crun_plugin_entry symbol)");
}

/* (This one used to crash: the magic was read for the message after dlclose.) */
static void test_wrong_magic_is_refused(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "bad_magic", path, sizeof(path));
    assert_refused(f, path, CRUN_PLUGIN_DATASET, "bad magic 0xdeadbeef");
}

static void test_abi_major_99_is_refused(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "abi99", path, sizeof(path));
    assert_refused(f, path, CRUN_PLUGIN_DATASET, "built for crun ABI 99.3");
}

/* A runner built against ABI 1.x (whose table had another layout) is
 * refused before its table is read, and the message names both versions. */
static void test_abi_1_runner_is_refused_naming_both_versions(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "abi1", path, sizeof(path));
    char both[128];
    snprintf(both, sizeof(both), "built for crun ABI 1.2; this crun speaks ABI %d.%d: rebuild",
             CRUN_ABI_MAJOR, CRUN_ABI_MINOR);
    assert_refused(f, path, CRUN_PLUGIN_RUNNER, both);
}

/* A plugin of a newer minor may use what this host lacks. */
static void test_newer_minor_is_refused(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "newer_minor", path, sizeof(path));
    char both[128];
    snprintf(both, sizeof(both), "built for crun ABI %d.%d, newer than this crun's ABI %d.%d",
             CRUN_ABI_MAJOR, CRUN_ABI_MINOR + 1, CRUN_ABI_MAJOR, CRUN_ABI_MINOR);
    assert_refused(f, path, CRUN_PLUGIN_DATASET, both);
}

/* A table shorter than its kind's table in the declared minor would be
 * read past its end: refused. */
static void test_table_shorter_than_its_minor_is_refused(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "short_table", path, sizeof(path));
    assert_refused(f, path, CRUN_PLUGIN_RUNNER, "malformed runner table");
}

/* The host hands out its own full-size copy of a good plugin's table. */
static void test_loaded_table_is_the_hosts_full_size_copy(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "alpha", path, sizeof(path));
    void *dl = NULL;
    const crun_plugin *d = NULL;
    assert_int_equal(plugin_open_file(path, CRUN_PLUGIN_DATASET, &dl, &d, &f->err), 0);
    const crun_dataset_type *t = d->table;
    assert_int_equal(t->size, sizeof(crun_dataset_type));
    assert_int_equal(d->size, sizeof(crun_plugin));
    assert_string_equal(d->name, "alpha");
    plugin_close_file(dl, d);
}

static void test_wrong_kind_is_refused(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "alpha", path, sizeof(path));
    assert_refused(f, path, CRUN_PLUGIN_RUNNER, "'alpha' is a dataset plugin, not a runner plugin");
}

static void test_descriptor_with_null_table_is_refused(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "null_table", path, sizeof(path));
    assert_refused(f, path, CRUN_PLUGIN_DATASET, "malformed descriptor");
}

static void test_open_file_refuses_like_load(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    built_fixture(f, "abi99", path, sizeof(path));
    void *dl = (void *)1;
    const crun_plugin *d = (const crun_plugin *)1;
    assert_int_equal(plugin_open_file(path, 0, &dl, &d, &f->err), CRUN_EPLUGIN);
    assert_null(dl);
    assert_null(d);
    assert_message_contains(f, path);
    assert_message_contains(f, "ABI 99.3");
}

/* --- the search path ------------------------------------------------------------------ */

static void test_found_by_name_first_folder_wins(void **state)
{
    fixture *f = *state;
    char p[256];
    install(f, "alpha", f->d1, "dup.so", p, sizeof(p));
    install(f, "beta", f->d2, "dup.so", p, sizeof(p));
    open_cache(f, f->d1, f->d2);
    const crun_plugin *d;
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "dup", &d), 0);
    assert_string_equal(d->name, "alpha");
    plugin_cache_destroy(&f->cache);
    f->cache_open = false;
    open_cache(f, f->d2, f->d1);
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "dup", &d), 0);
    assert_string_equal(d->name, "beta");
}

static void test_lib_prefixed_file_is_found(void **state)
{
    fixture *f = *state;
    char p[256];
    install(f, "beta", f->d2, "libgamma.so", p, sizeof(p));
    open_cache(f, f->d1, f->d2);
    const crun_plugin *d;
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "gamma", &d), 0);
    assert_string_equal(d->name, "beta");
    assert_int_equal(f->cache.n, 1);
    assert_string_equal(f->cache.items[0].path, p);
}

static void test_relative_path_resolves_against_base_folder(void **state)
{
    fixture *f = *state;
    char p[256];
    install(f, "alpha", f->d2, "mine.so", p, sizeof(p));
    open_cache(f, f->d1, NULL);
    const crun_plugin *d;
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "d2/mine.so", &d), 0);
    assert_string_equal(d->name, "alpha");
}

static void test_not_found_suggests_from_so_files_present(void **state)
{
    fixture *f = *state;
    char p[256];
    install(f, "alpha", f->d1, "alpha.so", p, sizeof(p));
    install(f, "beta", f->d2, "libbeta.so", p, sizeof(p));
    open_cache(f, f->d1, f->d2);
    const crun_plugin *d;
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "alpah", &d), CRUN_EPLUGIN);
    assert_message_contains(f, "no dataset plugin named 'alpah' (did you mean 'alpha'?)");
    char searched[300];
    snprintf(searched, sizeof(searched), "%s:%s", f->d1, f->d2);
    assert_message_contains(f, searched);
    /* a lib-prefixed file is suggested by its plugin name */
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "bota", &d), CRUN_EPLUGIN);
    assert_message_contains(f, "(did you mean 'beta'?)");
}

static void test_not_found_without_close_name_has_no_suggestion(void **state)
{
    fixture *f = *state;
    char p[256];
    install(f, "alpha", f->d1, "alpha.so", p, sizeof(p));
    open_cache(f, f->d1, NULL);
    const crun_plugin *d;
    assert_int_equal(load(f, CRUN_PLUGIN_RUNNER, "sequential", &d), CRUN_EPLUGIN);
    assert_message_contains(f, "no runner plugin named 'sequential'");
    assert_null(strstr(f->err.message, "did you mean"));
}

/* --- the cache ------------------------------------------------------------------------- */

static void test_loading_twice_returns_same_descriptor(void **state)
{
    fixture *f = *state;
    char p[256];
    install(f, "alpha", f->d1, "alpha.so", p, sizeof(p));
    open_cache(f, f->d1, NULL);
    const crun_plugin *first, *again, *by_path;
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "alpha", &first), 0);
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "alpha", &again), 0);
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, p, &by_path), 0);
    assert_ptr_equal(first, again);
    assert_ptr_equal(first, by_path);
    assert_int_equal(f->cache.n, 1);
}

static void test_cached_plugin_asked_as_other_kind_is_refused(void **state)
{
    fixture *f = *state;
    char p[256];
    install(f, "alpha", f->d1, "alpha.so", p, sizeof(p));
    open_cache(f, f->d1, NULL);
    const crun_plugin *d;
    assert_int_equal(load(f, CRUN_PLUGIN_DATASET, "alpha", &d), 0);
    assert_int_equal(load(f, CRUN_PLUGIN_HOOKS, "alpha", &d), CRUN_EPLUGIN);
    assert_message_contains(f, p);
    assert_message_contains(f, "'alpha' is a dataset plugin, not a hooks plugin");
}

/* --- listing --------------------------------------------------------------------------- */

static json_t *find_listed(json_t *list, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
            return o;
    }
    return NULL;
}

static void test_plugin_list_lists_every_plugin_in_search_folders(void **state)
{
    fixture *f = *state;
    char a1[256], b2[256], a2[256], junk[256], bad[256];
    install(f, "alpha", f->d1, "alpha.so", a1, sizeof(a1));
    install(f, "beta", f->d2, "libbeta.so", b2, sizeof(b2));
    install(f, "alpha", f->d2, "alpha.so", a2, sizeof(a2)); /* shadowed by d1's */
    install(f, "no_entry", f->d2, "helper.so", bad, sizeof(bad));
    snprintf(junk, sizeof(junk), "%s/junk.so", f->d1);
    write_text(junk, "not ELF");
    char notes[256];
    snprintf(notes, sizeof(notes), "%s/notes.txt", f->d1);
    write_text(notes, "hello");
    open_cache(f, f->d1, f->d2);
    json_t *list = plugin_list(&f->cache);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 2);
    json_t *alpha = find_listed(list, "alpha"), *beta = find_listed(list, "beta");
    assert_non_null(alpha);
    assert_non_null(beta);
    assert_string_equal(json_string_value(json_object_get(alpha, "path")), a1);
    assert_string_equal(json_string_value(json_object_get(alpha, "kind")), "dataset");
    assert_string_equal(json_string_value(json_object_get(alpha, "version")), "0.0.1");
    assert_string_equal(json_string_value(json_object_get(alpha, "description")),
                        "test fixture alpha");
    assert_string_equal(json_string_value(json_object_get(beta, "path")), b2);
    char abi[32];
    snprintf(abi, sizeof(abi), "%d.%d", CRUN_ABI_MAJOR, CRUN_ABI_MINOR);
    assert_string_equal(json_string_value(json_object_get(beta, "abi")), abi);
    json_decref(list);
    /* listing opens nothing for good */
    assert_int_equal(f->cache.n, 0);
}

/* A node library whose table promises functions it does not have is
 * refused when it is opened, not when a lookup meets the NULL. */
static int some_node(crun_call *call)
{
    (void)call;
    return 0;
}

static void expect_nodes_refused(const crun_nodes_type *table, const char *want)
{
    crun_plugin d = {CRUN_PLUGIN_HEAD, .kind = CRUN_PLUGIN_NODES, .name = "lib", .table = table};
    const crun_plugin *out = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(plugin_check_descriptor("lib.so", &d, 0, &out, &err), CRUN_EPLUGIN);
    assert_null(out);
    assert_non_null(strstr(err.message, want));
    crun_error_clear(&err);
}

static void test_nodes_table_without_names_or_functions_is_refused(void **state)
{
    (void)state;
    crun_nodes_type none = {sizeof(crun_nodes_type), NULL, 3};
    expect_nodes_refused(&none, "malformed nodes table (3 functions but no array of them)");
    const crun_node_def unnamed[] = {{"ok", some_node, ""}, {NULL, some_node, ""}};
    crun_nodes_type t1 = {sizeof(crun_nodes_type), unnamed, 2};
    expect_nodes_refused(&t1, "malformed nodes table (entry 1 has no name)");
    const crun_node_def no_fn[] = {{"f", NULL, ""}};
    crun_nodes_type t2 = {sizeof(crun_nodes_type), no_fn, 1};
    expect_nodes_refused(&t2, "malformed nodes table (entry 0 has no function)");
    /* a whole table passes, and the copy is the host's */
    crun_nodes_type good = {sizeof(crun_nodes_type), unnamed, 1};
    crun_plugin d = {CRUN_PLUGIN_HEAD, .kind = CRUN_PLUGIN_NODES, .name = "lib", .table = &good};
    const crun_plugin *out = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(plugin_check_descriptor("lib.so", &d, CRUN_PLUGIN_NODES, &out, &err), 0);
    assert_ptr_not_equal(out, &d);
    assert_int_equal(((const crun_nodes_type *)out->table)->n_nodes, 1);
    plugin_close_file(NULL, out);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_missing_file_is_refused),
        T(test_text_file_named_so_is_not_elf),
        T(test_shared_object_without_entry_is_refused),
        T(test_wrong_magic_is_refused),
        T(test_abi_major_99_is_refused),
        T(test_abi_1_runner_is_refused_naming_both_versions),
        T(test_newer_minor_is_refused),
        T(test_table_shorter_than_its_minor_is_refused),
        T(test_loaded_table_is_the_hosts_full_size_copy),
        T(test_wrong_kind_is_refused),
        T(test_descriptor_with_null_table_is_refused),
        T(test_open_file_refuses_like_load),
        T(test_found_by_name_first_folder_wins),
        T(test_lib_prefixed_file_is_found),
        T(test_relative_path_resolves_against_base_folder),
        T(test_not_found_suggests_from_so_files_present),
        T(test_not_found_without_close_name_has_no_suggestion),
        T(test_loading_twice_returns_same_descriptor),
        T(test_cached_plugin_asked_as_other_kind_is_refused),
        T(test_plugin_list_lists_every_plugin_in_search_folders),
        T(test_nodes_table_without_names_or_functions_is_refused),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
