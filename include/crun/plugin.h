/* crun/plugin.h - the one entry point every plugin exports, and logging.
 *
 * A plugin is a shared object exporting
 *
 *     CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void);
 *
 * which returns a pointer to a constant descriptor.  The host checks, before
 * touching anything else, that the descriptor's magic is CRUN_PLUGIN_MAGIC and
 * that its abi_major equals the host's CRUN_ABI_MAJOR; then that the kind is
 * the one it asked for.  Minor versions only add fields at the end of structs
 * whose first member is their size, so an older plugin keeps working.
 *
 * The `table` member points to the kind's table of functions:
 *   CRUN_PLUGIN_RUNNER  -> const crun_runner_type *  (runner.h)
 *   CRUN_PLUGIN_DATASET -> const crun_dataset_type * (dataset.h)
 *   CRUN_PLUGIN_HOOKS   -> const crun_hooks_type *   (hooks.h)
 *   CRUN_PLUGIN_NODES   -> const crun_nodes_type *   (node.h)
 * Plugins keep no state in globals: everything lives in the instance their
 * create() returns.  Options are read and declared through options.h.
 */
#ifndef CRUN_PLUGIN_H
#define CRUN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "options.h" /* options used to live here: plugins including plugin.h keep them */

#ifdef __cplusplus
extern "C" {
#endif

#define CRUN_PLUGIN_MAGIC 0x4e555243u /* "CRUN" in little-endian bytes */
#define CRUN_ABI_MAJOR 1
#define CRUN_ABI_MINOR 4
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
    /* ABI 1.3: the options create() takes (options.h), for `crun plugin
     * info` and listings; the same table the plugin reads them with.  NULL
     * and 0 when it takes none.  Read only when size covers them. */
    const crun_option *options;
    size_t n_options;
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

/* --- logging --------------------------------------------------------------
 * Plugins log through the host so that output is ordered, prefixed and can
 * be silenced.  Thread-safe. */
typedef enum crun_log_level {
    CRUN_LOG_ERROR = 0,
    CRUN_LOG_WARN = 1,
    CRUN_LOG_INFO = 2,
    CRUN_LOG_DEBUG = 3
} crun_log_level;

typedef struct crun_logger crun_logger;
void crun_log(crun_logger *logger, crun_log_level level, const char *fmt, ...) CRUN_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif
#endif
