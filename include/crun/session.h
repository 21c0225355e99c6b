/* crun/session.h - embedding crun: open a project, compile it, run it.
 *
 * A session holds one project loaded for one environment: its configuration,
 * resolved pipelines (the IR), parameters and the plugins it has loaded.
 * Runs are started from a session; each run has its own catalog instances,
 * memory datasets and scratch folder, so several runs of one session (or of
 * several sessions) may go on at once on different threads.
 *
 *     crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
 *     so.project_dir = "path/to/project";
 *     crun_session *s;
 *     crun_error err = CRUN_ERROR_INIT;
 *     if (crun_session_open(&so, &s, &err) != 0) { puts(err.message); ... }
 *     crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
 *     crun_run_result res = CRUN_RUN_RESULT_INIT;
 *     int rc = crun_session_run(s, &ro, &res, &err);
 *     crun_run_result_clear(&res);
 *     crun_session_close(s);
 *
 * Sizes: each options and result struct starts with `size`; start from its
 * *_INIT macro, which sets it.  A program built against an older minor of
 * the ABI passes a shorter struct, and the members it does not have take
 * their defaults; a longer one (a newer minor) is accepted when the members
 * this library does not know are zero, and refused (CRUN_EINVAL) otherwise.
 * The library writes only the members of a result that its size holds.
 *
 * Thread-safety: a session is immutable after crun_session_open except for
 * its plugin cache and hook list, which are locked; crun_session_run,
 * crun_session_compile and crun_session_cancel may be called from several
 * threads at once.  crun_session_add_hook must not race with runs.
 */
#ifndef CRUN_SESSION_H
#define CRUN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "abi.h"
#include "error.h"
#include "hooks.h"
#include "log.h"
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crun_session crun_session;

typedef struct crun_session_options {
    uint32_t size;              /* sizeof(crun_session_options) */
    const char *project_dir;    /* NULL: the current folder */
    const char *env;            /* NULL: crun.ini's default_env, else "local" */
    const char *params;         /* --params "a.b=1,c=x": overrides and ${runtime_params:...} */
    const char *ir_file;        /* load this compiled IR instead of conf/ */
    char *const *environ;       /* variables for ${env:...} and commands; NULL: the process's */
    const char *builtin_plugin_dir; /* searched after CRUN_PLUGIN_PATH; NULL: the installed one */
    crun_log_level log_level;   /* lines above it are dropped */
    crun_log_fn log_fn;         /* NULL: stderr */
    void *log_user;
    bool no_hooks;              /* ignore crun.ini / hooks.yml hooks */
    /* Asked on the opening thread before each configuration file and every
     * few thousand YAML events: true stops crun_session_open with
     * CRUN_ECANCELED (a program's Ctrl-C).  Quick and thread-safe: a flag
     * another thread sets.  NULL: never asked. */
    bool (*interrupted)(void *user);
    void *interrupted_user;
    /* The configuration folder (Kedro's --conf-source): its envs are its
     * sub-folders (base, local, ...).  Absolute, or relative to the current
     * folder; NULL: <project_dir>/conf.  One that is no folder is
     * CRUN_EUSAGE naming it.  Also where the credentials of an ir_file's
     * project are read. */
    const char *conf_source;
} crun_session_options;

#define CRUN_SESSION_OPTIONS_INIT {.size = sizeof(crun_session_options), .log_level = CRUN_LOG_INFO}

int crun_session_open(const crun_session_options *opts, crun_session **out, crun_error *err);
void crun_session_close(crun_session *session);

/* The project's name, env and absolute folder (borrowed, session lifetime). */
const char *crun_session_name(const crun_session *session);
const char *crun_session_env(const crun_session *session);
const char *crun_session_dir(const crun_session *session);
crun_logger *crun_session_logger(crun_session *session);

/* Node filters with Kedro's semantics; each list is comma-separated, NULL
 * when unused, and all given filters are intersected.  Passed by pointer:
 * NULL is the whole default pipeline. */
typedef struct crun_filter {
    uint32_t size;           /* sizeof(crun_filter): start from CRUN_FILTER_INIT */
    const char *pipeline;    /* NULL: __default__ */
    const char *tags;        /* nodes with any of these tags */
    const char *nodes;       /* exactly these nodes */
    const char *from_nodes;  /* these nodes and everything downstream */
    const char *to_nodes;    /* these nodes and everything upstream */
    const char *from_inputs; /* nodes downstream of these datasets */
    const char *to_outputs;  /* nodes upstream of (and producing) these datasets */
} crun_filter;

