/* cli.h - what the crun program's commands share: the parsed command line,
 * the exit statuses, and the few helpers every command uses to complain and
 * to write its result.
 *
 * main.c parses the command line into a `cli` and dispatches; each command
 * that is more than a few lines lives in its own cli_<command>.c:
 *   cli_export.c  `crun export argo`: the pipeline as an Argo Workflow
 *   cli_export_cwl.c, cli_export_kfp.c  `crun export cwl|kfp`, from the
 *                 steps of cli_export_steps.c
 *   cli_viz.c     `crun viz`: the pipeline as DOT, Mermaid or an HTML page
 *   cli_new.c     `crun new NAME`: a new project with a node library
 *   cli_new_runner.c  the files of `crun new --runner NAME`, a runner plugin
 *   cli_new_hook.c    the files of `crun new --hook NAME`, a hook plugin
 *   cli_new_dataset.c the files of `crun new --dataset NAME`, a dataset type
 *   cli_pipeline.c `crun pipeline create NAME`: a pipeline and its node file
 *   cli_habits.c  `crun catalog list`: what a Kedro user reaches for first
 * These live in the program, not in libcrun: they work from the IR JSON that
 * crun_session_compile returns, like any other exporter would.
 */
#ifndef CRUN_CLI_H
#define CRUN_CLI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "crun/crun.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

typedef struct cli {
    const char *command; /* run, compile, list, plugin, export, viz, new */
    const char *what;    /* list's / plugin's / export's / new's argument */
    const char *what2;
    crun_session_options so;
    crun_run_options ro;
    crun_filter filter;  /* ro.filter points here once parsed */
    const char **runner_opts;
    size_t n_runner_opts;
    char *sweeps;        /* -m arguments, one per line */
    const char *resume;  /* --resume SWEEP_ID */
    char *sweep_opts[3]; /* the runner options -m and --resume become */
    char **owned;        /* copies of --runner-params, split into runner_opts */
    size_t n_owned;
    const char *output;
    const char *head;    /* catalog show --head N */
    const char *new_hook; /* new --hook NAME */
    const char *new_dataset; /* new --dataset NAME */
    bool json;
    bool quiet;
    int verbose;
    /* export and viz */
    const char *format;  /* --format: viz dot|mermaid|html, export yaml|json */
    const char *events;  /* --events FILE: a run's events (JSON lines) for viz html */
    bool serve;          /* viz --serve: the page on 127.0.0.1, following --events */
    const char *port;    /* viz --port N (0: any free port) */
    const atomic_int *signalled; /* main's: nonzero once SIGINT/SIGTERM came */
    const char *image;   /* --image: the container image of exported tasks */
    const char *cpu;     /* --cpu, --memory: Kubernetes quantities per task */
    const char *memory;
    const char *workdir; /* --workdir: the project folder inside the container */
    const char *pvc;     /* --pvc: a PersistentVolumeClaim mounted at workdir */
    /* run: --input/--output "DATASET=/abs/path", NULL-terminated; the node
     * CRUN_SELECT_NODE chose */
    char **input_paths;
    char **output_paths;
    char *selected_node;
} cli;

/* The environment variable that selects the node of `crun run` (main.c). */
#define CRUN_SELECT_NODE "CRUN_SELECT_NODE"

/* Print "crun: error: " + fmt (one %s for arg) and a hint; returns EXIT_USAGE. */
int usage_error(const char *fmt, const char *arg);
/* Print err's message; returns the exit status its code maps to. */
int report(crun_error *err);

/* Write text to c->output atomically, or to stdout when there is none.
 * Returns 0 or a CRUN_E* code with err set. */
int cli_write_output(const cli *c, const char *text, crun_error *err);

int cli_export(cli *c, crun_session *s, crun_error *err);
int cli_export_cwl(cli *c, crun_session *s, crun_error *err);
int cli_export_kfp(cli *c, crun_session *s, crun_error *err);
/* doc as YAML after comment (a new string; NULL when out of memory): every
 * string YAML 1.1 could misread is quoted (cli_export.c). */
char *cli_yaml_document(json_t *doc, const char *comment);
/* Export helpers for engines that stage files (cli_export_steps.c): the
 * IR's nodes as steps (see there), ids ([A-Za-z_][A-Za-z0-9_]*, unique)
 * for an array of names (name -> id), and the filepath of a dataset that
 * can cross between steps (NULL: it cannot). */
json_t *cli_export_steps(json_t *ir);
json_t *cli_export_ids(json_t *names);
const char *cli_export_filepath(json_t *ir, const char *dataset);
/* Kubernetes-style task names (lower case, '-', unique) for objects with a
 * "name": name -> task name (cli_export.c). */
json_t *cli_task_names(json_t *nodes);
/* A Kubernetes quantity as people write them: 1, 0.5, 500m, 256Mi, 2G. */
bool cli_is_quantity(const char *s);
/* The leaves of the IR's parameter tree (lists and empty maps are leaves),
 * [{"path": "a.b", "id": "p_a_b", "value"}], and, appended to the --params
 * text *text (malloc'd, NULL for none), the item of a leaf whose value an
 * engine puts where ref is: "a.b=REF", quoted when the value is a string so
 * that "42" stays a string (cli_export_steps.c). */
json_t *cli_export_params(json_t *ir);
void cli_export_param_add(char **text, json_t *param, const char *ref);
int cli_viz(cli *c, crun_session *s, crun_error *err);
/* viz: the events file of a run, one JSON object per line; a last line
 * without its newline is skipped when it does not parse (cli_viz.c). */
int cli_viz_read_events(const char *path, json_t **out, crun_error *err);
/* viz --serve: serve page (the html of len bytes) and the events file's
 * events and node states on 127.0.0.1 until c->signalled (cli_viz_serve.c). */
int cli_viz_serve(cli *c, const char *page, size_t len, crun_error *err);
int cli_new(cli *c, crun_error *err);
/* A file `crun new` writes: its path and text, with @NAME@ and @LIB@ to expand. */
typedef struct cli_template {
    const char *path;
    const char *text;
} cli_template;
/* The files of `crun new --runner NAME` (cli_new_runner.c). */
extern const cli_template cli_runner_files[];
extern const size_t cli_n_runner_files;
/* The files of `crun new --hook NAME` (cli_new_hook.c). */
extern const cli_template cli_hook_files[];
extern const size_t cli_n_hook_files;
/* The files of `crun new --dataset NAME` (cli_new_dataset.c). */
extern const cli_template cli_dataset_files[];
extern const size_t cli_n_dataset_files;
/* The example project both plugin templates test themselves on
 * (cli_new_runner.c): two command nodes and the catalog of their output. */
extern const char cli_example_pipelines[];
extern const char cli_example_catalog[];
/* `crun catalog list` (cli_habits.c): each pipeline's datasets, Kedro's way. */
int cli_catalog_list(cli *c, crun_session *s, crun_error *err);
/* `crun catalog show DATASET [--head N]`: a dataset's value, for a quick look. */
int cli_catalog_show(cli *c, crun_session *s, crun_error *err);
/* `crun pipeline create NAME` (cli_pipeline.c): a pipeline entry appended to
 * conf/base/pipelines.yml and a node source file in the project's library. */
int cli_pipeline_create(cli *c, crun_session *s, crun_error *err);
/* Name the running nodes on stderr if one crashes the process (crash.c):
 * a hook of the session and handlers of SIGSEGV and the like. */
int cli_watch_crashes(crun_session *s, crun_error *err);

/* The page template of `crun viz --format html` (cli_viz_page.c). */
extern const char cli_viz_page_head[];
extern const char cli_viz_page_tail[];

#endif
