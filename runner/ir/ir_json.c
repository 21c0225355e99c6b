/* ir_json.c - the IR as JSON, both ways.
 *
 * `crun compile` writes the IR of the filtered pipeline with ir_to_json;
 * `crun run --ir FILE` reads one back with ir_from_json, which checks the
 * shape as strictly as ir.c checks YAML and names the place of any mistake
 * ("pipeline.json: nodes[3].inputs[0]: missing 'dataset'").  The schema lives
 * in docs/ir.schema.json.
 */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

#define IR_FORMAT_VERSION 1

static const char *kind_names[] = {"memory", "catalog", "params"};
static const char *const durability_names[] = {"none", "run", "node"}; /* crun_durability - 1 */

static json_t *ports_json(const ir_t *ir, const ir_port *ports, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "arg", ports[i].arg, "dataset",
                                           ir->ds[ports[i].ds].name));
    return a;
}

static json_t *strings_json(char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(s[i]));
    return a;
}

/* mark[p] == self when node p is already among self's dependencies: a
 * fan-in node with 100,000 inputs is written in linear time. */
static json_t *node_json(const ir_t *ir, size_t self, const size_t *producer,
                         const unsigned char *in_set, size_t *mark)
{
    const ir_node *n = &ir->nodes[self];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(n->name));
    if (n->func)
        json_object_set_new(o, "func", json_string(n->func));
    else
        json_object_set_new(o, "cmd", strings_json(n->argv, n->argc));
    json_object_set_new(o, "inputs", ports_json(ir, n->in, n->n_in));
    json_object_set_new(o, "outputs", ports_json(ir, n->out, n->n_out));
    json_object_set_new(o, "tags", strings_json(n->tags, n->n_tags));
    json_t *deps = json_array();
    for (size_t i = 0; i < n->n_in; i++) {
        size_t p = producer[n->in[i].ds];
        if (p == (size_t)-1 || !in_set[p] || mark[p] == self)
            continue;
        mark[p] = self;
        json_array_append_new(deps, json_string(ir->nodes[p].name));
    }
    json_object_set_new(o, "depends_on", deps);
    if (n->retry)
        json_object_set_new(o, "retry", ir_retry_to_json(n->retry));
    if (n->where)
        json_object_set_new(o, "source", json_string(n->where));
    return o;
}

