/* plugin_test.h - what the dataset-plugin tests share: finding and opening a
 * built plugin as the host would, a scratch project folder per test, and
 * creating an instance from options written as JSON text.
 *
 * Plugins are dlopen()ed from the folders in CRUN_TEST_PLUGIN_DIRS (the
 * environment wins over the compile-time default).  Header-only: every
 * test program is its own executable.  Include it after <cmocka.h>.
 */
#ifndef CRUN_PLUGIN_TEST_H
#define CRUN_PLUGIN_TEST_H

#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crun/dataset.h"

#ifndef CRUN_TEST_PLUGIN_DIRS
#define CRUN_TEST_PLUGIN_DIRS ""
#endif

/* dlopen name.so from the first plugin folder that has it; NULL if none. */
static inline void *plugin_test_open(const char *name)
{
    const char *dirs = getenv("CRUN_TEST_PLUGIN_DIRS");
    if (!dirs || !*dirs)
        dirs = CRUN_TEST_PLUGIN_DIRS;
    char *copy = strdup(dirs), *save = NULL;
    void *handle = NULL;
    for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && !handle;
         dir = strtok_r(NULL, ":", &save)) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.so", dir, name);
        if (access(path, F_OK) == 0 && !(handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
            fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    }
    if (!handle)
        fprintf(stderr, "plugin '%s' not found in '%s'\n", name, dirs);
    free(copy);
    return handle;
}

/* The dataset table of an opened plugin, through crun_plugin_entry. */
static inline const crun_dataset_type *plugin_test_dataset_type(void *handle)
{
    crun_plugin_entry_fn entry = NULL;
    if (handle)
        *(void **)&entry = dlsym(handle, CRUN_PLUGIN_ENTRY_SYMBOL);
    return entry ? entry()->table : NULL;
}

/* A fresh folder /tmp/crun-test-TAG-XXXXXX into dir (64 bytes). */
static inline int plugin_test_mkdtemp(char *dir, size_t size, const char *tag)
{
    snprintf(dir, size, "/tmp/crun-test-%s-XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

static inline int plugin_test_remove_entry(const char *path, const struct stat *st, int flag,
                                           struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline int plugin_test_rmtree(const char *dir)
{
    return nftw(dir, plugin_test_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Create an instance from options given as JSON text ("{...}"); returns
 * create()'s code.  Text that is not JSON is a mistake in the test itself. */
static inline int plugin_test_create(const crun_dataset_type *type, const crun_dataset_ctx *ctx,
                                     const char *options, void **instance, crun_error *err)
{
    json_error_t jerr;
    json_t *obj = json_loads(options, 0, &jerr);
    if (!obj)
        fail_msg("bad options JSON: %s", jerr.text);
    crun_options *opts = crun_options_new(obj, "dataset 'x'", "conf/base/catalog.yml:1:1");
    json_decref(obj);
    assert_non_null(opts);
    int rc = type->create(ctx, opts, instance, err);
    crun_options_free(opts);
    return rc;
}

#endif
