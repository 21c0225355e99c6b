/* project.c - a project folder into merged, interpolated configuration trees.
 *
 * crun.ini (inih, read through our own line-counting reader so errors say
 * "crun.ini:LINE") gives the name, default env, plugin path and hooks.  Then
 * each kind of YAML file is read from conf/base and conf/<env>: files of one
 * folder are joined (a top-level key may appear in only one of them), the two
 * folders merged as DESIGN.md says, and ${...} resolved against globals.yml,
 * --params and the environment.  --params finally override parameters
 * (params.c parses and applies them).  The pipelines files come last and are
 * streamed: each node definition goes to the caller's sink as it is read
 * (ir/'s builder: what a node or a dataset is stays the IR's business, and
 * conf/ knows nothing of it), and only their skeleton stays a tree.
 */
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/project.h"
#include "conf/project_settings.h"
#include "core/suggest.h"


typedef enum merge_mode { MERGE_WHOLE, MERGE_DEEP } merge_mode;

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Something is there (what it is, and whether it can be read, is for its
 * reader to say). */
static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 || errno != ENOENT;
}


/* --- conf/<folder>/<kind>*.yml -------------------------------------------------- */

static bool has_yaml_ext(const char *s)
{
    return strcmp(s, ".yml") == 0 || strcmp(s, ".yaml") == 0;
}

