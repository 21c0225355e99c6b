/* parallel.h (internal) - the state of one parallel run, shared by the
 * worker threads (parallel.c), which run every node, command nodes' children
 * included, through crun_run_execute, and the event loop that times stops
 * (stop.c).
 *
 * Fields are grouped by who may touch them: the options are read-only; the
 * scheduler group only under `lock`; the loop group only on the loop thread
 * (the thread that called the runner's run()).  A task is one node in
 * flight, owned by the worker that took it until it is reported.
 */
#ifndef CRUN_PARALLEL_H
#define CRUN_PARALLEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <uv.h>

#include "crun/crun.h"

/* What runner.yml asked for (the instance; shared read-only by its runs). */
typedef struct parallel_options {
    size_t max_workers;   /* nodes in flight, and worker threads */
    size_t max_processes; /* of those, child processes at once */
    double grace_period;  /* seconds: failure -> SIGTERM; cancel SIGTERM -> SIGKILL */
    bool keep_going;
    bool is_async;
} parallel_options;

typedef enum task_step {
    STEP_EXECUTE, /* a function node: crun_run_execute */
    STEP_COMMAND  /* a command node: takes one of max_processes */
} task_step;

typedef struct par_run par_run;

typedef struct task {
    struct task *next;
    par_run *pr;
    size_t node;
    task_step step;
    crun_error err;
} task;

typedef struct task_list {
    task *head, *tail;
} task_list;

enum stop_phase {
    STOP_NONE,  /* running normally */
    STOP_GRACE, /* a node failed: running nodes have grace_period to end */
    STOP_TERM,  /* children got SIGTERM; SIGKILL follows */
    STOP_KILL   /* children got SIGKILL */
};

typedef struct par_worker {
    par_run *pr;
    pthread_t thread;
} par_worker;

struct par_run {
    const parallel_options *opt;
    crun_run *run;
    crun_logger *logger;

    /* --- the scheduler: workers and loop, under lock --- */
    pthread_mutex_t lock;
    pthread_cond_t work;     /* idle workers wait here */
    task_list taken;         /* taken by a worker for the idle worker it woke */
    size_t *held;            /* ready command nodes waiting for a process slot (a ring) */
    size_t held_head, held_tail, held_cap;
    task *free_tasks;
    size_t in_flight;        /* nodes taken and not yet reported */
    size_t processes;        /* command nodes in flight */
    size_t idle;             /* workers waiting on `work` */
    bool stopping;           /* a node failed without keep_going: start nothing new */
    bool stop_noticed;       /* the loop has started the grace timer */
    bool quit;               /* nothing runs and nothing can start */
    size_t failures;
    crun_error first_failure;
    enum stop_phase phase;   /* written by the loop (under lock), read by workers */

    /* --- the loop thread --- */
    uv_loop_t loop;
    uv_async_t wake;         /* workers and crun_run_cancel -> loop: stop, cancel, quit */
    uv_timer_t stop_timer;   /* grace period and SIGTERM -> SIGKILL */
    bool loop_ready;
    bool cancel_seen;
    bool closing;

    /* --- set up before the threads start, then read-only --- */
    task *tasks;             /* max_workers of them */
    par_worker *workers;
    size_t n_threads;
};

/* stop.c: the loop side.  Call on the loop thread. */
int stop_loop_init(par_run *pr, crun_error *err);
/* Run the loop until the workers have quit. */
void stop_loop_run(par_run *pr);
void stop_loop_close(par_run *pr);


#endif
