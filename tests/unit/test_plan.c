/* test_plan.c - the validated DAG (runner/plan/plan.c): graph checks, Kedro's
 * filters, topological order, consumer counts and the resume rule.
 *
 * Most tests plan one fixed project (below) built into an IR in a temporary
 * folder; graph errors and the resume rule use small projects of their own.
 *
 *   raw (catalog) -> clean -> cleaned (catalog) -> features -> feature_table (catalog)
 *   feature_table + params:alpha -> train -> model (memory) -> report -> report_md (memory)
 *   raw -> audit -> audit_log (memory)
 *   raw -> orphan -> orphan_out          (pipeline 'other', not in __default__)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"
#include "plan/plan.h"
#include "conf/project.h"
#include "fixture_project.h"

typedef struct fixture {
    fixture_project fp; /* the folder, the project and its IR */
    plan *plan;
} fixture;

static char *test_env[] = {"HOME=/home/tester", NULL};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    *state = f;
    return f ? fixture_project_begin(&f->fp, "plan") : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    plan_free(f->plan);
    int rc = fixture_project_end(&f->fp);
    free(f);
    return rc;
}

static void build_ir(fixture *f)
{
    int rc = fixture_project_build(&f->fp, test_env);
    if (rc != 0)
        print_error("unexpected: %s\n", f->fp.err.message);
    assert_int_equal(rc, 0);
}

static void write_fixed_project(fixture *f)
{
    fixture_put(f->fp.dir, "conf/base/catalog.yml",
        "raw: {type: text, filepath: data/raw.txt}\n"
        "cleaned: {type: text, filepath: data/cleaned.txt}\n"
        "feature_table: {type: json, filepath: data/features.json}\n");
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "alpha: 0.1\n");
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"
        "pipelines:\n"
        "  data_processing:\n"
        "    nodes:\n"
        "      - {name: clean, func: lib.clean, inputs: raw, outputs: cleaned, tags: [prep]}\n"
        "      - {name: features, func: lib.features, inputs: cleaned, outputs: feature_table,\n"
        "         tags: [prep, model]}\n"
        "  data_science:\n"
        "    nodes:\n"
        "      - {name: train, func: lib.train, inputs: [feature_table, params:alpha],\n"
        "         outputs: model, tags: model}\n"
        "      - {name: report, func: lib.report, inputs: model, outputs: report_md,\n"
        "         tags: [report]}\n"
        "  side:\n"
        "    nodes:\n"
        "      - {name: audit, func: lib.audit, inputs: raw, outputs: audit_log, tags: side}\n"
        "  other:\n"
        "    nodes:\n"
        "      - {name: orphan, func: lib.orphan, inputs: raw, outputs: orphan_out}\n"
        "  __default__: [data_processing, data_science, side]\n");
}

static int plan_with(fixture *f, const crun_filter *filter)
{
    plan_free(f->plan);
    f->plan = NULL;
    crun_error_clear(&f->fp.err);
    int rc = plan_build(f->fp.ir, filter, &f->plan, &f->fp.err);
    if (rc)
        assert_null(f->plan);
    return rc;
}

static void plan_ok(fixture *f, const crun_filter *filter)
{
    int rc = plan_with(f, filter);
    if (rc)
        print_error("unexpected: %s\n", f->fp.err.message);
    assert_int_equal(rc, 0);
    assert_non_null(f->plan);
}

static void fixed_plan_ok(fixture *f, const crun_filter *filter)
{
    write_fixed_project(f);
    build_ir(f);
    plan_ok(f, filter);
}

static void assert_message_contains(fixture *f, const char *part)
{
    assert_non_null(f->fp.err.message);
    if (!strstr(f->fp.err.message, part)) {
        print_error("message \"%s\"\nlacks \"%s\"\n", f->fp.err.message, part);
        fail();
    }
}

/* The fixed project with a filter that must fail with code. */
static void fixed_plan_fails(fixture *f, const crun_filter *filter, int code)
{
    write_fixed_project(f);
    build_ir(f);
    int rc = plan_with(f, filter);
    if (rc == 0)
        print_error("expected the plan to fail\n");
    assert_int_equal(rc, code);
    assert_non_null(f->fp.err.message);
}

