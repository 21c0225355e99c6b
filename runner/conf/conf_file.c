/* conf_file.c - configuration files on disk: which may be read, and reading one.
 *
 * A configuration file (crun.ini, conf/<folder>/<kind>.yml) is a regular file of at
 * most CONF_MAX_FILE_BYTES.  It is opened without waiting (a FIFO with no
 * writer would otherwise block the open forever) and checked with fstat
 * before a byte is read, so a folder, a FIFO, a device such as /dev/zero or
 * a file over the limit is refused naming the path; a file that grows while
 * it is read stops at the limit too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

static int too_big(const char *display, crun_error *err)
{
    return crun_error_set(err, CRUN_ECONFIG, "%s: more than the %u MiB a configuration file "
                          "may hold", display, (unsigned)(CONF_MAX_FILE_BYTES >> 20));
}

static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode) ? "a folder" : S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket"
           : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "a special file";
}

int conf_open_file(const char *path, const char *display, struct stat *st, crun_error *err)
{
    /* O_NONBLOCK: a FIFO must not wait for a writer before fstat refuses it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return crun_error_set(err, errno == ENOENT ? CRUN_ENOENT : CRUN_ECONFIG,
                              "%s: cannot be read: %s", display, strerror(errno));
    int rc = 0;
    if (fstat(fd, st) != 0)
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: cannot be read: %s", display,
                            strerror(errno));
    else if (!S_ISREG(st->st_mode))
        rc = crun_error_set(err, CRUN_ECONFIG, "%s: is %s, not a file", display,
                            file_kind(st->st_mode));
    else if ((uint64_t)st->st_size > CONF_MAX_FILE_BYTES)
        rc = too_big(display, err);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* A file that grows past the limit while it is read is refused like one
 * too big. */
int conf_read_whole(int fd, size_t size, const char *display, char **text, size_t *len,
                    crun_error *err)
{
    size_t cap = size + 1, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
        if (!buf)
            return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", display);
        ssize_t got = read(fd, buf + n, cap - n);
        if (got == 0)
            break;
        if (got < 0 && errno == EINTR)
            continue;
        int rc = 0;
        if (got < 0)
            rc = crun_error_set(err, CRUN_ECONFIG, "%s: read error: %s", display,
                                strerror(errno));
        else if ((n += (size_t)got) > CONF_MAX_FILE_BYTES)
            rc = too_big(display, err);
        if (rc != 0) {
            free(buf);
            return rc;
        }
    }
    *text = buf;
    *len = n;
    return 0;
}
