/* cli_export.c - `crun export argo`: the pipeline as one Argo Workflow.
 *
 * The filtered pipeline's IR (crun_session_compile) becomes a Workflow with
 * a DAG template holding one task per node, and one container template that
 * every task calls with the node's real name as its `node` parameter:
 *
 *     crun run --env E --pipeline P --runner sequential \
 *              --node {{inputs.parameters.node}} --run-id {{workflow.name}}
 *
 * The run id is the workflow's name, so the pods of one workflow (and of an
 * `argo retry` of it) are one crun run: memory datasets pass between them
 * through .crun/runs/<id>/ in the project folder, which must therefore be a
 * volume every pod mounts at workingDir (--pvc).
 *
 * Argo wants task names matching ^[a-zA-Z0-9][-a-zA-Z0-9]*$, so node names
 * are mapped (lower case, anything else to '-'); names that map alike get a
 * short hash of the real name.  The Workflow is built as JSON and written as
 * YAML by a small emitter that quotes every string YAML 1.1 could misread
 * (`--format json` writes the JSON itself, which Argo takes as well).
 * Kubernetes quantities are always strings, as Argo's schema wants them.
 * A node with a retry: calls a copy of the template with Argo's
 * retryStrategy instead, whose container turns crun's own retries off.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

enum { TASK_BASE_MAX = 56, HASH_LEN = 6 };

/* --- output ------------------------------------------------------------- */

int cli_write_output(const cli *c, const char *text, crun_error *err)
{
    if (c->output)
        return crun_file_write_atomic(c->output, text, strlen(text), err);
    if (fputs(text, stdout) == EOF || fflush(stdout) != 0)
        return crun_error_set(err, CRUN_EIO, "cannot write to standard output");
    return 0;
}

/* --- YAML from JSON --------------------------------------------------------- */

/* Strings that read back as the same string in YAML 1.1 and 1.2 without
 * quotes: a letter or '/' first, then letters, digits and _ . / -, and not
 * one of the words YAML 1.1 turns into booleans or null. */
static bool yaml_plain(const char *s)
{
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "true", "false",
                                        "null", NULL};
    bool letter = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');
    if (!letter && *s != '/')
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                  || ch == '_' || ch == '.' || ch == '/' || ch == '-';
        if (!ok)
            return false;
    }
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return false;
    return true;
}

/* A JSON string literal is a YAML double-quoted scalar with the same value. */
static void yaml_string(FILE *f, const char *s)
{
    if (yaml_plain(s)) {
        fputs(s, f);
        return;
    }
    json_t *j = json_string(s);
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    fputs(q ? q : "\"\"", f);
    free(q);
    json_decref(j);
}

static bool yaml_is_block(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0)
           || (json_is_array(v) && json_array_size(v) > 0);
}

static void yaml_scalar(FILE *f, json_t *v)
{
    if (json_is_object(v)) {
        fputs("{}", f);
    } else if (json_is_array(v)) {
        fputs("[]", f);
    } else if (json_is_string(v)) {
        yaml_string(f, json_string_value(v));
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        fputs(text ? text : "null", f);
        free(text);
    }
}

/* Write v as a block at indent; when inline_first, the cursor already stands
 * where the first line goes (after "- "), so that line gets no indentation. */
static void yaml_block(FILE *f, json_t *v, int indent, bool inline_first)
{
    bool first = true;
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) {
            if (!(first && inline_first))
                fprintf(f, "%*s", indent, "");
            first = false;
            yaml_string(f, key);
            if (yaml_is_block(val)) {
                fputs(":\n", f);
                yaml_block(f, val, indent + 2, false);
            } else {
                fputs(": ", f);
                yaml_scalar(f, val);
                fputc('\n', f);
            }
        }
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!(first && inline_first))
            fprintf(f, "%*s", indent, "");
        first = false;
        fputs("- ", f);
        if (yaml_is_block(item)) {
            yaml_block(f, item, indent + 2, true);
        } else {
            yaml_scalar(f, item);
            fputc('\n', f);
        }
    }
}

char *cli_yaml_document(json_t *doc, const char *comment)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fputs(comment, f);
    yaml_block(f, doc, 0, false);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* --- names ------------------------------------------------------------------- */

/* Lower case letters and digits, runs of anything else as one '-', no '-' at
 * either end, at most max characters; "node" if nothing is left. */
