/* crun/hooks.h - hooks: code called around a run, Kedro's hook set.
 *
 * A hooks plugin (kind CRUN_PLUGIN_HOOKS) fills any subset of the callbacks
 * in crun_hooks_type; the host skips the NULL ones at no cost.  Each callback
 * receives the instance its create() returned and one crun_hook_event that
 * says what happened.  Returning non-zero (with a message in err) fails the
 * run; the host names the hook.
 *
 * Order: before_* and on_* callbacks run in registration order (crun.ini
 * [hooks], then conf/<env>/hooks.yml, then crun_session_add_hook()); after_*
 * callbacks run in reverse order, so that a hook wraps the ones registered
 * after it.
 *
 * Threads: runners call hooks from several threads at once (a parallel
 * runner's workers).  A hook that is not safe for that leaves
 * CRUN_HOOKS_THREAD_SAFE out of its flags and the host serialises its calls
 * with a lock of the instance's own.  Events of one node arrive in Kedro's
 * order: before/after_dataset_loaded per input, before_node_run, then
 * after_node_run (or on_node_error), then before/after_dataset_saved per output.
 */
#ifndef CRUN_HOOKS_H
#define CRUN_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "node.h"
#include "plugin.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crun_run crun_run;

typedef enum crun_hook_point {
    CRUN_HOOK_AFTER_CATALOG_CREATED = 0,
    CRUN_HOOK_BEFORE_PIPELINE_RUN,
    CRUN_HOOK_AFTER_PIPELINE_RUN,
    CRUN_HOOK_ON_PIPELINE_ERROR,
    CRUN_HOOK_BEFORE_NODE_RUN,
    CRUN_HOOK_AFTER_NODE_RUN,
    CRUN_HOOK_ON_NODE_ERROR,
    CRUN_HOOK_BEFORE_DATASET_LOADED,
    CRUN_HOOK_AFTER_DATASET_LOADED,
    CRUN_HOOK_BEFORE_DATASET_SAVED,
    CRUN_HOOK_AFTER_DATASET_SAVED,
    CRUN_HOOK_POINT_COUNT
} crun_hook_point;

/* "before_node_run" etc. */
const char *crun_hook_point_name(crun_hook_point point);

/* Everything is borrowed for the duration of the callback. */
typedef struct crun_hook_event {
    uint32_t size;          /* sizeof(crun_hook_event) */
    crun_hook_point point;
    const char *run_id;
    crun_run *run;          /* the run: its nodes, parameters (see runner.h) */
    json_t *params;         /* the run's parameters */
    const char *node;       /* node events and dataset events inside a node; else NULL */
    crun_call *call;        /* node events: read inputs (and outputs, after a run) */
    const char *dataset;    /* dataset events */
    crun_value *value;      /* after_dataset_loaded, before/after_dataset_saved */
    const crun_error *error;/* on_node_error, on_pipeline_error */
    int status;             /* after_pipeline_run: 0; errors: the CRUN_E* code */
    uint32_t attempt;       /* before/after_node_run, on_node_error: which try of the
                             * node this is, 1 for the first (a node's retry: in
                             * pipelines.yml runs it again after a failure, and
                             * on_node_error fires for every failed try); else 0 */
} crun_hook_event;

/* Whether event ev has member m: a host older than the plugin passes a
 * shorter event. */
#define CRUN_HOOK_EVENT_HAS(ev, m) \
    ((ev)->size >= offsetof(crun_hook_event, m) + sizeof((ev)->m))

typedef int (*crun_hook_fn)(void *instance, const crun_hook_event *event, crun_error *err);

enum { CRUN_HOOKS_THREAD_SAFE = 1u << 0 };

typedef struct crun_hooks_type {
    uint32_t size;  /* sizeof(crun_hooks_type) */
    uint32_t flags; /* CRUN_HOOKS_* */
    int (*create)(const crun_options *opts, crun_logger *logger, void **instance, crun_error *err);
    void (*destroy)(void *instance);
    crun_hook_fn on[CRUN_HOOK_POINT_COUNT]; /* indexed by crun_hook_point; NULL = not interested */
} crun_hooks_type;

/* In before_node_run only: replace input arg of the node about to run with
 * value (takes ownership).  Returns 0 or CRUN_EINVAL when there is no such input. */
int crun_hook_replace_input(const crun_hook_event *event, const char *arg, crun_value *value);

#ifdef __cplusplus
}
#endif
#endif
