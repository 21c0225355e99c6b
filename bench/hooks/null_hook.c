/* null_hook.c - the cheapest hook there is, for bench/hooks/bench_hooks.py:
 * thread-safe, no state, no callbacks.  Registered, it makes the host take
 * its "there are hooks" path for every event (building the event and walking
 * the hook list) without any hook code running, so comparing a run with it
 * to a run with no hooks measures the dispatch alone.
 *
 * create() is here only because the host calls it unconditionally (see the
 * report of the hooks issue); it makes no instance. */
#include "crun/crun.h"

static int null_create(const crun_options *opts, crun_logger *logger, void **instance,
                       crun_error *err)
{
    (void)logger;
    *instance = NULL;
    static const char *const known[] = {NULL};
    return crun_options_check_known(opts, known, err);
}

static const crun_hooks_type null_type = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .create = null_create,
};

static const crun_plugin null_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_HOOKS,
    .name = "null_hook",
    .version = "1.0.0",
    .description = "benchmark: a thread-safe hook with no callbacks",
    .table = &null_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &null_plugin;
}
