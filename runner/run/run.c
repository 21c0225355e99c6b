/* run.c - one execution of a plan: the run API that runners are built from.
 *
 * The scheduling state is a ready queue (a ring over the planned nodes) plus,
 * per node, how many predecessors it still waits for: finishing a node walks
 * its successors once, so each scheduling step is O(1) amortised.  Executing
 * a node (load inputs, hooks, call or command, save, release) touches only
 * that node's data and atomic counters, so runners may execute many nodes on
 * many threads while one thread schedules.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run/run.h"
#include "core/suggest.h"

/* --- hooks --- */

static bool is_after(crun_hook_point p)
{
    return p == CRUN_HOOK_AFTER_CATALOG_CREATED || p == CRUN_HOOK_AFTER_PIPELINE_RUN ||
           p == CRUN_HOOK_AFTER_NODE_RUN || p == CRUN_HOOK_AFTER_DATASET_LOADED ||
           p == CRUN_HOOK_AFTER_DATASET_SAVED;
}

const char *crun_hook_point_name(crun_hook_point point)
{
    static const char *const names[CRUN_HOOK_POINT_COUNT] = {
        "after_catalog_created", "before_pipeline_run", "after_pipeline_run",
        "on_pipeline_error", "before_node_run", "after_node_run", "on_node_error",
        "before_dataset_loaded", "after_dataset_loaded", "before_dataset_saved",
        "after_dataset_saved"};
    return (unsigned)point < CRUN_HOOK_POINT_COUNT ? names[point] : "unknown";
}

int hooks_fire(crun_run *run, crun_hook_point point, crun_hook_event *ev, crun_error *err)
{
    crun_session *s = run->session;
    size_t n = s->n_hooks;
    if (!n)
        return 0;
    ev->size = sizeof(*ev);
    ev->point = point;
    ev->run_id = run->run_id;
    ev->run = run;
    ev->params = run->params;
    bool reverse = is_after(point);
    for (size_t i = 0; i < n; i++) {
        session_hook *h = &s->hooks[reverse ? n - 1 - i : i];
        crun_hook_fn fn = h->type->on[point];
        if (!fn)
            continue;
        crun_error herr = CRUN_ERROR_INIT;
        if (h->serialize)
            pthread_mutex_lock(&h->lock);
        int rc = fn(h->instance, ev, &herr);
        if (h->serialize)
            pthread_mutex_unlock(&h->lock);
        if (rc) {
            crun_error_set(err, CRUN_EHOOK, "hook '%s' failed in %s: %s", h->name,
                           crun_hook_point_name(point), herr.message ? herr.message : "no message");
            crun_error_clear(&herr);
            return CRUN_EHOOK;
        }
        crun_error_clear(&herr);
    }
    return 0;
}

int crun_hook_replace_input(const crun_hook_event *event, const char *arg, crun_value *value)
{
    crun_call *call = event ? event->call : NULL;
    if (!call || !call->in_before_node_run || !call->inputs || !arg || !value) {
        crun_value_unref(value);
        return CRUN_EINVAL;
    }
    for (size_t i = 0; i < call->node->n_in; i++)
        if (strcmp(call->node->in[i].arg, arg) == 0) {
            crun_value_unref(call->inputs[i]);
            call->inputs[i] = value;
            return 0;
        }
    crun_value_unref(value);
    return CRUN_EINVAL;
}

/* --- the call context of node.h --- */

const char *crun_call_node(const crun_call *call) { return call->node->name; }
const char *crun_call_run_id(const crun_call *call) { return call->run->run_id; }
size_t crun_call_input_count(const crun_call *call) { return call->node->n_in; }
size_t crun_call_output_count(const crun_call *call) { return call->node->n_out; }

crun_value *crun_call_input_at(crun_call *call, size_t i)
{
    return call->inputs && i < call->node->n_in ? call->inputs[i] : NULL;
}

