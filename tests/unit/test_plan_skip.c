/* test_plan_skip.c - which nodes an incremental run skips
 * (runner/plan/plan_skip.c: Kedro 1.0's --only-missing-outputs rule and
 * --only-changed), the plan of the nodes that run, and the words that say
 * what changed (runner/run/fingerprint.c: fp_explain).
 *
 * One project, whose datasets' existence and nodes' changes each test sets:
 *
 *   load -> raw (catalog) -> make_mem -> mem (memory) -> use_mem -> final (catalog)
 *   final -> check (no outputs)        raw -> side -> side_out (catalog)
 *   final -> summary -> summary_mem (memory, read by no node)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_project.h"
#include "plan/plan.h"
#include "run/incremental.h"

typedef struct fixture {
    fixture_project fp;
    plan *plan;
    unsigned char exists[16];  /* per dataset */
    unsigned char changed[16]; /* per planned node */
    unsigned char runs[16];
    bool collect;              /* the run returns its free outputs */
    plan_why why[16];
    char names[256];
} fixture;

static char *test_env[] = {"HOME=/home/tester", NULL};

static bool fake_ephemeral(void *user, size_t ds)
{
    fixture *f = user;
    return f->fp.ir->ds[ds].kind != IR_DS_CATALOG;
}

static bool fake_exists(void *user, size_t ds)
{
    fixture *f = user;
    return f->exists[ds];
}

static bool fake_changed(void *user, size_t i, plan_why *why)
{
    fixture *f = user;
    if (f->changed[i])
        *why = (plan_why){.kind = PLAN_WHY_CHANGED};
    return f->changed[i];
}

static bool fake_collected(void *user, size_t ds)
{
    fixture *f = user;
    (void)ds;
    return f->collect;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    *state = f;
    if (!f || fixture_project_begin(&f->fp, "plan_skip") != 0)
        return -1;
    fixture_put(f->fp.dir, "conf/base/catalog.yml",
        "raw: {type: text, filepath: data/raw.txt}\n"
        "final: {type: text, filepath: data/final.txt}\n"
        "side_out: {type: text, filepath: data/side.txt}\n");
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: load, func: lib.load, outputs: raw}\n"
        "      - {name: make_mem, func: lib.f, inputs: raw, outputs: mem}\n"
        "      - {name: use_mem, func: lib.f, inputs: mem, outputs: final}\n"
        "      - {name: check, func: lib.check, inputs: final}\n"
        "      - {name: side, func: lib.f, inputs: raw, outputs: side_out}\n"
        "      - {name: summary, func: lib.f, inputs: final, outputs: summary_mem}\n");
    if (fixture_project_build(&f->fp, test_env) != 0)
        return -1;
    if (plan_build(f->fp.ir, NULL, &f->plan, &f->fp.err) != 0 || f->plan->n > 16 ||
        f->fp.ir->n_ds > 16)
        return -1;
    memset(f->exists, 1, sizeof(f->exists)); /* every output there */
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    plan_free(f->plan);
    int rc = fixture_project_end(&f->fp);
    free(f);
    return rc;
}

static size_t node(fixture *f, const char *name)
{
    for (size_t i = 0; i < f->plan->n; i++)
        if (strcmp(f->fp.ir->nodes[f->plan->node[i]].name, name) == 0)
            return i;
    print_error("node '%s' is not planned\n", name);
    fail();
    return 0;
}

static size_t ds(fixture *f, const char *name)
{
    size_t idx = 0;
    if (!strmap_get(&f->fp.ir->ds_index, name, &idx)) {
        print_error("no dataset '%s'\n", name);
        fail();
    }
    return idx;
}

static void decide(fixture *f, bool only_changed)
{
    plan_probe q = {.ephemeral = fake_ephemeral, .exists = fake_exists,
                    .changed = only_changed ? fake_changed : NULL,
                    .collected = fake_collected, .user = f};
    plan_decide(f->plan, &q, f->runs, f->why);
}

/* The planned nodes that run, in plan order, comma-separated. */
static const char *running(fixture *f)
{
    char *buf = f->names;
    size_t len = 0, size = sizeof(f->names);
    buf[0] = '\0';
    for (size_t i = 0; i < f->plan->n; i++)
        if (f->runs[i])
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                                    f->fp.ir->nodes[f->plan->node[i]].name);
    return buf;
}

/* --- Kedro's --only-missing-outputs ----------------------------------------- */

static void test_every_output_present_runs_only_nodes_without_outputs(void **state)
{
    fixture *f = *state;
    decide(f, false);
    assert_string_equal(running(f), "check");
    assert_int_equal(f->why[node(f, "check")].kind, PLAN_WHY_NO_OUTPUTS);
    assert_int_equal(f->why[node(f, "load")].kind, PLAN_WHY_UP_TO_DATE);
}

static void test_missing_output_runs_its_producer_and_the_memory_it_reads(void **state)
{
    fixture *f = *state;
    f->exists[ds(f, "final")] = 0;
    decide(f, false);
    assert_string_equal(running(f), "make_mem,use_mem,check");
    assert_int_equal(f->why[node(f, "use_mem")].kind, PLAN_WHY_MISSING);
    assert_int_equal(f->why[node(f, "use_mem")].ds, ds(f, "final"));
    /* the memory input of a node that runs is made again */
    plan_why w = f->why[node(f, "make_mem")];
    assert_int_equal(w.kind, PLAN_WHY_NEEDED);
    assert_int_equal(w.ds, ds(f, "mem"));
    assert_int_equal(w.node, node(f, "use_mem"));
}

