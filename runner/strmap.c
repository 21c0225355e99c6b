/* strmap.c - open-addressing string map; see strmap.h. */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void strmap_init(strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void strmap_free(strmap *m)
{
    free(m->keys);
    free(m->hashes);
    free(m->vals);
    strmap_init(m);
}

static int grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    const char **keys = calloc(cap, sizeof(*keys));
    uint64_t *hashes = malloc(cap * sizeof(*hashes));
    size_t *vals = malloc(cap * sizeof(*vals));
    if (!keys || !hashes || !vals) {
        free(keys);
        free(hashes);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = m->hashes[i] & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        hashes[j] = m->hashes[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->hashes);
    free(m->vals);
    m->keys = keys;
    m->hashes = hashes;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int strmap_put(strmap *m, const char *key, size_t val, size_t *old)
{
    if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
        return -1;
    uint64_t h = hash_str(key);
    size_t j = h & (m->cap - 1);
    while (m->keys[j]) {
        if (m->hashes[j] == h && strcmp(m->keys[j], key) == 0) {
            if (old)
                *old = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->hashes[j] = h;
    m->vals[j] = val;
    m->count++;
    return 0;
}

int strmap_get(const strmap *m, const char *key, size_t *val)
{
    if (!m->cap)
        return 0;
    uint64_t h = hash_str(key);
    size_t j = h & (m->cap - 1);
    while (m->keys[j]) {
        if (m->hashes[j] == h && strcmp(m->keys[j], key) == 0) {
            if (val)
                *val = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}