const char *crun_call_input_name(const crun_call *call, size_t i)
{
    return i < call->node->n_in ? call->node->in[i].arg : NULL;
}

crun_value *crun_call_output_value_at(crun_call *call, size_t i)
{
    return call->outputs && i < call->node->n_out ? call->outputs[i] : NULL;
}

const char *crun_call_output_name(const crun_call *call, size_t i)
{
    return i < call->node->n_out ? call->node->out[i].arg : NULL;
}

crun_value *crun_call_input(crun_call *call, const char *arg)
{
    for (size_t i = 0; i < call->node->n_in; i++)
        if (strcmp(call->node->in[i].arg, arg) == 0)
            return crun_call_input_at(call, i);
    return NULL;
}

json_t *crun_call_param(crun_call *call, const char *path)
{
    json_t *cur = call->run->params;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        cur = json_is_object(cur) ? json_object_getn(cur, p, len) : NULL;
        p = dot ? dot + 1 : p + len;
    }
    return cur;
}

int crun_call_output_at(crun_call *call, size_t i, crun_value *value)
{
    if (!value)
        return crun_call_fail(call, "out of memory making output %zu", i);
    if (!call->outputs || i >= call->node->n_out) {
        crun_value_unref(value);
        return crun_call_fail(call, "the node has no output number %zu", i);
    }
    crun_value_unref(call->outputs[i]);
    call->outputs[i] = value;
    return 0;
}

int crun_call_output(crun_call *call, const char *arg, crun_value *value)
{
    for (size_t i = 0; i < call->node->n_out; i++)
        if (strcmp(call->node->out[i].arg, arg) == 0)
            return crun_call_output_at(call, i, value);
    crun_value_unref(value);
    return crun_call_fail(call, "the node has no output '%s'", arg);
}

void crun_call_log(crun_call *call, crun_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logger_vwrite(&call->run->session->logger, level, call->node->name, fmt, ap);
    va_end(ap);
}

int crun_call_fail(crun_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    crun_error_setv(call->err, CRUN_ENODE, fmt, ap);
    va_end(ap);
    return CRUN_ENODE;
}

bool crun_call_cancelled(const crun_call *call)
{
    return crun_run_cancelled(call->run);
}

/* --- what the run is --- */

const char *crun_run_id(const crun_run *run) { return run->run_id; }
crun_logger *crun_run_logger(crun_run *run) { return &run->session->logger; }
json_t *crun_run_params(const crun_run *run) { return run->params; }
size_t crun_run_node_count(const crun_run *run) { return run->plan->n; }
size_t crun_run_done_count(const crun_run *run) { return run->n_done; }
size_t crun_run_running_count(const crun_run *run)
{
    return run->n_started - run->n_done - run->n_failed;
}
size_t crun_run_failed_count(const crun_run *run) { return run->n_failed; }

const char *crun_run_node_name(const crun_run *run, size_t node)
{
    return node < run->plan->n ? run->ir->nodes[run->plan->node[node]].name : NULL;
}

bool crun_run_node_is_command(const crun_run *run, size_t node)
{
    return node < run->plan->n && !run->ir->nodes[run->plan->node[node]].func;
}

size_t crun_run_node_tag_count(const crun_run *run, size_t node)
{
    return node < run->plan->n ? run->ir->nodes[run->plan->node[node]].n_tags : 0;
}

const char *crun_run_node_tag(const crun_run *run, size_t node, size_t i)
{
    if (node >= run->plan->n)
        return NULL;
    const ir_node *n = &run->ir->nodes[run->plan->node[node]];
    return i < n->n_tags ? n->tags[i] : NULL;
}

size_t crun_run_node_dep_count(const crun_run *run, size_t node)
{
    return run->plan->dep_start[node + 1] - run->plan->dep_start[node];
}

size_t crun_run_node_dep(const crun_run *run, size_t node, size_t i)
{
    return run->plan->deps[run->plan->dep_start[node] + i];
}

