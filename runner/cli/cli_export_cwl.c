/* cli_export_cwl.c - `crun export cwl`: the pipeline as a CWL v1.2 Workflow.
 *
 * DIR/workflow.cwl holds one step per node (or per group of nodes joined by
 * memory datasets, cli_export_steps.c), all running DIR/crun-node.cwl, one
 * CommandLineTool:
 *
 *     crun run --project <project> --env E --pipeline P --runner sequential
 *              [--params ...] --nodes a,b --input D=D.ext --output E=E.ext
 *
 * The tool's ports are the same for every step: `staged` (the files it
 * reads, placed in its working folder under their dataset's file name by
 * InitialWorkDirRequirement), `args` (--nodes, --input and --output), and
 * the output `files` (every file it writes, globbed by name).  A step's
 * `staged` merges the `files` of the steps it reads from; the workflow's
 * output `datasets` merges every step's files.  Parameters are workflow inputs, one per leaf of the
 * parameter tree, with their values as defaults; each step turns them into
 * --params with parameter references only (no JavaScript), strings quoted.
 * The project folder is the input `project` (a Directory, by default the
 * project the export came from, relative to DIR).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --- parameters ---------------------------------------------------------- */

static const char *cwl_type(json_t *v)
{
    return json_is_integer(v) ? "long" : json_is_real(v) ? "double" : json_is_string(v) ? "string"
           : json_is_boolean(v) ? "boolean" : "Any";
}

/* Workflow inputs for the leaves, and the --params text built from them:
 * "a.b=$(inputs.a_b),c=\"$(inputs.c)\"" (a string quoted, so that "1" stays
 * a string; lists and maps come out of the reference as JSON). */
static char *params_inputs(json_t *ir, json_t *wf_inputs, json_t *ids)
{
    json_t *params = cli_export_params(ir);
    char *text = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        const char *path = json_string_value(json_object_get(p, "path"));
        const char *id = json_string_value(json_object_get(p, "id"));
        json_t *v = json_object_get(p, "value");
        json_t *in = json_pack("{s:s, s:O, s:s}", "type", cwl_type(v), "default", v, "doc", path);
        if (json_is_null(v))
            json_object_set_new(in, "type", json_pack("[s, s]", "null", "Any"));
        json_object_set_new(wf_inputs, id, in);
        json_array_append_new(ids, json_string(id));
        char *ref = NULL;
        if (asprintf(&ref, "$(inputs.%s)", id) < 0)
            continue;
        cli_export_param_add(&text, p, ref);
        free(ref);
    }
    json_decref(params);
    return text;
}

/* --- the tool ------------------------------------------------------------------ */

static json_t *tool(const cli *c, json_t *ir)
{
    json_t *args = json_pack("[s, s, s, s, s, s, s, s]", "--project", "$(inputs.project.path)",
                             "--env", json_string_value(json_object_get(ir, "env")), "--pipeline",
                             json_string_value(json_object_get(ir, "pipeline")), "--runner",
                             c->ro.runner ? c->ro.runner : "sequential");
    for (size_t i = 0; i < c->n_runner_opts; i++) {
        json_array_append_new(args, json_string("--runner-opt"));
        json_array_append_new(args, json_string(c->runner_opts[i]));
    }
    if (c->ro.load_versions) {
        json_array_append_new(args, json_string("--load-versions"));
        json_array_append_new(args, json_string(c->ro.load_versions));
    }
    json_t *inputs = json_pack(
        "{s:{s:s, s:s}, s:{s:s, s:{s:i}, s:s}, s:{s:s, s:{s:i, s:s}},"
        " s:{s:s, s:[], s:s}, s:{s:s, s:[], s:s}}",
        "project", "type", "Directory", "doc", "the crun project folder",
        "args", "type", "string[]", "inputBinding", "position", 2,
        "doc", "--nodes, --input and --output of this step",
        "params", "type", "string?", "inputBinding", "position", 1, "prefix", "--params",
        "staged", "type", "File[]", "default", "doc", "the files the step reads",
        "produces", "type", "string[]", "default", "doc", "the file names it writes");
    json_t *outputs = json_pack("{s:{s:s, s:{s:s}}}", "files", "type", "File[]",
                                "outputBinding", "glob", "$(inputs.produces)");
    json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:[s, s], s:o, s:{s:{s:s}}, s:o, s:o}",
                          "cwlVersion", "v1.2", "class", "CommandLineTool", "id", "crun-node",
                          "doc", "Runs nodes of the pipeline with crun; every step uses this tool.",
                          "baseCommand", "crun", "run", "arguments", args, "requirements",
                          "InitialWorkDirRequirement", "listing", "$(inputs.staged)",
                          "inputs", inputs, "outputs", outputs);
    if (c->image)
        json_object_set_new(t, "hints", json_pack("{s:{s:s}}", "DockerRequirement",
                                                  "dockerPull", c->image));
    return t;
}

