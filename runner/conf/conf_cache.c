/* conf_cache.c - the events of a large YAML file, kept between runs.
 *
 * A cache file is a header (what it was made from, how long the rest is,
 * a checksum of the rest) and then one record per event:
 *
 *     byte   type (low 4 bits) | ANCHOR | TAG | IMPLICIT | QUOTED_IMPLICIT
 *     byte   style               STREAM-START, SCALAR, SEQUENCE- and MAPPING-START
 *     varint line - the previous event's line, zigzag-encoded
 *     varint column
 *     string anchor, string tag  when their bit is set
 *     string value               SCALAR
 *
 * where a string is a varint length, its bytes and a NUL, so that events
 * point into the mapped file and nothing is copied.  The records of a
 * pipelines file take 1.2-1.5 times its YAML text.  Every read is
 * bounds-checked; the checksum is checked before the first event is given,
 * so a damaged cache is never half-read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf_cache.h"
#include "conf/conf_events.h"
#include "crun/dataset.h"

/* Raise when the records or the header change. */
enum { FORMAT = 1, ORDER_MARK = 0x01020304 };

/* A file changed this recently may change again without its times moving. */
enum { SETTLE_SECONDS = 2 };

/* Records are written in blocks of about this many bytes. */
enum { FLUSH_AT = 64 * 1024 };

enum { ANCHOR = 1 << 4, TAG = 1 << 5, IMPLICIT = 1 << 6, QUOTED_IMPLICIT = 1 << 7 };

static const char magic[8] = {'c', 'r', 'u', 'n', 'y', 'e', 'v', '\n'};

typedef struct header {
    char magic[8];
    uint32_t format, byte_order;
    uint32_t yaml_version[3], unused;
    /* the source file */
    uint64_t dev, ino, size;
    int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
    /* the records: what is checked before, above, must match exactly */
    uint64_t events_len;
    uint64_t checksum;
} header;

static void describe_source(header *h, const struct stat *st)
{
    int major = 0, minor = 0, patch = 0;
    yaml_get_version(&major, &minor, &patch);
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, magic, sizeof(magic));
    h->format = FORMAT;
    h->byte_order = ORDER_MARK;
    h->yaml_version[0] = (uint32_t)major;
    h->yaml_version[1] = (uint32_t)minor;
    h->yaml_version[2] = (uint32_t)patch;
    h->dev = (uint64_t)st->st_dev;
    h->ino = (uint64_t)st->st_ino;
    h->size = (uint64_t)st->st_size;
    h->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    h->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
    h->ctime_sec = (int64_t)st->st_ctim.tv_sec;
    h->ctime_nsec = (int64_t)st->st_ctim.tv_nsec;
}

bool conf_cache_same_version(const struct stat *a, const struct stat *b)
{
    header ha, hb;
    describe_source(&ha, a);
    describe_source(&hb, b);
    return memcmp(&ha, &hb, sizeof(ha)) == 0;
}

/* --- the checksum: four independent lanes over 32-byte blocks, so that the
 * multiplications overlap (a few milliseconds for a 10 MB cache) ---------- */

enum { BLOCK = 32 };

typedef struct checksum {
    uint64_t lane[4];
} checksum;

static const uint64_t mix_prime = 0x9E3779B97F4A7C15u;

static void checksum_init(checksum *c)
{
    for (int i = 0; i < 4; i++)
        c->lane[i] = mix_prime * (uint64_t)(i + 1);
}

/* n: a multiple of BLOCK */
static void checksum_blocks(checksum *c, const unsigned char *p, size_t n)
{
    uint64_t a = c->lane[0], b = c->lane[1], d = c->lane[2], e = c->lane[3];
    for (size_t i = 0; i < n; i += BLOCK) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof(w));
        a = (a ^ w[0]) * mix_prime;
        b = (b ^ w[1]) * mix_prime;
        d = (d ^ w[2]) * mix_prime;
        e = (e ^ w[3]) * mix_prime;
        a ^= a >> 29;
        b ^= b >> 29;
        d ^= d >> 29;
        e ^= e >> 29;
    }
    c->lane[0] = a;
    c->lane[1] = b;
    c->lane[2] = d;
    c->lane[3] = e;
}

/* The last n (< BLOCK) bytes, padded with zeros, and the total length. */
static uint64_t checksum_end(checksum *c, const unsigned char *p, size_t n, uint64_t total)
{
    unsigned char last[BLOCK] = {0};
    if (n)
        memcpy(last, p, n);
    checksum_blocks(c, last, BLOCK);
    uint64_t h = total;
    for (int i = 0; i < 4; i++) {
        h = (h ^ c->lane[i]) * mix_prime;
        h ^= h >> 31;
    }
    return h;
}

/* --- reading ------------------------------------------------------------- */

struct conf_cache_reader {
    unsigned char *map;
    size_t map_len;
    const unsigned char *at, *end;
    uint64_t line;
};

