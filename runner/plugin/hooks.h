/* hooks.h - a session's hook instances and calling them in order.
 *
 * Hooks are plugins (crun/hooks.h): the session creates each named hook once
 * and keeps it here; catalogs and runs fire events through hooks_fire.
 * "before" events go to the hooks in the order they were declared, "after"
 * events in reverse, as Kedro's pluggy does.  A hook type without
 * CRUN_HOOKS_THREAD_SAFE gets its calls serialised by a lock of its own.
 */
#ifndef CRUN_PLUGIN_HOOKS_H
#define CRUN_PLUGIN_HOOKS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "crun/hooks.h"

typedef struct hook_entry {
    char *name;
    crun_hooks_type type;    /* a full-size copy of the table given (its size read) */
    void *instance;
    bool serialize;          /* not thread-safe: calls go through lock */
    pthread_mutex_t lock;
} hook_entry;

typedef struct hook_set {
    hook_entry *hooks;
    size_t n;
    size_t listening[CRUN_HOOK_POINT_COUNT]; /* per point: how many hooks have a callback */
} hook_set;

/* Add a hook instance (type copied at this host's size: members an older
 * table lacks are NULL; one shorter than ABI 2.0's is CRUN_EINVAL; instance
 * taken: destroyed by hook_set_destroy).  Not thread-safe: only while the
 * session opens. */
int hook_set_add(hook_set *hs, const char *name, const crun_hooks_type *type, void *instance,
                 crun_error *err);
void hook_set_destroy(hook_set *hs);

/* Call every hook's callback for point with ev, whose run_id, run, params and
 * node fields the caller has set (size and point are set here).  The first
 * failure stops the calls: CRUN_EHOOK with "hook 'name' failed in point: ...".
 * Thread-safe. */
int hooks_fire(const hook_set *hs, crun_hook_point point, crun_hook_event *ev, crun_error *err);

#endif
