/* csv_parse.h - CSV files <-> crun tables, for the csv and partitioned plugins.
 *
 * Part of the tabular static library, linked into each plugin that needs
 * it and exported by none (plugins are built with hidden visibility), so
 * libcrun's ABI does not grow a CSV reader.  Messages name the file and,
 * where one is known, the line; the calling plugin puts "dataset 'x': " in
 * front.  Nothing here keeps state between calls; everything is reentrant.
 */
#ifndef CRUN_CSV_PARSE_H
#define CRUN_CSV_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <crun/value.h>

/* One entry of load_args.columns: a column's name and its forced type. */
typedef struct csv_column_spec {
    char *name;
    crun_column_type type;
} csv_column_spec;

typedef struct csv_read_options {
    char delimiter;           /* ',' */
    bool header;              /* the first row names the columns; else "0", "1", ... */
    csv_column_spec *columns; /* forced types; other columns are inferred */
    size_t ncolumns;
    char **na_values;         /* cells read as missing, besides empty unquoted ones */
    size_t nna;
} csv_read_options;

typedef struct csv_write_options {
    char delimiter; /* ',' */
    bool header;    /* write the column names first */
} csv_write_options;

/* Defaults: ',' and a header line. */
void csv_read_options_init(csv_read_options *opts);
void csv_write_options_init(csv_write_options *opts);
void csv_read_options_clear(csv_read_options *opts);

/* Fill opts from a load_args / save_args JSON object (NULL: defaults).
 * context starts every message ("catalog.yml:3:5: dataset 'x'") and key
 * names the option ("load_args", "dataset.load_args").  CRUN_ECONFIG on a
 * bad value; opts must have been initialised. */
int csv_read_options_parse(json_t *args, const char *context, const char *key,
                           csv_read_options *opts, crun_error *err);
int csv_write_options_parse(json_t *args, const char *context, const char *key,
                            csv_write_options *opts, crun_error *err);

/* Read the CSV file at path into a new table (*out, caller frees).
 * CRUN_ENOENT / CRUN_EIO when the file cannot be read, CRUN_EDATA
 * "path:LINE: ..." when it is not well-formed CSV. */
int csv_table_read(const char *path, const csv_read_options *opts, crun_table **out,
                   crun_error *err);

/* Render table as RFC 4180 CSV text (rows end in "\n"); *out is malloc'd
 * and NUL-terminated, *len excludes the NUL. */
int csv_table_write(const crun_table *table, const csv_write_options *opts, char **out,
                    size_t *len, crun_error *err);

#endif
