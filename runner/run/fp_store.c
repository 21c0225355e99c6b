/* fp_store.c - .crun/fingerprints.db: what incremental runs remember.
 *
 * Three tables: nodes (name -> fingerprint, outputs' hash: small rows, all
 * read by every incremental run), details (name -> the lines they were
 * made from, read only to say what changed) and files (path -> size, mtime,
 * ctime, inode and content hash).  The database is sqlite3 in WAL mode with synchronous=NORMAL: many
 * crun processes read and write it at once (a busy writer is waited for),
 * and a process killed at any point leaves it valid (sqlite's journal).
 * Writes are kept in memory and written in one transaction per batch: at
 * once when the last batch is older than 50 ms (so a slow pipeline writes
 * each node as it ends), else with the 1024th pending row or at close, so
 * 100,000 quick nodes cost a hundred transactions, not 100,000.  A failed
 * write is logged by the caller and costs only a rerun next time.  One lock
 * guards everything: the parallel runner's threads record at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run/incremental.h"
#include "core/strmap.h"

enum { BATCH_ROWS = 1024, BUSY_MS = 30000 };
static const double batch_seconds = 0.05;
/* a file changed less than this before it was hashed may change again
 * within its timestamp's resolution: its row is not trusted (git's "racy") */
static const int64_t racy_ns = 2000000000;

typedef struct file_row {
    char *path;
    int64_t size, mtime, ctime, ino;
    fp_hash hash;
    bool dirty;
} file_row;

typedef struct node_row {
    char *name;
    fp_hash fp, out;
    char *detail;
} node_row;