conf_cache_reader *conf_cache_open(const char *cache_path, const struct stat *source)
{
    /* no waiting on a FIFO, no following a link someone put there */
    int fd = open(cache_path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    header want, got;
    describe_source(&want, source);
    struct stat st;
    /* a cache is trusted only from this user or the owner of the file */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_uid != geteuid() && st.st_uid != source->st_uid) ||
        (uint64_t)st.st_size < sizeof(got) || (uint64_t)st.st_size > SIZE_MAX ||
        pread(fd, &got, sizeof(got), 0) != (ssize_t)sizeof(got) ||
        memcmp(&got, &want, offsetof(header, events_len)) != 0 ||
        got.events_len != (uint64_t)st.st_size - sizeof(got)) {
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size, events_len = len - sizeof(got);
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return NULL;
    const unsigned char *events = (const unsigned char *)map + sizeof(header);
    size_t whole = events_len & ~(size_t)(BLOCK - 1);
    checksum c;
    checksum_init(&c);
    checksum_blocks(&c, events, whole);
    conf_cache_reader *r = NULL;
    if (checksum_end(&c, events + whole, events_len - whole, got.events_len) == got.checksum &&
        (r = malloc(sizeof(*r)))) {
        *r = (conf_cache_reader){.map = map, .map_len = len, .at = events,
                                 .end = events + events_len};
        return r;
    }
    munmap(map, len);
    return NULL;
}

static bool get_varint(conf_cache_reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && r->at < r->end; shift += 7) {
        unsigned char b = *r->at++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* A string: its length, its bytes, a NUL. */
static bool get_string(conf_cache_reader *r, const yaml_char_t **s, size_t *len)
{
    uint64_t n;
    if (!get_varint(r, &n) || n >= (uint64_t)(r->end - r->at) || r->at[n] != 0)
        return false;
    *s = r->at;
    if (len)
        *len = (size_t)n;
    r->at += n + 1;
    return true;
}

static bool has_style(yaml_event_type_t type)
{
    return type == YAML_STREAM_START_EVENT || type == YAML_SCALAR_EVENT ||
           type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT;
}

bool conf_cache_next(conf_cache_reader *r, yaml_event_t *ev)
{
    if (r->at >= r->end)
        return false;
    unsigned flags = *r->at++;
    yaml_event_type_t type = (yaml_event_type_t)(flags & 15);
    if (type < YAML_STREAM_START_EVENT || type > YAML_MAPPING_END_EVENT)
        return false;
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    int style = 0;
    if (has_style(type)) {
        if (r->at >= r->end)
            return false;
        style = *r->at++;
    }
    uint64_t delta, column;
    if (!get_varint(r, &delta) || !get_varint(r, &column))
        return false;
    r->line += (delta >> 1) ^ (0 - (delta & 1));
    ev->start_mark.line = (size_t)r->line;
    ev->start_mark.column = (size_t)column;
    ev->end_mark = ev->start_mark;
    conf_event_fields f = {.style = style, .implicit = (flags & IMPLICIT) != 0,
                           .quoted_implicit = (flags & QUOTED_IMPLICIT) != 0};
    if (((flags & ANCHOR) && !get_string(r, &f.anchor, NULL)) ||
        ((flags & TAG) && !get_string(r, &f.tag, NULL)) ||
        (type == YAML_SCALAR_EVENT && !get_string(r, &f.value, &f.length)) ||
        (type == YAML_ALIAS_EVENT && !f.anchor))
        return false;
    conf_event_set_fields(ev, &f);
    return true;
}

void conf_cache_close(conf_cache_reader *r)
{
    if (!r)
        return;
    munmap(r->map, r->map_len);
    free(r);
}

/* --- writing ------------------------------------------------------------- */

struct conf_cache_writer {
    int fd;
    char *path, *tmp;
    unsigned char *buf; /* records not written yet */
    size_t len, cap;
    uint64_t written;   /* bytes of records in the file */
    uint64_t line;
    checksum sum;
    bool failed;
    header head;
};

/* a later than b */
static bool after(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/* Whether the file was last changed SETTLE_SECONDS or more before now. */
static bool settled(const struct stat *source, struct timespec now)
{
    now.tv_sec -= SETTLE_SECONDS;
    return !after(&source->st_mtim, &now) && !after(&source->st_ctim, &now);
}

/* Temporary files of base (base.XXXXXX) in dir that no writer can still be
 * writing: what a killed crun left behind. */
static void remove_stale_temporaries(const char *path, time_t now)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base);
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        struct stat st;
        if (strncmp(e->d_name, base, base_len) != 0 || e->d_name[base_len] != '.' ||
            strlen(e->d_name + base_len + 1) != 6 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode) || now - st.st_mtim.tv_sec < 3600)
            continue;
        unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
    free(dir);
}

