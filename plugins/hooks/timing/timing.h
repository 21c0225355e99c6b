/* timing.h (internal) - what the timing hook measures, shared by the hook
 * (timing.c: snapshots around each node) and its report (timing_report.c:
 * the summary table and the JSON file).
 */
#ifndef CRUN_TIMING_H
#define CRUN_TIMING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crun/crun.h"

typedef enum node_status { NODE_NOT_RUN, NODE_RUNNING, NODE_OK, NODE_FAILED } node_status;

/* Where a node's CPU time comes from. */
typedef enum cpu_source {
    CPU_NONE,     /* not measurable: "n/a" */
    CPU_THREAD,   /* CLOCK_THREAD_CPUTIME_ID of the thread that ran the function */
    CPU_CHILDREN  /* getrusage(RUSAGE_CHILDREN): the command's processes */
} cpu_source;

typedef struct node_times {
    const char *name;      /* in the run's names */
    bool command;
    node_status status;
    /* the snapshot taken at before_node_run */
    double wall0;
    double cpu0;
    long maxrss0;          /* KiB */
    pthread_t thread;
    uint64_t start_seq;    /* the instance's start counter after this node started */
    bool overlapped;       /* another node was running at some point meanwhile */
    bool measured;         /* the node ended with after_node_run / on_node_error */
    /* the deltas, once the node ended */
    double wall;           /* seconds */
    double cpu;            /* seconds; meaningless when cpu_from is CPU_NONE */
    cpu_source cpu_from;
    long rss_delta;        /* KiB the process's peak RSS grew by */
} node_times;

/* One run's records: every planned node, in plan order, with a hash by name. */
typedef struct run_times {
    struct run_times *next;
    const crun_run *run;   /* the key: runs of one session may overlap */
    char *run_id;
    double wall0;
    char *names;           /* every node's name, one after the other */
    node_times *nodes;
    size_t n;
    size_t *slots;         /* open addressing: node index + 1, 0 = empty */
    size_t mask;
} run_times;

typedef struct timing_options {
    bool table;            /* log the summary table */
    int64_t top;           /* rows in the table */
    char *report;          /* JSON report path ("{run_id}" replaced), or NULL */
} timing_options;

/* Log the table for a finished run (sorting its nodes) and write the report
 * when asked.  failed: the run ended in on_pipeline_error. */
int timing_report(const timing_options *o, crun_logger *logger, run_times *rt, double wall,
                  bool failed, crun_error *err);

#endif
