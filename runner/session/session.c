/* session.c - a loaded project and the runs started from it.
 *
 * Opening a session does all the work that does not depend on a run: read
 * the project (or a compiled IR), build the IR, set up the plugin search
 * path and create the hooks.  A run then only plans, opens a catalog of its
 * own and hands the plan to the chosen runner, so many runs of one session can
 * go on at once.  The session never touches process-wide state: the
 * environment is copied in, the current folder is never changed.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plugin/options.h"
#include "session/session.h"
#include "core/suggest.h"

extern char **environ;

const char *crun_version(void)
{
    return CRUN_VERSION;
}

const char *crun_session_name(const crun_session *s) { return s->ir->project; }
const char *crun_session_env(const crun_session *s) { return s->env; }
const char *crun_session_dir(const crun_session *s) { return s->dir; }
crun_logger *crun_session_logger(crun_session *s) { return &s->logger; }

static int alloc_run_caches(crun_session *s, crun_error *err);
static void free_run_caches(crun_session *s);

static char **copy_environ(char *const *env)
{
    size_t n = 0;
    while (env && env[n])
        n++;
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(env[i]))) {
            for (size_t k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return NULL;
        }
    return out;
}

/* Append the entries of a colon-separated list to dirs. */
static int add_dirs(char ***dirs, size_t *n, const char *list)
{
    for (const char *p = list; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len) {
            char **d = realloc(*dirs, (*n + 1) * sizeof(char *));
            if (!d)
                return -1;
            *dirs = d;
            if (!(d[*n] = strndup(p, len)))
                return -1;
            (*n)++;
        }
        p = colon ? colon + 1 : NULL;
    }
    return 0;
}

static int setup_plugins(crun_session *s, const crun_session_options *o, crun_error *err)
{
    char **dirs = NULL;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; s->project && i < s->project->n_plugin_path && !rc; i++)
        rc = add_dirs(&dirs, &n, s->project->plugin_path[i]);
    if (!rc)
        rc = add_dirs(&dirs, &n, conf_getenv(s->environ, "CRUN_PLUGIN_PATH"));
    if (!rc)
        rc = add_dirs(&dirs, &n, o->builtin_plugin_dir ? o->builtin_plugin_dir
                                                       : CRUN_INSTALL_PLUGIN_DIR);
    if (!rc && plugin_cache_init(&s->plugins, s->dir, dirs, n) != 0)
        rc = -1;
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    return rc ? crun_error_set(err, CRUN_ENOMEM, "out of memory") : 0;
}

static int load_ir_file(crun_session *s, const char *path, const char *params, crun_error *err)
{
    /* a regular file only: a FIFO is opened without waiting, then refused */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return crun_error_set(err, CRUN_ECONFIG, "--ir %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return crun_error_set(err, CRUN_ECONFIG, "--ir %s: not a regular file", path);
    }
    json_error_t jerr;
    json_t *root = json_loadfd(fd, 0, &jerr);
    close(fd);
    if (!root && jerr.line < 1) /* not read at all: no position to give */
        return crun_error_set(err, CRUN_ECONFIG, "--ir %s: %s", path, jerr.text);
    if (!root)
        return crun_error_set(err, CRUN_ECONFIG, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                              jerr.text);
    int rc = ir_from_json(root, path, s->dir, &s->ir, err);
    json_decref(root);
    if (rc || !params)
        return rc;
    json_t *over = NULL;
    if ((rc = params_parse(params, &over, err)))
        return rc;
    json_object_update_recursive(s->ir->params, over);
    json_decref(over);
    return 0;
}

int crun_session_add_hook(crun_session *s, const char *name, const crun_hooks_type *type,
                          void *instance, crun_error *err)
{
    return hook_set_add(&s->hooks, name, type, instance, err);
}

