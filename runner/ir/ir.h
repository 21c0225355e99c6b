/* ir.h - the intermediate representation: a resolved pipeline as plain data.
 *
 * The IR is what every runner and exporter works from: nodes (function or
 * command) with their inputs and outputs, the datasets they touch (catalog
 * entries, parameters, implicit memory datasets), parameters, named
 * pipelines as sets of nodes, node libraries and runner settings.  ir.c builds
 * it from a loaded project (checking every node against the config, with
 * file:line:col): node by node while project.c streams the pipelines files
 * (ir_builder), then the rest in ir_build.  ir_json.c writes it as JSON and
 * reads it back, so that `crun run --ir FILE` needs no YAML.
 *
 * Text and arrays of nodes and datasets (names, positions, ports, argv, tags)
 * live in the IR's arena and are freed with it: a 100,000-node pipeline
 * costs no allocation per string.  Everything is read-only once built.
 */
#ifndef CRUN_IR_H
#define CRUN_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "conf/conf.h"
#include "crun/error.h"
#include "conf/project.h"
#include "core/strmap.h"

/* The longest node library name (the key under `libraries:`), in bytes: a
 * longer one is refused where it is declared, never cut. */
#define IR_LIBRARY_NAME_MAX 255

/* Sizes and indices are 32-bit: a pipeline holds one of these per node
 * and two or three ports per node, and 4 billion of anything is far away. */
typedef struct ir_port {
    char *arg;      /* argument name: the map key, or the dataset's name */
    uint32_t ds;    /* index into ir.ds */
    bool own_arg;   /* arg is this port's own copy (else it is the dataset's name) */
} ir_port;

/* A node's retry: in pipelines.yml (ir_retry.c).  Attempts include the
 * first; the wait before attempt k+1 is delay * backoff^(k-1), spread by
 * +-jitter of itself; on_exit (command nodes) lists the exit statuses worth
 * another attempt, none meaning any failure. */
typedef struct ir_retry {
    uint32_t attempts;
    uint32_t n_on_exit;
    double delay;    /* seconds */
    double backoff;  /* >= 1 */
    double jitter;   /* 0..1 */
    int *on_exit;
} ir_retry;

typedef struct ir_node {
    char *name;
    const char *func; /* "library.function" (interned in ir.strings), or NULL for a command */
    char **argv;    /* command node: argc templates */
    ir_port *in;
    ir_port *out;
    char **tags;
    char *where;    /* "file:line:col" of the node's definition */
    const ir_retry *retry; /* NULL: one attempt */
    uint32_t argc;
    uint32_t n_in;
    uint32_t n_out;
    uint32_t n_tags;
} ir_node;

typedef enum ir_ds_kind {
    IR_DS_MEMORY,   /* not in the catalog: in memory, released after the last consumer */
    IR_DS_CATALOG,  /* a catalog entry */
    IR_DS_PARAMS    /* params:a.b or parameters */
} ir_ds_kind;

typedef struct ir_dataset {
    char *name;
    ir_ds_kind kind;
    bool versioned;
    const char *type;   /* plugin name or path ("memory" for IR_DS_MEMORY); interned */
    conf_node *options; /* IR_DS_CATALOG: the entry's map without type/versioned/durability */
    char *where;        /* position of the catalog entry, or NULL */
    char *param_path;   /* IR_DS_PARAMS: "a.b", or "" for all parameters */
    char *credentials;  /* the name of its entry in credentials.yml, or NULL */
    int durability;     /* IR_DS_CATALOG: its `durability` (crun_durability), 0 when not given */
} ir_dataset;

/* A dataset factory: a catalog key with {placeholders} ("{name}_csv") whose
 * entry serves every dataset name it matches. */
typedef struct ir_factory {
    conf_node *key;
    conf_node *entry;
} ir_factory;

typedef struct ir_pipeline {
    char *name;
    const char *where;  /* "file:line:col" of its definition (NULL: from a JSON IR) */
    size_t *nodes;      /* indices into ir.nodes, in declaration order, no duplicates */
    size_t n;
} ir_pipeline;

typedef struct ir {
    char *project;
    char *env;
    char *dir;            /* project folder (absolute) */
    json_t *libraries;    /* name -> plugin name or .so path */
    json_t *params;       /* all parameters */
    conf_node *runner;    /* runner.yml merged ({default, runners}); may be NULL */
    ir_node *nodes;
    size_t n_nodes;
    ir_dataset *ds;
    size_t n_ds;
    size_t ds_cap;
    ir_pipeline *pipelines;
    size_t n_pipelines;
    ir_factory *factories;  /* most specific first, as Kedro orders them */
    size_t n_factories;
    conf_arena *arena;    /* text and arrays of nodes and datasets */
    char **strings;       /* interned text shared by many nodes (function names, types) */
    const char *memory_type, *params_type; /* "memory" and "params" among them, once used */
    size_t n_strings;
    strmap string_index;
    strmap node_index;    /* name -> node */
    strmap ds_index;      /* name -> dataset */
    conf_pool *pool;      /* file names of the conf nodes kept above */
} ir_t;

