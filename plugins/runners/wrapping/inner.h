/* inner.h - a wrapping runner's run of the runner it wraps.
 *
 * The wrapping runners (checks, snapshot, retry) hand the plan they were
 * given to the runner named by their `runner:` option with
 * crun_run_delegate, under the outer run's id; its failed nodes and resume
 * point become the outer run's.  The subprocess runner, whose inner run is
 * a child crun, reports what the child said with inner_report.
 */
#ifndef CRUN_WRAPPING_INNER_H
#define CRUN_WRAPPING_INNER_H

#include "crun/crun.h"

typedef struct inner_outcome {
    int status;          /* 0 or the inner run's CRUN_E* code */
    char **failed_nodes; /* NULL-terminated, or NULL */
    char *from_nodes;    /* where a resume starts ("a,b"), or NULL */
} inner_outcome;

/* Run the outer run's plan (from from_nodes on, when not NULL) with the
 * runner runner.yml names `runner`, blocking until it ends.  Cancelling the
 * outer run cancels it; its failure is the outer run's.  Fills out (clear
 * it with inner_outcome_clear) and, on failure, err; returns out->status. */
int inner_run(crun_run *run, const char *runner, const char *from_nodes, inner_outcome *out,
              crun_error *err);
void inner_outcome_clear(inner_outcome *out);

/* For an inner run that was not a crun_run_delegate (a child crun): say on
 * the outer run what it did: all delegated when it succeeded; otherwise its
 * failed nodes failed and the nodes a resume need not run done, so that
 * crun names the failures and prints a resume command for the outer runner. */
void inner_report(crun_run *run, const inner_outcome *out);

/* The runner stack from self down: a new JSON array of names (self, runner,
 * what runner wraps...), following runner.yml's `runner:` keys.  CRUN_ECONFIG
 * when a name comes back (a cycle), before anything runs. */
int inner_stack(crun_run *run, const char *self, const char *runner, json_t **stack,
                crun_error *err);

/* A runner's own name from its options' owner ("runner 'safe'"), a new string. */
char *inner_own_name(const crun_options *opts);

/* A pipeline holding every node of the run: NULL for __default__ (or when
 * none does); borrowed from *owned, which the caller json_decrefs. */
const char *inner_pipeline(crun_run *run, json_t **owned);

/* The outer plan's node names, comma-separated (a new string), or NULL. */
char *inner_node_list(const crun_run *run);

#endif