/* --- scheduling --- */

static void push_ready(crun_run *run, size_t node)
{
    run->state[node] = NODE_READY;
    run->ready[run->ready_tail++ % run->plan->n] = node;
}

static bool stopped(const crun_run *run)
{
    return crun_run_cancelled(run) || (run->failed && !run->keep_going);
}

/* The running list: O(1) in and out, so the progress line can name a few. */
static void running_add(crun_run *run, size_t node)
{
    size_t none = run->plan->n;
    run->run_prev[node] = none;
    run->run_next[node] = run->run_head;
    if (run->run_head != none)
        run->run_prev[run->run_head] = node;
    run->run_head = node;
}

static void running_remove(crun_run *run, size_t node)
{
    size_t none = run->plan->n, prev = run->run_prev[node], next = run->run_next[node];
    if (prev != none)
        run->run_next[prev] = next;
    else if (run->run_head == node)
        run->run_head = next;
    if (next != none)
        run->run_prev[next] = prev;
}

bool crun_run_next_ready(crun_run *run, size_t *node)
{
    if (stopped(run) || run->ready_head == run->ready_tail)
        return false;
    *node = run->ready[run->ready_head++ % run->plan->n];
    run->state[*node] = NODE_RUNNING;
    run->n_started++;
    running_add(run, *node);
    return true;
}

/* "[12/40] train_model" and, on a terminal, what still runs:
 * "[12/40] train_model | running: score, plot +3" (ninja's status line). */
static void show_progress(crun_run *run, const char *name)
{
    crun_logger *log = &run->session->logger;
    const plan *p = run->plan;
    if (!log->tty) {
        logger_write(log, CRUN_LOG_INFO, NULL, "[%zu/%zu] %s", run->n_done, p->n, name);
        return;
    }
    size_t running = crun_run_running_count(run);
    if (!running) {
        logger_progress(log, "[%zu/%zu] %s", run->n_done, p->n, name);
        return;
    }
    const char *a = crun_run_node_name(run, run->run_head);
    size_t second = run->run_next[run->run_head];
    const char *b = running > 1 ? crun_run_node_name(run, second) : NULL;
    char more[32] = "";
    if (running > 2)
        snprintf(more, sizeof(more), " +%zu", running - 2);
    logger_progress(log, "[%zu/%zu] %s | running: %s%s%s%s", run->n_done, p->n, name, a,
                    b ? ", " : "", b ? b : "", more);
}

void crun_run_node_done(crun_run *run, size_t node)
{
    const plan *p = run->plan;
    if (run->state[node] == NODE_RUNNING)
        running_remove(run, node);
    run->state[node] = NODE_DONE;
    run->n_done++;
    for (size_t e = p->succ_start[node]; e < p->succ_start[node + 1]; e++) {
        size_t s = p->succs[e];
        if (--run->waiting[s] == 0 && run->state[s] == NODE_PENDING)
            push_ready(run, s);
    }
    if (run->progress)
        show_progress(run, crun_run_node_name(run, node));
}

/* keep_going: every node downstream of a failure is skipped. */
static void skip_descendants(crun_run *run, size_t node)
{
    const plan *p = run->plan;
    for (size_t e = p->succ_start[node]; e < p->succ_start[node + 1]; e++) {
        size_t s = p->succs[e];
        if (run->state[s] != NODE_PENDING)
            continue;
        run->state[s] = NODE_SKIPPED;
        run->n_skipped++;
        skip_descendants(run, s);
    }
}

void crun_run_node_failed(crun_run *run, size_t node, const crun_error *err)
{
    if (run->state[node] == NODE_RUNNING)
        running_remove(run, node);
    run->state[node] = NODE_FAILED;
    run->n_failed++;
    if (!run->failed || (run->first_error.code == CRUN_ECANCELED && err->code != CRUN_ECANCELED)) {
        crun_error_set(&run->first_error, err->code ? err->code : CRUN_ENODE, "%s",
                       err->message ? err->message : "failed");
    }
    run->failed = true;
    if (run->keep_going)
        skip_descendants(run, node);
}

