/* ir.c - from merged configuration trees to the IR.
 *
 * Reads pipelines.yml (libraries, pipelines of nodes, unions of pipelines),
 * catalog.yml and parameters into the flat arrays of ir.h, checking every
 * node as it goes so that a mistake is reported where it was written.
 * Datasets are interned by name as nodes mention them: a catalog entry, a
 * parameter (params:a.b, parameters) or, failing both, a memory dataset.
 * Graph-level checks (cycles, two producers, missing inputs) belong to plan.c.
 */
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "suggest.h"

static void ir_node_clear(ir_node *n)
{
    free(n->name);
    for (size_t i = 0; i < n->argc; i++)
        free(n->argv[i]);
    free(n->argv);
    for (size_t i = 0; i < n->n_in; i++)
        if (n->in[i].own_arg)
            free(n->in[i].arg);
    free(n->in);
    for (size_t i = 0; i < n->n_out; i++)
        if (n->out[i].own_arg)
            free(n->out[i].arg);
    free(n->out);
    for (size_t i = 0; i < n->n_tags; i++)
        free(n->tags[i]);
    free(n->tags);
    free(n->where);
}

void ir_free(ir_t *ir)
{
    if (!ir)
        return;
    for (size_t i = 0; i < ir->n_nodes; i++)
        ir_node_clear(&ir->nodes[i]);
    free(ir->nodes);
    for (size_t i = 0; i < ir->n_ds; i++) {
        ir_dataset *d = &ir->ds[i];
        free(d->name);
        free(d->type);
        conf_free(d->options);
        free(d->where);
        free(d->param_path);
        free(d->credentials);
    }
    free(ir->ds);
    for (size_t i = 0; i < ir->n_factories; i++) {
        conf_free(ir->factories[i].key);
        conf_free(ir->factories[i].entry);
    }
    free(ir->factories);
    for (size_t i = 0; i < ir->n_pipelines; i++) {
        free(ir->pipelines[i].name);
        free(ir->pipelines[i].nodes);
    }
    free(ir->pipelines);
    strmap_free(&ir->node_index);
    strmap_free(&ir->ds_index);
    for (size_t i = 0; i < ir->n_strings; i++)
        free(ir->strings[i]);
    free(ir->strings);
    strmap_free(&ir->string_index);
    json_decref(ir->libraries);
    json_decref(ir->params);
    conf_free(ir->runner);
    free(ir->project);
    free(ir->env);
    free(ir->dir);
    if (ir->pool)
        conf_pool_free(ir->pool);
    free(ir);
}

const char *ir_intern(ir_t *ir, const char *s)
{
    size_t i;
    if (strmap_get(&ir->string_index, s, &i))
        return ir->strings[i];
    char **grown = realloc(ir->strings, (ir->n_strings + 1) * sizeof(char *));
    if (!grown)
        return NULL;
    ir->strings = grown;
    if (!(grown[ir->n_strings] = strdup(s)))
        return NULL;
    if (strmap_put(&ir->string_index, grown[ir->n_strings], ir->n_strings, NULL) < 0) {
        free(grown[ir->n_strings]);
        return NULL;
    }
    return grown[ir->n_strings++];
}

int ir_port_set(ir_t *ir, ir_port *port, const char *arg, size_t ds)
{
    port->ds = ds;
    /* a name or list port's argument is its dataset's name: share it */
    port->own_arg = strcmp(arg, ir->ds[ds].name) != 0;
    port->arg = port->own_arg ? strdup(arg) : ir->ds[ds].name;
    return port->arg ? 0 : CRUN_ENOMEM;
}

