/* bench.c - node functions for benchmarks: as close to no work as possible.
 *
 * noop passes its first input on as every output (a new reference: no copy),
 * or makes one small shared value when it has no input, so a benchmark of
 * many noop nodes measures crun's own cost per node.  fill makes a fresh
 * value of params:size bytes, to measure memory release along a chain.  nap
 * sleeps params:nap_ms milliseconds and then does what noop does: a
 * function node that takes time, as real work would, and that stops when
 * its run is cancelled; stall does the same deaf to cancellation, as a
 * node that cannot be stopped would.  crash crashes, as a buggy node would.
 */
#include <signal.h>
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
        if (crun_call_set_output_at(call, i, crun_value_ref(v)) != 0) {
            crun_value_unref(v);
            return CRUN_ENODE;
        }
    return crun_call_set_output_at(call, 0, v);
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
        crun_call_set_output_at(call, i, crun_value_ref(v));
    return crun_call_output_count(call) ? crun_call_set_output_at(call, 0, v)
                                        : (crun_value_unref(v), 0);
}

/* Sleeps in slices of at most 50 ms and stops early when the run is
 * cancelled: how a long node honours Ctrl-C and a service's timeout. */
static int nap(crun_call *call)
{
    json_t *ms = crun_call_param(call, "nap_ms");
    if (!json_is_integer(ms) || json_integer_value(ms) < 0)
        return crun_call_fail(call, "params: nap_ms must be a non-negative integer");
    for (long long left = json_integer_value(ms); left > 0;) {
        if (crun_call_cancelled(call))
            return crun_call_fail(call, "cancelled with %lld ms of its nap left", left);
        long long slice = left < 50 ? left : 50;
        struct timespec ts = {0, (long)slice * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
        left -= slice;
    }
    return noop(call);
}

/* Sleeps params:nap_ms milliseconds in one go, never looking at
 * cancellation: a node that cannot be stopped (a blocking call, a loop that
 * does not check), for tests of what such a node costs a service. */
static int stall(crun_call *call)
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

/* Crashes the process with SIGSEGV, as a bad pointer in a node library
 * does (raised, not provoked: a real bad store is undefined behaviour that
 * UBSan would report first). */
static int crash(crun_call *call)
{
    raise(SIGSEGV);
    return noop(call);
}

static const crun_node_def bench_nodes[] = {
    {"noop", noop, "forward the first input to every output (no copy)"},
    {"fill", fill, "a fresh value of params:size bytes on every output"},
    {"nap", nap, "sleep params:nap_ms milliseconds (stopping when cancelled), then forward as noop does"},
    {"stall", stall, "sleep params:nap_ms milliseconds, deaf to cancellation, then forward as noop does"},
    {"crash", crash, "crash the process with SIGSEGV (tests of what a crash leaves)"},
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