static int setup_hooks(crun_session *s, crun_error *err)
{
    for (size_t i = 0; s->project && i < s->project->n_hooks; i++) {
        const project_hook *ph = &s->project->hooks[i];
        const crun_plugin *plug;
        int rc = plugin_load(&s->plugins, CRUN_PLUGIN_HOOKS, ph->name, &plug, err);
        if (rc)
            return crun_error_prefix(err, "%s: hook '%s': ", ph->where, ph->name);
        const crun_hooks_type *t = plug->table;
        char owner[300];
        snprintf(owner, sizeof(owner), "hook '%s'", ph->name);
        crun_options *opts = crun_options_new(ph->options, owner, ph->where);
        void *inst = NULL;
        if (opts)
            crun_options_set_dir(opts, s->dir);
        if (!opts)
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        else if (t->create)
            rc = t->create(opts, &s->logger, &inst, err);
        else if (json_object_size(ph->options))
            rc = crun_error_set(err, CRUN_ECONFIG, "the hook takes no options");
        crun_options_free(opts);
        if (rc) {
            /* option errors already name their place: say it once */
            size_t wl = strlen(ph->where);
            if (!err->message || strncmp(err->message, ph->where, wl) != 0 ||
                err->message[wl] != ':')
                crun_error_prefix(err, "%s: hook '%s': ", ph->where, ph->name);
            err->code = CRUN_ECONFIG;
            return CRUN_ECONFIG;
        }
        if ((rc = crun_session_add_hook(s, plug->name, t, inst, err))) {
            if (t->destroy && inst)
                t->destroy(inst);
            return rc;
        }
    }
    return 0;
}

/* The interrupt check o carries, when o is recent enough to have one. */
static conf_interrupt open_interrupt(const crun_session_options *o)
{
    bool has = o->size >= offsetof(crun_session_options, interrupted_user) + sizeof(void *);
    return (conf_interrupt){has ? o->interrupted : NULL, has ? o->interrupted_user : NULL};
}