void crun_run_set_keep_going(crun_run *run, bool keep_going)
{
    run->keep_going = keep_going;
}

bool crun_run_finished(const crun_run *run)
{
    size_t accounted = run->n_done + run->n_failed + run->n_skipped;
    size_t running = run->n_started - run->n_done - run->n_failed;
    if (accounted == run->plan->n)
        return true;
    return running == 0 && (stopped(run) || run->ready_head == run->ready_tail);
}

/* --- stopping --- */

void crun_run_cancel(crun_run *run)
{
    atomic_store(&run->cancelled, true);
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < run->n_children; i++)
        kill(-run->children[i], SIGTERM);
    if (run->on_cancel)
        run->on_cancel(run->on_cancel_user);
    pthread_mutex_unlock(&run->lock);
}

void crun_run_on_cancel(crun_run *run, void (*fn)(void *user), void *user)
{
    pthread_mutex_lock(&run->lock);
    run->on_cancel = fn;
    run->on_cancel_user = user;
    if (fn && crun_run_cancelled(run))
        fn(user);
    pthread_mutex_unlock(&run->lock);
}

crun_session *crun_run_session(crun_run *run)
{
    return run->session;
}

void crun_run_delegated(crun_run *run)
{
    run->delegated = true;
}

bool crun_run_cancelled(const crun_run *run)
{
    return atomic_load(&((crun_run *)run)->cancelled);
}

void crun_run_track_child(crun_run *run, pid_t pid)
{
    pthread_mutex_lock(&run->lock);
    if (run->n_children == run->cap_children) {
        size_t cap = run->cap_children ? run->cap_children * 2 : 8;
        pid_t *c = realloc(run->children, cap * sizeof(pid_t));
        if (c) {
            run->children = c;
            run->cap_children = cap;
        }
    }
    if (run->n_children < run->cap_children)
        run->children[run->n_children++] = pid;
    bool late = crun_run_cancelled(run);
    pthread_mutex_unlock(&run->lock);
    if (late) /* cancel came between spawn and tracking */
        kill(-pid, SIGTERM);
}

void crun_run_untrack_child(crun_run *run, pid_t pid)
{
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < run->n_children; i++)
        if (run->children[i] == pid) {
            run->children[i] = run->children[--run->n_children];
            break;
        }
    pthread_mutex_unlock(&run->lock);
}

/* --- executing a function node --- */

static int node_hooks_fire(crun_run *run, crun_hook_point point, crun_call *call,
                           const crun_error *nerr, crun_error *err);

/* The common case, no hooks, costs one test per call site. */
static inline int node_hooks(crun_run *run, crun_hook_point point, crun_call *call,
                             const crun_error *nerr, crun_error *err)
{
    return run->session->n_hooks ? node_hooks_fire(run, point, call, nerr, err) : 0;
}

static int node_hooks_fire(crun_run *run, crun_hook_point point, crun_call *call,
                           const crun_error *nerr, crun_error *err)
{
    crun_hook_event ev = {.node = call->node->name, .call = call, .error = nerr,
                          .status = nerr ? nerr->code : 0};
    call->in_before_node_run = point == CRUN_HOOK_BEFORE_NODE_RUN;
    int rc = hooks_fire(run, point, &ev, err);
    call->in_before_node_run = false;
    return rc;
}

