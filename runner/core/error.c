/* error.c - crun_error: a code plus an owned message.
 *
 * Every layer that adds context (a dataset's name, a node's name, a file
 * position) prefixes the message it received, so the user reads the whole
 * chain in one line: "node 'split': dataset 'x': data/x.csv: no such file".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crun/error.h"

const char *crun_strerror(int code)
{
    switch (code) {
    case CRUN_OK: return "success";
    case CRUN_ENOMEM: return "out of memory";
    case CRUN_EINVAL: return "invalid argument";
    case CRUN_ECONFIG: return "configuration error";
    case CRUN_EUSAGE: return "usage error";
    case CRUN_EPLUGIN: return "plugin error";
    case CRUN_ENOENT: return "not found";
    case CRUN_EIO: return "input/output error";
    case CRUN_EDATA: return "malformed data";
    case CRUN_ENODE: return "node failed";
    case CRUN_EHOOK: return "hook failed";
    case CRUN_ECANCELED: return "cancelled";
    default: return "unknown error";
    }
}

int crun_error_setv(crun_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    free(err->message);
    err->code = code;
    err->message = msg;
    return code;
}

int crun_error_set(crun_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    crun_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int crun_error_prefix(crun_error *err, const char *fmt, ...)
{
    if (!err)
        return 0;
    char *prefix = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&prefix, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->code;
    char *msg = NULL;
    if (asprintf(&msg, "%s%s", prefix, err->message ? err->message : crun_strerror(err->code)) >= 0) {
        free(err->message);
        err->message = msg;
    }
    free(prefix);
    return err->code;
}

void crun_error_clear(crun_error *err)
{
    if (!err)
        return;
    free(err->message);
    err->message = NULL;
    err->code = 0;
}

void crun_error_move(crun_error *dst, crun_error *src)
{
    if (!dst || dst == src)
        return;
    crun_error_clear(dst);
    if (!src)
        return;
    *dst = *src;
    src->message = NULL;
    src->code = 0;
}