long ir_pipeline_find(const ir_t *ir, const char *name)
{
    for (size_t i = 0; i < ir->n_pipelines; i++)
        if (strcmp(ir->pipelines[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Grow an array of elem-sized items to hold at least need. */
static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

size_t ir_dataset_intern(ir_t *ir, const char *name)
{
    size_t idx;
    if (strmap_get(&ir->ds_index, name, &idx))
        return idx;
    if (reserve((void **)&ir->ds, &ir->ds_cap, ir->n_ds + 1, sizeof(ir_dataset)) != 0)
        return (size_t)-1;
    ir_dataset *d = &ir->ds[ir->n_ds];
    memset(d, 0, sizeof(*d));
    d->name = strdup(name);
    if (!d->name)
        return (size_t)-1;
    if (strncmp(name, "params:", 7) == 0 || strcmp(name, "parameters") == 0) {
        d->kind = IR_DS_PARAMS;
        d->param_path = strdup(strncmp(name, "params:", 7) == 0 ? name + 7 : "");
        d->type = strdup("params");
    } else {
        d->kind = IR_DS_MEMORY;
        d->type = strdup("memory");
    }
    if (!d->param_path && d->kind == IR_DS_PARAMS)
        return (size_t)-1;
    if (!d->type)
        return (size_t)-1;
    /* the key must be the stored copy: the map borrows it */
    if (strmap_put(&ir->ds_index, d->name, ir->n_ds, NULL) < 0)
        return (size_t)-1;
    ir->n_ds++;
    if (d->kind == IR_DS_MEMORY && ir->n_factories && ir_factory_apply(ir, ir->n_ds - 1) != 0)
        return (size_t)-1;
    return ir->n_ds - 1;
}

/* --- nodes --- */

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Collect dotted parameter paths for "did you mean". */
static void param_paths(json_t *obj, const char *prefix, char ***out, size_t *n, size_t *cap)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", prefix, prefix[0] ? "." : "", k) < 0)
            return;
        if (reserve((void **)out, cap, *n + 1, sizeof(char *)) != 0) {
            free(path);
            return;
        }
        (*out)[(*n)++] = path;
        if (json_is_object(v))
            param_paths(v, path, out, n, cap);
    }
}

static json_t *param_lookup(json_t *params, const char *path)
{
    if (!path[0])
        return params;
    json_t *cur = params;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, len);
        p = dot ? dot + 1 : p + len;
    }
    return cur;
}

