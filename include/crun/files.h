/* crun/files.h - writing and reading files the way crun does: atomically.
 *
 * What dataset plugins, node libraries and embedding programs share for
 * files: a save never leaves a half-written file (temporary file in the
 * same folder, fsync, rename, fsync of the folder).  Paths are used as
 * given (resolve relative ones against the project folder yourself: the
 * host never changes the current folder).
 * Thread-safety: every function is thread-safe.
 */
#ifndef CRUN_FILES_H
#define CRUN_FILES_H

#include <stddef.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write len bytes to path atomically: a temporary file in the same folder,
 * fsync, rename, fsync of the folder.  Creates missing parent folders. */
int crun_file_write_atomic(const char *path, const void *data, size_t len, crun_error *err);
/* fsync tmp_path and rename it over path, creating path's folder if needed. */
int crun_file_commit(const char *tmp_path, const char *path, crun_error *err);
/* Read a whole file; *data is malloc'd (with a NUL after the last byte). */
int crun_file_read(const char *path, char **data, size_t *len, crun_error *err);
/* Create path's missing parent folders. */
int crun_mkdir_parents(const char *path, crun_error *err);

#ifdef __cplusplus
}
#endif
#endif