struct fp_store {
    pthread_mutex_t lock;
    sqlite3 *db;
    file_row *files;   /* the rows read or made by this process */
    size_t n_files, cap_files;
    strmap file_index; /* path -> files[i] */
    node_row *pending;
    size_t n_pending, cap_pending;
    size_t dirty_files;
    double last_flush;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int db_error(sqlite3 *db, const char *path, crun_error *err)
{
    return crun_error_set(err, CRUN_EIO, "fingerprint store %s: %s", path,
                          db ? sqlite3_errmsg(db) : "cannot open");
}

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS nodes(name TEXT PRIMARY KEY, fp BLOB NOT NULL,"
    " out BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS details(name TEXT PRIMARY KEY, lines TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER,"
    " ctime INTEGER, ino INTEGER, hash BLOB) WITHOUT ROWID;";

int fp_store_open(const char *project_dir, fp_store **out, crun_error *err)
{
    *out = NULL;
    char *path = NULL;
    if (asprintf(&path, "%s/.crun/fingerprints.db", project_dir) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = crun_mkdir_parents(path, err);
    sqlite3 *db = NULL;
    if (!rc && sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        rc = db_error(db, path, err);
    if (!rc)
        sqlite3_busy_timeout(db, BUSY_MS);
    /* Two processes making a new store at once may get SQLITE_BUSY without
     * the busy handler (SQLite's deadlock avoidance while the first turns
     * WAL on): the schema is idempotent, so it is tried again, bounded. */
    int ex = SQLITE_OK;
    for (int tries = 0; !rc && (ex = sqlite3_exec(db, schema, NULL, NULL, NULL)) == SQLITE_BUSY &&
                        tries < BUSY_MS / 10; tries++)
        usleep(10 * 1000);
    if (!rc && ex != SQLITE_OK)
        rc = db_error(db, path, err);
    fp_store *st = rc ? NULL : calloc(1, sizeof(*st));
    if (!rc && !st)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(path);
    if (rc) {
        sqlite3_close(db);
        return rc;
    }
    pthread_mutex_init(&st->lock, NULL);
    st->db = db;
    strmap_init(&st->file_index);
    *out = st;
    return 0;
}

/* --- batches --- */

static int exec_row(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int write_batch(fp_store *st)
{
    sqlite3_stmt *qn = NULL, *qd = NULL, *qf = NULL;
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    if (!rc && (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO nodes VALUES(?,?,?)", -1,
                                   &qn, NULL) != SQLITE_OK ||
                sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO details VALUES(?,?)", -1,
                                   &qd, NULL) != SQLITE_OK ||
                sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO files VALUES(?,?,?,?,?,?)", -1,
                                   &qf, NULL) != SQLITE_OK))
        rc = -1;
    for (size_t i = 0; !rc && i < st->n_pending; i++) {
        node_row *r = &st->pending[i];
        sqlite3_bind_text(qn, 1, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(qn, 2, &r->fp, sizeof(r->fp), SQLITE_STATIC);
        sqlite3_bind_blob(qn, 3, &r->out, sizeof(r->out), SQLITE_STATIC);
        sqlite3_bind_text(qd, 1, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(qd, 2, r->detail, -1, SQLITE_STATIC);
        rc = exec_row(qn) || exec_row(qd) ? -1 : 0;
    }
    for (size_t i = 0; !rc && i < st->n_files; i++) {
        file_row *f = &st->files[i];
        if (!f->dirty)
            continue;
        sqlite3_bind_text(qf, 1, f->path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(qf, 2, f->size);
        sqlite3_bind_int64(qf, 3, f->mtime);
        sqlite3_bind_int64(qf, 4, f->ctime);
        sqlite3_bind_int64(qf, 5, f->ino);
        sqlite3_bind_blob(qf, 6, &f->hash, sizeof(f->hash), SQLITE_STATIC);
        rc = exec_row(qf);
    }
    sqlite3_finalize(qn);
    sqlite3_finalize(qd);
    sqlite3_finalize(qf);
    if (!rc && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    if (rc)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Under the lock.  Pending rows are dropped either way: a row not written
 * costs a rerun, never a wrong skip. */
static int flush_locked(fp_store *st)
{
    if (!st->n_pending && !st->dirty_files)
        return 0;
    int rc = write_batch(st);
    for (size_t i = 0; i < st->n_pending; i++) {
        free(st->pending[i].name);
        free(st->pending[i].detail);
    }
    st->n_pending = 0;
    for (size_t i = 0; i < st->n_files; i++)
        st->files[i].dirty = false;
    st->dirty_files = 0;
    st->last_flush = now_seconds();
    return rc;
}

int fp_store_flush(fp_store *st, crun_error *err)
{
    pthread_mutex_lock(&st->lock);
    int rc = flush_locked(st);
    if (rc)
        crun_error_set(err, CRUN_EIO, "fingerprint store: %s", sqlite3_errmsg(st->db));
    pthread_mutex_unlock(&st->lock);
    return rc ? CRUN_EIO : 0;
}

void fp_store_close(fp_store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    flush_locked(st);
    pthread_mutex_unlock(&st->lock);
    for (size_t i = 0; i < st->n_files; i++)
        free(st->files[i].path);
    free(st->files);
    free(st->pending);
    strmap_free(&st->file_index);
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

int fp_store_put_node(fp_store *st, const char *name, const fp_hash *fp, const fp_hash *out,
                      const char *detail)
{
    node_row r = {.name = strdup(name), .fp = *fp, .out = *out, .detail = strdup(detail)};
    int rc = 0;
    pthread_mutex_lock(&st->lock);
    if (st->n_pending == st->cap_pending) {
        size_t cap = st->cap_pending ? st->cap_pending * 2 : 64;
        node_row *p = realloc(st->pending, cap * sizeof(*p));
        if (p) {
            st->pending = p;
            st->cap_pending = cap;
        }
    }
    if (!r.name || !r.detail || st->n_pending == st->cap_pending) {
        free(r.name);
        free(r.detail);
        rc = CRUN_ENOMEM;
    } else {
        st->pending[st->n_pending++] = r;
        if (st->n_pending >= BATCH_ROWS || now_seconds() - st->last_flush >= batch_seconds)
            rc = flush_locked(st) ? CRUN_EIO : 0;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* --- reading --- */

int fp_store_each_node(fp_store *st, void (*fn)(void *, const char *, const fp_hash *,
                                                const fp_hash *),
                       void *user, crun_error *err)
{
    sqlite3_stmt *q = NULL;
    pthread_mutex_lock(&st->lock);
    int rc = sqlite3_prepare_v2(st->db, "SELECT name, fp, out FROM nodes", -1, &q, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        if (sqlite3_column_bytes(q, 1) != sizeof(fp_hash) ||
            sqlite3_column_bytes(q, 2) != sizeof(fp_hash))
            continue;
        fp_hash fp, out;
        memcpy(&fp, sqlite3_column_blob(q, 1), sizeof(fp));
        memcpy(&out, sqlite3_column_blob(q, 2), sizeof(out));
        fn(user, (const char *)sqlite3_column_text(q, 0), &fp, &out);
    }
    if (rc != SQLITE_DONE)
        crun_error_set(err, CRUN_EIO, "fingerprint store: %s", sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc == SQLITE_DONE ? 0 : CRUN_EIO;
}

char *fp_store_detail(fp_store *st, const char *name)
{
    sqlite3_stmt *q = NULL;
    char *out = NULL;
    pthread_mutex_lock(&st->lock);
    for (size_t i = st->n_pending; i-- > 0 && !out;)
        if (strcmp(st->pending[i].name, name) == 0)
            out = strdup(st->pending[i].detail);
    if (!out &&
        sqlite3_prepare_v2(st->db, "SELECT lines FROM details WHERE name=?", -1, &q, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            out = strdup((const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return out;
}

/* --- files --- */

static int hash_file(const char *path, fp_hash *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CRUN_ENOENT : CRUN_EIO;
    XXH3_state_t *h = XXH3_createState();
    char *buf = malloc(1 << 16);
    int rc = h && buf && XXH3_128bits_reset(h) == XXH_OK ? 0 : CRUN_ENOMEM;
    ssize_t n;
    while (!rc && (n = read(fd, buf, 1 << 16)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = CRUN_EIO;
        else
            XXH3_128bits_update(h, buf, (size_t)n);
    }
    if (!rc)
        *out = XXH3_128bits_digest(h);
    XXH3_freeState(h);
    free(buf);
    close(fd);
    return rc;
}

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The row of path (this process's, else the database's, else a new
 * empty one), under the lock; NULL when out of memory. */
static file_row *file_row_of(fp_store *st, const char *path)
{
    size_t i;
    if (strmap_get(&st->file_index, path, &i))
        return &st->files[i];
    if (st->n_files == st->cap_files) {
        /* the index keeps pointers to the paths, which do not move */
        size_t cap = st->cap_files ? st->cap_files * 2 : 16;
        file_row *f = realloc(st->files, cap * sizeof(*f));
        if (!f)
            return NULL;
        st->files = f;
        st->cap_files = cap;
    }
    file_row *r = &st->files[st->n_files];
    *r = (file_row){.path = strdup(path), .size = -1};
    if (!r->path || strmap_put(&st->file_index, r->path, st->n_files, NULL) < 0) {
        free(r->path);
        return NULL;
    }
    st->n_files++;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT size, mtime, ctime, ino, hash FROM files WHERE path=?",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 4) == sizeof(fp_hash)) {
            r->size = sqlite3_column_int64(q, 0);
            r->mtime = sqlite3_column_int64(q, 1);
            r->ctime = sqlite3_column_int64(q, 2);
            r->ino = sqlite3_column_int64(q, 3);
            memcpy(&r->hash, sqlite3_column_blob(q, 4), sizeof(fp_hash));
        }
    }
    sqlite3_finalize(q);
    return r;
}

int fp_store_file_hash(fp_store *st, const char *path, fp_hash *out)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT || errno == ENOTDIR ? CRUN_ENOENT : CRUN_EIO;
    if (!S_ISREG(sb.st_mode))
        return CRUN_ENOENT;
    int64_t mtime = ns_of(sb.st_mtim), ctime = ns_of(sb.st_ctim);
    pthread_mutex_lock(&st->lock);
    file_row *r = file_row_of(st, path);
    if (r && r->size == (int64_t)sb.st_size && r->mtime == mtime && r->ctime == ctime &&
        r->ino == (int64_t)sb.st_ino) {
        *out = r->hash;
        pthread_mutex_unlock(&st->lock);
        return 0;
    }
    pthread_mutex_unlock(&st->lock);
    /* read without the lock: other threads go on hashing their files */
    int rc = hash_file(path, out);
    if (rc)
        return rc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    bool racy = ns_of(now) - mtime < racy_ns || ns_of(now) - ctime < racy_ns;
    pthread_mutex_lock(&st->lock);
    if ((r = file_row_of(st, path))) {
        *r = (file_row){.path = r->path, .size = racy ? -1 : (int64_t)sb.st_size,
                        .mtime = mtime, .ctime = ctime, .ino = (int64_t)sb.st_ino,
                        .hash = *out, .dirty = !racy};
        st->dirty_files += !racy;
    }
    pthread_mutex_unlock(&st->lock);
    return 0;
}
