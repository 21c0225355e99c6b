/* strmap.h - a string -> index hash map (open addressing, borrowed keys).
 *
 * Node and dataset names are looked up for every edge of a pipeline, and a
 * 100,000-node pipeline must plan in milliseconds, so names are hashed
 * (FNV-1a) into a power-of-two table with linear probing.  Keys are borrowed:
 * they must outlive the map (they live in the IR).
 */
#ifndef CRUN_STRMAP_H
#define CRUN_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap {
    const char **keys;
    uint64_t *hashes;  /* compared before the keys: most probes cost no strcmp */
    size_t *vals;
    size_t cap;   /* power of two, or 0 */
    size_t count;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
/* Insert key -> val.  Returns 0, 1 when key was present (its value is left
 * unchanged and *old receives it, if old is not NULL), or -1 out of memory. */
int strmap_put(strmap *m, const char *key, size_t val, size_t *old);
/* 1 and *val when found, else 0. */
int strmap_get(const strmap *m, const char *key, size_t *val);

#endif