/* Planned node names in plan (topological) order. */
static const char *plan_order(const plan *p, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "," : "",
                                p->ir->nodes[p->node[i]].name);
    return buf;
}

/* Planned node names in declaration order: the selected set, whatever the order. */
static const char *plan_set(const plan *p, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t v = 0; v < p->ir->n_nodes; v++)
        for (size_t i = 0; i < p->n; i++)
            if (p->node[i] == v && len < size)
                len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                                        p->ir->nodes[v].name);
    return buf;
}

static void assert_selected(fixture *f, const char *expected)
{
    char buf[512];
    assert_string_equal(plan_set(f->plan, buf, sizeof(buf)), expected);
}

static size_t plan_index(const plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->ir->nodes[p->node[i]].name, name) == 0)
            return i;
    print_error("node '%s' is not planned\n", name);
    fail();
    return PLAN_NONE;
}

static size_t ds_index(const ir_t *ir, const char *name)
{
    size_t idx = 0;
    if (!strmap_get(&ir->ds_index, name, &idx)) {
        print_error("no dataset '%s'\n", name);
        fail();
    }
    return idx;
}

/* --- the whole pipeline ------------------------------------------------------------- */

static void test_default_plan_holds_the_default_pipeline(void **state)
{
    fixture *f = *state;
    fixed_plan_ok(f, NULL);
    assert_string_equal(f->plan->pipeline, "__default__");
    assert_int_equal(f->plan->n, 5);
    assert_selected(f, "clean,features,train,report,audit");
}

static void test_topological_order_respects_dependencies(void **state)
{
    fixture *f = *state;
    fixed_plan_ok(f, NULL);
    const plan *p = f->plan;
    assert_true(plan_index(p, "clean") < plan_index(p, "features"));
    assert_true(plan_index(p, "features") < plan_index(p, "train"));
    assert_true(plan_index(p, "train") < plan_index(p, "report"));
    /* every predecessor comes first, and succs mirror deps */
    size_t edges = 0;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t e = p->dep_start[i]; e < p->dep_start[i + 1]; e++) {
            size_t d = p->deps[e];
            assert_true(d < i);
            bool found = false;
            for (size_t s = p->succ_start[d]; s < p->succ_start[d + 1]; s++)
                found = found || p->succs[s] == i;
            assert_true(found);
            edges++;
        }
    }
    assert_int_equal(edges, 3); /* clean->features->train->report */
    size_t train = plan_index(p, "train");
    assert_int_equal(p->dep_start[train + 1] - p->dep_start[train], 1);
    assert_int_equal(p->deps[p->dep_start[train]], plan_index(p, "features"));
    assert_int_equal(p->succ_start[p->n], edges);
}

static void test_topological_order_keeps_declaration_order_among_independent_nodes(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: z, func: lib.z, inputs: y_out, outputs: z_out}\n"
        "      - {name: y, func: lib.y, outputs: y_out}\n"
        "      - {name: p, func: lib.p, outputs: p_out}\n"
        "      - {name: q, func: lib.q, outputs: q_out}\n"
        "      - {name: r, func: lib.r, inputs: [q_out, p_out], outputs: r_out}\n");
    build_ir(f);
    plan_ok(f, NULL);
    char buf[256];
    assert_string_equal(plan_order(f->plan, buf, sizeof(buf)), "y,p,q,z,r");
}

/* --- graph errors ------------------------------------------------------------------------ */

static void test_two_producers_of_one_dataset_names_both(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"                                 /* 1 */
        "pipelines:\n"                                            /* 2 */
        "  __default__:\n"                                        /* 3 */
        "    nodes:\n"                                            /* 4 */
        "      - {name: first, func: lib.a, outputs: shared}\n"   /* 5 */
        "      - {name: second, func: lib.b, outputs: [shared]}\n"); /* 6 */
    build_ir(f);
    assert_int_equal(plan_with(f, NULL), CRUN_ECONFIG);
    assert_message_contains(f, "conf/base/pipelines.yml:6:9: node 'second': output 'shared' is "
                               "also an output of node 'first' (conf/base/pipelines.yml:5:9)");
}

