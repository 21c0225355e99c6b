/* creds_probe.c - test fixture: a dataset type that reports the credentials
 * it was given, without ever showing the secret.
 *
 * The built-in types are local files and take no credentials; a third
 * party's type (a database, an object store) does.  This one takes the
 * `credentials` option crun builds from conf/<env>/credentials.yml and
 * loads as {"user": <credentials.user>, "password_length": <n>}, so a test
 * sees that the values arrived while the password itself never leaves the
 * instance (describe() names no secret either).  Saves are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "crun/crun.h"

static const char *const known_options[] = {"credentials", "label", NULL};

typedef struct probe {
    const crun_dataset_ctx *ctx;
    char *user;
    size_t password_length;
} probe;

static int probe_create(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                        crun_error *err)
{
    *instance = NULL;
    int rc = crun_options_check_known(opts, known_options, err);
    if (rc != 0)
        return rc;
    json_t *creds = json_object_get(crun_options_json(opts), "credentials");
    if (!json_is_object(creds))
        return crun_error_set(err, CRUN_ECONFIG, "dataset '%s': needs credentials (a map)",
                              ctx->name);
    const char *user = json_string_value(json_object_get(creds, "user"));
    const char *password = json_string_value(json_object_get(creds, "password"));
    if (!user || !password)
        return crun_error_set(err, CRUN_ECONFIG,
                              "dataset '%s': credentials need 'user' and 'password'", ctx->name);
    probe *p = calloc(1, sizeof(*p));
    if (!p || !(p->user = strdup(user))) {
        free(p);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    p->ctx = ctx;
    p->password_length = strlen(password);
    *instance = p;
    return 0;
}

static void probe_destroy(void *instance)
{
    probe *p = instance;
    if (p)
        free(p->user);
    free(p);
}

static int probe_load(void *instance, crun_value **out, crun_error *err)
{
    probe *p = instance;
    json_t *v = json_pack("{s:s, s:I}", "user", p->user, "password_length",
                          (json_int_t)p->password_length);
    *out = v ? crun_value_json_new(v) : NULL;
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static int probe_save(void *instance, crun_value *value, crun_error *err)
{
    probe *p = instance;
    (void)value;
    return crun_error_set(err, CRUN_EDATA, "dataset '%s': creds_probe is read-only",
                          p->ctx->name);
}

static int probe_exists(void *instance, bool *out, crun_error *err)
{
    (void)instance, (void)err;
    *out = true;
    return 0;
}

static json_t *probe_describe(void *instance)
{
    probe *p = instance;
    return json_pack("{s:s}", "user", p->user);
}

static const crun_dataset_type probe_type = {
    .size = sizeof(crun_dataset_type),
    .create = probe_create,
    .destroy = probe_destroy,
    .load = probe_load,
    .save = probe_save,
    .exists = probe_exists,
    .describe = probe_describe,
};

static const crun_plugin probe_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_DATASET,
    .name = "creds_probe",
    .version = "0.0.1",
    .description = "test fixture: reports the credentials it was given, never the secret",
    .table = &probe_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &probe_plugin;
}
