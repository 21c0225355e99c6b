/* partitions.c - the value a partitioned dataset loads and saves.
 *
 * An opaque value (type name "crun.partitions") around a small struct of
 * parallel arrays: names and values, in the order given.  It owns a
 * reference to every partition, dropped when the last reference to the
 * whole goes.  Being opaque it stays in memory: a partitioned dataset, not
 * the memory dataset, turns it into files.
 */
#include <stdlib.h>
#include <string.h>

#include "crun/partitions.h"

typedef struct partitions {
    size_t n;
    char **names;
    crun_value **values;
} partitions;

static void partitions_free(void *ptr)
{
    partitions *p = ptr;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->names[i]);
        crun_value_unref(p->values[i]);
    }
    free(p->names);
    free(p->values);
    free(p);
}

static int check_arguments(size_t n, const char *const *names, crun_value *const *values)
{
    if (n && (!names || !values))
        return CRUN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0] || !values[i])
            return CRUN_EINVAL;
        /* Quadratic, but partitions are files of one folder: hundreds, not millions. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return CRUN_EINVAL;
    }
    return 0;
}

crun_value *crun_partitions_new(size_t n, const char *const *names, crun_value *const *values)
{
    if (check_arguments(n, names, values) != 0)
        return NULL;
    partitions *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->names = calloc(n ? n : 1, sizeof(char *));
    p->values = calloc(n ? n : 1, sizeof(crun_value *));
    if (!p->names || !p->values) {
        partitions_free(p);
        return NULL;
    }
    for (; p->n < n; p->n++) {
        if (!(p->names[p->n] = strdup(names[p->n]))) {
            partitions_free(p);
            return NULL;
        }
        p->values[p->n] = crun_value_ref(values[p->n]);
    }
    crun_value *v = crun_value_opaque_new(p, partitions_free, CRUN_PARTITIONS_TYPE);
    if (!v)
        partitions_free(p); /* opaque_new leaves ptr to the caller when it fails */
    return v;
}

static const partitions *partitions_of(const crun_value *value)
{
    return value ? crun_value_opaque(value, CRUN_PARTITIONS_TYPE) : NULL;
}

size_t crun_partitions_count(const crun_value *value)
{
    const partitions *p = partitions_of(value);
    return p ? p->n : 0;
}

const char *crun_partitions_name(const crun_value *value, size_t i)
{
    const partitions *p = partitions_of(value);
    return p && i < p->n ? p->names[i] : NULL;
}

crun_value *crun_partitions_get(const crun_value *value, size_t i)
{
    const partitions *p = partitions_of(value);
    return p && i < p->n ? p->values[i] : NULL;
}