static void test_input_neither_produced_nor_in_catalog_suggests(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "companies: {type: csv, filepath: c.csv}\n");
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"                                             /* 1 */
        "pipelines:\n"                                                        /* 2 */
        "  __default__:\n"                                                    /* 3 */
        "    nodes:\n"                                                        /* 4 */
        "      - {name: prep, func: lib.a, inputs: companies, outputs: preprocessed}\n" /* 5 */
        "      - {name: use, func: lib.b, inputs: preprocesed, outputs: out}\n");    /* 6 */
    build_ir(f);
    assert_int_equal(plan_with(f, NULL), CRUN_ECONFIG);
    assert_message_contains(f, "conf/base/pipelines.yml:6:9: node 'use': input 'preprocesed' is "
                               "not produced by any node and is not in the catalog "
                               "(did you mean 'preprocessed'?)");
}

static void write_cycle_project(fixture *f)
{
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: start, func: lib.s, outputs: s_out}\n"
        "      - {name: a, func: lib.a, inputs: [c_out, s_out], outputs: a_out}\n"
        "      - {name: b, func: lib.b, inputs: a_out, outputs: b_out}\n"
        "      - {name: c, func: lib.c, inputs: b_out, outputs: c_out}\n");
}

static void test_cycle_is_reported_in_data_flow_order(void **state)
{
    fixture *f = *state;
    write_cycle_project(f);
    build_ir(f);
    assert_int_equal(plan_with(f, NULL), CRUN_ECONFIG);
    /* data flows a -> b -> c -> a; the loop starts at its first declared node */
    assert_message_contains(f, "conf/base/pipelines.yml:6:9: the pipeline has a cycle: "
                               "a -> b -> c -> a");
    assert_null(strstr(f->fp.err.message, "start"));
}

/* --- --pipeline ------------------------------------------------------------------------ */

static void test_unknown_pipeline_is_usage_error_with_suggestion(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.pipeline = "data_sciense"};
    fixed_plan_fails(f, &filter, CRUN_EUSAGE);
    assert_message_contains(f, "unknown pipeline 'data_sciense' (did you mean 'data_science'?)");
}

static void test_pipeline_selects_its_nodes(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.pipeline = "data_science"};
    fixed_plan_ok(f, &filter);
    assert_string_equal(f->plan->pipeline, "data_science");
    assert_selected(f, "train,report");
}

/* --- filters ------------------------------------------------------------------------------ */

static void test_tags_keep_nodes_with_any_of_the_tags(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.tags = "prep,side"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "clean,features,audit");
}

static void test_nodes_keeps_exactly_those(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.nodes = "report,train,audit"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "train,report,audit");
}

static void test_nodes_unknown_node_suggests(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.nodes = "train,reprot"};
    fixed_plan_fails(f, &filter, CRUN_EUSAGE);
    assert_message_contains(f, "--nodes: node 'reprot' does not exist (did you mean 'report'?)");
}

static void test_nodes_of_another_pipeline_is_not_in_selected_pipeline(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.nodes = "orphan"};
    fixed_plan_fails(f, &filter, CRUN_EUSAGE);
    assert_message_contains(f, "--nodes: node 'orphan' is not in the selected pipeline");
}

static void test_from_nodes_keeps_descendants(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.from_nodes = "features"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "features,train,report");
}

static void test_to_nodes_keeps_ancestors(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.to_nodes = "train"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "clean,features,train");
}

static void test_from_inputs_keeps_consumers_and_descendants(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.from_inputs = "feature_table"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "train,report");
}

static void test_from_inputs_of_a_shared_input_keeps_every_branch(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.from_inputs = "raw"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "clean,features,train,report,audit");
}

static void test_from_inputs_unknown_dataset_suggests(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.from_inputs = "feature_tabel"};
    fixed_plan_fails(f, &filter, CRUN_EUSAGE);
    assert_message_contains(f, "--from-inputs: dataset 'feature_tabel' does not exist "
                               "(did you mean 'feature_table'?)");
}

static void test_to_outputs_keeps_producer_and_ancestors(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.to_outputs = "model"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "clean,features,train");
}

static void test_two_filters_intersect(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.from_nodes = "features", .to_nodes = "train"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "features,train");
}