static void dns_label(const char *name, char *out, size_t max)
{
    size_t n = 0;
    bool dash = true; /* no leading '-' */
    for (const unsigned char *p = (const unsigned char *)name; *p && n < max; p++) {
        unsigned char ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            out[n++] = (char)ch;
            dash = false;
        } else if (!dash) {
            out[n++] = '-';
            dash = true;
        }
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, max + 1, "%s", "node");
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Task names for the IR's nodes: an object node name -> task name, every
 * task name unique.  Names that map alike all get "-<hash of the real name>",
 * so a task's name does not depend on the order of the nodes. */
json_t *cli_task_names(json_t *nodes)
{
    json_t *count = json_object(), *used = json_object(), *names = json_object();
    size_t i;
    json_t *node;
    char base[TASK_BASE_MAX + 1];
    json_array_foreach(nodes, i, node) {
        dns_label(json_string_value(json_object_get(node, "name")), base, TASK_BASE_MAX);
        json_int_t n = json_integer_value(json_object_get(count, base));
        json_object_set_new(count, base, json_integer(n + 1));
    }
    json_array_foreach(nodes, i, node) {
        const char *name = json_string_value(json_object_get(node, "name"));
        char task[TASK_BASE_MAX + 32];
        dns_label(name, base, TASK_BASE_MAX);
        uint32_t hash = fnv1a(name) & 0xffffffu;
        if (json_integer_value(json_object_get(count, base)) == 1 && !json_object_get(used, base))
            snprintf(task, sizeof(task), "%s", base);
        else
            snprintf(task, sizeof(task), "%s-%0*x", base, HASH_LEN, (unsigned)hash);
        for (int k = 2; json_object_get(used, task); k++)
            snprintf(task, sizeof(task), "%s-%0*x-%d", base, HASH_LEN, (unsigned)hash, k);
        json_object_set_new(used, task, json_true());
        json_object_set_new(names, name, json_string(task));
    }
    json_decref(count);
    json_decref(used);
    return names;
}

/* --- checking the options ---------------------------------------------------------- */

/* A Kubernetes quantity as people write them: 1, 0.5, 500m, 256Mi, 2G. */
bool cli_is_quantity(const char *s)
{
    static const char *const suffixes[] = {"", "m", "k", "M", "G", "T", "P", "E",
                                           "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", NULL};
    const char *p = s;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (digits == 0)
        return false;
    for (size_t i = 0; suffixes[i]; i++)
        if (strcmp(p, suffixes[i]) == 0)
            return true;
    return false;
}

static bool is_dns_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && ((ch != '-' && ch != '.') || i == 0 || i == n - 1))
            return false;
    }
    return true;
}

typedef struct argo_options {
    const char *image, *cpu, *memory, *workdir, *pvc;
    bool json;
} argo_options;

static int argo_options_check(const cli *c, argo_options *o)
{
    o->image = c->image ? c->image : "crun:latest";
    o->cpu = c->cpu ? c->cpu : "1";
    o->memory = c->memory ? c->memory : "1Gi";
    o->workdir = c->workdir ? c->workdir : "/work";
    o->pvc = c->pvc;
    o->json = c->format && strcmp(c->format, "json") == 0;
    if (c->format && !o->json && strcmp(c->format, "yaml") != 0)
        return usage_error("crun export argo: --format must be yaml or json, got '%s'", c->format);
    if (!o->image[0] || strpbrk(o->image, " \t\n"))
        return usage_error("--image: '%s' is not a container image name", o->image);
    if (!cli_is_quantity(o->cpu))
        return usage_error("--cpu: '%s' is not a Kubernetes quantity (e.g. 1, 0.5, 500m)", o->cpu);
    if (!cli_is_quantity(o->memory))
        return usage_error("--memory: '%s' is not a Kubernetes quantity (e.g. 512Mi, 2Gi)",
                           o->memory);
    if (o->workdir[0] != '/')
        return usage_error("--workdir: '%s' is not an absolute path", o->workdir);
    if (o->pvc && !is_dns_name(o->pvc))
        return usage_error("--pvc: '%s' is not a Kubernetes object name (a-z, 0-9, '-', '.')",
                           o->pvc);
    if (c->events)
        return usage_error("%s", "--events is for crun viz, not crun export");
    return 0;
}

/* --- the Workflow ------------------------------------------------------------------ */

/* node name -> its template: "crun-node", or for a node with a retry the
 * template of that retry setting (see retry_templates). */
