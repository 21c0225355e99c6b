/* project_settings.c - crun.ini and the hooks a project asks for.
 *
 * crun.ini is read with inih through our own line-counting reader, so that
 * every complaint says "crun.ini:LINE": [project] gives the name, default
 * env and plugin path, [hooks] the hooks to load and their options, [run]
 * the runs' defaults (durability).
 * conf/<env>/hooks.yml adds hooks or disables ones crun.ini named.
 */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/project.h"
#include "conf/project_settings.h"
#include "core/suggest.h"

static const char *const project_keys[] = {"name", "default_env", "plugin_path", NULL};
static const char *const ini_sections[] = {"project", "hooks", "run", NULL};
static const char *const run_keys[] = {"durability", NULL};
static const char *const hooks_yml_keys[] = {"hooks", "disable", NULL};

/* --- hooks --------------------------------------------------------------- */

static long hook_index(const project *p, const char *name)
{
    for (size_t i = 0; i < p->n_hooks; i++)
        if (strcmp(p->hooks[i].name, name) == 0)
            return (long)i;
    return -1;
}

void project_hook_clear(project_hook *h)
{
    free(h->name);
    json_decref(h->options);
    free(h->where);
}

/* Add a hook, or give an already listed one its new options (an env may
 * reconfigure a hook of crun.ini).  Takes over options. */
static int hook_put(project *p, const char *name, json_t *options, const char *where)
{
    project_hook h = {strdup(name), options, strdup(where)};
    if (!h.name || !h.where || !h.options) {
        project_hook_clear(&h);
        return CRUN_ENOMEM;
    }
    long i = hook_index(p, name);
    if (i >= 0) {
        project_hook_clear(&p->hooks[i]);
        p->hooks[i] = h;
        return 0;
    }
    project_hook *hooks = realloc(p->hooks, (p->n_hooks + 1) * sizeof(project_hook));
    if (!hooks) {
        project_hook_clear(&h);
        return CRUN_ENOMEM;
    }
    p->hooks = hooks;
    hooks[p->n_hooks++] = h;
    return 0;
}

static const char *hook_suggestion(const project *p, const char *name)
{
    const char *names[64];
    size_t n = p->n_hooks < 64 ? p->n_hooks : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = p->hooks[i].name;
    return suggest_closest(name, names, n);
}

