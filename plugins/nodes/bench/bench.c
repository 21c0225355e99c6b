/* bench.c - node functions for benchmarks: as close to no work as possible.
 *
 * noop passes its first input on as every output (a new reference: no copy),
 * or makes one small shared value when it has no input, so a benchmark of
 * many noop nodes measures crun's own cost per node.  fill makes a fresh
 * value of params:size bytes, to measure memory release along a chain.  nap
 * sleeps params:nap_ms milliseconds and then does what noop does: a
 * function node that takes time, as real work would.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crun/crun.h"

static int noop(crun_call *call)
{
    crun_value *v = crun_call_input_count(call) ? crun_value_ref(crun_call_input_at(call, 0))
                                                : crun_value_bytes_new("x", 1, NULL);
    size_t n = crun_call_output_count(call);
    if (n == 0) {
        crun_value_unref(v);
        return 0;
    }
    for (size_t i = 1; i < n; i++)
        if (crun_call_output_at(call, i, crun_value_ref(v)) != 0) {
            crun_value_unref(v);
            return CRUN_ENODE;
        }
    return crun_call_output_at(call, 0, v);
}

static int fill(crun_call *call)
{
    json_t *size = crun_call_param(call, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return crun_call_fail(call, "params: size must be a non-negative integer");
    size_t n = (size_t)json_integer_value(size);
    char *data = malloc(n ? n : 1);
    if (!data)
        return crun_call_fail(call, "out of memory for %zu bytes", n);
    memset(data, 1, n); /* touch every page: the memory is really used */
    crun_value *v = crun_value_bytes_take(data, n, NULL);
    for (size_t i = 1; i < crun_call_output_count(call); i++)
        crun_call_output_at(call, i, crun_value_ref(v));
    return crun_call_output_count(call) ? crun_call_output_at(call, 0, v)
                                        : (crun_value_unref(v), 0);
}

static int nap(crun_call *call)
{
    json_t *ms = crun_call_param(call, "nap_ms");
    if (!json_is_integer(ms) || json_integer_value(ms) < 0)
        return crun_call_fail(call, "params: nap_ms must be a non-negative integer");
    long long v = json_integer_value(ms);
    struct timespec ts = {(time_t)(v / 1000), (long)(v % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return noop(call);
}

static const crun_node_def bench_nodes[] = {
    {"noop", noop, "forward the first input to every output (no copy)"},
    {"fill", fill, "a fresh value of params:size bytes on every output"},
    {"nap", nap, "sleep params:nap_ms milliseconds, then forward as noop does"},
};

static const crun_nodes_type bench_type = {
    .size = sizeof(crun_nodes_type),
    .nodes = bench_nodes,
    .n_nodes = sizeof(bench_nodes) / sizeof(bench_nodes[0]),
};

static const crun_plugin bench_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_NODES,
    .name = "bench",
    .version = "1.0.0",
    .description = "no-op and allocation nodes for benchmarks",
    .table = &bench_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &bench_plugin;
}
