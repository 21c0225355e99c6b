/* json_table.h - the json dataset's streaming writer of tables (json_table.c). */
#ifndef CRUN_JSON_TABLE_H
#define CRUN_JSON_TABLE_H

#include <crun/dataset.h>

/* Save table through file (atomically: its temporary file, then the
 * rename) as {"columns","rows"} JSON indented by indent spaces (0: one
 * line) with a final newline, the text crun_json_dumps gives for
 * crun_value_to_json's tree, encoded as it is written.  Errors are
 * prefixed with the dataset's name (name). */
int json_table_save(crun_file_dataset *file, const char *name, const crun_table *table,
                    int indent, crun_error *err);

#endif
