/* log.h - the logger behind crun_log: levels, a sink, one line at a time.
 *
 * Each session owns one logger; runs, plugins and node calls write through it.
 * Lines reach the sink whole (a lock orders writers), so output from parallel
 * nodes never interleaves within a line.  On a terminal, a progress line
 * ("[12/40] train_model") is kept at the bottom and redrawn after each line.
 */
#ifndef CRUN_LOG_H
#define CRUN_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#include "crun/plugin.h"
#include "crun/session.h"

struct crun_logger {
    struct crun_logger *parent; /* a child writes through its parent, prefixed */
    char *prefix;          /* a child's ("trial 3"), owned */
    crun_log_level level;
    crun_log_fn fn;        /* NULL: stderr */
    void *user;
    bool tty;              /* stderr is a terminal (progress redraws) */
    bool progress_shown;   /* a progress line is on screen */
    pthread_mutex_t lock;
};

void logger_init(crun_logger *logger, crun_log_level level, crun_log_fn fn, void *user);
void logger_destroy(crun_logger *logger);
/* A logger whose lines go to parent with "prefix: " before them (a run
 * inside a run).  Returns 0 or CRUN_ENOMEM; release with logger_destroy. */
int logger_init_child(crun_logger *child, crun_logger *parent, const char *prefix);
/* Write one line; prefix (e.g. a node name) may be NULL. */
void logger_vwrite(crun_logger *logger, crun_log_level level, const char *prefix,
                   const char *fmt, va_list ap);
void logger_write(crun_logger *logger, crun_log_level level, const char *prefix,
                  const char *fmt, ...) CRUN_PRINTF(4, 5);
/* Write each line of text (lines parted by '\n', none after the last) with
 * prefix, to stderr in one write (a sink gets them one by one). */
void logger_write_lines(crun_logger *logger, crun_log_level level, const char *prefix,
                        const char *text, size_t len);
/* Show "[done/total] text" as a progress line on a terminal (no-op elsewhere). */
void logger_progress(crun_logger *logger, const char *fmt, ...) CRUN_PRINTF(2, 3);
/* Clear the progress line, if any. */
void logger_progress_end(crun_logger *logger);

#endif