json_t *ir_to_json(const ir_t *ir, const char *pipeline, const size_t *nodes, size_t n)
{
    size_t count = nodes ? n : ir->n_nodes;
    size_t *producer = malloc((ir->n_ds + 1) * sizeof(size_t));
    size_t *mark = malloc((ir->n_nodes + 1) * sizeof(size_t));
    unsigned char *in_set = calloc(ir->n_nodes + 1, 1);
    unsigned char *ds_used = calloc(ir->n_ds + 1, 1);
    json_t *root = json_object();
    if (!producer || !mark || !in_set || !ds_used || !root)
        goto fail;
    for (size_t i = 0; i < ir->n_ds; i++)
        producer[i] = (size_t)-1;
    for (size_t i = 0; i < ir->n_nodes; i++)
        mark[i] = (size_t)-1;
    for (size_t i = 0; i < count; i++)
        in_set[nodes ? nodes[i] : i] = 1;
    for (size_t i = 0; i < ir->n_nodes; i++)
        for (size_t k = 0; k < ir->nodes[i].n_out; k++)
            producer[ir->nodes[i].out[k].ds] = i;
    json_object_set_new(root, "crun_ir", json_integer(IR_FORMAT_VERSION));
    json_object_set_new(root, "project", json_string(ir->project));
    json_object_set_new(root, "env", json_string(ir->env));
    json_object_set_new(root, "pipeline", json_string(pipeline ? pipeline : "__default__"));
    json_object_set(root, "libraries", ir->libraries);
    json_object_set(root, "parameters", ir->params);
    json_object_set_new(root, "runner", ir->runner ? conf_to_json(ir->runner) : json_null());
    json_t *jnodes = json_array();
    for (size_t i = 0; i < count; i++) {
        const ir_node *node = &ir->nodes[nodes ? nodes[i] : i];
        json_array_append_new(jnodes, node_json(ir, nodes ? nodes[i] : i, producer, in_set, mark));
        for (size_t k = 0; k < node->n_in; k++)
            ds_used[node->in[k].ds] = 1;
        for (size_t k = 0; k < node->n_out; k++)
            ds_used[node->out[k].ds] = 1;
    }
    json_t *jds = json_object();
    for (size_t i = 0; i < ir->n_ds; i++) {
        const ir_dataset *d = &ir->ds[i];
        if (!ds_used[i] && d->kind != IR_DS_CATALOG)
            continue;
        json_t *o = json_pack("{s:s, s:s, s:b}", "kind", kind_names[d->kind], "type", d->type,
                              "versioned", d->versioned);
        if (d->options)
            json_object_set_new(o, "options", conf_to_json(d->options));
        if (d->where)
            json_object_set_new(o, "source", json_string(d->where));
        if (d->durability >= 1 && d->durability <= 3)
            json_object_set_new(o, "durability",
                                json_string(durability_names[d->durability - 1]));
        if (d->credentials)
            json_object_set_new(o, "credentials", json_string(d->credentials));
        json_object_set_new(jds, d->name, o);
    }
    json_object_set_new(root, "datasets", jds);
    json_object_set_new(root, "nodes", jnodes);
    free(producer);
    free(mark);
    free(in_set);
    free(ds_used);
    return root;
fail:
    free(producer);
    free(mark);
    free(in_set);
    free(ds_used);
    json_decref(root);
    return NULL;
}

/* --- reading --- */

typedef struct reader {
    ir_t *ir;
    const char *display;
    crun_error *err;
} reader;

static int bad(reader *r, const char *path, const char *what)
{
    return crun_error_set(r->err, CRUN_ECONFIG, "%s: %s: %s", r->display, path, what);
}

static int read_strings(reader *r, json_t *a, const char *path, char ***out, uint32_t *n)
{
    if (!json_is_array(a))
        return bad(r, path, "expected a list of strings");
    *out = conf_arena_alloc(r->ir->arena, (json_array_size(a) + 1) * sizeof(char *));
    if (!*out)
        return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            return bad(r, path, "expected a list of strings");
        if (!((*out)[*n] = ir_strdup(r->ir, json_string_value(v))))
            return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
        (*n)++;
    }
    return 0;
}

static int read_ports(reader *r, json_t *a, const char *path, ir_port **out, uint32_t *n)
{
    if (!a)
        return 0;
    if (!json_is_array(a))
        return bad(r, path, "expected a list of {\"arg\", \"dataset\"}");
    *out = conf_arena_alloc(r->ir->arena, (json_array_size(a) + 1) * sizeof(ir_port));
    if (!*out)
        return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        char where[256];
        snprintf(where, sizeof(where), "%s[%zu]", path, i);
        const char *arg = json_string_value(json_object_get(v, "arg"));
        const char *ds = json_string_value(json_object_get(v, "dataset"));
        if (!arg || !ds)
            return bad(r, where, "expected {\"arg\": NAME, \"dataset\": NAME}");
        size_t idx = ir_dataset_intern(r->ir, ds);
        if (idx == (size_t)-1)
            return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
        if (ir_port_set(r->ir, &(*out)[*n], arg, idx) != 0)
            return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
        (*n)++;
    }
    return 0;
}