conf_cache_writer *conf_cache_create(const char *cache_path, const struct stat *source,
                                     const struct timespec *read_at)
{
    struct stat there;
    if (!settled(source, *read_at) ||
        (lstat(cache_path, &there) == 0 && !S_ISREG(there.st_mode)))
        return NULL;
    if (crun_mkdir_parents(cache_path, NULL) != 0)
        return NULL;
    conf_cache_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->fd = -1;
    w->cap = FLUSH_AT + 4096;
    if (!(w->buf = malloc(w->cap)) || !(w->path = strdup(cache_path)) ||
        asprintf(&w->tmp, "%s.XXXXXX", cache_path) < 0) {
        w->tmp = NULL;
        conf_cache_finish(w, false);
        return NULL;
    }
    /* readable by whom the file is readable by; the file system's own clock
     * must agree that the file has settled (NFS: the server's) */
    struct stat made;
    if ((w->fd = mkostemp(w->tmp, O_CLOEXEC)) < 0 ||
        fchmod(w->fd, source->st_mode & 0666) != 0 || fstat(w->fd, &made) != 0 ||
        (made.st_dev == source->st_dev && !settled(source, made.st_mtim))) {
        if (w->fd < 0) {
            free(w->tmp); /* nothing to unlink */
            w->tmp = NULL;
        }
        conf_cache_finish(w, false);
        return NULL;
    }
    remove_stale_temporaries(cache_path, made.st_mtim.tv_sec);
    describe_source(&w->head, source);
    checksum_init(&w->sum);
    return w;
}

static bool write_at(int fd, const void *data, size_t len, uint64_t offset)
{
    const unsigned char *p = data;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return true;
}

/* Write the whole blocks of the buffer (all of it when last), adding them
 * to the checksum. */
static void flush(conf_cache_writer *w, bool last)
{
    size_t n = last ? w->len : w->len & ~(size_t)(BLOCK - 1);
    size_t whole = n & ~(size_t)(BLOCK - 1);
    checksum_blocks(&w->sum, w->buf, whole);
    if (!w->failed && !write_at(w->fd, w->buf, n, sizeof(header) + w->written))
        w->failed = true;
    w->written += n;
    if (last) {
        w->head.events_len = w->written;
        w->head.checksum = checksum_end(&w->sum, w->buf + whole, n - whole, w->written);
    }
    if (w->len > n)
        memmove(w->buf, w->buf + n, w->len - n);
    w->len -= n;
}

static unsigned char *put_varint(unsigned char *at, uint64_t v)
{
    while (v >= 0x80) {
        *at++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *at++ = (unsigned char)v;
    return at;
}

static unsigned char *put_string(unsigned char *at, const yaml_char_t *s, size_t n)
{
    at = put_varint(at, n);
    memcpy(at, s, n);
    at[n] = 0;
    return at + n + 1;
}

/* What a string takes at most. */
static size_t string_room(size_t n)
{
    return 10 + n + 1;
}

void conf_cache_put(conf_cache_writer *w, const yaml_event_t *ev)
{
    if (w->failed) /* it will not be kept */
        return;
    conf_event_fields f;
    conf_event_fields_of(ev, &f);
    size_t anchor_len = f.anchor ? strlen((const char *)f.anchor) : 0;
    size_t tag_len = f.tag ? strlen((const char *)f.tag) : 0;
    size_t need = 2 + 10 + 10 + string_room(anchor_len) + string_room(tag_len) +
                  string_room(f.length);
    if (w->cap - w->len < need) {
        size_t cap = w->len + need > FLUSH_AT + 4096 ? w->len + need : FLUSH_AT + 4096;
        unsigned char *buf = realloc(w->buf, cap);
        if (!buf) {
            w->failed = true;
            return;
        }
        w->buf = buf;
        w->cap = cap;
    }
    unsigned char *at = w->buf + w->len;
    *at++ = (unsigned char)((unsigned)ev->type | (f.anchor ? ANCHOR : 0u) | (f.tag ? TAG : 0u) |
                            (f.implicit ? IMPLICIT : 0u) |
                            (f.quoted_implicit ? QUOTED_IMPLICIT : 0u));
    if (has_style(ev->type))
        *at++ = (unsigned char)f.style;
    /* zigzag: a small step back is a small number too */
    uint64_t line = ev->start_mark.line, delta = line - w->line;
    uint64_t back = delta >> 63 ? UINT64_MAX : 0;
    w->line = line;
    at = put_varint(at, (delta << 1) ^ back);
    at = put_varint(at, ev->start_mark.column);
    if (f.anchor)
        at = put_string(at, f.anchor, anchor_len);
    if (f.tag)
        at = put_string(at, f.tag, tag_len);
    if (ev->type == YAML_SCALAR_EVENT)
        at = put_string(at, f.value ? f.value : (const yaml_char_t *)"", f.length);
    w->len = (size_t)(at - w->buf);
    if (w->len >= FLUSH_AT)
        flush(w, false);
}

void conf_cache_finish(conf_cache_writer *w, bool keep)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        keep = keep && !w->failed;
        if (keep) {
            flush(w, true);
            keep = !w->failed && write_at(w->fd, &w->head, sizeof(w->head), 0);
        }
        keep = close(w->fd) == 0 && keep;
        if (!keep || rename(w->tmp, w->path) != 0)
            unlink(w->tmp);
    }
    free(w->buf);
    free(w->tmp);
    free(w->path);
    free(w);
}
