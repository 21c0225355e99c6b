/* conf.h - configuration trees: YAML read with positions, merged, interpolated.
 *
 * Every YAML file of a project is read by libyaml into a tree of conf_node that remembers
 * file:line:column for each node, so that any later complaint (by the
 * project loader, the IR builder, a plugin's options) names the place; a
 * conf_stream can take the items of large lists as they are read instead.
 * Trees of base and the selected env are merged (whole keys or deeply), then
 * ${...} interpolation replaces scalars in place, keeping the position of the
 * scalar that held the reference.
 */
#ifndef CRUN_CONF_H
#define CRUN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

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
    bool items_in_arena : 1; /* items lives in a conf_arena (growing it copies it out) */
    bool streamed : 1;     /* CONF_SEQ: its items went to a conf_stream as they were read */
    bool resolving : 1;    /* conf_interpolate_globals: its references are being resolved */
    bool resolved : 1;     /* conf_interpolate_globals: done (never scanned again) */
    uint32_t line;     /* 1-based */
    uint32_t col;      /* 1-based */
    uint32_t n;        /* CONF_SEQ: items; CONF_MAP: pairs */
    const char *file;  /* as shown in messages (relative to the project); owned by a conf_pool */
    char *str;         /* CONF_SCALAR: the text, NUL-terminated */
    conf_node **items; /* CONF_SEQ: n items; CONF_MAP: 2n entries, key0 val0 key1 val1 ... */
};

/* What one load shares: the file-name strings that nodes point to (it
 * outlives every tree), and how to know that the load should stop. */
typedef struct conf_pool conf_pool;
conf_pool *conf_pool_new(void);
void conf_pool_free(conf_pool *pool);
const char *conf_pool_intern(conf_pool *pool, const char *s);

/* A load asks check(user) now and then (before each file, every few
 * thousand YAML events): true stops it with CRUN_ECANCELED.  check runs on
 * the loading thread and must be quick (a signal handler's flag). */
typedef struct conf_interrupt {
    bool (*check)(void *user);
    void *user;
} conf_interrupt;
/* Reads with pool ask intr from now on (copied; NULL: nothing to ask). */
void conf_pool_set_interrupt(conf_pool *pool, const conf_interrupt *intr);
/* 0, or CRUN_ECANCELED with err "interrupted while loading the project
 * (reading <file>)" when the load should stop. */
int conf_pool_check_interrupt(const conf_pool *pool, const char *file, crun_error *err);

/* Configuration files are regular files of at most this size: a folder, a
 * FIFO, a device (a link to /dev/zero) or a larger file is refused before
 * anything is read (docs/configuration.md says so). */
#define CONF_MAX_FILE_BYTES ((uint64_t)64 << 20)
/* What ${...} references may copy into one project's configuration, in all
 * (conf_interp's budget): values doubling each other stop here. */
#define CONF_MAX_REFERENCED_BYTES ((size_t)64 << 20)

/* Open a configuration file for reading (never waiting: a FIFO is opened
 * without blocking, then refused), with its *st.  Returns the descriptor
 * (the caller closes it), or CRUN_ENOENT when it does not exist, or
 * CRUN_ECONFIG "display: is a folder, not a file" and the like. */
int conf_open_file(const char *path, const char *display, struct stat *st, crun_error *err);
/* All of fd (opened by conf_open_file, size bytes by its fstat) into a new
 * malloc'd *text of *len bytes; CRUN_ECONFIG naming display when it cannot
 * be read or grows past CONF_MAX_FILE_BYTES. */
int conf_read_whole(int fd, size_t size, const char *display, char **text, size_t *len,
                    crun_error *err);

/* Parse a YAML file (one document).  display is the name used in messages.
 * An empty file gives a CONF_NULL node.  Errors: those of conf_open_file,
 * CRUN_ECONFIG when the file cannot be read, CRUN_ECONFIG "display:line:col: message" for bad
 * YAML.  Aliases are expanded as copies; duplicate keys in one map are errors. */
int conf_parse_file(conf_pool *pool, const char *path, const char *display, conf_node **out,
                    crun_error *err);
int conf_parse_string(conf_pool *pool, const char *text, const char *display, conf_node **out,
                      crun_error *err);

/* Streaming: the reader of a large file hands the items of chosen lists to
 * the caller one at a time instead of keeping them in the tree, so the whole
 * file never exists as a tree at once (a pipeline of 100,000 nodes).
 * path[0..depth-1] are the map keys from the top of the file down to the
 * value in question.  Nothing is streamed under a node with an anchor (the
 * anchor's copy needs the whole value), so a file reads the same either way. */
