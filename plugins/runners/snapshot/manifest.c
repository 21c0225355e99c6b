/* manifest.c - .crun/runs/<run id>/manifest.json: what a run ran on.
 *
 * The commit and whether the tree was dirty (and the snapshot's ref), crun's
 * version, the runner stack, the parameters, the env, every crun plugin
 * loaded in the process with an xxHash (XXH3, 128 bits) of its file, and
 * the file-backed datasets the run saved, with the newest version of the
 * versioned ones.  Written with a temporary file, fsync and rename, so a
 * reader sees the old manifest or the new one, never half of one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "inner.h"
#include "snapshot.h"

static char *file_hash(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    XXH3_state_t *st = fd >= 0 ? XXH3_createState() : NULL;
    char *hex = NULL;
    if (st && XXH3_128bits_reset(st) == XXH_OK) {
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            XXH3_128bits_update(st, buf, (size_t)n);
        XXH128_hash_t h = XXH3_128bits_digest(st);
        if (n == 0 && asprintf(&hex, "%016llx%016llx", (unsigned long long)h.high64,
                               (unsigned long long)h.low64) < 0)
            hex = NULL;
    }
    XXH3_freeState(st);
    if (fd >= 0)
        close(fd);
    return hex;
}

static int collect_object(struct dl_phdr_info *info, size_t size, void *user)
{
    (void)size;
    if (info->dlpi_name && info->dlpi_name[0])
        json_array_append_new(user, json_string(info->dlpi_name));
    return 0;
}

/* The crun plugins loaded in this process: objects defining crun_plugin_entry. */
static json_t *plugins_json(void)
{
    json_t *paths = json_array(), *out = json_array(), *p;
    dl_iterate_phdr(collect_object, paths);
    size_t i;
    json_array_foreach(paths, i, p) {
        const char *path = json_string_value(p);
        void *dl = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
        crun_plugin_entry_fn entry = dl ? (crun_plugin_entry_fn)dlsym(dl, CRUN_PLUGIN_ENTRY_SYMBOL)
                                        : NULL;
        Dl_info where;
        if (entry && dladdr((void *)entry, &where) && where.dli_fname &&
            strcmp(where.dli_fname, path) == 0) {
            const crun_plugin *d = entry();
            char *hash = file_hash(path), *real = realpath(path, NULL);
            json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "name", d->name,
                                                 "kind", crun_plugin_kind_name(d->kind),
                                                 "version", d->version ? d->version : "",
                                                 "path", real ? real : path, "xxh3_128", hash));
            free(hash);
            free(real);
        }
        if (dl)
            dlclose(dl);
    }
    json_decref(paths);
    return out;
}

/* The version this run saved: .crun/runs/<id>/save-version (shared by the
 * inner runs, which have the outer run's id), else the newest. */
static json_t *saved_version(crun_run *run, json_t *versions)
{
    char *path = NULL, buf[128] = "";
    if (asprintf(&path, "%s/.crun/runs/%s/save-version",
                 crun_session_dir(crun_run_session(run)), crun_run_id(run)) >= 0) {
        FILE *f = fopen(path, "re");
        if (f && fgets(buf, sizeof(buf), f))
            buf[strcspn(buf, "\n")] = '\0';
        if (f)
            fclose(f);
    }
    free(path);
    size_t i, n = json_array_size(versions);
    json_t *v;
    json_array_foreach(versions, i, v)
        if (buf[0] && strcmp(json_string_value(v), buf) == 0)
            return json_incref(v);
    return n ? json_incref(json_array_get(versions, n - 1)) : json_null();
}

static json_t *dataset_json(crun_run *run, const char *name, json_t *d)
{
    crun_session *s = crun_run_session(run);
    json_t *o = json_pack("{s:s, s:s?, s:O?, s:b}", "name", name, "type",
                          json_string_value(json_object_get(d, "type")), "filepath",
                          json_object_get(json_object_get(d, "options"), "filepath"),
                          "versioned", json_is_true(json_object_get(d, "versioned")));
    json_t *desc = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (o && json_is_true(json_object_get(d, "versioned")) &&
        crun_session_describe_dataset(s, name, &desc, &err) == 0) {
        json_object_set_new(o, "version", saved_version(run, json_object_get(desc, "versions")));
    }
    crun_error_clear(&err);
    json_decref(desc);
    return o;
}

