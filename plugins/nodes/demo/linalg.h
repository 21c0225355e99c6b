/* linalg.h - least squares and regression metrics for the demo. */
#ifndef DEMO_LINALG_H
#define DEMO_LINALG_H

#include <stddef.h>

#include "crun/value.h"

/* Fit y = X b + b0 by least squares.  coef gets p slopes then the intercept;
 * columns that are constant or linear combinations of others get 0 (the
 * minimum-norm solution on standardised columns), rank the effective rank. */
int ols_fit(const crun_table *x, const crun_table *y, double *coef, size_t *rank);

typedef struct metrics {
    double r2;
    double mae;
    double max_error;
} metrics;

void regression_metrics(const crun_table *y, const double *pred, size_t n, metrics *m);

#endif
