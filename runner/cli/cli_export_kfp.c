/* cli_export_kfp.c - `crun export kfp`: a Kubeflow Pipelines v2 PipelineSpec.
 *
 * The YAML `kfp` 2.x compiles to (api/v2alpha1/pipeline_spec.proto of
 * kubeflow/pipelines, in its JSON field names): one task per step of
 * cli_export_steps.c in root.dag.tasks, each with its own component
 * (comp-<task>) and executor (exec-<task>), every executor the same image
 * running
 *
 *     crun run --project WORKDIR --env E --pipeline P --runner sequential
 *              --params a.b={{$.inputs.parameters['p_a_b']}},...
 *              --nodes a,b --input D={{$.inputs.artifacts['D'].path}}
 *                          --output E={{$.outputs.artifacts['E'].path}}
 *
 * Files between steps are system.Dataset artifacts: a task reads its
 * producers' through taskOutputArtifact and names them in dependentTasks.
 * Parameters are the pipeline's (root.inputDefinitions), one per leaf, with
 * their values as defaults.  A step of one node with a retry: gets KFP's
 * retryPolicy (and crun's own retries turned off in it).  A step is cached
 * (cachingOptions.enableCache) only when everything it reads comes through
 * KFP: a step reading files of the project folder, which KFP cannot see
 * change, is always run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *kfp_type(json_t *v)
{
    return json_is_integer(v) ? "NUMBER_INTEGER" : json_is_real(v) ? "NUMBER_DOUBLE"
           : json_is_string(v) ? "STRING" : json_is_boolean(v) ? "BOOLEAN"
           : json_is_array(v) ? "LIST" : "STRUCT";
}

static json_t *dataset_artifact(void)
{
    return json_pack("{s:{s:s, s:s}}", "artifactType", "schemaTitle", "system.Dataset",
                     "schemaVersion", "0.0.1");
}

static void add_arg(json_t *args, const char *flag, const char *value)
{
    json_array_append_new(args, json_string(flag));
    json_array_append_new(args, json_string(value));
}

/* "--params" text with KFP placeholders, or NULL without parameters. */
static char *params_arg(json_t *params)
{
    char *text = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        char *ref = NULL;
        if (asprintf(&ref, "{{$.inputs.parameters['%s']}}",
                     json_string_value(json_object_get(p, "id"))) < 0)
            continue;
        cli_export_param_add(&text, p, ref);
        free(ref);
    }
    return text;
}

/* Whether a node of the step reads a catalog dataset from the project
 * folder (one the step neither makes nor gets as an artifact). */
static bool reads_project_files(json_t *ir, json_t *by_name, json_t *st)
{
    json_t *made = json_object();
    size_t i, k, n;
    json_t *io, *name;
    bool reads = false;
    json_array_foreach(json_object_get(st, "inputs"), i, io)
        json_object_set(made, json_string_value(json_object_get(io, "dataset")), json_true());
    for (int pass = 0; pass < 2; pass++) { /* what the step's nodes make, then what they read */
        json_array_foreach(json_object_get(st, "nodes"), n, name) {
            json_t *node = json_object_get(by_name, json_string_value(name));
            json_array_foreach(json_object_get(node, pass ? "inputs" : "outputs"), k, io) {
                const char *ds = json_string_value(json_object_get(io, "dataset"));
                json_t *d = json_object_get(json_object_get(ir, "datasets"), ds);
                if (!pass)
                    json_object_set(made, ds, json_true());
                else if (strcmp(json_string_value(json_object_get(d, "kind")), "params") != 0)
                    reads = reads || !json_object_get(made, ds);
            }
        }
    }
    json_decref(made);
    return reads;
}

/* KFP's retryPolicy for a node's retry: (tries after the first, the
 * delay and its factor; KFP has no jitter nor exit-status filter). */
static json_t *retry_policy(json_t *retry)
{
    char delay[64];
    snprintf(delay, sizeof(delay), "%gs", json_number_value(json_object_get(retry, "delay")));
    return json_pack("{s:I, s:s, s:f, s:s}", "maxRetryCount",
                     json_integer_value(json_object_get(retry, "attempts")) - 1,
                     "backoffDuration", delay, "backoffFactor",
                     json_number_value(json_object_get(retry, "backoff")),
                     "backoffMaxDuration", "3600s");
}

static json_t *node_retry(json_t *by_name, json_t *st)
{
    if (json_array_size(json_object_get(st, "nodes")) != 1)
        return NULL;
    json_t *name = json_array_get(json_object_get(st, "nodes"), 0);
    return json_object_get(json_object_get(by_name, json_string_value(name)), "retry");
}

typedef struct kfp_doc {
    const cli *c;
    json_t *ir, *by_name, *params, *base_args, *task_of;
    const char *params_text;
    json_t *components, *executors, *tasks;
} kfp_doc;

