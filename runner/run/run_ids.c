/* run_ids.c - a run's id and the version its saves go under.
 *
 * Both come from the wall clock: the version is Kedro's millisecond
 * timestamp (2026-11-23T16.45.00.123Z), unique within a session through an
 * atomic compare-and-swap on the newest one handed out; the id is the
 * second plus six hex digits mixed from the session's atomic counter.  No
 * lock, no gmtime_r (it locks the time zone), no getrandom per run: a
 * service starts a run per request on several threads.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run/run.h"

/* Write v as width decimal digits (zero-padded) at out. */
static char *put_digits(char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return out + width;
}

/* splitmix64's mixing: a run id's random-looking suffix from a counter
 * (seeded at open), so that ids of different sessions differ too. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The UTC calendar date of a day count since 1970-01-01 (Howard Hinnant's
 * days_from_civil inverse): gmtime_r without its lock on the time zone. */
static void civil_date(int64_t days, unsigned *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

void run_make_ids(crun_run *run, const char *run_id)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* versions are milliseconds: runs of one session starting in the same
     * millisecond take the next free one, so no two runs share a version */
    run_shared *s = run->shared;
    int_fast64_t ms = (int_fast64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int_fast64_t last = atomic_load(&s->last_version_ms);
    do {
        if (ms <= last)
            ms = last + 1;
    } while (!atomic_compare_exchange_weak(&s->last_version_ms, &last, ms));
    int64_t secs = ms / 1000;
    unsigned y, mo, d, sod = (unsigned)(secs % 86400);
    civil_date(secs / 86400, &y, &mo, &d);
    unsigned fields[6] = {y % 10000, mo, d, sod / 3600, sod / 60 % 60, sod % 60};
    /* "YYYY-MM-DDTHH.MM.SS.mmmZ" (Kedro's version format) */
    char *v = run->version;
    for (int i = 0; i < 6; i++) {
        v = put_digits(v, fields[i], i ? 2 : 4);
        *v++ = "--T..."[i];
    }
    v = put_digits(v, (unsigned)(ms % 1000), 3);
    memcpy(v, "Z", 2);
    if (run_id) {
        snprintf(run->run_id, sizeof(run->run_id), "%s", run_id);
        return;
    }
    /* "YYYYMMDDTHHMMSSZ-xxxxxx" */
    char *r = run->run_id;
    for (int i = 0; i < 6; i++) {
        r = put_digits(r, fields[i], i ? 2 : 4);
        if (i == 2)
            *r++ = 'T';
    }
    uint64_t rnd = mix64(atomic_fetch_add(&s->id_counter, 0x9e3779b97f4a7c15u));
    static const char hex[] = "0123456789abcdef";
    *r++ = 'Z';
    *r++ = '-';
    for (int i = 5; i >= 0; i--)
        *r++ = hex[(rnd >> (4 * i)) & 0xf];
    *r = '\0';
}

