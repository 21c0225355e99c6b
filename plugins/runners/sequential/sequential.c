/* sequential.c - the sequential runner: one node at a time, in plan order.
 *
 * The whole runner is the loop from runner.h: take a ready node, execute it,
 * report it done.  It accepts no options; it exists as a plugin so that the
 * built-in runners go through the same ABI as anyone's.
 */
#include <stdlib.h>

#include "crun/crun.h"

typedef struct sequential {
    crun_logger *logger;
} sequential;

static int seq_create(const crun_options *opts, crun_logger *logger, void **instance,
                      crun_error *err)
{
    int rc = crun_options_read(opts, NULL, 0, NULL, err); /* refuses every key */
    if (rc)
        return rc;
    sequential *s = calloc(1, sizeof(*s));
    if (!s)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    s->logger = logger;
    *instance = s;
    return 0;
}

static int seq_run(void *instance, crun_run *run, crun_error *err)
{
    (void)instance;
    size_t node;
    while (!crun_run_finished(run)) {
        if (!crun_run_next_ready(run, &node))
            break;
        int rc = crun_run_execute(run, node, err);
        if (rc) {
            crun_run_node_failed(run, node, err);
            return rc;
        }
        crun_run_node_done(run, node);
    }
    if (crun_run_cancelled(run))
        return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
    return 0;
}

static void seq_destroy(void *instance)
{
    free(instance);
}

static const crun_runner_type sequential_type = {
    .size = sizeof(crun_runner_type),
    .create = seq_create,
    .run = seq_run,
    .destroy = seq_destroy,
    .flags = CRUN_RUNNER_SHARED | CRUN_RUNNER_EXECUTES, /* the instance holds only the logger */
};

static const crun_plugin sequential_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "sequential",
    .version = "1.0.0",
    .description = "runs nodes one at a time in topological order",
    .table = &sequential_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &sequential_plugin;
}