static void test_three_filters_intersect(void **state)
{
    fixture *f = *state;
    /* tags: features, train; from clean: all but audit; to model: clean..train */
    crun_filter filter = {.tags = "model", .from_nodes = "clean", .to_outputs = "model"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "features,train");
}

static void test_filters_leaving_nothing_is_usage_error(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.tags = "report", .nodes = "audit"};
    fixed_plan_fails(f, &filter, CRUN_EUSAGE);
    assert_message_contains(f, "no nodes left after the filters");
}

static void test_kept_node_needing_memory_dataset_of_filtered_out_node_is_usage_error(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.nodes = "report"};
    fixed_plan_fails(f, &filter, CRUN_EUSAGE);
    assert_message_contains(f, "node 'report' needs 'model', a memory dataset made by node "
                               "'train'");
}

static void test_kept_node_may_read_catalog_dataset_of_filtered_out_node(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.nodes = "train"};
    fixed_plan_ok(f, &filter);
    assert_selected(f, "train");
    assert_int_equal(f->plan->dep_start[1], 0);
}

/* --- per dataset --------------------------------------------------------------------------- */

static void test_consumer_counts_per_dataset(void **state)
{
    fixture *f = *state;
    fixed_plan_ok(f, NULL);
    const plan *p = f->plan;
    const ir_t *ir = f->fp.ir;
    assert_int_equal(p->consumers[ds_index(ir, "raw")], 2);
    assert_int_equal(p->consumers[ds_index(ir, "cleaned")], 1);
    assert_int_equal(p->consumers[ds_index(ir, "feature_table")], 1);
    assert_int_equal(p->consumers[ds_index(ir, "params:alpha")], 1);
    assert_int_equal(p->consumers[ds_index(ir, "model")], 1);
    assert_int_equal(p->consumers[ds_index(ir, "report_md")], 0);
    assert_int_equal(p->consumers[ds_index(ir, "orphan_out")], 0);
    assert_int_equal(p->producer[ds_index(ir, "model")], plan_index(p, "train"));
    assert_int_equal(p->producer[ds_index(ir, "raw")], PLAN_NONE);
    assert_int_equal(p->producer[ds_index(ir, "orphan_out")], PLAN_NONE);
}

static void test_consumer_counts_only_count_planned_nodes(void **state)
{
    fixture *f = *state;
    crun_filter filter = {.nodes = "train,report"};
    fixed_plan_ok(f, &filter);
    const plan *p = f->plan;
    assert_int_equal(p->consumers[ds_index(f->fp.ir, "raw")], 0);
    assert_int_equal(p->consumers[ds_index(f->fp.ir, "feature_table")], 1);
    assert_int_equal(p->consumers[ds_index(f->fp.ir, "model")], 1);
    /* the producer of feature_table is not planned */
    assert_int_equal(p->producer[ds_index(f->fp.ir, "feature_table")], PLAN_NONE);
}

/* --- resume ---------------------------------------------------------------------------------- */

static bool persisted_unless_memory(void *user, size_t ds)
{
    const ir_t *ir = user;
    return ir->ds[ds].kind != IR_DS_MEMORY;
}

/* a -> (m1, memory) -> b -> (p1, catalog) -> c -> (m2, memory) -> d */
static void chain_plan(fixture *f)
{
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "p1: {type: text, filepath: p1.txt}\n");
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: a, func: lib.a, outputs: m1}\n"
        "      - {name: b, func: lib.b, inputs: m1, outputs: p1}\n"
        "      - {name: c, func: lib.c, inputs: p1, outputs: m2}\n"
        "      - {name: d, func: lib.d, inputs: m2, outputs: out}\n");
    build_ir(f);
    plan_ok(f, NULL);
    char buf[64];
    assert_string_equal(plan_order(f->plan, buf, sizeof(buf)), "a,b,c,d");
}

static void assert_resume(fixture *f, const unsigned char *done, const char *expected)
{
    char *from = plan_resume_nodes(f->plan, done, persisted_unless_memory, f->fp.ir);
    if (!expected) {
        assert_null(from);
        return;
    }
    assert_non_null(from);
    assert_string_equal(from, expected);
    free(from);
}

