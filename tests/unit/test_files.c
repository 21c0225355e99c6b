/* test_files.c - atomic saves, whole-file reads and dataset paths (files.c).
 *
 * Each test works in its own mkdtemp folder, removed afterwards.  Failures are
 * provoked with a file-size limit (write fails half-way) rather than file
 * permissions, so the tests also hold when run as root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crun/dataset.h"
#include "fixture.h"

typedef struct fixture {
    char dir[FIXTURE_DIR_SIZE];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    if (fixture_tmpdir(f->dir, "files") != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = fixture_rmtree(f->dir);
    free(f);
    return rc;
}

/* The save under test: crun_file_write_atomic of text to rel. */
static void write_file(const fixture *f, const char *rel, const char *text)
{
    char *p = fixture_path(f->dir, rel);
    assert_int_equal(crun_file_write_atomic(p, text, strlen(text), NULL), 0);
    free(p);
}

static void assert_file_is(const fixture *f, const char *rel, const char *text)
{
    char *p = fixture_path(f->dir, rel), *data = NULL;
    size_t len = 0;
    assert_int_equal(crun_file_read(p, &data, &len, NULL), 0);
    assert_int_equal(len, strlen(text));
    assert_string_equal(data, text);
    free(data);
    free(p);
}

/* Files in folder rel, hidden ones included (temporaries start with '.'). */
static int count_entries(const fixture *f, const char *rel)
{
    char *p = fixture_path(f->dir, rel);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    free(p);
    return n;
}

static void test_atomic_write_creates_parent_folders(void **state)
{
    fixture *f = *state;
    write_file(f, "data/01_raw/x.txt", "hello");
    assert_file_is(f, "data/01_raw/x.txt", "hello");
}

static void test_atomic_write_replaces_whole_file(void **state)
{
    fixture *f = *state;
    write_file(f, "x.txt", "a much longer first version");
    write_file(f, "x.txt", "short");
    assert_file_is(f, "x.txt", "short");
    assert_int_equal(count_entries(f, "."), 1);
}

static void test_atomic_write_failure_leaves_old_file(void **state)
{
    fixture *f = *state;
    write_file(f, "x.txt", "old");
    const size_t big = 1 << 20;
    char *data = calloc(1, big);
    char *p = fixture_path(f->dir, "x.txt");
    struct rlimit saved, small = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_file_write_atomic(p, data, big, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, CRUN_EIO);
    assert_non_null(strstr(err.message, "x.txt: File too large"));
    assert_file_is(f, "x.txt", "old");
    assert_int_equal(count_entries(f, "."), 1); /* no temporary left behind */
    crun_error_clear(&err);
    free(p);
    free(data);
}

static void test_atomic_write_keeps_mode_of_replaced_file(void **state)
{
    fixture *f = *state;
    write_file(f, "run.sh", "#!/bin/sh\n");
    char *p = fixture_path(f->dir, "run.sh");
    assert_int_equal(chmod(p, 0750), 0);
    write_file(f, "run.sh", "#!/bin/sh\necho\n");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    free(p);
}

static void test_file_read_missing_names_file(void **state)
{
    fixture *f = *state;
    char *p = fixture_path(f->dir, "data/01_raw/x.csv"), *data = NULL;
    size_t len = 0;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_file_read(p, &data, &len, &err), CRUN_ENOENT);
    assert_null(data);
    assert_non_null(strstr(err.message, "data/01_raw/x.csv: No such file or directory"));
    crun_error_clear(&err);
    free(p);
}

static void test_file_read_of_folder_fails(void **state)
{
    fixture *f = *state;
    char *data = NULL;
    size_t len = 0;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_file_read(f->dir, &data, &len, &err), CRUN_EIO);
    assert_non_null(strstr(err.message, "Is a directory"));
    crun_error_clear(&err);
}

static void test_file_read_terminates_with_nul(void **state)
{
    fixture *f = *state;
    write_file(f, "x.txt", "abc");
    char *p = fixture_path(f->dir, "x.txt"), *data = NULL;
    size_t len = 0;
    assert_int_equal(crun_file_read(p, &data, &len, NULL), 0);
    assert_int_equal(len, 3);
    assert_int_equal(data[3], '\0');
    free(data);
    free(p);
}

static void test_file_commit_moves_temp_into_new_folder(void **state)
{
    fixture *f = *state;
    write_file(f, ".out.tmp", "made by a command");
    char *tmp = fixture_path(f->dir, ".out.tmp"), *dst = fixture_path(f->dir, "out/report.md");
    assert_int_equal(crun_file_commit(tmp, dst, NULL), 0);
    assert_file_is(f, "out/report.md", "made by a command");
    assert_int_equal(access(tmp, F_OK), -1);
    free(tmp);
    free(dst);
}

