/* parallel.h (internal) - the state of one parallel run, shared by the
 * worker threads (parallel.c) and the event loop that owns child processes
 * (children.c).
 *
 * Fields are grouped by who may touch them: the options are read-only; the
 * scheduler group only under `lock`; the loop group only on the loop thread
 * (the thread that called the runner's run()).  A task is one node in
 * flight; it moves between lists, never between owners at the same time.
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
    STEP_EXECUTE, /* a function node: crun_run_execute on a worker */
    STEP_PREPARE, /* a command node: crun_run_command_prepare on a worker */
    STEP_FINISH   /* its child ended: crun_run_command_finish on a worker */
} task_step;

typedef struct par_run par_run;

typedef struct task {
    struct task *next;
    par_run *pr;
    size_t node;
    task_step step;
    crun_error err;
    /* command nodes, from prepare to finish */
    const crun_command *cmd; /* borrowed from the run until finish */
    int wait_status;         /* as waitpid's; -1: never started */
    bool not_started;        /* the run stopped between prepare and spawn */
    bool stopped;            /* the runner signalled it (failure grace over, cancel) */
    char spawn_error[256];   /* why uv_spawn failed, "" when it did not */
    pid_t pid;               /* 0 until spawned; a process-group leader */
    size_t live_index;       /* in live_tasks while the loop owns the child */
    int out_fd;              /* the read end of the child's stdout+stderr */
    int pidfd;               /* readable when the child exits; -1: wait on SIGCHLD */
    uv_poll_t out_watch;
    uv_poll_t exit_watch;
    bool reaped;
    int pending;             /* output not closed + exit not reaped + handles closing */
    char *partial;           /* an output line not ended yet */
    size_t partial_len, partial_cap;
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

struct par_run {
    const parallel_options *opt;
    crun_run *run;
    crun_logger *logger;

    /* --- the scheduler: workers and loop, under lock --- */
    pthread_mutex_t lock;
    pthread_cond_t work;     /* idle workers wait here */
    task_list finish;        /* command nodes whose child ended */
    task_list taken;         /* taken by a worker for the idle worker it woke */
    task_list spawn;         /* prepared command nodes for the loop to start */
    size_t *held;            /* ready command nodes waiting for a process slot (a ring) */
    size_t held_head, held_tail, held_cap;
    task *free_tasks;
    size_t in_flight;        /* nodes taken and not yet reported */
    size_t processes;        /* command nodes from prepare to finish */
    size_t idle;             /* workers waiting on `work` */
    bool stopping;           /* a node failed without keep_going: start nothing new */
    bool stop_noticed;       /* the loop has started the grace timer */
    bool quit;               /* nothing runs and nothing can start */
    size_t failures;
    crun_error first_failure;

    /* --- the loop thread --- */
    uv_loop_t loop;
    uv_async_t wake;         /* workers -> loop: spawn, stop, quit */
    uv_timer_t cancel_poll;  /* notices crun_run_cancel within 20 ms */
    uv_timer_t stop_timer;   /* grace period and SIGTERM -> SIGKILL */
    uv_signal_t sigchld;     /* only for children without a pidfd (Linux < 5.3) */
    bool sigchld_on;
    enum stop_phase phase;
    bool cancel_seen;
    bool closing;
    task **live_tasks;       /* spawned children not yet handed back */
    size_t live;
    char *read_buf;          /* one buffer: the loop reads one pipe at a time */

    /* --- set up before the threads start, then read-only --- */
    task *tasks;             /* max_workers of them */
    pthread_t *threads;
    size_t n_threads;
};

/* children.c: the loop side.  Call on the loop thread. */
int children_loop_init(par_run *pr, crun_error *err);
/* Run the loop until the workers have quit and every child is reaped. */
void children_loop_run(par_run *pr);
void children_loop_close(par_run *pr);

/* parallel.c: hand a command whose child has ended (or never started) back to
 * the workers.  Loop thread. */
void par_finish_later(par_run *pr, task *t);
/* Take the prepared commands and the stop/quit state for the loop. */
void par_take_for_loop(par_run *pr, task_list *spawn, bool *stop_now, bool *quit);

#endif
