/* strmap.c - open-addressing string map; see strmap.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/strmap.h"

uint32_t strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

void strmap_init(strmap *m)
{
    memset(m, 0, sizeof(*m));
}

/* Tables of a megabyte and more are mapped with their pages in at once:
 * probes touch every page anyway, and one call costs less than a fault per
 * page (the name maps of a 100,000-node pipeline are 4 MB each). */
static const size_t mapped_bytes = 1 << 20;

static strmap_slot *slots_new(size_t cap)
{
    size_t bytes = cap * sizeof(strmap_slot);
    if (bytes < mapped_bytes)
        return calloc(cap, sizeof(strmap_slot));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p; /* zeroed, as calloc's */
}

static void slots_free(strmap_slot *slots, size_t cap)
{
    if (cap * sizeof(strmap_slot) < mapped_bytes)
        free(slots);
    else if (slots)
        munmap(slots, cap * sizeof(strmap_slot));
}

void strmap_free(strmap *m)
{
    slots_free(m->slots, m->cap);
    strmap_init(m);
}

static int grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    strmap_slot *slots = slots_new(cap);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    slots_free(m->slots, m->cap);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int strmap_put_hashed(strmap *m, const char *key, uint32_t h, size_t val, size_t *old)
{
    if (val > UINT32_MAX || ((m->count + 1) * 2 > m->cap && grow(m) != 0))
        return -1;
    size_t j = h & (m->cap - 1);
    for (; m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
            if (old)
                *old = m->slots[j].val;
            return 1;
        }
    }
    m->slots[j] = (strmap_slot){key, h, (uint32_t)val};
    m->count++;
    return 0;
}

int strmap_put(strmap *m, const char *key, size_t val, size_t *old)
{
    return strmap_put_hashed(m, key, strmap_hash(key), val, old);
}

int strmap_get_hashed(const strmap *m, const char *key, uint32_t h, size_t *val)
{
    if (!m->cap)
        return 0;
    for (size_t j = h & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
            if (val)
                *val = m->slots[j].val;
            return 1;
        }
    }
    return 0;
}

int strmap_get(const strmap *m, const char *key, size_t *val)
{
    return strmap_get_hashed(m, key, strmap_hash(key), val);
}
