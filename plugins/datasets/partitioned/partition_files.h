/* partition_files.h - the files behind a partitioned dataset.
 *
 * Listing a folder into partitions, and reading or writing one partition's
 * file the way the text, bytes, json and csv dataset types do.  Private to
 * the partitioned plugin; messages name the file, and the plugin puts
 * "dataset 'x': partition 'p': " in front.
 */
#ifndef CRUN_PARTITION_FILES_H
#define CRUN_PARTITION_FILES_H

#include <stddef.h>

#include <crun/dataset.h>
#include <crun/value.h>

#include "csv_parse.h"

typedef enum part_type { PART_TEXT, PART_BYTES, PART_JSON, PART_CSV } part_type;

/* The underlying type of every partition, and its options. */
typedef struct part_format {
    part_type type;
    int indent;                /* json: indentation of saved files */
    csv_read_options csv_load; /* csv */
    csv_write_options csv_save;
} part_format;

/* A folder's partitions, sorted by name: names[i] is files[i] relative to
 * the folder without the suffix. */
typedef struct partition_list {
    char **names;
    char **files;
    size_t n, cap;
} partition_list;

/* List every file under folder (recursively; names starting with '.' are
 * skipped, as atomic saves' temporary files are) whose name ends in suffix.
 * CRUN_ENOENT when the folder does not exist. */
int partition_list_folder(const char *folder, const char *suffix, partition_list *out,
                          crun_error *err);
void partition_list_clear(partition_list *list);

/* Read file as fmt says into a new value. */
int partition_read(const part_format *fmt, const char *file, crun_value **out, crun_error *err);
/* Write value to file (atomically, making folders) as fmt says, synced at
 * the durability of ctx (the partitioned dataset's: its entry's, else the
 * run's). */
int partition_write(const part_format *fmt, const crun_dataset_ctx *ctx, const char *file,
                    const crun_value *value, crun_error *err);

#endif