static int hook_disable(project *p, const conf_node *item, crun_error *err)
{
    if (item->kind != CONF_SCALAR)
        return conf_error(err, item, "disable: expected hook names, got %s", conf_kind_name(item));
    long i = hook_index(p, item->str);
    if (i < 0) {
        const char *hint = hook_suggestion(p, item->str);
        return conf_error(err, item, "disable: unknown hook '%s'%s%s%s", item->str,
                          hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    }
    project_hook_clear(&p->hooks[i]);
    memmove(&p->hooks[i], &p->hooks[i + 1], (p->n_hooks - (size_t)i - 1) * sizeof(project_hook));
    p->n_hooks--;
    return 0;
}

/* One entry of hooks.yml's list: "name" or {name: x, option: value, ...}. */
static int hook_from_yaml(project *p, const conf_node *item, crun_error *err)
{
    char where[512];
    conf_where(item, where, sizeof(where));
    if (item->kind == CONF_SCALAR)
        return hook_put(p, item->str, json_object(), where);
    const conf_node *name = conf_get(item, "name");
    if (item->kind != CONF_MAP || !name || name->kind != CONF_SCALAR || !name->str[0])
        return conf_error(err, item, "hooks: expected a hook name or a map with 'name', got %s",
                          conf_kind_name(item));
    json_t *options = conf_to_json(item);
    if (options && json_object_del(options, "name") != 0) {
        json_decref(options);
        options = NULL;
    }
    return hook_put(p, name->str, options, where);
}

/* Applied folder by folder (base, then env), so an env can turn off a hook
 * that base or crun.ini added. */
int project_apply_hooks_yml(project *p, const conf_node *tree, crun_error *err)
{
    if (!tree)
        return 0;
    int rc = conf_check_keys(tree, hooks_yml_keys, "hooks.yml", err);
    const conf_node *hooks = conf_get(tree, "hooks"), *disable = conf_get(tree, "disable");
    if (rc == 0 && hooks && hooks->kind != CONF_SEQ && hooks->kind != CONF_NULL)
        rc = conf_error(err, hooks, "hooks: expected a list, got %s", conf_kind_name(hooks));
    for (size_t i = 0; rc == 0 && hooks && hooks->kind == CONF_SEQ && i < hooks->n; i++)
        rc = hook_from_yaml(p, hooks->items[i], err);
    if (rc == 0 && disable && disable->kind == CONF_SCALAR)
        return hook_disable(p, disable, err);
    if (rc == 0 && disable && disable->kind != CONF_SEQ && disable->kind != CONF_NULL)
        rc = conf_error(err, disable, "disable: expected a list, got %s", conf_kind_name(disable));
    for (size_t i = 0; rc == 0 && disable && disable->kind == CONF_SEQ && i < disable->n; i++)
        rc = hook_disable(p, disable->items[i], err);
    if (rc == CRUN_ENOMEM)
        crun_error_set(err, rc, "out of memory");
    return rc;
}

/* --- crun.ini -------------------------------------------------------------- */

typedef struct ini_state {
    project *p;
    FILE *file;
    char *const *envp;
    int line;       /* of the line inih is working on */
    int error_line; /* of the first error our handler reported */
    crun_error err;
} ini_state;

/* inih's fgets-style reader, counting lines so that our handler's errors can
 * name theirs (inih only reports the line of the first error).  Counted per
 * call, as inih counts, so both agree even on over-long lines. */
static void check_section(ini_state *st, const char *line);

static char *ini_read_line(char *str, int num, void *stream)
{
    ini_state *st = stream;
    char *line = fgets(str, num, st->file);
    if (line) {
        st->line++;
        check_section(st, line);
    }
    return line;
}

static int add_plugin_dir(ini_state *st, const char *entry)
{
    project *p = st->p;
    char *dir = NULL;
    if (entry[0] == '~' && (entry[1] == '\0' || entry[1] == '/')) {
        const char *home = conf_getenv(st->envp, "HOME");
        if (!home)
            return crun_error_set(&st->err, CRUN_ECONFIG,
                                  "crun.ini:%d: plugin_path: '%s' needs HOME, which is not set",
                                  st->line, entry);
        if (asprintf(&dir, "%s%s", home, entry + 1) < 0)
            dir = NULL;
    } else {
        dir = entry[0] == '/' ? strdup(entry) : path_join(p->dir, entry);
    }
    char **path = dir ? realloc(p->plugin_path, (p->n_plugin_path + 1) * sizeof(char *)) : NULL;
    if (!path) {
        free(dir);
        return CRUN_ENOMEM;
    }
    p->plugin_path = path;
    path[p->n_plugin_path++] = dir;
    return 0;
}

static int set_plugin_path(ini_state *st, const char *value)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return CRUN_ENOMEM;
    int rc = 0;
    for (char *e = strtok_r(copy, ":", &save); e && rc == 0; e = strtok_r(NULL, ":", &save))
        rc = add_plugin_dir(st, e);
    free(copy);
    return rc;
}

static int ini_project_key(ini_state *st, const char *name, const char *value)
{
    if (strcmp(name, "name") == 0 || strcmp(name, "default_env") == 0) {
        if (!value[0])
            return crun_error_set(&st->err, CRUN_ECONFIG, "crun.ini:%d: %s must not be empty",
                                  st->line, name);
        if (name[0] == 'd')
            st->p->default_env_line = st->line;
        return set_str(name[0] == 'n' ? &st->p->name : &st->p->default_env, value);
    }
    if (strcmp(name, "plugin_path") == 0)
        return set_plugin_path(st, value);
    const char *hint = suggest_closest(name, project_keys, 3);
    return crun_error_set(&st->err, CRUN_ECONFIG, "crun.ini:%d: unknown key '%s' in [project]%s%s%s",
                          st->line, name, hint ? " (did you mean '" : "", hint ? hint : "",
                          hint ? "'?)" : "");
}

