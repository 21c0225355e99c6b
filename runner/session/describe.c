/* describe.c - what a session holds, for `crun list` and `crun catalog describe`.
 *
 * Listings read the IR; dataset descriptions also open a throw-away instance
 * of the dataset's plugin (outside any run) to ask whether its data exists,
 * where it lives, and which versions it has.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin/options.h"
#include "session/session.h"
#include "core/suggest.h"


static json_t *list_nodes(const ir_t *ir)
{
    json_t *a = json_array();
    json_t *all = ir_to_json(ir, NULL, NULL, 0);
    json_t *nodes = json_object_get(all, "nodes");
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        json_t *pipes = json_array();
        for (size_t p = 0; p < ir->n_pipelines; p++)
            for (size_t k = 0; k < ir->pipelines[p].n; k++)
                if (ir->pipelines[p].nodes[k] == i)
                    json_array_append_new(pipes, json_string(ir->pipelines[p].name));
        json_object_set_new(n, "pipelines", pipes);
        json_array_append(a, n);
    }
    json_decref(all);
    return a;
}

/* Open dataset d of the catalog outside any run and ask the plugin about it:
 * {"exists", "describe", "versions"} merged into o; errors become "error". */
static void probe_dataset(crun_session *s, size_t d, json_t *o)
{
    const ir_dataset *ds = &s->ir->ds[d];
    const crun_plugin *plug;
    crun_error err = CRUN_ERROR_INIT;
    if (ds->kind == IR_DS_PARAMS)
        json_object_set_new(o, "exists", json_true());
    if (ds->kind != IR_DS_CATALOG) /* a memory dataset exists only during a run */
        return;
    if (plugin_load(&s->plugins, CRUN_PLUGIN_DATASET, ds->type, &plug, &err) != 0) {
        json_object_set_new(o, "error", json_string(err.message ? err.message : "?"));
        crun_error_clear(&err);
        return;
    }
    const crun_dataset_type *t = plug->table;
    crun_dataset_ctx ctx = {.size = sizeof(ctx), .name = ds->name, .project_dir = s->dir,
                            .versioned = ds->versioned, .logger = &s->logger};
    char owner[600];
    snprintf(owner, sizeof(owner), "dataset '%s'", ds->name);
    crun_options *opts = options_from_conf(ds->options, owner);
    void *inst = NULL;
    bool exists = false;
    /* credentials are not read just to describe a dataset */
    if (opts && ds->credentials)
        options_set(opts, "credentials", json_object(), "catalog");
    if (!opts || t->create(&ctx, opts, &inst, &err) != 0) {
        json_object_set_new(o, "error", json_string(err.message ? err.message : "out of memory"));
    } else {
        if (t->exists && t->exists(inst, &exists, &err) == 0)
            json_object_set_new(o, "exists", json_boolean(exists));
        json_t *desc = t->describe ? t->describe(inst) : NULL;
        if (desc)
            json_object_set_new(o, "describe", desc);
        if (t->destroy)
            t->destroy(inst);
    }
    crun_options_free(opts);
    crun_error_clear(&err);
}

int crun_session_load_dataset(crun_session *s, const char *name, crun_value **out,
                              crun_error *err)
{
    *out = NULL;
    size_t d;
    if (!strmap_get(&s->ir->ds_index, name, &d) || s->ir->ds[d].kind == IR_DS_MEMORY) {
        const char **names = calloc(s->ir->n_ds + 1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; names && i < s->ir->n_ds; i++)
            if (s->ir->ds[i].kind != IR_DS_MEMORY)
                names[n++] = s->ir->ds[i].name;
        const char *best = names ? suggest_closest(name, names, n) : NULL;
        int rc = crun_error_set(err, CRUN_EUSAGE, "'%s' is not a dataset of the catalog%s%s%s",
                                name, best ? " (did you mean '" : "", best ? best : "",
                                best ? "'?)" : "");
        free(names);
        return rc;
    }
    const ir_dataset *ds = &s->ir->ds[d];
    if (ds->kind == IR_DS_PARAMS) {
        json_t *v = crun_json_path(s->ir->params, ds->param_path);
        *out = v ? crun_value_json_new(json_deep_copy(v)) : NULL;
        return *out ? 0 : crun_error_set(err, CRUN_ENOENT, "parameter '%s' does not exist", name);
    }
    if (ds->credentials)
        return crun_error_set(err, CRUN_EUSAGE, "dataset '%s' needs credentials: look at it "
                              "from a node of a run", name);
    const crun_plugin *plug;
    int rc = plugin_load(&s->plugins, CRUN_PLUGIN_DATASET, ds->type, &plug, err);
    if (rc)
        return rc;
    const crun_dataset_type *t = plug->table;
    crun_dataset_ctx ctx = {.size = sizeof(ctx), .name = ds->name, .project_dir = s->dir,
                            .versioned = ds->versioned, .logger = &s->logger};
    char owner[600];
    snprintf(owner, sizeof(owner), "dataset '%s'", ds->name);
    crun_options *opts = options_from_conf(ds->options, owner);
    void *inst = NULL;
    if (!opts)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    rc = t->create(&ctx, opts, &inst, err);
    if (!rc) {
        rc = t->load(inst, out, err);
        if (t->destroy)
            t->destroy(inst);
    }
    crun_options_free(opts);
    /* dataset plugins mostly name the dataset themselves */
    if (rc && (!err->message || !strstr(err->message, name)))
        crun_error_prefix(err, "dataset '%s': ", name);
    return rc;
}