static void test_missing_persistent_input_runs_its_producer_only(void **state)
{
    fixture *f = *state;
    f->exists[ds(f, "raw")] = 0;
    decide(f, false);
    /* Kedro reruns no descendant whose own outputs exist */
    assert_string_equal(running(f), "load,check");
    assert_int_equal(f->why[node(f, "load")].kind, PLAN_WHY_MISSING);
}

static void test_missing_outputs_on_two_branches_run_both_producers(void **state)
{
    fixture *f = *state;
    f->exists[ds(f, "raw")] = 0;
    f->exists[ds(f, "side_out")] = 0;
    decide(f, false);
    assert_string_equal(running(f), "load,side,check");
    assert_int_equal(f->why[node(f, "side")].kind, PLAN_WHY_MISSING);
}

static void test_returned_memory_output_is_made_again(void **state)
{
    fixture *f = *state;
    decide(f, false);
    assert_int_equal(f->runs[node(f, "summary")], 0); /* a memory output nobody reads */
    f->collect = true;
    decide(f, false);
    assert_string_equal(running(f), "check,summary");
    plan_why w = f->why[node(f, "summary")];
    assert_int_equal(w.kind, PLAN_WHY_NEEDED);
    assert_int_equal(w.ds, ds(f, "summary_mem"));
    assert_int_equal(w.node, PLAN_NONE);
}

/* --- --only-changed ----------------------------------------------------------- */

static void test_changed_node_reruns_everything_downstream(void **state)
{
    fixture *f = *state;
    f->changed[node(f, "make_mem")] = 1;
    decide(f, true);
    assert_string_equal(running(f), "make_mem,use_mem,check,summary");
    assert_int_equal(f->why[node(f, "make_mem")].kind, PLAN_WHY_CHANGED);
    plan_why w = f->why[node(f, "use_mem")];
    assert_int_equal(w.kind, PLAN_WHY_UPSTREAM);
    assert_int_equal(w.node, node(f, "make_mem"));
}

static void test_changed_consumer_makes_its_memory_input_again(void **state)
{
    fixture *f = *state;
    f->changed[node(f, "use_mem")] = 1;
    decide(f, true);
    assert_string_equal(running(f), "make_mem,use_mem,check,summary");
    assert_int_equal(f->why[node(f, "make_mem")].kind, PLAN_WHY_NEEDED);
    assert_int_equal(f->why[node(f, "load")].kind, PLAN_WHY_UP_TO_DATE);
}

static void test_nothing_changed_skips_all_but_nodes_without_outputs(void **state)
{
    fixture *f = *state;
    decide(f, true);
    assert_string_equal(running(f), "check");
}

/* --- the plan of the nodes that run ------------------------------------------ */

static void test_subset_keeps_edges_among_the_nodes_that_run(void **state)
{
    fixture *f = *state;
    f->exists[ds(f, "final")] = 0;
    decide(f, false);
    plan *s = NULL;
    assert_int_equal(plan_subset(f->plan, f->runs, &s), 0);
    assert_int_equal(s->n, 3);
    /* make_mem, use_mem, check in that order, each after the one before */
    assert_string_equal(f->fp.ir->nodes[s->node[0]].name, "make_mem");
    assert_string_equal(f->fp.ir->nodes[s->node[2]].name, "check");
    assert_int_equal(s->dep_start[1] - s->dep_start[0], 0);
    assert_int_equal(s->deps[s->dep_start[1]], 0);
    assert_int_equal(s->deps[s->dep_start[2]], 1);
    assert_int_equal(s->succs[s->succ_start[0]], 1);
    /* raw now comes from outside the plan; its one consumer is make_mem */
    assert_int_equal(s->producer[ds(f, "raw")], PLAN_NONE);
    assert_int_equal(s->consumers[ds(f, "raw")], 1);
    assert_int_equal(s->producer[ds(f, "final")], 1);
    assert_int_equal(s->consumers[ds(f, "side_out")], 0);
    plan_free(s);
}

/* --- what changed, in words ------------------------------------------------- */

static void test_explain_names_the_parameter_leaf_and_its_values(void **state)
{
    (void)state;
    char *why = fp_explain("code\tdemo.so 1\nparam params:model_options\t"
                           "{\"features\":[\"a\"],\"test_size\":0.2}\nin companies\tab\n",
                           "code\tdemo.so 1\nparam params:model_options\t"
                           "{\"features\":[\"a\"],\"test_size\":0.3}\nin companies\tab\n",
                           false);
    assert_string_equal(why, "params:model_options.test_size changed (0.2 -> 0.3)");
    free(why);
}

static void test_explain_names_the_library_and_the_input(void **state)
{
    (void)state;
    char *why = fp_explain("code\tdemo.so 1\nin companies\tab\n",
                           "code\tdemo.so 2\nin companies\tab\n", false);
    assert_string_equal(why, "code changed: demo.so");
    free(why);
    why = fp_explain("code\tdemo.so 1\nin companies\tab\n", "code\tdemo.so 1\nin companies\tcd\n",
                     false);
    assert_string_equal(why, "input companies changed");
    free(why);
    why = fp_explain("out report\tab\n", "out report\tcd\n", true);
    assert_string_equal(why, "output report changed");
    free(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_output_present_runs_only_nodes_without_outputs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_missing_output_runs_its_producer_and_the_memory_it_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_persistent_input_runs_its_producer_only,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_outputs_on_two_branches_run_both_producers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_returned_memory_output_is_made_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_node_reruns_everything_downstream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_consumer_makes_its_memory_input_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nothing_changed_skips_all_but_nodes_without_outputs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_subset_keeps_edges_among_the_nodes_that_run, setup,
                                        teardown),
        cmocka_unit_test(test_explain_names_the_parameter_leaf_and_its_values),
        cmocka_unit_test(test_explain_names_the_library_and_the_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
