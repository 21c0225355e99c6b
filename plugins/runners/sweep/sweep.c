/* sweep.c - the sweep runner: the plan once per trial, through another runner.
 *
 * create() reads the options and makes the trials, so grammar errors stop
 * the run before anything starts; check() also checks them against the
 * project (inner.c) before anything runs.  run() has up to max_parallel
 * worker threads take the next trial, run it as a run inside the sweep's
 * (crun_run_delegate: id <sweep id>-<k>, its parameters as overrides) and
 * record its row; the table is rewritten after each trial.  A cancel of the
 * sweep's run reaches the trials in progress, and no new one starts.
 * --resume ID (option `resume`) runs again only the trials of sweep ID that
 * did not succeed.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep.h"

#define SWEEP_MAX_TRIALS 100000
#define SWEEP_MAX_PARALLEL 64
#define SWEEP_SAVE_EVERY 0.2 /* seconds between rewrites of the table while trials succeed */

typedef struct sweep {
    crun_logger *logger;
    char *self;       /* the sweep's runner.yml name */
    char *runner;     /* the wrapped runner, NULL: the env's default */
    json_t *trials;   /* {dotted key: value} per trial */
    json_t *columns;
    json_t *wheres;   /* per column: where it was swept, for messages */
    char **collect;   /* NULL-terminated */
    char *resume;     /* the sweep id to resume, or NULL */
    int64_t max_parallel;
    bool stop_on_failure;
    bool from_cli;    /* the sweep came from -m */
    char where_params[512], where_runner[512], where_collect[512];
} sweep;

/* The options as crun_options_read fills them (strings and JSON borrowed). */
typedef struct sweep_config {
    const char *runner;
    json_t *params;
    json_t *trials;
    int64_t samples;
    int64_t seed;
    int64_t max_parallel;
    const char *on_failure;
    json_t *collect;
    const char *resume;
    const char *m;
} sweep_config;

static const char *const on_failure_choices[] = {"stop", "continue", NULL};

static const crun_option sweep_option_table[] = {
    {.name = "runner", .type = CRUN_OPTION_STRING, .offset = offsetof(sweep_config, runner),
     .doc = "the runner each trial runs with, a runner.yml name (default: the env's default)"},
    {.name = "params", .type = CRUN_OPTION_JSON, .offset = offsetof(sweep_config, params),
     .doc = "dotted parameter key -> sweep: \"0.1,0.2\", range(1,4), choice(a,b), or a list"},
    {.name = "trials", .type = CRUN_OPTION_JSON, .offset = offsetof(sweep_config, trials),
     .doc = "instead of params: the trials, a list of {dotted key: value}"},
    {.name = "samples", .type = CRUN_OPTION_INT, .min = 1, .max = SWEEP_MAX_TRIALS,
     .offset = offsetof(sweep_config, samples),
     .doc = "run only this many trials, drawn without replacement (default: all)"},
    {.name = "seed", .type = CRUN_OPTION_INT, .def = "0", .offset = offsetof(sweep_config, seed),
     .doc = "the seed of samples"},
    {.name = "max_parallel", .type = CRUN_OPTION_INT, .def = "1", .min = 1,
     .max = SWEEP_MAX_PARALLEL, .offset = offsetof(sweep_config, max_parallel),
     .doc = "trials at once"},
    {.name = "on_failure", .type = CRUN_OPTION_CHOICE, .def = "stop",
     .choices = on_failure_choices, .offset = offsetof(sweep_config, on_failure),
     .doc = "after a failed trial: start no new one (stop) or run the rest (continue)"},
    {.name = "collect", .type = CRUN_OPTION_JSON, .offset = offsetof(sweep_config, collect),
     .doc = "datasets whose values go into the results table (a list, or one name)"},
    {.name = "resume", .type = CRUN_OPTION_STRING, .offset = offsetof(sweep_config, resume),
     .doc = "the id of a sweep whose unfinished trials to run (crun run --resume ID)"},
    {.name = "m", .type = CRUN_OPTION_STRING, .offset = offsetof(sweep_config, m),
     .doc = "KEY=SWEEP lines (crun run -m)"},
};

/* --- options ------------------------------------------------------------------ */

