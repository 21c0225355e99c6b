/* plan.c - graph checks, Kedro's filters, topological layout.
 *
 * Everything is linear in nodes + edges: producers are found through an array
 * indexed by dataset, edges are laid out in compressed rows, the order comes
 * from Kahn's algorithm seeded in declaration order (so equal-rank nodes keep
 * the order the user wrote them in).  When Kahn's algorithm stalls the
 * remaining nodes contain a cycle; walking predecessors from any of them
 * finds it, and it is printed in the order data flows.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "core/suggest.h"

void plan_free(plan *p)
{
    if (!p)
        return;
    free(p->pipeline);
    free(p->node);
    free(p->dep_start);
    free(p->deps);
    free(p->succ_start);
    free(p->succs);
    free(p->producer);
    free(p->consumers);
    free(p->crosses);
    free(p);
}

/* The pipeline's graph over ir nodes: producer per dataset, successor lists. */
typedef struct graph {
    const ir_t *ir;
    unsigned char *in;  /* per ir node: in the pipeline */
    size_t *prod;       /* per dataset: producing ir node or PLAN_NONE */
    size_t *succ_start; /* per ir node (n_nodes+1) */
    size_t *succs;
    size_t *pred_start;
    size_t *preds;
} graph;

static void graph_free(graph *g)
{
    free(g->in);
    free(g->prod);
    free(g->succ_start);
    free(g->succs);
    free(g->pred_start);
    free(g->preds);
}

static int oom(crun_error *err)
{
    return crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static const char *closest_dataset(const ir_t *ir, const char *name)
{
    /* bounded: suggestions for huge pipelines are not worth a quadratic scan */
    size_t n = ir->n_ds < 5000 ? ir->n_ds : 5000;
    const char **names = malloc((n + 1) * sizeof(char *));
    if (!names)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ir->ds[i].name, name) != 0)
            names[k++] = ir->ds[i].name;
    const char *best = suggest_closest(name, names, k);
    free(names);
    return best;
}

static int check_producers(graph *g, crun_error *err)
{
    const ir_t *ir = g->ir;
    for (size_t i = 0; i < ir->n_nodes; i++) {
        if (!g->in[i])
            continue;
        const ir_node *n = &ir->nodes[i];
        for (size_t k = 0; k < n->n_out; k++) {
            size_t ds = n->out[k].ds, other = g->prod[ds];
            if (other != PLAN_NONE && other != i)
                return crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': output '%s' is also an "
                                      "output of node '%s' (%s); a dataset has one producer",
                                      n->where, n->name, ir->ds[ds].name, ir->nodes[other].name,
                                      ir->nodes[other].where);
            g->prod[ds] = i;
        }
    }
    for (size_t i = 0; i < ir->n_nodes; i++) {
        if (!g->in[i])
            continue;
        const ir_node *n = &ir->nodes[i];
        for (size_t k = 0; k < n->n_in; k++) {
            const ir_dataset *d = &ir->ds[n->in[k].ds];
            if (d->kind != IR_DS_MEMORY || g->prod[n->in[k].ds] != PLAN_NONE)
                continue;
            const char *best = closest_dataset(ir, d->name);
            return crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': input '%s' is not produced "
                                  "by any node and is not in the catalog%s%s%s", n->where,
                                  n->name, d->name, best ? " (did you mean '" : "",
                                  best ? best : "", best ? "'?)" : "");
        }
    }
    return 0;
}

