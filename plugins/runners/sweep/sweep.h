/* sweep.h - the sweep runner's parts and what they share.
 *
 * A sweep runs the plan once per trial through another runner, each trial
 * with its own parameter overrides and run id, then writes a results table.
 *   grammar.c  one value of `params:` / `-m`: Hydra's basic sweep grammar
 *   trials.c   the trials: the grid (cross product), explicit trials, samples
 *   results.c  the results table: rows, printing, CSV and JSON, resume
 *   inner.c    every call into libcrun's session API (checks, one trial's run)
 *   sweep.c    the descriptor, options, and the loop that runs trials
 * Nothing here is global: a sweep's state lives in its instance (options)
 * and in the `sweep_state` of one run().
 */
#ifndef CRUN_SWEEP_H
#define CRUN_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crun/crun.h"

/* --- grammar.c ---
 * Parse one sweep expression: `a,b,c`, `choice(a,b)`, `range(start,stop[,step])`
 * (or `range(stop)`), each value typed as Hydra types it (int, float,
 * true/false, null, else string; quoted text stays a string).  On success
 * *out is a new JSON array of at least one value.  On error returns -1 and
 * writes "column N: ..." into why (N counts from 1, plus column0 when text
 * is the tail of a longer argument such as -m's KEY=...). */
int sweep_parse(const char *text, size_t column0, json_t **out, char *why, size_t why_size);

/* --- trials.c --- */
typedef struct sweep_space {
    json_t *keys;   /* array of dotted parameter keys, in the order given */
    json_t *values; /* array (one per key) of arrays of values */
    json_t *trials; /* or: an explicit array of {dotted key: value} objects */
} sweep_space;

/* The trials of a space: the cross product of values (the last key varies
 * fastest), or the explicit list; then, when samples > 0 and fewer than the
 * total, that many picked without replacement by a generator seeded with
 * seed, kept in grid order.  Returns a new array of {dotted key: value}
 * objects, NULL with why set when the grid has more than max trials. */
json_t *sweep_trials(const sweep_space *space, int64_t samples, uint64_t seed, size_t max,
                     char *why, size_t why_size);
/* The column names of the trials' parameters (a new array): the space's keys,
 * else the union of the explicit trials' keys in first-seen order. */
json_t *sweep_param_columns(const json_t *trials);

/* --- results.c --- */
typedef enum sweep_status {
    TRIAL_PENDING = 0, /* not started (yet) */
    TRIAL_OK,
    TRIAL_FAILED,
    TRIAL_INTERRUPTED,
    TRIAL_SKIPPED,     /* not started: an earlier trial failed and on_failure is stop */
} sweep_status;

typedef struct sweep_row {
    char run_id[160];
    json_t *params;    /* {dotted key: value} (a reference) */
    sweep_status status;
    double seconds;    /* wall time of the trial's run */
    json_t *collected; /* {column: value} of the collected datasets, or NULL */
    char *error;       /* why the trial failed, or NULL */
} sweep_row;

typedef struct sweep_table {
    char *sweep_id;
    char *runner;      /* the wrapped runner's name */
    json_t *columns;   /* parameter columns */
    sweep_row *rows;
    size_t n;
} sweep_table;

const char *sweep_status_name(sweep_status s);
/* The table as JSON (a new reference) and as CSV text (malloc'd). */
json_t *sweep_table_json(const sweep_table *t);
char *sweep_table_csv(const sweep_table *t);
/* Print the table to out, one line per trial. */
void sweep_table_print(const sweep_table *t, FILE *out);
/* Write results.json and results.csv into dir atomically (temporary file and
 * rename; with durable, fsync too).  Returns 0 or a CRUN_E* code. */
int sweep_table_write(const sweep_table *t, const char *dir, bool durable, crun_error *err);
/* Resume: read dir/results.json and take over each row whose trial succeeded
 * (same index and parameters).  A table of other trials is refused. */
int sweep_table_resume(sweep_table *t, const char *dir, crun_error *err);
/* The columns of a collected dataset's value: a JSON object's numbers and
 * strings as "<ds>.<key>", a number or text as "<ds>". */
void sweep_collect_value(json_t *collected, const char *dataset, const crun_value *value);

/* --- inner.c: the one place that calls libcrun's session and run API --- */
typedef struct sweep_inner {
    crun_run *outer;           /* the sweep's own run (borrowed) */
    const char *runner;        /* the wrapped runner's name (NULL: the env's default) */
    char *default_runner;      /* the env's default, when runner is NULL (owned) */
    bool memory_outputs;       /* trials at once write no shared file outputs */
    const char *const *collect;
} sweep_inner;

/* Where the options were given, for messages. */
typedef struct sweep_where {
    const json_t *params; /* per column, where it was swept */
    const char *runner;
    const char *collect;
    const char *self;
} sweep_where;
/* The checks made before anything runs (the runner's check()): each swept
 * key is a parameter, the wrapped runner (NULL: the env's default) exists
 * with its stack and does not lead back to the sweep (w->self, its
 * runner.yml name or NULL), collected datasets are made by some node. */
int sweep_inner_check(crun_session *s, const char *runner, const json_t *columns,
                      const char *const *collect, const sweep_where *w, crun_error *err);
/* At the start of run(): the default runner's name, and collected datasets
 * made by a node of this run. */
int sweep_inner_begin(sweep_inner *in, const sweep_where *w, crun_error *err);
/* Run trial k (counted from 0 as in the table, its log prefix "trial k") under row->run_id:
 * the sweep run's plan and parameters with overrides ({dotted key: value})
 * laid over them, through the wrapped runner; fill row (status, seconds,
 * collected).  Cancelling the sweep's run cancels it. */
int sweep_inner_run(sweep_inner *in, size_t k, const json_t *overrides, sweep_row *row);
/* The project folder (borrowed) and the logger of the sweep's run. */
const char *sweep_inner_dir(sweep_inner *in);
crun_logger *sweep_inner_logger(sweep_inner *in);

#endif
