/* test_process.c - libcrun's child-process module (runner/run/process.c)
 * and command nodes' files, from inside a real run.
 *
 * Each test writes a project with command nodes into a temporary folder and
 * runs it with the sequential runner; a hook (registered with
 * crun_session_add_hook) reaches the run (internal crun_call) while a node
 * runs, to spawn and track children there.  realloc is wrapped (linked with
 * -Wl,--wrap=realloc) so that a test can make libcrun run out of memory at
 * one chosen moment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crun/crun.h"
#include "run/run.h"

#ifndef CRUN_TEST_PLUGIN_DIRS
#define CRUN_TEST_PLUGIN_DIRS ""
#endif

/* --- out of memory on demand --- */

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static bool realloc_fails; /* the test's own switch (tests are not libcrun) */

void *__wrap_realloc(void *p, size_t n)
{
    if (realloc_fails) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

/* --- fixture --- */

enum { CHILDREN = 9 }; /* one more than the table's first 8 slots */

typedef struct fixture {
    char dir[64];
    crun_session *s;
    crun_error err;
    /* what the hook did and saw */
    int (*action)(struct fixture *f, const crun_hook_event *ev);
    bool done;
    pid_t kids[CHILDREN];
    int spawn_rc;
    crun_hooks_type hooks; /* the session keeps a pointer to it until it closes */
} fixture;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/crun_proc_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    realloc_fails = false;
    for (size_t i = 0; i < CHILDREN; i++)
        if (f->kids[i] > 0) { /* a child the test could not see end */
            kill(f->kids[i], SIGKILL);
            waitpid(f->kids[i], NULL, 0);
        }
    crun_session_close(f->s);
    crun_error_clear(&f->err);
    int rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static void put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_true(fputs(text, file) >= 0);
    assert_int_equal(fclose(file), 0);
    chmod(path, 0755);
}

static char *slurp(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = buf ? fread(buf, 1, 4095, file) : 0;
    (void)n;
    fclose(file);
    return buf;
}

static int hook(void *instance, const crun_hook_event *ev, crun_error *err)
{
    fixture *f = instance;
    (void)err;
    if (f->done || !f->action || !ev->call)
        return 0;
    f->done = true;
    return f->action(f, ev);
}

static const crun_hooks_type *hook_type(fixture *f, bool before_node)
{
    f->hooks = (crun_hooks_type){.size = sizeof(crun_hooks_type)};
    if (before_node)
        f->hooks.on[CRUN_HOOK_BEFORE_NODE_RUN] = hook;
    f->hooks.on[CRUN_HOOK_BEFORE_DATASET_LOADED] = hook;
    return &f->hooks;
}

static void open_session(fixture *f, char *const *environ_)
{
    static const char *const fallback = CRUN_TEST_PLUGIN_DIRS;
    const char *dirs = getenv("CRUN_TEST_PLUGIN_DIRS");
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = f->dir;
    so.builtin_plugin_dir = dirs && *dirs ? dirs : fallback;
    so.no_hooks = true;
    so.environ = environ_;
    so.log_fn = NULL;
    int rc = crun_session_open(&so, &f->s, &f->err);
    if (rc)
        print_error("crun_session_open: %s\n", f->err.message);
    assert_int_equal(rc, 0);
}

static int run(fixture *f, const crun_hooks_type *hooks)
{
    if (hooks)
        assert_int_equal(crun_session_add_hook(f->s, "probe", hooks, f, &f->err), 0);
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    int rc = crun_session_run(f->s, &ro, &res, &f->err);
    crun_run_result_clear(&res);
    return rc;
}

static void one_node(fixture *f, const char *node)
{
    char text[1024];
    snprintf(text, sizeof(text), "pipelines:\n  __default__:\n    nodes:\n      - %s\n", node);
    put(f->dir, "conf/base/pipelines.yml", text);
}

/* pid's wait status within seconds, or -1 (it is still running). */
static int wait_within(pid_t pid, double seconds)
{
    for (int i = 0; i < (int)(seconds * 100); i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(10000);
    }
    return -1;
}

/* How many children of this process have the command name comm. */
static int children_named(const char *comm)
{
    int n = 0;
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[300], line[512], name[64];
        int ppid;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *file = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "r") : NULL;
        if (!file)
            continue;
        if (fgets(line, sizeof(line), file) && sscanf(line, "%*d (%63[^)]) %*c %d", name, &ppid) == 2 &&
            ppid == getpid() && strcmp(name, comm) == 0)
            n++;
        fclose(file);
    }
    if (d)
        closedir(d);
    return n;
}

/* --- tracking --- */

static pid_t spawn_sleeper(void)
{
    posix_spawnattr_t attr;
    assert_int_equal(posix_spawnattr_init(&attr), 0);
    assert_int_equal(posix_spawnattr_setpgroup(&attr, 0), 0);
    assert_int_equal(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP), 0);
    char *argv[] = {"sleep", "30", NULL};
    pid_t pid = 0;
    assert_int_equal(posix_spawnp(&pid, "sleep", NULL, &attr, argv, NULL), 0);
    posix_spawnattr_destroy(&attr);
    return pid;
}

/* Nine children tracked the old way, memory gone for the ninth; then cancel. */
static int track_then_cancel(fixture *f, const crun_hook_event *ev)
{
    crun_run *r = ev->call->run;
    for (size_t i = 0; i < CHILDREN; i++) {
        f->kids[i] = spawn_sleeper();
        realloc_fails = i == CHILDREN - 1;
        crun_run_track_child(r, f->kids[i]);
        realloc_fails = false;
    }
    crun_run_cancel(r);
    return 0;
}