/* The complete versions of a versioned dataset, oldest first. */
static json_t *list_versions(const crun_session *s, const ir_dataset *ds)
{
    json_t *out = json_array();
    json_t *opts = ds->options ? conf_to_json(ds->options) : NULL;
    const char *fp = json_string_value(json_object_get(opts, "filepath"));
    char *dir = NULL;
    if (fp && asprintf(&dir, "%s%s%s", fp[0] == '/' ? "" : s->dir, fp[0] == '/' ? "" : "/",
                       fp) < 0)
        dir = NULL;
    const char *slash = fp ? strrchr(fp, '/') : NULL, *base = slash ? slash + 1 : fp;
    struct dirent **names = NULL;
    int n = dir ? scandir(dir, &names, NULL, alphasort) : -1;
    for (int i = 0; i < n; i++) {
        /* a version is a folder holding the file: a save that never
         * completed left a folder without it, and is no version */
        char *file = NULL;
        struct stat st;
        if (names[i]->d_name[0] != '.' &&
            asprintf(&file, "%s/%s/%s", dir, names[i]->d_name, base) >= 0 &&
            stat(file, &st) == 0 && S_ISREG(st.st_mode))
            json_array_append_new(out, json_string(names[i]->d_name));
        free(file);
        free(names[i]);
    }
    free(names);
    free(dir);
    json_decref(opts);
    return out;
}

/* Is dataset ds read by any node of the IR (not only the planned ones)? */
static bool read_anywhere(const ir_t *ir, size_t ds)
{
    for (size_t v = 0; v < ir->n_nodes; v++)
        for (size_t k = 0; k < ir->nodes[v].n_in; k++)
            if (ir->nodes[v].in[k].ds == ds)
                return true;
    return false;
}

void session_warn_free_outputs(crun_session *s, const plan *p)
{
    const ir_t *ir = p->ir;
    const char **names = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const ir_node *node = &ir->nodes[p->node[i]];
        for (size_t k = 0; k < node->n_out; k++) {
            size_t ds = node->out[k].ds;
            if (ir->ds[ds].kind != IR_DS_MEMORY || read_anywhere(ir, ds))
                continue;
            /* the names a typo most likely meant: the catalog's and what nodes read */
            if (!names && (names = calloc(ir->n_ds + 1, sizeof(char *))))
                for (size_t d = 0; d < ir->n_ds; d++)
                    if (ir->ds[d].kind == IR_DS_CATALOG ||
                        (ir->ds[d].kind == IR_DS_MEMORY && read_anywhere(ir, d)))
                        names[n++] = ir->ds[d].name;
            const char *best = names ? suggest_closest(ir->ds[ds].name, names, n) : NULL;
            crun_log(&s->logger, CRUN_LOG_WARN, "%s%snode '%s': output '%s' is read by no node "
                     "and is not in the catalog: it is kept in memory only, and lost%s%s%s",
                     node->where ? node->where : "", node->where ? ": " : "", node->name,
                     ir->ds[ds].name, best ? " (did you mean '" : "", best ? best : "",
                     best ? "'?)" : "");
        }
    }
    free(names);
}

/* One "name:version" of --load-versions: a pin of a versioned dataset to a
 * version it does not have is refused before the run, naming those it has. */