static int call_function(crun_run *run, size_t pn, crun_call *call, crun_error *err)
{
    const ir_node *node = call->node;
    int rc = 0;
    for (size_t i = 0; i < node->n_in && !rc; i++)
        rc = catalog_load(run, node->in[i].ds, call, &call->inputs[i], err);
    if (!rc)
        rc = node_hooks(run, CRUN_HOOK_BEFORE_NODE_RUN, call, NULL, err);
    if (rc)
        return rc;
    rc = run->fns[pn](call);
    if (rc && !err->message)
        crun_error_set(err, CRUN_ENODE, "%s.%s returned %d without a message", "function",
                       node->func, rc);
    if (rc) {
        err->code = err->code ? err->code : CRUN_ENODE;
        return err->code;
    }
    for (size_t i = 0; i < node->n_out; i++)
        if (!call->outputs[i])
            return crun_error_set(err, CRUN_ENODE, "the function returned without setting output "
                                  "'%s'", node->out[i].arg);
    rc = node_hooks(run, CRUN_HOOK_AFTER_NODE_RUN, call, NULL, err);
    for (size_t i = 0; i < node->n_out && !rc; i++)
        rc = catalog_save(run, node->out[i].ds, call, call->outputs[i], err);
    return rc;
}

int crun_run_execute(crun_run *run, size_t pn, crun_error *err)
{
    const ir_node *node = &run->ir->nodes[run->plan->node[pn]];
    if (crun_run_cancelled(run))
        return crun_error_set(err, CRUN_ECANCELED, "node '%s': cancelled", node->name);
    crun_value *small[16];
    size_t slots = node->n_in + node->n_out;
    crun_value **vals = slots <= 16 ? small : calloc(slots, sizeof(crun_value *));
    if (!vals)
        return crun_error_set(err, CRUN_ENOMEM, "node '%s': out of memory", node->name);
    if (vals == small) /* only the slots used (this is per node of every run) */
        memset(small, 0, slots * sizeof(crun_value *));
    crun_call call = {.run = run, .pnode = pn, .node = node, .inputs = vals,
                      .outputs = vals + node->n_in, .err = err};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = node->func ? call_function(run, pn, &call, err)
                        : command_execute(run, pn, &call, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    run->seconds[pn] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc && rc != CRUN_EHOOK && rc != CRUN_ECANCELED) {
        crun_error nerr = CRUN_ERROR_INIT;
        crun_error_set(&nerr, rc, "%s", err->message ? err->message : crun_strerror(rc));
        if (node_hooks(run, CRUN_HOOK_ON_NODE_ERROR, &call, &nerr, err) == 0)
            crun_error_move(err, &nerr);
        crun_error_clear(&nerr);
    }
    for (size_t i = 0; i < slots; i++)
        crun_value_unref(vals[i]);
    if (vals != small)
        free(vals);
    for (size_t i = 0; i < node->n_in; i++)
        catalog_consumed(run, node->in[i].ds);
    if (rc) {
        crun_error_prefix(err, "node '%s': ", node->name);
        /* whatever went wrong inside (a missing or corrupt file, a refused
         * output), the node failed: the run's outcome is "pipeline failed" */
        if (rc != CRUN_ECANCELED && rc != CRUN_EHOOK && rc != CRUN_ENOMEM)
            err->code = rc = CRUN_ENODE;
    }
    return rc;
}

/* --- creating and ending a run --- */

/* The parts of one run (cluster jobs sharing a --run-id) save versioned
 * datasets under one version: the first part to start writes it to
 * .crun/runs/<id>/save-version (link() makes the first writer win), the
 * others read it. */
static void shared_version(crun_run *run)
{
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/.crun/runs/%s/save-version", run->ir->dir, run->run_id) < 0)
        return;
    crun_error err = CRUN_ERROR_INIT;
    if (asprintf(&tmp, "%s.%d", path, (int)getpid()) >= 0 && crun_mkdir_parents(path, &err) == 0) {
        FILE *f = fopen(tmp, "wx");
        if (f) {
            fprintf(f, "%s\n", run->version);
            fclose(f);
            link(tmp, path); /* fails when another part was first: fine */
            unlink(tmp);
        }
        FILE *r = fopen(path, "r");
        char line[64];
        if (r && fgets(line, sizeof(line), r)) {
            line[strcspn(line, "\n")] = '\0';
            if (line[0])
                snprintf(run->version, sizeof(run->version), "%s", line);
        }
        if (r)
            fclose(r);
    }
    crun_error_clear(&err);
    free(tmp);
    free(path);
}