#define CRUN_FILTER_INIT {.size = sizeof(crun_filter)}

/* The IR of the filtered pipeline as JSON (a new reference); filter NULL:
 * the default pipeline. */
int crun_session_compile(crun_session *session, const crun_filter *filter, json_t **out,
                         crun_error *err);

/* Descriptions for `crun list`: each a new reference to a JSON array of
 * objects.  what: "pipelines", "nodes", "datasets", "runners", "plugins", or
 * "hooks" (the project's hooks as configured: name, options, where). */
int crun_session_list(crun_session *session, const char *what, json_t **out, crun_error *err);
/* One dataset for `crun catalog describe`: type, options, where it is
 * declared, which nodes use it, whether its data exists, its versions. */
int crun_session_describe_dataset(crun_session *session, const char *name, json_t **out,
                                  crun_error *err);

/* The value of a catalog dataset (or a parameter, params:a.b) as loaded
 * outside any run, for a quick look (`crun catalog show`, Kedro's
 * catalog.load); *out is the caller's reference.  Datasets that need
 * credentials are refused. */
int crun_session_load_dataset(crun_session *session, const char *name, crun_value **out,
                              crun_error *err);

/* Room for a run id and its NUL: a given id has at most CRUN_RUN_ID_MAX - 1
 * letters, digits, '.', '_' or '-', not starting with '.' or '-'. */
#define CRUN_RUN_ID_MAX 64

typedef struct crun_run_options {
    uint32_t size;                 /* sizeof(crun_run_options) */
    const crun_filter *filter;     /* borrowed for the call; NULL: the default pipeline */
    const char *runner;            /* runner.yml name, plugin name or .so path; NULL: default */
    const char *const *runner_opts;/* "key=value" strings, NULL-terminated; may be NULL */
    const char *load_versions;     /* "dataset:version,..." */
    const char *run_id;            /* NULL: a new one */
    bool progress;                 /* draw [done/total] progress on the log */
    /* --- for runs made by a program (the service runner, embedding) --- */
    json_t *params;                /* parameter overrides for this run only, merged deeply
                                    * over the session's; every key must be a parameter or
                                    * read by ${runtime_params:...} in the catalog
                                    * (CRUN_EUSAGE); catalog entries that read them are
                                    * resolved again for this run */
    const char *const *input_names;/* datasets whose value this run takes from here */
    crun_value *const *input_values;/* borrowed; each must be a dataset the plan reads */
    size_t n_inputs;
    bool memory_outputs;           /* keep file-backed outputs in memory: write no file */
    bool collect_outputs;          /* return the free outputs' values in the result */
    /* Called with the run once it exists and with NULL before it is freed, on
     * the calling thread: a program keeps the pointer to crun_run_cancel that
     * one run (a request's timeout). */
    void (*on_run)(void *user, crun_run *run);
    void *on_run_user;
    bool own_cancel;               /* crun_session_cancel leaves this run alone */
    /* When the run's file saves reach the disk (crun_durability, dataset.h):
     * 0 for crun.ini's [run] durability, else CRUN_DURABILITY_RUN.  A catalog
     * entry's own `durability` wins for that dataset. */
    int durability;
    /* With memory_outputs: an output whose catalog entry this run's params
     * resolve to a file of its own (${runtime_params:...} with a value of
     * this run's) is written all the same: runs at once keep the files that
     * differ and share none. */
    bool write_own_outputs;
    /* Files for catalog datasets in this run only (`crun run --input/--output`,
     * for engines that stage files themselves): NULL-terminated "DATASET=PATH"
     * strings, borrowed; may be NULL.  PATH (absolute, or relative to the
     * project folder) replaces the entry's filepath and the dataset is not
     * versioned in this run; its type still reads and writes the file.  An
     * input must be read and not made by the run's nodes and its file must
     * exist; an output must be made by them.  A name that is no dataset, or a
     * dataset without a filepath (memory, parameters), is CRUN_EUSAGE. */
    const char *const *input_paths;
    const char *const *output_paths;
    /* --- ABI 2.x additions: incremental runs (docs/incremental.md) --- */
    /* CRUN_INCREMENTAL_*: which nodes an executing runner (one flagged
     * CRUN_RUNNER_EXECUTES) skips as up to date; 0 runs them all.  Runs
     * inside runs inherit it. */
    int incremental;
    /* Decide and describe (result.decisions), run nothing. */
    bool dry_run;
} crun_run_options;

