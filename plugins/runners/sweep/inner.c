/* inner.c - the sweep's one door into libcrun's session and run API.
 *
 * Everything a wrapping runner needs from the host beyond its own run goes
 * through here: the checks made before anything runs (check(): swept keys
 * are parameters, the wrapped runner and its stack resolve, collected
 * datasets exist), and one trial, a crun_run_delegate of the sweep's run:
 * the trial inherits the run's filters, load versions, hooks and logger
 * (its lines prefixed "trial K"), its parameters reach ${runtime_params:}
 * in the catalog, and its failure becomes the sweep run's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep.h"

const char *sweep_inner_dir(sweep_inner *in)
{
    return crun_session_dir(crun_run_session(in->outer));
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
static int check_runner(crun_session *s, const char *runner, const sweep_where *w,
                        crun_error *err)
{
    json_t *runners = NULL, *plugins = NULL;
    int rc = crun_session_list(s, "runners", &runners, err);
    if (rc)
        return rc;
    const char *name = runner ? runner : default_runner(runners);
    char chain[1024];
    snprintf(chain, sizeof(chain), "%s", w->self ? w->self : "sweep");
    json_t *entry = find_named(runners, name);
    if (!entry && !strchr(name, '/')) {
        if ((rc = crun_session_list(s, "plugins", &plugins, err)) == 0) {
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

static bool in_run(const sweep_inner *in, json_t *names)
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

/* Each collected dataset is made by a node of the project (in != NULL: of
 * the run).  One that a node of the run also reads is not among a run's
 * returned outputs: it is read back from its file, which only one trial at
 * a time may write. */
static int check_collect(crun_session *s, const sweep_inner *in, const char *const *collect,
                         const sweep_where *w, crun_error *err)
{
    if (!collect || !collect[0])
        return 0;
    json_t *list = NULL;
    int rc = crun_session_list(s, "datasets", &list, err);
    for (size_t i = 0; !rc && collect[i]; i++) {
        json_t *d = find_named(list, collect[i]);
        json_t *by = d ? json_object_get(d, "produced_by") : NULL;
        if (!json_array_size(by) || (in && !in_run(in, by)))
            rc = crun_error_set(err, CRUN_ECONFIG, "%s: collect: no node of the %s makes "
                                "dataset '%s'", w->collect, in ? "run" : "project", collect[i]);
        else if (in && in->memory_outputs && in_run(in, json_object_get(d, "used_by")))
            rc = crun_error_set(err, CRUN_ECONFIG, "%s: collect: dataset '%s' is read by a node "
                                "of the run, so it is read back from its file, and trials "
                                "that run at once write no files: use max_parallel: 1",
                                w->collect, collect[i]);
    }
    json_decref(list);
    return rc;
}

int sweep_inner_check(crun_session *s, const char *runner, const json_t *columns,
                      const char *const *collect, const sweep_where *w, crun_error *err)
{
    json_t *params = crun_session_params(s);
    int rc = 0;
    for (size_t i = 0; !rc && i < json_array_size(columns); i++)
        rc = check_param(params, json_string_value(json_array_get(columns, i)),
                         json_string_value(json_array_get(w->params, i)), err);
    if (!rc)
        rc = check_runner(s, runner, w, err);
    if (!rc) /* the stack under the wrapped runner, and each one's check() */
        rc = crun_session_check_runner(s, runner, err);
    if (!rc)
        rc = check_collect(s, NULL, collect, w, err);
    return rc;
}

int sweep_inner_begin(sweep_inner *in, const sweep_where *w, crun_error *err)
{
    crun_session *s = crun_run_session(in->outer);
    if (!in->runner) {
        json_t *runners = NULL;
        int rc = crun_session_list(s, "runners", &runners, err);
        if (!rc && !(in->default_runner = strdup(default_runner(runners))))
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        json_decref(runners);
        if (rc)
            return rc;
    }
    return check_collect(s, in, in->collect, w, err);
}

/* --- one trial ------------------------------------------------------------ */

/* The overrides {dotted key: value} as a tree {"a": {"b": value}}. */
static json_t *nested(const json_t *overrides)
{
    json_t *tree = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)overrides, key, v) {
        char *path = strdup(key), *save = NULL;
        json_t *at = tree;
        char *part = path ? strtok_r(path, ".", &save) : NULL;
        for (char *next; part && at; part = next) {
            next = strtok_r(NULL, ".", &save);
            json_t *child = json_object_get(at, part);
            if (!next)
                json_object_set_new(at, part, json_deep_copy(v));
            else if (json_is_object(child))
                at = child;
            else if (json_object_set_new(at, part, json_object()) == 0)
                at = json_object_get(at, part);
            else
                at = NULL;
        }
        if (!path || !at) {
            free(path);
            json_decref(tree);
            return NULL;
        }
        free(path);
    }
    return tree;
}

/* A collected dataset that a node also reads: its newest saved value, from
 * its file (json and text datasets). */
static void collect_from_file(sweep_inner *in, const char *name, json_t *collected)
{
    json_t *d = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (crun_session_describe_dataset(crun_run_session(in->outer), name, &d, &err) != 0) {
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

int sweep_inner_run(sweep_inner *in, size_t k, const json_t *overrides, sweep_row *row)
{
    crun_delegate_options o = CRUN_DELEGATE_OPTIONS_INIT;
    char label[64];
    snprintf(label, sizeof(label), "trial %zu", k); /* the table's and run id's number */
    o.runner = in->runner ? in->runner : in->default_runner;
    o.label = label;
    o.run_id = row->run_id;
    o.params = nested(overrides);
    o.collect_outputs = in->collect && in->collect[0];
    o.memory_outputs = in->memory_outputs;
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    double start = now();
    int rc = o.params ? crun_run_delegate(in->outer, &o, &res, &err)
                      : crun_error_set(&err, CRUN_ENOMEM, "out of memory");
    row->seconds = now() - start;
    row->status = rc == 0 ? TRIAL_OK : rc == CRUN_ECANCELED ? TRIAL_INTERRUPTED : TRIAL_FAILED;
    if (rc == 0)
        collect(in, &res, row);
    if (rc && rc != CRUN_ECANCELED)
        row->error = strdup(err.message ? err.message : crun_strerror(rc));
    json_decref(o.params);
    crun_run_result_clear(&res);
    crun_error_clear(&err);
    return rc;
}
