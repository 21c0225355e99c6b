/* project.h - a project on disk: crun.ini and conf/<env>/ into merged trees.
 *
 * project_load reads crun.ini (inih), then for each kind of file (pipelines,
 * catalog, parameters, runner, globals, credentials, hooks) the base folder and
 * the selected env, and merges them as DESIGN.md says: catalog entries,
 * pipelines and libraries replaced whole by key; parameters, runner, globals
 * merged deeply.  Then --params are parsed and applied and every tree is
 * interpolated.  The result is plain trees, except for the pipelines' node
 * definitions: those are streamed from the files straight to a sink (the
 * IR builder, ir/ir.h's ir_load), so that a pipeline of 100,000 nodes never
 * exists as a YAML tree; the IR is finished from the rest.
 */
#ifndef CRUN_PROJECT_H
#define CRUN_PROJECT_H

#include <stddef.h>

#include <jansson.h>

#include "conf/conf.h"
#include "crun/error.h"

typedef struct project_hook {
    char *name;      /* a plugin name or a path to a .so */
    json_t *options; /* an object */
    char *where;     /* "crun.ini:7" or "conf/local/hooks.yml:3:5" */
} project_hook;

typedef struct project {
    char *dir;          /* absolute path of the project folder */
    char *conf;         /* absolute path of the configuration folder (<dir>/conf,
                         * or --conf-source) */
    char *conf_display; /* how messages name it: "conf", or --conf-source's path */
    char *name;         /* [project] name, default: the folder's name */
    char *default_env;  /* [project] default_env, default "local" */
    int default_env_line; /* its line in crun.ini (0: not there) */
    char *env;          /* the env in use */
    char **plugin_path; /* [project] plugin_path, absolute folders ('~' expanded) */
    size_t n_plugin_path;
    int durability;     /* [run] durability (crun_durability), 0 when not given */
    project_hook *hooks;/* crun.ini [hooks] in order, then hooks.yml additions, minus disable */
    size_t n_hooks;
    conf_pool *pool;
    /* merged and interpolated; CONF_MAP nodes, or NULL when no file had any */
    conf_node *pipelines;   /* pipelines*.yml: {libraries: ..., pipelines: ...}, each
                             * pipeline's 'nodes' an empty list marked streamed */
    conf_node *catalog;     /* catalog*.yml */
    conf_node *parameters;  /* parameters*.yml with --params applied */
    conf_node *runner;      /* runner*.yml: {default: ..., runners: ...} */
    conf_node *credentials; /* credentials*.yml */
    json_t *runtime_params; /* --params as a nested object (empty when none) */
    /* for runs whose own parameters reach ${runtime_params:...} in the
     * catalog (crun_run_options.params): the merged catalog before
     * interpolation when it has such references (else NULL), and the
     * globals to resolve it with again */
    conf_node *catalog_raw;
    conf_node *globals;
} project;

/* Where the node definitions of the pipelines files go as they are read.
 * start is called once, when every other kind of file is loaded (the
 * catalog decides what a dataset is); node gets one definition, list a
 * whole list of them, both interpolated; neither keeps def.  A non-zero
 * return stops the load with that code. */
typedef struct project_nodes {
    void *user;
    int (*start)(void *user, const project *p, crun_error *err);
    int (*node)(void *user, const char *pipeline, const conf_node *def, crun_error *err);
    int (*list)(void *user, const char *pipeline, const conf_node *defs, crun_error *err);
} project_nodes;

/* Load the project in dir for env (NULL: crun.ini's default_env, else
 * "local").  params is the --params text or NULL; environ as for conf_interp;
 * the node definitions go to sink (NULL: read and dropped); intr (NULL:
 * nothing) is asked before each file and now and then while one is read.
 * Errors: CRUN_ECONFIG with file:line:col (crun.ini errors: crun.ini:line),
 * CRUN_EUSAGE for a malformed --params or an unknown --params key,
 * CRUN_ENOENT when dir has no crun.ini and no conf/ folder, CRUN_ECONFIG when
 * conf/<env> does not exist (the built-in default "local" may be absent),
 * CRUN_ECANCELED when intr said stop. */
int project_load(const char *dir, const char *env, const char *params, char *const *environ,
                 const project_nodes *sink, const conf_interrupt *intr, project **out,
                 crun_error *err);
/* project_load with the configuration in conf_source (absolute, or relative
 * to the current folder; NULL: <dir>/conf); a conf_source that is no folder
 * is CRUN_EUSAGE naming it. */
int project_load_conf(const char *dir, const char *conf_source, const char *env,
                      const char *params, char *const *environ, const project_nodes *sink,
                      const conf_interrupt *intr, project **out, crun_error *err);
void project_free(project *p);
/* Free the pipelines tree (once the IR is built from it). */
void project_drop_pipelines(project *p);

/* Parse "a.b=1,c=x,d=[1,2]" into a nested object: numbers, true/false, null
 * and JSON arrays/objects are typed, everything else is a string.  A value may
 * hold commas inside brackets or quotes.  CRUN_EUSAGE on "a", "=1", "a..b=1". */
int params_parse(const char *text, json_t **out, crun_error *err);

/* params.c, for project_load: set each --params leaf on p->parameters.  A
 * key that parameters lack is an error (CRUN_EUSAGE, with the closest key)
 * unless a ${runtime_params:...} reference used it (used: the dotted keys
 * interpolation met). */
int params_apply(project *p, json_t *used, crun_error *err);

#endif
