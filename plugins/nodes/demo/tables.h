/* tables.h - the relational operations the demo needs on crun tables. */
#ifndef DEMO_TABLES_H
#define DEMO_TABLES_H

#include <stddef.h>

#include "crun/value.h"

/* Append a copy of src's column col to dst (same rows).  Returns its index or -1. */
int table_copy_column(crun_table *dst, const crun_table *src, size_t col);
/* Inner join on left.lkey = right.rkey (int64 columns), rows in left order
 * then right order, like pandas' merge; drop names one left column to leave
 * out (or NULL).  NULL with a reason in why on failure. */
crun_table *table_join(const crun_table *left, const char *lkey, const crun_table *right,
                       const char *rkey, const char *drop, char *why, size_t why_size);
/* The rows that have no missing cell. */
crun_table *table_drop_missing(const crun_table *t);
/* Split rows into X_train, X_test, y_train, y_test (X holds the features as
 * doubles, y the target): a row is a test row when floor((id + offset) * f)
 * steps up from id - 1 to id, f being test_per_10000 / 10000, so that a share
 * f of consecutive ids is spread evenly over them (f = 0.2, offset 0: the ids
 * that are multiples of 5). */
int table_split_rows(const crun_table *t, size_t id_col, int64_t test_per_10000, int64_t offset,
                     const char *const *features, size_t nf, const char *target,
                     crun_table *out[4], char *why, size_t why_size);

#endif
