/* suggest.c - edit distance for "did you mean 'csv'?" hints.
 *
 * Names are short (keys, node and dataset names), so the quadratic
 * optimal-string-alignment distance on two rows of the table is plenty.
 */
#include <stdlib.h>
#include <string.h>

#include "core/suggest.h"
#include "crun/error.h"

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *buf = calloc(3 * (lb + 1), sizeof(size_t));
    if (!buf)
        return (size_t)-1;
    size_t *prev2 = buf, *prev = buf + (lb + 1), *cur = prev + (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1; /* transposition */
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[lb];
    free(buf);
    return d;
}

const char *suggest_closest(const char *word, const char *const *candidates, size_t n)
{
    size_t limit = strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

const char *crun_suggest(const char *word, const char *const *candidates, size_t n)
{
    return suggest_closest(word, candidates, n);
}