static crun_node_fn find_function(const crun_nodes_type *t, const char *name)
{
    for (size_t i = 0; i < t->n_nodes; i++)
        if (t->nodes[i].name && strcmp(t->nodes[i].name, name) == 0)
            return t->nodes[i].fn;
    return NULL;
}

/* The function of IR node n (plugin lookup and symbol search); the session
 * remembers it, so each node's library is looked up once per session. */
static int resolve_function(crun_run *run, size_t n, crun_node_fn *out, crun_error *err)
{
    const ir_node *node = &run->ir->nodes[n];
    const char *dot = strchr(node->func, '.');
    if (!dot) /* both readers of the IR refuse it: never trust that here */
        return crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': 'func' must be "
                              "library.function", node->where, node->name);
    char lib[256];
    snprintf(lib, sizeof(lib), "%.*s", (int)(dot - node->func), node->func);
    const char *target = json_string_value(json_object_get(run->ir->libraries, lib));
    if (!target)
        return crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': unknown node library '%s'",
                              node->where, node->name, lib);
    const crun_plugin *plug;
    int rc = plugin_load(&run->session->plugins, CRUN_PLUGIN_NODES, target, &plug, err);
    if (rc)
        return crun_error_prefix(err, "%s: node '%s': library '%s': ", node->where, node->name,
                                 lib);
    const crun_nodes_type *t = plug->table;
    if ((*out = find_function(t, dot + 1)))
        return 0;
    const char **names = calloc(t->n_nodes + 1, sizeof(char *));
    for (size_t i = 0; names && i < t->n_nodes; i++)
        names[i] = t->nodes[i].name;
    const char *best = names ? suggest_closest(dot + 1, names, t->n_nodes) : NULL;
    rc = crun_error_set(err, CRUN_ECONFIG, "%s: node '%s': library '%s' has no function '%s'%s%s%s",
                        node->where, node->name, lib, dot + 1, best ? " (did you mean '" : "",
                        best ? best : "", best ? "'?)" : "");
    free(names);
    return rc;
}

/* Every planned function node's function, from the session's memory when an
 * earlier run resolved it (two runs resolving one at once find the same). */
static int resolve_functions(crun_run *run, crun_error *err)
{
    _Atomic(crun_node_fn) *cache = run->session->fn_cache;
    const plan *p = run->plan;
    const char *last_name = NULL; /* function names are interned: one pointer per name */
    crun_node_fn last_fn = NULL;
    for (size_t i = 0; i < p->n; i++) {
        size_t n = p->node[i];
        const char *name = run->ir->nodes[n].func;
        if (!name)
            continue;
        crun_node_fn fn = atomic_load_explicit(&cache[n], memory_order_acquire);
        if (!fn) {
            int rc = name == last_name ? (fn = last_fn, 0) : resolve_function(run, n, &fn, err);
            if (rc)
                return rc;
            atomic_store_explicit(&cache[n], fn, memory_order_release);
        }
        run->fns[i] = last_fn = fn;
        last_name = name;
    }
    return 0;
}

_Static_assert(sizeof(crun_node_fn) == sizeof(size_t) && sizeof(double) == sizeof(size_t) &&
                   sizeof(cmd_state *) == sizeof(size_t) && _Alignof(crun_run) >= sizeof(size_t),
               "run_create lays the per-node arrays out as words after the run");
_Static_assert(_Alignof(cat_entry) <= _Alignof(crun_run) && sizeof(cat_entry) % sizeof(size_t) == 0,
               "run_create lays the catalog's entries out right after the run");