/* Edges u -> v when v reads a dataset u writes, both in the pipeline. */
static int build_edges(graph *g, crun_error *err)
{
    const ir_t *ir = g->ir;
    size_t nn = ir->n_nodes, edges = 0;
    g->succ_start = calloc(nn + 1, sizeof(size_t));
    g->pred_start = calloc(nn + 1, sizeof(size_t));
    if (!g->succ_start || !g->pred_start)
        return oom(err);
    for (size_t v = 0; v < nn; v++) {
        if (!g->in[v])
            continue;
        for (size_t k = 0; k < ir->nodes[v].n_in; k++) {
            size_t u = g->prod[ir->nodes[v].in[k].ds];
            if (u == PLAN_NONE)
                continue;
            g->succ_start[u + 1]++;
            g->pred_start[v + 1]++;
            edges++;
        }
    }
    for (size_t i = 0; i < nn; i++) {
        g->succ_start[i + 1] += g->succ_start[i];
        g->pred_start[i + 1] += g->pred_start[i];
    }
    g->succs = malloc((edges + 1) * sizeof(size_t));
    g->preds = malloc((edges + 1) * sizeof(size_t));
    size_t *fill_s = malloc((nn + 1) * sizeof(size_t)), *fill_p = malloc((nn + 1) * sizeof(size_t));
    if (!g->succs || !g->preds || !fill_s || !fill_p) {
        free(fill_s);
        free(fill_p);
        return oom(err);
    }
    memcpy(fill_s, g->succ_start, nn * sizeof(size_t));
    memcpy(fill_p, g->pred_start, nn * sizeof(size_t));
    for (size_t v = 0; v < nn; v++) {
        if (!g->in[v])
            continue;
        for (size_t k = 0; k < ir->nodes[v].n_in; k++) {
            size_t u = g->prod[ir->nodes[v].in[k].ds];
            if (u == PLAN_NONE)
                continue;
            g->succs[fill_s[u]++] = v;
            g->preds[fill_p[v]++] = u;
        }
    }
    free(fill_s);
    free(fill_p);
    return 0;
}

/* A cycle among nodes left with unmet predecessors: walk predecessors until
 * one repeats, then print the loop in data-flow order. */
static int report_cycle(graph *g, const size_t *indeg, crun_error *err)
{
    const ir_t *ir = g->ir;
    size_t start = PLAN_NONE;
    for (size_t i = 0; i < ir->n_nodes && start == PLAN_NONE; i++)
        if (g->in[i] && indeg[i] > 0)
            start = i;
    size_t *pos = malloc(ir->n_nodes * sizeof(size_t));
    size_t *path = malloc((ir->n_nodes + 1) * sizeof(size_t));
    if (!pos || !path) {
        free(pos);
        free(path);
        return oom(err);
    }
    for (size_t i = 0; i < ir->n_nodes; i++)
        pos[i] = PLAN_NONE;
    size_t len = 0, cur = start;
    while (pos[cur] == PLAN_NONE) {
        pos[cur] = len;
        path[len++] = cur;
        size_t next = PLAN_NONE;
        for (size_t e = g->pred_start[cur]; e < g->pred_start[cur + 1]; e++)
            if (indeg[g->preds[e]] > 0) {
                next = g->preds[e];
                break;
            }
        cur = next;
    }
    /* path[pos[cur]..len) walks against the data flow: reverse it, then start
     * at the node declared first, so the message is stable and reads a -> b */
    size_t first = pos[cur], k = len - first, m = 0;
    for (size_t i = 0; i < k; i++)
        pos[i] = path[len - 1 - i];
    for (size_t i = 1; i < k; i++)
        if (pos[i] < pos[m])
            m = i;
    size_t cap = 64, used = 0;
    char *msg = malloc(cap);
    for (size_t i = 0; msg && i <= k; i++) {
        const char *name = ir->nodes[pos[(m + i) % k]].name;
        size_t need = used + strlen(name) + 8;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *grown = realloc(msg, cap);
            if (!grown) {
                free(msg);
                msg = NULL;
                break;
            }
            msg = grown;
        }
        used += (size_t)sprintf(msg + used, "%s%s", i ? " -> " : "", name);
    }
    int rc = msg ? crun_error_set(err, CRUN_ECONFIG, "%s: the pipeline has a cycle: %s",
                                  ir->nodes[pos[m]].where, msg)
                 : oom(err);
    free(msg);
    free(pos);
    free(path);
    return rc;
}