static json_t *dag_template(json_t *ir, json_t *names, json_t *node_templates)
{
    json_t *tasks = json_array();
    size_t i, k;
    json_t *node, *dep;
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        json_t *name = json_object_get(node, "name");
        json_t *tmpl = json_object_get(node_templates, json_string_value(name));
        json_t *task = json_pack("{s:O, s:s}", "name", json_object_get(names, json_string_value(name)),
                                 "template", tmpl ? json_string_value(tmpl) : "crun-node");
        json_t *deps = json_array();
        json_array_foreach(json_object_get(node, "depends_on"), k, dep)
            json_array_append(deps, json_object_get(names, json_string_value(dep)));
        if (json_array_size(deps) > 0)
            json_object_set(task, "dependencies", deps);
        json_decref(deps);
        json_object_set_new(task, "arguments",
                            json_pack("{s:[{s:s, s:O}]}", "parameters", "name", "node", "value", name));
        json_array_append_new(tasks, task);
    }
    return json_pack("{s:s, s:{s:o}}", "name", "pipeline", "dag", "tasks", tasks);
}

static void args_add(json_t *args, const char *flag, const char *value)
{
    json_array_append_new(args, json_string(flag));
    json_array_append_new(args, json_string(value));
}

static json_t *node_template(const cli *c, const argo_options *o, json_t *ir)
{
    json_t *args = json_pack("[s]", "run");
    args_add(args, "--env", json_string_value(json_object_get(ir, "env")));
    args_add(args, "--pipeline", json_string_value(json_object_get(ir, "pipeline")));
    /* one node per pod: the env's default runner might be a server */
    args_add(args, "--runner", c->ro.runner ? c->ro.runner : "sequential");
    for (size_t i = 0; i < c->n_runner_opts; i++)
        args_add(args, "--runner-opt", c->runner_opts[i]);
    if (c->so.params)
        args_add(args, "--params", c->so.params);
    if (c->ro.load_versions)
        args_add(args, "--load-versions", c->ro.load_versions);
    const char *const levels[] = {"none", "run", "node"};
    if (c->ro.durability >= 1 && c->ro.durability <= 3)
        args_add(args, "--durability", levels[c->ro.durability - 1]);
    args_add(args, "--node", "{{inputs.parameters.node}}");
    args_add(args, "--run-id", "{{workflow.name}}");
    json_t *container = json_pack("{s:s, s:[s], s:o, s:s, s:{s:{s:s, s:s}, s:{s:s}}}",
                                  "image", o->image, "command", "crun", "args", args,
                                  "workingDir", o->workdir, "resources", "requests", "cpu", o->cpu,
                                  "memory", o->memory, "limits", "memory", o->memory);
    if (o->pvc)
        json_object_set_new(container, "volumeMounts",
                            json_pack("[{s:s, s:s}]", "name", "project", "mountPath", o->workdir));
    return json_pack("{s:s, s:{s:[{s:s}]}, s:o}", "name", "crun-node", "inputs", "parameters",
                     "name", "node", "container", container);
}

/* A node's retry: as Argo's retryStrategy: limit counts the tries after the
 * first; the backoff's duration and factor are the delay and backoff (Argo
 * has no jitter); on_exit becomes an expression on the last exit code.
 * Quantities are strings, as the schema wants them. */
static json_t *retry_strategy(json_t *retry)
{
    char text[64];
    json_int_t attempts = json_integer_value(json_object_get(retry, "attempts"));
    snprintf(text, sizeof(text), "%lld", (long long)(attempts - 1));
    json_t *rs = json_pack("{s:s, s:s}", "limit", text, "retryPolicy", "Always");
    double delay = json_number_value(json_object_get(retry, "delay"));
    if (delay > 0) {
        char factor[32];
        snprintf(text, sizeof(text), "%gs", delay);
        snprintf(factor, sizeof(factor), "%g",
                 json_number_value(json_object_get(retry, "backoff")));
        json_object_set_new(rs, "backoff", json_pack("{s:s, s:s}", "duration", text, "factor",
                                                     factor));
    }
    json_t *codes = json_object_get(retry, "on_exit");
    if (json_array_size(codes) > 0) {
        char *list = json_dumps(codes, JSON_COMPACT);
        char *expr = NULL;
        if (list && asprintf(&expr, "asInt(lastRetry.exitCode) in %s", list) >= 0) {
            json_object_set_new(rs, "expression", json_string(expr));
            free(expr);
        }
        free(list);
    }
    return rs;
}

