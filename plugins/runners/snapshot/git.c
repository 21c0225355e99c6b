/* git.c - the snapshot runner's questions to git, asked with the git program.
 *
 * Where the work tree is, HEAD, whether anything is uncommitted (crun's own
 * .crun/ folder aside), and the `dirty: commit` snapshot: the work tree with
 * its untracked files, through a temporary index (a copy of the real one, so
 * unchanged files need no hashing), written as a tree, committed on top of
 * HEAD and pointed at by refs/crun/runs/<run id>.  The user's index, branch
 * and work tree are never written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "snapshot.h"

/* git ARGS... in dir, with env laid over the session's environment (NULL:
 * none); *out its output without the last newline (a new string) when it
 * exited 0; else CRUN_EIO naming the command (or *failed
 * set, when failed is not NULL, for a question whose answer is "no"). */
static int git(crun_run *run, const char *dir, char *const *env, const char *const *args,
               char **out, bool *failed, crun_error *err)
{
    const char *argv[16] = {"git"};
    size_t n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int st = 0;
    child_output o;
    int rc = child_run(run, (char *const *)argv, env, dir, &st, &o, err);
    if (rc)
        return rc;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && failed) {
        *failed = true;
        child_output_free(&o);
        return 0;
    }
    if (!ok) {
        char cmd[256], how[96];
        rc = crun_error_set(err, crun_run_cancelled(run) ? CRUN_ECANCELED : CRUN_EIO,
                            "snapshot: `%s` %s: %s", child_argv_text((char *const *)argv, cmd,
                            sizeof(cmd)), child_status_text(st, how, sizeof(how)),
                            o.text ? o.text : "");
        child_output_free(&o);
        return rc;
    }
    while (o.len && (o.text[o.len - 1] == '\n'))
        o.text[--o.len] = '\0';
    if (out)
        *out = o.text ? o.text : strdup("");
    else
        free(o.text);
    return 0;
}

/* Every path of the work tree except the project's .crun/ folder. */
static int pathspec(crun_run *run, const char *dir, char *exclude, size_t size, crun_error *err)
{
    char *prefix = NULL;
    const char *args[] = {"rev-parse", "--show-prefix", NULL};
    int rc = git(run, dir, NULL, args, &prefix, NULL, err);
    if (!rc)
        snprintf(exclude, size, ":(top,exclude)%s.crun", prefix);
    free(prefix);
    return rc;
}

static json_t *lines(const char *text)
{
    json_t *a = json_array();
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, len));
        p = nl ? nl + 1 : p + len;
    }
    return a;
}

int snap_git_read(crun_run *run, const char *dir, snap_git *g, crun_error *err)
{
    *g = (snap_git){0};
    bool no = false;
    const char *top[] = {"rev-parse", "--show-toplevel", NULL};
    int rc = git(run, dir, NULL, top, &g->top, &no, err);
    if (!rc && no)
        return crun_error_set(err, CRUN_ECONFIG, "snapshot: the project folder %s is not in a "
                              "git work tree (the snapshot runner records a run's commit)", dir);
    bool unborn = false;
    const char *head[] = {"rev-parse", "--verify", "--quiet", "HEAD^{commit}", NULL};
    if (!rc)
        rc = git(run, dir, NULL, head, &g->head, &unborn, err);
    if (unborn) {
        free(g->head);
        g->head = NULL;
    }
    char exclude[1024], *status = NULL;
    if (!rc)
        rc = pathspec(run, dir, exclude, sizeof(exclude), err);
    const char *st[] = {"status", "--porcelain", "--untracked-files=all", "--", ":/", exclude,
                        NULL};
    if (!rc)
        rc = git(run, dir, NULL, st, &status, NULL, err);
    if (!rc) {
        g->dirty = status[0] != '\0';
        g->changes = lines(status);
    }
    free(status);
    return rc;
}

/* What git's environment gets for the snapshot: GIT_INDEX_FILE (and an
 * identity when git has none), laid over the session's; env[0] is the
 * only string to free. */
static char **git_env(const char *index, bool identity)
{
    static const char *const who[] = {"GIT_AUTHOR_NAME=crun", "GIT_AUTHOR_EMAIL=crun@localhost",
                                      "GIT_COMMITTER_NAME=crun",
                                      "GIT_COMMITTER_EMAIL=crun@localhost"};
    char **env = calloc(6, sizeof(char *));
    if (!env || asprintf(&env[0], "GIT_INDEX_FILE=%s", index) < 0) {
        free(env);
        return NULL;
    }
    for (size_t i = 0; identity && i < 4; i++)
        env[i + 1] = (char *)who[i];
    return env;
}

