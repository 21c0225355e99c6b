/* suggest.h - "did you mean ...?" for unknown names. */
#ifndef CRUN_SUGGEST_H
#define CRUN_SUGGEST_H

#include <stddef.h>

/* Edit distance between a and b (Levenshtein, optimal string alignment). */
size_t edit_distance(const char *a, const char *b);
/* The candidate closest to word, if close enough to be a likely typo
 * (distance <= max(1, strlen(word)/3)), else NULL.  Borrowed from candidates. */
const char *suggest_closest(const char *word, const char *const *candidates, size_t n);

#endif