/* The catalog datasets the run's nodes output (when it succeeded). */
static json_t *datasets_json(crun_run *run, const char *status)
{
    json_t *out = json_array(), *ir = NULL;
    char *nodes = inner_node_list(run);
    crun_filter f = CRUN_FILTER_INIT;
    f.nodes = nodes;
    crun_error err = CRUN_ERROR_INIT;
    crun_session *s = crun_run_session(run);
    if (strcmp(status, "succeeded") == 0 && nodes &&
        crun_session_compile(s, &f, &ir, &err) == 0) {
        json_t *ds = json_object_get(ir, "datasets"), *node, *port;
        size_t i, k;
        json_array_foreach(json_object_get(ir, "nodes"), i, node)
            json_array_foreach(json_object_get(node, "outputs"), k, port) {
                const char *name = json_string_value(json_object_get(port, "dataset"));
                json_t *d = name ? json_object_get(ds, name) : NULL;
                const char *kind = json_string_value(json_object_get(d, "kind"));
                if (kind && strcmp(kind, "catalog") == 0)
                    json_array_append_new(out, dataset_json(run, name, d));
            }
    }
    crun_error_clear(&err);
    json_decref(ir);
    free(nodes);
    return out;
}

static json_t *time_json(double t)
{
    if (t <= 0)
        return json_null();
    char buf[64];
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *manifest_json(crun_run *run, const snap_manifest *m)
{
    const snap_git *g = m->git;
    json_t *params = crun_run_params(run);
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_string(crun_run_id(run)));
    json_object_set_new(o, "status", json_string(m->status));
    json_object_set_new(o, "error", m->error ? json_string(m->error) : json_null());
    json_object_set_new(o, "started", time_json(m->started));
    json_object_set_new(o, "finished", time_json(m->finished));
    json_object_set_new(o, "project", json_string(m->dir));
    json_object_set_new(o, "commit", g->head ? json_string(g->head) : json_null());
    json_object_set_new(o, "dirty", json_boolean(g->dirty));
    json_object_set_new(o, "dirty_mode", json_string(m->dirty_mode));
    json_object_set_new(o, "changes", g->changes ? json_deep_copy(g->changes) : json_array());
    json_object_set_new(o, "snapshot_ref", g->snap_ref ? json_string(g->snap_ref) : json_null());
    json_object_set_new(o, "snapshot_commit",
                        g->snap_commit ? json_string(g->snap_commit) : json_null());
    json_object_set_new(o, "crun_version", json_string(crun_version()));
    json_object_set_new(o, "runner_stack", json_deep_copy(m->stack));
    json_object_set_new(o, "env", json_string(crun_session_env(crun_run_session(run))));
    json_object_set_new(o, "parameters", params ? json_deep_copy(params) : json_object());
    json_object_set_new(o, "nodes", json_array());
    for (size_t i = 0; i < crun_run_node_count(run); i++)
        json_array_append_new(json_object_get(o, "nodes"),
                              json_string(crun_run_node_name(run, i)));
    json_object_set_new(o, "plugins", plugins_json());
    json_object_set_new(o, "datasets", datasets_json(run, m->status));
    return o;
}

static int make_dirs(char *path, crun_error *err)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int bad = mkdir(path, 0777) != 0 && errno != EEXIST;
        *p = '/';
        if (bad)
            return crun_error_set(err, CRUN_EIO, "snapshot: cannot create %s: %s", path,
                                  strerror(errno));
    }
    return 0;
}

static int write_atomically(const char *path, const char *text, crun_error *err)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int fd = mkstemp(tmp), rc = 0;
    size_t len = strlen(text);
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        rc = crun_error_set(err, CRUN_EIO, "snapshot: cannot write %s: %s", path,
                            strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* .crun/ is crun's own (safe to delete): keep it out of git, so that a
 * run leaves `git status` as it was. */
static void ignore_crun_dir(const char *dir)
{
    char *path = NULL;
    if (asprintf(&path, "%s/.crun/.gitignore", dir) < 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    static const char text[] = "# crun's own state (safe to delete)\n*\n";
    if (fd >= 0) {
        if (write(fd, text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1)
            (void)unlink(path);
        close(fd);
    }
    free(path);
}

int snap_manifest_write(crun_run *run, const snap_manifest *m, crun_error *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/.crun/runs/%s/manifest.json", m->dir, crun_run_id(run)) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    json_t *o = manifest_json(run, m);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    int rc = text ? make_dirs(path, err) : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc) {
        ignore_crun_dir(m->dir);
        rc = write_atomically(path, text, err);
    }
    free(text);
    json_decref(o);
    free(path);
    return rc;
}