/* One swept key's values: a grammar string, a YAML list, or one value. */
static int key_values(const char *key, json_t *v, const char *where, json_t **out,
                      crun_error *err)
{
    char why[300];
    if (json_is_string(v)) {
        if (sweep_parse(json_string_value(v), 0, out, why, sizeof(why)) == 0)
            return 0;
        return crun_error_set(err, CRUN_ECONFIG, "%s: params: '%s': %s", where, key, why);
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        *out = json_deep_copy(v);
        return 0;
    }
    if (json_is_array(v) || json_is_object(v))
        return crun_error_set(err, CRUN_ECONFIG, "%s: params: '%s': expected a sweep such as "
                              "\"0.1,0.2\", range(1,4) or a list", where, key);
    *out = json_array(); /* the options' values are copied, never shared */
    if (!*out || json_array_append_new(*out, json_deep_copy(v)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

/* `-m KEY=SWEEP` arguments, one per line in option `m`. */
static int cli_sweeps(const char *text, json_t *keys, json_t *values, json_t *wheres,
                      crun_error *err)
{
    char *copy = strdup(text), *save = NULL;
    int rc = copy ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (char *arg = copy ? strtok_r(copy, "\n", &save) : NULL; arg && !rc;
         arg = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(arg, '=');
        if (!eq || eq == arg) {
            rc = crun_error_set(err, CRUN_EUSAGE, "-m '%s': expected KEY=SWEEP "
                                "(model_options.alpha=0.1,0.5)", arg);
            break;
        }
        *eq = '\0';
        json_t *vals = NULL;
        char why[300];
        if (sweep_parse(eq + 1, (size_t)(eq - arg) + 1, &vals, why, sizeof(why)) != 0) {
            *eq = '=';
            rc = crun_error_set(err, CRUN_EUSAGE, "-m '%s': %s", arg, why);
            break;
        }
        json_array_append_new(keys, json_string(arg));
        json_array_append_new(values, vals);
        *eq = '=';
        char where[600];
        snprintf(where, sizeof(where), "-m '%s'", arg);
        json_array_append_new(wheres, json_string(where));
    }
    free(copy);
    return rc;
}

static int read_space(sweep *sw, const crun_options *opts, const sweep_config *cfg,
                      sweep_space *sp, crun_error *err)
{
    json_t *params = cfg->params, *trials = cfg->trials;
    const char *m = cfg->m;
    sp->keys = json_array();
    sp->values = json_array();
    if (params && !json_is_object(params))
        return crun_error_set(err, CRUN_ECONFIG, "%s: params: expected a map of parameter key "
                              "to sweep", sw->where_params);
    if (trials && (!json_is_array(trials) || json_array_size(trials) == 0))
        return crun_error_set(err, CRUN_ECONFIG, "%s: trials: expected a list of maps of "
                              "parameter key to value", crun_options_where(opts, "trials"));
    if ((params || m) && trials)
        return crun_error_set(err, CRUN_ECONFIG, "%s: give either params (a grid) or trials "
                              "(a list), not both", crun_options_where(opts, "trials"));
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        json_t *vals = NULL;
        int rc = key_values(key, v, sw->where_params, &vals, err);
        if (rc)
            return rc;
        json_array_append_new(sp->keys, json_string(key));
        json_array_append_new(sp->values, vals);
        char where[600];
        snprintf(where, sizeof(where), "%s: params", sw->where_params);
        json_array_append_new(sw->wheres, json_string(where));
    }
    if (m) {
        int rc = cli_sweeps(m, sp->keys, sp->values, sw->wheres, err);
        if (rc)
            return rc;
    }
    size_t i;
    json_array_foreach(trials, i, v) {
        if (!json_is_object(v) || json_object_size(v) == 0)
            return crun_error_set(err, CRUN_ECONFIG, "%s: trials[%zu]: expected a map of "
                                  "parameter key to value", crun_options_where(opts, "trials"), i);
    }
    sp->trials = trials;
    if (!trials && json_array_size(sp->keys) == 0)
        return crun_error_set(err, CRUN_ECONFIG, "%s: a sweep needs params (or trials, or -m)",
                              crun_options_where(opts, "params"));
    return 0;
}

static int read_trials(sweep *sw, const crun_options *opts, const sweep_config *cfg,
                       crun_error *err)
{
    sweep_space sp = {0};
    int rc = read_space(sw, opts, cfg, &sp, err);
    char why[300];
    if (!rc && !(sw->trials = sweep_trials(&sp, cfg->samples, (uint64_t)cfg->seed,
                                           SWEEP_MAX_TRIALS, why, sizeof(why))))
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: %s", sw->where_params, why);
    if (!rc)
        sw->columns = sp.trials ? sweep_param_columns(sw->trials) : json_incref(sp.keys);
    for (size_t i = 0; !rc && sp.trials && i < json_array_size(sw->columns); i++) {
        char where[600];
        snprintf(where, sizeof(where), "%s: trials", crun_options_where(opts, "trials"));
        json_array_append_new(sw->wheres, json_string(where));
    }
    json_decref(sp.keys);
    json_decref(sp.values);
    return rc;
}

static int read_collect(sweep *sw, const sweep_config *cfg, crun_error *err)
{
    json_t *c = cfg->collect; /* borrowed */
    if (c && !json_is_string(c) && !json_is_array(c))
        return crun_error_set(err, CRUN_ECONFIG, "%s: collect: expected a list of dataset "
                              "names", sw->where_collect);
    size_t n = json_is_string(c) ? 1 : json_array_size(c);
    sw->collect = calloc(n + 1, sizeof(char *));
    int rc = sw->collect ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const char *name = json_string_value(json_is_string(c) ? c : json_array_get(c, i));
        if (!name)
            rc = crun_error_set(err, CRUN_ECONFIG, "%s: collect: expected dataset names",
                                sw->where_collect);
        else if (!(sw->collect[i] = strdup(name)))
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return rc;
}

static int read_options(sweep *sw, const crun_options *opts, crun_error *err)
{
    snprintf(sw->where_params, sizeof(sw->where_params), "%s",
             crun_options_where(opts, "params"));
    snprintf(sw->where_runner, sizeof(sw->where_runner), "%s",
             crun_options_where(opts, "runner"));
    snprintf(sw->where_collect, sizeof(sw->where_collect), "%s",
             crun_options_where(opts, "collect"));
    if (!(sw->wheres = json_array()))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    sweep_config cfg = {0};
    int rc = crun_options_read(opts, sweep_option_table, CRUN_OPTION_COUNT(sweep_option_table),
                               &cfg, err);
    if (rc)
        return rc;
    sw->max_parallel = cfg.max_parallel;
    sw->stop_on_failure = strcmp(cfg.on_failure, "stop") == 0;
    if (cfg.runner && cfg.runner[0] && !(sw->runner = strdup(cfg.runner)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (cfg.resume && cfg.resume[0] && !(sw->resume = strdup(cfg.resume)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    rc = read_collect(sw, &cfg, err);
    if (!rc)
        rc = read_trials(sw, opts, &cfg, err);
    return rc;
}

static void sweep_destroy(void *instance)
{
    sweep *sw = instance;
    if (!sw)
        return;
    for (size_t i = 0; sw->collect && sw->collect[i]; i++)
        free(sw->collect[i]);
    free(sw->collect);
    free(sw->self);
    free(sw->runner);
    free(sw->resume);
    json_decref(sw->trials);
    json_decref(sw->columns);
    json_decref(sw->wheres);
    free(sw);
}

static int sweep_create(const crun_options *opts, crun_logger *logger, void **instance,
                        crun_error *err)
{
    sweep *sw = calloc(1, sizeof(*sw));
    if (!sw)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    sw->logger = logger;
    /* the owner is "runner 'NAME'": the name, to find the sweep in a stack */
    const char *owner = crun_options_owner(opts), *q = strchr(owner, '\'');
    sw->self = q ? strndup(q + 1, strcspn(q + 1, "'")) : NULL;
    sw->from_cli = crun_options_has(opts, "m");
    int rc = read_options(sw, opts, err);
    if (rc) {
        sweep_destroy(sw);
        return rc;
    }
    *instance = sw;
    return 0;
}

/* --- running --------------------------------------------------------------- */

typedef struct sweep_state {
    sweep *sw;
    sweep_inner in;
    sweep_table table;
    char dir[4096];
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t next;          /* the next trial to consider */
    size_t alive;         /* workers not yet finished */
    bool stop;            /* start no new trial */
    bool cancelled;
    double saved_at;      /* when the table was last written (monotonic seconds) */
} sweep_state;

static void log_trial(sweep_state *st, size_t k, const sweep_row *row)
{
    char *p = crun_json_dumps(row->params, JSON_COMPACT);
    crun_log(st->sw->logger, row->status == TRIAL_OK ? CRUN_LOG_INFO : CRUN_LOG_WARN,
             "sweep: trial %zu (%zu of %zu, run %s) %s %s in %.2f s%s%s", k, k + 1, st->table.n,
             row->run_id,
             p ? p : "", sweep_status_name(row->status), row->seconds, row->error ? ": " : "",
             row->error ? row->error : "");
    free(p);
}

/* Take the next trial to run (st->lock held), or SIZE_MAX when none. */
static size_t take_trial(sweep_state *st)
{
    while (!st->stop && st->next < st->table.n && st->table.rows[st->next].status == TRIAL_OK)
        st->next++;
    return st->stop || st->next >= st->table.n ? SIZE_MAX : st->next++;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Rewrite the table (st->lock held) so that an interrupted sweep can be
 * resumed: after a trial that did not succeed, and otherwise at most every
 * SWEEP_SAVE_EVERY seconds, so that quick trials do not spend their time
 * on rewriting files; the end of the sweep always writes it. */
static void save_progress(sweep_state *st, bool now)
{
    double t = seconds_now();
    if (!now && t - st->saved_at < SWEEP_SAVE_EVERY)
        return;
    st->saved_at = t;
    crun_error err = CRUN_ERROR_INIT;
    if (sweep_table_write(&st->table, st->dir, false, &err) != 0)
        crun_log(st->sw->logger, CRUN_LOG_WARN, "sweep: %s", err.message);
    crun_error_clear(&err);
}

static void *work(void *arg)
{
    sweep_state *st = arg;
    pthread_mutex_lock(&st->lock);
    for (size_t k; (k = take_trial(st)) != SIZE_MAX;) {
        sweep_row row = st->table.rows[k];
        pthread_mutex_unlock(&st->lock);
        sweep_inner_run(&st->in, k, row.params, &row);
        log_trial(st, k, &row);
        pthread_mutex_lock(&st->lock);
        st->table.rows[k] = row;
        if (row.status == TRIAL_INTERRUPTED || (row.status == TRIAL_FAILED && st->sw->stop_on_failure))
            st->stop = true;
        save_progress(st, row.status != TRIAL_OK);
    }
    st->alive--;
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static void wake(void *user)
{
    sweep_state *st = user;
    pthread_cond_broadcast(&st->changed);
}

/* Wait for the workers.  A cancel of the sweep's run reaches the trials
 * in progress by itself (crun_run_delegate); here it stops new ones. */
static void wait_workers(sweep_state *st)
{
    crun_run_on_cancel(st->in.outer, wake, st);
    pthread_mutex_lock(&st->lock);
    while (st->alive > 0) {
        if (!st->cancelled && crun_run_cancelled(st->in.outer))
            st->cancelled = st->stop = true;
        pthread_cond_wait(&st->changed, &st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    crun_run_on_cancel(st->in.outer, NULL, NULL);
    /* the trials may have seen the cancel (Ctrl-C reaches every run) first */
    st->cancelled = st->cancelled || crun_run_cancelled(st->in.outer);
}

static int run_trials(sweep_state *st, crun_error *err)
{
    size_t todo = 0;
    for (size_t k = 0; k < st->table.n; k++)
        todo += st->table.rows[k].status != TRIAL_OK;
    size_t n = (size_t)st->sw->max_parallel < todo ? (size_t)st->sw->max_parallel : todo;
    pthread_t threads[SWEEP_MAX_PARALLEL];
    size_t started = 0;
    pthread_mutex_lock(&st->lock);
    save_progress(st, true); /* a sweep killed in its first trial can be resumed */
    for (; started < n; started++) {
        if (pthread_create(&threads[started], NULL, work, st) != 0)
            break;
        st->alive++;
    }
    pthread_mutex_unlock(&st->lock);
    if (n && !started)
        return crun_error_set(err, CRUN_ENOMEM, "sweep: cannot start a thread");
    wait_workers(st);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return 0;
}

static int init_table(sweep_state *st, crun_error *err)
{
    sweep *sw = st->sw;
    const char *id = sw->resume ? sw->resume : crun_run_id(st->in.outer);
    st->table.sweep_id = strdup(id);
    st->table.runner = sw->runner ? strdup(sw->runner) : NULL;
    st->table.columns = json_incref(sw->columns);
    st->table.rows = calloc(json_array_size(sw->trials) + 1, sizeof(sweep_row));
    if (!st->table.sweep_id || !st->table.rows)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    st->table.n = json_array_size(sw->trials);
    for (size_t k = 0; k < st->table.n; k++) {
        snprintf(st->table.rows[k].run_id, sizeof(st->table.rows[k].run_id), "%s-%zu", id, k);
        st->table.rows[k].params = json_incref(json_array_get(sw->trials, k));
    }
    snprintf(st->dir, sizeof(st->dir), "%s/.crun/sweeps/%s", sweep_inner_dir(&st->in), id);
    return sw->resume ? sweep_table_resume(&st->table, st->dir, err) : 0;
}

static void free_state(sweep_state *st)
{
    for (size_t k = 0; k < st->table.n; k++) {
        json_decref(st->table.rows[k].params);
        json_decref(st->table.rows[k].collected);
        free(st->table.rows[k].error);
    }
    free(st->table.rows);
    free(st->table.sweep_id);
    free(st->table.runner);
    json_decref(st->table.columns);
    free(st->in.default_runner);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->changed);
}

/* The sweep's outcome, from its rows. */
static int outcome(sweep_state *st, crun_error *err)
{
    size_t ok = 0, failed = 0, first_failed = SIZE_MAX;
    for (size_t k = 0; k < st->table.n; k++)
        st->cancelled = st->cancelled || st->table.rows[k].status == TRIAL_INTERRUPTED;
    for (size_t k = 0; k < st->table.n; k++) {
        sweep_row *row = &st->table.rows[k];
        if (row->status == TRIAL_PENDING && st->stop && !st->cancelled)
            row->status = TRIAL_SKIPPED;
        ok += row->status == TRIAL_OK;
        if (row->status == TRIAL_FAILED && failed++ == 0)
            first_failed = k;
    }
    const char *id = st->table.sweep_id;
    if (ok < st->table.n)
        crun_log(st->sw->logger, CRUN_LOG_WARN, "sweep %s: resume with: crun run %s%s%s "
                 "--resume %s", id, st->sw->from_cli ? "-m ... (the same -m arguments)" : "",
                 st->sw->from_cli ? "" : "--runner ", st->sw->from_cli ? "" : st->sw->self, id);
    if (st->cancelled)
        return crun_error_set(err, CRUN_ECANCELED, "sweep %s interrupted: %zu of %zu trials "
                              "succeeded", id, ok, st->table.n);
    if (failed)
        return crun_error_set(err, CRUN_ENODE, "sweep %s: %zu of %zu trials failed; trial %zu "
                              "(run %s): %s", id, failed, st->table.n, first_failed,
                              st->table.rows[first_failed].run_id,
                              st->table.rows[first_failed].error);
    return 0;
}

static int sweep_run(void *instance, crun_run *run, crun_error *err)
{
    sweep *sw = instance;
    sweep_state st = {.sw = sw};
    st.in.outer = run;
    st.in.runner = sw->runner;
    st.in.memory_outputs = sw->max_parallel > 1;
    st.in.collect = (const char *const *)sw->collect;
    pthread_mutex_init(&st.lock, NULL);
    pthread_cond_init(&st.changed, NULL);
    sweep_where where = {sw->wheres, sw->where_runner, sw->where_collect, sw->self};
    crun_run_set_delegated(run);
    int rc = sweep_inner_begin(&st.in, &where, err);
    if (!rc)
        rc = init_table(&st, err);
    if (!rc)
        rc = run_trials(&st, err);
    if (!rc) {
        crun_error werr = CRUN_ERROR_INIT;
        rc = outcome(&st, err);
        if (sweep_table_write(&st.table, st.dir, true, &werr) != 0 && !rc)
            rc = crun_error_set(err, werr.code, "%s", werr.message);
        crun_error_clear(&werr);
        sweep_table_print(&st.table, stdout);
        fflush(stdout);
        crun_log(sw->logger, CRUN_LOG_INFO, "sweep %s: results in %s/results.csv",
                 st.table.sweep_id, st.dir);
    }
    free_state(&st);
    return rc;
}

/* Before anything runs: the options as create() reads them, checked
 * against the project (swept keys, the wrapped runner, collected datasets). */
static int sweep_check(const crun_options *opts, crun_session *session, crun_error *err)
{
    void *instance = NULL;
    int rc = sweep_create(opts, NULL, &instance, err);
    if (rc)
        return rc;
    sweep *sw = instance;
    sweep_where where = {sw->wheres, sw->where_runner, sw->where_collect, sw->self};
    rc = sweep_inner_check(session, sw->runner, sw->columns, (const char *const *)sw->collect,
                           &where, err);
    sweep_destroy(sw);
    return rc;
}

static const crun_runner_type sweep_type = {
    .size = sizeof(crun_runner_type),
    .check = sweep_check,
    .create = sweep_create,
    .run = sweep_run,
    .destroy = sweep_destroy,
};

static const crun_plugin sweep_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "sweep",
    .version = "1.0.0",
    .description = "runs the pipeline once per parameter trial through another runner "
                   "and tabulates the results",
    .table = &sweep_type,
    .options = sweep_option_table,
    .n_options = CRUN_OPTION_COUNT(sweep_option_table),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &sweep_plugin;
}
