/* ir_pipelines.c - the IR's libraries and pipelines, and ir_build.
 *
 * Once project.c has streamed every node definition through the builder,
 * ir_build finishes the IR: node libraries, the checks that waited for the
 * whole configuration (ir_check_uses), and each pipeline as the list of its
 * own nodes plus those of the pipelines it includes (resolved depth first,
 * a cycle of includes is an error), with __default__ the union of all when
 * the configuration names none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_builder.h"
#include "core/suggest.h"

typedef struct pipe_def {
    const conf_node *key;
    const conf_node *val;
    int state; /* 0 unresolved, 1 resolving, 2 done */
} pipe_def;

typedef struct build_ctx {
    ir_builder *b;
    ir_t *ir;
    pipe_def *defs;
    size_t n_defs;
} build_ctx;

static int pipeline_add_node(ir_pipeline *pl, size_t *cap, size_t node, unsigned char *seen)
{
    if (seen[node])
        return 0;
    if (ir_reserve((void **)&pl->nodes, cap, pl->n + 1, sizeof(size_t)) != 0)
        return -1;
    pl->nodes[pl->n++] = node;
    seen[node] = 1;
    return 0;
}

static int resolve_pipeline(build_ctx *c, size_t di, crun_error *err);

static long find_def(build_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_defs; i++)
        if (strcmp(c->defs[i].key->str, name) == 0)
            return (long)i;
    return -1;
}

