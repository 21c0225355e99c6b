/* plugin.c - the plugin loader: search path, dlopen, descriptor checks.
 *
 * The checks follow SQLite's and PostgreSQL's habit: prove the file was built
 * for this host before calling anything else in it.  We read the ELF magic
 * ourselves (dlopen's message for a text file is obscure), then resolve
 * crun_plugin_entry and look only at the descriptor's fixed head until magic
 * and ABI version are known good.  The table must be as large as its kind's
 * table was in the ABI minor the plugin declares; the host then works from a
 * full-size copy of descriptor and table, the members an older minor lacks
 * zeroed, as SQLite's extension routine table only ever grows at its end.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/options.h"
#include "plugin/plugin.h"
#include "core/suggest.h"

const char *crun_plugin_kind_name(crun_plugin_kind kind)
{
    switch (kind) {
    case CRUN_PLUGIN_RUNNER: return "runner";
    case CRUN_PLUGIN_DATASET: return "dataset";
    case CRUN_PLUGIN_HOOKS: return "hooks";
    case CRUN_PLUGIN_NODES: return "nodes";
    default: return "unknown";
    }
}

int plugin_cache_init(plugin_cache *c, const char *base_dir, char *const *dirs, size_t n_dirs)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->base_dir = strdup(base_dir ? base_dir : ".");
    c->dirs = calloc(n_dirs + 1, sizeof(char *));
    if (!c->base_dir || !c->dirs)
        return CRUN_ENOMEM;
    for (size_t i = 0; i < n_dirs; i++) {
        if (!dirs[i] || !dirs[i][0])
            continue;
        if (!(c->dirs[c->n_dirs] = strdup(dirs[i])))
            return CRUN_ENOMEM;
        c->n_dirs++;
    }
    return 0;
}

void plugin_cache_destroy(plugin_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].path);
        plugin_close_file(c->items[i].dl, c->items[i].desc);
    }
    free(c->items);
    for (size_t i = 0; i < c->n_names; i++)
        free(c->names[i].name);
    free(c->names);
    for (size_t i = 0; i < c->n_dirs; i++)
        free(c->dirs[i]);
    free(c->dirs);
    free(c->base_dir);
    pthread_mutex_destroy(&c->lock);
}

static int check_elf(const char *path, crun_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: %s", path, strerror(errno));
    struct stat st;
    unsigned char magic[4] = {0};
    ssize_t n = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        n = read(fd, magic, sizeof(magic));
    else
        n = -2;
    close(fd);
    if (n == -2)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: not a regular file", path);
    if (n != 4 || memcmp(magic, "\177ELF", 4) != 0)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: not a shared object (not an ELF "
                              "file)", path);
    return 0;
}

/* What each kind's table held in each minor of this major: entry [m] is
 * the size of the table in ABI CRUN_ABI_MAJOR.m.  A minor that appends a
 * member to a table appends an entry here (the size through that member);
 * the entries of earlier minors never change. */
static size_t table_size_in(crun_plugin_kind kind, unsigned minor)
{
    /* 2.1 grew crun_spawn and crun_command, no table */
    static const size_t runner[] = {CRUN_SIZE_THROUGH(crun_runner_type, check),
                                    CRUN_SIZE_THROUGH(crun_runner_type, check)};
    static const size_t dataset[] = {CRUN_SIZE_THROUGH(crun_dataset_type, save_file),
                                     CRUN_SIZE_THROUGH(crun_dataset_type, save_file)};
    static const size_t hooks[] = {CRUN_SIZE_THROUGH(crun_hooks_type, on),
                                   CRUN_SIZE_THROUGH(crun_hooks_type, on)};
    static const size_t nodes[] = {CRUN_SIZE_THROUGH(crun_nodes_type, n_nodes),
                                   CRUN_SIZE_THROUGH(crun_nodes_type, n_nodes)};
    _Static_assert(sizeof(runner) / sizeof(runner[0]) == CRUN_ABI_MINOR + 1,
                   "one runner table size per minor");
    switch (kind) {
    case CRUN_PLUGIN_RUNNER: return runner[minor];
    case CRUN_PLUGIN_DATASET: return dataset[minor];
    case CRUN_PLUGIN_HOOKS: return hooks[minor];
    case CRUN_PLUGIN_NODES: return nodes[minor];
    default: return 0;
    }
}

/* The descriptor's head that every major shares (magic, versions, size),
 * checked before anything else in it is read. */