/* --- the workflow ----------------------------------------------------------------- */

static json_t *step_of(json_t *st, json_t *param_ids, const char *params_text)
{
    json_t *args = json_array(), *in = json_object(), *staged = json_array();
    json_t *produces = json_array();
    char *nodes = NULL;
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
    json_array_append_new(args, json_string("--nodes"));
    json_array_append_new(args, json_string(nodes ? nodes : ""));
    free(nodes);
    json_array_foreach(json_object_get(st, "inputs"), i, v) {
        char *a = NULL;
        if (asprintf(&a, "%s=%s", json_string_value(json_object_get(v, "dataset")),
                     json_string_value(json_object_get(v, "file"))) < 0)
            continue;
        json_array_append_new(args, json_string("--input"));
        json_array_append_new(args, json_string(a));
        free(a);
        char *src = NULL;
        bool seen = false;
        if (asprintf(&src, "%s/files", json_string_value(json_object_get(v, "from"))) < 0)
            continue;
        size_t k;
        json_t *s;
        json_array_foreach(staged, k, s)
            seen = seen || strcmp(json_string_value(s), src) == 0;
        if (!seen)
            json_array_append_new(staged, json_string(src));
        free(src);
    }
    json_array_foreach(json_object_get(st, "outputs"), i, v) {
        char *a = NULL;
        const char *file = json_string_value(json_object_get(v, "file"));
        if (asprintf(&a, "%s=%s", json_string_value(json_object_get(v, "dataset")), file) < 0)
            continue;
        json_array_append_new(args, json_string("--output"));
        json_array_append_new(args, json_string(a));
        free(a);
        json_array_append_new(produces, json_string(file));
    }
    json_object_set_new(in, "project", json_string("project"));
    json_object_set_new(in, "args", json_pack("{s:o}", "default", args));
    json_object_set_new(in, "produces", json_pack("{s:o}", "default", produces));
    if (json_array_size(staged))
        json_object_set_new(in, "staged", json_pack("{s:o, s:s}", "source", staged, "linkMerge",
                                                    "merge_flattened"));
    else
        json_decref(staged);
    if (params_text) {
        json_array_foreach(param_ids, i, v)
            json_object_set(in, json_string_value(v), v);
        json_object_set_new(in, "params", json_pack("{s:s}", "valueFrom", params_text));
    }
    return json_pack("{s:s, s:o, s:[s], s:O}", "run", "crun-node.cwl", "in", in, "out",
                     "files", "doc", json_object_get(st, "nodes"));
}

/* The project folder as seen from dir: a relative path when both are local. */
static char *project_location(const cli *c, const char *dir)
{
    char proj[PATH_MAX], out[PATH_MAX];
    if (!realpath(c->so.project_dir ? c->so.project_dir : ".", proj) || !realpath(dir, out))
        return NULL;
    size_t common = 0, i = 0;
    for (; proj[i] && proj[i] == out[i]; i++)
        if (proj[i] == '/')
            common = i;
    if ((!proj[i] || proj[i] == '/') && (!out[i] || out[i] == '/'))
        common = i;
    char *rel = strdup("");
    for (const char *p = out + common; rel && *p; p++) {
        if (*p != '/')
            continue;
        char *grown = NULL;
        if (asprintf(&grown, "%s../", rel) < 0)
            grown = NULL;
        free(rel);
        rel = grown;
    }
    char *loc = NULL;
    const char *tail = proj[common] == '/' ? proj + common + 1 : proj + common;
    if (rel && asprintf(&loc, "%s%s", rel[0] || tail[0] ? rel : "./", tail) < 0)
        loc = NULL;
    free(rel);
    return loc;
}

