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

/* --- crun_run_spawn's spec --- */

/* Run the spec's child with its stdout and stderr into a pipe; what it
 * wrote into out, its wait status into *status.  Returns crun_run_spawn's. */
static int spawn_read(crun_run *r, const void *spec, char *out, size_t size, int *status,
                      crun_error *err)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    crun_spawn *sp = (crun_spawn *)spec;
    sp->out_fd = sp->err_fd = fds[1];
    pid_t pid = 0;
    int rc = crun_run_spawn(r, sp, &pid, err);
    close(fds[1]);
    size_t len = 0;
    for (ssize_t n; !rc && len + 1 < size && (n = read(fds[0], out + len, size - 1 - len)) > 0;)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    if (!rc)
        *status = crun_run_reap(r, pid);
    return rc;
}

typedef struct spawn_seen {
    int rc[4];
    char out[4][64];
    int status[2];
    char message[256];
} spawn_seen;

static spawn_seen seen;

/* A one-command run on a session with env (NULL: crun's), action called
 * from its hook; returns the run's status. */
static int run_action(fixture *f, char *const *env,
                      int (*action)(fixture *f, const crun_hook_event *ev))
{
    memset(&seen, 0, sizeof(seen));
    one_node(f, "{name: wait, cmd: [\"true\"]}");
    open_session(f, env);
    f->action = action;
    return run(f, hook_type(f, true));
}

/* env laid over the session's environment, for one child only. */
static int spawn_with_env(fixture *f, const crun_hook_event *ev)
{
    (void)f;
    crun_run *r = ev->call->run;
    char *argv[] = {"sh", "-c", "echo \"$FOO $KEEP $BAR\"", NULL};
    char *env[] = {"FOO=new", "BAR=added", NULL};
    crun_spawn spec = CRUN_SPAWN_INIT;
    spec.argv = argv;
    spec.env = env;
    crun_error err = CRUN_ERROR_INIT;
    int st = 0;
    seen.rc[0] = spawn_read(r, &spec, seen.out[0], sizeof(seen.out[0]), &st, &err);
    spec.env = NULL; /* the next child has the session's environment as it is */
    seen.rc[1] = spawn_read(r, &spec, seen.out[1], sizeof(seen.out[1]), &st, &err);
    char *bad[] = {"NOEQUALS", NULL};
    spec.env = bad;
    seen.rc[2] = spawn_read(r, &spec, seen.out[2], sizeof(seen.out[2]), &st, &err);
    snprintf(seen.message, sizeof(seen.message), "%s", err.message ? err.message : "");
    crun_error_clear(&err);
    return 0;
}

static void test_spawn_lays_env_over_the_sessions_environment(void **state)
{
    char *env[] = {"PATH=/usr/bin:/bin", "FOO=old", "KEEP=kept", NULL};
    assert_int_equal(run_action(*state, env, spawn_with_env), 0);
    assert_int_equal(seen.rc[0], 0);
    assert_string_equal(seen.out[0], "new kept added\n");
    assert_int_equal(seen.rc[1], 0);
    assert_string_equal(seen.out[1], "old kept \n");
    assert_int_equal(seen.rc[2], CRUN_EINVAL);
    assert_non_null(strstr(seen.message, "'NOEQUALS' is not NAME=value"));
}

/* A cancel sends each tracked child its own cancel signal: SIGINT to one
 * that asked for it (a child crun, which takes it as Ctrl-C), SIGTERM to
 * the rest. */