/* An empty IR (no nodes, datasets or pipelines); NULL when out of memory. */
ir_t *ir_new(void);

/* Load the project in dir (project_load's arguments and errors) and build
 * its IR: the nodes are built while the pipelines files are read, then
 * libraries, parameters, pipelines and their unions are added, and what
 * needed the whole configuration is checked (the library of each function,
 * the parameters nodes read).  CRUN_ECONFIG with file:line:col for any
 * malformed pipeline, node, library or catalog entry.  On success *p and
 * *out are the caller's (project_free, ir_free); *p is set even when only
 * the IR failed, so that it can be freed. */
int ir_load(const char *dir, const char *env, const char *params, char *const *environ,
            const conf_interrupt *intr, project **p, ir_t **out, crun_error *err);
/* ir_load with the configuration in conf_source (project_load_conf). */
int ir_load_conf(const char *dir, const char *conf_source, const char *env, const char *params,
                 char *const *environ, const conf_interrupt *intr, project **p, ir_t **out,
                 crun_error *err);
void ir_free(ir_t *ir);

/* ir_catalog.c: catalog entries, dataset factories and credential references
 * (values stay in credentials.yml: the IR only names them). */
int ir_build_catalog(ir_t *ir, const conf_node *catalog, const conf_node *credentials,
                     crun_error *err);
/* Make dataset ds (a new memory dataset) an entry of the first factory whose
 * pattern matches its name, if any.  Returns 0 or CRUN_ENOMEM. */
int ir_factory_apply(ir_t *ir, size_t ds);

/* Whether a dataset name is a parameter: params:a.b, or parameters (all). */
static inline bool ir_is_param_name(const char *name)
{
    return name[0] == 'p' && (strncmp(name, "params:", 7) == 0 || strcmp(name, "parameters") == 0);
}

/* A copy of s owned by the IR, one per distinct text; NULL when out of memory. */
const char *ir_intern(ir_t *ir, const char *s);
/* A copy of s in the IR's arena; NULL when out of memory. */
char *ir_strdup(ir_t *ir, const char *s);
/* Set a port: arg shares the dataset's name when equal, else is copied. */
int ir_port_set(ir_t *ir, ir_port *port, const char *arg, size_t ds);

/* Index of a pipeline by name, or -1. */
long ir_pipeline_find(const ir_t *ir, const char *name);
/* The dataset index for name, adding a memory/params dataset when new.
 * Returns (size_t)-1 when out of memory. */
size_t ir_dataset_intern(ir_t *ir, const char *name);

/* Does the command argument text at p start a placeholder?  A placeholder is
 * {word.word} (letters, digits, _ and -); any other brace is literal text, so
 * shell scripts keep their { ...; } groups.  On true, field and flen give the
 * text between the braces and end the character after the closing brace. */
bool ir_placeholder(const char *p, const char **field, size_t *flen, const char **end);

/* Whether every {inputs.k}/{outputs.k} in a command argument of node names
 * one of its ports (its ports read already); if not, why (a sentence
 * naming the node) into why. */
bool ir_check_template(const ir_node *node, const char *arg, char *why, size_t cap);

/* Whether func has the shape library.function (both parts non-empty). */
bool ir_func_shape_ok(const char *func);

/* ir_retry.c: a node's `retry:` map from pipelines.yml (CRUN_ECONFIG with
 * file:line:col for a bad value or an unknown key), and the same as JSON
 * both ways (display and path name the place in messages). */
int ir_retry_parse(ir_t *ir, const ir_node *node, const conf_node *spec, const ir_retry **out,
                   crun_error *err);
json_t *ir_retry_to_json(const ir_retry *r);
int ir_retry_from_json(ir_t *ir, json_t *j, const char *display, const char *path,
                       const ir_retry **out, crun_error *err);
/* The wait in seconds after failed attempt `attempt` (1 for the first) of
 * r: delay * backoff^(attempt-1), then moved by jitter * (2u - 1) of itself
 * for u in [0, 1) (callers pass a random u; tests pass fixed ones). */
double ir_retry_delay(const ir_retry *r, uint32_t attempt, double u);

/* JSON: the IR restricted to the given nodes (all when nodes is NULL). */
json_t *ir_to_json(const ir_t *ir, const char *pipeline, const size_t *nodes, size_t n);
/* Read an IR written by ir_to_json; display names the file in messages. */
int ir_from_json(json_t *json, const char *display, const char *dir, ir_t **out, crun_error *err);

#endif