/* Kahn's algorithm over the pipeline: order[] gets ir node indices. */
static int topo_order(graph *g, size_t *order, size_t *count, crun_error *err)
{
    const ir_t *ir = g->ir;
    size_t *indeg = calloc(ir->n_nodes + 1, sizeof(size_t));
    if (!indeg)
        return oom(err);
    size_t total = 0;
    for (size_t v = 0; v < ir->n_nodes; v++) {
        if (!g->in[v])
            continue;
        total++;
        indeg[v] = g->pred_start[v + 1] - g->pred_start[v];
    }
    size_t head = 0, tail = 0;
    for (size_t v = 0; v < ir->n_nodes; v++)
        if (g->in[v] && indeg[v] == 0)
            order[tail++] = v;
    while (head < tail) {
        size_t u = order[head++];
        for (size_t e = g->succ_start[u]; e < g->succ_start[u + 1]; e++)
            if (--indeg[g->succs[e]] == 0)
                order[tail++] = g->succs[e];
    }
    int rc = 0;
    if (tail < total)
        rc = report_cycle(g, indeg, err);
    free(indeg);
    *count = tail;
    return rc;
}

/* --- filters --- */

typedef struct list {
    char **items;
    size_t n;
} list;

static void list_free(list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

static int split_list(const char *text, list *l)
{
    l->items = NULL;
    l->n = 0;
    size_t cap = 0;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ')) {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ')
            len--;
        if (len) {
            if (l->n == cap) {
                cap = cap ? cap * 2 : 8;
                char **items = realloc(l->items, cap * sizeof(char *));
                if (!items)
                    return -1;
                l->items = items;
            }
            if (!(l->items[l->n] = strndup(p, len)))
                return -1;
            l->n++;
        }
        p = comma ? comma + 1 : p + strlen(p);
    }
    return 0;
}

