/* crun/node.h - node libraries: the functions that function nodes call.
 *
 * A node library is a plugin of kind CRUN_PLUGIN_NODES whose table lists
 * {name, function, doc}.  pipelines.yml refers to a function as
 * `library.function`.  A node function receives a crun_call through which it
 * reads its inputs (borrowed values), sets its outputs (ownership passes to
 * the host), logs, and fails with a message:
 *
 *     static int double_it(crun_call *call) {
 *         json_t *x = crun_value_json(crun_call_input(call, "x"));
 *         if (!json_is_number(x)) return crun_call_fail(call, "x must be a number");
 *         return crun_call_set_output(call, "y", crun_value_json_new(json_real(2 * json_number_value(x))));
 *     }
 *
 * Thread-safety: a node function may run on any thread, at the same time as
 * other nodes (and as itself, in other runs).  It must keep no state outside
 * the call.  Input values are shared with other nodes: never modify them.
 */
#ifndef CRUN_NODE_H
#define CRUN_NODE_H

#include <stddef.h>

#include "error.h"
#include "plugin.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crun_call crun_call;

/* Returns 0 on success; anything else fails the node (use crun_call_fail). */
typedef int (*crun_node_fn)(crun_call *call);

typedef struct crun_node_def {
    const char *name;
    crun_node_fn fn;
    const char *doc;
} crun_node_def;

typedef struct crun_nodes_type {
    uint32_t size;              /* sizeof(crun_nodes_type) */
    const crun_node_def *nodes; /* n_nodes entries */
    size_t n_nodes;
} crun_nodes_type;

/* The node's name and the run's id (borrowed, valid during the call). */
const char *crun_call_node(const crun_call *call);
const char *crun_call_run_id(const crun_call *call);

/* Inputs, by argument name (the map key in pipelines.yml; for a name or a list,
 * the dataset's name) or by position.  Borrowed: valid until the function
 * returns; take crun_value_ref() to keep one.  NULL when there is no such input. */
size_t crun_call_input_count(const crun_call *call);
crun_value *crun_call_input(crun_call *call, const char *arg);
crun_value *crun_call_input_at(crun_call *call, size_t index);
/* The argument name of input i (borrowed). */
const char *crun_call_input_name(const crun_call *call, size_t index);

/* A parameter by dotted path ("model_options.test_size"), borrowed; NULL if absent.
 * Read-only and possibly shared with other runs on other threads: copy
 * (json_deep_copy) what you keep, never json_incref it. */
json_t *crun_call_param(crun_call *call, const char *path);

/* Set an output, by argument name or position.  Takes ownership of value
 * (a NULL value means out of memory).  Returns 0, or fails the node with a
 * message when there is no such output.  Setting one twice replaces it. */
size_t crun_call_output_count(const crun_call *call);
int crun_call_set_output(crun_call *call, const char *arg, crun_value *value);
int crun_call_set_output_at(crun_call *call, size_t index, crun_value *value);
const char *crun_call_output_name(const crun_call *call, size_t index);
/* An output already set (borrowed; NULL when not set, and for command nodes,
 * whose outputs are files).  For hooks: after_node_run reads outputs here. */
crun_value *crun_call_output_value_at(crun_call *call, size_t index);

/* Log a line tagged with the node's name. */
void crun_call_log(crun_call *call, crun_log_level level, const char *fmt, ...) CRUN_PRINTF(3, 4);
/* Record why the node failed; returns CRUN_ENODE for `return crun_call_fail(...)`. */
int crun_call_fail(crun_call *call, const char *fmt, ...) CRUN_PRINTF(2, 3);
/* True once the run is being cancelled: long node functions should check it
 * now and then and return early. */
bool crun_call_cancelled(const crun_call *call);

#ifdef __cplusplus
}
#endif
#endif
