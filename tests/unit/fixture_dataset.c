/* fixture_dataset.c - a dataset plugin opened as the host opens it, with a
 * project folder per test (see fixture_dataset.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_dataset.h"

int fixture_dataset_open(fixture_dataset *d, const char *name)
{
    *d = (fixture_dataset){.handle = NULL};
    char *dirs = strdup(fixture_plugin_dirs()), *save = NULL;
    for (char *dir = dirs ? strtok_r(dirs, ":", &save) : NULL; dir && !d->handle;
         dir = strtok_r(NULL, ":", &save)) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.so", dir, name);
        if (access(path, F_OK) == 0 && !(d->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
            fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    }
    free(dirs);
    crun_plugin_entry_fn entry = NULL;
    if (d->handle)
        *(void **)&entry = dlsym(d->handle, CRUN_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        fprintf(stderr, "plugin '%s' not found in '%s'\n", name, fixture_plugin_dirs());
        return -1;
    }
    d->plugin = entry();
    d->type = d->plugin->table;
    return d->type ? 0 : -1;
}

void fixture_dataset_close(fixture_dataset *d)
{
    if (d->handle)
        dlclose(d->handle);
    d->handle = NULL;
}

int fixture_dataset_begin(fixture_dataset *d, const char *tag)
{
    if (fixture_tmpdir(d->dir, tag) != 0)
        return -1;
    d->ctx = (crun_dataset_ctx){.size = sizeof(crun_dataset_ctx), .name = "x",
                                .project_dir = d->dir};
    return 0;
}

int fixture_dataset_end(fixture_dataset *d)
{
    return fixture_rmtree(d->dir);
}

int fixture_dataset_group_open(void **state, const char *name)
{
    fixture_dataset *d = calloc(1, sizeof(*d));
    *state = d;
    return d ? fixture_dataset_open(d, name) : -1;
}

int fixture_dataset_group_close(void **state)
{
    fixture_dataset *d = *state;
    if (d)
        fixture_dataset_close(d);
    free(d);
    return 0;
}

int fixture_dataset_setup(void **state)
{
    fixture_dataset *d = *state;
    return fixture_dataset_begin(d, d->plugin->name);
}

int fixture_dataset_teardown(void **state)
{
    return fixture_dataset_end(*state);
}

int fixture_dataset_try_create(const fixture_dataset *d, const char *options, void **instance,
                               crun_error *err)
{
    return fixture_dataset_create_with(d->type, &d->ctx, options, instance, err);
}

int fixture_dataset_create_with(const crun_dataset_type *type, const crun_dataset_ctx *ctx,
                                const char *options, void **instance, crun_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loads(options, 0, &jerr);
    if (!obj)
        fail_msg("bad options JSON in the test: %s", jerr.text);
    crun_options *opts = crun_options_new(obj, "dataset 'x'", "conf/base/catalog.yml:1:1");
    json_decref(obj);
    assert_non_null(opts);
    int rc = type->create(ctx, opts, instance, err);
    crun_options_free(opts);
    return rc;
}

void *fixture_dataset_create(const fixture_dataset *d, const char *options)
{
    void *instance = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (fixture_dataset_try_create(d, options, &instance, &err) != 0)
        fail_msg("create: %s", err.message);
    return instance;
}

void fixture_dataset_save(const fixture_dataset *d, void *instance, crun_value *value)
{
    crun_error err = CRUN_ERROR_INIT;
    int rc = d->type->save(instance, value, &err);
    crun_value_unref(value);
    if (rc != 0)
        fail_msg("save: %s", err.message);
}

crun_value *fixture_dataset_load(const fixture_dataset *d, void *instance)
{
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (d->type->load(instance, &v, &err) != 0)
        fail_msg("load: %s", err.message);
    return v;
}

void fixture_expect_error(int rc, crun_error *err, int code, const char *want)
{
    assert_int_equal(rc, code);
    assert_non_null(err->message);
    if (!strstr(err->message, want))
        fail_msg("message '%s' lacks '%s'", err->message, want);
    crun_error_clear(err);
}

void fixture_dataset_expect_load_error(const fixture_dataset *d, void *instance, int code,
                                       const char *want)
{
    crun_value *v = NULL;
    crun_error err = CRUN_ERROR_INIT;
    int rc = d->type->load(instance, &v, &err);
    assert_null(v);
    fixture_expect_error(rc, &err, code, want);
}
