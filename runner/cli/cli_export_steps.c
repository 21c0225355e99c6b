/* cli_export_steps.c - the steps of an export for engines that move files
 * between steps themselves (CWL, Kubeflow Pipelines).
 *
 * Such an engine hands a step's output files to the steps that read them,
 * and `crun run --input/--output DATASET=PATH` makes a node read and write
 * those files.  A dataset without a file (a memory dataset, or a catalog
 * entry without a filepath) cannot cross between steps that way, so its
 * producer and its consumers become one step (`crun run --nodes a,b,c`).
 * Grouping can close a cycle between steps (a -> memory -> c, and a -> file
 * -> b -> file -> c), so the groups of every cycle merge as well: a step
 * graph is always a DAG.
 *
 * A step, as JSON:
 *   {"id": first node's id, "nodes": [real names, IR order],
 *    "inputs":  [{"dataset", "id", "file", "from": step id}],  files it reads
 *    "outputs": [{"dataset", "id", "file"}],                  files it writes
 *    "after":   [step ids]}
 * "file" is the dataset's id with its filepath's extension.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Letters, digits and '_' only, starting with a letter (at most 60). */
static void word_of(const char *name, char *out, size_t max)
{
    size_t n = 0;
    if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z')))
        out[n++] = 'x';
    for (const unsigned char *p = (const unsigned char *)name; *p && n < max; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_';
        out[n++] = ok ? (char)*p : '_';
    }
    out[n] = '\0';
}

json_t *cli_export_ids(json_t *names)
{
    json_t *count = json_object(), *ids = json_object(), *used = json_object();
    size_t i;
    json_t *v;
    char base[64], id[96];
    json_array_foreach(names, i, v) {
        word_of(json_string_value(v), base, 60);
        json_int_t seen = json_integer_value(json_object_get(count, base));
        json_object_set_new(count, base, json_integer(seen + 1));
    }
    json_array_foreach(names, i, v) {
        const char *name = json_string_value(v);
        word_of(name, base, 60);
        unsigned h = (unsigned)(hash_name(name) & 0xffffffu);
        if (json_integer_value(json_object_get(count, base)) == 1)
            snprintf(id, sizeof(id), "%s", base);
        else
            snprintf(id, sizeof(id), "%s_%06x", base, h);
        for (int k = 2; json_object_get(used, id); k++)
            snprintf(id, sizeof(id), "%s_%06x_%d", base, h, k);
        json_object_set_new(used, id, json_true());
        json_object_set_new(ids, name, json_string(id));
    }
    json_decref(count);
    json_decref(used);
    return ids;
}

/* The filepath of a dataset that can cross between steps, or NULL. */
const char *cli_export_filepath(json_t *ir, const char *dataset)
{
    json_t *d = json_object_get(json_object_get(ir, "datasets"), dataset);
    if (!d || strcmp(json_string_value(json_object_get(d, "kind")), "catalog") != 0)
        return NULL;
    return json_string_value(json_object_get(json_object_get(d, "options"), "filepath"));
}

/* --- union-find over node indices ------------------------------------------- */

static size_t find(size_t *up, size_t i)
{
    while (up[i] != i)
        i = up[i] = up[up[i]];
    return i;
}

static void unite(size_t *up, size_t a, size_t b)
{
    a = find(up, a);
    b = find(up, b);
    if (a != b)
        up[a > b ? a : b] = a < b ? a : b; /* the earlier node leads */
}

/* The edges between exported nodes: producer, consumer and the dataset
 * (one per input of a node made by another exported node). */
typedef struct edge {
    size_t from, to;
    const char *ds; /* borrowed from the IR */
} edge;

typedef struct edges {
    size_t n; /* nodes */
    edge *e;
    size_t m, cap;
} edges;

static int add_edge(edges *e, size_t from, size_t to, const char *ds)
{
    if (e->m == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 16;
        edge *grown = realloc(e->e, cap * sizeof(edge));
        if (!grown)
            return -1;
        e->e = grown;
        e->cap = cap;
    }
    e->e[e->m++] = (edge){from, to, ds};
    return 0;
}

static int collect_edges(json_t *nodes, edges *e)
{
    json_t *producer = json_object();
    size_t i, k;
    json_t *node, *io;
    int rc = 0;
    e->n = json_array_size(nodes);
    json_array_foreach(nodes, i, node)
        json_array_foreach(json_object_get(node, "outputs"), k, io)
            json_object_set_new(producer, json_string_value(json_object_get(io, "dataset")),
                                json_integer((json_int_t)i));
    json_array_foreach(nodes, i, node) {
        json_array_foreach(json_object_get(node, "inputs"), k, io) {
            const char *ds = json_string_value(json_object_get(io, "dataset"));
            json_t *p = json_object_get(producer, ds);
            if (!rc && p)
                rc = add_edge(e, (size_t)json_integer_value(p), i, ds);
        }
    }
    json_decref(producer);
    return rc;
}

