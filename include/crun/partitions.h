/* crun/partitions.h - a partitioned dataset's value: named values, in order.
 *
 * The partitioned dataset type loads a folder of files as one value: each
 * file a partition, named by its path under the folder without the suffix
 * ("2024/01", "part-0001").  The value is an opaque value of type name
 * CRUN_PARTITIONS_TYPE (a crun_value has no map kind); these functions
 * build and read it.  A node that outputs partitions builds the same value
 * for the dataset to save.
 *
 * Thread-safety: a partitions value is immutable once built; the readers
 * may be called from any thread that holds a reference.
 */
#ifndef CRUN_PARTITIONS_H
#define CRUN_PARTITIONS_H

#include <stddef.h>

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CRUN_PARTITIONS_TYPE "crun.partitions"

/* A new partitions value (a new reference) holding n partitions: names are
 * copied, and each values[i] gains a reference of its own (the caller keeps
 * its references).  Names must be non-empty and distinct.  NULL when out of
 * memory or on a bad argument. */
crun_value *crun_partitions_new(size_t n, const char *const *names, crun_value *const *values);

/* The number of partitions; 0 when value is not a partitions value. */
size_t crun_partitions_count(const crun_value *value);
/* Partition i's name, borrowed from value; NULL when out of range. */
const char *crun_partitions_name(const crun_value *value, size_t i);
/* Partition i's value, borrowed from value (crun_value_ref it to keep it);
 * NULL when out of range. */
crun_value *crun_partitions_get(const crun_value *value, size_t i);

#ifdef __cplusplus
}
#endif
#endif
