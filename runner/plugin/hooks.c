/* hooks.c - a session's hook instances, called in Kedro's order.
 *
 * The set is filled while the session opens and read-only afterwards, so
 * many runs fire events at once without a lock; only hook types that are
 * not thread-safe take their own lock around each call.
 */
#include <stdlib.h>
#include <string.h>

#include "plugin/hooks.h"

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

int hook_set_add(hook_set *hs, const char *name, const crun_hooks_type *type, void *instance,
                 crun_error *err)
{
    if (!type || type->size < CRUN_SIZE_THROUGH(crun_hooks_type, on))
        return crun_error_set(err, CRUN_EINVAL, "hook '%s': the table's size is %u, not "
                              "sizeof(crun_hooks_type) of ABI %d.0 (%zu)", name,
                              type ? type->size : 0, CRUN_ABI_MAJOR,
                              CRUN_SIZE_THROUGH(crun_hooks_type, on));
    hook_entry *h = realloc(hs->hooks, (hs->n + 1) * sizeof(*h));
    if (!h)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    hs->hooks = h;
    h = &hs->hooks[hs->n];
    memset(h, 0, sizeof(*h));
    if (!(h->name = strdup(name)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    memcpy(&h->type, type, type->size < sizeof(h->type) ? type->size : sizeof(h->type));
    h->type.size = sizeof(h->type);
    h->instance = instance;
    h->serialize = !(type->flags & CRUN_HOOKS_THREAD_SAFE);
    pthread_mutex_init(&h->lock, NULL);
    for (size_t p = 0; p < CRUN_HOOK_POINT_COUNT; p++)
        hs->listening[p] += h->type.on[p] != NULL;
    hs->n++;
    return 0;
}

void hook_set_destroy(hook_set *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        hook_entry *h = &hs->hooks[i];
        if (h->type.destroy)
            h->type.destroy(h->instance);
        pthread_mutex_destroy(&h->lock);
        free(h->name);
    }
    free(hs->hooks);
    *hs = (hook_set){0};
}

int hooks_fire(const hook_set *hs, crun_hook_point point, crun_hook_event *ev, crun_error *err)
{
    size_t n = hs->n;
    ev->size = sizeof(*ev);
    ev->point = point;
    bool reverse = is_after(point);
    for (size_t i = 0; i < n; i++) {
        hook_entry *h = &hs->hooks[reverse ? n - 1 - i : i];
        crun_hook_fn fn = h->type.on[point];
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
