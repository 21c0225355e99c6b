/* grammar.c - one sweep expression, Hydra's basic sweep grammar, into values.
 *
 *   0.2,0.3            a list (a simple sweep); one value is a sweep of one
 *   choice(a, b)       the same list, written as a function
 *   range(1,4)         Python's range: 1,2,3; range(4) is 0..3; floats
 *   range(0,1,0.25)    allowed (0,0.25,0.5,0.75), step may be negative
 *
 * Values are typed as Hydra types them: int (1, -3, 1_000), float (0.5, 1e-3),
 * true/false (any case), null, else a string; 'quoted' or "quoted" text is a
 * string as written (\' or \" and \\ escape inside).  Whitespace around values
 * is dropped.  A parser is a cursor over the text; errors name the column.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sweep.h"

#define SWEEP_MAX_RANGE 100000

typedef struct cursor {
    const char *text;
    size_t pos;
    size_t column0; /* added to columns: where text starts in a longer one */
    char *why;
    size_t why_size;
} cursor;

static int fail_at(cursor *c, size_t pos, const char *fmt, ...) CRUN_PRINTF(3, 4);
static int fail_at(cursor *c, size_t pos, const char *fmt, ...)
{
    int n = snprintf(c->why, c->why_size, "column %zu: ", c->column0 + pos + 1);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->why_size)
        vsnprintf(c->why + n, c->why_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_space(cursor *c)
{
    while (c->text[c->pos] == ' ' || c->text[c->pos] == '\t')
        c->pos++;
}

/* Hydra's int: [+-]?digits with single underscores between digits. */
static bool read_int(const char *s, json_int_t *out)
{
    char digits[64];
    size_t n = 0, i = (s[0] == '+' || s[0] == '-');
    if (!isdigit((unsigned char)s[i]))
        return false;
    for (; s[i]; i++) {
        if (s[i] == '_' && isdigit((unsigned char)s[i - 1]) && isdigit((unsigned char)s[i + 1]))
            continue;
        if (!isdigit((unsigned char)s[i]) || n + 2 >= sizeof(digits))
            return false;
        digits[n++] = s[i];
    }
    digits[n] = '\0';
    errno = 0;
    long long v = strtoll(digits, NULL, 10);
    if (errno)
        return false;
    *out = s[0] == '-' ? -v : v;
    return true;
}

static bool read_float(const char *s, double *out)
{
    if (strchr(s, '_') || strchr(s, 'x') || strchr(s, 'X'))
        return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || errno == ERANGE)
        return false;
    *out = d;
    return true;
}

/* An unquoted value's JSON type. */
static json_t *typed(const char *s)
{
    json_int_t i;
    double d;
    if (read_int(s, &i))
        return json_integer(i);
    if (read_float(s, &d))
        return isfinite(d) ? json_real(d) : json_string(s); /* JSON has no inf/nan */
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0)
        return json_boolean(strcasecmp(s, "true") == 0);
    if (strcasecmp(s, "null") == 0)
        return json_null();
    return json_string(s);
}

static json_t *quoted(cursor *c)
{
    char q = c->text[c->pos];
    size_t start = c->pos++;
    size_t len = strlen(c->text);
    char *buf = malloc(len + 1), *b = buf;
    if (!buf)
        return NULL;
    for (;;) {
        char ch = c->text[c->pos];
        if (!ch) {
            free(buf);
            fail_at(c, start, "the quote %c is not closed", q);
            return NULL;
        }
        c->pos++;
        if (ch == q)
            break;
        if (ch == '\\' && (c->text[c->pos] == q || c->text[c->pos] == '\\'))
            ch = c->text[c->pos++];
        *b++ = ch;
    }
    *b = '\0';
    json_t *v = json_string(buf);
    free(buf);
    return v;
}

/* One value, up to a top-level ',' or ')' (when in a function). */
static json_t *value(cursor *c, bool in_call)
{
    skip_space(c);
    size_t start = c->pos;
    json_t *v = NULL;
    if (c->text[c->pos] == '\'' || c->text[c->pos] == '"') {
        if (!(v = quoted(c)))
            return NULL;
    } else {
        static const char stops[] = ",()[]{}'\"";
        while (c->text[c->pos] && !strchr(stops, c->text[c->pos]))
            c->pos++;
        size_t end = c->pos;
        while (end > start && (c->text[end - 1] == ' ' || c->text[end - 1] == '\t'))
            end--;
        char ch = c->text[c->pos];
        if (ch && ch != ',' && !(in_call && ch == ')')) {
            if (strchr("[]{}", ch))
                fail_at(c, c->pos, "lists and maps are not sweep values (found '%c')", ch);
            else
                fail_at(c, c->pos, "unexpected '%c'", ch);
            return NULL;
        }
        if (end == start) {
            fail_at(c, start, "a value is missing");
            return NULL;
        }
        char *s = strndup(c->text + start, end - start);
        v = s ? typed(s) : NULL;
        free(s);
    }
    skip_space(c);
    return v;
}