/* A private copy of the user's index at *path (a new string), so that
 * `git add` finds unchanged files by their stat data. */
static int copy_index(crun_run *run, const char *dir, char **path, crun_error *err)
{
    char *real = NULL;
    const char *args[] = {"rev-parse", "--path-format=absolute", "--git-path", "index", NULL};
    int rc = git(run, dir, NULL, args, &real, NULL, err);
    if (rc)
        return rc;
    const char *tmp = getenv("TMPDIR");
    if (asprintf(path, "%s/crun-index-XXXXXX", tmp && tmp[0] ? tmp : "/tmp") < 0) {
        free(real);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    int to = mkstemp(*path), from = open(real, O_RDONLY | O_CLOEXEC);
    free(real);
    if (to < 0) {
        if (from >= 0)
            close(from);
        return crun_error_set(err, CRUN_EIO, "snapshot: cannot make %s: %s", *path,
                              strerror(errno));
    }
    char buf[65536];
    ssize_t n;
    while (from >= 0 && (n = read(from, buf, sizeof(buf))) > 0)
        if (write(to, buf, (size_t)n) != n) {
            rc = crun_error_set(err, CRUN_EIO, "snapshot: cannot write %s: %s", *path,
                                strerror(errno));
            break;
        }
    if (from >= 0)
        close(from);
    close(to);
    if (from < 0) /* no index yet: git starts from none, not from an empty file */
        unlink(*path);
    return rc;
}

static int commit_tree(crun_run *run, const char *dir, char **env, snap_git *g, crun_error *err)
{
    char exclude[1024], *tree = NULL, msg[256];
    int rc = pathspec(run, dir, exclude, sizeof(exclude), err);
    /* `add` refuses an excluding pathspec that names an ignored .crun/: add
     * everything, then take .crun/ out of the private index */
    const char *add[] = {"add", "-A", "--", ":/", NULL};
    const char *drop[] = {"rm", "-r", "-q", "--cached", "--ignore-unmatch", "--",
                          NULL, NULL};
    char crun_dir[1024];
    snprintf(crun_dir, sizeof(crun_dir), ":(top)%s", exclude + strlen(":(top,exclude)"));
    drop[6] = crun_dir;
    const char *write[] = {"write-tree", NULL};
    if (!rc)
        rc = git(run, dir, env, add, NULL, NULL, err);
    if (!rc)
        rc = git(run, dir, env, drop, NULL, NULL, err);
    if (!rc)
        rc = git(run, dir, env, write, &tree, NULL, err);
    snprintf(msg, sizeof(msg), "crun run %s: the work tree it ran on", crun_run_id(run));
    const char *with_parent[] = {"commit-tree", tree, "-p", g->head, "-m", msg, NULL};
    const char *root[] = {"commit-tree", tree, "-m", msg, NULL};
    if (!rc)
        rc = git(run, dir, env, g->head ? with_parent : root, &g->snap_commit, NULL, err);
    free(tree);
    return rc;
}

int snap_git_commit(crun_run *run, const char *dir, snap_git *g, crun_error *err)
{
    bool anonymous = false;
    char *email = NULL, *index = NULL;
    const char *who[] = {"config", "user.email", NULL};
    int rc = git(run, dir, NULL, who, &email, &anonymous, err);
    free(email);
    if (!rc)
        rc = copy_index(run, dir, &index, err);
    char **env = rc ? NULL : git_env(index, anonymous);
    if (!rc && !env)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc)
        rc = commit_tree(run, dir, env, g, err);
    if (!rc && asprintf(&g->snap_ref, "refs/crun/runs/%s", crun_run_id(run)) < 0)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    const char *update[] = {"update-ref", g->snap_ref, g->snap_commit, NULL};
    if (!rc)
        rc = git(run, dir, NULL, update, NULL, NULL, err);
    if (env)
        free(env[0]);
    free(env);
    if (index) {
        unlink(index);
        free(index);
    }
    return rc;
}

void snap_git_clear(snap_git *g)
{
    free(g->top);
    free(g->head);
    json_decref(g->changes);
    free(g->snap_commit);
    free(g->snap_ref);
    *g = (snap_git){0};
}
