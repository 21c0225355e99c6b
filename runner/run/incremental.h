/* incremental.h (internal) - incremental runs: the fingerprint store, node
 * fingerprints, and which nodes a run skips.
 *
 * fp_store.c keeps .crun/fingerprints.db (sqlite3, WAL): per node the
 * fingerprint recorded when its outputs were last saved, and per file the
 * content hash with the size, mtime, ctime and inode it had, so an
 * unchanged file costs a stat (git's index).  fingerprint.c writes what a
 * node's fingerprint covers as lines of text (code, parameters, inputs,
 * declaration; outputs apart), whose hash is the fingerprint and whose
 * difference names what changed.  incremental.c decides a run's nodes
 * (plan_decide with the catalog's answers), narrows the run to those that
 * run, and records each node that succeeds.
 */
#ifndef CRUN_RUN_INCREMENTAL_H
#define CRUN_RUN_INCREMENTAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xxhash.h>

#include "run/run.h"

typedef XXH128_hash_t fp_hash;

/* --- fp_store.c: thread-safe (one lock); writes are batched --- */

typedef struct fp_store fp_store;

/* Open (creating) <dir>/.crun/fingerprints.db. */
int fp_store_open(const char *project_dir, fp_store **out, crun_error *err);
/* Write what is pending and close; NULL is fine. */
void fp_store_close(fp_store *st);
/* The content hash of the file at path: from the cache when its size,
 * mtime, ctime and inode are those recorded, else read and recorded.
 * 0, or CRUN_ENOENT when there is no regular file there, or CRUN_EIO. */
int fp_store_file_hash(fp_store *st, const char *path, fp_hash *out);
/* fn for every recorded node: its name, fingerprint and outputs' hash. */
int fp_store_each_node(fp_store *st, void (*fn)(void *user, const char *name, const fp_hash *fp,
                                                const fp_hash *out),
                       void *user, crun_error *err);
/* The recorded lines of a node (malloc'd), or NULL. */
char *fp_store_detail(fp_store *st, const char *name);
/* Record a node (written with the next batch: at once when the last write
 * was a while ago, else with the next 1024 or when the store closes). */
int fp_store_put_node(fp_store *st, const char *name, const fp_hash *fp, const fp_hash *out,
                      const char *detail);
int fp_store_flush(fp_store *st, crun_error *err);

/* --- fingerprint.c --- */

/* A growing text buffer. */
typedef struct fp_text {
    char *s;
    size_t len, cap;
} fp_text;
void fp_text_free(fp_text *t);

typedef struct incr_state incr_state;

/* The lines of planned node pn: its inputs' part (fingerprint) into in, and
 * with outs its outputs' content into out.  Reads files through the store's
 * cache; safe from any thread once incr_begin returned. */
int fp_node_lines(incr_state *s, size_t pn, fp_text *in, fp_text *out);
/* What differs between recorded lines old and current ones cur, as a reason
 * ("params:a.b changed (1 -> 2)", "input x changed"...), malloc'd. */
char *fp_explain(const char *old, const char *cur, bool outputs);
/* Per-dataset and per-library lines that every node shares (at begin). */
int fp_prepare(incr_state *s, crun_error *err);
void fp_release(incr_state *s);
fp_hash fp_hash_text(const char *s, size_t len);

/* --- incremental.c --- */

struct incr_state {
    crun_run *run;
    fp_store *store;
    int mode;               /* CRUN_INCREMENTAL_* */
    bool record;            /* record nodes that succeed */
    fp_hash *fp;            /* per planned node: its fingerprint (decided or recorded) */
    unsigned char *fp_set;  /* per planned node: fp holds one */
    fp_hash *stored;        /* per IR node: the recorded fingerprint */
    fp_hash *stored_out;
    unsigned char *has_stored;
    size_t next_stored;     /* the IR node a next record is likely of */
    char (*ds_line)[33];    /* per IR dataset: its declaration's hash (hex), "" if unused */
    const char **lib_line;  /* per IR node (function): "<library file> <hash>" */
    char **libs;            /* the distinct library lines (owned) */
    size_t n_libs;
};

/* Start a run's incremental part: mode and whether to record (from o). */
int incr_begin(crun_run *run, const crun_run_options *o, crun_error *err);
/* Decide which planned nodes run (mode must be set), narrow the run to them
 * and describe every node of the plan into *decisions (a new JSON array of
 * {"node", "action": "run"|"skip", "reason"}). */
int incr_decide(crun_run *run, json_t **decisions, crun_error *err);
/* A node finished well: record its fingerprint (any thread). */
void incr_node_done(crun_run *run, size_t pn);
/* Write what is pending and free the state (run_destroy). */
void incr_end(crun_run *run);

#endif
