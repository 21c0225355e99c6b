/* snapshot.c - the snapshot runner: every run tied to the commit it ran on.
 *
 *     tracked: {type: snapshot, runner: safe, dirty: commit}
 *
 * For a project in a git work tree.  Before the wrapped runner runs, it
 * reads HEAD and whether the tree has uncommitted changes; `dirty: refuse`
 * then stops a dirty run before any node (status 1), `record` (the
 * default) notes it, `commit` commits the work tree to refs/crun/runs/<run
 * id> (git.c).  Each run writes .crun/runs/<run id>/manifest.json
 * (manifest.c) as it starts and again when it ends.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inner.h"
#include "snapshot.h"

typedef struct snapshot {
    crun_logger *logger;
    char *self;
    char *runner;
    snap_dirty dirty;
} snapshot;

static const char *const dirty_names[] = {"refuse", "record", "commit"};

static void snapshot_destroy(void *instance)
{
    snapshot *s = instance;
    if (!s)
        return;
    free(s->self);
    free(s->runner);
    free(s);
}

static int parse_dirty(const crun_options *opts, snap_dirty *out, crun_error *err)
{
    const char *v = "record";
    int rc = crun_options_string(opts, "dirty", &v, err);
    if (rc)
        return rc;
    for (int i = 0; i < 3; i++)
        if (strcmp(v, dirty_names[i]) == 0) {
            *out = (snap_dirty)i;
            return 0;
        }
    return crun_error_set(err, CRUN_ECONFIG, "%s: option 'dirty': expected refuse, record or "
                          "commit, got '%s'", crun_options_where(opts, "dirty"), v);
}

static int snapshot_create(const crun_options *opts, crun_logger *logger, void **instance,
                           crun_error *err)
{
    static const char *const known[] = {"runner", "dirty", NULL};
    const char *runner = NULL;
    snap_dirty dirty = SNAP_RECORD;
    int rc = crun_options_check_known(opts, known, err);
    if (!rc)
        rc = crun_options_string(opts, "runner", &runner, err);
    if (!rc)
        rc = parse_dirty(opts, &dirty, err);
    if (!rc && !runner)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: option 'runner' is required: the name of "
                            "the runner whose runs are recorded", crun_options_owner(opts));
    if (rc)
        return rc;
    snapshot *s = calloc(1, sizeof(*s));
    if (s) {
        *s = (snapshot){.logger = logger, .dirty = dirty, .self = inner_own_name(opts),
                        .runner = strdup(runner)};
    }
    if (!s || !s->self || !s->runner) {
        snapshot_destroy(s);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    *instance = s;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The git side before the run: refuse, record or commit. */
static int before(snapshot *s, crun_run *run, const char *dir, snap_git *g, crun_error *err)
{
    int rc = snap_git_read(run, dir, g, err);
    if (rc)
        return rc;
    if (g->dirty && s->dirty == SNAP_REFUSE) {
        json_t *first = json_array_get(g->changes, 0);
        return crun_error_set(err, CRUN_ENODE, "snapshot: the work tree %s has uncommitted "
                              "changes (%zu, e.g. '%s') and runner '%s' says dirty: refuse; "
                              "commit or stash them", g->top, json_array_size(g->changes),
                              json_string_value(first), s->self);
    }
    if (s->dirty == SNAP_COMMIT && (rc = snap_git_commit(run, dir, g, err)) == 0)
        crun_log(s->logger, CRUN_LOG_INFO, "snapshot: work tree committed as %s (%s)",
                 g->snap_ref, g->snap_commit);
    return rc;
}

static const char *status_name(int rc)
{
    return rc == 0 ? "succeeded" : rc == CRUN_ECANCELED ? "cancelled" : "failed";
}

static int snapshot_run(void *instance, crun_run *run, crun_error *err)
{
    snapshot *s = instance;
    json_t *stack = NULL;
    snap_git g = {0};
    const char *dir = crun_session_dir(crun_run_session(run));
    int rc = inner_stack(run, s->self, s->runner, &stack, err);
    if (!rc)
        rc = before(s, run, dir, &g, err);
    if (rc) {
        json_decref(stack);
        snap_git_clear(&g);
        return rc;
    }
    snap_manifest m = {.dir = dir, .git = &g, .dirty_mode = dirty_names[s->dirty],
                       .stack = stack, .status = "running", .started = now()};
    rc = snap_manifest_write(run, &m, err);
    inner_outcome out = {0};
    if (!rc) {
        rc = inner_run(run, s->runner, NULL, &out, err);
            m.status = status_name(rc);
        m.error = rc ? err->message : NULL;
        m.finished = now();
        crun_error werr = CRUN_ERROR_INIT;
        int wrc = snap_manifest_write(run, &m, &werr);
        if (wrc && !rc)
            rc = crun_error_set(err, wrc, "%s", werr.message);
        else if (wrc)
            crun_log(s->logger, CRUN_LOG_ERROR, "%s", werr.message);
        crun_error_clear(&werr);
    }
    inner_outcome_clear(&out);
    json_decref(stack);
    snap_git_clear(&g);
    return rc;
}

static const crun_runner_type snapshot_type = {
    .size = sizeof(crun_runner_type),
    .create = snapshot_create,
    .run = snapshot_run,
    .destroy = snapshot_destroy,
    .flags = CRUN_RUNNER_SHARED, /* the instance holds only the options */
};

static const crun_plugin snapshot_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "snapshot",
    .version = "1.0.0",
    .description = "ties each run of a wrapped runner to its git commit and writes its "
                   "manifest (.crun/runs/<run id>/manifest.json)",
    .table = &snapshot_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &snapshot_plugin;
}