static int check_versions(const char *path, const crun_plugin *d, crun_error *err)
{
    if (!d)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: not a crun plugin (%s returned "
                              "no descriptor)", path, CRUN_PLUGIN_ENTRY_SYMBOL);
    if (d->magic != CRUN_PLUGIN_MAGIC)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: not a crun plugin (bad magic "
                              "0x%08x in its descriptor)", path, d->magic);
    if (d->abi_major != CRUN_ABI_MAJOR)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: built for crun ABI %u.%u; this crun "
                              "speaks ABI %d.%d: rebuild the plugin against this crun", path,
                              d->abi_major, d->abi_minor, CRUN_ABI_MAJOR, CRUN_ABI_MINOR);
    if (d->abi_minor > CRUN_ABI_MINOR)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: built for crun ABI %u.%u, newer than "
                              "this crun's ABI %d.%d: use a newer crun, or rebuild the plugin "
                              "against this one", path, d->abi_major, d->abi_minor,
                              CRUN_ABI_MAJOR, CRUN_ABI_MINOR);
    if (d->size < CRUN_SIZE_THROUGH(crun_plugin, table) || !d->name || !d->table)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: malformed descriptor (no name or "
                              "function table)", path);
    return 0;
}

/* A copy of the descriptor and of its table at this host's full size: the
 * members an older plugin's table lacks are zero (their defaults), so the
 * rest of the host reads every member without asking. */
typedef struct plugin_copy {
    crun_plugin desc;
    union {
        crun_runner_type runner;
        crun_dataset_type dataset;
        crun_hooks_type hooks;
        crun_nodes_type nodes;
    } table;
} plugin_copy;

static int copy_plugin(const char *path, const crun_plugin *d, const crun_plugin **out,
                       crun_error *err)
{
    size_t need = table_size_in(d->kind, d->abi_minor);
    uint32_t have = *(const uint32_t *)d->table;
    if (!need)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: '%s' is of unknown kind %d", path,
                              d->name, (int)d->kind);
    if (have < need)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: malformed %s table (%u bytes; in ABI "
                              "%u.%u it has %zu): set .size = sizeof(the table)", path,
                              crun_plugin_kind_name(d->kind), have, d->abi_major, d->abi_minor,
                              need);
    plugin_copy *c = calloc(1, sizeof(*c));
    if (!c)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    memcpy(&c->desc, d, sizeof(c->desc) < d->size ? sizeof(c->desc) : d->size);
    c->desc.size = sizeof(c->desc);
    size_t full = table_size_in(d->kind, CRUN_ABI_MINOR);
    memcpy(&c->table, d->table, have < full ? have : full);
    *(uint32_t *)(void *)&c->table = (uint32_t)full;
    c->desc.table = &c->table;
    *out = &c->desc;
    return 0;
}

/* A node library's table: every entry named and with a function, so that
 * no lookup meets a NULL (a table of n_nodes entries at NULL, an entry
 * without a name, a name without a function). */
static int check_nodes(const char *path, const crun_plugin *d, crun_error *err)
{
    const crun_nodes_type *t = d->table;
    if (t->n_nodes && !t->nodes)
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: malformed nodes table (%zu "
                              "functions but no array of them)", path, t->n_nodes);
    for (size_t i = 0; i < t->n_nodes; i++)
        if (!t->nodes[i].name || !t->nodes[i].name[0] || !t->nodes[i].fn)
            return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: malformed nodes table (entry "
                                  "%zu has no %s)", path, i,
                                  t->nodes[i].fn ? "name" : "function");
    return 0;
}

int plugin_check_descriptor(const char *path, const crun_plugin *d, crun_plugin_kind kind,
                            const crun_plugin **out, crun_error *err)
{
    *out = NULL;
    int rc = check_versions(path, d, err);
    if (!rc && kind && d->kind != kind)
        rc = crun_error_set(err, CRUN_EPLUGIN, "plugin %s: '%s' is a %s plugin, not a %s plugin",
                            path, d->name, crun_plugin_kind_name(d->kind),
                            crun_plugin_kind_name(kind));
    if (!rc)
        rc = copy_plugin(path, d, out, err);
    if (!rc && (*out)->kind == CRUN_PLUGIN_NODES && (rc = check_nodes(path, *out, err)) != 0) {
        plugin_close_file(NULL, *out);
        *out = NULL;
    }
    return rc;
}

void plugin_close_file(void *dl, const crun_plugin *desc)
{
    /* desc is the first member of its plugin_copy */
    free((void *)(uintptr_t)desc);
    if (dl)
        dlclose(dl);
}

