/* inner.c - the sweep's one door into libcrun's session API.
 *
 * Everything a wrapping runner needs from the host beyond its own run goes
 * through here: the checks before the first trial (parameters, the wrapped
 * runner and its stack, collected datasets) and one trial's run, started
 * with crun_session_run on the outer run's session.  Today's API does not
 * give a runner the outer run's filters, a create-time view of the session,
 * or the values of datasets that a node reads, so this file works around
 * them (the outer run's node names as a --nodes filter, checks at the start
 * of run(), collected files read back); it is the file to change when libcrun
 * grows a real inner-run API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep.h"

const char *sweep_inner_dir(sweep_inner *in)
{
    return crun_session_dir(in->session);
}

crun_logger *sweep_inner_logger(sweep_inner *in)
{
    return crun_run_logger(in->outer);
}

/* --- checks ----------------------------------------------------------------- */

static int check_param(json_t *params, const char *key, const char *where, crun_error *err)
{
    char *path = strdup(key);
    if (!path)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    json_t *at = params;
    char *save = NULL;
    for (char *part = strtok_r(path, ".", &save); part && at; part = strtok_r(NULL, ".", &save))
        at = json_is_object(at) ? json_object_get(at, part) : NULL;
    free(path);
    if (at && key[0] && key[strlen(key) - 1] != '.')
        return 0;
    return crun_error_set(err, CRUN_ECONFIG, "%s: '%s' is not a parameter of the project "
                          "(see conf/*/parameters.yml)", where, key);
}

static json_t *find_named(json_t *list, const char *name)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        if (strcmp(json_string_value(json_object_get(it, "name")), name) == 0)
            return it;
    }
    return NULL;
}

static const char *default_runner(json_t *runners)
{
    size_t i;
    json_t *it;
    json_array_foreach(runners, i, it) {
        if (json_is_true(json_object_get(it, "default")))
            return json_string_value(json_object_get(it, "name"));
    }
    return "sequential";
}

/* The runner a runner.yml entry wraps, or NULL when it wraps none. */
static const char *wrapped_by(json_t *runners, json_t *entry)
{
    json_t *opts = json_object_get(entry, "options");
    const char *inner = json_string_value(json_object_get(opts, "runner"));
    if (inner)
        return inner;
    const char *type = json_string_value(json_object_get(entry, "type"));
    return type && strcmp(type, "sweep") == 0 ? default_runner(runners) : NULL;
}

/* The wrapped runner exists (a runner.yml name or a runner plugin), and the
 * stack under it never comes back to the sweep itself. */
static int check_runner(sweep_inner *in, const sweep_where *w, crun_error *err)
{
    json_t *runners = NULL, *plugins = NULL;
    int rc = crun_session_list(in->session, "runners", &runners, err);
    if (rc)
        return rc;
    const char *name = in->runner ? in->runner : default_runner(runners);
    char chain[1024];
    snprintf(chain, sizeof(chain), "%s", w->self ? w->self : "sweep");
    json_t *entry = find_named(runners, name);
    if (!entry && !strchr(name, '/')) {
        if ((rc = crun_session_list(in->session, "plugins", &plugins, err)) == 0) {
            json_t *p = find_named(plugins, name);
            const char *kind = p ? json_string_value(json_object_get(p, "kind")) : NULL;
            if (!kind || strcmp(kind, "runner") != 0)
                rc = crun_error_set(err, CRUN_ECONFIG, "%s: runner '%s' is not defined in "
                                    "runner.yml (nor a runner plugin)", w->runner, name);
        }
    }
    for (size_t depth = 0; !rc && entry && name && depth < 64; depth++) {
        size_t len = strlen(chain);
        snprintf(chain + len, sizeof(chain) - len, " -> %s", name);
        if (w->self && strcmp(name, w->self) == 0)
            rc = crun_error_set(err, CRUN_ECONFIG, "%s: runner '%s': the runners wrap each "
                                "other in a circle: %s", w->runner, w->self, chain);
        name = wrapped_by(runners, entry);
        entry = name ? find_named(runners, name) : NULL;
    }
    json_decref(runners);
    json_decref(plugins);
    return rc;
}

static bool in_run(sweep_inner *in, json_t *names)
{
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        for (size_t k = 0; k < crun_run_node_count(in->outer); k++)
            if (strcmp(crun_run_node_name(in->outer, k), json_string_value(n)) == 0)
                return true;
    }
    return false;
}

/* Each collected dataset is made by a node of the run.  One that a node of
 * the run also reads is not among a run's returned outputs: it is read back
 * from its file, which only one trial at a time may write. */
static int check_collect(sweep_inner *in, const sweep_where *w, crun_error *err)
{
    if (!in->collect || !in->collect[0])
        return 0;
    json_t *list = NULL;
    int rc = crun_session_list(in->session, "datasets", &list, err);
    for (size_t i = 0; !rc && in->collect[i]; i++) {
        json_t *d = find_named(list, in->collect[i]);
        if (!d || !in_run(in, json_object_get(d, "produced_by")))
            rc = crun_error_set(err, CRUN_ECONFIG, "%s: collect: no node of the run makes "
                                "dataset '%s'", w->collect, in->collect[i]);
        else if (in_run(in, json_object_get(d, "used_by")) && in->memory_outputs)
            rc = crun_error_set(err, CRUN_ECONFIG, "%s: collect: dataset '%s' is read by a node "
                                "of the run, so it is read back from its file, and trials "
                                "that run at once write no files: use max_parallel: 1",
                                w->collect, in->collect[i]);
    }
    json_decref(list);
    return rc;
}

