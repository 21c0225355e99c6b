/* csv_number.h - reading decimal text as int64 or double, exactly and fast.
 *
 * Shared by the dataset plugins that infer column types from text (csv,
 * partitioned, sqlite) through the tabular static library; exported by
 * none.  The readers take all of s[0..len), which must be followed by a NUL,
 * and accept no blanks, no hex and no trailing text.  Writing numbers is
 * libcrun's crun_real_format (crun/value.h), whose output these read back.
 */
#ifndef CRUN_CSV_NUMBER_H
#define CRUN_CSV_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* [sign] digits, within int64. */
bool csv_number_int64(const char *s, size_t len, int64_t *out);

/* [sign] digits [. digits] [e [sign] digits] (at least one digit before the
 * exponent), or [sign] inf / infinity / nan in any case.  The result is the
 * correctly rounded double, the same as strtod's. */
bool csv_number_double(const char *s, size_t len, double *out);

/* Room for any double crun_real_format writes, with its NUL. */
#define CSV_NUMBER_DOUBLE_MAX 40

#endif
