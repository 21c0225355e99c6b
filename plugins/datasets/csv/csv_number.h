/* csv_number.h - reading decimal text as int64 or double, exactly and fast.
 *
 * Shared by the dataset plugins that infer column types from text (csv,
 * partitioned, sqlite); compiled into each, exported by none.  The readers
 * take all of s[0..len), which must be followed by a NUL, and accept no
 * blanks, no hex and no trailing text; the writer's output reads back.
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

/* Room for any double csv_number_format_double writes, with its NUL. */
#define CSV_NUMBER_DOUBLE_MAX 40

/* Write d into buf (CSV_NUMBER_DOUBLE_MAX bytes) as the shortest of 15 to
 * 17 significant digits that reads back to d, with ".0" on whole numbers
 * so that it reads back as a double ("2.0"); inf, -inf, nan as printf
 * spells them.  Returns the length. */
size_t csv_number_format_double(double d, char *buf);

#endif
