/* fixture_dataset.h - a dataset plugin under test, opened as the host
 * opens it, and a fresh project folder per test (part of the unit tests'
 * fixture library, with fixture.h).
 *
 * A test program opens the plugin once (group setup), starts a folder per
 * test (setup/teardown), makes instances from options written as JSON text
 * and saves and loads through the plugin's table.  The helpers fail the
 * current test on an unexpected code, showing the plugin's message.  One
 * thread at a time.  Include it after <cmocka.h>.
 */
#ifndef CRUN_TEST_FIXTURE_DATASET_H
#define CRUN_TEST_FIXTURE_DATASET_H

#include "crun/dataset.h"
#include "fixture.h"

typedef struct fixture_dataset {
    void *handle;                 /* the dlopen()ed plugin */
    const crun_plugin *plugin;    /* its descriptor (borrowed from handle) */
    const crun_dataset_type *type;
    char dir[FIXTURE_DIR_SIZE];   /* this test's project folder */
    crun_dataset_ctx ctx;         /* dataset "x" in dir; outlives every instance */
} fixture_dataset;

/* dlopen name.so from the first folder of fixture_plugin_dirs() that has it
 * and read its descriptor; 0, or -1 with the reason on stderr. */
int fixture_dataset_open(fixture_dataset *d, const char *name);
void fixture_dataset_close(fixture_dataset *d);
/* A fresh project folder (tag names it) and a context naming it; 0 or -1. */
int fixture_dataset_begin(fixture_dataset *d, const char *tag);
/* Remove the folder; 0 or -1. */
int fixture_dataset_end(fixture_dataset *d);

/* The same as cmocka group and per-test set-ups: *state becomes a new
 * fixture_dataset with the plugin open / a folder tagged with its name. */
int fixture_dataset_group_open(void **state, const char *name);
int fixture_dataset_group_close(void **state);
int fixture_dataset_setup(void **state);
int fixture_dataset_teardown(void **state);

/* create() with options given as JSON text ("{...}"), as catalog.yml:1:1's
 * dataset 'x'; returns create()'s code and leaves its message in err. */
int fixture_dataset_try_create(const fixture_dataset *d, const char *options, void **instance,
                               crun_error *err);
/* The same for any type and context (a test of several plugins). */
int fixture_dataset_create_with(const crun_dataset_type *type, const crun_dataset_ctx *ctx,
                                const char *options, void **instance, crun_error *err);
/* fixture_dataset_try_create, failing the test unless it succeeds. */
void *fixture_dataset_create(const fixture_dataset *d, const char *options);
/* save(value), failing the test unless it succeeds; the value's reference
 * is given up either way. */
void fixture_dataset_save(const fixture_dataset *d, void *instance, crun_value *value);
/* load(), failing the test unless it succeeds; a new reference. */
crun_value *fixture_dataset_load(const fixture_dataset *d, void *instance);
/* load() must fail with code and a message containing want. */
void fixture_dataset_expect_load_error(const fixture_dataset *d, void *instance, int code,
                                       const char *want);
/* Fail the test unless rc is code and err's message contains want; clears err. */
void fixture_expect_error(int rc, crun_error *err, int code, const char *want);

#endif