int plugin_open_file(const char *path, crun_plugin_kind kind, void **dl, const crun_plugin **out,
                     crun_error *err)
{
    *dl = NULL;
    *out = NULL;
    int rc = check_elf(path, err);
    if (rc)
        return rc;
    /* a plain file name is the file in the current folder, as the user
     * means it, not a name for dlopen's library search */
    char *local = NULL;
    if (!strchr(path, '/') && asprintf(&local, "./%s", path) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    void *h = dlopen(local ? local : path, RTLD_NOW | RTLD_LOCAL);
    free(local);
    if (!h) {
        const char *why = dlerror();
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: cannot be loaded: %s", path,
                              why ? why : "unknown reason");
    }
    dlerror();
    void *sym = dlsym(h, CRUN_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(h);
        return crun_error_set(err, CRUN_EPLUGIN, "plugin %s: not a crun plugin (no %s symbol)",
                              path, CRUN_PLUGIN_ENTRY_SYMBOL);
    }
    crun_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof(entry));
    /* everything is read before dlclose() unmaps it */
    rc = plugin_check_descriptor(path, entry(), kind, out, err);
    if (rc) {
        dlclose(h);
        return rc;
    }
    *dl = h;
    return 0;
}

int abi_struct_in(void *dst, size_t dst_size, const void *src, const char *what,
                  crun_error *err)
{
    uint32_t size;
    memcpy(&size, src, sizeof(size));
    if (size < sizeof(uint32_t))
        return crun_error_set(err, CRUN_EINVAL, "%s: size %u: set it to sizeof(%s) (start from "
                              "its _INIT macro)", what, size, what);
    const unsigned char *extra = (const unsigned char *)src + dst_size;
    for (size_t i = 0; size > dst_size && i < size - dst_size; i++)
        if (extra[i])
            return crun_error_set(err, CRUN_EINVAL, "%s: members past this crun's ABI %d.%d are "
                                  "set (size %u, this crun knows %zu bytes): use a newer crun",
                                  what, CRUN_ABI_MAJOR, CRUN_ABI_MINOR, size, dst_size);
    memcpy(dst, src, size < dst_size ? size : dst_size);
    memcpy(dst, &(uint32_t){(uint32_t)dst_size}, sizeof(uint32_t));
    return 0;
}

static bool is_path(const char *name)
{
    size_t n = strlen(name);
    return strchr(name, '/') || (n > 3 && strcmp(name + n - 3, ".so") == 0);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Collect plugin names (file stems) found in the search folders. */
static size_t known_names(plugin_cache *c, char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_dirs && n < max; i++) {
        DIR *d = opendir(c->dirs[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) && n < max) {
            size_t len = strlen(e->d_name);
            if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0) {
                const char *stem = strncmp(e->d_name, "lib", 3) == 0 ? e->d_name + 3 : e->d_name;
                names[n] = strndup(stem, strlen(stem) - 3);
                if (names[n])
                    n++;
            }
        }
        closedir(d);
    }
    return n;
}

static char *find_in_dirs(plugin_cache *c, const char *name)
{
    static const char *const patterns[] = {"%s/%s.so", "%s/lib%s.so"};
    for (size_t i = 0; i < c->n_dirs; i++)
        for (size_t k = 0; k < 2; k++) {
            char *path = NULL;
            if (asprintf(&path, patterns[k], c->dirs[i], name) < 0)
                return NULL;
            if (file_exists(path))
                return path;
            free(path);
        }
    return NULL;
}

static int not_found(plugin_cache *c, crun_plugin_kind kind, const char *name, crun_error *err)
{
    char *names[256];
    size_t n = known_names(c, names, 256);
    const char *best = suggest_closest(name, (const char *const *)names, n);
    size_t len = 0;
    char dirs[1024] = "";
    for (size_t i = 0; i < c->n_dirs && len < sizeof(dirs) - 2; i++)
        len += (size_t)snprintf(dirs + len, sizeof(dirs) - len, "%s%s", i ? ":" : "", c->dirs[i]);
    /* a node library is most often the project's own, not built yet */
    bool nodes = kind == CRUN_PLUGIN_NODES;
    crun_error_set(err, CRUN_EPLUGIN, "no %s plugin named '%s'%s%s%s (searched %s)%s%s%s",
                   crun_plugin_kind_name(kind), name, best ? " (did you mean '" : "",
                   best ? best : "", best ? "'?)" : "", c->n_dirs ? dirs : "no folders",
                   nodes ? "; is it built? build the node library as " : "", nodes ? name : "",
                   nodes ? ".so into a folder of crun.ini's plugin_path (for a project made by "
                           "`crun new`: meson setup b && meson compile -C b)" : "");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return CRUN_EPLUGIN;
}

static const crun_plugin *cached_name(plugin_cache *c, crun_plugin_kind kind, const char *name)
{
    const crun_plugin *d = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_names && !d; i++)
        if (c->names[i].kind == kind && strcmp(c->names[i].name, name) == 0)
            d = c->names[i].desc;
    pthread_mutex_unlock(&c->lock);
    return d;
}

