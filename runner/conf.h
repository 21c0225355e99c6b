/* conf.h - configuration trees: YAML read with positions, merged, interpolated.
 *
 * Every YAML file of a project is read with libyaml into a tree of conf_node
 * that remembers file:line:column for each node, so that any later complaint
 * (by the project loader, the IR builder, a plugin's options) names the place.
 * Trees of base and the selected env are merged (whole keys or deeply), then
 * ${...} interpolation replaces scalars in place, keeping the position of the
 * scalar that held the reference.
 */
#ifndef CRUN_CONF_H
#define CRUN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crun/error.h"

typedef enum conf_kind { CONF_NULL, CONF_SCALAR, CONF_SEQ, CONF_MAP } conf_kind;

typedef struct conf_node conf_node;
struct conf_node {
    /* packed to 40 bytes: a large pipeline holds millions of these */
    uint8_t kind;          /* conf_kind */
    bool quoted : 1;       /* a scalar written in quotes: always a string */
    bool inline_str : 1;   /* str lives in the node's own allocation (do not free it alone) */
    bool in_arena : 1;     /* the node lives in a conf_arena: conf_free leaves its memory */
    uint32_t line;     /* 1-based */
    uint32_t col;      /* 1-based */
    uint32_t n;        /* CONF_SEQ: items; CONF_MAP: pairs */
    const char *file;  /* as shown in messages (relative to the project); owned by a conf_pool */
    char *str;         /* CONF_SCALAR: the text, NUL-terminated */
    conf_node **items; /* CONF_SEQ: n items; CONF_MAP: 2n entries, key0 val0 key1 val1 ... */
};

/* Owns the file-name strings that nodes point to; outlives every tree. */
typedef struct conf_pool conf_pool;
conf_pool *conf_pool_new(void);
void conf_pool_free(conf_pool *pool);
const char *conf_pool_intern(conf_pool *pool, const char *s);

/* Parse a YAML file (one document).  display is the name used in messages.
 * An empty file gives a CONF_NULL node.  Errors: CRUN_ENOENT/CRUN_EIO when
 * the file cannot be read, CRUN_ECONFIG "display:line:col: message" for bad
 * YAML.  Aliases are expanded as copies; duplicate keys in one map are errors. */
int conf_parse_file(conf_pool *pool, const char *path, const char *display, conf_node **out,
                    crun_error *err);
int conf_parse_string(conf_pool *pool, const char *text, const char *display, conf_node **out,
                      crun_error *err);

/* An arena for the nodes of large files: nodes are carved out of big blocks
 * with no per-node allocation, and all go back to the system at once when the
 * arena is freed (after every tree holding them has been freed).  A pool
 * given an arena (conf_pool_set_arena) parses into it. */
typedef struct conf_arena conf_arena;
conf_arena *conf_arena_new(void);
void conf_arena_free(conf_arena *arena);
/* The arena the next parses use, or NULL for plain allocations. */
void conf_pool_set_arena(conf_pool *pool, conf_arena *arena);
conf_arena *conf_pool_arena(const conf_pool *pool);
conf_node *conf_new_in(conf_arena *arena, conf_kind kind, const char *file, uint32_t line,
                       uint32_t col);
conf_node *conf_new_scalar_in(conf_arena *arena, const char *text, const char *file,
                              uint32_t line, uint32_t col);


conf_node *conf_new(conf_kind kind, const char *file, uint32_t line, uint32_t col);
conf_node *conf_new_scalar(const char *text, const char *file, uint32_t line, uint32_t col);
conf_node *conf_copy(const conf_node *node);
/* Replace a scalar's text with owned (malloc'd) text. */
void conf_set_text(conf_node *node, char *owned);
void conf_free(conf_node *node);

/* Map access: the value under key, or NULL (also when map is not a map). */
conf_node *conf_get(const conf_node *map, const char *key);
/* The key node itself (for its position), or NULL. */
conf_node *conf_get_key(const conf_node *map, const char *key);
/* Set key to val (taking ownership), replacing an existing value. */
int conf_set(conf_node *map, conf_node *key, conf_node *val);

/* Merge over onto base, consuming both; returns the result.  deep=false:
 * top-level keys of over replace base's whole; deep=true: maps merge
 * recursively, anything else is replaced.  Either may be NULL. */
conf_node *conf_merge(conf_node *base, conf_node *over, bool deep);

/* "file:line:col" of a node into buf. */
const char *conf_where(const conf_node *node, char *buf, size_t size);
/* Set err to CRUN_ECONFIG with "file:line:col: " + message; returns CRUN_ECONFIG. */
int conf_error(crun_error *err, const conf_node *at, const char *fmt, ...) CRUN_PRINTF(3, 4);
/* "a map", "a list", "a string", "null" - for "expected a list, got a map". */
const char *conf_kind_name(const conf_node *node);
/* Refuse keys of map not in the NULL-terminated known[]: "unknown key 'x' in
 * <what> (did you mean 'y'?)" at the key's position. */
int conf_check_keys(const conf_node *map, const char *const *known, const char *what,
                    crun_error *err);

/* JSON for a node: plain scalars typed by YAML's core schema (null/~,
 * true/false, integers, floats), quoted scalars as strings, lists and maps as
 * arrays and objects.  A new reference (NULL when out of memory). */
json_t *conf_to_json(const conf_node *node);
/* The reverse, for values that come from --params or an IR (positions take
 * file/line/col given). */
conf_node *conf_from_json(json_t *json, const char *file, uint32_t line, uint32_t col);

/* ${...} interpolation over a whole tree, in place:
 *   ${globals:a.b}          from globals (a tree; the path walks maps)
 *   ${env:VAR} ${env:VAR,default}   from environ
 *   ${runtime_params:a.b} ${runtime_params:a.b,default}   from runtime_params (JSON)
 * A scalar that is exactly one reference takes the referenced value's kind
 * (a map, a number); otherwise the pieces are joined as text.  "$${" escapes.
 * An unknown resolver, a missing key without default, or a reference to a
 * non-scalar inside text is an error at the scalar's position. */
typedef struct conf_interp {
    const conf_node *globals;   /* may be NULL */
    json_t *runtime_params;     /* an object; may be NULL */
    char *const *environ;       /* NULL-terminated "K=V"; may be NULL */
    json_t *used_runtime_params;/* if not NULL: an object receiving the dotted keys used */
} conf_interp;
int conf_interpolate(conf_node *root, const conf_interp *ctx, crun_error *err);

/* Look a variable up in a NULL-terminated environ array; NULL if absent. */
const char *conf_getenv(char *const *environ, const char *name);

#endif
