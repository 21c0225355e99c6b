/* memory.c - the "memory" dataset type: one value held between nodes.
 *
 * Every dataset missing from the catalog is one of these.  The instance holds
 * a single reference: save replaces it, load hands out a new reference to the
 * same immutable value (no copy: values never change once output), release
 * drops it after the last consumer.  A mutex guards the slot because loads
 * from parallel consumers may race with the host's release.
 */
#include <pthread.h>
#include <stdlib.h>

#include <crun/dataset.h>

typedef struct memory_ds {
    const crun_dataset_ctx *ctx; /* borrowed, valid for the instance's life */
    pthread_mutex_t lock;
    crun_value *value; /* owned reference, or NULL */
} memory_ds;

static int memory_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                         crun_error *err)
{
    *instance = NULL;
    /* Kedro's copy_mode has no meaning here: values are immutable and shared. */
    int rc = opts ? crun_options_read(opts, NULL, 0, NULL, err) : 0; /* refuses every key */
    if (rc != 0)
        return rc;
    memory_ds *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': out of memory", ctx->name);
    if (pthread_mutex_init(&ds->lock, NULL) != 0) {
        free(ds);
        return crun_error_set(err, CRUN_ENOMEM, "dataset '%s': cannot create a lock", ctx->name);
    }
    ds->ctx = ctx;
    *instance = ds;
    return 0;
}

static void memory_destroy(void *instance)
{
    memory_ds *ds = instance;
    if (!ds)
        return;
    crun_value_unref(ds->value);
    pthread_mutex_destroy(&ds->lock);
    free(ds);
}

static int memory_load(void *instance, crun_value **out, crun_error *err)
{
    memory_ds *ds = instance;
    pthread_mutex_lock(&ds->lock);
    *out = crun_value_ref(ds->value);
    pthread_mutex_unlock(&ds->lock);
    if (!*out)
        return crun_error_set(err, CRUN_ENOENT, "dataset '%s': no value has been saved yet",
                              ds->ctx->name);
    return 0;
}

static int memory_save(void *instance, crun_value *value, crun_error *err)
{
    memory_ds *ds = instance;
    if (!value)
        return crun_error_set(err, CRUN_EINVAL, "dataset '%s': no value to save", ds->ctx->name);
    crun_value *fresh = crun_value_ref(value);
    pthread_mutex_lock(&ds->lock);
    crun_value *old = ds->value;
    ds->value = fresh;
    pthread_mutex_unlock(&ds->lock);
    /* Dropped outside the lock: freeing a large value should not block loads. */
    crun_value_unref(old);
    return 0;
}

static int memory_exists(void *instance, bool *out, crun_error *err)
{
    memory_ds *ds = instance;
    pthread_mutex_lock(&ds->lock);
    *out = ds->value != NULL;
    pthread_mutex_unlock(&ds->lock);
    return 0;
}

static json_t *memory_describe(void *instance)
{
    memory_ds *ds = instance;
    pthread_mutex_lock(&ds->lock);
    json_t *out = ds->value
        ? json_pack("{s:s}", "data", crun_value_kind_name(crun_value_kind_of(ds->value)))
        : json_object();
    pthread_mutex_unlock(&ds->lock);
    return out;
}

static void memory_release(void *instance)
{
    memory_ds *ds = instance;
    pthread_mutex_lock(&ds->lock);
    crun_value *old = ds->value;
    ds->value = NULL;
    pthread_mutex_unlock(&ds->lock);
    crun_value_unref(old);
}

static const crun_dataset_type memory_type = {
    .size = sizeof(crun_dataset_type),
    /* the host may hold the value of an entry without options itself: a run
     * then makes no instance for it (the service makes a run per request) */
    .flags = CRUN_DATASET_IN_MEMORY | CRUN_DATASET_VALUE_SLOT,
    .create = memory_create,
    .destroy = memory_destroy,
    .load = memory_load,
    .save = memory_save,
    .exists = memory_exists,
    .describe = memory_describe,
    .release = memory_release,
};

static const crun_plugin memory_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "memory",
    .version = "1.0.0",
    .description = "a value kept in memory between nodes, released after its last consumer",
    .table = &memory_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &memory_plugin;
}
