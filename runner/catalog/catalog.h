/* catalog.h (internal) - one run's datasets, and what a session's catalogs share.
 *
 * A run opens a catalog over the datasets its plan touches: an entry per IR
 * dataset holding a plugin instance (or, for a memory dataset without
 * options, the value itself: a slot), a parameter's JSON value, or nothing.
 * Loads and saves fire the dataset hooks.  What the session keeps for all
 * its runs (plugins, each entry's options and type, once resolved) is
 * catalog_shared, read by runs on many threads: first uses publish with
 * atomics.  The catalog never sees the run it belongs to except as an
 * opaque pointer for hook events.
 */
#ifndef CRUN_CATALOG_H
#define CRUN_CATALOG_H

#include <stdatomic.h>
#include <stdbool.h>

#include "conf/project.h"
#include "core/log.h"
#include "crun/crun.h"
#include "ir/ir.h"
#include "plan/plan.h"
#include "plugin/hooks.h"
#include "plugin/plugin.h"

/* The session's, for every run's catalog; set once when the session opens. */
typedef struct catalog_shared {
    const ir_t *ir;
    const project *project;             /* for credentials and the raw catalog; NULL when
                                         * opened from an IR */
    char *const *environ;                /* for ${env:...} when an entry is resolved again */
    plugin_cache *plugins;
    crun_logger *logger;
    const hook_set *hooks;
    _Atomic(const crun_plugin *) *ds_plugin; /* per IR dataset: its type's plugin */
    _Atomic(const crun_plugin *) memory_plugin;
    _Atomic(crun_options *) *ds_options; /* per IR dataset: its catalog options */
    crun_options *no_options;            /* datasets without options */
} catalog_shared;

typedef struct cat_entry {
    const ir_dataset *def;
    const crun_dataset_type *type; /* NULL for parameters */
    void *instance;                /* NULL for a slot */
    crun_dataset_ctx *ctx;         /* the instance's (malloc'd, outlives it); NULL for a slot */
    crun_value *param;             /* parameters: the JSON value */
    atomic_size_t consumers_left;  /* released at zero when in memory */
    char *scratch;                 /* a file holding the value for commands, once made */
    /* A type flagged CRUN_DATASET_VALUE_SLOT without options has no
     * instance: the entry holds its value (an owned reference or NULL).
     * The run's order makes the accesses safe without a lock: the save
     * happens before the consumers' loads, and the release after the last
     * consumer finished (consumers_left). */
    _Atomic(crun_value *) value;
    bool slot;
    bool in_memory;
} cat_entry;

typedef struct catalog {
    cat_entry *entries;  /* indexed by IR dataset; type/instance NULL when unused;
                          * the caller's memory, zeroed, ir->n_ds of them */
    size_t n;
    catalog_shared *shared;
    const plan *plan;
    json_t *params;      /* the run's parameters (borrowed) */
    const char *run_id;  /* borrowed, as long as the catalog */
    const char *version; /* the run's save version */
    crun_run *run;       /* for hook events and the datasets' context only */
    crun_logger *logger; /* the run's: the session's, or a run inside a run's own */
    crun_file_saves *saves; /* made by catalog_open: folders made, file systems to sync */
} catalog;

/* Open the plan's datasets into c->entries (set every member of c first).
 * o gives load versions, inputs and memory_outputs. */
int catalog_open(catalog *c, const crun_run_options *o, crun_error *err);
void catalog_close(catalog *c);
/* Make this run's `durability: run` saves durable (one syncfs per file
 * system they went to); before the run reports success. */
int catalog_sync(catalog *c, crun_error *err);
/* Load/save with hooks; node and call (for hook events) may be NULL outside a node. */
int catalog_load(catalog *c, size_t ds, const char *node, crun_call *call, crun_value **out,
                 crun_error *err);
int catalog_save(catalog *c, size_t ds, const char *node, crun_call *call, crun_value *value,
                 crun_error *err);
/* The value of an open entry, without hooks (the run's results). */
int catalog_entry_load(catalog *c, size_t ds, crun_value **out, crun_error *err);
/* A consumer of ds finished: release the value after the last one. */
void catalog_consumed(catalog *c, size_t ds);
/* Whether ds's data exists outside the run (plan_resume's question); user is the catalog. */
bool catalog_persisted(void *user, size_t ds);
/* Fire a hook event with the catalog's run id, run and parameters filled in. */
int catalog_hooks_fire(const catalog *c, crun_hook_point point, crun_hook_event *ev,
                       crun_error *err);

/* Files given for datasets (crun_run_options.input_paths/output_paths,
 * dataset_paths.c): check them all against the run's plan (CRUN_EUSAGE
 * naming the dataset), and the path given for one dataset, or NULL. */
int catalog_check_paths(const catalog *c, const crun_run_options *o, crun_error *err);
const char *catalog_given_path(const crun_run_options *o, const char *name);
size_t catalog_given_path_count(const crun_run_options *o);

/* A copy of a parameter value that shares no reference count with the
 * session's tree (runs on other threads read that one). */
json_t *params_private_copy(json_t *v);

#endif