static int read_node(reader *r, json_t *o, size_t i, ir_node *n)
{
    char path[64];
    snprintf(path, sizeof(path), "nodes[%zu]", i);
    if (!json_is_object(o))
        return bad(r, path, "expected an object");
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!name || !name[0])
        return bad(r, path, "missing 'name' (a non-empty string)");
    const char *src = json_string_value(json_object_get(o, "source"));
    char where[512];
    snprintf(where, sizeof(where), "%s (%s)", src ? src : r->display, path);
    if (!(n->name = ir_strdup(r->ir, name)) || !(n->where = ir_strdup(r->ir, where)))
        return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
    json_t *func = json_object_get(o, "func"), *cmd = json_object_get(o, "cmd");
    if (func && cmd)
        return bad(r, path, "give either 'func' or 'cmd', not both");
    if (func && json_is_string(func)) {
        if (!ir_func_shape_ok(json_string_value(func)))
            return bad(r, path, "'func' must be library.function");
        n->func = ir_intern(r->ir, json_string_value(func));
    } else if (cmd) {
        int rc = read_strings(r, cmd, path, &n->argv, &n->argc);
        if (rc)
            return rc;
        if (n->argc == 0)
            return bad(r, path, "'cmd' is empty");
    } else
        return bad(r, path, "needs 'func' (a string) or 'cmd' (a list)");
    char in_path[96], out_path[96];
    snprintf(in_path, sizeof(in_path), "%s.inputs", path);
    snprintf(out_path, sizeof(out_path), "%s.outputs", path);
    int rc = read_ports(r, json_object_get(o, "inputs"), in_path, &n->in, &n->n_in);
    if (!rc)
        rc = read_ports(r, json_object_get(o, "outputs"), out_path, &n->out, &n->n_out);
    /* the command's placeholders, now that the ports are known */
    for (uint32_t a = 0; !rc && a < n->argc; a++) {
        char why[512];
        if (!ir_check_template(n, n->argv[a], why, sizeof(why)))
            rc = bad(r, path, why);
    }
    json_t *tags = json_object_get(o, "tags");
    if (!rc && tags)
        rc = read_strings(r, tags, path, &n->tags, &n->n_tags);
    if (!rc)
        rc = ir_retry_from_json(r->ir, json_object_get(o, "retry"), r->display, path, &n->retry,
                                r->err);
    return rc;
}

static int read_datasets(reader *r, json_t *ds)
{
    if (!ds)
        return 0;
    if (!json_is_object(ds))
        return bad(r, "datasets", "expected an object");
    const char *name;
    json_t *d;
    json_object_foreach(ds, name, d) {
        const char *kind = json_string_value(json_object_get(d, "kind"));
        const char *type = json_string_value(json_object_get(d, "type"));
        if (!kind || !type)
            return bad(r, name, "dataset needs 'kind' and 'type'");
        if (strcmp(kind, "catalog") != 0 && strcmp(kind, "memory") != 0 &&
            strcmp(kind, "params") != 0)
            return bad(r, name, "'kind' must be catalog, memory or params");
        size_t idx = ir_dataset_intern(r->ir, name);
        if (idx == (size_t)-1)
            return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
        ir_dataset *x = &r->ir->ds[idx];
        if (strcmp(kind, "catalog") != 0)
            continue; /* memory and params are implied by the name */
        x->kind = IR_DS_CATALOG;
        x->type = ir_intern(r->ir, type);
        x->versioned = json_is_true(json_object_get(d, "versioned"));
        const char *dur = json_string_value(json_object_get(d, "durability"));
        for (int k = 0; dur && k < 3; k++)
            if (strcmp(dur, durability_names[k]) == 0)
                x->durability = k + 1;
        if (dur && !x->durability)
            return bad(r, name, "'durability' must be none, run or node");
        const char *cred = json_string_value(json_object_get(d, "credentials"));
        if (cred && !(x->credentials = ir_strdup(r->ir, cred)))
            return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
        const char *src = json_string_value(json_object_get(d, "source"));
        if (!x->type || !(x->where = ir_strdup(r->ir, src ? src : r->display)))
            return crun_error_set(r->err, CRUN_ENOMEM, "out of memory");
        json_t *opts = json_object_get(d, "options");
        if (opts)
            x->options = conf_from_json(opts, conf_pool_intern(r->ir->pool, r->display), 1, 1);
    }
    return 0;
}

