/* retry.c - the retry runner: run the wrapped runner again from where it failed.
 *
 *     sturdy: {type: retry, runner: par, attempts: 3}
 *
 * The first attempt runs the whole plan with the wrapped runner; when it
 * fails, the next runs only what must run again (the failed nodes and what
 * depends on them, plus the producers of memory data they need: the same
 * plan crun prints as the resume command), up to `attempts` attempts in all.
 * A cancelled run is not retried.  Each attempt is logged.
 */
#include <stdlib.h>
#include <string.h>

#include "inner.h"

typedef struct retry {
    crun_logger *logger;
    char *self;
    char *runner;
    int64_t attempts;
} retry;

static void retry_destroy(void *instance)
{
    retry *r = instance;
    if (!r)
        return;
    free(r->self);
    free(r->runner);
    free(r);
}

static int retry_create(const crun_options *opts, crun_logger *logger, void **instance,
                        crun_error *err)
{
    static const char *const known[] = {"runner", "attempts", NULL};
    const char *runner = NULL;
    int64_t attempts = 3;
    int rc = crun_options_check_known(opts, known, err);
    if (!rc)
        rc = crun_options_string(opts, "runner", &runner, err);
    if (!rc)
        rc = crun_options_int(opts, "attempts", 1, 1000, &attempts, err);
    if (!rc && !runner)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: option 'runner' is required: the name of "
                            "the runner to retry", crun_options_owner(opts));
    if (rc)
        return rc;
    retry *r = calloc(1, sizeof(*r));
    if (r) {
        r->logger = logger;
        r->attempts = attempts;
        r->self = inner_own_name(opts);
        r->runner = strdup(runner);
    }
    if (!r || !r->self || !r->runner) {
        retry_destroy(r);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    *instance = r;
    return 0;
}

static bool retriable(int status)
{
    return status == CRUN_ENODE || status == CRUN_EIO || status == CRUN_EDATA ||
           status == CRUN_EHOOK;
}

static int retry_run(void *instance, crun_run *run, crun_error *err)
{
    retry *r = instance;
    json_t *stack = NULL;
    int rc = inner_stack(run, r->self, r->runner, &stack, err);
    json_decref(stack);
    if (rc)
        return rc;
    inner_outcome out = {0};
    char *from = NULL;
    for (int64_t attempt = 1; attempt <= r->attempts; attempt++) {
        crun_log(r->logger, CRUN_LOG_INFO, "retry: attempt %lld of %lld with runner '%s'%s%s",
                 (long long)attempt, (long long)r->attempts, r->runner,
                 from ? ", from nodes " : "", from ? from : "");
        crun_error_clear(err);
        inner_outcome_clear(&out);
        rc = inner_run(run, r->runner, from, &out, err);
        if (rc == 0 || !retriable(rc) || crun_run_cancelled(run) || !out.from_nodes)
            break;
        crun_log(r->logger, attempt < r->attempts ? CRUN_LOG_WARN : CRUN_LOG_ERROR,
                 "retry: attempt %lld of %lld failed: %s", (long long)attempt,
                 (long long)r->attempts, err->message ? err->message : crun_strerror(rc));
        free(from);
        from = strdup(out.from_nodes);
    }
    free(from);
    inner_outcome_clear(&out);
    return rc;
}

static const crun_runner_type retry_type = {
    .size = sizeof(crun_runner_type),
    .create = retry_create,
    .run = retry_run,
    .destroy = retry_destroy,
    .flags = CRUN_RUNNER_SHARED, /* the instance holds only the options */
};

static const crun_plugin retry_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_RUNNER,
    .name = "retry",
    .version = "1.0.0",
    .description = "reruns what did not finish when the wrapped runner's run fails, up to "
                   "`attempts` times",
    .table = &retry_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &retry_plugin;
}
