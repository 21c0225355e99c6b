/* node_counter.c - a hook plugin written outside crun, against the installed
 * headers only: it counts the nodes that ran and failed, and logs the counts
 * when the run ends.  Build it with:
 *
 *   cc -std=c11 -shared -fPIC -o node_counter.so node_counter.c \
 *      $(pkg-config --cflags --libs crun)
 *
 * and list it in crun.ini (by path, or by name when it is on the plugin path):
 *
 *   [hooks]
 *   ./node_counter.so = label=counted
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <crun/crun.h>

typedef struct counter {
    crun_logger *logger;
    char label[64];
    atomic_size_t ran;      /* atomics: the hook says it is thread-safe */
    atomic_size_t failed;
} counter;

/* The hook's options, as the table below fills them. */
typedef struct counter_settings {
    const char *label;
} counter_settings;

static const crun_option counter_options[] = {
    {.name = "label", .type = CRUN_OPTION_STRING, .def = "node_counter",
     .doc = "what the log line starts with", .offset = offsetof(counter_settings, label)},
};

static int count_create(const crun_options *opts, crun_logger *logger, void **instance,
                        crun_error *err)
{
    counter_settings set = {0};
    int rc = crun_options_read(opts, counter_options, CRUN_OPTION_COUNT(counter_options), &set,
                               err);
    if (rc)
        return rc; /* err names the file and line of the bad option */
    counter *c = calloc(1, sizeof(*c));
    if (!c)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    c->logger = logger;
    snprintf(c->label, sizeof(c->label), "%s", set.label);
    *instance = c;
    return 0;
}

static void count_destroy(void *instance)
{
    free(instance);
}

static int on_before_pipeline_run(void *instance, const crun_hook_event *ev, crun_error *err)
{
    (void)ev, (void)err;
    counter *c = instance;
    atomic_store(&c->ran, 0);
    atomic_store(&c->failed, 0);
    return 0;
}

static int on_after_node_run(void *instance, const crun_hook_event *ev, crun_error *err)
{
    (void)ev, (void)err;
    counter *c = instance;
    atomic_fetch_add(&c->ran, 1);
    return 0;
}

static int on_node_error(void *instance, const crun_hook_event *ev, crun_error *err)
{
    (void)ev, (void)err;
    counter *c = instance;
    atomic_fetch_add(&c->failed, 1);
    return 0;
}

/* after_pipeline_run and on_pipeline_error */
static int on_pipeline_end(void *instance, const crun_hook_event *ev, crun_error *err)
{
    (void)err;
    counter *c = instance;
    crun_log(c->logger, CRUN_LOG_INFO, "%s: %zu nodes ran, %zu failed in run %s", c->label,
             atomic_load(&c->ran), atomic_load(&c->failed), ev->run_id);
    return 0;
}

static const crun_hooks_type counter_type = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .create = count_create,
    .destroy = count_destroy,
    .on = {
        [CRUN_HOOK_BEFORE_PIPELINE_RUN] = on_before_pipeline_run,
        [CRUN_HOOK_AFTER_NODE_RUN] = on_after_node_run,
        [CRUN_HOOK_ON_NODE_ERROR] = on_node_error,
        [CRUN_HOOK_AFTER_PIPELINE_RUN] = on_pipeline_end,
        [CRUN_HOOK_ON_PIPELINE_ERROR] = on_pipeline_end,
    },
};

static const crun_plugin counter_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_HOOKS,
    .name = "node_counter",
    .version = "0.1.0",
    .description = "counts the nodes that ran and failed, logs it after the run",
    .table = &counter_type,
    .options = counter_options,
    .n_options = CRUN_OPTION_COUNT(counter_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &counter_plugin;
}
