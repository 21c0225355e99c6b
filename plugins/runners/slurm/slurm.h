/* slurm.h (internal) - the pieces of the slurm runner and what they share.
 *
 * slurm.c      the plugin: options in, one run: submit every node, watch, report
 * options.c    runner.yml options -> slurm_config (resources, per-tag overrides)
 * sbatch.c     one node -> the sbatch command line that runs it as a job
 * forward.c    what a job's `crun run` must repeat of this run (params, pipeline...)
 * squeue.c     what Slurm says about the jobs: squeue, scontrol, the jobcomp file
 * process.c    running a Slurm client program and capturing what it prints
 *
 * Nothing here keeps global state: a slurm_config lives in the plugin
 * instance, a slurm_job table in one call of run().
 */
#ifndef CRUN_SLURM_H
#define CRUN_SLURM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crun/crun.h"

/* --- options --- */

/* What an sbatch submission asks for; NULL / 0 / empty mean "cluster default". */
typedef struct slurm_resources {
    char *partition;
    char *account;
    char *time;
    char *mem;
    int64_t cpus_per_task;
    char **sbatch_args; /* NULL-terminated, may be NULL */
    size_t n_sbatch_args;
} slurm_resources;

typedef struct slurm_override {
    char *tag;
    slurm_resources res;
} slurm_override;

typedef struct slurm_config {
    slurm_resources base;
    slurm_override *overrides; /* resources: {tag: {...}}, in the order written */
    size_t n_overrides;
    double poll_interval;      /* seconds between squeue calls */
    char *crun_path;           /* the crun the jobs run; NULL: this program */
} slurm_config;

int slurm_config_parse(const crun_options *opts, slurm_config *cfg, crun_error *err);
/* The options slurm_config_parse reads, for the descriptor. */
#define SLURM_OPTION_COUNT 9
extern const crun_option slurm_option_table[SLURM_OPTION_COUNT];
void slurm_config_clear(slurm_config *cfg);

/* --- running Slurm's client programs --- */

typedef struct proc_output {
    int status;   /* wait status, as from waitpid() */
    char *out;    /* stdout, NUL-terminated */
    char *err;    /* stderr, NUL-terminated, trailing newlines removed */
} proc_output;

/* Run argv through crun_run_spawn (libcrun's one way: argv[0] on the
 * session's PATH, a session of its own so that a Ctrl-C on the terminal does
 * not reach it, default signal handling, stdin from /dev/null), untracked:
 * a cancel must not kill an sbatch or scancel half-way; wait at most timeout
 * seconds (then SIGKILL).  Returns 0 when it ran (whatever its exit status),
 * else CRUN_EIO with err. */
int proc_capture(crun_run *run, char *const argv[], double timeout, proc_output *out,
                 crun_error *err);
void proc_output_clear(proc_output *out);
/* "sbatch exited with status 1: <its stderr>" for messages (a new string). */
char *proc_describe(const char *program, const proc_output *out);

/* --- jobs --- */

typedef struct slurm_job {
    char id[32];           /* Slurm's job id; "" until submitted */
    char state[32];        /* the last state seen ("PENDING", "COMPLETED", ...) */
    char reason[64];
    int exit_status;       /* raw wait status of the batch script */
    char *log_rel;         /* .crun/runs/<id>/logs/<name>.log, relative to the project */
    char *log_abs;
    bool terminal;         /* the job will not change any more */
    bool ok;               /* terminal and COMPLETED */
    bool popped;           /* taken with crun_run_next_ready */
    bool reported;         /* node_done / node_failed called, or skipped */
    bool scancel_sent;
    unsigned missing;      /* polls in a row in which no source knew the job */
    double missing_since;  /* CLOCK_MONOTONIC seconds of the first of them */
} slurm_job;

/* A Slurm state that will not change any more, and the one success. */
bool slurm_state_terminal(const char *state);

/* One squeue call for every job in jobs[] that is submitted and not terminal;
 * jobs Slurm no longer lists are asked of scontrol, then of the jobcomp file.
 * Records state changes in the jobs and calls changed(user, job) for each.
 * Returns 0, or CRUN_EIO when squeue could not be asked (err filled). */
typedef struct slurm_watch {
    crun_run *run;          /* whose session's environment the clients get */
    char *jobcomp_path;     /* JobCompLoc of a jobcomp/filetxt cluster, found once */
    bool jobcomp_checked;
} slurm_watch;

int slurm_poll(slurm_watch *w, slurm_job *jobs, size_t n, const char *const *names,
               void (*changed)(void *user, size_t job, const char *old_state), void *user,
               crun_error *err);
void slurm_watch_clear(slurm_watch *w);

/* scancel the given jobs in one call (chunked only for huge lists). */
int slurm_scancel(crun_run *run, slurm_job *const *jobs, size_t n, crun_error *err);

/* --- building a job --- */

/* What every job of one run shares. */
typedef struct slurm_submit_ctx {
    const slurm_config *cfg;
    const char *project;   /* absolute project folder */
    const char *env;       /* the configuration environment */
    const char *crun;      /* absolute path of the crun program */
    const char *run_id;
    char *const *forward;  /* extra `crun run` arguments, NULL-terminated */
} slurm_submit_ctx;

/* The sbatch argv (NULL-terminated, each string and the array malloc'd) for
 * node `name`, waiting for dep_ids; res the node's resources. */
char **sbatch_argv(const slurm_submit_ctx *ctx, const char *name, const slurm_resources *res,
                   const char *log_rel, const char *const *dep_ids, size_t n_deps);
void argv_free(char **argv);
/* The job's log file name for node index i: the name itself when it is
 * plain (letters, digits, . _ -), else a cleaned name plus "-i". */
char *log_file_name(const char *name, size_t i);
/* Put s in single quotes for /bin/sh (a new string). */
char *shell_quote(const char *s);
/* The resources for a node with these tags: base, then each matching override. */
int resources_for(const slurm_config *cfg, json_t *tags, slurm_resources *out);
void resources_view_clear(slurm_resources *res);

/* --- what a job repeats of this run --- */

/* The arguments a job's `crun run` needs beyond project, env, node and run
 * id: this program's --pipeline, --params, --ir, --load-versions, and the
 * run's own parameter overrides.  A new NULL-terminated argv. */
int forward_args(crun_run *run, char ***out, crun_error *err);

#endif