static int spawn_then_cancel(fixture *f, const crun_hook_event *ev)
{
    crun_run *r = ev->call->run;
    char *argv[] = {"sleep", "30", NULL};
    crun_spawn spec = CRUN_SPAWN_INIT;
    spec.flags = CRUN_SPAWN_TRACK;
    spec.argv = argv;
    spec.out_fd = spec.err_fd = STDERR_FILENO;
    spec.cancel_signal = SIGINT;
    crun_error err = CRUN_ERROR_INIT;
    seen.rc[0] = crun_run_spawn(r, &spec, &f->kids[0], &err);
    spec.cancel_signal = 0;
    seen.rc[1] = crun_run_spawn(r, &spec, &f->kids[1], &err);
    crun_error_clear(&err);
    crun_run_cancel(r);
    for (int i = 0; i < 2; i++) {
        seen.status[i] = seen.rc[i] ? -1 : crun_run_reap(r, f->kids[i]);
        f->kids[i] = 0;
    }
    return 0;
}

static void test_cancel_sends_each_child_its_cancel_signal(void **state)
{
    assert_int_equal(run_action(*state, NULL, spawn_then_cancel), CRUN_ECANCELED);
    assert_int_equal(seen.rc[0], 0);
    assert_int_equal(seen.rc[1], 0);
    assert_true(WIFSIGNALED(seen.status[0]));
    assert_int_equal(WTERMSIG(seen.status[0]), SIGINT);
    assert_true(WIFSIGNALED(seen.status[1]));
    assert_int_equal(WTERMSIG(seen.status[1]), SIGTERM);
}

/* A spec as ABI 2.0 had it (through err_fd) is read with the defaults of
 * what it lacks (the bytes after it are garbage here, never read); one
 * without a size is refused, and so is a longer one whose extra members
 * this crun does not know are set. */
static int spawn_sized(fixture *f, const crun_hook_event *ev)
{
    (void)f;
    crun_run *r = ev->call->run;
    char *argv[] = {"sh", "-c", "echo \"$FOO\"", NULL};
    crun_spawn v20 = CRUN_SPAWN_INIT;
    v20.argv = argv;
    unsigned char buf[sizeof(crun_spawn) + 32];
    memset(buf, 0xAB, sizeof(buf));
    v20.size = (uint32_t)CRUN_SIZE_THROUGH(crun_spawn, err_fd);
    memcpy(buf, &v20, v20.size);
    crun_error err = CRUN_ERROR_INIT;
    int st = 0;
    seen.rc[0] = spawn_read(r, buf, seen.out[0], sizeof(seen.out[0]), &st, &err);
    crun_spawn unsized = {.argv = argv};
    seen.rc[1] = spawn_read(r, &unsized, seen.out[1], sizeof(seen.out[1]), &st, &err);
    crun_error_clear(&err);
    struct {
        crun_spawn spec;
        int later_member;
    } newer = {.spec = CRUN_SPAWN_INIT, .later_member = 1};
    newer.spec.size = sizeof(newer);
    newer.spec.argv = argv;
    seen.rc[2] = spawn_read(r, &newer, seen.out[2], sizeof(seen.out[2]), &st, &err);
    crun_error_clear(&err);
    newer.later_member = 0;
    seen.rc[3] = spawn_read(r, &newer, seen.out[3], sizeof(seen.out[3]), &st, &err);
    crun_error_clear(&err);
    return 0;
}

static void test_spawn_reads_the_spec_by_its_size(void **state)
{
    char *env[] = {"PATH=/usr/bin:/bin", "FOO=session", NULL};
    assert_int_equal(run_action(*state, env, spawn_sized), 0);
    assert_int_equal(seen.rc[0], 0);
    assert_string_equal(seen.out[0], "session\n");
    assert_int_equal(seen.rc[1], CRUN_EINVAL);
    assert_int_equal(seen.rc[2], CRUN_EINVAL);
    assert_int_equal(seen.rc[3], 0);
    assert_string_equal(seen.out[3], "session\n");
}

/* --- crun_command, filled by the size its caller gives --- */

static size_t node_index(crun_run *r, const char *name)
{
    for (size_t i = 0; i < crun_run_node_count(r); i++)
        if (strcmp(crun_run_node_name(r, i), name) == 0)
            return i;
    fail_msg("no node %s", name);
    return 0;
}