/* crun_run_options.incremental */
enum {
    CRUN_INCREMENTAL_OFF = 0,
    /* Kedro's --only-missing-outputs: a node runs when it has no outputs, a
     * persistent output is missing, or a node that runs needs an output of
     * it that is in memory or missing */
    CRUN_INCREMENTAL_MISSING_OUTPUTS = 1,
    /* --only-changed: also when its fingerprint (code, parameters read,
     * inputs, declaration, outputs) differs from the one recorded when its
     * outputs were saved, and everything downstream of a node that runs */
    CRUN_INCREMENTAL_CHANGED = 2
};

#define CRUN_RUN_OPTIONS_INIT {.size = sizeof(crun_run_options)}

typedef struct crun_run_result {
    uint32_t size;         /* sizeof(crun_run_result): start from CRUN_RUN_RESULT_INIT */
    char *run_id;          /* the run's id */
    int status;            /* 0, or the CRUN_E* code the run ended with */
    char **failed_nodes;   /* NULL-terminated names of the nodes that failed; NULL if none */
    char *resume_command;  /* the `crun run ... --from-nodes ...` that resumes; NULL if none */
    size_t nodes_done;
    size_t nodes_total;
    /* the runner handed the plan to runs of its own (the service), so
     * nodes_done says nothing of them */
    bool delegated;
    /* with collect_outputs: the pipeline's free outputs (made by a node, read by
     * none), names and new references, n_outputs of each */
    size_t n_outputs;
    char **output_names;
    crun_value **output_values;
    /* with collect_outputs: each node that ran (done or failed) and its
     * seconds, n_timed of each, in plan order */
    size_t n_timed;
    char **timed_nodes;
    double *timed_seconds;
    /* where resume_command starts: the nodes of its --from-nodes,
     * comma-separated (crun_delegate_options.from_nodes takes it); NULL if none */
    char *resume_from;
    /* --- ABI 2.x additions: incremental runs --- */
    size_t nodes_up_to_date; /* planned nodes skipped (not in nodes_total) */
    /* with dry_run: a new reference to [{"node", "action": "run"|"skip",
     * "reason"}] for every planned node in plan order; else NULL */
    json_t *decisions;
} crun_run_result;

#define CRUN_RUN_RESULT_INIT {.size = sizeof(crun_run_result)}
/* Free everything a result holds (strings, arrays, output references, decisions) and
 * zero it, keeping its size.  Every member is owned by the result (nothing
 * borrows from the session), and they may share allocations (the output and
 * timing arrays are one block): free them only this way. */
void crun_run_result_clear(crun_run_result *result);

/* Plan, open the catalog, and run with the chosen runner; blocks until the run
 * ends.  Returns 0, or CRUN_EUSAGE/CRUN_ECONFIG/CRUN_EPLUGIN before anything
 * ran, CRUN_ENODE when a node failed, CRUN_ECANCELED when cancelled;
 * CRUN_EINVAL for options or a result without a size.  The result (from
 * CRUN_RUN_RESULT_INIT, or cleared) is zeroed, then filled as far as its
 * size goes; clear it after. */
int crun_session_run(crun_session *session, const crun_run_options *opts,
                     crun_run_result *result, crun_error *err);

/* The session's parameters (borrowed; read-only). */
json_t *crun_session_params(const crun_session *session);

/* Cancel every run of the session that is in progress (any thread).  When
 * none is, the next run to start is cancelled at once, so that a Ctrl-C
 * during start-up is not lost; runs after that one are not affected. */
void crun_session_cancel(crun_session *session);
/* The longest grace period (crun_run_set_grace_period) of the session's runs
 * in progress and the runs inside them, or the default (5 s) when none is:
 * after crun_session_cancel, a run that has not returned this long after
 * (plus a margin) holds a node that will not stop.  Any thread. */
double crun_session_grace_period(crun_session *session);
/* The function nodes of the session's runs in progress (and the runs inside
 * them) that are inside their function at this moment: up to max names into
 * names (borrowed: valid while the session is open); returns how many there
 * are.  After a cancel and the grace period, these are the nodes that do
 * not check crun_call_cancelled.  Any thread. */
size_t crun_session_calling_nodes(crun_session *session, const char **names, size_t max);

/* Register a hook instance made by the embedding program.  type is borrowed
 * for the session's life; the session calls destroy(instance) when it closes. */
int crun_session_add_hook(crun_session *session, const char *name, const crun_hooks_type *type,
                          void *instance, crun_error *err);

/* Describe a plugin file for `crun plugin info` (a new JSON object). */
int crun_plugin_info(const char *path, json_t **out, crun_error *err);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *crun_version(void);

#ifdef __cplusplus
}
#endif
#endif