/* Tarjan's strongly connected components over the group graph, iteratively
 * (500-node pipelines must not recurse 500 deep per path). Groups of one
 * component are united. Returns whether any merge happened. */
typedef struct scc {
    size_t *index, *low, *stack, *work, *edge_at;
    bool *on;
    size_t *adj_start, *adj;
} scc;

static bool merge_cycles(edges *e, size_t *up)
{
    size_t n = e->n, none = SIZE_MAX, counter = 0, sp = 0, wp = 0;
    scc s = {calloc(n, sizeof(size_t)), calloc(n, sizeof(size_t)), calloc(n, sizeof(size_t)),
             calloc(n, sizeof(size_t)), calloc(n, sizeof(size_t)), calloc(n, sizeof(bool)),
             calloc(n + 1, sizeof(size_t)), calloc(e->m + 1, sizeof(size_t))};
    bool merged = false;
    if (!s.index || !s.low || !s.stack || !s.work || !s.edge_at || !s.on || !s.adj_start ||
        !s.adj)
        goto out;
    for (size_t k = 0; k < e->m; k++)
        s.adj_start[find(up, e->e[k].from) + 1]++;
    for (size_t v = 0; v < n; v++)
        s.adj_start[v + 1] += s.adj_start[v];
    for (size_t k = 0; k < e->m; k++) { /* edge_at counts the edges placed so far */
        size_t a = find(up, e->e[k].from);
        s.adj[s.adj_start[a] + s.edge_at[a]++] = find(up, e->e[k].to);
    }
    for (size_t v = 0; v < n; v++)
        s.index[v] = none, s.edge_at[v] = 0;
    for (size_t root = 0; root < n; root++) {
        if (find(up, root) != root || s.index[root] != none)
            continue;
        s.work[wp++] = root;
        s.index[root] = s.low[root] = counter++;
        s.stack[sp++] = root;
        s.on[root] = true;
        while (wp > 0) {
            size_t v = s.work[wp - 1];
            if (s.adj_start[v] + s.edge_at[v] < s.adj_start[v + 1]) {
                size_t w = s.adj[s.adj_start[v] + s.edge_at[v]++];
                if (s.index[w] == none) {
                    s.index[w] = s.low[w] = counter++;
                    s.stack[sp++] = w;
                    s.on[w] = true;
                    s.work[wp++] = w;
                } else if (s.on[w] && s.index[w] < s.low[v]) {
                    s.low[v] = s.index[w];
                }
                continue;
            }
            wp--;
            if (wp > 0 && s.low[v] < s.low[s.work[wp - 1]])
                s.low[s.work[wp - 1]] = s.low[v];
            if (s.low[v] != s.index[v])
                continue;
            size_t w;
            do {
                w = s.stack[--sp];
                s.on[w] = false;
                if (w != v) {
                    unite(up, v, w);
                    merged = true;
                }
            } while (w != v);
        }
    }
out:
    free(s.index), free(s.low), free(s.stack), free(s.work), free(s.edge_at), free(s.on);
    free(s.adj_start), free(s.adj);
    return merged;
}

/* "regressor" + "data/06_models/regressor.json" -> "regressor.json" */
static json_t *file_name(const char *id, const char *filepath)
{
    const char *base = strrchr(filepath, '/');
    const char *dot = strrchr(base ? base + 1 : filepath, '.');
    char *text = NULL;
    bool ext = dot && dot[1] && dot != (base ? base + 1 : filepath);
    if (asprintf(&text, "%s%s", id, ext ? dot : "") < 0)
        return NULL;
    json_t *j = json_string(text);
    free(text);
    return j;
}

