/* crun/dataset.h - dataset types: how a catalog entry loads and saves values.
 *
 * A dataset type is a plugin of kind CRUN_PLUGIN_DATASET.  The host creates
 * one instance per catalog entry (or per memory dataset) with the entry's
 * options, then calls load/save as nodes need them.  Saves of file-backed
 * types must be atomic: use crun_dataset_write_atomic() or the
 * crun_file_dataset_* helpers (temporary file in the same folder, rename;
 * synced as the dataset's durability says) so that a crash never leaves a
 * half-written file.
 *
 * Thread-safety: the host never calls save on an instance concurrently with
 * anything else on it; load and exists may run concurrently on one instance
 * (several consumers of one dataset under a parallel runner), and different
 * instances are used from different threads at once.
 */
#ifndef CRUN_DATASET_H
#define CRUN_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "files.h"
#include "plugin.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* When a save's data reaches the disk (docs/catalog.md, "Durability").  A
 * save is atomic at every level: a killed run leaves the old file or the
 * new one, never part of one.  The levels differ after an OS crash or a
 * power loss. */
typedef enum crun_durability {
    CRUN_DURABILITY_DEFAULT = 0, /* the run's level (crun.ini, --durability; else RUN) */
    CRUN_DURABILITY_NONE,        /* rename only: the OS writes the data when it likes */
    CRUN_DURABILITY_RUN,         /* synced with all the run's saves before the run succeeds */
    CRUN_DURABILITY_NODE         /* synced (file and folder) before the save returns */
} crun_durability;

/* A run's record of its saves (folders made, file systems to sync at its
 * end); opaque, owned by the run, thread-safe. */
typedef struct crun_file_saves crun_file_saves;

/* What the host tells a dataset instance about its place; borrowed, valid
 * for the instance's life. */
typedef struct crun_dataset_ctx {
    uint32_t size;            /* sizeof(crun_dataset_ctx) */
    const char *name;         /* the dataset's name in the catalog */
    const char *project_dir;  /* absolute; relative file paths are resolved against it */
    bool versioned;           /* `versioned: true` in the catalog */
    const char *load_version; /* versioned: the version to load, NULL for the newest */
    const char *save_version; /* versioned: the run's version for saves */
    crun_logger *logger;
    /* Read by the file helpers below, not by plugins (they check size, so a
     * ctx made before these members means NODE and no run): */
    crun_durability durability; /* the catalog entry's `durability`, or DEFAULT */
    crun_file_saves *saves;     /* the run's; NULL outside a run */
} crun_dataset_ctx;

enum {
    /* Values live in memory only: released after their last consumer, never
     * persisted, and a command node gets them through a scratch file. */
    CRUN_DATASET_IN_MEMORY = 1u << 0,
    /* With CRUN_DATASET_IN_MEMORY: the type is a plain slot for one value, as
     * the memory type is (load hands out a new reference to the last value
     * saved, or fails with CRUN_ENOENT before a save; save keeps a reference;
     * release and destroy drop it; exists says whether it holds one), and
     * create without options cannot fail.  The host may then keep the value
     * of an entry without options itself, instead of making an instance per
     * run: none of the type's functions is called for that entry.  An entry
     * with options is always an instance. */
    CRUN_DATASET_VALUE_SLOT = 1u << 1
};

typedef struct crun_dataset_type {
    uint32_t size;  /* sizeof(crun_dataset_type) */
    uint32_t flags; /* CRUN_DATASET_* */
    /* Check options and make an instance.  opts is borrowed for the call only. */
    int (*create)(const crun_dataset_ctx *ctx, const crun_options *opts, void **instance,
                  crun_error *err);
    void (*destroy)(void *instance);
    /* *out receives a new reference. */
    int (*load)(void *instance, crun_value **out, crun_error *err);
    /* value is borrowed: take a reference to keep it. */
    int (*save)(void *instance, crun_value *value, crun_error *err);
    int (*exists)(void *instance, bool *out, crun_error *err);
    /* A new JSON object describing the instance ({"filepath": ...}); may be NULL. */
    json_t *(*describe)(void *instance);
    /* Optional: drop whatever the instance holds in memory. */
    void (*release)(void *instance);
    /* Optional, for command nodes: the file load would read (borrowed), or NULL. */
    const char *(*filepath)(void *instance);
    /* Optional, for command nodes: make the file a command wrote at tmp_path the
     * dataset's new content (check it, then crun_file_dataset_commit or
     * crun_dataset_commit: synced as its durability says, renamed).  tmp_path is in the folder
     * of filepath(), so the rename is atomic. */
    int (*save_file)(void *instance, const char *tmp_path, crun_error *err);
} crun_dataset_type;

/* --- helpers for dataset plugins (thread-safe) --- */

/* Resolve filepath against ctx->project_dir and, for a versioned dataset, the
 * version folder: <filepath>/<version>/<basename>.  for_save picks
 * save_version; otherwise load_version or the newest existing version.
 * *out is malloc'd.  Returns 0, CRUN_ENOENT (no version to load) or CRUN_ENOMEM. */
int crun_dataset_path(const crun_dataset_ctx *ctx, const char *filepath, bool for_save,
                      char **out, crun_error *err);

/* Write len bytes to path atomically (crun_file_write_atomic, files.h) or
 * commit tmp_path over path (crun_file_commit) at the dataset's durability
 * (ctx): the fsyncs happen at NODE only, the parent folders are made once
 * per run, and at RUN the run syncs the file before it succeeds.  The
 * crun_file_dataset_* helpers below use these. */
