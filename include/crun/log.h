/* crun/log.h - logging through the host.
 *
 * Plugins and embedding programs log through a crun_logger that the host
 * owns (the session's, a run's, the one create() receives), so that output
 * is ordered, prefixed and can be silenced.  A logger is borrowed: never
 * free it, and do not keep it past the object it came from.
 * Thread-safety: crun_log may be called from any thread; lines never
 * interleave.
 */
#ifndef CRUN_LOG_PUBLIC_H
#define CRUN_LOG_PUBLIC_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum crun_log_level {
    CRUN_LOG_ERROR = 0,
    CRUN_LOG_WARN = 1,
    CRUN_LOG_INFO = 2,
    CRUN_LOG_DEBUG = 3
} crun_log_level;

typedef struct crun_logger crun_logger;

/* Write one line (no trailing newline needed) at level. */
void crun_log(crun_logger *logger, crun_log_level level, const char *fmt, ...) CRUN_PRINTF(3, 4);

/* Receives every log line of a session (without a trailing newline); called
 * from any thread, one line at a time (crun_session_options.log_fn). */
typedef void (*crun_log_fn)(void *user, crun_log_level level, const char *line);

#ifdef __cplusplus
}
#endif
#endif