/* One copy of the node template per distinct retry setting
 * ("crun-node-retry-1", ...), with its retryStrategy: Argo keeps retries on
 * templates, not on DAG tasks.  Returns node name -> template name. */
static json_t *retry_templates(json_t *ir, json_t *base, json_t *templates)
{
    json_t *by_node = json_object(), *by_setting = json_object();
    size_t i;
    json_t *node;
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        json_t *retry = json_object_get(node, "retry");
        if (!retry)
            continue;
        char *key = json_dumps(retry, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *name = key ? json_object_get(by_setting, key) : NULL;
        if (key && !name) {
            char tname[48];
            snprintf(tname, sizeof(tname), "crun-node-retry-%zu", json_object_size(by_setting) + 1);
            json_t *t = json_deep_copy(base);
            json_object_set_new(t, "name", json_string(tname));
            json_object_set_new(t, "retryStrategy", retry_strategy(retry));
            /* Argo retries the pod: crun inside must not retry as well */
            json_object_set_new(json_object_get(t, "container"), "env",
                                json_pack("[{s:s, s:s}]", "name", "CRUN_NODE_RETRY", "value",
                                          "off"));
            json_array_append_new(templates, t);
            json_object_set_new(by_setting, key, json_string(tname));
            name = json_object_get(by_setting, key);
        }
        if (name)
            json_object_set(by_node, json_string_value(json_object_get(node, "name")), name);
        free(key);
    }
    json_decref(by_setting);
    return by_node;
}

static json_t *workflow(const cli *c, const argo_options *o, json_t *ir)
{
    const char *project = json_string_value(json_object_get(ir, "project"));
    char label[64], prefix[64];
    dns_label(project ? project : "crun", label, 63);
    dns_label(project ? project : "crun", prefix, 56);
    strcat(prefix, "-");
    json_t *names = cli_task_names(json_object_get(ir, "nodes"));
    json_t *base = node_template(c, o, ir), *more = json_array();
    json_t *node_templates = retry_templates(ir, base, more);
    json_t *templates = json_pack("[o, o]", dag_template(ir, names, node_templates), base);
    json_array_extend(templates, more);
    json_decref(more);
    json_decref(node_templates);
    json_decref(names);
    json_t *spec = json_pack("{s:s, s:o}", "entrypoint", "pipeline", "templates", templates);
    if (o->pvc)
        json_object_set_new(spec, "volumes",
                            json_pack("[{s:s, s:{s:s}}]", "name", "project",
                                      "persistentVolumeClaim", "claimName", o->pvc));
    json_t *metadata = json_pack(
        "{s:s, s:{s:s, s:s}, s:{s:O, s:O, s:O}}", "generateName", prefix, "labels",
        "app.kubernetes.io/managed-by", "crun", "crun.dev/project", label, "annotations",
        "crun.dev/project", json_object_get(ir, "project"), "crun.dev/pipeline",
        json_object_get(ir, "pipeline"), "crun.dev/env", json_object_get(ir, "env"));
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "argoproj.io/v1alpha1", "kind",
                     "Workflow", "metadata", metadata, "spec", spec);
}

int cli_export(cli *c, crun_session *s, crun_error *err)
{
    if (!c->what)
        return usage_error("%s", "crun export needs a target: argo, cwl or kfp");
    if (c->what2)
        return usage_error("unexpected argument '%s'", c->what2);
    if (strcmp(c->what, "cwl") == 0)
        return cli_export_cwl(c, s, err);
    if (strcmp(c->what, "kfp") == 0)
        return cli_export_kfp(c, s, err);
    if (strcmp(c->what, "argo") != 0)
        return usage_error("unknown export target '%s' (known: argo, cwl, kfp)", c->what);
    argo_options o;
    int rc = argo_options_check(c, &o);
    if (rc)
        return rc;
    json_t *ir;
    if (crun_session_compile(s, &c->filter, &ir, err) != 0)
        return report(err);
    json_t *doc = workflow(c, &o, ir);
    json_decref(ir);
    char *text = NULL;
    if (doc && o.json) {
        char *body = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (body && asprintf(&text, "%s\n", body) < 0)
            text = NULL;
        free(body);
    } else if (doc) {
        text = cli_yaml_document(doc, "# An Argo Workflow made by `crun export argo`: "
                                  "one task per pipeline node.\n");
    }
    json_decref(doc);
    rc = text ? cli_write_output(c, text, err) : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(text);
    return rc ? report(err) : EXIT_OK;
}