int crun_dataset_write_atomic(const crun_dataset_ctx *ctx, const char *path, const void *data,
                              size_t len, crun_error *err);
int crun_dataset_commit(const crun_dataset_ctx *ctx, const char *tmp_path, const char *path,
                        crun_error *err);
/* Content written as it is made (a large table encoded row by row, so that
 * it never sits in memory whole): fn writes all of it to fd, the save's
 * temporary file (do not close it, seek in it or keep it), and returns 0,
 * or a CRUN_E* code with err set (a short write is the writer's to report:
 * CRUN_EIO naming the reason).  On success the file is committed as
 * crun_dataset_write_atomic's would be; on any failure it is removed and
 * the target is left as it was.  fn is called at most once. */
typedef int (*crun_write_fn)(void *user, int fd, crun_error *err);
int crun_dataset_write_atomic_with(const crun_dataset_ctx *ctx, const char *path,
                                   crun_write_fn fn, void *user, crun_error *err);

/* --- the common part of a file-backed dataset ---
 *
 * A crun_file_dataset holds what every file-backed type repeats: the
 * catalog's `filepath`, the file a load would read at create time, and the
 * file this instance saved, so a run reads back its own output unless a
 * version is pinned.  Keep one per instance (crun_file_dataset_new in create,
 * crun_file_dataset_free in destroy) and forward the callbacks to it.
 *
 * Thread-safety follows the instance's: load_path, exists, describe,
 * catalog_filepath and filepath may run concurrently with each other;
 * save_path, write, write_at, saved and commit must not run concurrently with
 * anything else on the same handle (the host never does).  The handle is
 * opaque so that it can grow without breaking plugins. */
typedef struct crun_file_dataset crun_file_dataset;

/* The `filepath` option of a file dataset, as an entry of its options table
 * (options.h): a required, non-empty string stored at offsetof(settings, member). */
#define CRUN_DATASET_FILEPATH_OPTION(settings, member)                                             \
    {.name = "filepath", .type = CRUN_OPTION_STRING,                                          \
     .flags = CRUN_OPTION_REQUIRED | CRUN_OPTION_NONEMPTY,                                    \
     .doc = "the file, relative to the project folder (the folder of its versions when "      \
            "versioned)",                                                                     \
     .offset = offsetof(settings, member)}

/* The required string option `filepath` into *out (borrowed from opts); a
 * missing or empty one is CRUN_ECONFIG "<where>: dataset 'x': option
 * 'filepath' is required". */
int crun_dataset_filepath_option(const crun_dataset_ctx *ctx, const crun_options *opts,
                                 const char **out, crun_error *err);
/* A new handle for the dataset ctx (borrowed, must outlive the handle) whose
 * catalog path is filepath (copied).  A missing version to load is not an
 * error: filepath() then says NULL until the instance saves. */
int crun_file_dataset_new(const crun_dataset_ctx *ctx, const char *filepath,
                          crun_file_dataset **out, crun_error *err);
/* Free a handle; NULL is fine. */
void crun_file_dataset_free(crun_file_dataset *f);
/* The file a load reads now: this instance's own save unless a version is
 * pinned, else the pinned or newest version.  *out is malloc'd. */
int crun_file_dataset_load_path(const crun_file_dataset *f, char **out, crun_error *err);
/* The file a save writes (the run's version folder when versioned); malloc'd. */
int crun_file_dataset_save_path(const crun_file_dataset *f, char **out, crun_error *err);
/* Record that this instance saved path (takes ownership).  The first save is
 * kept: a pointer filepath() handed out stays valid for the handle's life. */
void crun_file_dataset_set_saved(crun_file_dataset *f, char *path);
/* Write len bytes atomically to path (takes ownership, from save_path) at
 * the dataset's durability (crun_dataset_write_atomic) and record the save;
 * write errors are prefixed "dataset 'x': ". */
int crun_file_dataset_write_at(crun_file_dataset *f, char *path, const void *data, size_t len,
                               crun_error *err);
/* save_path, then write_at. */
int crun_file_dataset_write(crun_file_dataset *f, const void *data, size_t len,
                            crun_error *err);
/* save_path, then crun_dataset_write_atomic_with(fn, user), and record the
 * save; errors are prefixed "dataset 'x': ". */
int crun_file_dataset_write_with(crun_file_dataset *f, crun_write_fn fn, void *user,
                                 crun_error *err);
/* save_file for content already checked: commit tmp_path
 * (crun_dataset_commit, at the dataset's durability) as the save path and
 * record the save.  tmp_path is removed on failure. */
int crun_file_dataset_commit(crun_file_dataset *f, const char *tmp_path, crun_error *err);
/* Is the load path a regular file?  No version to load is *out = false, not
 * an error; a stat failure other than "not there" is CRUN_EIO. */
int crun_file_dataset_exists(const crun_file_dataset *f, bool *out, crun_error *err);
/* A new JSON object {"filepath": <catalog path>, "versioned": bool}. */
json_t *crun_file_dataset_describe(const crun_file_dataset *f);
/* `filepath` as written in the catalog; borrowed, valid for the handle's life. */
const char *crun_file_dataset_catalog_filepath(const crun_file_dataset *f);
/* For the filepath() callback: this instance's save unless a version is
 * pinned, else the load file found at create time, or NULL.  Borrowed, valid
 * for the handle's life. */
const char *crun_file_dataset_filepath(const crun_file_dataset *f);

#ifdef __cplusplus
}
#endif
#endif
