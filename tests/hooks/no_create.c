/* no_create.c - a hook plugin with no state: no create, no destroy, one
 * callback that does nothing.  hooks.h makes every callback optional; the
 * host must load such a plugin without calling a NULL create. */
#include "crun/crun.h"

static int on_node(void *instance, const crun_hook_event *ev, crun_error *err)
{
    (void)instance, (void)ev, (void)err;
    return 0;
}

static const crun_hooks_type no_create_type = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .on = {[CRUN_HOOK_AFTER_NODE_RUN] = on_node},
};

static const crun_plugin no_create_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_HOOKS,
    .name = "no_create",
    .version = "0.0.1",
    .description = "test fixture: a hook without create or destroy",
    .table = &no_create_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &no_create_plugin;
}
