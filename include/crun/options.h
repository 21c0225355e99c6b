/* crun/options.h - a plugin's options: reading them, and declaring them.
 *
 * Options reach a plugin's create() as a read-only crun_options: a JSON
 * object plus where each key was written (file:line:column), so that every
 * complaint names the place.  A plugin declares what it takes once, in a
 * constant table of crun_option (name, type, default, range or choices, one
 * line of doc, and where in its own config struct the value goes), and reads
 * them all with one call:
 *
 *     typedef struct my_config { int64_t workers; double grace; } my_config;
 *     static const crun_option my_options[] = {
 *         {.name = "workers", .type = CRUN_OPTION_INT, .def = "4", .min = 1, .max = 64,
 *          .doc = "threads", .offset = offsetof(my_config, workers)},
 *         {.name = "grace", .type = CRUN_OPTION_DURATION, .def = "5s", .min = 0,
 *          .max = 3600, .doc = "time to stop", .offset = offsetof(my_config, grace)},
 *     };
 *     my_config cfg = {0};
 *     int rc = crun_options_read(opts, my_options, CRUN_OPTION_COUNT(my_options), &cfg, err);
 *
 * The same table hangs from the plugin's descriptor (crun_plugin.options),
 * so `crun plugin info` and `crun list runners` can say what a plugin takes.
 * The single accessors below stay for options the table cannot express.
 * Thread-safety: a crun_options is read-only once built and may be shared;
 * tables are constants.
 */
#ifndef CRUN_OPTIONS_H
#define CRUN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crun_options crun_options;

/* --- declaring options ------------------------------------------------------ */

/* What an option holds, and the C type of the member it fills. */
typedef enum crun_option_type {
    CRUN_OPTION_INT = 1,     /* int64_t; a number or a string that reads as one */
    CRUN_OPTION_DOUBLE,      /* double */
    CRUN_OPTION_BOOL,        /* bool; true/false (also as strings) */
    CRUN_OPTION_STRING,      /* const char *, borrowed from the options */
    CRUN_OPTION_CHOICE,      /* const char *: the matching entry of choices (static) */
    CRUN_OPTION_DURATION,    /* double seconds: a number, or "250ms", "30s", "5m", "2h", "1d" */
    CRUN_OPTION_SIZE,        /* int64_t bytes: a number, or "64k", "10M", "1G" (powers of 1024) */
    CRUN_OPTION_STRING_LIST, /* json_t *: an array of strings, borrowed from the options */
    CRUN_OPTION_JSON         /* json_t *: any value (map, list...), borrowed; the plugin checks it */
} crun_option_type;

/* crun_option.flags */
#define CRUN_OPTION_REQUIRED 0x1u /* refuse options that do not set it */
#define CRUN_OPTION_NONEMPTY 0x2u /* strings and lists: refuse "" and [] */

/* One option.  Unset fields are zero, so designated initializers read well. */
typedef struct crun_option {
    const char *name;
    crun_option_type type;
    /* The default, written as a user would write it in YAML ("4", "5s",
     * "true", "127.0.0.1"), read and checked like a user's value.  NULL: no
     * default; the member keeps what the caller put there before the call
     * (say so in doc, e.g. "default: the number of CPUs").  JSON and string
     * list options take no default. */
    const char *def;
    /* Inclusive range for INT, DOUBLE, DURATION and SIZE.  Both 0: any value;
     * use INFINITY / -INFINITY (math.h) for a one-sided range. */
    double min, max;
    const char *const *choices; /* CHOICE: NULL-terminated list of the allowed values */
    const char *doc;            /* one line for `crun plugin info` */
    size_t offset;              /* offsetof() the member in the plugin's config struct */
    uint32_t flags;             /* CRUN_OPTION_* */
} crun_option;

#define CRUN_OPTION_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* Read every option of table (n entries) into the struct at config: refuse
 * keys the table does not name ("did you mean"), type-check and range-check
 * each value, apply defaults, and store each into config + offset.  On a bad
 * value err reads "<file:line:col>: <owner>: option 'key': expected ..., got
 * ..." and CRUN_ECONFIG is returned; config may then be partly filled.
 * Strings and JSON stored are borrowed from opts: copy what create() keeps.
 * table may be NULL when n is 0 (a plugin taking no options). */
int crun_options_read(const crun_options *opts, const crun_option *table, size_t n,
                      void *config, crun_error *err);

/* "int", "double", "bool", "string", "choice", "duration", "size",
 * "string list", "json", or "unknown". */
const char *crun_option_type_name(crun_option_type type);

/* --- reading options one at a time -------------------------------------------
 * The accessors type-check a value and, on a mismatch, fill err with
 * "<where>: option 'key': expected ..., got ..." and return CRUN_ECONFIG.
 * A missing key leaves *out at the default the caller put there and returns 0. */

/* The options as a JSON object (borrowed; never NULL, maybe empty).  Read
 * it, copy from it, but do not json_incref/json_decref anything in it: one
 * options object may serve several runs on different threads at once, and
 * jansson's reference counts are not safe to change from two threads. */
json_t *crun_options_json(const crun_options *opts);
/* "file:line:column" where key was set, or the options' own origin ("--runner-opt", "IR") */
const char *crun_options_where(const crun_options *opts, const char *key);
/* The project folder, to resolve relative paths in options against (the
 * host never changes the current folder); NULL when there is none. */
const char *crun_options_dir(const crun_options *opts);
int crun_options_set_dir(crun_options *opts, const char *dir);
/* What the options belong to, as given by the host ("runner 'parallel'"). */
const char *crun_options_owner(const crun_options *opts);
bool crun_options_has(const crun_options *opts, const char *key);

int crun_options_int(const crun_options *opts, const char *key, int64_t min, int64_t max,
                     int64_t *out, crun_error *err);
int crun_options_double(const crun_options *opts, const char *key, double *out, crun_error *err);
int crun_options_bool(const crun_options *opts, const char *key, bool *out, crun_error *err);
/* *out is borrowed from opts. */
int crun_options_string(const crun_options *opts, const char *key, const char **out,
                        crun_error *err);
/* Refuse keys not in the NULL-terminated list known[], suggesting the closest. */
int crun_options_check_known(const crun_options *opts, const char *const *known, crun_error *err);

/* Build options from a JSON object (takes a new reference) for embedding and
 * tests; owner names what they belong to.  Free with crun_options_free. */
crun_options *crun_options_new(json_t *object, const char *owner, const char *origin);
void crun_options_free(crun_options *opts);

#ifdef __cplusplus
}
#endif
#endif
