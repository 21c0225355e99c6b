/* cli_habits.c - the commands a Kedro user reaches for first:
 *
 *   crun catalog list [--pipeline P] [--json]   the datasets of each pipeline,
 *       with their type and whether the catalog declares them (kedro catalog list)
 *   crun registry list [--json]                 the pipelines (kedro registry list),
 *       the same as crun list pipelines
 *
 * Both work from the IR JSON crun_session_compile returns, like any other tool;
 * a pipeline that cannot be planned alone is listed with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Add each dataset the ports of one node name to used (an object used as a set). */
static void add_ports(json_t *used, json_t *ports)
{
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p) {
        const char *ds = json_string_value(json_object_get(p, "dataset"));
        if (ds)
            json_object_set_new(used, ds, json_true());
    }
}

/* {"pipeline": P, "datasets": [{name, type, declared}], "unused": [names]}
 * for one pipeline's IR. */
static json_t *pipeline_datasets(const char *name, json_t *ir)
{
    json_t *used = json_object(), *datasets = json_array(), *unused = json_array();
    size_t i;
    json_t *node, *ds;
    const char *key;
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        add_ports(used, json_object_get(node, "inputs"));
        add_ports(used, json_object_get(node, "outputs"));
    }
    json_object_foreach(json_object_get(ir, "datasets"), key, ds) {
        const char *kind = json_string_value(json_object_get(ds, "kind"));
        if (kind && strcmp(kind, "params") == 0)
            continue;
        bool declared = kind && strcmp(kind, "catalog") == 0;
        if (json_object_get(used, key))
            json_array_append_new(datasets, json_pack("{s:s, s:s, s:b}", "name", key, "type",
                                                      json_string_value(json_object_get(ds, "type")),
                                                      "declared", declared));
        else if (declared)
            json_array_append_new(unused, json_string(key));
    }
    json_decref(used);
    return json_pack("{s:s, s:o, s:o}", "pipeline", name, "datasets", datasets, "unused", unused);
}

static void print_pipeline(json_t *p)
{
    size_t i;
    json_t *d;
    const char *error = json_string_value(json_object_get(p, "error"));
    printf("%s:%s%s\n", json_string_value(json_object_get(p, "pipeline")),
           error ? " cannot be planned alone: " : "", error ? error : "");
    json_array_foreach(json_object_get(p, "datasets"), i, d)
        printf("  %-30s %-12s %s\n", json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "type")),
               json_is_true(json_object_get(d, "declared")) ? "declared"
                                                            : "not declared (memory)");
    json_t *unused = json_object_get(p, "unused");
    if (json_array_size(unused)) {
        printf("  catalog entries it does not use:");
        json_array_foreach(unused, i, d)
            printf("%s %s", i ? "," : "", json_string_value(d));
        printf("\n");
    }
}

int cli_catalog_list(cli *c, crun_session *s, crun_error *err)
{
    if (c->what2)
        return usage_error("unexpected argument '%s'", c->what2);
    json_t *pipelines = NULL, *out = json_array();
    int rc = crun_session_list(s, "pipelines", &pipelines, err);
    size_t i;
    json_t *p;
    json_array_foreach(pipelines, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (rc || (c->filter.pipeline && strcmp(c->filter.pipeline, name) != 0))
            continue;
        crun_filter f = CRUN_FILTER_INIT;
        f.pipeline = name;
        json_t *ir = NULL;
        crun_error why = CRUN_ERROR_INIT;
        /* a part that cannot run alone (it reads another part's memory
         * datasets) is still listed, with the reason */
        if (crun_session_compile(s, &f, &ir, &why) == 0)
            json_array_append_new(out, pipeline_datasets(name, ir));
        else
            json_array_append_new(out, json_pack("{s:s, s:s}", "pipeline", name, "error",
                                                 why.message ? why.message : "cannot be planned"));
        crun_error_clear(&why);
        json_decref(ir);
    }
    json_decref(pipelines);
    if (!rc && c->filter.pipeline && !json_array_size(out))
        rc = crun_error_set(err, CRUN_EUSAGE, "--pipeline: no pipeline named '%s' (see crun "
                            "registry list)", c->filter.pipeline);
    if (!rc && c->json) {
        char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            puts(text);
        free(text);
    } else if (!rc) {
        json_array_foreach(out, i, p)
            print_pipeline(p);
    }
    json_decref(out);
    return rc ? report(err) : EXIT_OK;
}
