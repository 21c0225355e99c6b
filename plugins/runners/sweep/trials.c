/* trials.c - which trials a sweep runs.
 *
 * The grid is the cross product of each swept key's values, enumerated like
 * nested loops in the order the keys were given (the last key varies
 * fastest), as Hydra's basic sweeper does.  Explicit trials (Snakemake's
 * Paramspace rows) are taken as they are.  Random sampling picks N of them
 * without replacement with splitmix64 seeded by `seed`, and keeps them in
 * grid order, so the same options always give the same trials: --resume
 * depends on that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Trial k of the grid: digit i of k in the mixed radix of the value counts. */
static json_t *grid_trial(const sweep_space *sp, size_t k)
{
    size_t nk = json_array_size(sp->keys);
    json_t *t = json_object();
    for (size_t i = nk; t && i-- > 0;) {
        json_t *vals = json_array_get(sp->values, i);
        size_t n = json_array_size(vals);
        json_t *v = json_array_get(vals, k % n);
        k /= n;
        if (json_object_set(t, json_string_value(json_array_get(sp->keys, i)), v)) {
            json_decref(t);
            return NULL;
        }
    }
    /* set in reverse for the arithmetic; re-add in the keys' order */
    json_t *ordered = json_object();
    for (size_t i = 0; t && ordered && i < nk; i++) {
        const char *key = json_string_value(json_array_get(sp->keys, i));
        json_object_set(ordered, key, json_object_get(t, key));
    }
    json_decref(t);
    return ordered;
}

static size_t grid_size(const sweep_space *sp, size_t max)
{
    size_t total = 1;
    for (size_t i = 0; i < json_array_size(sp->values); i++) {
        size_t n = json_array_size(json_array_get(sp->values, i));
        if (n && total > max / n)
            return max + 1;
        total *= n;
    }
    return total;
}

/* Which of total items to keep: a partial Fisher-Yates over indices, then
 * marked in a bitmap so the kept ones come out in order. */
static bool *pick(size_t total, size_t n, uint64_t seed)
{
    size_t *idx = malloc(total * sizeof(size_t));
    bool *keep = calloc(total, sizeof(bool));
    if (!idx || !keep) {
        free(idx);
        free(keep);
        return NULL;
    }
    for (size_t i = 0; i < total; i++)
        idx[i] = i;
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + (size_t)(splitmix64(&state) % (total - i));
        size_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
        keep[idx[i]] = true;
    }
    free(idx);
    return keep;
}

json_t *sweep_trials(const sweep_space *sp, int64_t samples, uint64_t seed, size_t max,
                     char *why, size_t why_size)
{
    size_t total = sp->trials ? json_array_size(sp->trials) : grid_size(sp, max);
    bool sampled = samples > 0 && (size_t)samples < total;
    if (total > max && !sampled) {
        snprintf(why, why_size, "the sweep has more than %zu trials (use samples: N)", max);
        return NULL;
    }
    bool *keep = sampled ? pick(total, (size_t)samples, seed) : NULL;
    json_t *out = json_array();
    for (size_t k = 0; out && k < total; k++) {
        if (sampled && (!keep || !keep[k]))
            continue;
        /* explicit trials are the options' values: copied, never shared */
        json_t *t = sp->trials ? json_deep_copy(json_array_get(sp->trials, k)) : grid_trial(sp, k);
        if (!t || json_array_append_new(out, t)) {
            json_decref(out);
            out = NULL;
        }
    }
    free(keep);
    if (!out)
        snprintf(why, why_size, "out of memory");
    return out;
}

json_t *sweep_param_columns(const json_t *trials)
{
    json_t *cols = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(trials, i, t) {
        const char *key;
        json_t *v;
        json_object_foreach(t, key, v) {
            (void)v;
            bool seen = false;
            for (size_t c = 0; c < json_array_size(cols) && !seen; c++)
                seen = strcmp(json_string_value(json_array_get(cols, c)), key) == 0;
            if (!seen)
                json_array_append_new(cols, json_string(key));
        }
    }
    return cols;
}