static int unknown_name(graph *g, const char *opt, const char *name, bool node, crun_error *err)
{
    const ir_t *ir = g->ir;
    const char *best = NULL;
    size_t idx;
    bool elsewhere = node ? strmap_get(&ir->node_index, name, &idx) : false;
    if (node) {
        size_t n = ir->n_nodes < 5000 ? ir->n_nodes : 5000, k = 0;
        const char **names = malloc((n + 1) * sizeof(char *));
        for (size_t i = 0; names && i < n; i++)
            if (g->in[i])
                names[k++] = ir->nodes[i].name;
        best = names ? suggest_closest(name, names, k) : NULL;
        free(names);
    } else {
        best = closest_dataset(ir, name);
    }
    return crun_error_set(err, CRUN_EUSAGE, "%s: %s '%s' %s%s%s%s", opt, node ? "node" : "dataset",
                          name, elsewhere ? "is not in the selected pipeline" : "does not exist",
                          best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
}

/* Mark everything reachable from the marked nodes along succ (down) or pred (up). */
static void spread(const graph *g, unsigned char *mark, bool down)
{
    size_t n = g->ir->n_nodes;
    size_t *stack = malloc((n + 1) * sizeof(size_t));
    if (!stack)
        return;
    size_t top = 0;
    for (size_t i = 0; i < n; i++)
        if (mark[i])
            stack[top++] = i;
    const size_t *start = down ? g->succ_start : g->pred_start;
    const size_t *adj = down ? g->succs : g->preds;
    while (top) {
        size_t u = stack[--top];
        for (size_t e = start[u]; e < start[u + 1]; e++)
            if (!mark[adj[e]]) {
                mark[adj[e]] = 1;
                stack[top++] = adj[e];
            }
    }
    free(stack);
}

typedef enum filter_kind { F_TAGS, F_NODES, F_FROM_NODES, F_TO_NODES, F_FROM_INPUTS, F_TO_OUTPUTS } filter_kind;

static bool node_reads(const ir_node *n, size_t ds)
{
    for (size_t k = 0; k < n->n_in; k++)
        if (n->in[k].ds == ds)
            return true;
    return false;
}

/* Every name of the list that is not a node of the pipeline (or a dataset),
 * in one error, as Kedro names them all: "--nodes: node 'a' does not exist;
 * node 'b' does not exist (did you mean 'c'?)". */
static int check_names(graph *g, bool node, const char *opt, const list *names, crun_error *err)
{
    char *all = NULL;
    size_t len = 0, bad = 0;
    FILE *f = open_memstream(&all, &len);
    if (!f)
        return oom(err);
    for (size_t i = 0; i < names->n; i++) {
        size_t idx;
        bool known = node ? strmap_get(&g->ir->node_index, names->items[i], &idx) && g->in[idx]
                          : strmap_get(&g->ir->ds_index, names->items[i], &idx);
        if (known)
            continue;
        unknown_name(g, bad ? "" : opt, names->items[i], node, err);
        fprintf(f, "%s%s", bad ? "; " : "", err->message + (bad ? 2 : 0));
        bad++;
    }
    fclose(f);
    int rc = bad ? crun_error_set(err, CRUN_EUSAGE, "%s", all ? all : "unknown names") : 0;
    free(all);
    return rc;
}

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Tags no node of the IR has: an error naming them and the tags there are. */
static int check_tags(graph *g, const char *opt, const list *names, crun_error *err)
{
    const ir_t *ir = g->ir;
    strmap tags;
    strmap_init(&tags);
    const char **all = NULL;
    size_t n_all = 0;
    int rc = 0;
    for (size_t v = 0; v < ir->n_nodes && !rc; v++)
        for (size_t t = 0; t < ir->nodes[v].n_tags && !rc; t++) {
            const char *tag = ir->nodes[v].tags[t];
            size_t idx;
            if (strmap_get(&tags, tag, &idx))
                continue;
            const char **grown = realloc(all, (n_all + 1) * sizeof(char *));
            if (!grown || strmap_put(&tags, tag, n_all, NULL) != 0)
                rc = oom(err);
            if (grown)
                (all = grown)[n_all++] = tag;
        }
    if (all)
        qsort(all, n_all, sizeof(char *), compare_text);
    for (size_t i = 0; i < names->n && !rc; i++) {
        size_t idx;
        if (strmap_get(&tags, names->items[i], &idx))
            continue;
        char *known = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&known, &len);
        for (size_t k = 0; f && k < n_all; k++)
            fprintf(f, "%s%s", k ? ", " : "", all[k]);
        if (f)
            fclose(f);
        const char *best = suggest_closest(names->items[i], all, n_all);
        rc = crun_error_set(err, CRUN_EUSAGE, "%s: no node has the tag '%s'%s%s%s (%s%s)", opt,
                            names->items[i], best ? " (did you mean '" : "", best ? best : "",
                            best ? "'?)" : "", n_all ? "the tags are: " : "no node has tags",
                            n_all && known ? known : "");
        free(known);
    }
    free(all);
    strmap_free(&tags);
    return rc;
}

