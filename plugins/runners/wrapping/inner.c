/* inner.c - the wrapped runner's run, and what wrappers share.
 *
 * The inner run is a crun_run_delegate of the outer run under the outer
 * run's own id, so hooks and files see one run: it inherits the outer
 * run's filters, parameters, load versions and durability; cancelling the
 * outer run cancels it; its failure and resume point become the outer
 * run's.  The rest serves the wrappers that must name the plan themselves
 * (the subprocess runner's child crun, the snapshot's manifest).
 */
#include <stdlib.h>
#include <string.h>

#include "inner.h"

char *inner_node_list(const crun_run *run)
{
    size_t n = crun_run_node_count(run), len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(crun_run_node_name(run, i)) + 1;
    char *list = malloc(len), *p = list;
    if (!list)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = stpcpy(p, crun_run_node_name(run, i));
    }
    return list;
}

static bool lists(json_t *pipes, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(pipes, i, v)
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    return false;
}

/* Whether every node of the run is in pipeline name (nodes: name -> pipelines). */
static bool holds_all(const crun_run *run, json_t *nodes, const char *name)
{
    for (size_t i = 0; i < crun_run_node_count(run); i++)
        if (!lists(json_object_get(nodes, crun_run_node_name(run, i)), name))
            return false;
    return true;
}

/* A pipeline holding all the run's nodes: NULL for __default__ (or when none
 * does: then the inner plan says which node is missing); *owned to free. */
const char *inner_pipeline(crun_run *run, json_t **owned)
{
    json_t *list = NULL, *nodes = json_object();
    crun_error err = CRUN_ERROR_INIT;
    *owned = NULL;
    if (crun_session_list(crun_run_session(run), "nodes", &list, &err) != 0 || !nodes ||
        crun_run_node_count(run) == 0) {
        crun_error_clear(&err);
        json_decref(list);
        json_decref(nodes);
        return NULL;
    }
    size_t i;
    json_t *n;
    json_array_foreach(list, i, n)
        json_object_set(nodes, json_string_value(json_object_get(n, "name")),
                        json_object_get(n, "pipelines"));
    json_decref(list);
    const char *found = NULL;
    if (!holds_all(run, nodes, "__default__")) {
        json_t *first = json_object_get(nodes, crun_run_node_name(run, 0)), *p;
        json_array_foreach(first, i, p)
            if (!found && holds_all(run, nodes, json_string_value(p)))
                found = json_string_value(p);
    }
    *owned = nodes;
    return found;
}

static char **take_names(char **names)
{
    size_t n = 0;
    while (names && names[n])
        n++;
    char **copy = names ? calloc(n + 1, sizeof(char *)) : NULL;
    for (size_t i = 0; copy && i < n; i++)
        copy[i] = strdup(names[i]);
    return copy;
}

int inner_run(crun_run *run, const char *runner, const char *from_nodes, inner_outcome *out,
              crun_error *err)
{
    *out = (inner_outcome){0};
    crun_delegate_options o = CRUN_DELEGATE_OPTIONS_INIT;
    o.runner = runner;
    o.run_id = crun_run_id(run);
    o.from_nodes = from_nodes;
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    int rc = crun_run_delegate(run, &o, &res, err);
    out->status = rc;
    if (rc) {
        out->failed_nodes = take_names(res.failed_nodes);
        out->from_nodes = res.resume_from ? strdup(res.resume_from) : NULL;
    }
    crun_run_result_clear(&res);
    return rc;
}

void inner_outcome_clear(inner_outcome *out)
{
    for (size_t i = 0; out->failed_nodes && out->failed_nodes[i]; i++)
        free(out->failed_nodes[i]);
    free(out->failed_nodes);
    free(out->from_nodes);
    *out = (inner_outcome){0};
}

static bool named(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* rerun[i]: node i is a resume start or downstream of one. */
static void mark_rerun(const crun_run *run, const char *from, unsigned char *rerun)
{
    size_t n = crun_run_node_count(run);
    for (size_t i = 0; i < n; i++)
        rerun[i] = named(from, crun_run_node_name(run, i));
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n; i++)
            for (size_t d = 0; !rerun[i] && d < crun_run_node_dep_count(run, i); d++)
                if (rerun[crun_run_node_dep(run, i, d)]) {
                    rerun[i] = 1;
                    changed = true;
                }
    }
}

void inner_report(crun_run *run, const inner_outcome *out)
{
    if (out->status == 0) {
        crun_run_set_delegated(run);
        return;
    }
    size_t n = crun_run_node_count(run);
    unsigned char *rerun = out->from_nodes ? calloc(n + 1, 1) : NULL;
    if (rerun)
        mark_rerun(run, out->from_nodes, rerun);
    crun_error e = CRUN_ERROR_INIT;
    crun_error_set(&e, out->status, "failed in the wrapped runner");
    for (size_t i = 0; i < n; i++) {
        bool failed = false;
        for (size_t k = 0; out->failed_nodes && out->failed_nodes[k]; k++)
            failed = failed || strcmp(out->failed_nodes[k], crun_run_node_name(run, i)) == 0;
        if (failed)
            crun_run_node_failed(run, i, &e);
        else if (rerun && !rerun[i])
            crun_run_node_done(run, i);
    }
    crun_error_clear(&e);
    free(rerun);
}

static json_t *runner_entry(json_t *runners, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(runners, i, r)
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    return NULL;
}

int inner_stack(crun_run *run, const char *self, const char *runner, json_t **stack,
                crun_error *err)
{
    json_t *runners = NULL;
    int rc = crun_session_list(crun_run_session(run), "runners", &runners, err);
    if (rc)
        return rc;
    json_t *names = json_array();
    json_array_append_new(names, json_string(self));
    for (const char *name = runner; name;) {
        size_t i;
        json_t *seen;
        json_array_foreach(names, i, seen)
            if (strcmp(json_string_value(seen), name) == 0)
                rc = CRUN_ECONFIG;
        json_array_append_new(names, json_string(name));
        if (rc)
            break;
        json_t *entry = runner_entry(runners, name);
        name = json_string_value(json_object_get(json_object_get(entry, "options"), "runner"));
    }
    json_decref(runners);
    if (rc) {
        char *text = NULL;
        size_t len = 0, i;
        json_t *n;
        json_array_foreach(names, i, n)
            len += strlen(json_string_value(n)) + 4;
        if ((text = calloc(len + 1, 1)))
            json_array_foreach(names, i, n) {
                if (i)
                    strcat(text, " -> ");
                strcat(text, json_string_value(n));
            }
        crun_error_set(err, CRUN_ECONFIG, "runner '%s': the runners wrap each other in a "
                       "circle: %s", self, text ? text : "");
        free(text);
        json_decref(names);
        return CRUN_ECONFIG;
    }
    *stack = names;
    return 0;
}

char *inner_own_name(const crun_options *opts)
{
    const char *owner = crun_options_owner(opts);
    const char *q = owner ? strchr(owner, '\'') : NULL;
    const char *end = q ? strrchr(owner, '\'') : NULL;
    return end && end > q ? strndup(q + 1, (size_t)(end - q - 1)) : strdup("?");
}