/* Add the nodes of each named pipeline in list to pipeline di. */
static int include_pipelines(build_ctx *c, size_t di, const conf_node *list, unsigned char *seen,
                             crun_error *err)
{
    if (list->kind != CONF_SEQ)
        return conf_error(err, list, "pipeline '%s': expected a list of pipeline names, got %s",
                          c->defs[di].key->str, conf_kind_name(list));
    ir_pipeline *pl = &c->ir->pipelines[di];
    size_t cap = pl->n;
    for (size_t i = 0; i < list->n; i++) {
        const conf_node *it = list->items[i];
        long j = it->kind == CONF_SCALAR ? find_def(c, it->str) : -1;
        if (j < 0) {
            const char *names[256];
            size_t n = 0;
            for (size_t k = 0; k < c->n_defs && n < 256; k++)
                names[n++] = c->defs[k].key->str;
            const char *best = it->kind == CONF_SCALAR ? suggest_closest(it->str, names, n) : NULL;
            return conf_error(err, it, "pipeline '%s': unknown pipeline '%s'%s%s%s",
                              c->defs[di].key->str, it->kind == CONF_SCALAR ? it->str : "?",
                              best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
        }
        if (c->defs[j].state == 1)
            return conf_error(err, it, "pipeline '%s' includes itself through '%s'",
                              c->defs[di].key->str, it->str);
        int rc = resolve_pipeline(c, (size_t)j, err);
        if (rc)
            return rc;
        ir_pipeline *inc = &c->ir->pipelines[j];
        for (size_t k = 0; k < inc->n; k++)
            if (pipeline_add_node(pl, &cap, inc->nodes[k], seen) != 0)
                return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    return 0;
}

static int resolve_pipeline(build_ctx *c, size_t di, crun_error *err)
{
    pipe_def *d = &c->defs[di];
    if (d->state == 2)
        return 0;
    d->state = 1;
    unsigned char *seen = calloc(c->ir->n_nodes + 1, 1);
    if (!seen)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = 0;
    ir_pipeline *pl = &c->ir->pipelines[di];
    if (d->val->kind == CONF_SEQ) {
        rc = include_pipelines(c, di, d->val, seen, err);
    } else {
        /* own nodes first (already parsed, in order), then includes */
        for (size_t i = 0; i < pl->n; i++)
            seen[pl->nodes[i]] = 1;
        conf_node *inc = conf_get(d->val, "include");
        if (inc)
            rc = include_pipelines(c, di, inc, seen, err);
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
        const conf_node *k = libs->items[2 * i], *v = libs->items[2 * i + 1];
        if (strlen(k->str) > IR_LIBRARY_NAME_MAX)
            return conf_error(err, k, "library name '%.40s...' is %zu bytes long; a library "
                              "name has at most %d bytes", k->str, strlen(k->str),
                              IR_LIBRARY_NAME_MAX);
        if (v->kind != CONF_SCALAR || !v->str[0])
            return conf_error(err, v, "library '%s': expected a plugin name or a path to a .so",
                              libs->items[2 * i]->str);
        json_object_set_new(ir->libraries, libs->items[2 * i]->str, json_string(v->str));
    }
    return 0;
}

/* Pipeline di's own nodes: those built for it while its file was read (or,
 * for a definition no stream saw, built now). */
static int own_nodes(build_ctx *c, size_t di, const conf_node *nodes, crun_error *err)
{
    const char *name = c->defs[di].key->str;
    if (!(nodes->kind == CONF_SEQ && nodes->streamed)) {
        int rc = ir_builder_nodes(c->b, name, nodes, err);
        if (rc)
            return rc;
    }
    ir_pipeline *pl = &c->ir->pipelines[di];
    size_t cap = 0;
    for (size_t r = 0; r < c->b->n_ranges; r++) {
        const node_range *range = &c->b->ranges[r];
        if (strcmp(range->pipeline, name) != 0)
            continue;
        if (ir_reserve((void **)&pl->nodes, &cap, pl->n + range->n, sizeof(size_t)) != 0)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        for (size_t k = 0; k < range->n; k++)
            pl->nodes[pl->n++] = range->first + k;
    }
    return 0;
}

static int build_pipelines(build_ctx *c, const conf_node *root, crun_error *err)
{
    ir_t *ir = c->ir;
    int rc = 0;
    if (root && (rc = conf_check_keys(root, pipelines_file_keys, "pipelines.yml", err)))
        return rc;
    if ((rc = build_libraries(ir, root ? conf_get(root, "libraries") : NULL, err)))
        return rc;
    const conf_node *pipes = root ? conf_get(root, "pipelines") : NULL;
    if (pipes && pipes->kind != CONF_MAP && pipes->kind != CONF_NULL)
        return conf_error(err, pipes, "'pipelines' must be a map of pipeline names, got %s",
                          conf_kind_name(pipes));
    size_t n = pipes && pipes->kind == CONF_MAP ? pipes->n : 0;
    c->defs = calloc(n + 1, sizeof(pipe_def));
    ir->pipelines = calloc(n + 1, sizeof(ir_pipeline));
    if (!c->defs || !ir->pipelines)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    c->n_defs = n;
    ir->n_pipelines = n;
    for (size_t i = 0; i < n && !rc; i++) {
        c->defs[i].key = pipes->items[2 * i];
        c->defs[i].val = pipes->items[2 * i + 1];
        char where[512];
        ir->pipelines[i].name = strdup(c->defs[i].key->str);
        ir->pipelines[i].where = ir_strdup(ir, conf_where(c->defs[i].key, where, sizeof(where)));
        if (!ir->pipelines[i].name || !ir->pipelines[i].where)
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    /* pass 1: the nodes each pipeline defines */
    for (size_t i = 0; i < n && !rc; i++) {
        const conf_node *v = c->defs[i].val;
        if (v->kind == CONF_SEQ)
            continue;
        if (v->kind != CONF_MAP)
            return conf_error(err, v, "pipeline '%s': expected a map with 'nodes' or a list of "
                              "pipeline names, got %s", c->defs[i].key->str, conf_kind_name(v));
        if ((rc = conf_check_keys(v, pipeline_keys, "a pipeline", err)))
            return rc;
        const conf_node *nodes = conf_get(v, "nodes");
        if (nodes)
            rc = own_nodes(c, i, nodes, err);
    }
    if (!rc)
        rc = ir_check_uses(c->b, err);
    /* pass 2: unions and includes */
    for (size_t i = 0; i < n && !rc; i++)
        rc = resolve_pipeline(c, i, err);
    if (rc || ir_pipeline_find(ir, "__default__") >= 0)
        return rc;
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

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The IR of a loaded project from the nodes b built while its pipelines
 * files were read (taken; NULL when there were none). */
static int ir_build(project *p, ir_builder *b, ir_t **out, crun_error *err)
{
    *out = NULL;
    int rc = b ? 0 : ir_builder_new(p, &b, err);
    if (rc)
        return rc;
    ir_t *r = b->ir;
    r->project = dupstr(p->name);
    r->env = dupstr(p->env);
    r->dir = dupstr(p->dir);
    r->params = p->parameters ? conf_to_json(p->parameters) : json_object();
    r->runner = p->runner ? conf_copy(p->runner) : NULL;
    if (!r->project || !r->env || !r->dir || !r->params || (p->runner && !r->runner))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    build_ctx c = {.b = b, .ir = r};
    if (!rc)
        rc = build_pipelines(&c, p->pipelines, err);
    free(c.defs);
    if (rc) {
        ir_builder_free(b);
        return rc;
    }
    /* the nodes array was grown by doubling: give back what is not used */
    ir_node *fit = r->n_nodes ? realloc(r->nodes, r->n_nodes * sizeof(ir_node)) : NULL;
    if (fit)
        r->nodes = fit;
    b->ir = NULL;
    ir_builder_free(b);
    *out = r;
    return 0;
}

/* project_load's sink: node definitions straight into the builder. */
static int sink_start(void *user, const project *p, crun_error *err)
{
    return ir_builder_new(p, (ir_builder **)user, err);
}

static int sink_node(void *user, const char *pipeline, const conf_node *def, crun_error *err)
{
    return ir_builder_node(*(ir_builder **)user, pipeline, def, err);
}

static int sink_list(void *user, const char *pipeline, const conf_node *defs, crun_error *err)
{
    return ir_builder_nodes(*(ir_builder **)user, pipeline, defs, err);
}

int ir_load(const char *dir, const char *env, const char *params, char *const *environ_,
            const conf_interrupt *intr, project **p, ir_t **out, crun_error *err)
{
    return ir_load_conf(dir, NULL, env, params, environ_, intr, p, out, err);
}

int ir_load_conf(const char *dir, const char *conf_source, const char *env, const char *params,
                 char *const *environ_, const conf_interrupt *intr, project **p, ir_t **out,
                 crun_error *err)
{
    *out = NULL;
    ir_builder *b = NULL;
    project_nodes sink = {.user = &b, .start = sink_start, .node = sink_node, .list = sink_list};
    int rc = project_load_conf(dir, conf_source, env, params, environ_, &sink, intr, p, err);
    if (rc != 0) {
        ir_builder_free(b);
        return rc;
    }
    return ir_build(*p, b, out, err);
}