static int check_pin(crun_session *s, const char *name, const char *version, crun_error *err)
{
    size_t idx;
    if (!strmap_get(&s->ir->ds_index, name, &idx) || !s->ir->ds[idx].versioned)
        return 0; /* the catalog names what is not a versioned dataset */
    json_t *versions = list_versions(s, &s->ir->ds[idx]);
    size_t n = json_array_size(versions), i;
    json_t *v;
    const char **names = calloc(n + 1, sizeof(char *));
    char *known = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&known, &len);
    bool found = false;
    json_array_foreach(versions, i, v) {
        found = found || strcmp(json_string_value(v), version) == 0;
        if (names)
            names[i] = json_string_value(v);
        if (f)
            fprintf(f, "%s%s", i ? ", " : "", json_string_value(v));
    }
    if (f)
        fclose(f);
    const char *best = names ? suggest_closest(version, names, n) : NULL;
    int rc = found ? 0 : crun_error_set(err, CRUN_EUSAGE, "--load-versions: dataset '%s' has no "
                                        "version '%s'%s%s%s (%s%s)", name, version,
                                        best ? " (did you mean '" : "", best ? best : "",
                                        best ? "'?)" : "", n ? "its versions: " : "it has no "
                                        "versions yet", n && known ? known : "");
    free(known);
    free(names);
    json_decref(versions);
    return rc;
}

int session_check_load_versions(crun_session *s, const char *spec, crun_error *err)
{
    for (const char *p = spec; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon && colon > p && colon + 1 < p + len) {
            char *name = strndup(p, (size_t)(colon - p));
            char *version = strndup(colon + 1, (size_t)(p + len - colon - 1));
            int rc = name && version ? check_pin(s, name, version, err)
                                     : crun_error_set(err, CRUN_ENOMEM, "out of memory");
            free(name);
            free(version);
            if (rc)
                return rc;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static json_t *dataset_json(crun_session *s, size_t d, bool probe)
{
    const ir_t *ir = s->ir;
    const ir_dataset *ds = &ir->ds[d];
    json_t *readers = json_array(), *writers = json_array();
    for (size_t i = 0; i < ir->n_nodes; i++) {
        for (size_t k = 0; k < ir->nodes[i].n_in; k++)
            if (ir->nodes[i].in[k].ds == d)
                json_array_append_new(readers, json_string(ir->nodes[i].name));
        for (size_t k = 0; k < ir->nodes[i].n_out; k++)
            if (ir->nodes[i].out[k].ds == d)
                json_array_append_new(writers, json_string(ir->nodes[i].name));
    }
    static const char *const kinds[] = {"memory", "catalog", "params"};
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o}", "name", ds->name, "type", ds->type,
                          "kind", kinds[ds->kind], "versioned", ds->versioned, "used_by",
                          readers, "produced_by", writers);
    if (ds->options) {
        json_t *opts = conf_to_json(ds->options);
        json_t *fp = json_object_get(opts, "filepath");
        if (!fp) /* partitioned datasets name a folder */
            fp = json_object_get(opts, "path");
        if (fp)
            json_object_set(o, "filepath", fp);
        json_object_set_new(o, "options", opts);
    }
    if (ds->where)
        json_object_set_new(o, "source", json_string(ds->where));
    if (ds->credentials)
        json_object_set_new(o, "credentials", json_string(ds->credentials));
    if (probe) {
        probe_dataset(s, d, o);
        if (ds->versioned)
            json_object_set_new(o, "versions", list_versions(s, ds));
    }
    return o;
}

static json_t *list_datasets(crun_session *s)
{
    json_t *a = json_array();
    for (size_t d = 0; d < s->ir->n_ds; d++)
        json_array_append_new(a, dataset_json(s, d, true));
    return a;
}