static void test_resume_after_last_node_failed_starts_after_persisted_dataset(void **state)
{
    fixture *f = *state;
    chain_plan(f);
    const unsigned char done[] = {1, 1, 1, 0};
    assert_resume(f, done, "c");
}

static void test_resume_walks_back_through_memory_datasets(void **state)
{
    fixture *f = *state;
    chain_plan(f);
    const unsigned char done[] = {1, 0, 0, 0};
    assert_resume(f, done, "a");
}

static void test_resume_when_everything_finished_is_null(void **state)
{
    fixture *f = *state;
    chain_plan(f);
    const unsigned char done[] = {1, 1, 1, 1};
    assert_resume(f, done, NULL);
}

/* a -> p1, p2 (catalog); b: p1 -> mb (memory); c: p2 -> mc (memory); d: mb, mc -> out */
static void test_resume_in_diamond_restarts_both_branches(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "p1: {type: text, filepath: p1.txt}\n"
                                    "p2: {type: text, filepath: p2.txt}\n");
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: a, func: lib.a, outputs: [p1, p2]}\n"
        "      - {name: b, func: lib.b, inputs: p1, outputs: mb}\n"
        "      - {name: c, func: lib.c, inputs: p2, outputs: mc}\n"
        "      - {name: d, func: lib.d, inputs: [mb, mc], outputs: out}\n");
    build_ir(f);
    plan_ok(f, NULL);
    const unsigned char d_failed[] = {1, 1, 1, 0};
    assert_resume(f, d_failed, "b,c");
    const unsigned char b_failed[] = {1, 0, 1, 0};
    assert_resume(f, b_failed, "b,c");
}

static void test_resume_in_diamond_over_memory_restarts_the_root(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/pipelines.yml",
        "libraries: {lib: lib}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: a, func: lib.a, outputs: [m1, m2]}\n"
        "      - {name: b, func: lib.b, inputs: m1, outputs: mb}\n"
        "      - {name: c, func: lib.c, inputs: m2, outputs: mc}\n"
        "      - {name: d, func: lib.d, inputs: [mb, mc], outputs: out}\n");
    build_ir(f);
    plan_ok(f, NULL);
    const unsigned char d_failed[] = {1, 1, 1, 0};
    assert_resume(f, d_failed, "a");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_default_plan_holds_the_default_pipeline),
        T(test_topological_order_respects_dependencies),
        T(test_topological_order_keeps_declaration_order_among_independent_nodes),
        T(test_two_producers_of_one_dataset_names_both),
        T(test_input_neither_produced_nor_in_catalog_suggests),
        T(test_cycle_is_reported_in_data_flow_order),
        T(test_unknown_pipeline_is_usage_error_with_suggestion),
        T(test_pipeline_selects_its_nodes),
        T(test_tags_keep_nodes_with_any_of_the_tags),
        T(test_nodes_keeps_exactly_those),
        T(test_nodes_unknown_node_suggests),
        T(test_nodes_of_another_pipeline_is_not_in_selected_pipeline),
        T(test_from_nodes_keeps_descendants),
        T(test_to_nodes_keeps_ancestors),
        T(test_from_inputs_keeps_consumers_and_descendants),
        T(test_from_inputs_of_a_shared_input_keeps_every_branch),
        T(test_from_inputs_unknown_dataset_suggests),
        T(test_to_outputs_keeps_producer_and_ancestors),
        T(test_two_filters_intersect),
        T(test_three_filters_intersect),
        T(test_filters_leaving_nothing_is_usage_error),
        T(test_kept_node_needing_memory_dataset_of_filtered_out_node_is_usage_error),
        T(test_kept_node_may_read_catalog_dataset_of_filtered_out_node),
        T(test_consumer_counts_per_dataset),
        T(test_consumer_counts_only_count_planned_nodes),
        T(test_resume_after_last_node_failed_starts_after_persisted_dataset),
        T(test_resume_walks_back_through_memory_datasets),
        T(test_resume_when_everything_finished_is_null),
        T(test_resume_in_diamond_restarts_both_branches),
        T(test_resume_in_diamond_over_memory_restarts_the_root),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