int crun_session_open(const crun_session_options *o, crun_session **out, crun_error *err)
{
    conf_interrupt intr = open_interrupt(o);
    *out = NULL;
    crun_session *s = calloc(1, sizeof(*s));
    if (!s)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    logger_init(&s->logger, o->log_level, o->log_fn, o->log_user);
    pthread_mutex_init(&s->runs_lock, NULL);
    proc_guard_init(&s->shared.guard);
    pthread_mutex_init(&s->cache_lock, NULL);
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)s;
    atomic_init(&s->shared.id_counter, seed);
    atomic_init(&s->cancel_all, false);
    char dir[PATH_MAX];
    int rc = 0;
    if (!realpath(o->project_dir ? o->project_dir : ".", dir))
        rc = crun_error_set(err, CRUN_ECONFIG, "project folder %s: %s",
                            o->project_dir ? o->project_dir : ".", strerror(errno));
    if (!rc && (!(s->environ = copy_environ(o->environ ? o->environ : environ)) ||
                !(s->dir = strdup(dir))))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc && o->ir_file) {
        rc = load_ir_file(s, o->ir_file, o->params, err);
        /* an IR names credentials but never holds them: read them from the
         * project the IR runs in, if there is one */
        crun_error ignored = CRUN_ERROR_INIT;
        if (!rc && project_load(dir, o->env ? o->env : s->ir->env, NULL, s->environ,
                                NULL, &intr, &s->project, &ignored) != 0)
            s->project = NULL;
        crun_error_clear(&ignored);
    } else if (!rc) {
        rc = ir_load(dir, o->env, o->params, s->environ, &intr, &s->project, &s->ir, err);
        /* the IR holds what the pipelines said: their tree goes, and with
         * it the arena of their nodes, back to the system */
        if (s->project)
            project_drop_pipelines(s->project);
        malloc_trim(0);
    }
    /* plugins and hooks are loaded only for a load that was not interrupted */
    if (!rc && intr.check && intr.check(intr.user))
        rc = crun_error_set(err, CRUN_ECANCELED, "interrupted while loading the project");
    if (!rc && !(s->env = strdup(s->ir->env)))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc && ((o->project_dir && !(s->given_project = strdup(o->project_dir))) ||
                (o->env && !(s->given_env = strdup(o->env))) ||
                (o->params && !(s->given_params = strdup(o->params))) ||
                (o->ir_file && !(s->given_ir = strdup(o->ir_file)))))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc)
        rc = setup_plugins(s, o, err);
    if (!rc)
        rc = alloc_run_caches(s, err);
    if (!rc && !o->no_hooks)
        rc = setup_hooks(s, err);
    if (rc) {
        crun_session_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void crun_session_close(crun_session *s)
{
    if (!s)
        return;
    hook_set_destroy(&s->hooks);
    free_run_caches(s);
    /* plugins go last: hook, runner and dataset code lives in them */
    if (s->plugins.dirs)
        plugin_cache_destroy(&s->plugins);
    ir_free(s->ir);
    project_free(s->project);
    for (size_t i = 0; s->environ && s->environ[i]; i++)
        free(s->environ[i]);
    free(s->environ);
    free(s->dir);
    free(s->env);
    free(s->given_project);
    free(s->given_env);
    free(s->given_params);
    free(s->given_ir);
    free(s->active);
    proc_guard_close(&s->shared.guard);
    pthread_mutex_destroy(&s->runs_lock);
    logger_destroy(&s->logger);
    free(s);
}

int crun_session_compile(crun_session *s, const crun_filter *f, json_t **out, crun_error *err)
{
    plan *p;
    int rc = plan_build(s->ir, f, &p, err);
    if (rc)
        return rc;
    *out = ir_to_json(s->ir, p->pipeline, p->node, p->n);
    plan_free(p);
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static int alloc_run_caches(crun_session *s, crun_error *err)
{
    size_t nn = s->ir->n_nodes + 1, nd = s->ir->n_ds + 1;
    run_shared *sh = &s->shared;
    catalog_shared *c = &sh->catalog;
    c->ir = s->ir;
    c->project = s->project;
    c->plugins = &s->plugins;
    c->logger = &s->logger;
    c->hooks = &s->hooks;
    sh->environ = s->environ;
    sh->fn_cache = calloc(nn, sizeof(*sh->fn_cache));
    c->ds_plugin = calloc(nd, sizeof(*c->ds_plugin));
    c->ds_options = calloc(nd, sizeof(*c->ds_options));
    c->no_options = crun_options_new(NULL, "dataset", "catalog");
    if (!sh->fn_cache || !c->ds_plugin || !c->ds_options || !c->no_options)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

static void free_run_caches(crun_session *s)
{
    while (s->runners) {
        shared_runner *sr = s->runners;
        s->runners = sr->next;
        if (sr->type->destroy)
            sr->type->destroy(sr->instance);
        free(sr->key);
        free(sr);
    }
    for (size_t i = 0; i < s->n_plans; i++) {
        free(s->plans[i].pipeline);
        plan_free(s->plans[i].p);
    }
    free(s->plans);
    plan_free(atomic_load(&s->whole_plan));
    catalog_shared *c = &s->shared.catalog;
    free(s->shared.fn_cache);
    free(c->ds_plugin);
    for (size_t i = 0; c->ds_options && i < s->ir->n_ds; i++)
        crun_options_free(atomic_load(&c->ds_options[i]));
    free(c->ds_options);
    crun_options_free(c->no_options);
    pthread_mutex_destroy(&s->cache_lock);
}

/* Runs of the whole pipeline (or a whole named one) share one plan: it is
 * made by the first and kept by the session; plans are read-only in runs. */
static bool plain_run(const crun_run_options *o)
{
    const crun_filter *f = &o->filter;
    return !o->run_id && o->n_inputs == 0 && !f->tags && !f->nodes && !f->from_nodes &&
           !f->to_nodes && !f->from_inputs && !f->to_outputs;
}

static int shared_plan(crun_session *s, const char *pipeline, plan **out, crun_error *err)
{
    if (!pipeline && (*out = atomic_load_explicit(&s->whole_plan, memory_order_acquire)))
        return 0;
    pthread_mutex_lock(&s->cache_lock);
    int rc = 0;
    *out = pipeline ? NULL : atomic_load(&s->whole_plan);
    for (size_t i = 0; pipeline && i < s->n_plans && !*out; i++)
        if (strcmp(s->plans[i].pipeline, pipeline) == 0)
            *out = s->plans[i].p;
    if (!*out) {
        crun_filter f = {.pipeline = pipeline};
        plan *p = NULL;
        cached_plan *grown = NULL;
        char *name = NULL;
        rc = plan_build(s->ir, &f, &p, err);
        if (!rc && pipeline &&
            (!(grown = realloc(s->plans, (s->n_plans + 1) * sizeof(*grown))) ||
             !(name = strdup(pipeline))))
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        if (grown)
            s->plans = grown;
        if (rc) {
            plan_free(p);
            free(name);
        } else {
            if (pipeline)
                s->plans[s->n_plans++] = (cached_plan){.pipeline = name, .p = p};
            else
                atomic_store_explicit(&s->whole_plan, p, memory_order_release);
            *out = p;
        }
    }
    pthread_mutex_unlock(&s->cache_lock);
    return rc;
}

/* --- runs --- */

static void register_run(crun_session *s, crun_run *run, bool add)
{
    pthread_mutex_lock(&s->runs_lock);
    if (add) {
        if (s->n_active == s->cap_active) {
            size_t cap = s->cap_active ? s->cap_active * 2 : 4;
            crun_run **a = realloc(s->active, cap * sizeof(*a));
            if (a) {
                s->active = a;
                s->cap_active = cap;
            }
        }
        if (s->n_active < s->cap_active)
            s->active[s->n_active++] = run;
        /* a cancel that came while no run was going (a signal during start-up)
         * stops this one, and only this one */
        if (atomic_exchange(&s->cancel_all, false))
            crun_run_cancel(run);
    } else {
        for (size_t i = 0; i < s->n_active; i++)
            if (s->active[i] == run) {
                s->active[i] = s->active[--s->n_active];
                break;
            }
    }
    pthread_mutex_unlock(&s->runs_lock);
}

void crun_session_cancel(crun_session *s)
{
    pthread_mutex_lock(&s->runs_lock);
    if (s->n_active == 0)
        atomic_store(&s->cancel_all, true);
    for (size_t i = 0; i < s->n_active; i++)
        crun_run_cancel(s->active[i]);
    pthread_mutex_unlock(&s->runs_lock);
}

static bool needs_quotes(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr(",._-:/=+@", *s)))
            return true;
    return false;
}

static void append_arg(char **cmd, const char *flag, const char *value)
{
    if (!value)
        return;
    char *next = NULL;
    int n = needs_quotes(value) ? asprintf(&next, "%s %s '%s'", *cmd, flag, value)
                                : asprintf(&next, "%s %s %s", *cmd, flag, value);
    if (n >= 0) {
        free(*cmd);
        *cmd = next;
    }
}

/* The same command as the failed run (project, env, IR, params, runner,
 * filters), restarting from the nodes given. */
static char *resume_command(crun_session *s, const crun_run_options *o, const char *from)
{
    char *cmd = strdup("crun run");
    if (!cmd)
        return NULL;
    append_arg(&cmd, "--project", s->given_project);
    append_arg(&cmd, "--ir", s->given_ir);
    if (s->given_env || (s->project && strcmp(s->env, s->project->default_env) != 0))
        append_arg(&cmd, "--env", s->env);
    append_arg(&cmd, "--params", s->given_params);
    append_arg(&cmd, "--runner", o->runner);
    append_arg(&cmd, "--pipeline", o->filter.pipeline);
    append_arg(&cmd, "--tags", o->filter.tags);
    append_arg(&cmd, "--nodes", o->filter.nodes);
    append_arg(&cmd, "--to-nodes", o->filter.to_nodes);
    append_arg(&cmd, "--from-inputs", o->filter.from_inputs);
    append_arg(&cmd, "--to-outputs", o->filter.to_outputs);
    append_arg(&cmd, "--load-versions", o->load_versions);
    append_arg(&cmd, "--from-nodes", from);
    return cmd;
}

static void fill_result(crun_session *s, crun_run *run, const crun_run_options *o,
                        crun_run_result *res)
{
    const plan *p = run->plan;
    res->nodes_total = p->n;
    res->nodes_done = run->n_done;
    res->delegated = run->delegated;
    if (res->status == 0)
        return;
    size_t nf = 0;
    res->failed_nodes = calloc(run->n_failed + 1, sizeof(char *));
    for (size_t i = 0; res->failed_nodes && i < p->n; i++)
        if (run->state[i] == NODE_FAILED)
            res->failed_nodes[nf++] = strdup(crun_run_node_name(run, i));
    /* a runner that failed before any node ran or failed (a service that
     * cannot listen) leaves nothing to resume from */
    if (run->n_done == 0 && run->n_failed == 0)
        return;
    unsigned char *done = malloc(p->n + 1);
    if (!done)
        return;
    for (size_t i = 0; i < p->n; i++)
        done[i] = run->state[i] == NODE_DONE;
    char *from = plan_resume_nodes(p, done, catalog_persisted, &run->catalog);
    free(done);
    if (from)
        res->resume_command = resume_command(s, o, from);
    free(from);
}

void crun_run_result_clear(crun_run_result *res)
{
    free(res->run_id);
    for (size_t i = 0; res->failed_nodes && res->failed_nodes[i]; i++)
        free(res->failed_nodes[i]);
    free(res->failed_nodes);
    free(res->resume_command);
    for (size_t i = 0; i < res->n_outputs; i++)
        crun_value_unref(res->output_values[i]);
    free(res->output_names); /* the block of every output and timing array (collect_outputs) */
    memset(res, 0, sizeof(*res));
}

static int pipeline_hooks(crun_run *run, crun_hook_point point, const crun_error *e, int status,
                          crun_error *err)
{
    crun_hook_event ev = {.error = e, .status = status};
    return run_hooks_fire(run, point, &ev, err);
}

static int execute(crun_session *s, crun_run *run, runner_inst *r, crun_error *err)
{
    int rc = pipeline_hooks(run, CRUN_HOOK_AFTER_CATALOG_CREATED, NULL, 0, err);
    if (!rc)
        rc = pipeline_hooks(run, CRUN_HOOK_BEFORE_PIPELINE_RUN, NULL, 0, err);
    if (!rc) {
        rc = r->type->run(r->instance, run, err);
        if (!rc && run->failed) /* a runner that reported failure but returned 0 */
            rc = run->first_error.code;
        if (!rc && crun_run_cancelled(run) && !run->delegated)
            rc = crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
        if (!rc && !crun_run_finished(run) && !run->delegated)
            rc = crun_error_set(err, CRUN_ENODE, "the runner stopped with %zu of %zu nodes done",
                                run->n_done, run->plan->n);
        if (rc && !err->message && run->first_error.message)
            crun_error_set(err, rc, "%s", run->first_error.message);
    }
    logger_progress_end(&s->logger);
    if (rc) {
        crun_error herr = CRUN_ERROR_INIT;
        if (pipeline_hooks(run, CRUN_HOOK_ON_PIPELINE_ERROR, err, rc, &herr) != 0)
            logger_write(&s->logger, CRUN_LOG_ERROR, NULL, "%s", herr.message);
        crun_error_clear(&herr);
        return rc;
    }
    return pipeline_hooks(run, CRUN_HOOK_AFTER_PIPELINE_RUN, NULL, 0, err);
}

json_t *crun_session_params(const crun_session *s)
{
    return s->ir->params;
}

/* base (the session's parameters) with over (the run's, private to it)
 * laid over it, as a new tree sharing nothing with base; keys base does
 * not have are refused.  NULL with err set on failure. */
static json_t *overlay_params(json_t *base, json_t *over, const char *prefix, crun_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(over, key, v) {
        if (json_object_get(base, key))
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        const char *names[256];
        size_t n = 0;
        const char *k2;
        json_t *v2;
        json_object_foreach(base, k2, v2) {
            if (n < 256)
                names[n++] = k2;
        }
        const char *best = suggest_closest(key, names, n);
        crun_error_set(err, CRUN_EUSAGE, "params: unknown parameter '%s'%s%s%s", path,
                       best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
        return NULL;
    }
    json_t *out = json_object();
    json_object_foreach(base, key, v) {
        json_t *ov = json_object_get(over, key), *nv;
        if (!ov) {
            nv = params_private_copy(v);
        } else if (json_is_object(v) && json_is_object(ov)) {
            char path[512];
            snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
            if (!(nv = overlay_params(v, ov, path, err))) {
                json_decref(out);
                return NULL;
            }
        } else {
            nv = json_incref(ov);
        }
        if (!out || !nv || json_object_set_new(out, key, nv)) {
            json_decref(out);
            crun_error_set(err, CRUN_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return out;
}

/* The run's parameters: NULL for the session's own (borrowed by the run),
 * else a private tree with the run's overrides. */
static int run_params(crun_session *s, const crun_run_options *o, json_t **out, crun_error *err)
{
    *out = NULL;
    if (!o->params)
        return 0;
    if (!json_is_object(o->params))
        return crun_error_set(err, CRUN_EUSAGE, "params: expected an object of parameters");
    if (!(*out = overlay_params(s->ir->params, o->params, "", err)))
        return err->code ? err->code : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

/* The free outputs (made by a node, read by none) and the node timings.
 * The four arrays and the names' text are one allocation, owned through
 * output_names (crun_run_result_clear frees it): a service makes a result
 * per request, and each allocation shows. */
static void collect_outputs(crun_run *run, crun_run_result *res)
{
    const plan *p = run->plan;
    size_t n = 0, text = 0;
    for (size_t ds = 0; ds < run->ir->n_ds; ds++)
        if (p->producer[ds] != PLAN_NONE && p->consumers[ds] == 0) {
            n++;
            text += strlen(run->ir->ds[ds].name) + 1;
        }
    size_t ptrs = (n + 1) * sizeof(char *) + (n + 1) * sizeof(crun_value *) +
                  (p->n + 1) * sizeof(char *);
    char *block = malloc(ptrs + (p->n + 1) * sizeof(double) + text);
    if (!block)
        return;
    res->output_names = (char **)(void *)block;
    res->output_values = (crun_value **)(void *)(block + (n + 1) * sizeof(char *));
    res->timed_nodes = (const char **)(void *)(res->output_values + n + 1);
    res->timed_seconds = (double *)(void *)(block + ptrs);
    char *names = (char *)(res->timed_seconds + p->n + 1);
    for (size_t ds = 0; ds < run->ir->n_ds; ds++) {
        if (p->producer[ds] == PLAN_NONE || p->consumers[ds] != 0)
            continue;
        crun_value *v = NULL;
        crun_error lerr = CRUN_ERROR_INIT;
        if (catalog_entry_load(&run->catalog, ds, &v, &lerr) == 0 && v) {
            size_t len = strlen(run->ir->ds[ds].name) + 1;
            memcpy(names, run->ir->ds[ds].name, len);
            res->output_names[res->n_outputs] = names;
            res->output_values[res->n_outputs++] = v;
            names += len;
        }
        crun_error_clear(&lerr);
    }
    res->output_names[res->n_outputs] = NULL;
    res->output_values[res->n_outputs] = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (run->state[i] == NODE_DONE || run->state[i] == NODE_FAILED) {
            res->timed_nodes[res->n_timed] = crun_run_node_name(run, i);
            res->timed_seconds[res->n_timed++] = run->seconds[i];
        }
}

/* A run id names folders (.crun/runs/ID, the scratch folder): a word of
 * letters, digits, '.', '_' and '-' that fits crun_run's buffer, never a
 * path. */
static int check_run_id(const char *id, crun_error *err)
{
    size_t len = strlen(id);
    bool ok = len > 0 && len < CRUN_RUN_ID_MAX && id[0] != '.' && id[0] != '-';
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char)id[i]) || id[i] == '.' || id[i] == '_' || id[i] == '-';
    if (ok)
        return 0;
    return crun_error_set(err, CRUN_EUSAGE, "run id '%s' is not a word of at most %d letters, "
                          "digits, '.', '_' or '-' (not starting with '.' or '-')", id,
                          CRUN_RUN_ID_MAX - 1);
}

int crun_session_run(crun_session *s, const crun_run_options *o, crun_run_result *res,
                     crun_error *err)
{
    memset(res, 0, sizeof(*res));
    plan *p;
    json_t *params = NULL;
    int rc = o->run_id ? check_run_id(o->run_id, err) : 0;
    if (rc)
        return res->status = rc;
    rc = run_params(s, o, &params, err);
    if (rc)
        return res->status = rc;
    bool shared = plain_run(o);
    /* a run given its id is one part of a larger run: memory datasets that
     * cross its boundary are shared with the other parts through files */
    if ((rc = shared ? shared_plan(s, o->filter.pipeline, &p, err)
                     : plan_build_flags(s->ir, &o->filter,
                                        o->run_id ? PLAN_CROSS_SHARED : 0, o->input_names,
                                        o->n_inputs, &p, err))) {
        json_decref(params);
        return res->status = rc;
    }
    runner_inst r = {0};
    crun_run *run = NULL;
    bool runner_shared = false;
    rc = run_create(&s->shared, s, p, shared, params, o, &run, err); /* takes params */
    if (!rc)
        rc = session_get_runner(s, o, &r, &runner_shared, err);
    if (rc) {
        run_destroy(run);
        return res->status = rc;
    }
    res->run_id = strdup(run->run_id);
    if (!o->own_cancel)
        register_run(s, run, true);
    if (o->on_run)
        o->on_run(o->on_run_user, run);
    rc = execute(s, run, &r, err);
    if (o->on_run)
        o->on_run(o->on_run_user, NULL);
    if (!o->own_cancel)
        register_run(s, run, false);
    res->status = rc;
    fill_result(s, run, o, res);
    if (o->collect_outputs && rc == 0)
        collect_outputs(run, res);
    if (!runner_shared && r.type->destroy)
        r.type->destroy(r.instance);
    run_destroy(run);
    return rc;
}
