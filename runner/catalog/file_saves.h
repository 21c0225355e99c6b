/* file_saves.h (internal) - what one run remembers about the files it saves.
 *
 * A run's crun_file_saves knows the folders it made or found (so a save
 * creates its parent folders once per run, not once per save) and the file
 * systems its `durability: run` saves went to (one syncfs each at the run's
 * end, instead of two fsyncs per save before the dependents may start).
 * Every function is thread-safe: nodes of a parallel run save at once.
 */
#ifndef CRUN_FILE_SAVES_H
#define CRUN_FILE_SAVES_H

#include "crun/dataset.h"

/* A run's record at level (NONE, RUN or NODE: the run's own); NULL when out of memory. */
crun_file_saves *file_saves_new(crun_durability level);
/* Close its folders; NULL is fine. */
void file_saves_free(crun_file_saves *s);
/* The run's level. */
crun_durability file_saves_level(const crun_file_saves *s);
/* Create path's missing parent folders, once per run: a folder made or
 * found before is not asked for again.  s may be NULL (then every time). */
int file_saves_mkdir(crun_file_saves *s, const char *path, crun_error *err);
/* Forget path's folder (someone removed it): the next save makes it again. */
void file_saves_forget(crun_file_saves *s, const char *path);
/* A `durability: run` save renamed a file into path's folder: its file
 * system is synced by file_saves_sync.  -1 when that cannot be promised
 * (s NULL, the folder unreadable, no memory): then sync the file now. */
int file_saves_written(crun_file_saves *s, const char *path);
/* syncfs every file system a `run` save wrote to since the last call:
 * the files, their renames and the folders made.  CRUN_EIO names the folder
 * whose file system failed. */
int file_saves_sync(crun_file_saves *s, crun_error *err);

#endif