int ir_from_json(json_t *root, const char *display, const char *dir, ir_t **out, crun_error *err)
{
    *out = NULL;
    if (!json_is_object(root))
        return crun_error_set(err, CRUN_ECONFIG, "%s: not a crun IR (expected a JSON object)",
                              display);
    json_t *ver = json_object_get(root, "crun_ir");
    if (!json_is_integer(ver) || json_integer_value(ver) != IR_FORMAT_VERSION)
        return crun_error_set(err, CRUN_ECONFIG, "%s: not a crun IR of format %d ('crun_ir' "
                              "is missing or different)", display, IR_FORMAT_VERSION);
    ir_t *x = ir_new();
    if (!x || !(x->pool = conf_pool_new())) {
        ir_free(x);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    reader r = {.ir = x, .display = display, .err = err};
    const char *name = json_string_value(json_object_get(root, "project"));
    const char *env = json_string_value(json_object_get(root, "env"));
    const char *pipeline = json_string_value(json_object_get(root, "pipeline"));
    x->project = strdup(name ? name : "crun");
    x->env = strdup(env ? env : "local");
    x->dir = strdup(dir);
    x->libraries = json_object_get(root, "libraries");
    x->params = json_object_get(root, "parameters");
    x->libraries = x->libraries ? json_incref(x->libraries) : json_object();
    x->params = x->params ? json_incref(x->params) : json_object();
    json_t *runner = json_object_get(root, "runner");
    if (runner && json_is_object(runner))
        x->runner = conf_from_json(runner, conf_pool_intern(x->pool, display), 1, 1);
    json_t *nodes = json_object_get(root, "nodes");
    int rc = 0;
    if (!json_is_object(x->libraries) || !json_is_object(x->params))
        rc = bad(&r, "libraries/parameters", "expected objects");
    const char *lib;
    json_t *target;
    json_object_foreach(x->libraries, lib, target) {
        if (!rc && strlen(lib) > IR_LIBRARY_NAME_MAX)
            rc = bad(&r, "libraries", "a library name has at most 255 bytes");
    }
    if (!rc && !json_is_array(nodes))
        rc = bad(&r, "nodes", "expected a list");
    if (!rc)
        rc = read_datasets(&r, json_object_get(root, "datasets"));
    size_t n = rc ? 0 : json_array_size(nodes);
    x->nodes = calloc(n + 1, sizeof(ir_node));
    x->pipelines = calloc(2, sizeof(ir_pipeline));
    if (!rc && (!x->nodes || !x->pipelines))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        x->n_nodes++;
        rc = read_node(&r, json_array_get(nodes, i), i, &x->nodes[i]);
        if (!rc && strmap_put(&x->node_index, x->nodes[i].name, i, NULL) == 1)
            rc = bad(&r, x->nodes[i].name, "duplicate node name");
    }
    if (!rc) {
        /* the nodes form the IR's pipeline, also reachable as __default__ */
        const char *names[2] = {pipeline ? pipeline : "__default__", "__default__"};
        size_t np = strcmp(names[0], names[1]) == 0 ? 1 : 2;
        for (size_t p = 0; p < np; p++) {
            ir_pipeline *pl = &x->pipelines[p];
            pl->name = strdup(names[p]);
            pl->nodes = malloc((n + 1) * sizeof(size_t));
            if (!pl->name || !pl->nodes) {
                rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
                break;
            }
            for (size_t i = 0; i < n; i++)
                pl->nodes[pl->n++] = i;
            x->n_pipelines++;
        }
    }
    if (rc) {
        ir_free(x);
        return rc;
    }
    *out = x;
    return 0;
}
