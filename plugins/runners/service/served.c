/* served.c - what the service serves, worked out once at start.
 *
 * With the `pipeline` option the service serves that pipeline.  Without it,
 * it serves exactly the nodes of the run that started it, so that
 * `crun --pipeline p --tags t --runner service` serves what the same command
 * line would run: requests then run with filter.pipeline = a pipeline holding
 * all those nodes and, when that pipeline has more, filter.nodes = the list.
 * The catalog types of datasets are kept to check inputs and render outputs.
 */
#include <stdlib.h>
#include <string.h>

#include "service.h"

/* name -> type of every dataset of the catalog (and the memory ones). */
static int dataset_types(svc_served *sv, crun_error *err)
{
    json_t *list = NULL;
    int rc = crun_session_list(sv->session, "datasets", &list, err);
    if (rc)
        return rc;
    sv->dataset_types = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        json_t *name = json_object_get(d, "name"), *type = json_object_get(d, "type");
        if (json_is_string(name) && json_is_string(type))
            json_object_set(sv->dataset_types, json_string_value(name), type);
    }
    json_decref(list);
    return sv->dataset_types ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

/* The served nodes of a pipeline, from its IR. */
static int pipeline_nodes(svc_served *sv, crun_error *err)
{
    crun_filter f = CRUN_FILTER_INIT;
    f.pipeline = sv->pipeline;
    json_t *ir = NULL;
    int rc = crun_session_compile(sv->session, &f, &ir, err);
    if (rc)
        return crun_error_prefix(err, "service: pipeline '%s': ",
                                 sv->pipeline ? sv->pipeline : "__default__");
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(ir, "nodes"), i, n) {
        json_t *name = json_object_get(n, "name");
        if (json_is_string(name))
            json_object_set_new(sv->node_set, json_string_value(name), json_true());
    }
    json_decref(ir);
    return 0;
}

/* A pipeline holding every node of the outer run (and whether it holds more),
 * preferring __default__. */
static int outer_nodes(svc_served *sv, crun_run *outer, crun_error *err)
{
    size_t n = crun_run_node_count(outer), total = 1;
    for (size_t i = 0; i < n; i++) {
        const char *name = crun_run_node_name(outer, i);
        json_object_set_new(sv->node_set, name, json_true());
        total += strlen(name) + 1;
    }
    json_t *nodes = NULL, *pipes = NULL;
    int rc = crun_session_list(sv->session, "nodes", &nodes, err);
    if (!rc)
        rc = crun_session_list(sv->session, "pipelines", &pipes, err);
    json_t *holding = json_object(); /* pipeline -> how many outer nodes it holds */
    size_t i;
    json_t *node;
    json_array_foreach(nodes, i, node) {
        if (!json_object_get(sv->node_set, json_string_value(json_object_get(node, "name"))))
            continue;
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(node, "pipelines"), k, p) {
            json_int_t c = json_integer_value(json_object_get(holding, json_string_value(p)));
            json_object_set_new(holding, json_string_value(p), json_integer(c + 1));
        }
    }
    const char *best = NULL;
    json_int_t best_size = 0;
    json_t *p;
    json_array_foreach(pipes, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_int_t size = json_integer_value(json_object_get(p, "nodes"));
        if (json_integer_value(json_object_get(holding, name)) != (json_int_t)n)
            continue;
        bool better = !best || strcmp(name, "__default__") == 0 ||
                      (strcmp(best, "__default__") != 0 && size < best_size);
        if (better) {
            best = name;
            best_size = size;
        }
    }
    if (!rc && !best)
        rc = crun_error_set(err, CRUN_ECONFIG, "service: no pipeline holds all the nodes to "
                            "serve; set the runner option 'pipeline'");
    if (!rc && !(sv->owned_pipeline = strdup(best)))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc && best_size != (json_int_t)n) { /* a filtered part of the pipeline */
        if (!(sv->nodes = calloc(1, total)))
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        for (size_t k = 0; !rc && k < n; k++) {
            if (k)
                strcat(sv->nodes, ",");
            strcat(sv->nodes, crun_run_node_name(outer, k));
        }
    }
    sv->pipeline = sv->owned_pipeline;
    json_decref(holding);
    json_decref(nodes);
    json_decref(pipes);
    return rc;
}

int svc_served_init(svc_served *sv, crun_session *session, crun_run *outer, const char *pipeline,
                    const char *executor, crun_error *err)
{
    memset(sv, 0, sizeof(*sv));
    sv->session = session;
    sv->executor = executor;
    sv->pipeline = pipeline;
    sv->params = crun_session_params(session);
    sv->node_set = json_object();
    if (!sv->node_set)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = dataset_types(sv, err);
    if (!rc)
        rc = pipeline || !outer ? pipeline_nodes(sv, err) : outer_nodes(sv, outer, err);
    return rc;
}

void svc_served_clear(svc_served *sv)
{
    free(sv->nodes);
    free(sv->owned_pipeline);
    json_decref(sv->node_set);
    json_decref(sv->dataset_types);
    memset(sv, 0, sizeof(*sv));
}
