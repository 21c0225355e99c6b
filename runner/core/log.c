/* log.c - the session's logger: leveled lines to a sink, with a progress line.
 *
 * Formatting happens outside the lock; only the write is serialised, so
 * parallel nodes pay little for logging.  With no sink set, lines go to stderr
 * as "crun: message" (warnings and errors marked), one write(2) per line, or
 * per block of lines (a command's output as it was read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

void logger_init(crun_logger *logger, crun_log_level level, crun_log_fn fn, void *user)
{
    memset(logger, 0, sizeof(*logger));
    logger->level = level;
    logger->fn = fn;
    logger->user = user;
    logger->tty = !fn && isatty(STDERR_FILENO);
    pthread_mutex_init(&logger->lock, NULL);
}

int logger_init_child(crun_logger *child, crun_logger *parent, const char *prefix)
{
    memset(child, 0, sizeof(*child));
    child->parent = parent;
    child->level = parent->level;
    child->tty = parent->tty;
    pthread_mutex_init(&child->lock, NULL);
    if (prefix && !(child->prefix = strdup(prefix)))
        return CRUN_ENOMEM;
    return 0;
}

void logger_destroy(crun_logger *logger)
{
    logger_progress_end(logger);
    free(logger->prefix);
    pthread_mutex_destroy(&logger->lock);
}

static const char *level_tag(crun_log_level level)
{
    switch (level) {
    case CRUN_LOG_ERROR: return "error: ";
    case CRUN_LOG_WARN: return "warning: ";
    case CRUN_LOG_DEBUG: return "debug: ";
    default: return "";
    }
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void logger_vwrite(crun_logger *logger, crun_log_level level, const char *prefix,
                   const char *fmt, va_list ap)
{
    if (!logger || level > logger->level)
        return;
    char *body = NULL;
    if (vasprintf(&body, fmt, ap) < 0)
        return;
    if (logger->parent) {
        const char *p = logger->prefix;
        if (p && prefix)
            logger_write(logger->parent, level, NULL, "%s: %s: %s", p, prefix, body);
        else
            logger_write(logger->parent, level, NULL, "%s%s%s", p ? p : prefix ? prefix : "",
                         p || prefix ? ": " : "", body);
        free(body);
        return;
    }
    char *line = NULL;
    int n;
    if (logger->fn)
        n = prefix ? asprintf(&line, "%s: %s", prefix, body) : asprintf(&line, "%s", body);
    else
        n = asprintf(&line, "%scrun: %s%s%s%s\n", logger->tty ? "\r\033[K" : "",
                     level_tag(level), prefix ? prefix : "", prefix ? ": " : "", body);
    free(body);
    if (n < 0)
        return;
    pthread_mutex_lock(&logger->lock);
    if (logger->fn)
        logger->fn(logger->user, level, line);
    else {
        write_all(STDERR_FILENO, line, (size_t)n);
        logger->progress_shown = false;
    }
    pthread_mutex_unlock(&logger->lock);
    free(line);
}

/* "crun: " + tag + prefix + ": " around each line of text, into one buffer. */
static char *format_lines(const crun_logger *logger, crun_log_level level, const char *prefix,
                          const char *text, size_t len, size_t *out_len)
{
    const char *head = logger->tty ? "\r\033[K" : "", *tag = level_tag(level);
    size_t lines = 1;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
        lines++;
    size_t extra = strlen(head) + strlen("crun: ") + strlen(tag) + strlen(prefix) + 3;
    char *buf = malloc(len + lines * extra);
    char *o = buf;
    for (const char *p = text, *end = text + len; buf && p <= end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        o += sprintf(o, "%scrun: %s%s: ", head, tag, prefix);
        memcpy(o, p, n);
        o += n;
        *o++ = '\n';
        p += n + 1;
    }
    *out_len = (size_t)(o - buf);
    return buf;
}

void logger_write_lines(crun_logger *logger, crun_log_level level, const char *prefix,
                        const char *text, size_t len)
{
    if (!logger || level > logger->level)
        return;
    size_t n = 0;
    /* a sink takes a line at a time, and a child logger prefixes each through its parent */
    char *buf = logger->fn || logger->parent ? NULL
                                             : format_lines(logger, level, prefix, text, len, &n);
    if (!buf) { /* a sink takes a line at a time; or no memory for the block */
        for (const char *p = text, *end = text + len; p <= end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t m = nl ? (size_t)(nl - p) : (size_t)(end - p);
            logger_write(logger, level, prefix, "%.*s", (int)m, p);
            p += m + 1;
        }
        return;
    }
    pthread_mutex_lock(&logger->lock);
    write_all(STDERR_FILENO, buf, n);
    logger->progress_shown = false;
    pthread_mutex_unlock(&logger->lock);
    free(buf);
}

void logger_write(crun_logger *logger, crun_log_level level, const char *prefix,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logger_vwrite(logger, level, prefix, fmt, ap);
    va_end(ap);
}

void crun_log(crun_logger *logger, crun_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logger_vwrite(logger, level, NULL, fmt, ap);
    va_end(ap);
}

void logger_progress(crun_logger *logger, const char *fmt, ...)
{
    if (!logger || !logger->tty || logger->level < CRUN_LOG_INFO)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (logger->parent) {
        logger_progress(logger->parent, "%s%s%s", logger->prefix ? logger->prefix : "",
                        logger->prefix ? ": " : "", buf);
        return;
    }
    char line[300];
    int m = snprintf(line, sizeof(line), "\r\033[K%s", buf);
    pthread_mutex_lock(&logger->lock);
    write_all(STDERR_FILENO, line, (size_t)(m < (int)sizeof(line) ? m : (int)sizeof(line) - 1));
    logger->progress_shown = true;
    pthread_mutex_unlock(&logger->lock);
}

void logger_progress_end(crun_logger *logger)
{
    if (!logger || !logger->tty)
        return;
    if (logger->parent) {
        logger_progress_end(logger->parent);
        return;
    }
    pthread_mutex_lock(&logger->lock);
    if (logger->progress_shown)
        write_all(STDERR_FILENO, "\r\033[K", 4);
    logger->progress_shown = false;
    pthread_mutex_unlock(&logger->lock);
}