static int outer_nodes(sweep_inner *in, crun_error *err)
{
    size_t len = 1, n = crun_run_node_count(in->outer);
    for (size_t i = 0; i < n; i++)
        len += strlen(crun_run_node_name(in->outer, i)) + 1;
    if (!(in->nodes = malloc(len)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    char *p = in->nodes;
    *p = '\0';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", crun_run_node_name(in->outer, i));
    return 0;
}

int sweep_inner_check(sweep_inner *in, const json_t *columns, const sweep_where *w,
                      crun_error *err)
{
    in->session = crun_run_session(in->outer);
    int rc = outer_nodes(in, err);
    json_t *params = crun_run_params(in->outer);
    for (size_t i = 0; !rc && i < json_array_size(columns); i++)
        rc = check_param(params, json_string_value(json_array_get(columns, i)),
                         json_string_value(json_array_get(w->params, i)), err);
    if (!rc)
        rc = check_runner(in, w, err);
    if (!rc)
        rc = check_collect(in, w, err);
    return rc;
}

/* --- one trial ------------------------------------------------------------ */

/* The outer run's parameters (a private copy: the run's tree may be shared)
 * with each dotted key of overrides set. */
static json_t *trial_params(sweep_inner *in, const json_t *overrides)
{
    json_t *params = json_deep_copy(crun_run_params(in->outer));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)overrides, key, v) {
        char *path = strdup(key), *save = NULL;
        json_t *at = params;
        char *part = path ? strtok_r(path, ".", &save) : NULL;
        for (char *next; part && at; part = next) {
            next = strtok_r(NULL, ".", &save);
            if (!next)
                json_object_set_new(at, part, json_deep_copy(v));
            else
                at = json_object_get(at, part);
        }
        free(path);
    }
    return params;
}

/* A collected dataset that a node also reads: its newest saved value, from
 * its file (json and text datasets). */
static void collect_from_file(sweep_inner *in, const char *name, json_t *collected)
{
    json_t *d = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (crun_session_describe_dataset(in->session, name, &d, &err) != 0) {
        crun_error_clear(&err);
        return;
    }
    const char *fp = json_string_value(json_object_get(d, "filepath"));
    const char *type = json_string_value(json_object_get(d, "type"));
    const char *newest = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d, "versions"), i, v) {
        const char *s = json_string_value(v);
        if (s && (!newest || strcmp(s, newest) > 0))
            newest = s;
    }
    char path[4096];
    const char *base = fp ? strrchr(fp, '/') : NULL;
    if (fp && json_is_true(json_object_get(d, "versioned")) && newest)
        snprintf(path, sizeof(path), "%s/%s/%s/%s", sweep_inner_dir(in), fp, newest,
                 base ? base + 1 : fp);
    else if (fp)
        snprintf(path, sizeof(path), "%s/%s", sweep_inner_dir(in), fp);
    char *data = NULL;
    size_t len = 0;
    if (fp && type && crun_file_read(path, &data, &len, &err) == 0) {
        json_t *j = strcmp(type, "json") == 0 ? json_loadb(data, len, 0, NULL) : NULL;
        crun_value *val = j ? crun_value_json_new(j) : crun_value_bytes_new(data, len, "text/plain");
        if (val)
            sweep_collect_value(collected, name, val);
        crun_value_unref(val);
    }
    free(data);
    crun_error_clear(&err);
    json_decref(d);
}

static void collect(sweep_inner *in, const crun_run_result *res, sweep_row *row)
{
    row->collected = json_object();
    for (size_t c = 0; in->collect && in->collect[c]; c++) {
        bool found = false;
        for (size_t i = 0; i < res->n_outputs && !found; i++)
            if (strcmp(res->output_names[i], in->collect[c]) == 0) {
                sweep_collect_value(row->collected, in->collect[c], res->output_values[i]);
                found = true;
            }
        if (!found)
            collect_from_file(in, in->collect[c], row->collected);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sweep_inner_run(sweep_inner *in, const json_t *overrides, sweep_row *row,
                    void (*on_run)(void *user, crun_run *run), void *user)
{
    crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
    crun_filter filter = CRUN_FILTER_INIT;
    ro.filter = &filter;
    filter.nodes = in->nodes;
    ro.runner = in->runner;
    ro.run_id = row->run_id;
    ro.params = trial_params(in, overrides);
    ro.collect_outputs = in->collect && in->collect[0];
    ro.memory_outputs = in->memory_outputs;
    ro.on_run = on_run;
    ro.on_run_user = user;
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    double start = now();
    int rc = ro.params ? crun_session_run(in->session, &ro, &res, &err)
                       : crun_error_set(&err, CRUN_ENOMEM, "out of memory");
    row->seconds = now() - start;
    row->status = rc == 0 ? TRIAL_OK : rc == CRUN_ECANCELED ? TRIAL_INTERRUPTED : TRIAL_FAILED;
    if (rc == 0)
        collect(in, &res, row);
    if (rc && rc != CRUN_ECANCELED)
        row->error = strdup(err.message ? err.message : crun_strerror(rc));
    json_decref(ro.params);
    crun_run_result_clear(&res);
    crun_error_clear(&err);
    return rc;
}
