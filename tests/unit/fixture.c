/* fixture.c - temporary projects and captured logs for the unit tests
 * (see fixture.h).  Folders are made with mkdtemp and removed with nftw;
 * files are written with stdio after their folders are made, so a test
 * states a project as a list of (path, text) pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

#ifndef CRUN_TEST_PLUGIN_DIRS
#define CRUN_TEST_PLUGIN_DIRS ""
#endif

int fixture_tmpdir(char *dir, const char *tag)
{
    int n = snprintf(dir, FIXTURE_DIR_SIZE, "/tmp/crun-test-%s-XXXXXX", tag);
    if (n < 0 || n >= FIXTURE_DIR_SIZE)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int fixture_rmtree(const char *dir)
{
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/rel into path, with every folder between them made. */
static void make_parents(const char *dir, const char *rel, char *path, size_t size)
{
    int n = snprintf(path, size, "%s/%s", dir, rel);
    assert_true(n > 0 && (size_t)n < size);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755); /* EEXIST is fine; fopen says the rest */
        *slash = '/';
    }
}

void fixture_putn(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[4096];
    make_parents(dir, rel, path, sizeof(path));
    FILE *file = fopen(path, "wb");
    if (!file)
        fail_msg("cannot write %s", path);
    assert_int_equal(fwrite(data, 1, len, file), len);
    assert_int_equal(fclose(file), 0);
}

void fixture_put(const char *dir, const char *rel, const char *text)
{
    fixture_putn(dir, rel, text, strlen(text));
}

void fixture_putf(const char *dir, const char *rel, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    fixture_putn(dir, rel, text, (size_t)n);
    free(text);
}

char *fixture_path(const char *dir, const char *rel)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, rel) > 0);
    return path;
}

char *fixture_slurp(const char *dir, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    char *data = NULL;
    size_t len = 0, cap = 0, got = 0;
    do {
        if (len + 4096 + 1 > cap) {
            char *grown = realloc(data, cap = 2 * cap + 4096 + 1);
            if (!grown) {
                free(data);
                fclose(file);
                return NULL;
            }
            data = grown;
        }
        got = fread(data + len, 1, 4096, file);
        len += got;
    } while (got > 0);
    fclose(file);
    data[len] = '\0';
    return data;
}

char *fixture_read(const char *dir, const char *rel)
{
    char *text = fixture_slurp(dir, rel);
    if (!text)
        fail_msg("cannot read %s/%s", dir, rel);
    return text;
}

void fixture_assert_contains(const char *text, const char *part)
{
    if (!text || !strstr(text, part)) {
        print_error("\"%s\"\nlacks \"%s\"\n", text ? text : "(null)", part);
        fail();
    }
}

const char *fixture_plugin_dirs(void)
{
    const char *dirs = getenv("CRUN_TEST_PLUGIN_DIRS");
    return dirs && *dirs ? dirs : CRUN_TEST_PLUGIN_DIRS;
}

int fixture_plugins_dir(char *dir, size_t size)
{
    const char *env = getenv("CRUN_TEST_FIXTURE_DIR");
    if (env && *env)
        return snprintf(dir, size, "%s", env) < (int)size ? 0 : -1;
    /* run by hand: this program is <build>/tests/test_NAME */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return snprintf(dir, size, "%s/fixtures/plugins", exe) < (int)size ? 0 : -1;
}

void fixture_log_init(fixture_log *log)
{
    *log = (fixture_log){.text = NULL};
    pthread_mutex_init(&log->lock, NULL);
}

void fixture_log_clear(fixture_log *log)
{
    free(log->text);
    log->text = NULL;
    log->len = 0;
    pthread_mutex_destroy(&log->lock);
}

void fixture_log_line(void *user, crun_log_level level, const char *line)
{
    fixture_log *b = user;
    pthread_mutex_lock(&b->lock);
    size_t add = strlen(line) + 16;
    char *t = realloc(b->text, b->len + add);
    if (t) {
        b->text = t;
        b->len += (size_t)snprintf(t + b->len, add, "%d %s\n", (int)level, line);
    }
    pthread_mutex_unlock(&b->lock);
}

crun_session_options fixture_session_options(const char *dir, crun_log_fn log_fn, void *log_user,
                                             bool no_hooks)
{
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = dir;
    so.builtin_plugin_dir = fixture_plugin_dirs();
    so.log_fn = log_fn;
    so.log_user = log_user;
    so.no_hooks = no_hooks;
    return so;
}

crun_session *fixture_session_open(const char *dir, fixture_log *log)
{
    crun_session_options so = fixture_session_options(dir, fixture_log_line, log, true);
    crun_session *s = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_session_open(&so, &s, &err);
    if (rc)
        print_error("crun_session_open: %s\n", err.message);
    crun_error_clear(&err);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

int fixture_session_run(crun_session *s, const crun_run_options *opts, crun_run_result *res,
                        crun_error *err)
{
    crun_run_options defaults = CRUN_RUN_OPTIONS_INIT;
    crun_run_result_clear(res);
    crun_error_clear(err);
    res->size = sizeof(*res); /* clearing zeroes it: a result is sized (ABI 2.0) */
    return crun_session_run(s, opts ? opts : &defaults, res, err);
}

void fixture_assert_run_ok(int rc, const crun_error *err, const char *log)
{
    if (rc)
        print_error("run failed: %s\nlog:\n%s\n", err->message ? err->message : "",
                    log ? log : "");
    assert_int_equal(rc, 0);
}