static void remember_name(plugin_cache *c, crun_plugin_kind kind, const char *name,
                          const crun_plugin *d)
{
    pthread_mutex_lock(&c->lock);
    struct plugin_name *n = realloc(c->names, (c->n_names + 1) * sizeof(*n));
    if (n) {
        c->names = n;
        n[c->n_names] = (struct plugin_name){kind, strdup(name), d};
        if (n[c->n_names].name)
            c->n_names++;
    }
    pthread_mutex_unlock(&c->lock);
}

static int load_uncached(plugin_cache *c, crun_plugin_kind kind, const char *name,
                         const crun_plugin **out, crun_error *err);

int plugin_load(plugin_cache *c, crun_plugin_kind kind, const char *name, const crun_plugin **out,
                crun_error *err)
{
    if ((*out = cached_name(c, kind, name)))
        return 0;
    int rc = load_uncached(c, kind, name, out, err);
    if (rc == 0)
        remember_name(c, kind, name, *out);
    return rc;
}

static int load_uncached(plugin_cache *c, crun_plugin_kind kind, const char *name,
                         const crun_plugin **out, crun_error *err)
{
    char *path = NULL;
    if (is_path(name)) {
        if (name[0] == '/')
            path = strdup(name);
        else if (asprintf(&path, "%s/%s", c->base_dir, name) < 0)
            path = NULL;
        if (!path)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        if (!file_exists(path)) {
            int rc = crun_error_set(err, CRUN_EPLUGIN, "plugin %s: no such file", name);
            free(path);
            return rc;
        }
    }
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (!path && !(path = find_in_dirs(c, name)))
        rc = not_found(c, kind, name, err);
    for (size_t i = 0; !rc && i < c->n; i++) {
        if (strcmp(c->items[i].path, path) != 0)
            continue;
        const crun_plugin *d = c->items[i].desc;
        if (d->kind != kind)
            rc = crun_error_set(err, CRUN_EPLUGIN, "plugin %s: '%s' is a %s plugin, not a %s "
                                "plugin", path, d->name, crun_plugin_kind_name(d->kind),
                                crun_plugin_kind_name(kind));
        else
            *out = d;
        pthread_mutex_unlock(&c->lock);
        free(path);
        return rc;
    }
    void *dl = NULL;
    const crun_plugin *d = NULL;
    if (!rc)
        rc = plugin_open_file(path, kind, &dl, &d, err);
    if (!rc && c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        plugin_handle *items = realloc(c->items, cap * sizeof(*items));
        if (!items) {
            plugin_close_file(dl, d);
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        } else {
            c->items = items;
            c->cap = cap;
        }
    }
    if (!rc) {
        c->items[c->n++] = (plugin_handle){.path = path, .dl = dl, .desc = d};
        *out = d;
        path = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    free(path);
    return rc;
}

const crun_option *plugin_options(const crun_plugin *d, size_t *n)
{
    bool covered = d->size >= offsetof(crun_plugin, n_options) + sizeof(d->n_options);
    *n = covered && d->options ? d->n_options : 0;
    return *n ? d->options : NULL;
}

json_t *plugin_describe(const crun_plugin *d, const char *path)
{
    char abi[32];
    snprintf(abi, sizeof(abi), "%u.%u", d->abi_major, d->abi_minor);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", d->name, "kind",
                          crun_plugin_kind_name(d->kind), "version", d->version ? d->version : "",
                          "abi", abi, "description", d->description ? d->description : "",
                          "path", path);
    if (o && d->kind != CRUN_PLUGIN_NODES) {
        size_t n;
        const crun_option *table = plugin_options(d, &n);
        json_object_set_new(o, "options", options_table_json(table, n));
    }
    return o;
}

json_t *plugin_list(plugin_cache *c)
{
    json_t *out = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; out && seen && i < c->n_dirs; i++) {
        DIR *d = opendir(c->dirs[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len <= 3 || strcmp(e->d_name + len - 3, ".so") != 0)
                continue;
            char *path = NULL;
            if (asprintf(&path, "%s/%s", c->dirs[i], e->d_name) < 0)
                continue;
            void *dl;
            const crun_plugin *desc;
            crun_error err = CRUN_ERROR_INIT;
            if (plugin_open_file(path, 0, &dl, &desc, &err) == 0) {
                /* the first folder on the path wins, as plugin_load does */
                if (!json_object_get(seen, desc->name)) {
                    json_object_set_new(seen, desc->name, json_true());
                    json_array_append_new(out, plugin_describe(desc, path));
                }
                plugin_close_file(dl, desc);
            }
            crun_error_clear(&err);
            free(path);
        }
        closedir(d);
    }
    json_decref(seen);
    return out;
}
