/* session.c - a loaded project, what its runs share, and cancelling them.
 *
 * Opening a session does all the work that does not depend on a run: read
 * the project (or a compiled IR), build the IR, set up the plugin search
 * path and create the hooks.  A run then only plans, opens a catalog of its
 * own and hands the plan to the chosen runner (session_run.c), so many runs
 * of one session can go on at once.  The session never touches process-wide state: the
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

/* The IR file for jansson, read(2) a large block at a time.  Not through
 * stdio: json_loadf takes a character per getc, and once the process has
 * had a second thread (an embedding program's, a plugin's) every getc takes
 * the stream's lock, a third of a 100,000-node run --ir.  Nor json_loadfd,
 * which reads a byte per read(2). */
enum { IR_READ_SIZE = 65536 };
typedef struct ir_reader {
    int fd;
    int error;      /* errno of a failed read, else 0 */
    size_t pos, len;
    char *buf;      /* IR_READ_SIZE bytes */
} ir_reader;

static size_t ir_read(void *buffer, size_t size, void *data)
{
    ir_reader *r = data;
    while (r->pos == r->len) {
        ssize_t n = read(r->fd, r->buf, IR_READ_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r->error = errno;
        if (n <= 0)
            return n < 0 ? (size_t)-1 : 0;
        r->pos = 0;
        r->len = (size_t)n;
    }
    size_t take = r->len - r->pos < size ? r->len - r->pos : size;
    memcpy(buffer, r->buf + r->pos, take);
    r->pos += take;
    return take;
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
    ir_reader r = {.fd = fd, .buf = malloc(IR_READ_SIZE)};
    if (!r.buf) {
        close(fd);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    json_error_t jerr;
    json_t *root = json_load_callback(ir_read, &r, 0, &jerr);
    close(fd);
    free(r.buf);
    if (!root && r.error)
        return crun_error_set(err, CRUN_ECONFIG, "--ir %s: %s", path, strerror(r.error));
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
            /* option errors already name their place: say it once, and the hook */
            size_t wl = strlen(ph->where);
            if (!err->message || strncmp(err->message, ph->where, wl) != 0 ||
                err->message[wl] != ':')
                crun_error_prefix(err, "%s: hook '%s': ", ph->where, ph->name);
            else if (!strstr(err->message, owner)) {
                char *rest = strdup(err->message + wl + (err->message[wl + 1] == ' ' ? 2 : 1));
                if (rest)
                    crun_error_set(err, rc, "%s: hook '%s': %s", ph->where, ph->name, rest);
                free(rest);
            }
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

/* The interrupt check the options carry (none in options from before it:
 * crun_session_open zeroes what an older caller's struct lacks). */
static conf_interrupt open_interrupt(const crun_session_options *o)
{
    return (conf_interrupt){o->interrupted, o->interrupted_user};
}

static int session_open(const crun_session_options *o, crun_session **out, crun_error *err);

int crun_session_open(const crun_session_options *given, crun_session **out, crun_error *err)
{
    *out = NULL;
    crun_session_options o = CRUN_SESSION_OPTIONS_INIT;
    if (!given)
        return session_open(&o, out, err);
    int rc = abi_struct_in(&o, sizeof(o), given, "crun_session_options", err);
    return rc ? rc : session_open(&o, out, err);
}

static int session_open(const crun_session_options *o, crun_session **out, crun_error *err)
{
    conf_interrupt intr = open_interrupt(o);
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
        if (!rc && project_load_conf(dir, o->conf_source, o->env ? o->env : s->ir->env, NULL,
                                     s->environ, NULL, &intr, &s->project, &ignored) != 0)
            s->project = NULL;
        crun_error_clear(&ignored);
    } else if (!rc) {
        rc = ir_load_conf(dir, o->conf_source, o->env, o->params, s->environ, &intr,
                          &s->project, &s->ir, err);
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

/* A filter as given (NULL: none) read into *full at this host's size. */
int session_filter_in(const crun_filter *given, crun_filter *full, crun_error *err)
{
    *full = (crun_filter)CRUN_FILTER_INIT;
    return given ? abi_struct_in(full, sizeof(*full), given, "crun_filter", err) : 0;
}

int crun_session_compile(crun_session *s, const crun_filter *given, json_t **out,
                         crun_error *err)
{
    plan *p;
    crun_filter f;
    int rc = session_filter_in(given, &f, err);
    if (rc)
        return rc;
    rc = plan_build(s->ir, &f, &p, err);
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
    c->environ = s->environ;
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
bool session_plain_run(const crun_run_options *o, const char *given_id)
{
    const crun_filter *f = o->filter;
    return !given_id && o->n_inputs == 0 && !f->tags && !f->nodes && !f->from_nodes &&
           !f->to_nodes && !f->from_inputs && !f->to_outputs;
}

int session_shared_plan(crun_session *s, const char *pipeline, plan **out, crun_error *err)
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

void session_register_run(crun_session *s, crun_run *run, bool add)
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

double crun_session_grace_period(crun_session *s)
{
    double longest = RUN_GRACE_PERIOD_S;
    pthread_mutex_lock(&s->runs_lock);
    for (size_t i = 0; i < s->n_active; i++) {
        double g = run_grace_period(s->active[i]);
        if (g > longest || i == 0)
            longest = g;
    }
    pthread_mutex_unlock(&s->runs_lock);
    return longest;
}

size_t crun_session_calling_nodes(crun_session *s, const char **names, size_t max)
{
    size_t found = 0;
    pthread_mutex_lock(&s->runs_lock);
    for (size_t i = 0; i < s->n_active; i++)
        found = run_calling_nodes(s->active[i], names, max, found);
    pthread_mutex_unlock(&s->runs_lock);
    return found;
}

json_t *crun_session_params(const crun_session *s)
{
    return s->ir->params;
}