typedef enum conf_stream_action {
    CONF_STREAM_KEEP,  /* read the value into the tree */
    CONF_STREAM_ITEMS, /* a list: give each item to item(), keep an empty list marked streamed */
    CONF_STREAM_SKIP   /* read it (bad YAML is still an error) keeping no list items: it will
                        * be replaced */
} conf_stream_action;

typedef struct conf_stream {
    void *user;
    /* Before the file is read (may be NULL). */
    int (*begin)(void *user, crun_error *err);
    /* The value under path[depth-1] starts: a conf_stream_action, or a
     * negative error code with err set (the parse stops). */
    int (*enter)(void *user, conf_node *const *path, size_t depth, crun_error *err);
    /* One item of a CONF_STREAM_ITEMS list, complete.  The item may be changed
     * (interpolated) but not kept: it is freed when item() returns. */
    int (*item)(void *user, conf_node *const *path, size_t depth, conf_node *item,
                crun_error *err);
    /* The value under path[depth-1] is complete, in the tree (may be NULL). */
    int (*done)(void *user, conf_node *const *path, size_t depth, conf_node *value,
                crun_error *err);
} conf_stream;

/* Parse len bytes of YAML text, with a stream (NULL: none). */
int conf_parse_text(conf_pool *pool, const char *text, size_t len, const char *display,
                    const conf_stream *stream, conf_node **out, crun_error *err);
/* conf_parse_file with a stream (NULL: none), and the file's cache at
 * cache_path (NULL: none; conf_cache.h says which files have one).  Errors
 * as conf_parse_file, or what a callback returned. */
int conf_parse_file_stream(conf_pool *pool, const char *path, const char *display,
                           const char *cache_path, const conf_stream *stream, conf_node **out,
                           crun_error *err);

/* An arena: memory carved out of big blocks with no per-object allocation,
 * all given back at once by conf_arena_free (or reused after
 * conf_arena_reset).  Nodes made in an arena (conf_new_in) are left alone by
 * conf_free, which still frees what was allocated for them later (text set
 * by interpolation, items grown by a merge). */
typedef struct conf_arena conf_arena;
conf_arena *conf_arena_new(void);
void conf_arena_free(conf_arena *arena);
/* Forget everything allocated, keeping one block for what comes next. */
void conf_arena_reset(conf_arena *arena);
/* size bytes aligned for any object; NULL when out of memory. */
void *conf_arena_alloc(conf_arena *arena, size_t size);
/* A NUL-terminated copy of the len bytes at s (byte-aligned). */
char *conf_arena_strndup(conf_arena *arena, const char *s, size_t len);
char *conf_arena_strdup(conf_arena *arena, const char *s);
conf_node *conf_new_in(conf_arena *arena, conf_kind kind, const char *file, uint32_t line,
                       uint32_t col);
conf_node *conf_new_scalar_in(conf_arena *arena, const char *text, size_t len, const char *file,
                              uint32_t line, uint32_t col);

conf_node *conf_new(conf_kind kind, const char *file, uint32_t line, uint32_t col);
conf_node *conf_new_scalar(const char *text, const char *file, uint32_t line, uint32_t col);
conf_node *conf_copy(const conf_node *node);
/* Replace a scalar's text with owned (malloc'd) text. */
void conf_set_text(conf_node *node, char *owned);
void conf_free(conf_node *node);
/* Empty node in place into a list with no items marked streamed (its items
 * were taken elsewhere); it keeps its position. */
void conf_mark_streamed(conf_node *node);

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
/* s without the blanks and tabs at either end, cut in place (a pointer into
 * s): how --params items and ${...} references are read. */
char *conf_trim(char *s);
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
    size_t *budget; /* if not NULL: bytes that values copied in by references may still
                     * add (each node counts as sizeof(conf_node) and its text); going
                     * past it is an error */
} conf_interp;
int conf_interpolate(conf_node *root, const conf_interp *ctx, crun_error *err);
/* Does a scalar under root refer to ${resolver:...}?  And to
 * ${resolver:key} (or ${resolver:key,default})? */
bool conf_uses_resolver(const conf_node *root, const char *resolver);
bool conf_refers_to(const conf_node *root, const char *resolver, const char *key);

/* Interpolate globals in place against themselves (ctx->globals is
 * ignored): ${globals:b} inside globals is b's value, itself resolved first,
 * wherever it stands.  Globals that refer to each other in a cycle are an
 * error naming it ("a -> b -> a"). */
int conf_interpolate_globals(conf_node *globals, const conf_interp *ctx, crun_error *err);

/* Look a variable up in a NULL-terminated environ array; NULL if absent. */
const char *conf_getenv(char *const *environ, const char *name);

#endif