static json_t *build_steps(json_t *ir, json_t *nodes, size_t *up, edges *e, json_t *node_ids,
                           json_t *ds_ids)
{
    json_t *steps = json_array(), *by_lead = json_object();
    size_t i, k;
    json_t *node, *io;
    char key[32];
    json_array_foreach(nodes, i, node) {
        snprintf(key, sizeof(key), "%zu", find(up, i));
        json_t *step = json_object_get(by_lead, key);
        if (!step) {
            const char *lead = json_string_value(json_object_get(node, "name"));
            step = json_pack("{s:O, s:[], s:[], s:[], s:[]}", "id", json_object_get(node_ids, lead),
                             "nodes", "inputs", "outputs", "after");
            json_object_set_new(by_lead, key, step);
            json_array_append(steps, step);
        }
        json_array_append(json_object_get(step, "nodes"), json_object_get(node, "name"));
        json_array_foreach(json_object_get(node, "outputs"), k, io) {
            const char *ds = json_string_value(json_object_get(io, "dataset"));
            const char *fp = cli_export_filepath(ir, ds);
            if (!fp)
                continue;
            json_t *id = json_object_get(ds_ids, ds);
            json_array_append_new(json_object_get(step, "outputs"),
                                  json_pack("{s:s, s:O, s:o}", "dataset", ds, "id", id,
                                            "file", file_name(json_string_value(id), fp)));
        }
    }
    for (size_t j = 0; j < e->m; j++) {
        size_t a = find(up, e->e[j].from), b = find(up, e->e[j].to);
        if (a == b)
            continue;
        snprintf(key, sizeof(key), "%zu", a);
        json_t *from = json_object_get(json_object_get(by_lead, key), "id");
        snprintf(key, sizeof(key), "%zu", b);
        json_t *step = json_object_get(by_lead, key);
        json_t *id = json_object_get(ds_ids, e->e[j].ds), *ins = json_object_get(step, "inputs");
        bool seen = false;
        json_array_foreach(ins, k, io)
            seen = seen || strcmp(json_string_value(json_object_get(io, "dataset")), e->e[j].ds) == 0;
        if (!seen)
            json_array_append_new(ins, json_pack("{s:s, s:O, s:o, s:O}", "dataset", e->e[j].ds, "id",
                                                 id, "file", file_name(json_string_value(id),
                                                 cli_export_filepath(ir, e->e[j].ds)), "from", from));
        json_t *after = json_object_get(step, "after");
        seen = false;
        json_array_foreach(after, k, io)
            seen = seen || json_equal(io, from);
        if (!seen)
            json_array_append(after, from);
    }
    json_decref(by_lead);
    return steps;
}

json_t *cli_export_steps(json_t *ir)
{
    json_t *nodes = json_object_get(ir, "nodes");
    json_t *names = json_array(), *ds_names = json_array();
    size_t i;
    json_t *node;
    const char *key;
    json_t *val;
    json_array_foreach(nodes, i, node)
        json_array_append(names, json_object_get(node, "name"));
    json_object_foreach(json_object_get(ir, "datasets"), key, val)
        json_array_append_new(ds_names, json_string(key));
    json_t *node_ids = cli_export_ids(names), *ds_ids = cli_export_ids(ds_names);
    json_decref(names);
    json_decref(ds_names);
    edges e = {0};
    size_t n = json_array_size(nodes);
    size_t *up = malloc((n ? n : 1) * sizeof(size_t));
    json_t *steps = NULL;
    if (up && collect_edges(nodes, &e) == 0) {
        for (size_t v = 0; v < n; v++)
            up[v] = v;
        for (size_t k = 0; k < e.m; k++)
            if (!cli_export_filepath(ir, e.e[k].ds))
                unite(up, e.e[k].from, e.e[k].to);
        merge_cycles(&e, up);
        steps = build_steps(ir, nodes, up, &e, node_ids, ds_ids);
    }
    free(up);
    free(e.e);
    json_decref(node_ids);
    json_decref(ds_ids);
    return steps;
}

/* --- parameters ------------------------------------------------------------------ */

/* Leaves of the parameter tree: "a.b" -> value (lists and empty maps are leaves). */
static void leaves(json_t *v, const char *prefix, json_t *out)
{
    if (!json_is_object(v) || (json_object_size(v) == 0 && prefix[0])) {
        json_object_set(out, prefix, v);
        return;
    }
    const char *k;
    json_t *child;
    json_object_foreach(v, k, child) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", prefix, prefix[0] ? "." : "", k) < 0)
            continue;
        leaves(child, path, out);
        free(path);
    }
}

json_t *cli_export_params(json_t *ir)
{
    json_t *flat = json_object(), *names = json_array(), *out = json_array();
    leaves(json_object_get(ir, "parameters"), "", flat);
    const char *path;
    json_t *v;
    json_object_foreach(flat, path, v)
        json_array_append_new(names, json_string(path));
    json_t *map = cli_export_ids(names);
    json_decref(names);
    json_object_foreach(flat, path, v) {
        char *id = NULL;
        if (asprintf(&id, "p_%s", json_string_value(json_object_get(map, path))) < 0)
            continue;
        json_array_append_new(out, json_pack("{s:s, s:s, s:O}", "path", path, "id", id,
                                             "value", v));
        free(id);
    }
    json_decref(flat);
    json_decref(map);
    return out;
}

void cli_export_param_add(char **text, json_t *param, const char *ref)
{
    bool quote = json_is_string(json_object_get(param, "value"));
    char *grown = NULL;
    if (asprintf(&grown, "%s%s%s=%s%s%s", *text ? *text : "", *text ? "," : "",
                 json_string_value(json_object_get(param, "path")), quote ? "\"" : "", ref,
                 quote ? "\"" : "") < 0)
        return; /* the item is lost: the step runs with the parameter's default */
    free(*text);
    *text = grown;
}
