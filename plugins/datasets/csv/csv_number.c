/* csv_number.c - decimal text to int64 and double (see csv_number.h).
 *
 * A million-row CSV file is mostly numbers, and glibc's strtod spends most
 * of its time on the exactness it owes every input.  Here the syntax is
 * checked once while the digits are gathered, and the value comes from an
 * exact shortcut when one applies: Clinger's fast path (digits within 2^53
 * and a power of ten up to 1e22: one correctly rounded operation), then the
 * same with x87 extended precision for the 17-digit doubles that printing
 * writes, and strtod for the rest.  Every path returns strtod's result.
 */
#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv_number.h"

static const double exact_powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if defined(__x86_64__) && LDBL_MANT_DIG == 64
#define HAVE_X87_PATH 1
/* 10^k for k <= 27 fits the 64-bit significand exactly (5^27 < 2^64). */
static const long double exact_powers_x87[] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

/* The digits of a decimal, as gathered by scan(). */
typedef struct decimal {
    bool negative;
    bool inexact;  /* digits past the 19th were dropped */
    int digits;    /* significant digits kept in m (at most 19) */
    int scale;     /* value = m * 10^scale */
    uint64_t m;
} decimal;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool csv_number_int64(const char *s, size_t len, int64_t *out)
{
    const char *end = s + len;
    bool negative = len && *s == '-';
    s += len && (*s == '-' || *s == '+');
    if (s == end)
        return false;
    uint64_t u = 0, limit = negative ? UINT64_C(9223372036854775808) : INT64_MAX;
    for (; s < end; s++) {
        if (!is_digit(*s))
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (u > (limit - d) / 10)
            return false;
        u = u * 10 + d;
    }
    *out = negative ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

static void add_digit(decimal *x, char c, bool fraction)
{
    /* Leading zeros carry no digits, only (after the point) the scale. */
    if (x->m == 0 && c == '0') {
        x->scale -= fraction;
        return;
    }
    if (x->digits < 19) {
        x->m = x->m * 10 + (uint64_t)(c - '0');
        x->digits++;
        x->scale -= fraction;
        return;
    }
    x->inexact = true;
    x->scale += !fraction;
}

/* Gather s's digits; false when s is not [sign] digits [. digits] [e ...]. */
static bool scan(const char *s, const char *end, decimal *x)
{
    size_t seen = 0;
    *x = (decimal){.negative = s < end && *s == '-'};
    s += s < end && (*s == '-' || *s == '+');
    for (; s < end && is_digit(*s); s++, seen++)
        add_digit(x, *s, false);
    if (s < end && *s == '.')
        for (s++; s < end && is_digit(*s); s++, seen++)
            add_digit(x, *s, true);
    if (seen == 0)
        return false;
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        bool negative = s < end && *s == '-';
        s += s < end && (*s == '-' || *s == '+');
        if (s == end)
            return false;
        int exp = 0;
        for (; s < end && is_digit(*s); s++)
            exp = exp < 100000 ? exp * 10 + (*s - '0') : exp;
        x->scale += negative ? -exp : exp;
    }
    return s == end;
}

static bool is_special(const char *s, size_t len)
{
    if (len && (*s == '-' || *s == '+')) {
        s++;
        len--;
    }
    return (len == 3 && (strncasecmp(s, "inf", 3) == 0 || strncasecmp(s, "nan", 3) == 0)) ||
           (len == 8 && strncasecmp(s, "infinity", 8) == 0);
}

/* Clinger: m and 10^|scale| are exact doubles, so one IEEE operation
 * rounds correctly.  (x87's FLT_EVAL_METHOD 2 would round twice.) */
static bool clinger(const decimal *x, double *out)
{
    if (FLT_EVAL_METHOD != 0 || x->m > (UINT64_C(1) << 53) || x->scale < -22 || x->scale > 22)
        return false;
    double d = (double)x->m;
    d = x->scale < 0 ? d / exact_powers[-x->scale] : d * exact_powers[x->scale];
    *out = x->negative ? -d : d;
    return true;
}

/* The same with a 64-bit significand: q is within half a unit (2^-64
 * relative) of the true value, so rounding q to a double gives the right
 * double unless q lies exactly halfway between two doubles (its 11 bits
 * below double precision read 0x400); then strtod decides. */
static bool extended(const decimal *x, double *out)
{
#ifdef HAVE_X87_PATH
    if (x->m == 0 || x->scale < -27 || x->scale > 27)
        return false;
    long double q = (long double)x->m;
    q = x->scale < 0 ? q / exact_powers_x87[-x->scale] : q * exact_powers_x87[x->scale];
    uint64_t significand;
    memcpy(&significand, &q, sizeof(significand)); /* x87 layout: significand first */
    if ((significand & 0x7ff) == 0x400)
        return false;
    double d = (double)q;
    *out = x->negative ? -d : d;
    return true;
#else
    (void)x;
    (void)out;
    return false;
#endif
}

bool csv_number_double(const char *s, size_t len, double *out)
{
    decimal x;
    if (scan(s, s + len, &x)) {
        if (!x.inexact && (clinger(&x, out) || extended(&x, out)))
            return true;
    } else if (!is_special(s, len)) {
        return false;
    }
    /* The syntax is checked, so strtod reads all of s; overflow gives
     * +-HUGE_VAL, as pandas gives inf. */
    errno = 0;
    *out = strtod(s, NULL);
    return true;
}