static int check_param(ir_t *ir, const conf_node *at, const char *node, const char *name,
                       crun_error *err)
{
    const char *path = strcmp(name, "parameters") == 0 ? "" : name + 7;
    if (param_lookup(ir->params, path))
        return 0;
    char **paths = NULL;
    size_t n = 0, cap = 0;
    param_paths(ir->params, "", &paths, &n, &cap);
    const char *best = suggest_closest(path, (const char *const *)paths, n);
    int rc = conf_error(err, at, "node '%s': input '%s': no such parameter%s%s%s", node, name,
                        best ? " (did you mean 'params:" : "", best ? best : "", best ? "'?)" : "");
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

/* Ports of one node being read: duplicate argument names are found through
 * a hash map, so a fan-in node with 100,000 inputs reads in linear time. */
typedef struct port_list {
    ir_port *items;
    size_t n;
    size_t cap;
    strmap args;
} port_list;

static int add_port(ir_t *ir, port_list *pl, const char *arg, const conf_node *ds,
                    const char *node, const char *what, crun_error *err)
{
    if (ds->kind != CONF_SCALAR || !ds->str[0])
        return conf_error(err, ds, "node '%s': %s must be dataset names, got %s", node, what,
                          conf_kind_name(ds));
    bool twice = false;
    if (pl->n < 8) /* short lists: a scan is cheaper than the map */
        for (size_t i = 0; i < pl->n && !twice; i++)
            twice = strcmp(pl->items[i].arg, arg) == 0;
    else
        twice = strmap_get(&pl->args, arg, NULL);
    if (twice)
        return conf_error(err, ds, "node '%s': %s '%s' is listed twice", node, what, arg);
    bool is_param = strncmp(ds->str, "params:", 7) == 0 || strcmp(ds->str, "parameters") == 0;
    if (is_param && strcmp(what, "outputs") == 0)
        return conf_error(err, ds, "node '%s': '%s' cannot be an output: parameters are read-only",
                          node, ds->str);
    if (is_param) {
        int rc = check_param(ir, ds, node, ds->str, err);
        if (rc)
            return rc;
    }
    size_t idx = ir_dataset_intern(ir, ds->str);
    if (idx == (size_t)-1 || reserve((void **)&pl->items, &pl->cap, pl->n + 1, sizeof(ir_port)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    ir_port *p = &pl->items[pl->n];
    if (ir_port_set(ir, p, arg, idx) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    pl->n++;
    if (pl->n == 8) /* from here on, duplicates are found through the map */
        for (size_t i = 0; i < pl->n; i++)
            if (strmap_put(&pl->args, pl->items[i].arg, i, NULL) < 0)
                return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (pl->n > 8 && strmap_put(&pl->args, p->arg, pl->n - 1, NULL) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

/* inputs/outputs: a name, a list of names, or a map arg -> name. */
static int parse_ports(ir_t *ir, const conf_node *spec, ir_port **ports, size_t *n,
                       const char *node, const char *what, crun_error *err)
{
    if (!spec || spec->kind == CONF_NULL)
        return 0;
    port_list pl = {0};
    strmap_init(&pl.args);
    int rc = 0;
    if (spec->kind == CONF_SCALAR) {
        rc = add_port(ir, &pl, spec->str, spec, node, what, err);
    } else if (spec->kind == CONF_SEQ) {
        for (size_t i = 0; i < spec->n && !rc; i++) {
            const conf_node *it = spec->items[i];
            rc = add_port(ir, &pl, it->kind == CONF_SCALAR ? it->str : "", it, node, what, err);
        }
    } else {
        for (size_t i = 0; i < spec->n && !rc; i++)
            rc = add_port(ir, &pl, spec->items[2 * i]->str, spec->items[2 * i + 1], node, what,
                          err);
    }
    strmap_free(&pl.args);
    /* the node owns what was read, also on error (ir_free releases it);
     * trimmed, since a pipeline holds two port lists per node */
    ir_port *fit = pl.n && pl.n < pl.cap ? realloc(pl.items, pl.n * sizeof(ir_port)) : NULL;
    *ports = fit ? fit : pl.items;
    *n = pl.n;
    return rc;
}

static bool has_arg(const ir_port *ports, size_t n, const char *arg, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(ports[i].arg) == len && strncmp(ports[i].arg, arg, len) == 0)
            return true;
    /* a position also names a port: {inputs.0} */
    char *end;
    unsigned long idx = strtoul(arg, &end, 10);
    return end == arg + len && len > 0 && idx < n;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

bool ir_placeholder(const char *p, const char **field, size_t *flen, const char **end)
{
    if (p[0] != '{' || p[1] == '{')
        return false;
    const char *q = p + 1, *dot = NULL;
    while (word_char(*q) || (*q == '.' && !dot && q > p + 1))
        dot = *q == '.' ? q : dot, q++;
    if (*q != '}' || !dot || dot + 1 == q)
        return false;
    *field = p + 1;
    *flen = (size_t)(q - p - 1);
    *end = q + 1;
    return true;
}

/* Every {inputs.k}/{outputs.k} of a command must name a port; {a.b} with
 * another prefix is a mistake (a typo of inputs/outputs). */
static int check_templates(const ir_node *node, const conf_node *at, const char *arg,
                           crun_error *err)
{
    for (const char *p = arg; *p;) {
        const char *field, *end;
        size_t flen;
        if (p[0] == '{' && p[1] == '{') {
            p += 2;
            continue;
        }
        if (!ir_placeholder(p, &field, &flen, &end)) {
            p++;
            continue;
        }
        bool ok;
        if (flen > 7 && strncmp(field, "inputs.", 7) == 0)
            ok = has_arg(node->in, node->n_in, field + 7, flen - 7);
        else if (flen > 8 && strncmp(field, "outputs.", 8) == 0)
            ok = has_arg(node->out, node->n_out, field + 8, flen - 8);
        else
            return conf_error(err, at, "node '%s': unknown placeholder {%.*s} in command "
                              "(use {inputs.NAME} or {outputs.NAME}; write {{ for a literal "
                              "brace)", node->name, (int)flen, field);
        if (!ok)
            return conf_error(err, at, "node '%s': {%.*s} names no %s of the node", node->name,
                              (int)flen, field, field[0] == 'i' ? "input" : "output");
        p = end;
    }
    return 0;
}

static int parse_cmd(ir_node *node, const conf_node *cmd, crun_error *err)
{
    if (cmd->kind == CONF_SCALAR)
        return conf_error(err, cmd, "node '%s': 'cmd' must be a list of arguments, "
                          "e.g. [sh, -c, \"%s\"] to use a shell", node->name, cmd->str);
    if (cmd->kind != CONF_SEQ || cmd->n == 0)
        return conf_error(err, cmd, "node '%s': 'cmd' must be a non-empty list of arguments",
                          node->name);
    node->argv = calloc(cmd->n, sizeof(char *));
    if (!node->argv)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < cmd->n; i++) {
        const conf_node *a = cmd->items[i];
        if (a->kind != CONF_SCALAR)
            return conf_error(err, a, "node '%s': command arguments must be strings, got %s",
                              node->name, conf_kind_name(a));
        node->argv[i] = strdup(a->str);
        if (!node->argv[i])
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        node->argc++;
    }
    return 0;
}

static int check_func(const ir_t *ir, const conf_node *func, const char *node, crun_error *err)
{
    if (func->kind != CONF_SCALAR)
        return conf_error(err, func, "node '%s': 'func' must be library.function", node);
    const char *dot = strchr(func->str, '.');
    if (!dot || dot == func->str || !dot[1])
        return conf_error(err, func, "node '%s': 'func' must be library.function, got '%s'", node,
                          func->str);
    char lib[256];
    snprintf(lib, sizeof(lib), "%.*s", (int)(dot - func->str), func->str);
    if (json_object_get(ir->libraries, lib))
        return 0;
    const char *names[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(ir->libraries, k, v) {
        if (n < 64)
            names[n++] = k;
    }
    const char *best = suggest_closest(lib, names, n);
    return conf_error(err, func, "node '%s': unknown node library '%s'%s%s%s (libraries are "
                      "declared under 'libraries:' in pipelines.yml)", node, lib,
                      best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
}

static const char *const node_keys[] = {"name", "func", "cmd", "inputs", "outputs", "tags", NULL};

static int parse_node(ir_t *ir, const conf_node *def, ir_node *node, crun_error *err)
{
    if (def->kind != CONF_MAP)
        return conf_error(err, def, "a node must be a map with 'func' or 'cmd', got %s",
                          conf_kind_name(def));
    int rc = conf_check_keys(def, node_keys, "a node", err);
    if (rc)
        return rc;
    conf_node *name = conf_get(def, "name"), *func = conf_get(def, "func");
    conf_node *cmd = conf_get(def, "cmd");
    char where[512];
    node->where = strdup(conf_where(def, where, sizeof(where)));
    if (name && (name->kind != CONF_SCALAR || !name->str[0]))
        return conf_error(err, name, "node 'name' must be a non-empty string");
    if (func && cmd)
        return conf_error(err, cmd, "node '%s': give either 'func' or 'cmd', not both",
                          name ? name->str : func->str);
    if (!func && !cmd)
        return conf_error(err, def, "node%s%s%s: missing 'func' (library.function) or 'cmd' "
                          "(a command)", name ? " '" : "", name ? name->str : "", name ? "'" : "");
    /* a malformed func is named before the name it would have given */
    if (func && (rc = check_func(ir, func, name ? name->str : func->kind == CONF_SCALAR
                                 ? func->str : "?", err)))
        return rc;
    if (name)
        node->name = strdup(name->str);
    else if (func)
        node->name = strdup(strchr(func->str, '.') + 1);
    else
        return conf_error(err, def, "a command node needs a 'name'");
    if (!node->name || !node->where || (func && !(node->func = ir_intern(ir, func->str))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if ((rc = parse_ports(ir, conf_get(def, "inputs"), &node->in, &node->n_in, node->name,
                          "inputs", err)))
        return rc;
    if ((rc = parse_ports(ir, conf_get(def, "outputs"), &node->out, &node->n_out, node->name,
                          "outputs", err)))
        return rc;
    if (cmd) {
        if ((rc = parse_cmd(node, cmd, err)))
            return rc;
        for (size_t i = 0; i < cmd->n; i++)
            if ((rc = check_templates(node, cmd->items[i], node->argv[i], err)))
                return rc;
    }
    conf_node *tags = conf_get(def, "tags");
    if (tags && tags->kind == CONF_SCALAR) {
        node->tags = malloc(sizeof(char *));
        if (!node->tags || !(node->tags[0] = strdup(tags->str)))
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        node->n_tags = 1;
    } else if (tags && tags->kind == CONF_SEQ) {
        node->tags = calloc(tags->n ? tags->n : 1, sizeof(char *));
        if (!node->tags)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        for (size_t i = 0; i < tags->n; i++) {
            if (tags->items[i]->kind != CONF_SCALAR)
                return conf_error(err, tags->items[i], "node '%s': tags must be strings",
                                  node->name);
            if (!(node->tags[i] = strdup(tags->items[i]->str)))
                return crun_error_set(err, CRUN_ENOMEM, "out of memory");
            node->n_tags++;
        }
    } else if (tags && tags->kind != CONF_NULL) {
        return conf_error(err, tags, "node '%s': 'tags' must be a name or a list of names",
                          node->name);
    }
    return 0;
}

/* --- pipelines --- */

typedef struct pipe_def {
    const conf_node *key;
    const conf_node *val;
    int state; /* 0 unresolved, 1 resolving, 2 done */
} pipe_def;

typedef struct build_ctx {
    ir_t *ir;
    pipe_def *defs;
    size_t n_defs;
    size_t node_cap;
} build_ctx;

static int pipeline_add_node(ir_pipeline *pl, size_t node, unsigned char *seen)
{
    if (seen[node])
        return 0;
    size_t *p = realloc(pl->nodes, (pl->n + 1) * sizeof(size_t));
    if (!p)
        return -1;
    pl->nodes = p;
    pl->nodes[pl->n++] = node;
    seen[node] = 1;
    return 0;
}

static int parse_pipeline_nodes(build_ctx *b, size_t di, conf_node *nodes, crun_error *err)
{
    ir_t *ir = b->ir;
    if (nodes->kind != CONF_SEQ)
        return conf_error(err, nodes, "pipeline '%s': 'nodes' must be a list, got %s",
                          b->defs[di].key->str, conf_kind_name(nodes));
    for (size_t i = 0; i < nodes->n; i++) {
        if (reserve((void **)&ir->nodes, &b->node_cap, ir->n_nodes + 1, sizeof(ir_node)) != 0)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        ir_node *node = &ir->nodes[ir->n_nodes];
        memset(node, 0, sizeof(*node));
        ir->n_nodes++;
        int rc = parse_node(ir, nodes->items[i], node, err);
        if (rc)
            return rc;
        size_t first;
        int put = strmap_put(&ir->node_index, node->name, ir->n_nodes - 1, &first);
        if (put < 0)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        if (put == 1)
            return conf_error(err, nodes->items[i], "duplicate node name '%s' (first defined at "
                              "%s)", node->name, ir->nodes[first].where);
        conf_free(nodes->items[i]);
        nodes->items[i] = NULL;
    }
    return 0;
}

static int resolve_pipeline(build_ctx *b, size_t di, crun_error *err);

static long find_def(build_ctx *b, const char *name)
{
    for (size_t i = 0; i < b->n_defs; i++)
        if (strcmp(b->defs[i].key->str, name) == 0)
            return (long)i;
    return -1;
}

/* Add the nodes of each named pipeline in list to pipeline di. */
static int include_pipelines(build_ctx *b, size_t di, const conf_node *list, unsigned char *seen,
                             crun_error *err)
{
    if (list->kind != CONF_SEQ)
        return conf_error(err, list, "pipeline '%s': expected a list of pipeline names, got %s",
                          b->defs[di].key->str, conf_kind_name(list));
    ir_pipeline *pl = &b->ir->pipelines[di];
    for (size_t i = 0; i < list->n; i++) {
        const conf_node *it = list->items[i];
        long j = it->kind == CONF_SCALAR ? find_def(b, it->str) : -1;
        if (j < 0) {
            const char *names[256];
            size_t n = 0;
            for (size_t k = 0; k < b->n_defs && n < 256; k++)
                names[n++] = b->defs[k].key->str;
            const char *best = it->kind == CONF_SCALAR ? suggest_closest(it->str, names, n) : NULL;
            return conf_error(err, it, "pipeline '%s': unknown pipeline '%s'%s%s%s",
                              b->defs[di].key->str, it->kind == CONF_SCALAR ? it->str : "?",
                              best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
        }
        if (b->defs[j].state == 1)
            return conf_error(err, it, "pipeline '%s' includes itself through '%s'",
                              b->defs[di].key->str, it->str);
        int rc = resolve_pipeline(b, (size_t)j, err);
        if (rc)
            return rc;
        ir_pipeline *inc = &b->ir->pipelines[j];
        for (size_t k = 0; k < inc->n; k++)
            if (pipeline_add_node(pl, inc->nodes[k], seen) != 0)
                return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return 0;
}

static int resolve_pipeline(build_ctx *b, size_t di, crun_error *err)
{
    pipe_def *d = &b->defs[di];
    if (d->state == 2)
        return 0;
    d->state = 1;
    unsigned char *seen = calloc(b->ir->n_nodes + 1, 1);
    if (!seen)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = 0;
    ir_pipeline *pl = &b->ir->pipelines[di];
    if (d->val->kind == CONF_SEQ) {
        rc = include_pipelines(b, di, d->val, seen, err);
    } else {
        /* own nodes first (already parsed, in order), then includes */
        for (size_t i = 0; i < pl->n; i++)
            seen[pl->nodes[i]] = 1;
        conf_node *inc = conf_get(d->val, "include");
        if (inc)
            rc = include_pipelines(b, di, inc, seen, err);
    }
    free(seen);
    d->state = 2;
    return rc;
}

static const char *const pipeline_keys[] = {"nodes", "include", NULL};
static const char *const pipelines_file_keys[] = {"libraries", "pipelines", NULL};

static int build_libraries(ir_t *ir, const conf_node *libs, crun_error *err)
{
    ir->libraries = json_object();
    if (!ir->libraries)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!libs || libs->kind == CONF_NULL)
        return 0;
    if (libs->kind != CONF_MAP)
        return conf_error(err, libs, "'libraries' must map names to plugins (demo: demo), got %s",
                          conf_kind_name(libs));
    for (size_t i = 0; i < libs->n; i++) {
        const conf_node *v = libs->items[2 * i + 1];
        if (v->kind != CONF_SCALAR || !v->str[0])
            return conf_error(err, v, "library '%s': expected a plugin name or a path to a .so",
                              libs->items[2 * i]->str);
        json_object_set_new(ir->libraries, libs->items[2 * i]->str, json_string(v->str));
    }
    return 0;
}

static int build_pipelines(ir_t *ir, conf_node *root, crun_error *err)
{
    int rc = 0;
    if (root && (rc = conf_check_keys(root, pipelines_file_keys, "pipelines.yml", err)))
        return rc;
    if ((rc = build_libraries(ir, root ? conf_get(root, "libraries") : NULL, err)))
        return rc;
    conf_node *pipes = root ? conf_get(root, "pipelines") : NULL;
    if (pipes && pipes->kind != CONF_MAP && pipes->kind != CONF_NULL)
        return conf_error(err, pipes, "'pipelines' must be a map of pipeline names, got %s",
                          conf_kind_name(pipes));
    size_t n = pipes && pipes->kind == CONF_MAP ? pipes->n : 0;
    build_ctx b = {.ir = ir};
    b.defs = calloc(n + 1, sizeof(pipe_def));
    ir->pipelines = calloc(n + 1, sizeof(ir_pipeline));
    if (!b.defs || !ir->pipelines) {
        free(b.defs);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    b.n_defs = n;
    ir->n_pipelines = n;
    for (size_t i = 0; i < n && !rc; i++) {
        b.defs[i].key = pipes->items[2 * i];
        b.defs[i].val = pipes->items[2 * i + 1];
        ir->pipelines[i].name = strdup(b.defs[i].key->str);
        if (!ir->pipelines[i].name)
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    /* pass 1: parse the nodes each pipeline defines */
    for (size_t i = 0; i < n && !rc; i++) {
        conf_node *v = (conf_node *)b.defs[i].val;
        if (v->kind == CONF_SEQ)
            continue;
        if (v->kind != CONF_MAP) {
            rc = conf_error(err, v, "pipeline '%s': expected a map with 'nodes' or a list of "
                            "pipeline names, got %s", b.defs[i].key->str, conf_kind_name(v));
            break;
        }
        if ((rc = conf_check_keys(v, pipeline_keys, "a pipeline", err)))
            break;
        conf_node *nodes = conf_get(v, "nodes");
        if (!nodes)
            continue;
        size_t first = ir->n_nodes;
        if ((rc = parse_pipeline_nodes(&b, i, nodes, err)))
            break;
        ir_pipeline *pl = &ir->pipelines[i];
        pl->nodes = malloc((ir->n_nodes - first + 1) * sizeof(size_t));
        if (!pl->nodes) {
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = first; k < ir->n_nodes; k++)
            pl->nodes[pl->n++] = k;
    }
    /* pass 2: unions and includes */
    for (size_t i = 0; i < n && !rc; i++)
        rc = resolve_pipeline(&b, i, err);
    free(b.defs);
    if (rc)
        return rc;
    if (ir_pipeline_find(ir, "__default__") >= 0)
        return 0;
    /* no __default__: the union of every pipeline, as Kedro's find_pipelines does */
    ir_pipeline *grown = realloc(ir->pipelines, (ir->n_pipelines + 1) * sizeof(ir_pipeline));
    if (!grown)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    ir->pipelines = grown;
    ir_pipeline *def = &ir->pipelines[ir->n_pipelines++];
    memset(def, 0, sizeof(*def));
    def->name = strdup("__default__");
    def->nodes = malloc((ir->n_nodes + 1) * sizeof(size_t));
    if (!def->name || !def->nodes)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t k = 0; k < ir->n_nodes; k++)
        def->nodes[def->n++] = k;
    return 0;
}

int ir_build(project *p, ir_t **out, crun_error *err)
{
    *out = NULL;
    ir_t *r = calloc(1, sizeof(*r));
    if (!r)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    strmap_init(&r->node_index);
    strmap_init(&r->ds_index);
    strmap_init(&r->string_index);
    r->project = dupstr(p->name);
    r->env = dupstr(p->env);
    r->dir = dupstr(p->dir);
    r->params = p->parameters ? conf_to_json(p->parameters) : json_object();
    r->runner = p->runner ? conf_copy(p->runner) : NULL;
    int rc = 0;
    if (!r->project || !r->env || !r->dir || !r->params || (p->runner && !r->runner))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc && p->catalog && p->catalog->kind != CONF_MAP)
        rc = conf_error(err, p->catalog, "the catalog must be a map of dataset names");
    if (!rc)
        rc = ir_build_catalog(r, p->catalog, p->credentials, err);
    if (!rc)
        rc = build_pipelines(r, p->pipelines, err);
    if (rc) {
        ir_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
