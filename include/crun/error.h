/* crun/error.h - error codes and the error object every fallible call fills.
 *
 * Functions return 0 on success or a negative CRUN_E* code; when they take a
 * `crun_error *`, they also leave a human message there that says what failed
 * and where (file:line:column for configuration).  The caller owns the error
 * and releases its message with crun_error_clear().
 */
#ifndef CRUN_ERROR_H
#define CRUN_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CRUN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CRUN_PRINTF(fmt, args)
#endif

enum {
    CRUN_OK = 0,
    CRUN_ENOMEM = -1,    /* out of memory */
    CRUN_EINVAL = -2,    /* invalid argument to an API call */
    CRUN_ECONFIG = -3,   /* configuration error: YAML, crun.ini, references */
    CRUN_EUSAGE = -4,    /* bad command-line usage or filter */
    CRUN_EPLUGIN = -5,   /* a plugin could not be loaded or refused to start */
    CRUN_ENOENT = -6,    /* a file, dataset or node does not exist */
    CRUN_EIO = -7,       /* reading or writing a file failed */
    CRUN_EDATA = -8,     /* data is malformed (corrupt file, wrong value kind) */
    CRUN_ENODE = -9,     /* a node failed */
    CRUN_EHOOK = -10,    /* a hook failed */
    CRUN_ECANCELED = -11 /* the run was cancelled (Ctrl-C, SIGTERM, API) */
};

/* An error: a code and an owned, heap-allocated message (NULL when none).
 * Initialise with CRUN_ERROR_INIT; release with crun_error_clear(). */
typedef struct crun_error {
    int code;
    char *message;
} crun_error;

#define CRUN_ERROR_INIT {0, NULL}

/* The name of a CRUN_E* code ("configuration error"); never NULL. */
const char *crun_strerror(int code);

/* Replace err's content with code and a formatted message.  Returns code, so
 * that `return crun_error_set(err, CRUN_EIO, "...")` reads naturally.  err may
 * be NULL (the message is dropped). */
int crun_error_set(crun_error *err, int code, const char *fmt, ...) CRUN_PRINTF(3, 4);
int crun_error_setv(crun_error *err, int code, const char *fmt, va_list ap);

/* Put a formatted prefix before err's message ("dataset 'x': " + message),
 * keeping its code.  Returns the code. */
int crun_error_prefix(crun_error *err, const char *fmt, ...) CRUN_PRINTF(2, 3);

/* Free the message and reset err to CRUN_ERROR_INIT. */
void crun_error_clear(crun_error *err);

/* Move src's content into dst (clearing dst first); src is left empty. */
void crun_error_move(crun_error *dst, crun_error *src);

/* For "did you mean ...?": the one of the n candidates closest to word when
 * it is close enough to be a typo of it (edit distance at most a third of
 * word's length, at least 1), else NULL.  The result is one of candidates
 * (borrowed); NULL candidates are skipped.  Thread-safe. */
const char *crun_suggest(const char *word, const char *const *candidates, size_t n);

#ifdef __cplusplus
}
#endif
#endif
