/* fixture.h - what every unit test shares: a temporary project folder per
 * test, files written into it, its removal, where the built plugins are,
 * and log lines captured from a session.
 *
 * Linked into every program of tests/unit (tests/meson.build).  The write
 * functions fail the current cmocka test when they cannot write; the others
 * return a code, for setup and teardown functions.  Nothing here keeps
 * state: every function may be called from any test, one thread at a time,
 * except fixture_log_line (any thread).  Include it after <cmocka.h>.
 */
#ifndef CRUN_TEST_FIXTURE_H
#define CRUN_TEST_FIXTURE_H

#include <pthread.h>
#include <stddef.h>

#include "crun/crun.h"

/* Room for any folder fixture_tmpdir makes, with its NUL. */
#define FIXTURE_DIR_SIZE 64

/* A fresh folder /tmp/crun-test-TAG-XXXXXX into dir (FIXTURE_DIR_SIZE
 * bytes); 0, or -1 when it cannot be made. */
int fixture_tmpdir(char *dir, const char *tag);
/* Remove dir and everything below it (links are not followed); 0 or -1. */
int fixture_rmtree(const char *dir);

/* Write dir/rel (creating its folders): text, len bytes of data, or text
 * made from fmt.  Replaces what was there. */
void fixture_put(const char *dir, const char *rel, const char *text);
void fixture_putn(const char *dir, const char *rel, const void *data, size_t len);
void fixture_putf(const char *dir, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "dir/rel", malloc'd (the caller frees it). */
char *fixture_path(const char *dir, const char *rel);
/* The whole of dir/rel, NUL-terminated, malloc'd (the caller frees it);
 * NULL when it cannot be read. */
char *fixture_slurp(const char *dir, const char *rel);
/* The same, failing the test when it cannot be read. */
char *fixture_read(const char *dir, const char *rel);

/* Fail the test unless text (may be NULL) contains part, showing both. */
void fixture_assert_contains(const char *text, const char *part);

/* The built-in plugins' folders, ':'-separated (CRUN_TEST_PLUGIN_DIRS from
 * the environment, else the one compiled in); borrowed, static text. */
const char *fixture_plugin_dirs(void);
/* The folder of the test plugins of tests/fixtures/plugins
 * (CRUN_TEST_FIXTURE_DIR, else <build>/tests/fixtures/plugins when the
 * program runs from <build>/tests); written into dir (size bytes): 0 or -1. */
int fixture_plugins_dir(char *dir, size_t size);

/* Log lines of a session, "LEVEL line\n" each, in the order they came. */
typedef struct fixture_log {
    pthread_mutex_t lock;
    char *text; /* NULL until the first line */
    size_t len;
} fixture_log;

void fixture_log_init(fixture_log *log);
void fixture_log_clear(fixture_log *log);
/* A crun_log_fn: user is a fixture_log. */
void fixture_log_line(void *user, crun_log_level level, const char *line);

/* --- sessions (crun/session.h) on a test project --- */

/* Options for a session on dir with the built-in plugins, log lines going
 * to log_fn(log_user) and crun.ini/hooks.yml hooks skipped when no_hooks. */
crun_session_options fixture_session_options(const char *dir, crun_log_fn log_fn, void *log_user,
                                             bool no_hooks);
/* Open such a session with hooks skipped and the log in log; fails the test
 * unless it opens.  The caller closes it. */
crun_session *fixture_session_open(const char *dir, fixture_log *log);
/* crun_session_run (opts NULL: the defaults) after clearing res and err. */
int fixture_session_run(crun_session *s, const crun_run_options *opts, crun_run_result *res,
                        crun_error *err);
/* Fail the test unless rc is 0, showing the run's message and log. */
void fixture_assert_run_ok(int rc, const crun_error *err, const char *log);

#endif