static json_t *executor(kfp_doc *k, json_t *st, bool retried)
{
    json_t *args = json_deep_copy(k->base_args);
    if (k->params_text)
        add_arg(args, "--params", k->params_text);
    char *nodes = NULL, *item = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(st, "nodes"), i, v) {
        char *grown = NULL;
        if (asprintf(&grown, "%s%s%s", nodes ? nodes : "", nodes ? "," : "",
                     json_string_value(v)) >= 0) {
            free(nodes);
            nodes = grown;
        }
    }
    add_arg(args, "--nodes", nodes ? nodes : "");
    free(nodes);
    for (int out = 0; out <= 1; out++) {
        json_array_foreach(json_object_get(st, out ? "outputs" : "inputs"), i, v) {
            if (asprintf(&item, "%s={{$.%s.artifacts['%s'].path}}",
                         json_string_value(json_object_get(v, "dataset")),
                         out ? "outputs" : "inputs", json_string_value(json_object_get(v, "id"))) < 0)
                continue;
            add_arg(args, out ? "--output" : "--input", item);
            free(item);
        }
    }
    json_t *container = json_pack("{s:s, s:[s], s:o}", "image",
                                  k->c->image ? k->c->image : "crun:latest", "command", "crun",
                                  "args", args);
    if (retried)
        json_object_set_new(container, "env",
                            json_pack("[{s:s, s:s}]", "name", "CRUN_NODE_RETRY", "value", "off"));
    if (k->c->cpu || k->c->memory) {
        json_t *res = json_object();
        if (k->c->cpu)
            json_object_set_new(res, "resourceCpuRequest", json_string(k->c->cpu));
        if (k->c->memory) {
            json_object_set_new(res, "resourceMemoryRequest", json_string(k->c->memory));
            json_object_set_new(res, "resourceMemoryLimit", json_string(k->c->memory));
        }
        json_object_set_new(container, "resources", res);
    }
    return json_pack("{s:o}", "container", container);
}

static void add_step(kfp_doc *k, json_t *st)
{
    const char *task = json_string_value(json_object_get(k->task_of,
                                         json_string_value(json_object_get(st, "id"))));
    char comp[160], exec[160];
    snprintf(comp, sizeof(comp), "comp-%s", task);
    snprintf(exec, sizeof(exec), "exec-%s", task);
    json_t *in_params = json_object(), *in_arts = json_object(), *out_arts = json_object();
    json_t *t_params = json_object(), *t_arts = json_object(), *deps = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(k->params, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        json_object_set_new(in_params, id, json_pack("{s:s}", "parameterType",
                                                     kfp_type(json_object_get(v, "value"))));
        json_object_set_new(t_params, id, json_pack("{s:s}", "componentInputParameter", id));
    }
    json_array_foreach(json_object_get(st, "inputs"), i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        json_object_set_new(in_arts, id, dataset_artifact());
        json_t *from = json_object_get(k->task_of, json_string_value(json_object_get(v, "from")));
        json_object_set_new(t_arts, id, json_pack("{s:{s:O, s:s}}", "taskOutputArtifact",
                                                  "producerTask", from, "outputArtifactKey", id));
    }
    json_array_foreach(json_object_get(st, "outputs"), i, v)
        json_object_set_new(out_arts, json_string_value(json_object_get(v, "id")),
                            dataset_artifact());
    json_array_foreach(json_object_get(st, "after"), i, v)
        json_array_append(deps, json_object_get(k->task_of, json_string_value(v)));
    json_t *component = json_pack("{s:s}", "executorLabel", exec);
    json_t *defs = json_object(), *odefs = json_object(), *tin = json_object();
    if (json_object_size(in_params))
        json_object_set(defs, "parameters", in_params), json_object_set(tin, "parameters", t_params);
    if (json_object_size(in_arts))
        json_object_set(defs, "artifacts", in_arts), json_object_set(tin, "artifacts", t_arts);
    if (json_object_size(out_arts))
        json_object_set(odefs, "artifacts", out_arts);
    json_decref(in_params), json_decref(in_arts), json_decref(out_arts);
    json_decref(t_params), json_decref(t_arts);
    if (json_object_size(defs))
        json_object_set(component, "inputDefinitions", defs);
    if (json_object_size(odefs))
        json_object_set(component, "outputDefinitions", odefs);
    json_decref(defs), json_decref(odefs);
    json_object_set_new(k->components, comp, component);
    json_t *retry = node_retry(k->by_name, st);
    json_object_set_new(k->executors, exec, executor(k, st, retry != NULL));
    json_t *t = json_pack("{s:{s:s}, s:{s:s}, s:{s:b}}", "taskInfo", "name", task, "componentRef",
                          "name", comp, "cachingOptions", "enableCache",
                          !reads_project_files(k->ir, k->by_name, st));
    if (json_object_size(tin))
        json_object_set(t, "inputs", tin);
    json_decref(tin);
    if (json_array_size(deps))
        json_object_set(t, "dependentTasks", deps);
    json_decref(deps);
    if (retry)
        json_object_set_new(t, "retryPolicy", retry_policy(retry));
    json_object_set_new(k->tasks, task, t);
}