/* [run]: what every run of the project does unless told otherwise. */
static int ini_run_key(ini_state *st, const char *name, const char *value)
{
    const char *const levels[] = {"none", "run", "node"};
    if (strcmp(name, "durability") == 0) {
        for (int i = 0; i < 3; i++)
            if (strcmp(value, levels[i]) == 0) {
                st->p->durability = i + 1; /* CRUN_DURABILITY_NONE, _RUN, _NODE */
                return 0;
            }
        return crun_error_set(&st->err, CRUN_ECONFIG, "crun.ini:%d: durability must be none, "
                              "run or node, got '%s'", st->line, value);
    }
    const char *hint = suggest_closest(name, run_keys, 1);
    return crun_error_set(&st->err, CRUN_ECONFIG, "crun.ini:%d: unknown key '%s' in [run]%s%s%s",
                          st->line, name, hint ? " (did you mean '" : "", hint ? hint : "",
                          hint ? "'?)" : "");
}

static int ini_hook(ini_state *st, const char *name, const char *value)
{
    if (hook_index(st->p, name) >= 0)
        return crun_error_set(&st->err, CRUN_ECONFIG, "crun.ini:%d: hook '%s' is listed twice",
                              st->line, name);
    json_t *options = NULL;
    int rc = params_parse(value, &options, &st->err);
    if (rc != 0) {
        crun_error_prefix(&st->err, "crun.ini:%d: hook '%s': ", st->line, name);
        st->err.code = CRUN_ECONFIG;
        return CRUN_ECONFIG;
    }
    char where[64];
    snprintf(where, sizeof(where), "crun.ini:%d", st->line);
    return hook_put(st->p, name, options, where);
}

/* inih calls the handler for keys only, so an unknown (or empty) section is
 * caught here, where its own line is known. */
static void check_section(ini_state *st, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    const char *close = line[0] == '[' ? strchr(line, ']') : NULL;
    if (!close || st->error_line)
        return;
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(close - line - 1), line + 1);
    for (size_t i = 0; ini_sections[i]; i++)
        if (strcmp(name, ini_sections[i]) == 0)
            return;
    const char *hint = suggest_closest(name, ini_sections, 3);
    crun_error_set(&st->err, CRUN_ECONFIG, "crun.ini:%d: unknown section [%s]%s%s%s", st->line,
                   name, hint ? " (did you mean [" : "", hint ? hint : "", hint ? "]?)" : "");
    st->error_line = st->line;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    ini_state *st = user;
    if (st->error_line)
        return 0; /* keep the first error: later ones often follow from it */
    int rc;
    if (strcmp(section, "project") == 0) {
        rc = ini_project_key(st, name, value);
    } else if (strcmp(section, "hooks") == 0) {
        rc = ini_hook(st, name, value);
    } else if (strcmp(section, "run") == 0) {
        rc = ini_run_key(st, name, value);
    } else {
        rc = crun_error_set(&st->err, CRUN_ECONFIG,
                            "crun.ini:%d: '%s' is outside a section (put it under [project])",
                            st->line, name);
    }
    if (rc == CRUN_ENOMEM)
        crun_error_set(&st->err, rc, "out of memory");
    if (rc != 0)
        st->error_line = st->line;
    return rc == 0;
}

int project_read_ini(project *p, const char *path, char *const *envp, crun_error *err)
{
    ini_state st = {.p = p, .envp = envp, .err = CRUN_ERROR_INIT};
    struct stat info;
    int fd = conf_open_file(path, "crun.ini", &info, err);
    if (fd < 0)
        return fd;
    if (!(st.file = fdopen(fd, "r"))) {
        close(fd);
        return crun_error_set(err, CRUN_ENOMEM, "crun.ini: out of memory");
    }
    int line = ini_parse_stream(ini_read_line, &st, on_ini_entry, &st);
    fclose(st.file);
    if (st.error_line) {
        crun_error_move(err, &st.err);
        return err->code;
    }
    crun_error_clear(&st.err);
    if (line == 0)
        return 0;
    if (line < 0)
        return crun_error_set(err, CRUN_ENOMEM, "crun.ini: out of memory");
    return crun_error_set(err, CRUN_ECONFIG,
                          "crun.ini:%d: syntax error: expected '[section]' or 'key = value'", line);
}

