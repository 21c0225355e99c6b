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
#include <float.h>
#include <math.h>
#include <stdio.h>
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
    bool inexact;  /* more than 19 digits: m cannot hold them */
    int scale;     /* value = m * 10^scale */
    uint64_t m;
} decimal;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HAVE_SWAR 1
static uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Are all eight bytes of v ASCII digits?  (0x30..0x39: high nibble 3, and
 * adding 6 does not carry into it.) */
static bool eight_are_digits(uint64_t v)
{
    return ((v & UINT64_C(0xf0f0f0f0f0f0f0f0)) |
            (((v + UINT64_C(0x0606060606060606)) & UINT64_C(0xf0f0f0f0f0f0f0f0)) >> 4)) ==
           UINT64_C(0x3333333333333333);
}

/* Eight ASCII digits at once (the SWAR step of simdjson and fast_float):
 * pairs, then quads, then the whole, each a multiply and a shift. */
static uint64_t eight_digits(uint64_t v)
{
    v -= UINT64_C(0x3030303030303030);
    v = v * 10 + (v >> 8);
    v = ((v & UINT64_C(0x000000ff000000ff)) * (100 + (UINT64_C(1000000) << 32)) +
         ((v >> 16) & UINT64_C(0x000000ff000000ff)) * (1 + (UINT64_C(10000) << 32))) >> 32;
    return v;
}
#endif

/* Sum the digits from p into *m (wrapping past 19 digits: callers count
 * them and do not use m then); returns the first byte that is not a digit.
 * One pass finds and sums the digits: this is the inner loop of every
 * numeric cell. */
static const char *sum_digits(const char *p, const char *end, uint64_t *m)
{
    uint64_t v = *m;
#ifdef HAVE_SWAR
    for (uint64_t w; end - p >= 8 && eight_are_digits(w = load8(p)); p += 8)
        v = v * 100000000 + eight_digits(w);
#endif
    for (; p < end && is_digit(*p); p++)
        v = v * 10 + (uint64_t)(*p - '0');
    *m = v;
    return p;
}

bool csv_number_int64(const char *s, size_t len, int64_t *out)
{
    const char *end = s + len;
    bool negative = len && *s == '-';
    s += len && (*s == '-' || *s == '+');
    while (end - s > 1 && *s == '0')
        s++;
    uint64_t u = 0;
    if (s == end || sum_digits(s, end, &u) != end || end - s > 19)
        return false;
    /* 19 digits may pass the limit, and do not wrap (< 2^64). */
    if (u > (negative ? UINT64_C(9223372036854775808) : (uint64_t)INT64_MAX))
        return false;
    *out = negative ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/* The exponent after 'e' at p; false when there are no digits. */
static bool scan_exponent(const char *p, const char *end, int *exp)
{
    bool negative = p < end && *p == '-';
    p += p < end && (*p == '-' || *p == '+');
    if (p == end)
        return false;
    int e = 0;
    for (; p < end && is_digit(*p); p++)
        e = e < 100000 ? e * 10 + (*p - '0') : e; /* far past any double: stays far */
    *exp = negative ? -e : e;
    return p == end;
}

/* Gather s's digits; false when s is not [sign] digits [. digits] [e ...]. */
static bool scan(const char *s, const char *end, decimal *x)
{
    *x = (decimal){.negative = s < end && *s == '-'};
    s += s < end && (*s == '-' || *s == '+');
    const char *int_end = sum_digits(s, end, &x->m), *frac = int_end, *frac_end = int_end;
    if (int_end < end && *int_end == '.')
        frac_end = sum_digits(frac = int_end + 1, end, &x->m);
    size_t digits = (size_t)(int_end - s) + (size_t)(frac_end - frac);
    int exp = 0;
    if (digits == 0)
        return false;
    if (frac_end < end && ((*frac_end != 'e' && *frac_end != 'E') ||
                           !scan_exponent(frac_end + 1, end, &exp)))
        return false;
    x->scale = exp - (int)(frac_end - frac);
    /* m wrapped: strtod decides (also for the rare "0.000...0123" whose
     * leading zeros alone pass 19 digits). */
    x->inexact = digits > 19;
    return true;
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
     * +-HUGE_VAL (ERANGE is no error here: pandas reads inf too). */
    *out = strtod(s, NULL);
    return true;
}