static json_t *base_args(const cli *c, json_t *ir)
{
    json_t *args = json_pack("[s]", "run");
    add_arg(args, "--project", c->workdir ? c->workdir : "/work");
    add_arg(args, "--env", json_string_value(json_object_get(ir, "env")));
    add_arg(args, "--pipeline", json_string_value(json_object_get(ir, "pipeline")));
    add_arg(args, "--runner", c->ro.runner ? c->ro.runner : "sequential");
    for (size_t i = 0; i < c->n_runner_opts; i++)
        add_arg(args, "--runner-opt", c->runner_opts[i]);
    if (c->ro.load_versions)
        add_arg(args, "--load-versions", c->ro.load_versions);
    return args;
}

static json_t *pipeline_spec(const cli *c, json_t *ir, json_t *steps)
{
    kfp_doc k = {.c = c, .ir = ir, .params = cli_export_params(ir), .base_args = base_args(c, ir),
                 .components = json_object(), .executors = json_object(), .tasks = json_object()};
    json_t *named = json_array();
    size_t i;
    json_t *st, *p;
    json_array_foreach(steps, i, st)
        json_array_append_new(named, json_pack("{s:O}", "name", json_object_get(st, "id")));
    k.task_of = cli_task_names(named);
    k.by_name = json_object();
    json_array_foreach(json_object_get(ir, "nodes"), i, p)
        json_object_set(k.by_name, json_string_value(json_object_get(p, "name")), p);
    json_decref(named);
    char *params_text = params_arg(k.params);
    k.params_text = params_text;
    json_array_foreach(steps, i, st)
        add_step(&k, st);
    free(params_text);
    json_t *root = json_pack("{s:{s:o}}", "dag", "tasks", k.tasks);
    json_t *defs = json_object();
    json_array_foreach(k.params, i, p) {
        json_t *v = json_object_get(p, "value");
        json_object_set_new(defs, json_string_value(json_object_get(p, "id")),
                            json_pack("{s:s, s:O, s:b, s:O}", "parameterType", kfp_type(v),
                                      "defaultValue", v, "isOptional", 1, "description",
                                      json_object_get(p, "path")));
    }
    if (json_object_size(defs))
        json_object_set_new(root, "inputDefinitions", json_pack("{s:o}", "parameters", defs));
    else
        json_decref(defs);
    const char *project = json_string_value(json_object_get(ir, "project"));
    json_t *one = json_pack("[{s:s}]", "name", project ? project : "crun");
    json_t *label = cli_task_names(one);
    char desc[512], sdk[64];
    snprintf(desc, sizeof(desc), "%s: pipeline %s (env %s), exported by crun", project,
             json_string_value(json_object_get(ir, "pipeline")),
             json_string_value(json_object_get(ir, "env")));
    snprintf(sdk, sizeof(sdk), "crun-%s", crun_version());
    json_t *doc = json_pack("{s:{s:O, s:s}, s:o, s:o, s:{s:o}, s:s, s:s}", "pipelineInfo", "name",
                            json_object_get(label, project ? project : "crun"), "description",
                            desc, "root", root, "components", k.components, "deploymentSpec",
                            "executors", k.executors, "schemaVersion", "2.1.0", "sdkVersion", sdk);
    json_decref(one);
    json_decref(label);
    json_decref(k.params);
    json_decref(k.base_args);
    json_decref(k.task_of);
    json_decref(k.by_name);
    return doc;
}

int cli_export_kfp(cli *c, crun_session *s, crun_error *err)
{
    if (c->pvc || c->events)
        return usage_error("%s", "crun export kfp takes --image, --cpu, --memory, --workdir, "
                                 "--format and -o");
    bool json = c->format && strcmp(c->format, "json") == 0;
    if (c->format && !json && strcmp(c->format, "yaml") != 0)
        return usage_error("crun export kfp: --format must be yaml or json, got '%s'", c->format);
    if (c->image && (!c->image[0] || strpbrk(c->image, " \t\n")))
        return usage_error("--image: '%s' is not a container image name", c->image);
    if (c->cpu && !cli_is_quantity(c->cpu))
        return usage_error("--cpu: '%s' is not a Kubernetes quantity (e.g. 1, 0.5, 500m)", c->cpu);
    if (c->memory && !cli_is_quantity(c->memory))
        return usage_error("--memory: '%s' is not a Kubernetes quantity (e.g. 512Mi, 2Gi)",
                           c->memory);
    if (c->workdir && c->workdir[0] != '/')
        return usage_error("--workdir: '%s' is not an absolute path", c->workdir);
    json_t *ir;
    if (crun_session_compile(s, &c->filter, &ir, err) != 0)
        return report(err);
    json_t *steps = cli_export_steps(ir);
    json_t *doc = steps ? pipeline_spec(c, ir, steps) : NULL;
    json_decref(steps);
    json_decref(ir);
    char *text = NULL;
    if (doc && json) {
        char *body = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (body && asprintf(&text, "%s\n", body) < 0)
            text = NULL;
        free(body);
    } else if (doc) {
        text = cli_yaml_document(doc, "# A Kubeflow Pipelines v2 PipelineSpec made by "
                                      "`crun export kfp`: one task per node or group.\n");
    }
    json_decref(doc);
    int rc = text ? cli_write_output(c, text, err)
                  : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(text);
    return rc ? report(err) : EXIT_OK;
}