/* Select the nodes one filter keeps into mark[]. */
static int apply_filter(graph *g, filter_kind kind, const char *opt, const list *names,
                        unsigned char *mark, crun_error *err)
{
    const ir_t *ir = g->ir;
    int rc = kind == F_TAGS ? check_tags(g, opt, names, err)
                            : check_names(g, kind == F_NODES || kind == F_FROM_NODES ||
                                          kind == F_TO_NODES, opt, names, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < names->n; i++) {
        const char *name = names->items[i];
        size_t idx;
        if (kind == F_TAGS) {
            for (size_t v = 0; v < ir->n_nodes; v++)
                for (size_t t = 0; g->in[v] && t < ir->nodes[v].n_tags; t++)
                    if (strcmp(ir->nodes[v].tags[t], name) == 0)
                        mark[v] = 1;
        } else if (kind == F_NODES || kind == F_FROM_NODES || kind == F_TO_NODES) {
            if (!strmap_get(&ir->node_index, name, &idx) || !g->in[idx])
                return unknown_name(g, opt, name, true, err);
            mark[idx] = 1;
        } else {
            if (!strmap_get(&ir->ds_index, name, &idx))
                return unknown_name(g, opt, name, false, err);
            bool found = false;
            for (size_t v = 0; v < ir->n_nodes; v++) {
                if (!g->in[v])
                    continue;
                if (kind == F_FROM_INPUTS && node_reads(&ir->nodes[v], idx))
                    mark[v] = 1, found = true;
            }
            if (kind == F_TO_OUTPUTS && g->prod[idx] != PLAN_NONE)
                mark[g->prod[idx]] = 1, found = true;
            if (!found)
                return crun_error_set(err, CRUN_EUSAGE, "%s: dataset '%s' is %s by no node of the "
                                      "pipeline", opt, name,
                                      kind == F_FROM_INPUTS ? "read" : "produced");
        }
    }
    if (kind == F_FROM_NODES || kind == F_FROM_INPUTS)
        spread(g, mark, true);
    else if (kind == F_TO_NODES || kind == F_TO_OUTPUTS)
        spread(g, mark, false);
    return 0;
}

static int apply_filters(graph *g, const crun_filter *f, unsigned char *keep, crun_error *err)
{
    const struct {
        const char *text;
        filter_kind kind;
        const char *opt;
    } filters[] = {
        {f ? f->tags : NULL, F_TAGS, "--tags"},
        {f ? f->nodes : NULL, F_NODES, "--nodes"},
        {f ? f->from_nodes : NULL, F_FROM_NODES, "--from-nodes"},
        {f ? f->to_nodes : NULL, F_TO_NODES, "--to-nodes"},
        {f ? f->from_inputs : NULL, F_FROM_INPUTS, "--from-inputs"},
        {f ? f->to_outputs : NULL, F_TO_OUTPUTS, "--to-outputs"},
    };
    size_t nn = g->ir->n_nodes;
    memcpy(keep, g->in, nn);
    unsigned char *mark = malloc(nn + 1);
    if (!mark)
        return oom(err);
    int rc = 0;
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]) && !rc; i++) {
        if (!filters[i].text)
            continue;
        list names;
        if (split_list(filters[i].text, &names) != 0) {
            list_free(&names);
            rc = oom(err);
            break;
        }
        memset(mark, 0, nn + 1);
        rc = apply_filter(g, filters[i].kind, filters[i].opt, &names, mark, err);
        list_free(&names);
        for (size_t v = 0; v < nn && !rc; v++)
            keep[v] = keep[v] && mark[v];
    }
    free(mark);
    return rc;
}

/* Inputs of kept nodes that only a left-out node makes cannot be loaded,
 * unless the plan shares crossing memory datasets (then they are marked). */
static bool is_given(const char *name, const char *const *given, size_t n_given)
{
    for (size_t i = 0; i < n_given; i++)
        if (strcmp(given[i], name) == 0)
            return true;
    return false;
}

static int check_free_inputs(graph *g, const unsigned char *keep, unsigned char *crosses,
                             const char *const *given, size_t n_given, crun_error *err)
{
    const ir_t *ir = g->ir;
    for (size_t v = 0; v < ir->n_nodes; v++) {
        if (!g->in[v])
            continue;
        for (size_t k = 0; k < ir->nodes[v].n_in; k++) {
            size_t ds = ir->nodes[v].in[k].ds, u = g->prod[ds];
            if (u == PLAN_NONE || keep[u] == keep[v] || ir->ds[ds].kind != IR_DS_MEMORY ||
                is_given(ir->ds[ds].name, given, n_given))
                continue;
            if (crosses) {
                crosses[ds] |= keep[v] ? PLAN_CROSS_IN : PLAN_CROSS_OUT;
                continue;
            }
            if (!keep[v])
                continue;
            return crun_error_set(err, CRUN_EUSAGE, "node '%s' needs '%s', a memory dataset made "
                                  "by node '%s', which the filters leave out; include '%s' or "
                                  "add '%s' to the catalog", ir->nodes[v].name, ir->ds[ds].name,
                                  ir->nodes[u].name, ir->nodes[u].name, ir->ds[ds].name);
        }
    }
    return 0;
}

