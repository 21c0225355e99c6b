/* stopwatch_runner.c - a runner plugin written outside crun, against the
 * installed headers only.  It runs nodes one at a time, like the sequential
 * runner, and logs how long each took.  Build it with:
 *
 *   cc -shared -fPIC -o stopwatch.so stopwatch_runner.c $(pkg-config --cflags --libs crun)
 *
 * and name it in conf/<env>/runner.yml:
 *
 *   runners:
 *     stopwatch: {type: ./stopwatch.so, label: timed}
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <crun/crun.h>

typedef struct stopwatch {
    crun_logger *logger;
    const char *label; /* borrowed from the options: copied below */
    char label_copy[64];
} stopwatch;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* runner.yml's options, as the table below fills them. */
typedef struct stopwatch_settings {
    const char *label;
} stopwatch_settings;

static const crun_option stopwatch_options[] = {
    {.name = "label", .type = CRUN_OPTION_STRING, .def = "stopwatch",
     .doc = "what each log line starts with", .offset = offsetof(stopwatch_settings, label)},
};

static int sw_create(const crun_options *opts, crun_logger *logger, void **instance,
                     crun_error *err)
{
    stopwatch_settings set = {0};
    int rc = crun_options_read(opts, stopwatch_options, CRUN_OPTION_COUNT(stopwatch_options),
                               &set, err);
    if (rc)
        return rc;
    stopwatch *sw = calloc(1, sizeof(*sw));
    if (!sw)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    sw->logger = logger;
    snprintf(sw->label_copy, sizeof(sw->label_copy), "%s", set.label);
    sw->label = sw->label_copy;
    *instance = sw;
    return 0;
}

static int sw_run(void *instance, crun_run *run, crun_error *err)
{
    stopwatch *sw = instance;
    size_t node;
    while (!crun_run_finished(run) && crun_run_next_ready(run, &node)) {
        double start = now();
        int rc = crun_run_execute(run, node, err);
        if (rc) {
            crun_run_node_failed(run, node, err);
            return rc;
        }
        crun_log(sw->logger, CRUN_LOG_INFO, "%s: %s took %.3f ms", sw->label,
                 crun_run_node_name(run, node), (now() - start) * 1e3);
        crun_run_node_done(run, node);
    }
    return crun_run_cancelled(run) ? crun_error_set(err, CRUN_ECANCELED, "cancelled") : 0;
}

static void sw_destroy(void *instance)
{
    free(instance);
}

static const crun_runner_type stopwatch_type = {
    .size = sizeof(crun_runner_type),
    .create = sw_create,
    .run = sw_run,
    .destroy = sw_destroy,
};

static const crun_plugin stopwatch_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "stopwatch",
    .version = "0.1.0",
    .description = "runs nodes one at a time and logs each one's time",
    .table = &stopwatch_type,
    .options = stopwatch_options, /* for `crun plugin info` */
    .n_options = CRUN_OPTION_COUNT(stopwatch_options),
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &stopwatch_plugin;
}