static void test_file_commit_failure_removes_temp(void **state)
{
    fixture *f = *state;
    write_file(f, ".out.tmp", "x");
    write_file(f, "dir/keep", "y");
    char *tmp = fixture_path(f->dir, ".out.tmp"), *dst = fixture_path(f->dir, "dir");
    crun_error err = CRUN_ERROR_INIT;
    assert_int_not_equal(crun_file_commit(tmp, dst, &err), 0); /* a folder is in the way */
    assert_non_null(strstr(err.message, "/dir: "));
    assert_int_equal(access(tmp, F_OK), -1);
    crun_error_clear(&err);
    free(tmp);
    free(dst);
}

static crun_dataset_ctx ctx_for(const fixture *f, const char *name)
{
    crun_dataset_ctx ctx = {.size = sizeof(ctx), .name = name, .project_dir = f->dir};
    return ctx;
}

static void test_dataset_path_resolves_relative_to_project(void **state)
{
    fixture *f = *state;
    crun_dataset_ctx ctx = ctx_for(f, "x");
    char *out = NULL, *want = fixture_path(f->dir, "data/x.json");
    assert_int_equal(crun_dataset_path(&ctx, "data/x.json", false, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
    assert_int_equal(crun_dataset_path(&ctx, "/abs/x.json", true, &out, NULL), 0);
    assert_string_equal(out, "/abs/x.json");
    free(out);
    free(want);
}

static void test_versioned_save_uses_save_version(void **state)
{
    fixture *f = *state;
    crun_dataset_ctx ctx = ctx_for(f, "x");
    ctx.versioned = true;
    ctx.save_version = "2026-11-23T16.45.00.123Z";
    char *out = NULL, *want = fixture_path(f->dir, "data/x.json/2026-11-23T16.45.00.123Z/x.json");
    assert_int_equal(crun_dataset_path(&ctx, "data/x.json", true, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
    free(want);
}

static void test_versioned_load_picks_newest_complete(void **state)
{
    fixture *f = *state;
    write_file(f, "data/x.json/2026-01-01T00.00.00.000Z/x.json", "1");
    write_file(f, "data/x.json/2026-03-01T00.00.00.000Z/x.json", "3");
    write_file(f, "data/x.json/2026-02-01T00.00.00.000Z/x.json", "2");
    /* A newer save that never completed: its folder holds only a temporary. */
    write_file(f, "data/x.json/2026-04-01T00.00.00.000Z/.x.json.tmp-abcdef", "4");
    crun_dataset_ctx ctx = ctx_for(f, "x");
    ctx.versioned = true;
    char *out = NULL, *want = fixture_path(f->dir, "data/x.json/2026-03-01T00.00.00.000Z/x.json");
    assert_int_equal(crun_dataset_path(&ctx, "data/x.json", false, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
    free(want);
}

static void test_versioned_load_uses_pinned_version(void **state)
{
    fixture *f = *state;
    write_file(f, "data/x.json/2026-01-01T00.00.00.000Z/x.json", "1");
    write_file(f, "data/x.json/2026-03-01T00.00.00.000Z/x.json", "3");
    crun_dataset_ctx ctx = ctx_for(f, "x");
    ctx.versioned = true;
    ctx.load_version = "2026-01-01T00.00.00.000Z";
    char *out = NULL, *want = fixture_path(f->dir, "data/x.json/2026-01-01T00.00.00.000Z/x.json");
    assert_int_equal(crun_dataset_path(&ctx, "data/x.json", false, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
    free(want);
}

static void test_versioned_load_without_versions_names_dataset(void **state)
{
    fixture *f = *state;
    crun_dataset_ctx ctx = ctx_for(f, "x");
    ctx.versioned = true;
    char *out = NULL;
    crun_error err = CRUN_ERROR_INIT;
    assert_int_equal(crun_dataset_path(&ctx, "data/x.json", false, &out, &err), CRUN_ENOENT);
    assert_null(out);
    assert_string_equal(err.message, "dataset 'x': no version of data/x.json found");
    crun_error_clear(&err);
}

/* A save killed after it made its temporary file left it unlocked: the next
 * save of the same file takes it over, and nothing is left behind. */
static void test_save_takes_over_a_killed_saves_temp(void **state)
{
    fixture *f = *state;
    write_file(f, "data/x.txt", "old");
    write_file(f, "data/.x.txt.tmp-crun", "half of a kill");
    write_file(f, "data/x.txt", "new");
    assert_file_is(f, "data/x.txt", "new");
    assert_int_equal(count_entries(f, "data"), 1);
}

/* A live writer holds its temporary file locked: a second save at the same
 * time uses a name of its own, and the first one's file is left alone. */
static void test_save_beside_a_live_writer_leaves_its_temp(void **state)
{
    fixture *f = *state;
    write_file(f, "data/x.txt", "old");
    write_file(f, "data/.x.txt.tmp-crun", "being written");
    char *tmp = fixture_path(f->dir, "data/.x.txt.tmp-crun");
    int held = open(tmp, O_RDONLY);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0);
    write_file(f, "data/x.txt", "new");
    assert_file_is(f, "data/x.txt", "new");
    assert_file_is(f, "data/.x.txt.tmp-crun", "being written");
    assert_int_equal(count_entries(f, "data"), 2);
    close(held);
    free(tmp);
}

/* A dataset file that is a symbolic link stays one: its target gets the data. */
static void test_save_through_symlink_replaces_its_target(void **state)
{
    fixture *f = *state;
    write_file(f, "runs/a/x.txt", "old");
    char *link = fixture_path(f->dir, "data/x.txt");
    write_file(f, "data/other", ""); /* makes data/ */
    assert_int_equal(symlink("../runs/a/x.txt", link), 0);
    write_file(f, "data/x.txt", "new");
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_file_is(f, "runs/a/x.txt", "new");
    assert_int_equal(count_entries(f, "runs/a"), 1);
    /* a link to a file not made yet: the file is made where it points */
    char *dangling = fixture_path(f->dir, "data/y.txt");
    assert_int_equal(symlink("../runs/b.txt", dangling), 0);
    write_file(f, "data/y.txt", "made");
    assert_file_is(f, "runs/b.txt", "made");
    assert_int_equal(lstat(dangling, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(dangling);
    free(link);
}

/* Age a path, as a save killed a while ago left it. */
static void make_old(const fixture *f, const char *rel)
{
    char *p = fixture_path(f->dir, rel);
    struct timespec t[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    free(p);
}

/* A versioned save cleans the version folders killed saves left (no file,
 * an unlocked temporary), but not a fresh one: it may be a live save's. */
static void test_versioned_save_drops_unfinished_versions(void **state)
{
    fixture *f = *state;
    write_file(f, "data/x.json/2026-01-01T00.00.00.000Z/x.json", "1");
    write_file(f, "data/x.json/2026-02-01T00.00.00.000Z/.x.json.tmp-crun", "killed");
    make_old(f, "data/x.json/2026-02-01T00.00.00.000Z");
    write_file(f, "data/x.json/2026-03-01T00.00.00.000Z/.x.json.tmp-crun", "live");
    crun_dataset_ctx ctx = ctx_for(f, "x");
    ctx.versioned = true;
    ctx.save_version = "2026-04-01T00.00.00.000Z";
    char *out = NULL;
    assert_int_equal(crun_dataset_path(&ctx, "data/x.json", true, &out, NULL), 0);
    free(out);
    char *killed = fixture_path(f->dir, "data/x.json/2026-02-01T00.00.00.000Z");
    struct stat st;
    assert_int_not_equal(stat(killed, &st), 0);
    assert_int_equal(count_entries(f, "data/x.json"), 2);
    assert_file_is(f, "data/x.json/2026-03-01T00.00.00.000Z/.x.json.tmp-crun", "live");
    free(killed);
}

#define FILE_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FILE_TEST(test_atomic_write_creates_parent_folders),
        FILE_TEST(test_atomic_write_replaces_whole_file),
        FILE_TEST(test_atomic_write_failure_leaves_old_file),
        FILE_TEST(test_atomic_write_keeps_mode_of_replaced_file),
        FILE_TEST(test_file_read_missing_names_file),
        FILE_TEST(test_file_read_of_folder_fails),
        FILE_TEST(test_file_read_terminates_with_nul),
        FILE_TEST(test_file_commit_moves_temp_into_new_folder),
        FILE_TEST(test_file_commit_failure_removes_temp),
        FILE_TEST(test_dataset_path_resolves_relative_to_project),
        FILE_TEST(test_versioned_save_uses_save_version),
        FILE_TEST(test_versioned_load_picks_newest_complete),
        FILE_TEST(test_versioned_load_uses_pinned_version),
        FILE_TEST(test_versioned_load_without_versions_names_dataset),
        FILE_TEST(test_save_takes_over_a_killed_saves_temp),
        FILE_TEST(test_save_beside_a_live_writer_leaves_its_temp),
        FILE_TEST(test_save_through_symlink_replaces_its_target),
        FILE_TEST(test_versioned_save_drops_unfinished_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