static int layout(plan *p, graph *g, const size_t *order, size_t count, const unsigned char *keep)
{
    const ir_t *ir = g->ir;
    size_t *plan_of = malloc((ir->n_nodes + 1) * sizeof(size_t));
    p->node = malloc((count + 1) * sizeof(size_t));
    p->producer = malloc((ir->n_ds + 1) * sizeof(size_t));
    p->consumers = calloc(ir->n_ds + 1, sizeof(size_t));
    p->dep_start = calloc(count + 2, sizeof(size_t));
    p->succ_start = calloc(count + 2, sizeof(size_t));
    if (!plan_of || !p->node || !p->producer || !p->consumers || !p->dep_start || !p->succ_start) {
        free(plan_of);
        return -1;
    }
    for (size_t i = 0; i < ir->n_ds; i++)
        p->producer[i] = PLAN_NONE;
    for (size_t i = 0; i < count; i++) {
        if (!keep[order[i]])
            continue;
        plan_of[order[i]] = p->n;
        p->node[p->n++] = order[i];
    }
    size_t edges = 0;
    for (size_t i = 0; i < p->n; i++) {
        const ir_node *n = &ir->nodes[p->node[i]];
        for (size_t k = 0; k < n->n_out; k++)
            p->producer[n->out[k].ds] = i;
        for (size_t k = 0; k < n->n_in; k++) {
            p->consumers[n->in[k].ds]++;
            size_t u = g->prod[n->in[k].ds];
            if (u != PLAN_NONE && keep[u]) {
                p->dep_start[i + 1]++;
                p->succ_start[plan_of[u] + 1]++;
                edges++;
            }
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        p->dep_start[i + 1] += p->dep_start[i];
        p->succ_start[i + 1] += p->succ_start[i];
    }
    p->deps = malloc((edges + 1) * sizeof(size_t));
    p->succs = malloc((edges + 1) * sizeof(size_t));
    size_t *fill = malloc((p->n + 1) * sizeof(size_t));
    if (!p->deps || !p->succs || !fill) {
        free(fill);
        free(plan_of);
        return -1;
    }
    memcpy(fill, p->succ_start, p->n * sizeof(size_t));
    size_t d = 0;
    for (size_t i = 0; i < p->n; i++) {
        const ir_node *n = &ir->nodes[p->node[i]];
        for (size_t k = 0; k < n->n_in; k++) {
            size_t u = g->prod[n->in[k].ds];
            if (u == PLAN_NONE || !keep[u])
                continue;
            p->deps[d++] = plan_of[u];
            p->succs[fill[plan_of[u]]++] = i;
        }
    }
    free(fill);
    free(plan_of);
    return 0;
}

int plan_build(const ir_t *ir, const crun_filter *filter, plan **out, crun_error *err)
{
    return plan_build_flags(ir, filter, 0, NULL, 0, out, err);
}

int plan_build_flags(const ir_t *ir, const crun_filter *filter, unsigned flags,
                     const char *const *given, size_t n_given, plan **out, crun_error *err)
{
    *out = NULL;
    const char *pname = filter && filter->pipeline ? filter->pipeline : "__default__";
    long pi = ir_pipeline_find(ir, pname);
    if (pi < 0) {
        const char *names[256];
        size_t n = 0;
        for (size_t i = 0; i < ir->n_pipelines && n < 256; i++)
            names[n++] = ir->pipelines[i].name;
        const char *best = suggest_closest(pname, names, n);
        return crun_error_set(err, CRUN_EUSAGE, "--pipeline: unknown pipeline '%s'%s%s%s", pname,
                              best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    }
    graph g = {.ir = ir};
    plan *p = calloc(1, sizeof(*p));
    size_t *order = malloc((ir->n_nodes + 1) * sizeof(size_t));
    unsigned char *keep = malloc(ir->n_nodes + 1);
    g.in = calloc(ir->n_nodes + 1, 1);
    g.prod = malloc((ir->n_ds + 1) * sizeof(size_t));
    int rc = 0;
    if (!p || !order || !keep || !g.in || !g.prod)
        rc = oom(err);
    if (!rc) {
        p->ir = ir;
        p->pipeline = strdup(pname);
        const ir_pipeline *pl = &ir->pipelines[pi];
        for (size_t i = 0; i < pl->n; i++)
            g.in[pl->nodes[i]] = 1;
        for (size_t i = 0; i < ir->n_ds; i++)
            g.prod[i] = PLAN_NONE;
        rc = check_producers(&g, err);
    }
    if (!rc)
        rc = build_edges(&g, err);
    size_t count = 0;
    if (!rc)
        rc = topo_order(&g, order, &count, err);
    if (!rc)
        rc = apply_filters(&g, filter, keep, err);
    if (!rc && (flags & PLAN_CROSS_SHARED) && !(p->crosses = calloc(ir->n_ds + 1, 1)))
        rc = oom(err);
    if (!rc)
        rc = check_free_inputs(&g, keep, p->crosses, given, n_given, err);
    if (!rc && layout(p, &g, order, count, keep) != 0)
        rc = oom(err);
    if (!rc && p->n == 0)
        rc = crun_error_set(err, CRUN_EUSAGE, "%s%spipeline '%s' has no nodes%s",
                            ir->pipelines[pi].where ? ir->pipelines[pi].where : "",
                            ir->pipelines[pi].where ? ": " : "", pname,
                            ir->pipelines[pi].n ? " left after the filters" : "");
    graph_free(&g);
    free(order);
    free(keep);
    if (rc) {
        plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* --- resume --- */

char *plan_resume_nodes(const plan *p, const unsigned char *done,
                        bool (*persisted)(void *user, size_t ds), void *user)
{
    const ir_t *ir = p->ir;
    unsigned char *run = calloc(p->n + 1, 1);
    size_t *queue = malloc((p->n + 1) * sizeof(size_t));
    char *out = NULL;
    if (!run || !queue)
        goto end;
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < p->n; i++)
        if (!done[i]) {
            run[i] = 1;
            queue[tail++] = i;
        }
    if (!tail)
        goto end;
    /* walk back through inputs that will not be there on a new run */
    while (head < tail) {
        size_t v = queue[head++];
        const ir_node *n = &ir->nodes[p->node[v]];
        for (size_t k = 0; k < n->n_in; k++) {
            size_t ds = n->in[k].ds, u = p->producer[ds];
            if (u == PLAN_NONE || run[u] || persisted(user, ds))
                continue;
            run[u] = 1;
            queue[tail++] = u;
        }
    }
    /* everything downstream reruns too; the resume points are the nodes
     * with no predecessor among the nodes that rerun */
    for (size_t i = 0; i < p->n; i++)
        for (size_t e = p->succ_start[i]; run[i] && e < p->succ_start[i + 1]; e++)
            run[p->succs[e]] = 1;
    size_t len = 0, cap = 256;
    out = malloc(cap);
    if (!out)
        goto end;
    out[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        if (!run[i])
            continue;
        bool first = true;
        for (size_t e = p->dep_start[i]; e < p->dep_start[i + 1]; e++)
            if (run[p->deps[e]])
                first = false;
        if (!first)
            continue;
        const char *name = ir->nodes[p->node[i]].name;
        size_t need = len + strlen(name) + 2;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *o = realloc(out, cap);
            if (!o) {
                free(out);
                out = NULL;
                goto end;
            }
            out = o;
        }
        len += (size_t)sprintf(out + len, "%s%s", len ? "," : "", name);
    }
end:
    free(run);
    free(queue);
    return out;
}