/* A child tracked when the run has no memory left to record it is not left
 * out of cancel's reach: every tracked child has ended once cancel returns. */
static void test_cancel_reaches_a_child_tracked_without_memory(void **state)
{
    fixture *f = *state;
    one_node(f, "{name: wait, cmd: [\"true\"]}");
    open_session(f, NULL);
    f->action = track_then_cancel;
    run(f, hook_type(f, true));
    assert_true(f->done);
    for (size_t i = 0; i < CHILDREN; i++) {
        int status = wait_within(f->kids[i], 5);
        assert_true(status != -1); /* still running: cancel did not reach it */
        assert_true(WIFSIGNALED(status));
        f->kids[i] = 0;
    }
}

static int spawn_without_memory(fixture *f, const crun_hook_event *ev)
{
    crun_run *r = ev->call->run;
    char *argv[] = {"sleep", "30", NULL};
    crun_spawn spec = {.size = sizeof(spec), .flags = CRUN_SPAWN_TRACK, .argv = argv,
                       .out_fd = STDERR_FILENO, .err_fd = STDERR_FILENO};
    crun_error err = CRUN_ERROR_INIT;
    /* fill the table's first slots so that the next needs more memory */
    for (size_t i = 0; i < CHILDREN - 1; i++)
        crun_run_track_child(r, f->kids[i] = spawn_sleeper());
    realloc_fails = true;
    f->spawn_rc = crun_run_spawn(r, &spec, &f->kids[CHILDREN - 1], &err);
    realloc_fails = false;
    crun_error_clear(&err);
    for (size_t i = 0; i < CHILDREN - 1; i++) {
        crun_run_untrack_child(r, f->kids[i]);
        kill(f->kids[i], SIGKILL);
        waitpid(f->kids[i], NULL, 0);
        f->kids[i] = 0;
    }
    return 0;
}

/* A tracked spawn that cannot be recorded does not happen. */
static void test_tracked_spawn_without_memory_starts_nothing(void **state)
{
    fixture *f = *state;
    one_node(f, "{name: wait, cmd: [\"true\"]}");
    open_session(f, NULL);
    f->action = spawn_without_memory;
    assert_int_equal(run(f, hook_type(f, true)), 0);
    assert_int_equal(f->spawn_rc, CRUN_ENOMEM);
    assert_int_equal(f->kids[CHILDREN - 1], 0);
    assert_int_equal(children_named("sleep"), 0);
}

/* --- where programs are found --- */

/* A command's program is looked up on the PATH of the session's
 * environment, not on crun's own. */
static void test_program_is_found_on_the_sessions_path(void **state)
{
    fixture *f = *state;
    put(f->dir, "tools/only-here", "#!/bin/sh\necho found > \"$1\"\n");
    one_node(f, "{name: use, cmd: [only-here, \"{outputs.0}\"], outputs: out}");
    put(f->dir, "conf/base/catalog.yml", "out: {type: text, filepath: data/out.txt}\n");
    char path[200], tmpdir[] = "TMPDIR=/tmp";
    snprintf(path, sizeof(path), "PATH=%s/tools:/usr/bin:/bin", f->dir);
    char *env[] = {path, tmpdir, NULL};
    open_session(f, env);
    int rc = run(f, NULL);
    if (rc)
        print_error("%s\n", f->err.message);
    assert_int_equal(rc, 0);
    char out[200];
    snprintf(out, sizeof(out), "%s/data/out.txt", f->dir);
    char *text = slurp(out);
    assert_non_null(text);
    assert_string_equal(text, "found\n");
    free(text);
}

/* --- scratch files --- */

/* Another worker has opened the input's scratch file and not written it yet
 * (made here: an empty file under its name, from the hook that fires while
 * the value is loaded for it). */
static int half_written_scratch(fixture *f, const crun_hook_event *ev)
{
    crun_run *r = ev->call->run;
    (void)f;
    for (size_t ds = 0; ds < r->ir->n_ds; ds++)
        if (strcmp(r->ir->ds[ds].name, ev->dataset) == 0) {
            char path[512];
            snprintf(path, sizeof(path), "%s/in-%zu-params_greeting", r->scratch_dir, ds);
            FILE *file = fopen(path, "w");
            if (file)
                fclose(file);
        }
    return 0;
}

/* A command never reads an input's scratch file before it is whole. */
static void test_command_reads_its_input_whole_while_another_writes_it(void **state)
{
    fixture *f = *state;
    put(f->dir, "conf/base/parameters.yml", "greeting: hello\n");
    put(f->dir, "conf/base/catalog.yml", "out: {type: text, filepath: data/out.txt}\n");
    one_node(f, "{name: copy, cmd: [cp, \"{inputs.0}\", \"{outputs.0}\"], "
                "inputs: \"params:greeting\", outputs: out}");
    open_session(f, NULL);
    f->action = half_written_scratch;
    assert_int_equal(run(f, hook_type(f, false)), 0);
    assert_true(f->done);
    char out[200];
    snprintf(out, sizeof(out), "%s/data/out.txt", f->dir);
    char *text = slurp(out);
    assert_non_null(text);
    assert_string_equal(text, "\"hello\""); /* a string parameter is JSON */
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancel_reaches_a_child_tracked_without_memory,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tracked_spawn_without_memory_starts_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_is_found_on_the_sessions_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_reads_its_input_whole_while_another_writes_it,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
