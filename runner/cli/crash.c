/* crash.c - when a node crashes crun, say which one.
 *
 * A function node runs inside the crun process: a bad pointer in it kills
 * crun with SIGSEGV (or SIGBUS, SIGFPE, SIGILL, SIGABRT).  A hook of the
 * program's own keeps the names of the nodes running (slots set on
 * before_node_run, cleared when the node ends); a handler on an alternate
 * stack writes them with write(2) alone (async-signal-safe: no stdio, no
 * malloc), then dies of the same signal, so the exit status still says what
 * happened (128 + signal number).  What the dead run left (scratch folder,
 * temporary files of saves) is cleaned by the next run.  The program, not
 * libcrun, owns process-wide signal handlers, so the watch is the one
 * global here: the handler has no other way to find it.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { CRASH_SLOTS = 256 };

typedef struct crash_watch {
    _Atomic(const char *) running[CRASH_SLOTS]; /* node names (the session's) */
    stack_t stack;                              /* the handler's own */
} crash_watch;

static crash_watch *the_watch;

static int node_started(void *instance, const crun_hook_event *ev, crun_error *err)
{
    crash_watch *w = instance;
    for (size_t i = 0; i < CRASH_SLOTS; i++) {
        const char *none = NULL;
        if (atomic_compare_exchange_strong(&w->running[i], &none, ev->node))
            return 0;
    }
    return 0; /* more nodes at once than slots: those go unnamed */
}

static int node_ended(void *instance, const crun_hook_event *ev, crun_error *err)
{
    crash_watch *w = instance;
    for (size_t i = 0; i < CRASH_SLOTS; i++) {
        const char *mine = ev->node;
        if (atomic_compare_exchange_strong(&w->running[i], &mine, NULL))
            return 0;
    }
    return 0;
}

/* The session closes: no node runs any more; crashes go unnamed again. */
static void watch_destroy(void *instance)
{
    crash_watch *w = instance;
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
    the_watch = NULL;
    free(w->stack.ss_sp);
    free(w);
}

static const crun_hooks_type crash_hooks = {
    .size = sizeof(crun_hooks_type),
    .flags = CRUN_HOOKS_THREAD_SAFE,
    .destroy = watch_destroy,
    .on = {[CRUN_HOOK_BEFORE_NODE_RUN] = node_started,
           [CRUN_HOOK_AFTER_NODE_RUN] = node_ended,
           [CRUN_HOOK_ON_NODE_ERROR] = node_ended},
};

static void say(const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static const char *signal_words(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV, a bad memory access";
    case SIGBUS: return "SIGBUS, a bad memory access";
    case SIGFPE: return "SIGFPE, an arithmetic fault";
    case SIGILL: return "SIGILL, an illegal instruction";
    case SIGABRT: return "SIGABRT, an abort";
    default: return "a fatal signal";
    }
}

static void on_crash(int sig)
{
    crash_watch *w = the_watch;
    size_t named = 0;
    for (size_t i = 0; w && i < CRASH_SLOTS; i++) {
        const char *node = atomic_load(&w->running[i]);
        if (!node)
            continue;
        say(named++ ? ", '" : "crun: error: crun crashed while node '");
        say(node);
        say("'");
    }
    say(named > 1 ? " were running (" : named ? " was running (" : "crun: error: crun crashed (");
    say(signal_words(sig));
    say("); the next run cleans what this one left\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

int cli_watch_crashes(crun_session *s, crun_error *err)
{
    crash_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    /* the handler needs a stack of its own: the crash may be a stack overflow */
    w->stack.ss_size = 64 * 1024;
    w->stack.ss_sp = malloc(w->stack.ss_size);
    if (!w->stack.ss_sp || sigaltstack(&w->stack, NULL) != 0) {
        free(w->stack.ss_sp);
        free(w);
        return 0; /* the crash is still reported by the exit status */
    }
    int rc = crun_session_add_hook(s, "crash-watch", &crash_hooks, w, err);
    if (rc) {
        watch_destroy(w);
        return rc;
    }
    the_watch = w; /* the session destroys the watch when it closes */
    struct sigaction sa = {.sa_handler = on_crash, .sa_flags = SA_ONSTACK | SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        sigaction(fatal[i], &sa, NULL);
    return 0;
}
