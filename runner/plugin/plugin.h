/* plugin.h (internal) - finding, opening and checking plugin files.
 *
 * A session owns one plugin_cache: the folders to search (crun.ini's
 * plugin_path, then CRUN_PLUGIN_PATH, then the built-in folder) and the
 * plugins opened so far, each dlopen()ed once and kept until the session
 * closes.  Opening checks, in order: the file exists, is ELF, loads, exports
 * crun_plugin_entry, returns a descriptor with our magic, ABI major and a
 * minor no newer than ours, is of the kind asked for, and its table is as
 * large as that minor says; each refusal names the file and the reason.
 * Descriptors handed out are the host's full-size copies (plugin.c).
 */
#ifndef CRUN_PLUGIN_INTERNAL_H
#define CRUN_PLUGIN_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <jansson.h>

#include "crun/crun.h"

typedef struct plugin_handle {
    char *path;               /* absolute or as found */
    void *dl;
    const crun_plugin *desc;
} plugin_handle;

typedef struct plugin_cache {
    pthread_mutex_t lock;
    char **dirs;
    size_t n_dirs;
    char *base_dir;           /* relative .so paths resolve against it */
    plugin_handle *items;
    size_t n;
    size_t cap;
    struct plugin_name {   /* names already resolved, so repeats cost no file search */
        crun_plugin_kind kind;
        char *name;
        const crun_plugin *desc;
    } *names;
    size_t n_names;
} plugin_cache;

/* dirs: the search folders in order (copied). */
int plugin_cache_init(plugin_cache *c, const char *base_dir, char *const *dirs, size_t n_dirs);
void plugin_cache_destroy(plugin_cache *c);

/* Find and open the plugin `name` (a plugin name, or a path when it contains
 * '/' or ends in .so) of the given kind.  The descriptor is borrowed for the
 * cache's life.  Errors are CRUN_EPLUGIN, naming the file and the reason. */
int plugin_load(plugin_cache *c, crun_plugin_kind kind, const char *name,
                const crun_plugin **out, crun_error *err);

/* Open one file and check it, without a cache (for `crun plugin info`).
 * kind 0 accepts any kind.  *out is the host's full-size copy of the
 * descriptor and its table (members the plugin's ABI minor lacks are zero);
 * on success release both with plugin_close_file. */
int plugin_open_file(const char *path, crun_plugin_kind kind, void **dl,
                     const crun_plugin **out, crun_error *err);
void plugin_close_file(void *dl, const crun_plugin *desc);
/* The checks of plugin_open_file on a descriptor in memory (what the
 * plugin's entry returned; path names it in errors): the head (magic, ABI,
 * size, name, table), the kind (0: any), the table's size for its minor,
 * and a node library's entries (each named, with a function).  *out is the
 * host's copy, released with plugin_close_file(NULL, *out). */
int plugin_check_descriptor(const char *path, const crun_plugin *d, crun_plugin_kind kind,
                            const crun_plugin **out, crun_error *err);

/* Read a struct that crossed the ABI (src, whose first member is its
 * uint32_t size) into dst, dst_size bytes already holding the defaults:
 * the members src has overwrite them, the size becomes dst_size.  A src
 * longer than dst_size (a newer minor) is accepted when the bytes this
 * host does not know are zero.  CRUN_EINVAL naming `what` otherwise. */
int abi_struct_in(void *dst, size_t dst_size, const void *src, const char *what,
                  crun_error *err);

/* A JSON array describing every plugin file found in the search folders. */
json_t *plugin_list(plugin_cache *c);

/* The options table a descriptor declares (n entries; NULL and 0 when none,
 * or when its size does not reach the member). */
const crun_option *plugin_options(const crun_plugin *d, size_t *n);

/* The descriptor as JSON: name, kind, version, abi, description, path, and
 * (except node libraries) options as options_table_json describes them. */
json_t *plugin_describe(const crun_plugin *desc, const char *path);

#endif
