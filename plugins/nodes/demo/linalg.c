/* linalg.c - ordinary least squares that survives rank deficiency.
 *
 * Columns are centred and scaled to unit variance (a constant column becomes
 * all zeros), then the normal equations are solved through a Jacobi
 * eigendecomposition of the small p x p correlation matrix, inverting only
 * eigenvalues above a relative tolerance: a pseudo-inverse, so a constant or
 * duplicated feature gets a zero (minimum-norm) coefficient instead of
 * breaking the fit.  Predictions are then unique, as with numpy's lstsq.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"

/* Eigenvalues (w) and eigenvectors (columns of v) of symmetric a (p x p, destroyed). */
static void jacobi_eigen(double *a, size_t p, double *w, double *v)
{
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++)
            v[i * p + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (size_t i = 0; i < p; i++)
            for (size_t j = i + 1; j < p; j++)
                off += a[i * p + j] * a[i * p + j];
        if (off < 1e-30)
            break;
        for (size_t i = 0; i < p; i++)
            for (size_t j = i + 1; j < p; j++) {
                double aij = a[i * p + j];
                if (fabs(aij) < 1e-300)
                    continue;
                double theta = (a[j * p + j] - a[i * p + i]) / (2 * aij);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < p; k++) {
                    double aki = a[k * p + i], akj = a[k * p + j];
                    a[k * p + i] = c * aki - s * akj;
                    a[k * p + j] = s * aki + c * akj;
                }
                for (size_t k = 0; k < p; k++) {
                    double aik = a[i * p + k], ajk = a[j * p + k];
                    a[i * p + k] = c * aik - s * ajk;
                    a[j * p + k] = s * aik + c * ajk;
                }
                for (size_t k = 0; k < p; k++) {
                    double vki = v[k * p + i], vkj = v[k * p + j];
                    v[k * p + i] = c * vki - s * vkj;
                    v[k * p + j] = s * vki + c * vkj;
                }
            }
    }
    for (size_t i = 0; i < p; i++)
        w[i] = a[i * p + i];
}

int ols_fit(const crun_table *x, const crun_table *y, double *coef, size_t *rank)
{
    size_t n = crun_table_rows(x), p = crun_table_columns(x);
    if (n == 0)
        return -1;
    double *mean = calloc(p + 1, sizeof(double)), *scale = calloc(p + 1, sizeof(double));
    double *a = calloc(p * p + 1, sizeof(double)), *b = calloc(p + 1, sizeof(double));
    double *w = calloc(p + 1, sizeof(double)), *v = calloc(p * p + 1, sizeof(double));
    int rc = -1;
    if (!mean || !scale || !a || !b || !w || !v)
        goto end;
    double ymean = 0;
    for (size_t r = 0; r < n; r++)
        ymean += crun_table_double(y, 0, r);
    ymean /= (double)n;
    for (size_t j = 0; j < p; j++) {
        for (size_t r = 0; r < n; r++)
            mean[j] += crun_table_double(x, j, r);
        mean[j] /= (double)n;
        for (size_t r = 0; r < n; r++) {
            double d = crun_table_double(x, j, r) - mean[j];
            scale[j] += d * d;
        }
        scale[j] = sqrt(scale[j]);
        if (scale[j] < 1e-12 * (fabs(mean[j]) + 1))
            scale[j] = 0; /* constant column: drops out */
    }
    for (size_t r = 0; r < n; r++) {
        double yr = crun_table_double(y, 0, r) - ymean;
        for (size_t i = 0; i < p; i++) {
            if (!scale[i])
                continue;
            double xi = (crun_table_double(x, i, r) - mean[i]) / scale[i];
            b[i] += xi * yr;
            for (size_t j = i; j < p; j++)
                if (scale[j])
                    a[i * p + j] += xi * (crun_table_double(x, j, r) - mean[j]) / scale[j];
        }
    }
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < i; j++)
            a[i * p + j] = a[j * p + i];
    jacobi_eigen(a, p, w, v);
    double wmax = 0;
    for (size_t k = 0; k < p; k++)
        wmax = fmax(wmax, fabs(w[k]));
    *rank = 0;
    for (size_t j = 0; j < p; j++)
        coef[j] = 0;
    for (size_t k = 0; k < p; k++) {
        if (fabs(w[k]) <= 1e-10 * wmax)
            continue;
        (*rank)++;
        double proj = 0;
        for (size_t i = 0; i < p; i++)
            proj += v[i * p + k] * b[i];
        for (size_t j = 0; j < p; j++)
            coef[j] += v[j * p + k] * proj / w[k];
    }
    double intercept = ymean;
    for (size_t j = 0; j < p; j++) {
        coef[j] = scale[j] ? coef[j] / scale[j] : 0;
        intercept -= coef[j] * mean[j];
    }
    coef[p] = intercept;
    rc = 0;
end:
    free(mean);
    free(scale);
    free(a);
    free(b);
    free(w);
    free(v);
    return rc;
}

void regression_metrics(const crun_table *y, const double *pred, size_t n, metrics *m)
{
    memset(m, 0, sizeof(*m));
    if (!n)
        return;
    double mean = 0, ss_res = 0, ss_tot = 0;
    for (size_t r = 0; r < n; r++)
        mean += crun_table_double(y, 0, r);
    mean /= (double)n;
    for (size_t r = 0; r < n; r++) {
        double yr = crun_table_double(y, 0, r), e = yr - pred[r];
        ss_res += e * e;
        ss_tot += (yr - mean) * (yr - mean);
        m->mae += fabs(e);
        m->max_error = fmax(m->max_error, fabs(e));
    }
    m->mae /= (double)n;
    m->r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 0;
}
