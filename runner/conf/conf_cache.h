/* conf_cache.h - the events of a large YAML file, kept between runs.
 *
 * Reading a pipelines file of 100,000 nodes is mostly libyaml turning text
 * into events.  Once a file of a megabyte or more has been read without an
 * error, its events are written, compactly, to a cache file (crun puts it
 * at <project>/.crun/cache/<the file's path in the project>.events).  The
 * next read of the same file takes its events from there and libyaml does
 * not run at all.
 *
 * "The same file" is the test Python's .pyc files and git's index make: the
 * same device, inode, size, modification and change times, recorded in the
 * cache's header with crun's cache format and libyaml's version.  A file
 * changed in the two seconds before it is read is not cached, since a
 * second change within one tick of a coarse file system clock would leave
 * every one of those the same.  A cache that is missing, stale, truncated or
 * damaged (its checksum) is ignored, and replaced when the file is read.
 * A cache is written to a temporary file renamed into place, so readers in
 * other processes or threads see the old cache or the new one, whole.
 *
 * The events given back carry what crun's reader uses: type, start line and
 * column, anchor, tag, value, style and the implicit flags.  Byte offsets
 * are 0 and the end mark is the start mark.  Their strings stay valid until
 * conf_cache_close.  A conf_cache_reader or conf_cache_writer belongs to one
 * thread; any number may exist at once.  A cache file is trusted only when it
 * belongs to the user running crun or to the owner of the YAML file.
 */
#ifndef CRUN_CONF_CACHE_H
#define CRUN_CONF_CACHE_H

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include <yaml.h>

/* Files this long or longer are cached (below, libyaml's work is too small
 * to be worth a file). */
enum { CONF_CACHE_MIN_TEXT = 1 << 20 };

typedef struct conf_cache_reader conf_cache_reader;
typedef struct conf_cache_writer conf_cache_writer;

/* The cache at cache_path of the file source describes, checked whole;
 * NULL when there is none that is valid for this file. */
conf_cache_reader *conf_cache_open(const char *cache_path, const struct stat *source);

/* The next event, into ev (nothing to free).  false: no more events, or the
 * cache does not decode (only if it was changed by hand since the checksum
 * matched). */
bool conf_cache_next(conf_cache_reader *cache, yaml_event_t *ev);

void conf_cache_close(conf_cache_reader *cache);

/* Start writing the cache of the file source describes, whose text was
 * read at read_at (CLOCK_REALTIME, taken before the fstat that gave source);
 * NULL when it must not or cannot be written (changed in the two seconds
 * before, by this system's clock or by the file system's; no folder can be
 * made; something other than a file at cache_path): reading goes on
 * without a cache.  Temporary files that a killed crun left there an hour
 * ago or more are removed.  The cache gets the file's read permissions. */
conf_cache_writer *conf_cache_create(const char *cache_path, const struct stat *source,
                                     const struct timespec *read_at);

/* Whether two stats of a file are of the same version of it (the test a
 * cache makes): to see that a file did not change while it was read. */
bool conf_cache_same_version(const struct stat *a, const struct stat *b);

/* Add an event, as libyaml gave it. */
void conf_cache_put(conf_cache_writer *cache, const yaml_event_t *ev);

/* keep: put the cache in place (when every write succeeded); otherwise
 * drop it.  Frees cache in both cases; NULL is allowed.  Keep it only if
 * the read succeeded and the file is still the version the cache was
 * created for (conf_cache_same_version). */
void conf_cache_finish(conf_cache_writer *cache, bool keep);

#endif
