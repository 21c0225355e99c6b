/* strmap.h - a string -> index hash map (open addressing, borrowed keys).
 *
 * Node and dataset names are looked up for every edge of a pipeline, and a
 * 100,000-node pipeline must plan in milliseconds, so names are hashed
 * (FNV-1a) into a power-of-two table with linear probing.  A slot holds the
 * key, its hash and its value side by side (16 bytes): a probe touches one
 * cache line, and most probes cost no strcmp.  Keys are borrowed: they must
 * outlive the map (they live in the IR).  Values are indices below 2^32.
 */
#ifndef CRUN_STRMAP_H
#define CRUN_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_slot {
    const char *key;   /* NULL: empty */
    uint32_t hash;     /* the low half of the key's hash */
    uint32_t val;
} strmap_slot;

typedef struct strmap {
    strmap_slot *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
/* Insert key -> val.  Returns 0, 1 when key was present (its value is left
 * unchanged and *old receives it, if old is not NULL), or -1 out of memory
 * (or val above UINT32_MAX). */
int strmap_put(strmap *m, const char *key, size_t val, size_t *old);
/* 1 and *val when found, else 0. */
int strmap_get(const strmap *m, const char *key, size_t *val);
/* The same with the key's hash given (strmap_hash), for a lookup followed
 * by an insertion of the same key. */
uint32_t strmap_hash(const char *key);
int strmap_get_hashed(const strmap *m, const char *key, uint32_t hash, size_t *val);
int strmap_put_hashed(strmap *m, const char *key, uint32_t hash, size_t val, size_t *old);

#endif
