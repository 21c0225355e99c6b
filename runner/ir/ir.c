/* ir.c - from configuration to the IR.
 *
 * Node definitions arrive one at a time through an ir_builder while
 * project_load streams the pipelines files (ir_load's sink): each is
 * checked and becomes an IR node at once, so a mistake is reported where it was written and a large
 * pipeline's YAML never exists as one tree.  What needs the whole
 * configuration waits for ir_build: node libraries and the parameters nodes
 * read (checked at the first use of each, in node order), pipelines as lists
 * of nodes and their unions.  Datasets are interned by name as nodes mention
 * them (ir_catalog.c).  Graph-level checks (cycles, two producers,
 * missing inputs) belong to plan.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crun/value.h"
#include "ir/ir.h"
#include "ir/ir_builder.h"
#include "core/suggest.h"

/* --- the builder --- */

int ir_builder_new(const project *p, ir_builder **out, crun_error *err)
{
    *out = NULL;
    ir_builder *b = calloc(1, sizeof(*b));
    if (!b || !(b->ir = ir_new())) {
        free(b);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    int rc = 0;
    if (p->catalog && p->catalog->kind != CONF_MAP)
        rc = conf_error(err, p->catalog, "the catalog must be a map of dataset names");
    if (!rc)
        rc = ir_build_catalog(b->ir, p->catalog, p->credentials, err);
    if (rc) {
        ir_builder_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void ir_builder_free(ir_builder *b)
{
    if (!b)
        return;
    ir_free(b->ir);
    free(b->ranges);
    free(b->funcs);
    free(b->params);
    free(b->ports.items);
    free(b->ports.slots);
    free(b);
}

static int add_use(first_use **uses, size_t *n, size_t *cap, const char *what, size_t node,
                   bool named, const conf_node *at)
{
    if (ir_reserve((void **)uses, cap, *n + 1, sizeof(first_use)) != 0)
        return CRUN_ENOMEM;
    first_use *u = &(*uses)[(*n)++];
    memset(u, 0, sizeof(*u));
    u->what = what;
    u->node = node;
    u->named = named;
    u->at.file = at->file;
    u->at.line = at->line;
    u->at.col = at->col;
    return 0;
}

/* "file:line:col" of a node, in the arena (conf_where's text, unformatted). */
static char *where_of(ir_t *ir, const conf_node *at)
{
    char buf[512];
    size_t flen = at->file ? strlen(at->file) : 0;
    if (!at->file || at->line == 0 || flen > sizeof(buf) - 32)
        return ir_strdup(ir, conf_where(at, buf, sizeof(buf)));
    memcpy(buf, at->file, flen);
    char *p = buf + flen;
    uint32_t nums[2] = {at->line, at->col};
    for (int k = 0; k < 2; k++) {
        char digits[10];
        int nd = 0;
        uint32_t v = nums[k];
        do
            digits[nd++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        *p++ = ':';
        while (nd > 0)
            *p++ = digits[--nd];
    }
    return conf_arena_strndup(ir->arena, buf, (size_t)(p - buf));
}

/* --- nodes --- */

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Is arg already an argument of the list?  Short lists are scanned; from 8
 * ports on, a table of indices (rebuilt as it fills) answers. */
static bool port_listed(port_list *pl, const char *arg, int *rc)
{
    if (pl->n < 8) {
        for (size_t i = 0; i < pl->n; i++)
            if (strcmp(pl->items[i].arg, arg) == 0)
                return true;
        return false;
    }
    if (pl->n * 2 >= pl->n_slots) {
        size_t n_slots = pl->n_slots ? pl->n_slots * 2 : 64;
        while (pl->n * 2 >= n_slots)
            n_slots *= 2;
        uint32_t *slots = calloc(n_slots, sizeof(uint32_t));
        if (!slots) {
            *rc = CRUN_ENOMEM;
            return false;
        }
        free(pl->slots);
        pl->slots = slots;
        pl->n_slots = n_slots;
        for (size_t i = 0; i < pl->n; i++) {
            size_t j = hash_text(pl->items[i].arg) & (n_slots - 1);
            while (slots[j])
                j = (j + 1) & (n_slots - 1);
            slots[j] = (uint32_t)(i + 1);
        }
    }
    size_t j = hash_text(arg) & (pl->n_slots - 1);
    for (; pl->slots[j]; j = (j + 1) & (pl->n_slots - 1))
        if (strcmp(pl->items[pl->slots[j] - 1].arg, arg) == 0)
            return true;
    /* the caller adds it as port n next */
    pl->slots[j] = (uint32_t)(pl->n + 1);
    return false;
}

static int add_port(ir_builder *b, const char *arg, const conf_node *ds, const char *node,
                    bool outputs, crun_error *err)
{
    ir_t *ir = b->ir;
    port_list *pl = &b->ports;
    const char *what = outputs ? "outputs" : "inputs";
    if (ds->kind != CONF_SCALAR || !ds->str[0])
        return conf_error(err, ds, "node '%s': %s must be dataset names, got %s", node, what,
                          conf_kind_name(ds));
    int rc = 0;
    if (port_listed(pl, arg, &rc))
        return conf_error(err, ds, "node '%s': %s '%s' is listed twice", node, what, arg);
    if (rc)
        return crun_error_set(err, rc, "out of memory");
    bool is_param = ir_is_param_name(ds->str);
    if (is_param && outputs)
        return conf_error(err, ds, "node '%s': '%s' cannot be an output: parameters are read-only",
                          node, ds->str);
    size_t n_ds = ir->n_ds, idx = ir_dataset_intern(ir, ds->str);
    if (idx == (size_t)-1 || ir_reserve((void **)&pl->items, &pl->cap, pl->n + 1, sizeof(ir_port)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    /* two outputs of a map naming one dataset: one of the writes would be
     * lost (a node's outputs are few: a scan is enough) */
    for (size_t i = 0; outputs && i < pl->n; i++)
        if (pl->items[i].ds == idx)
            return conf_error(err, ds, "node '%s': outputs '%s' and '%s' both write dataset "
                              "'%s' (one write would be lost)", node, pl->items[i].arg, arg,
                              ds->str);
    /* a parameter is checked where it is first read, once parameters are final */
    if (is_param && ir->n_ds > n_ds &&
        add_use(&b->params, &b->n_params, &b->params_cap, ir->ds[idx].name, ir->n_nodes - 1,
                true, ds) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (ir_port_set(ir, &pl->items[pl->n], arg, idx) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    pl->n++;
    return 0;
}

/* inputs/outputs: a name, a list of names, or a map arg -> name. */
static int parse_ports(ir_builder *b, const conf_node *spec, ir_port **ports, uint32_t *n,
                       const char *node, bool outputs, crun_error *err)
{
    if (!spec || spec->kind == CONF_NULL)
        return 0;
    port_list *pl = &b->ports;
    pl->n = 0;
    pl->n_slots = 0;
    free(pl->slots);
    pl->slots = NULL;
    int rc = 0;
    if (spec->kind == CONF_SCALAR) {
        rc = add_port(b, spec->str, spec, node, outputs, err);
    } else if (spec->kind == CONF_SEQ) {
        for (size_t i = 0; i < spec->n && !rc; i++) {
            const conf_node *it = spec->items[i];
            rc = add_port(b, it->kind == CONF_SCALAR ? it->str : "", it, node, outputs, err);
        }
    } else {
        for (size_t i = 0; i < spec->n && !rc; i++)
            rc = add_port(b, spec->items[2 * i]->str, spec->items[2 * i + 1], node, outputs,
                          err);
    }
    /* the node keeps what was read, also on error */
    if (pl->n && !(*ports = conf_arena_alloc(b->ir->arena, pl->n * sizeof(ir_port))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (pl->n)
        memcpy(*ports, pl->items, pl->n * sizeof(ir_port));
    *n = (uint32_t)pl->n;
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

bool ir_check_template(const ir_node *node, const char *arg, char *why, size_t cap)
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
        else {
            snprintf(why, cap, "node '%s': unknown placeholder {%.*s} in command (use "
                     "{inputs.NAME} or {outputs.NAME}; write {{ for a literal brace)", node->name,
                     (int)flen, field);
            return false;
        }
        if (!ok) {
            bool in = field[0] == 'i';
            const ir_port *ports = in ? node->in : node->out;
            size_t n = in ? node->n_in : node->n_out, skip = in ? 7 : 8;
            const char *names[64];
            for (size_t i = 0; i < n && i < 64; i++)
                names[i] = ports[i].arg;
            char *word = strndup(field + skip, flen - skip);
            const char *best = word ? suggest_closest(word, names, n < 64 ? n : 64) : NULL;
            free(word);
            snprintf(why, cap, "node '%s': {%.*s} names no %s of the node%s%s%s%s", node->name,
                     (int)flen, field, in ? "input" : "output", best ? " (did you mean {" : "",
                     best ? (in ? "inputs." : "outputs.") : "", best ? best : "",
                     best ? "}?)" : "");
            return false;
        }
        p = end;
    }
    return true;
}

/* Every {inputs.k}/{outputs.k} of a command must name a port. */
static int check_templates(const ir_node *node, const conf_node *at, const char *arg,
                           crun_error *err)
{
    char why[512];
    if (ir_check_template(node, arg, why, sizeof(why)))
        return 0;
    return conf_error(err, at, "%s", why);
}

static int parse_cmd(ir_t *ir, ir_node *node, const conf_node *cmd, crun_error *err)
{
    if (cmd->kind == CONF_SCALAR)
        return conf_error(err, cmd, "node '%s': 'cmd' must be a list of arguments, "
                          "e.g. [sh, -c, \"%s\"] to use a shell", node->name, cmd->str);
    if (cmd->kind != CONF_SEQ || cmd->n == 0)
        return conf_error(err, cmd, "node '%s': 'cmd' must be a non-empty list of arguments",
                          node->name);
    node->argv = conf_arena_alloc(ir->arena, cmd->n * sizeof(char *));
    if (!node->argv)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < cmd->n; i++) {
        const conf_node *a = cmd->items[i];
        if (a->kind != CONF_SCALAR)
            return conf_error(err, a, "node '%s': command arguments must be strings, got %s",
                              node->name, conf_kind_name(a));
        if (!(node->argv[i] = ir_strdup(ir, a->str)))
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        node->argc++;
    }
    for (size_t i = 0; i < cmd->n; i++) {
        int rc = check_templates(node, cmd->items[i], node->argv[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

bool ir_func_shape_ok(const char *func)
{
    const char *dot = strchr(func, '.');
    return dot && dot != func && dot[1];
}

/* The shape of 'func' (library.function); whether the library exists is
 * checked by ir_build, when every library is known. */
static int check_func(const conf_node *func, const char *node, crun_error *err)
{
    if (func->kind != CONF_SCALAR)
        return conf_error(err, func, "node '%s': 'func' must be library.function", node);
    if (!ir_func_shape_ok(func->str))
        return conf_error(err, func, "node '%s': 'func' must be library.function, got '%s'", node,
                          func->str);
    return 0;
}

static int parse_tags(ir_t *ir, ir_node *node, const conf_node *tags, crun_error *err)
{
    if (!tags || tags->kind == CONF_NULL)
        return 0;
    if (tags->kind != CONF_SCALAR && tags->kind != CONF_SEQ)
        return conf_error(err, tags, "node '%s': 'tags' must be a name or a list of names",
                          node->name);
    size_t n = tags->kind == CONF_SCALAR ? 1 : tags->n;
    if (!(node->tags = conf_arena_alloc(ir->arena, n * sizeof(char *))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const conf_node *t = tags->kind == CONF_SCALAR ? tags : tags->items[i];
        if (t->kind != CONF_SCALAR)
            return conf_error(err, t, "node '%s': tags must be strings", node->name);
        if (!(node->tags[i] = ir_strdup(ir, t->str)))
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        node->n_tags++;
    }
    return 0;
}

static const char *const node_keys[] = {"name", "func", "cmd", "inputs", "outputs", "tags",
                                        "retry", NULL};

/* The keys of a node definition, found in one pass. */
typedef struct node_def {
    const conf_node *name, *func, *cmd, *inputs, *outputs, *tags, *retry;
} node_def;

static int read_keys(const conf_node *def, node_def *d, crun_error *err)
{
    const conf_node **slots[] = {&d->name, &d->func, &d->cmd, &d->inputs, &d->outputs, &d->tags,
                                 &d->retry};
    for (size_t i = 0; i < def->n; i++) {
        const char *key = def->items[2 * i]->str;
        size_t k = 0;
        while (node_keys[k] && (node_keys[k][0] != key[0] || strcmp(node_keys[k], key) != 0))
            k++;
        if (!node_keys[k])
            return conf_check_keys(def, node_keys, "a node", err);
        *slots[k] = def->items[2 * i + 1];
    }
    return 0;
}

static int parse_node(ir_builder *b, const conf_node *def, ir_node *node, crun_error *err)
{
    ir_t *ir = b->ir;
    if (def->kind != CONF_MAP)
        return conf_error(err, def, "a node must be a map with 'func' or 'cmd', got %s",
                          conf_kind_name(def));
    node_def d = {0};
    int rc = read_keys(def, &d, err);
    if (rc)
        return rc;
    const conf_node *name = d.name, *func = d.func, *cmd = d.cmd;
    if (!(node->where = where_of(ir, def)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (name && (name->kind != CONF_SCALAR || !name->str[0]))
        return conf_error(err, name, "node 'name' must be a non-empty string");
    if (func && cmd)
        return conf_error(err, cmd, "node '%s': give either 'func' or 'cmd', not both",
                          name ? name->str : func->str);
    if (!func && !cmd)
        return conf_error(err, def, "node%s%s%s: missing 'func' (library.function) or 'cmd' "
                          "(a command)", name ? " '" : "", name ? name->str : "", name ? "'" : "");
    /* a malformed func is named before the name it would have given */
    if (func && (rc = check_func(func, name ? name->str : func->kind == CONF_SCALAR
                                 ? func->str : "?", err)))
        return rc;
    if (!name && !func)
        return conf_error(err, def, "a command node needs a 'name'");
    node->name = ir_strdup(ir, name ? name->str : strchr(func->str, '.') + 1);
    size_t n_strings = ir->n_strings;
    if (!node->name || (func && !(node->func = ir_intern(ir, func->str))))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (func && ir->n_strings > n_strings &&
        add_use(&b->funcs, &b->n_funcs, &b->funcs_cap, node->func, ir->n_nodes - 1, name != NULL,
                func) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if ((rc = parse_ports(b, d.inputs, &node->in, &node->n_in, node->name, false, err)))
        return rc;
    if ((rc = parse_ports(b, d.outputs, &node->out, &node->n_out, node->name, true, err)))
        return rc;
    if (cmd && (rc = parse_cmd(ir, node, cmd, err)))
        return rc;
    if ((rc = parse_tags(ir, node, d.tags, err)))
        return rc;
    return ir_retry_parse(ir, node, d.retry, &node->retry, err);
}

int ir_builder_node(ir_builder *b, const char *pipeline, const conf_node *def, crun_error *err)
{
    ir_t *ir = b->ir;
    if (ir_reserve((void **)&ir->nodes, &b->node_cap, ir->n_nodes + 1, sizeof(ir_node)) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    ir_node *node = &ir->nodes[ir->n_nodes];
    memset(node, 0, sizeof(*node));
    ir->n_nodes++;
    int rc = parse_node(b, def, node, err);
    if (rc)
        return rc;
    size_t first;
    int put = strmap_put(&ir->node_index, node->name, ir->n_nodes - 1, &first);
    if (put < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (put == 1)
        return conf_error(err, def, "duplicate node name '%s' (first defined at %s)", node->name,
                          ir->nodes[first].where);
    node_range *last = b->n_ranges ? &b->ranges[b->n_ranges - 1] : NULL;
    if (last && last->first + last->n == ir->n_nodes - 1 && strcmp(last->pipeline, pipeline) == 0) {
        last->n++;
        return 0;
    }
    if (ir_reserve((void **)&b->ranges, &b->ranges_cap, b->n_ranges + 1, sizeof(node_range)) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    last = &b->ranges[b->n_ranges];
    *last = (node_range){ir_strdup(ir, pipeline), ir->n_nodes - 1, 1};
    if (!last->pipeline)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    b->n_ranges++;
    return 0;
}

int ir_builder_nodes(ir_builder *b, const char *pipeline, const conf_node *nodes,
                     crun_error *err)
{
    if (nodes->kind != CONF_SEQ)
        return conf_error(err, nodes, "pipeline '%s': 'nodes' must be a list, got %s", pipeline,
                          conf_kind_name(nodes));
    for (size_t i = 0; i < nodes->n; i++) {
        int rc = ir_builder_node(b, pipeline, nodes->items[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- checks that wait for the whole configuration --- */

/* Collect dotted parameter paths for "did you mean". */
static void param_paths(json_t *obj, const char *prefix, char ***out, size_t *n, size_t *cap)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", prefix, prefix[0] ? "." : "", k) < 0)
            return;
        if (ir_reserve((void **)out, cap, *n + 1, sizeof(char *)) != 0) {
            free(path);
            return;
        }
        (*out)[(*n)++] = path;
        if (json_is_object(v))
            param_paths(v, path, out, n, cap);
    }
}

static int check_param(ir_t *ir, const conf_node *at, const char *node, const char *name,
                       crun_error *err)
{
    const char *path = strcmp(name, "parameters") == 0 ? "" : name + 7;
    if (crun_json_path(ir->params, path))
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

static int check_library(const ir_t *ir, const first_use *u, crun_error *err)
{
    const char *func = u->what, *dot = strchr(func, '.');
    if (json_object_getn(ir->libraries, func, (size_t)(dot - func)))
        return 0;
    int lib_len = (int)(dot - func);
    const char *names[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(ir->libraries, k, v) {
        if (n < 64)
            names[n++] = k;
    }
    char *lib = strndup(func, (size_t)lib_len);
    const char *best = lib ? suggest_closest(lib, names, n) : NULL;
    free(lib);
    return conf_error(err, &u->at, "node '%s': unknown node library '%.*s'%s%s%s (libraries are "
                      "declared under 'libraries:' in pipelines.yml)",
                      u->named ? ir->nodes[u->node].name : func, lib_len, func,
                      best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
}

/* The first use of each function and parameter, in node order. */
int ir_check_uses(const ir_builder *b, crun_error *err)
{
    size_t f = 0, q = 0;
    while (f < b->n_funcs || q < b->n_params) {
        bool func = q == b->n_params || (f < b->n_funcs && b->funcs[f].node <= b->params[q].node);
        const first_use *u = func ? &b->funcs[f++] : &b->params[q++];
        int rc = func ? check_library(b->ir, u, err)
                      : check_param(b->ir, &u->at, b->ir->nodes[u->node].name, u->what, err);
        if (rc)
            return rc;
    }
    return 0;
}