static json_t *workflow(json_t *ir, json_t *steps, const char *location)
{
    json_t *inputs = json_pack("{s:{s:s, s:{s:s, s:s}, s:s}}", "project", "type", "Directory",
                               "default", "class", "Directory", "location", location, "doc",
                               "the crun project folder (crun.ini, conf/, the raw data)");
    json_t *param_ids = json_array();
    char *params_text = params_inputs(ir, inputs, param_ids);
    json_t *wf_steps = json_object(), *results = json_array();
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st) {
        const char *id = json_string_value(json_object_get(st, "id"));
        json_object_set_new(wf_steps, id, step_of(st, param_ids, params_text));
        char *src = NULL;
        if (json_array_size(json_object_get(st, "outputs")) && asprintf(&src, "%s/files", id) >= 0)
            json_array_append_new(results, json_string(src));
        free(src);
    }
    free(params_text);
    json_decref(param_ids);
    json_t *outputs = json_object(); /* a workflow whose steps write no file has none */
    if (json_array_size(results))
        json_object_set_new(outputs, "datasets",
                            json_pack("{s:s, s:O, s:s, s:s}", "type", "File[]", "outputSource",
                                      results, "linkMerge", "merge_flattened", "doc",
                                      "the file of every catalog dataset a step wrote"));
    json_decref(results);
    char label[512];
    snprintf(label, sizeof(label), "%s: pipeline %s (env %s), exported by crun",
             json_string_value(json_object_get(ir, "project")),
             json_string_value(json_object_get(ir, "pipeline")),
             json_string_value(json_object_get(ir, "env")));
    return json_pack("{s:s, s:s, s:s, s:{s:{}, s:{}}, s:o, s:o, s:o}", "cwlVersion", "v1.2",
                     "class", "Workflow", "label", label, "requirements",
                     "StepInputExpressionRequirement", "MultipleInputFeatureRequirement",
                     "inputs", inputs, "outputs", outputs, "steps", wf_steps);
}

static int write_doc(const char *dir, const char *name, json_t *doc, crun_error *err)
{
    char *path = NULL;
    char *text = cli_yaml_document(doc, "#!/usr/bin/env cwl-runner\n"
                                        "# Made by `crun export cwl`.\n");
    int rc = text && asprintf(&path, "%s/%s", dir, name) >= 0
                 ? crun_file_write_atomic(path, text, strlen(text), err)
                 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(path);
    free(text);
    return rc;
}

int cli_export_cwl(cli *c, crun_session *s, crun_error *err)
{
    const char *dir = c->output ? c->output : "cwl";
    if (c->format || c->cpu || c->memory || c->pvc || c->workdir || c->events)
        return usage_error("%s", "crun export cwl takes --image and -o DIR only (besides the "
                                 "pipeline's filters, --params and --runner)");
    if (c->image && (!c->image[0] || strpbrk(c->image, " \t\n")))
        return usage_error("--image: '%s' is not a container image name", c->image);
    json_t *ir;
    if (crun_session_compile(s, &c->filter, &ir, err) != 0)
        return report(err);
    char *probe = NULL;
    int rc = asprintf(&probe, "%s/x", dir) < 0 ? crun_error_set(err, CRUN_ENOMEM, "out of memory")
                                               : crun_mkdir_parents(probe, err);
    free(probe);
    char *location = rc ? NULL : project_location(c, dir);
    json_t *steps = location ? cli_export_steps(ir) : NULL;
    if (!rc && !steps)
        rc = crun_error_set(err, CRUN_EIO, "cannot find the project folder from %s", dir);
    json_t *t = steps ? tool(c, ir) : NULL, *wf = steps ? workflow(ir, steps, location) : NULL;
    if (!rc)
        rc = write_doc(dir, "crun-node.cwl", t, err);
    if (!rc)
        rc = write_doc(dir, "workflow.cwl", wf, err);
    json_decref(t);
    json_decref(wf);
    json_decref(steps);
    json_decref(ir);
    free(location);
    return rc ? report(err) : EXIT_OK;
}