int crun_session_describe_dataset(crun_session *s, const char *name, json_t **out,
                                  crun_error *err)
{
    size_t d;
    if (!strmap_get(&s->ir->ds_index, name, &d)) {
        const char **names = calloc(s->ir->n_ds + 1, sizeof(char *));
        for (size_t i = 0; names && i < s->ir->n_ds; i++)
            names[i] = s->ir->ds[i].name;
        const char *best = names ? suggest_closest(name, names, s->ir->n_ds) : NULL;
        int rc = crun_error_set(err, CRUN_EUSAGE, "no dataset named '%s'%s%s%s", name,
                                best ? " (did you mean '" : "", best ? best : "",
                                best ? "'?)" : "");
        free(names);
        return rc;
    }
    *out = dataset_json(s, d, true);
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

/* What runner plugin `type` declares it takes, set on o as "plugin_options"
 * (null, with "plugin_error", when the plugin cannot be opened). */
static void runner_plugin_options(crun_session *s, const char *type, json_t *o)
{
    const crun_plugin *d;
    crun_error err = CRUN_ERROR_INIT;
    if (!type || plugin_load(&s->plugins, CRUN_PLUGIN_RUNNER, type, &d, &err) != 0) {
        json_object_set_new(o, "plugin_options", json_null());
        json_object_set_new(o, "plugin_error", json_string(err.message ? err.message
                                                           : "no runner type"));
        crun_error_clear(&err);
        return;
    }
    size_t n;
    const crun_option *table = plugin_options(d, &n);
    json_object_set_new(o, "plugin_options", options_table_json(table, n));
}

static json_t *list_runners(crun_session *s)
{
    const ir_t *ir = s->ir;
    json_t *a = json_array();
    const conf_node *runners = ir->runner ? conf_get(ir->runner, "runners") : NULL;
    const conf_node *def = ir->runner ? conf_get(ir->runner, "default") : NULL;
    const char *def_name = def && def->kind == CONF_SCALAR ? def->str : "sequential";
    bool def_listed = false;
    for (size_t i = 0; runners && runners->kind == CONF_MAP && i < runners->n; i++) {
        const char *name = runners->items[2 * i]->str;
        json_t *opts = conf_to_json(runners->items[2 * i + 1]);
        json_t *type = json_incref(json_object_get(opts, "type"));
        json_object_del(opts, "type");
        char *stack = runner_stack_text(s, name);
        json_t *o = json_pack("{s:s, s:o, s:b, s:o, s:s}", "name", name, "type",
                              type ? type : json_null(), "default",
                              strcmp(name, def_name) == 0, "options", opts,
                              "stack", stack ? stack : name);
        free(stack);
        runner_plugin_options(s, json_string_value(type), o);
        json_array_append_new(a, o);
        def_listed = def_listed || strcmp(name, def_name) == 0;
    }
    if (!def_listed) {
        json_t *o = json_pack("{s:s, s:s, s:b, s:{}, s:s}", "name", def_name, "type", def_name,
                              "default", 1, "options", "stack", def_name);
        runner_plugin_options(s, def_name, o);
        json_array_append_new(a, o);
    }
    return a;
}

/* The project's hooks as configured (crun.ini [hooks], then hooks.yml), each
 * {name, options, where}; none for a session opened from an IR file. */
static json_t *list_hooks(const crun_session *s)
{
    json_t *out = json_array();
    for (size_t i = 0; out && s->project && i < s->project->n_hooks; i++) {
        const project_hook *h = &s->project->hooks[i];
        json_array_append_new(out, json_pack("{s:s, s:O, s:s}", "name", h->name, "options",
                                             h->options, "where", h->where ? h->where : ""));
    }
    return out;
}

int crun_session_list(crun_session *s, const char *what, json_t **out, crun_error *err)
{
    const ir_t *ir = s->ir;
    *out = NULL;
    if (strcmp(what, "pipelines") == 0) {
        *out = json_array();
        for (size_t i = 0; i < ir->n_pipelines; i++)
            json_array_append_new(*out, json_pack("{s:s, s:I}", "name", ir->pipelines[i].name,
                                                  "nodes", (json_int_t)ir->pipelines[i].n));
    } else if (strcmp(what, "nodes") == 0) {
        *out = list_nodes(ir);
    } else if (strcmp(what, "datasets") == 0) {
        *out = list_datasets(s);
    } else if (strcmp(what, "runners") == 0) {
        *out = list_runners(s);
    } else if (strcmp(what, "plugins") == 0) {
        *out = plugin_list(&s->plugins);
    } else if (strcmp(what, "hooks") == 0) {
        *out = list_hooks(s);
    } else {
        static const char *const kinds[] = {"pipelines", "nodes", "datasets", "runners",
                                            "plugins", "hooks"};
        const char *best = suggest_closest(what, kinds, 6);
        return crun_error_set(err, CRUN_EUSAGE, "crun list: unknown list '%s'%s%s%s (pipelines, "
                              "nodes, datasets, runners, plugins or hooks)", what,
                              best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    }
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

int crun_plugin_info(const char *path, json_t **out, crun_error *err)
{
    void *dl;
    const crun_plugin *d;
    int rc = plugin_open_file(path, 0, &dl, &d, err);
    if (rc)
        return rc;
    *out = plugin_describe(d, path);
    if (d->kind == CRUN_PLUGIN_NODES) {
        const crun_nodes_type *t = d->table;
        json_t *fns = json_array();
        for (size_t i = 0; i < t->n_nodes; i++)
            json_array_append_new(fns, json_pack("{s:s, s:s}", "name", t->nodes[i].name, "doc",
                                                 t->nodes[i].doc ? t->nodes[i].doc : ""));
        json_object_set_new(*out, "functions", fns);
    }
    plugin_close_file(dl, d);
    return 0;
}