/* Comma-separated values up to the end (or ')' in a call) into out. */
static int values(cursor *c, bool in_call, json_t *out)
{
    for (;;) {
        json_t *v = value(c, in_call);
        if (!v || json_array_append_new(out, v))
            return -1;
        char ch = c->text[c->pos];
        if (ch == ',') {
            c->pos++;
            continue;
        }
        if (in_call && ch != ')')
            return fail_at(c, c->pos, "the call is not closed with ')'");
        if (!in_call && ch)
            return fail_at(c, c->pos, "unexpected '%c'", ch);
        return 0;
    }
}

static int range_values(cursor *c, size_t at, json_t *args, json_t *out)
{
    size_t n = json_array_size(args);
    if (n < 1 || n > 3)
        return fail_at(c, at, "range takes 1 to 3 numbers (start, stop, step), got %zu", n);
    double a[3] = {0, 0, 1};
    bool ints = true;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(args, i);
        if (!json_is_number(v))
            return fail_at(c, at, "range's arguments must be numbers, argument %zu is not", i + 1);
        ints = ints && json_is_integer(v);
        a[n == 1 ? 1 : i] = json_number_value(v);
    }
    double start = a[0], stop = a[1], step = a[2];
    if (step == 0)
        return fail_at(c, at, "range's step must not be 0");
    /* start + i*step, not a running sum, so that 0.1 steps do not drift */
    for (size_t i = 0;; i++) {
        double v = start + (double)i * step;
        double eps = fabs(step) * 1e-9;
        if ((step > 0 && v >= stop - eps) || (step < 0 && v <= stop + eps))
            break;
        if (i >= SWEEP_MAX_RANGE)
            return fail_at(c, at, "range has more than %d values", SWEEP_MAX_RANGE);
        char tidy[32];
        snprintf(tidy, sizeof(tidy), "%.12g", v);
        json_t *jv = ints ? json_integer((json_int_t)llround(v)) : json_real(strtod(tidy, NULL));
        if (!jv || json_array_append_new(out, jv))
            return -1;
    }
    if (json_array_size(out) == 0)
        return fail_at(c, at, "range(%g, %g, %g) is empty", start, stop, step);
    return 0;
}

/* `name(` at the cursor: choice or range; else not a call. */
static int call(cursor *c, size_t name_end, json_t *out)
{
    size_t at = c->pos;
    char name[16];
    size_t len = name_end - c->pos;
    if (len >= sizeof(name))
        return fail_at(c, at, "unknown function (expected choice or range)");
    memcpy(name, c->text + c->pos, len);
    name[len] = '\0';
    bool is_range = strcmp(name, "range") == 0;
    if (!is_range && strcmp(name, "choice") != 0)
        return fail_at(c, at, "unknown function '%s' (expected choice or range)", name);
    c->pos = name_end + 1;
    skip_space(c);
    if (c->text[c->pos] == ')')
        return fail_at(c, c->pos, "%s() needs at least one value", name);
    json_t *args = is_range ? json_array() : out;
    int rc = args ? values(c, true, args) : -1;
    if (!rc) {
        c->pos++; /* ')' */
        skip_space(c);
        if (c->text[c->pos])
            rc = fail_at(c, c->pos, "unexpected text after %s(...)", name);
    }
    if (!rc && is_range)
        rc = range_values(c, at, args, out);
    if (is_range)
        json_decref(args);
    return rc;
}

int sweep_parse(const char *text, size_t column0, json_t **out, char *why, size_t why_size)
{
    cursor c = {.text = text, .column0 = column0, .why = why, .why_size = why_size};
    *out = NULL;
    if (why_size)
        why[0] = '\0';
    json_t *vals = json_array();
    if (!vals) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    skip_space(&c);
    size_t name_end = c.pos;
    while (isalpha((unsigned char)text[name_end]))
        name_end++;
    int rc = name_end > c.pos && text[name_end] == '(' ? call(&c, name_end, vals)
                                                       : values(&c, false, vals);
    if (rc) {
        if (!why[0])
            snprintf(why, why_size, "out of memory");
        json_decref(vals);
        return -1;
    }
    *out = vals;
    return 0;
}