int run_create(crun_session *s, plan *p, bool shared_plan, json_t *params,
               const crun_run_options *o, crun_run **out, crun_error *err)
{
    *out = NULL;
    /* the run, its catalog's entries and its per-node arrays are one block
     * (one allocation per run matters to the service, which makes a run
     * per request); malloc and zeroing rather than calloc, which glibc
     * serves without its per-thread cache (a memset of the whole block
     * would be turned back into calloc by the compiler) */
    size_t n = p->n, words = (n + 1) * sizeof(size_t);
    size_t entries = s->ir->n_ds * sizeof(cat_entry);
    size_t size = sizeof(crun_run) + entries + 7 * words + (n + 1);
    crun_run *run = malloc(size);
    if (!run) {
        if (!shared_plan)
            plan_free(p);
        json_decref(params);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    *run = (crun_run){.session = s};
    memset(run + 1, 0, size - sizeof(crun_run));
    char *at = (char *)(run + 1);
    run->catalog.entries = (cat_entry *)(void *)at;
    at += entries;
    run->fns = (crun_node_fn *)(void *)at;
    run->waiting = (size_t *)(void *)(at += words);
    run->ready = (size_t *)(void *)(at += words);
    run->run_prev = (size_t *)(void *)(at += words);
    run->run_next = (size_t *)(void *)(at += words);
    run->cmds = (cmd_state **)(void *)(at += words);
    run->seconds = (double *)(void *)(at += words);
    run->state = (unsigned char *)(at += words);
    run->run_head = n;
    run->session = s;
    run->ir = s->ir;
    run->plan = p;
    run->plan_shared = shared_plan;
    run->params = params ? params : s->ir->params;
    run->params_owned = params != NULL;
    run->progress = o->progress;
    run->grace_period = 5.0;
    atomic_init(&run->cancelled, false);
    pthread_mutex_init(&run->lock, NULL);
    run_make_ids(run, o->run_id);
    if (o->run_id)
        shared_version(run);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        run->waiting[i] = p->dep_start[i + 1] - p->dep_start[i];
    if (!rc)
        rc = resolve_functions(run, err);
    for (size_t i = 0; i < n && !rc; i++)
        if (run->waiting[i] == 0)
            push_ready(run, i);
    if (!rc)
        rc = catalog_open(run, o, err);
    if (rc) {
        run_destroy(run);
        return rc;
    }
    *out = run;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* FTW_PHYS: a symbolic link is removed itself, never what it points to */
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0; /* what cannot go stays; the rest goes all the same */
}

/* Commands write where they are told as they please, folders included
 * (mkdir -p {outputs.x}).  Depth first, not following symbolic links, nor
 * crossing into another file system mounted inside. */
int run_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void run_destroy(crun_run *run)
{
    if (!run)
        return;
    catalog_close(run);
    for (size_t i = 0; run->cmds && i < run->plan->n; i++)
        command_state_free(run->cmds[i]);
    if (run->scratch_dir)
        run_remove_tree(run->scratch_dir);
    free(run->scratch_dir);
    free(run->children);
    crun_error_clear(&run->first_error);
    if (run->params_owned)
        json_decref(run->params);
    if (!run->plan_shared)
        plan_free(run->plan);
    pthread_mutex_destroy(&run->lock);
    free(run);
}

int run_scratch_dir(crun_run *run, crun_error *err)
{
    pthread_mutex_lock(&run->lock);
    int rc = 0;
    if (!run->scratch_dir) {
        const char *tmp = conf_getenv(run->session->environ, "TMPDIR");
        char *path = NULL;
        if (asprintf(&path, "%s/crun-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", run->run_id) < 0)
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        else if (!mkdtemp(path)) {
            rc = crun_error_set(err, CRUN_EIO, "cannot create the run's scratch folder %s: %s",
                                path, strerror(errno));
            free(path);
        } else
            run->scratch_dir = path;
    }
    pthread_mutex_unlock(&run->lock);
    return rc;
}