typedef struct command_seen {
    int rc_unsized, rc_older, rc_newer_set, rc_newer_zero;
    bool older_argv_ok, older_tail_untouched, newer_ok;
    char message[256];
} command_seen;

static command_seen cseen;

static int prepare_sized(fixture *f, const crun_hook_event *ev)
{
    crun_run *r = ev->call->run;
    size_t later = node_index(r, "later");
    crun_error err = CRUN_ERROR_INIT;
    crun_command unsized = {0};
    cseen.rc_unsized = crun_run_command_prepare(r, later, &unsized, &err);
    snprintf(cseen.message, sizeof(cseen.message), "%s", err.message ? err.message : "");
    crun_error_clear(&err);
    /* a caller whose crun_command ends after argv: the rest is not its */
    unsigned char buf[sizeof(crun_command) + 16];
    memset(buf, 0xAB, sizeof(buf));
    uint32_t size = (uint32_t)CRUN_SIZE_THROUGH(crun_command, argv);
    memcpy(buf, &size, sizeof(size));
    cseen.rc_older = crun_run_command_prepare(r, later, (crun_command *)buf, &err);
    crun_error_clear(&err);
    char *const *argv;
    memcpy(&argv, buf + offsetof(crun_command, argv), sizeof(argv));
    cseen.older_argv_ok = !cseen.rc_older && argv && strcmp(argv[0], "echo") == 0 &&
                          strcmp(argv[1], "later") == 0;
    cseen.older_tail_untouched = true;
    for (size_t i = size; i < sizeof(buf); i++)
        cseen.older_tail_untouched &= buf[i] == 0xAB;
    struct {
        crun_command cmd;
        int later_member;
    } newer = {.cmd = CRUN_COMMAND_INIT, .later_member = 1};
    newer.cmd.size = sizeof(newer);
    cseen.rc_newer_set = crun_run_command_prepare(r, later, &newer.cmd, &err);
    crun_error_clear(&err);
    newer.later_member = 0;
    cseen.rc_newer_zero = crun_run_command_prepare(r, later, &newer.cmd, &err);
    crun_error_clear(&err);
    cseen.newer_ok = newer.cmd.size == sizeof(newer) && newer.cmd.envp &&
                     newer.cmd.cwd && strcmp(newer.cmd.cwd, f->dir) == 0;
    return 0;
}

static void test_command_prepare_fills_the_callers_struct_by_its_size(void **state)
{
    fixture *f = *state;
    memset(&cseen, 0, sizeof(cseen));
    put(f->dir, "conf/base/pipelines.yml",
        "pipelines:\n  __default__:\n    nodes:\n"
        "      - {name: first, cmd: [\"true\"]}\n"
        "      - {name: later, cmd: [echo, later]}\n");
    open_session(f, NULL);
    f->action = prepare_sized;
    const crun_hooks_type *hooks = hook_type(f, true);
    f->hooks.flags = CRUN_HOOKS_THREAD_SAFE; /* not locked: prepare fires it again */
    assert_int_equal(run(f, hooks), 0);
    assert_int_equal(cseen.rc_unsized, CRUN_EINVAL);
    assert_non_null(strstr(cseen.message, "crun_command: size 0"));
    assert_int_equal(cseen.rc_older, 0);
    assert_true(cseen.older_argv_ok);
    assert_true(cseen.older_tail_untouched);
    assert_int_equal(cseen.rc_newer_set, CRUN_EINVAL);
    assert_int_equal(cseen.rc_newer_zero, 0);
    assert_true(cseen.newer_ok);
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
        cmocka_unit_test_setup_teardown(test_spawn_lays_env_over_the_sessions_environment,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_sends_each_child_its_cancel_signal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spawn_reads_the_spec_by_its_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_prepare_fills_the_callers_struct_by_its_size,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_reads_its_input_whole_while_another_writes_it,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
