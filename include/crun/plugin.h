/* crun/plugin.h - the one entry point every plugin exports, and its options.
 *
 * A plugin is a shared object exporting
 *
 *     CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);
 *
 * which returns a pointer to a constant descriptor.  The host checks, before
 * touching anything else, that the descriptor's magic is CRUN_PLUGIN_MAGIC,
 * that its abi_major equals the host's CRUN_ABI_MAJOR and that its abi_minor
 * is not newer than the host's (abi.h); then that the kind is the one it
 * asked for, and that the kind's table is at least as large as that table
 * was in the ABI version the descriptor declares.  A plugin built for an
 * older minor keeps working: the host reads only the members its table has
 * (table->size) and gives the others their defaults (NULL, 0).
 *
 * The `table` member points to the kind's table of functions:
 *   CRUN_PLUGIN_RUNNER  -> const crun_runner_type *  (runner.h)
 *   CRUN_PLUGIN_DATASET -> const crun_dataset_type * (dataset.h)
 *   CRUN_PLUGIN_HOOKS   -> const crun_hooks_type *   (hooks.h)
 *   CRUN_PLUGIN_NODES   -> const crun_nodes_type *   (node.h)
 * Plugins keep no state in globals: everything lives in the instance their
 * create() returns.
 */
#ifndef CRUN_PLUGIN_H
#define CRUN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "abi.h"
#include "error.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CRUN_PLUGIN_MAGIC 0x4e555243u /* "CRUN" in little-endian bytes */
#define CRUN_PLUGIN_ENTRY_SYMBOL "crun_plugin_entry"

#if defined(__GNUC__)
#define CRUN_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CRUN_PLUGIN_EXPORT
#endif

typedef enum crun_plugin_kind {
    CRUN_PLUGIN_RUNNER = 1,
    CRUN_PLUGIN_DATASET = 2,
    CRUN_PLUGIN_HOOKS = 3,
    CRUN_PLUGIN_NODES = 4
} crun_plugin_kind;

typedef struct crun_plugin {
    uint32_t magic;          /* CRUN_PLUGIN_MAGIC */
    uint16_t abi_major;      /* CRUN_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;      /* CRUN_ABI_MINOR the plugin was built against */
    uint32_t size;           /* sizeof(crun_plugin) at build time */
    crun_plugin_kind kind;
    const char *name;        /* short name: "sequential", "csv", "demo" */
    const char *version;     /* the plugin's own version, free form */
    const char *description; /* one line for `crun plugin info` and `crun list plugins` */
    const void *table;       /* the kind's function table, see above */
} crun_plugin;

/* Fill the fixed head of a descriptor. */
#define CRUN_PLUGIN_HEAD                                                        \
    .magic = CRUN_PLUGIN_MAGIC, .abi_major = CRUN_ABI_MAJOR,                    \
    .abi_minor = CRUN_ABI_MINOR, .size = sizeof(crun_plugin)

typedef const crun_plugin *(*crun_plugin_entry_fn)(void);

/* What every plugin defines (declared here so that its definition is checked). */
CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);

/* The name of a kind ("runner", "dataset", "hooks", "nodes"), or "unknown". */
const char *crun_plugin_kind_name(crun_plugin_kind kind);

/* --- options -------------------------------------------------------------
 * Options reach a plugin's create() as a read-only crun_options: a JSON
 * object plus where each key was written (file:line:column), so that the
 * plugin's complaints name the place.  The accessors below type-check a
 * value and, on a mismatch, fill err with "<where>: option 'key': expected
 * ..., got ..." and return CRUN_ECONFIG.  A missing key leaves *out at the
 * default the caller put there and returns 0.
 * Thread-safety: read-only, may be shared. */
typedef struct crun_options crun_options;

/* The options as a JSON object (borrowed; never NULL, maybe empty).  Read
 * it, copy from it, but do not json_incref/json_decref anything in it: one
 * options object may serve several runs on different threads at once, and
 * jansson's reference counts are not safe to change from two threads. */
json_t *crun_options_json(const crun_options *opts);
/* "file:line:column" where key was set, or the options' own origin ("--runner-opt", "IR") */
const char *crun_options_where(const crun_options *opts, const char *key);
/* The project folder, to resolve relative paths in options against (the
 * host never changes the current folder); NULL when there is none. */
const char *crun_options_dir(const crun_options *opts);
int crun_options_set_dir(crun_options *opts, const char *dir);
/* What the options belong to, as given by the host ("runner 'parallel'"). */
const char *crun_options_owner(const crun_options *opts);
bool crun_options_has(const crun_options *opts, const char *key);

int crun_options_int(const crun_options *opts, const char *key, int64_t min, int64_t max,
                     int64_t *out, crun_error *err);
int crun_options_double(const crun_options *opts, const char *key, double *out, crun_error *err);
int crun_options_bool(const crun_options *opts, const char *key, bool *out, crun_error *err);
/* *out is borrowed from opts. */
int crun_options_string(const crun_options *opts, const char *key, const char **out,
                        crun_error *err);
/* Refuse keys not in the NULL-terminated list known[], suggesting the closest. */
int crun_options_check_known(const crun_options *opts, const char *const *known, crun_error *err);

/* Build options from a JSON object (takes a new reference) for embedding and
 * tests; owner names what they belong to.  Free with crun_options_free. */
crun_options *crun_options_new(json_t *object, const char *owner, const char *origin);
void crun_options_free(crun_options *opts);

#ifdef __cplusplus
}
#endif
#endif
