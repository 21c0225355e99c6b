/* file_saves.c - one run's memory of its saves: folders made, file systems to sync.
 *
 * A folder a save needed is made (or found) once per run and remembered
 * with the file system it lives on; a `durability: run` save marks that
 * file system, and the run's end syncs each marked one with one syncfs,
 * which writes every file, rename and folder of it at once.  One lock
 * guards the table: saves of a parallel run look folders up concurrently.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/file_saves.h"
#include "core/strmap.h"

typedef struct saves_fs {
    dev_t dev;
    int fd;     /* a folder on it, for syncfs */
    bool dirty; /* a `run` save wrote there since the last sync */
} saves_fs;

struct crun_file_saves {
    pthread_mutex_t lock;
    crun_durability level;
    strmap folders; /* folder -> index into fs; keys owned by names */
    char **names;
    size_t n_names, cap_names;
    saves_fs *fs;
    size_t n_fs;
};

crun_file_saves *file_saves_new(crun_durability level)
{
    crun_file_saves *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->level = level;
    strmap_init(&s->folders);
    return s;
}

void file_saves_free(crun_file_saves *s)
{
    if (!s)
        return;
    strmap_free(&s->folders);
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i]);
    free(s->names);
    for (size_t i = 0; i < s->n_fs; i++)
        close(s->fs[i].fd);
    free(s->fs);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

crun_durability file_saves_level(const crun_file_saves *s)
{
    return s->level;
}

/* The folder part of path into buf ("." when there is none); false when it does not fit. */
static bool dir_into(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (len >= size)
        return false;
    memcpy(buf, !slash ? "." : path, len);
    buf[len] = '\0';
    return true;
}

/* The index of dev in s->fs, adding it (with a descriptor of dir) when new;
 * -1 when dir cannot be opened or memory is short.  Under the lock. */
static long fs_index(crun_file_saves *s, dev_t dev, const char *dir)
{
    for (size_t i = 0; i < s->n_fs; i++)
        if (s->fs[i].dev == dev)
            return (long)i;
    saves_fs *fs = realloc(s->fs, (s->n_fs + 1) * sizeof(*fs));
    if (!fs)
        return -1;
    s->fs = fs;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    fs[s->n_fs] = (saves_fs){.dev = dev, .fd = fd};
    return (long)s->n_fs++;
}

/* Remember dir (which exists) and its file system.  Under the lock; a
 * failure only means it is not remembered. */
static void remember(crun_file_saves *s, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return;
    long fs = fs_index(s, st.st_dev, dir);
    if (fs < 0)
        return;
    if (s->n_names == s->cap_names) {
        size_t cap = s->cap_names ? s->cap_names * 2 : 16;
        char **names = realloc(s->names, cap * sizeof(*names));
        if (!names)
            return;
        s->names = names;
        s->cap_names = cap;
    }
    char *name = strdup(dir);
    if (!name)
        return;
    if (strmap_put(&s->folders, name, (size_t)fs, NULL) != 0) {
        free(name); /* present already (another save raced us), or no memory */
        return;
    }
    s->names[s->n_names++] = name;
}

static bool known(crun_file_saves *s, const char *dir, size_t *fs)
{
    size_t idx;
    pthread_mutex_lock(&s->lock);
    bool found = strmap_get(&s->folders, dir, &idx);
    pthread_mutex_unlock(&s->lock);
    if (found && fs)
        *fs = idx;
    return found;
}

/* Make dir and its missing parents: mkdir of dir itself first (it usually
 * exists, or only it is missing), else the prefixes left to right.  An
 * error names the prefix that could not be made. */
static int mkdir_all(char *dir, crun_error *err)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST)
        return 0;
    for (char *p = dir + 1; errno == ENOENT; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            int code = errno == ENOMEM ? CRUN_ENOMEM : errno == ENOENT ? CRUN_ENOENT : CRUN_EIO;
            crun_error_set(err, code, "%s: %s", dir, strerror(errno));
            *p = saved;
            return code;
        }
        *p = saved;
        if (saved == '\0')
            return 0;
        errno = ENOENT; /* go on to the next prefix */
    }
    int code = errno == ENOMEM ? CRUN_ENOMEM : CRUN_EIO;
    return crun_error_set(err, code, "%s: %s", dir, strerror(errno));
}

int file_saves_mkdir(crun_file_saves *s, const char *path, crun_error *err)
{
    char dir[PATH_MAX];
    if (!dir_into(path, dir, sizeof(dir)))
        return crun_error_set(err, CRUN_EIO, "%s: %s", path, strerror(ENAMETOOLONG));
    if (s && known(s, dir, NULL))
        return 0;
    int rc = mkdir_all(dir, err);
    if (!s)
        return rc;
    if (rc == 0) {
        pthread_mutex_lock(&s->lock);
        remember(s, dir);
        pthread_mutex_unlock(&s->lock);
    }
    return rc;
}

void file_saves_forget(crun_file_saves *s, const char *path)
{
    char dir[PATH_MAX];
    if (!s || !dir_into(path, dir, sizeof(dir)))
        return;
    pthread_mutex_lock(&s->lock);
    /* strmap has no removal: rebuild it without dir (a rare event) */
    strmap_free(&s->folders);
    strmap_init(&s->folders);
    size_t kept = 0;
    for (size_t i = 0; i < s->n_names; i++) {
        size_t fs = 0;
        struct stat st;
        if (strcmp(s->names[i], dir) == 0 || stat(s->names[i], &st) != 0) {
            free(s->names[i]);
            continue;
        }
        for (size_t f = 0; f < s->n_fs; f++)
            if (s->fs[f].dev == st.st_dev)
                fs = f;
        s->names[kept] = s->names[i];
        if (strmap_put(&s->folders, s->names[kept], fs, NULL) == 0)
            kept++;
        else
            free(s->names[kept]);
    }
    s->n_names = kept;
    pthread_mutex_unlock(&s->lock);
}

int file_saves_written(crun_file_saves *s, const char *path)
{
    char dir[PATH_MAX];
    size_t fs;
    if (!s || !dir_into(path, dir, sizeof(dir)))
        return -1;
    pthread_mutex_lock(&s->lock);
    if (!strmap_get(&s->folders, dir, &fs)) {
        remember(s, dir);
        if (!strmap_get(&s->folders, dir, &fs)) {
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
    }
    s->fs[fs].dirty = true;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int file_saves_sync(crun_file_saves *s, crun_error *err)
{
    if (!s)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_fs; i++) {
        if (!s->fs[i].dirty)
            continue;
        s->fs[i].dirty = false;
        if (syncfs(s->fs[i].fd) != 0 && rc == 0) {
            int e = errno;
            char link[64], where[PATH_MAX];
            snprintf(link, sizeof(link), "/proc/self/fd/%d", s->fs[i].fd);
            ssize_t n = readlink(link, where, sizeof(where) - 1);
            where[n > 0 ? n : 0] = '\0';
            rc = crun_error_set(err, CRUN_EIO, "syncing the run's files on the file system of "
                                "%s: %s", n > 0 ? where : "a saved folder", strerror(e));
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}
