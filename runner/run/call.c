/* call.c - the call context of node.h: what a node function sees of its run.
 *
 * A crun_call lives on the executing thread's stack for one node: its
 * inputs (loaded by execute.c), its outputs (set here, saved by execute.c),
 * its parameters, its log and its failure.  Hooks reach it through events;
 * only a before_node_run hook may replace an input.
 */
#include <stdarg.h>
#include <string.h>

#include "run/run.h"

/* --- hooks: what a hook may change of a node call --- */

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
    return crun_json_path(call->run->params, path);
}

int crun_call_set_output_at(crun_call *call, size_t i, crun_value *value)
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

int crun_call_set_output(crun_call *call, const char *arg, crun_value *value)
{
    for (size_t i = 0; i < call->node->n_out; i++)
        if (strcmp(call->node->out[i].arg, arg) == 0)
            return crun_call_set_output_at(call, i, value);
    crun_value_unref(value);
    return crun_call_fail(call, "the node has no output '%s'", arg);
}

void crun_call_log(crun_call *call, crun_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logger_vwrite(call->run->logger, level, call->node->name, fmt, ap);
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
