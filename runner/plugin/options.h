/* options.h - building crun_options (crun/options.h) from configuration trees,
 * and describing option tables. */
#ifndef CRUN_OPTIONS_INTERNAL_H
#define CRUN_OPTIONS_INTERNAL_H

#include "conf/conf.h"
#include "crun/options.h"

/* Options from a CONF_MAP (or NULL for none): values through conf_to_json,
 * each key's position remembered.  owner as for crun_options_owner. */
crun_options *options_from_conf(const conf_node *map, const char *owner);
/* Set or replace one option (takes over value's reference); where is copied. */
int options_set(crun_options *opts, const char *key, json_t *value, const char *where);
/* Remove a key the host consumed itself (e.g. "type"). */
void options_remove(crun_options *opts, const char *key);
/* A new JSON array describing table (n entries): name, type, default (text
 * or null), doc, required, and min/max or choices where they apply. */
json_t *options_table_json(const crun_option *table, size_t n);

#endif