/* <kind>.yml, <kind>.yaml, <kind>_*.yml, <kind>_*.yaml */
static bool is_kind_file(const char *name, const char *kind)
{
    size_t k = strlen(kind);
    if (strncmp(name, kind, k) != 0)
        return false;
    const char *rest = name + k, *dot = strrchr(rest, '.');
    if (!dot || !has_yaml_ext(dot))
        return false;
    return dot == rest || rest[0] == '_';
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The kind's files in folder (shown as display), sorted; none when the
 * folder does not exist.  One that cannot be read (a file, a link loop) is a
 * configuration error. */
static int list_kind_files(const char *folder, const char *display, const char *kind,
                           char ***out, size_t *n_out, crun_error *err)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(folder);
    if (!d && errno == ENOTDIR)
        return crun_error_set(err, CRUN_ECONFIG, "%s: is a file, not a folder", display);
    if (!d)
        return errno == ENOENT ? 0 : crun_error_set(err, CRUN_ECONFIG, "%s: cannot be read: %s",
                                                     display, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (!is_kind_file(e->d_name, kind))
            continue;
        char **grown = realloc(names, (n + 1) * sizeof(char *));
        if (!grown || !(grown[n] = strdup(e->d_name))) {
            names = grown ? grown : names;
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (rc != 0) {
        free_names(names, n);
        return rc;
    }
    if (n > 1)
        qsort(names, n, sizeof(char *), compare_names);
    *out = names;
    *n_out = n;
    return 0;
}

/* A key in two files of one folder is ambiguous: refused, naming both places. */
static int check_joined(const conf_node *folder_tree, const conf_node *key, crun_error *err)
{
    const conf_node *first = conf_get_key(folder_tree, key->str);
    if (!first)
        return 0;
    char where[512];
    return conf_error(err, key, "'%s' is already defined at %s (a key may appear in only one "
                      "file of a folder)", key->str, conf_where(first, where, sizeof(where)));
}

/* Add one file's top-level keys to the folder's tree. */
static int join_file(conf_node **folder_tree, conf_node *root, crun_error *err)
{
    if (!*folder_tree) {
        *folder_tree = root;
        return 0;
    }
    for (size_t i = 0; i < root->n; i++) {
        int rc = check_joined(*folder_tree, root->items[2 * i], err);
        if (rc) {
            conf_free(root);
            return rc;
        }
    }
    *folder_tree = conf_merge(*folder_tree, root, false);
    return 0;
}

static int read_kind_file(project *p, const char *folder, const char *name,
                          const conf_stream *stream, conf_node **out, crun_error *err)
{
    char *display = NULL, *path = NULL, *cache = NULL;
    int rc = CRUN_ENOMEM;
    *out = NULL;
    /* a large file's events are cached in .crun/cache/ (conf_cache.h) */
    if (asprintf(&display, "%s/%s/%s", p->conf_display, folder, name) >= 0 &&
        asprintf(&path, "%s/%s/%s", p->conf, folder, name) >= 0 &&
        asprintf(&cache, "%s/.crun/cache/%s.events", p->dir,
                 display + strspn(display, "/")) >= 0)
        rc = conf_parse_file_stream(p->pool, path, display, cache, stream, out, err);
    else
        crun_error_set(err, rc, "out of memory");
    if (rc == 0 && (*out)->kind != CONF_MAP && (*out)->kind != CONF_NULL) {
        rc = conf_error(err, *out, "expected a map at the top of the file, got %s",
                        conf_kind_name(*out));
        conf_free(*out);
        *out = NULL;
    } else if (rc == 0 && (*out)->kind == CONF_NULL) {
        conf_free(*out); /* an empty file (or only comments) adds nothing */
        *out = NULL;
    }
    free(display);
    free(path);
    free(cache);
    return rc;
}

/* The kind's files of folder joined into *out (NULL when there are none);
 * stream, if not NULL, is given each file as it is read. */
static int load_folder(project *p, const char *folder, const char *kind, const conf_stream *stream,
                       conf_node **out, crun_error *err)
{
    char *dir = path_join(p->conf, folder);
    char **names = NULL, *display = NULL;
    size_t n = 0;
    if (asprintf(&display, "%s/%s", p->conf_display, folder) < 0)
        display = NULL;
    int rc = dir && display
                 ? list_kind_files(dir, display, kind, &names, &n, err)
                 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(display);
    *out = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        conf_node *root = NULL;
        rc = read_kind_file(p, folder, names[i], stream, &root, err);
        if (rc == 0 && root)
            rc = join_file(out, root, err);
    }
    if (rc != 0) {
        conf_free(*out);
        *out = NULL;
    }
    free_names(names, n);
    free(dir);
    return rc;
}

/* pipelines.yml: under each top-level key (libraries, pipelines) entries are
 * replaced whole, so an env can swap one pipeline without restating others. */
static conf_node *merge_entries(conf_node *base, conf_node *over)
{
    if (!base || !over || base->kind != CONF_MAP || over->kind != CONF_MAP)
        return conf_merge(base, over, false);
    for (size_t i = 0; i < over->n; i++) {
        conf_node *key = over->items[2 * i], *val = over->items[2 * i + 1];
        conf_node *mine = conf_get(base, key->str);
        over->items[2 * i] = over->items[2 * i + 1] = NULL;
        if (mine && mine->kind == CONF_MAP && val->kind == CONF_MAP) {
            conf_merge(mine, val, false); /* two maps: merged into mine, which stays */
            conf_free(key);
        } else if (mine && mine->kind == CONF_MAP && val->kind == CONF_NULL) {
            conf_free(key); /* "pipelines:" with nothing under it replaces nothing */
            conf_free(val);
        } else if (conf_set(base, key, val) != 0) {
            continue; /* out of memory: key and val were freed, base stays valid */
        }
    }
    over->n = 0;
    conf_free(over);
    return base;
}

/* The kind's files of base and the env, merged (not interpolated). */
static int merge_kind(project *p, const char *kind, merge_mode mode, conf_node **out,
                      crun_error *err)
{
    conf_node *base = NULL, *over = NULL;
    int rc = load_folder(p, "base", kind, NULL, &base, err);
    if (rc == 0)
        rc = load_folder(p, p->env, kind, NULL, &over, err);
    if (rc != 0) {
        conf_free(base);
        return rc;
    }
    *out = conf_merge(base, over, mode == MERGE_DEEP);
    return 0;
}

static int load_kind(project *p, const char *kind, merge_mode mode, const conf_interp *ictx,
                     conf_node **out, crun_error *err)
{
    int rc = merge_kind(p, kind, mode, out, err);
    return rc ? rc : conf_interpolate(*out, ictx, err);
}

/* The catalog, kept also before interpolation when ${runtime_params:...}
 * appears in it: a run with parameters of its own resolves it again. */
static int load_catalog(project *p, const conf_interp *ictx, crun_error *err)
{
    int rc = merge_kind(p, "catalog", MERGE_WHOLE, &p->catalog, err);
    if (rc != 0)
        return rc;
    if (p->catalog && conf_uses_resolver(p->catalog, "runtime_params") &&
        !(p->catalog_raw = conf_copy(p->catalog)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return conf_interpolate(p->catalog, ictx, err);
}

static int load_hooks(project *p, const conf_interp *ictx, crun_error *err)
{
    const char *folders[] = {"base", p->env};
    for (size_t i = 0; i < 2; i++) {
        conf_node *tree = NULL;
        int rc = load_folder(p, folders[i], "hooks", NULL, &tree, err);
        if (rc == 0)
            rc = conf_interpolate(tree, ictx, err);
        if (rc == 0)
            rc = project_apply_hooks_yml(p, tree, err);
        conf_free(tree);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* --- pipelines, streamed into IR nodes ------------------------------------------ */

/* The files of one folder are streamed (base's, or the env's when base has
 * none): each node definition is interpolated and handed to the IR builder
 * the moment it is read, and only the skeleton (libraries, pipelines with
 * their includes) stays as a tree.  The other folder (an env's overrides,
 * usually small) is read whole first, so that a base pipeline the env
 * replaces is skipped and the env's nodes are built in its place: nodes come
 * out in the order of the merged configuration, as if it had been read whole. */
typedef struct pipes_load {
    project *p;
    const conf_interp *ictx;
    const project_nodes *sink; /* where node definitions go (NULL: nowhere) */
    conf_node **folder;     /* the streamed folder's files read so far, joined */
    conf_node *env_pipes;   /* the env's 'pipelines' map, or NULL */
    bool env_replaces;      /* the env's 'pipelines' is not a map: it replaces base's whole */
    conf_node **env_built;  /* env definitions built in base's place, not yet marked */
    size_t n_env_built;
} pipes_load;

static int sink_list(pipes_load *L, const char *pipeline, const conf_node *defs, crun_error *err)
{
    return L->sink ? L->sink->list(L->sink->user, pipeline, defs, err) : 0;
}

/* Build the nodes of pipeline name (its definition def) unless they were
 * streamed; they then become an empty list marked streamed, so that
 * nothing reads or interpolates them twice. */
static int build_def_nodes(pipes_load *L, const char *name, conf_node *def, bool interpolate,
                           crun_error *err)
{
    conf_node *nodes = def->kind == CONF_MAP ? conf_get(def, "nodes") : NULL;
    if (!nodes || (nodes->kind == CONF_SEQ && nodes->streamed))
        return 0;
    int rc = interpolate ? conf_interpolate(nodes, L->ictx, err) : 0;
    if (rc == 0)
        rc = sink_list(L, name, nodes, err);
    if (rc == 0)
        conf_mark_streamed(nodes);
    return rc;
}

/* An env definition built in place of base's, from a copy: the env's tree
 * is marked built only once its file has been read. */
static int build_env_def(pipes_load *L, const char *name, conf_node *def, crun_error *err)
{
    conf_node *nodes = def->kind == CONF_MAP ? conf_get(def, "nodes") : NULL;
    if (!nodes || (nodes->kind == CONF_SEQ && nodes->streamed))
        return 0;
    conf_node **grown = realloc(L->env_built, (L->n_env_built + 1) * sizeof(conf_node *));
    conf_node *copy = grown ? conf_copy(nodes) : NULL;
    if (grown)
        L->env_built = grown;
    if (!copy)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = conf_interpolate(copy, L->ictx, err);
    if (rc == 0)
        rc = sink_list(L, name, copy, err);
    conf_free(copy);
    if (rc == 0)
        L->env_built[L->n_env_built++] = nodes;
    return rc;
}

/* The env definitions built while earlier files were read are done. */
static void mark_env_built(pipes_load *L)
{
    for (size_t i = 0; i < L->n_env_built; i++)
        conf_mark_streamed(L->env_built[i]);
    L->n_env_built = 0;
}

static int pipes_begin(void *user, crun_error *err)
{
    pipes_load *L = user;
    mark_env_built(L);
    return 0;
}

static bool is_key(conf_node *const *path, size_t i, const char *name)
{
    return strcmp(path[i]->str, name) == 0;
}

static int pipes_enter(void *user, conf_node *const *path, size_t depth, crun_error *err)
{
    pipes_load *L = user;
    if (depth == 1) {
        int rc = check_joined(*L->folder, path[0], err);
        if (rc)
            return rc;
        return is_key(path, 0, "pipelines") && L->env_replaces ? CONF_STREAM_SKIP
                                                                : CONF_STREAM_KEEP;
    }
    if (!is_key(path, 0, "pipelines"))
        return CONF_STREAM_KEEP;
    if (depth == 2) {
        conf_node *over = conf_get(L->env_pipes, path[1]->str);
        if (!over)
            return CONF_STREAM_KEEP;
        /* the env's definition takes this one's place */
        int rc = build_env_def(L, path[1]->str, over, err);
        return rc ? rc : CONF_STREAM_SKIP;
    }
    return depth == 3 && is_key(path, 2, "nodes") ? CONF_STREAM_ITEMS : CONF_STREAM_KEEP;
}

static int pipes_item(void *user, conf_node *const *path, size_t depth, conf_node *item,
                      crun_error *err)
{
    pipes_load *L = user;
    int rc = conf_interpolate(item, L->ictx, err);
    return rc || !L->sink ? rc : L->sink->node(L->sink->user, path[1]->str, item, err);
}

/* A pipeline whose nodes did not stream (an alias, a ${...}): built here,
 * in its place. */
static int pipes_done(void *user, conf_node *const *path, size_t depth, conf_node *value,
                      crun_error *err)
{
    pipes_load *L = user;
    if (depth != 2 || !is_key(path, 0, "pipelines") || !value)
        return 0;
    return build_def_nodes(L, path[1]->str, value, true, err);
}

/* The merged skeleton: interpolated, and the nodes of every pipeline that
 * no stream saw (the env's own, or all of them when 'pipelines' came whole
 * from a reference) built in order. */
static int finish_pipelines(pipes_load *L, conf_node *root, crun_error *err)
{
    for (size_t i = 0; root && i < root->n; i++) {
        conf_node *key = root->items[2 * i], *val = root->items[2 * i + 1];
        bool pipes = strcmp(key->str, "pipelines") == 0, was_map = val->kind == CONF_MAP;
        int rc = 0;
        if (!pipes || !was_map)
            rc = conf_interpolate(val, L->ictx, err);
        for (size_t k = 0; rc == 0 && pipes && val->kind == CONF_MAP && k < val->n; k++) {
            conf_node *def = val->items[2 * k + 1];
            /* a value that came from a reference is not read again */
            if (was_map)
                rc = conf_interpolate(def, L->ictx, err);
            if (rc == 0)
                rc = build_def_nodes(L, val->items[2 * k]->str, def, false, err);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int load_pipelines(project *p, const conf_interp *ictx, const project_nodes *sink,
                          crun_error *err)
{
    pipes_load L = {.p = p, .ictx = ictx, .sink = sink};
    conf_stream stream = {.user = &L, .begin = pipes_begin,
                          .enter = pipes_enter, .item = pipes_item, .done = pipes_done};
    conf_node *streamed = NULL, *whole = NULL;
    char *dir = path_join(p->conf, "base"), *display = NULL, **names = NULL;
    size_t n_base = 0;
    int rc = dir && asprintf(&display, "%s/base", p->conf_display) >= 0
                 ? list_kind_files(dir, display, "pipelines", &names, &n_base, err)
                 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(display);
    free_names(names, n_base);
    free(dir);
    if (rc == 0 && sink)
        rc = sink->start(sink->user, p, err);
    if (rc == 0 && n_base) {
        rc = load_folder(p, p->env, "pipelines", NULL, &whole, err);
        conf_node *env_pipes = conf_get(whole, "pipelines");
        /* an empty "pipelines:" replaces nothing (merge_entries agrees) */
        L.env_replaces = env_pipes && env_pipes->kind != CONF_MAP && env_pipes->kind != CONF_NULL;
        L.env_pipes = env_pipes && env_pipes->kind == CONF_MAP ? env_pipes : NULL;
    }
    L.folder = &streamed;
    if (rc == 0)
        rc = load_folder(p, n_base ? "base" : p->env, "pipelines", &stream, &streamed, err);
    if (rc == 0)
        mark_env_built(&L);
    free(L.env_built);
    if (rc != 0) {
        conf_free(streamed);
        conf_free(whole);
        return rc;
    }
    p->pipelines = merge_entries(streamed, whole);
    return finish_pipelines(&L, p->pipelines, err);
}

/* globals first (they may use env, runtime_params and other globals), then
 * every other kind against them; globals are not kept afterwards. */
static int load_trees(project *p, char *const *envp, const project_nodes *sink,
                      crun_error *err)
{
    json_t *used = json_object();
    conf_node *globals = NULL;
    size_t budget = CONF_MAX_REFERENCED_BYTES;
    conf_interp ictx = {.runtime_params = p->runtime_params, .environ = envp,
                        .used_runtime_params = used, .budget = &budget};
    int rc = used ? merge_kind(p, "globals", MERGE_DEEP, &globals, err)
                  : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (rc == 0)
        rc = conf_interpolate_globals(globals, &ictx, err);
    ictx.globals = globals;
    if (rc == 0)
        rc = load_catalog(p, &ictx, err);
    if (rc == 0)
        rc = load_kind(p, "parameters", MERGE_DEEP, &ictx, &p->parameters, err);
    if (rc == 0)
        rc = load_kind(p, "runner", MERGE_DEEP, &ictx, &p->runner, err);
    if (rc == 0)
        rc = load_kind(p, "credentials", MERGE_WHOLE, &ictx, &p->credentials, err);
    if (rc == 0)
        rc = load_hooks(p, &ictx, err);
    /* last: its nodes are checked against the catalog as they are read */
    if (rc == 0)
        rc = load_pipelines(p, &ictx, sink, err);
    if (rc == 0)
        rc = params_apply(p, used, err);
    p->globals = globals; /* kept: catalog_raw may need them again */
    json_decref(used);
    return rc;
}

/* --- the project ------------------------------------------------------------- */

/* The configuration folder: conf_source (absolute, or relative to the current
 * folder) when given, a usage error naming it when it is no folder; else
 * <project>/conf. */
static int find_conf(project *p, const char *real, const char *conf_source, crun_error *err)
{
    char abs[PATH_MAX];
    if (!conf_source)
        return (p->conf = path_join(real, "conf")) && (p->conf_display = strdup("conf"))
                   ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!realpath(conf_source, abs) || !is_dir(abs))
        return crun_error_set(err, CRUN_EUSAGE, "--conf-source: '%s' is not a folder%s%s",
                              conf_source, errno ? ": " : "", errno ? strerror(errno) : "");
    return (p->conf = strdup(abs)) && (p->conf_display = strdup(conf_source))
               ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static int open_project(project *p, const char *dir, const char *conf_source,
                        const conf_interrupt *intr, char *const *envp, crun_error *err)
{
    char real[PATH_MAX];
    if (!realpath(dir ? dir : ".", real))
        return crun_error_set(err, CRUN_ENOENT, "project folder '%s': %s", dir ? dir : ".",
                              strerror(errno));
    errno = 0;
    int crc = find_conf(p, real, conf_source, err);
    if (crc)
        return crc;
    char *ini = path_join(real, "crun.ini"), *conf = strdup(p->conf);
    int rc = ini && conf && (p->dir = strdup(real)) && (p->pool = conf_pool_new()) &&
                     (p->runtime_params = json_object())
                 ? 0
                 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (rc == 0)
        conf_pool_set_interrupt(p->pool, intr);
    bool has_ini = ini && exists(ini);
    if (rc == 0 && !has_ini && !(conf && is_dir(conf)))
        rc = crun_error_set(err, CRUN_ENOENT,
                            "%s is not a crun project: it has neither crun.ini nor conf/", real);
    /* --conf-source given: its folder exists (find_conf), which is enough */
    if (rc == 0 && has_ini)
        rc = project_read_ini(p, ini, envp, err);
    const char *base = strrchr(real, '/');
    if (rc == 0 && !p->name && set_str(&p->name, base && base[1] ? base + 1 : real) != 0)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(ini);
    free(conf);
    return rc;
}

/* An --env that is no folder of conf/: the error names the environments
 * there are, and the closest one. */
static int env_not_found(const project *p, const char *conf, crun_error *err)
{
    struct dirent **list = NULL;
    int n = scandir(conf, &list, NULL, alphasort);
    const char *names[64];
    size_t k = 0, len = 0;
    char known[512] = "";
    for (int i = 0; i < n; i++) {
        const char *d = list[i]->d_name;
        char *path = path_join(conf, d);
        if (d[0] != '.' && strcmp(d, "base") != 0 && path && is_dir(path) && k < 64) {
            names[k++] = d;
            if (len < sizeof(known))
                len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s",
                                        k > 1 ? ", " : "", d);
        }
        free(path);
    }
    const char *best = suggest_closest(p->env, names, k);
    int rc = crun_error_set(err, CRUN_ECONFIG, "environment '%s' not found: %s/%s does not "
                            "exist%s%s%s (%s%s)", p->env, p->conf_display, p->env,
                            best ? " (did you mean '" : "",
                            best ? best : "", best ? "'?)" : "",
                            k ? "environments: " : "conf/ has no environment but base", known);
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return rc;
}

/* A name from the command line is a usage error, one from crun.ini a config error. */
static int choose_env(project *p, const char *env, crun_error *err)
{
    int code = env ? CRUN_EUSAGE : CRUN_ECONFIG;
    char origin[64];
    if (env)
        snprintf(origin, sizeof(origin), "--env");
    else
        snprintf(origin, sizeof(origin), "crun.ini:%d: default_env", p->default_env_line);
    bool implicit = !env && !p->default_env;
    if (!p->default_env && set_str(&p->default_env, "local") != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (set_str(&p->env, env ? env : p->default_env) != 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (strcmp(p->env, "base") == 0)
        return crun_error_set(err, code, "%s: 'base' is always loaded and cannot be the "
                              "environment (try 'local')", origin);
    if (!p->env[0] || p->env[0] == '.' || strchr(p->env, '/'))
        return crun_error_set(err, code, "%s: '%s' is not a valid environment name", origin,
                              p->env);
    char *conf = strdup(p->conf), *folder = conf ? path_join(conf, p->env) : NULL;
    bool exists = folder && is_dir(folder);
    free(folder);
    if (!folder) {
        free(conf);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    /* A project may have only conf/base; the built-in default env is optional. */
    int rc = !exists && !implicit ? env_not_found(p, conf, err) : 0;
    free(conf);
    return rc;
}

int project_load(const char *dir, const char *env, const char *params, char *const *environ_,
                 const project_nodes *sink, const conf_interrupt *intr, project **out,
                 crun_error *err)
{
    return project_load_conf(dir, NULL, env, params, environ_, sink, intr, out, err);
}

int project_load_conf(const char *dir, const char *conf_source, const char *env,
                      const char *params, char *const *environ_, const project_nodes *sink,
                      const conf_interrupt *intr, project **out, crun_error *err)
{
    *out = NULL;
    project *p = calloc(1, sizeof(project));
    if (!p)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = open_project(p, dir, conf_source, intr, environ_, err);
    if (rc == 0)
        rc = choose_env(p, env, err);
    if (rc == 0 && params) {
        json_decref(p->runtime_params);
        p->runtime_params = NULL;
        if ((rc = params_parse(params, &p->runtime_params, err)) != 0)
            crun_error_prefix(err, "--params: ");
    }
    if (rc == 0)
        rc = load_trees(p, environ_, sink, err);
    if (rc != 0) {
        project_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void project_drop_pipelines(project *p)
{
    conf_free(p->pipelines);
    p->pipelines = NULL;
}

void project_free(project *p)
{
    if (!p)
        return;
    free(p->dir);
    free(p->conf);
    free(p->conf_display);
    free(p->name);
    free(p->default_env);
    free(p->env);
    for (size_t i = 0; i < p->n_plugin_path; i++)
        free(p->plugin_path[i]);
    free(p->plugin_path);
    for (size_t i = 0; i < p->n_hooks; i++)
        project_hook_clear(&p->hooks[i]);
    free(p->hooks);
    project_drop_pipelines(p);
    conf_free(p->catalog);
    conf_free(p->catalog_raw);
    conf_free(p->globals);
    conf_free(p->parameters);
    conf_free(p->runner);
    conf_free(p->credentials);
    json_decref(p->runtime_params);
    conf_pool_free(p->pool);
    free(p);
}
