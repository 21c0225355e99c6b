/* test_project.c - loading a project: crun.ini, conf/base + conf/<env>,
 * merging rules, interpolation, --params and hooks (runner/conf/project.h).
 * Every test builds its own project in a temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"
#include "conf/project.h"
#include "fixture_project.h"

typedef struct fixture {
    fixture_project fp; /* the folder, the project and its IR */
} fixture;

static char *test_env[] = {"HOME=/home/tester", "DATA_DIR=/srv/data", NULL};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    *state = f;
    return f ? fixture_project_begin(&f->fp, "project") : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = fixture_project_end(&f->fp);
    free(f);
    return rc;
}

static int load(fixture *f, const char *env, const char *params)
{
    return fixture_project_load(&f->fp, env, params, test_env);
}

static void load_ok(fixture *f, const char *env, const char *params)
{
    int rc = load(f, env, params);
    if (rc != 0)
        print_error("unexpected: %s\n", f->fp.err.message);
    assert_int_equal(rc, 0);
}

static void assert_json(const conf_node *node, const char *expected)
{
    json_t *j = conf_to_json(node);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_string_equal(s, expected);
    free(s);
    json_decref(j);
}

static void assert_json_equal(json_t *actual, const char *expected)
{
    json_t *want = json_loads(expected, JSON_DECODE_ANY, NULL);
    assert_non_null(want);
    assert_true(json_equal(actual, want));
    json_decref(want);
}

/* --- crun.ini ----------------------------------------------------------------- */

static void test_defaults_without_crun_ini(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "a: 1\n");
    load_ok(f, NULL, NULL);
    assert_string_equal(f->fp.p->name, strrchr(f->fp.dir, '/') + 1);
    assert_string_equal(f->fp.p->env, "local");
    assert_string_equal(f->fp.p->default_env, "local");
    assert_int_equal(f->fp.p->n_hooks, 0);
    assert_json(f->fp.p->parameters, "{\"a\":1}");
    assert_null(f->fp.p->catalog);
    assert_int_equal(json_object_size(f->fp.p->runtime_params), 0);
}

static void test_folder_without_project_is_enoent(void **state)
{
    fixture *f = *state;
    assert_int_equal(load(f, NULL, NULL), CRUN_ENOENT);
    assert_non_null(strstr(f->fp.err.message, "not a crun project"));
}

static void test_crun_ini_sets_name_env_and_plugin_path(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "crun.ini", "[project]\nname = spaceflights ; the demo\ndefault_env = dev\n"
                       "plugin_path = build/plugins:~/.local/lib/crun:/opt/crun\n");
    fixture_put(f->fp.dir, "conf/dev/parameters.yml", "a: 1\n");
    load_ok(f, NULL, NULL);
    assert_string_equal(f->fp.p->name, "spaceflights");
    assert_string_equal(f->fp.p->env, "dev");
    assert_int_equal(f->fp.p->n_plugin_path, 3);
    char expected[256];
    snprintf(expected, sizeof(expected), "%s/build/plugins", f->fp.p->dir);
    assert_string_equal(f->fp.p->plugin_path[0], expected);
    assert_string_equal(f->fp.p->plugin_path[1], "/home/tester/.local/lib/crun");
    assert_string_equal(f->fp.p->plugin_path[2], "/opt/crun");
}

static void test_crun_ini_unknown_key_suggests(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "crun.ini", "[project]\n; comment\nnmae = x\n");
    assert_int_equal(load(f, NULL, NULL), CRUN_ECONFIG);
    assert_string_equal(f->fp.err.message,
                        "crun.ini:3: unknown key 'nmae' in [project] (did you mean 'name'?)");
}

static void test_crun_ini_syntax_error_names_line(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "crun.ini", "[project]\nname = x\nthis is not ini\n");
    assert_int_equal(load(f, NULL, NULL), CRUN_ECONFIG);
    assert_true(strncmp(f->fp.err.message, "crun.ini:3: ", 12) == 0);
}

static void test_crun_ini_hooks_keep_order_and_options(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "crun.ini", "[project]\nname = x\n[hooks]\ntiming =\n"
                       "events = path=logs/events.jsonl,flush=true ; options\n");
    fixture_put(f->fp.dir, "conf/base/.keep", "");
    load_ok(f, NULL, NULL);
    assert_int_equal(f->fp.p->n_hooks, 2);
    assert_string_equal(f->fp.p->hooks[0].name, "timing");
    assert_int_equal(json_object_size(f->fp.p->hooks[0].options), 0);
    assert_string_equal(f->fp.p->hooks[0].where, "crun.ini:4");
    assert_string_equal(f->fp.p->hooks[1].name, "events");
    assert_string_equal(json_string_value(json_object_get(f->fp.p->hooks[1].options, "path")),
                        "logs/events.jsonl");
    assert_true(json_is_true(json_object_get(f->fp.p->hooks[1].options, "flush")));
}

/* --- files and merging ---------------------------------------------------------- */

static void test_env_overrides_runner_option(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/runner.yml", "default: sequential\nrunners:\n"
                                   "  parallel: {type: parallel, max_workers: 4}\n");
    fixture_put(f->fp.dir, "conf/prod/runner.yml", "runners:\n  parallel:\n    max_workers: 16\n");
    load_ok(f, "prod", NULL);
    assert_json(f->fp.p->runner, "{\"default\":\"sequential\",\"runners\":{\"parallel\":"
                              "{\"type\":\"parallel\",\"max_workers\":16}}}");
    conf_node *mw = conf_get(conf_get(conf_get(f->fp.p->runner, "runners"), "parallel"),
                             "max_workers");
    assert_string_equal(mw->file, "conf/prod/runner.yml");
    assert_int_equal(mw->line, 3);
}

static void test_deep_merge_of_parameters(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "model:\n  alpha: 1\n  opt: {lr: 0.5, m: 1}\nseed: 3\n");
    fixture_put(f->fp.dir, "conf/local/parameters.yml", "model:\n  opt: {lr: 2}\n");
    load_ok(f, NULL, NULL);
    assert_json(f->fp.p->parameters, "{\"model\":{\"alpha\":1,\"opt\":{\"lr\":2,\"m\":1}},\"seed\":3}");
}

static void test_catalog_entry_replaced_whole(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "companies:\n  type: csv\n  filepath: a.csv\n  sep: ';'\n"
                                    "shuttles: {type: text, filepath: s.txt}\n");
    fixture_put(f->fp.dir, "conf/local/catalog.yml", "companies:\n  type: json\n  filepath: b.json\n");
    load_ok(f, NULL, NULL);
    assert_json(f->fp.p->catalog, "{\"companies\":{\"type\":\"json\",\"filepath\":\"b.json\"},"
                               "\"shuttles\":{\"type\":\"text\",\"filepath\":\"s.txt\"}}");
}

static void test_pipeline_replaced_whole_library_kept(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/pipelines.yml", "libraries: {demo: demo}\npipelines:\n"
                                      "  a: {nodes: [{name: x, func: demo.x}]}\n"
                                      "  b: {nodes: [{name: y, func: demo.y}]}\n");
    fixture_put(f->fp.dir, "conf/local/pipelines.yml", "pipelines:\n  a: {nodes: [{name: z, func: demo.z}]}\n");
    ir_t *ir = NULL;
    assert_int_equal(ir_load(f->fp.dir, NULL, NULL, test_env, NULL, &f->fp.p, &ir, &f->fp.err), 0);
    /* node definitions went straight into IR nodes: the tree keeps the rest */
    assert_json(f->fp.p->pipelines, "{\"libraries\":{\"demo\":\"demo\"},\"pipelines\":{"
                                 "\"a\":{\"nodes\":[]},\"b\":{\"nodes\":[]}}}");
    /* the env's pipeline a takes base's place, before b */
    assert_int_equal(ir->n_nodes, 2);
    assert_string_equal(ir->nodes[0].name, "z");
    assert_string_equal(ir->nodes[0].where, "conf/local/pipelines.yml:2:15");
    assert_string_equal(ir->nodes[1].name, "y");
    ir_free(ir);
}

static void test_kind_files_joined_in_name_order(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog_z.yaml", "z: {type: memory}\n");
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "a: {type: memory}\n");
    fixture_put(f->fp.dir, "conf/base/catalog_b.yml", "b: {type: memory}\n");
    fixture_put(f->fp.dir, "conf/base/catalogue.yml", "not: {type: memory}\n");
    fixture_put(f->fp.dir, "conf/base/catalog.yml.bak", "bak: {type: memory}\n");
    load_ok(f, NULL, NULL);
    assert_json(f->fp.p->catalog, "{\"a\":{\"type\":\"memory\"},\"b\":{\"type\":\"memory\"},"
                               "\"z\":{\"type\":\"memory\"}}");
    assert_string_equal(conf_get(f->fp.p->catalog, "a")->file, "conf/base/catalog.yml");
}

static void test_duplicate_key_across_files_in_one_env(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "# first\ncompanies: {type: csv}\n");
    fixture_put(f->fp.dir, "conf/base/catalog_more.yml", "other: {type: csv}\ncompanies: {type: json}\n");
    assert_int_equal(load(f, NULL, NULL), CRUN_ECONFIG);
    assert_string_equal(f->fp.err.message, "conf/base/catalog_more.yml:2:1: 'companies' is already "
                                        "defined at conf/base/catalog.yml:2:1 (a key may appear "
                                        "in only one file of a folder)");
}

static void test_top_of_file_must_be_a_map(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "- 1\n- 2\n");
    assert_int_equal(load(f, NULL, NULL), CRUN_ECONFIG);
    assert_string_equal(f->fp.err.message,
                        "conf/base/parameters.yml:1:1: expected a map at the top of the file, "
                        "got a list");
}

static void test_yaml_error_names_project_relative_file(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "a: {type: csv\n");
    assert_int_equal(load(f, NULL, NULL), CRUN_ECONFIG);
    assert_true(strncmp(f->fp.err.message, "conf/base/catalog.yml:2:", 24) == 0);
}

static void test_missing_env_folder_is_an_error(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "{}\n");
    assert_int_equal(load(f, "prod", NULL), CRUN_ECONFIG);
    assert_string_equal(f->fp.err.message, "environment 'prod' not found: conf/prod does not "
                        "exist (conf/ has no environment but base)");
    /* the environments there are, and the closest */
    fixture_put(f->fp.dir, "conf/prd/catalog.yml", "{}\n");
    fixture_put(f->fp.dir, "conf/local/catalog.yml", "{}\n");
    crun_error_clear(&f->fp.err);
    assert_int_equal(load(f, "prod", NULL), CRUN_ECONFIG);
    assert_string_equal(f->fp.err.message, "environment 'prod' not found: conf/prod does not "
                        "exist (did you mean 'prd'?) (environments: local, prd)");
}

static void test_base_is_not_an_env(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "{}\n");
    assert_int_equal(load(f, "base", NULL), CRUN_EUSAGE);
    assert_non_null(strstr(f->fp.err.message, "'base'"));
}

/* --- interpolation -------------------------------------------------------------- */

static void test_globals_and_env_interpolated_into_catalog(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/globals.yml", "root: ${env:DATA_DIR}\nfmt: {type: csv}\n");
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "c:\n  type: ${globals:fmt.type}\n"
                                    "  filepath: ${globals:root}/c.csv\n");
    load_ok(f, NULL, NULL);
    assert_json(f->fp.p->catalog, "{\"c\":{\"type\":\"csv\",\"filepath\":\"/srv/data/c.csv\"}}");
}

static void test_interpolation_error_names_position(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "companies:\n  type: csv\n  versioned: false\n"
                                    "  filepath: ${env:DATA_DIRX}/c.csv\n");
    assert_int_equal(load(f, NULL, NULL), CRUN_ECONFIG);
    assert_string_equal(f->fp.err.message, "conf/base/catalog.yml:4:13: ${env:DATA_DIRX}: environment "
                                        "variable DATA_DIRX is not set and has no default");
}

/* --- --params ------------------------------------------------------------------- */

static void test_params_override_parameters(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "model: {alpha: 1, layers: [1]}\nname: x\n");
    load_ok(f, NULL, "model.alpha=0.5,model.layers=[4,5],name=y");
    assert_json(f->fp.p->parameters, "{\"model\":{\"alpha\":0.5,\"layers\":[4,5]},\"name\":\"y\"}");
    assert_json_equal(f->fp.p->runtime_params, "{\"model\":{\"alpha\":0.5,\"layers\":[4,5]},\"name\":\"y\"}");
}

static void test_unknown_params_key_suggests(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "a: {y: 1}\n");
    assert_int_equal(load(f, NULL, "a.x=2"), CRUN_EUSAGE);
    assert_string_equal(f->fp.err.message, "--params: unknown parameter 'a.x' (did you mean 'a.y'?)");
    /* a key far from every existing one is added, as Kedro's --params does */
    crun_error_clear(&f->fp.err);
    load_ok(f, NULL, "threshold=0.5,a.extra=text");
    assert_json(f->fp.p->parameters, "{\"a\":{\"y\":1,\"extra\":\"text\"},\"threshold\":0.5}");
}

static void test_params_used_by_reference_are_known(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "out: {type: text, filepath: '${runtime_params:out_dir,x}/o'}\n");
    load_ok(f, NULL, "out_dir=/tmp/o");
    assert_json(f->fp.p->catalog, "{\"out\":{\"type\":\"text\",\"filepath\":\"/tmp/o/o\"}}");
}

static void test_malformed_params_are_a_usage_error(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "a: 1\n");
    assert_int_equal(load(f, NULL, "a..b=1"), CRUN_EUSAGE);
    assert_true(strncmp(f->fp.err.message, "--params: ", 10) == 0);
}

static void test_params_parse_types_values(void **state)
{
    fixture *f = *state;
    json_t *out = NULL;
    assert_int_equal(params_parse("a.b=1, c=x,d=[1, 2],e=true,f=null,g=\"q,r\",h=1.5,i=,j=[a, b]",
                                  &out, &f->fp.err), 0);
    char *s = json_dumps(out, JSON_COMPACT);
    assert_string_equal(s, "{\"a\":{\"b\":1},\"c\":\"x\",\"d\":[1,2],\"e\":true,\"f\":null,"
                           "\"g\":\"q,r\",\"h\":1.5,\"i\":\"\",\"j\":[\"a\",\"b\"]}");
    free(s);
    json_decref(out);
}

static void test_params_parse_rejects_malformed(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"a", "=1", "a..b=1", "a=[1,2", "a=1,a.b=2", "a.b=2,a=1",
                                      "x.a.b=2,x.a=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *out = NULL;
        assert_int_equal(params_parse(bad[i], &out, &f->fp.err), CRUN_EUSAGE);
        assert_null(out);
        assert_non_null(f->fp.err.message);
    }
}

/* --- hooks.yml ------------------------------------------------------------------ */

static void test_hooks_yml_adds_hooks_with_options(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "crun.ini", "[hooks]\ntiming =\n");
    fixture_put(f->fp.dir, "conf/local/hooks.yml", "hooks:\n  - {name: events, path: logs/e.jsonl}\n");
    load_ok(f, NULL, NULL);
    assert_int_equal(f->fp.p->n_hooks, 2);
    assert_string_equal(f->fp.p->hooks[1].name, "events");
    assert_string_equal(f->fp.p->hooks[1].where, "conf/local/hooks.yml:2:5");
    assert_json_equal(f->fp.p->hooks[1].options, "{\"path\":\"logs/e.jsonl\"}");
}

static void test_hooks_yml_disable(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "crun.ini", "[hooks]\ntiming =\nevents = path=x\n");
    fixture_put(f->fp.dir, "conf/prod/hooks.yml", "disable: [timing]\n");
    load_ok(f, "prod", NULL);
    assert_int_equal(f->fp.p->n_hooks, 1);
    assert_string_equal(f->fp.p->hooks[0].name, "events");
}

static void test_hooks_yml_disable_unknown_suggests(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "crun.ini", "[hooks]\ntiming =\n");
    fixture_put(f->fp.dir, "conf/local/hooks.yml", "disable:\n  - timng\n");
    assert_int_equal(load(f, NULL, NULL), CRUN_ECONFIG);
    assert_string_equal(f->fp.err.message, "conf/local/hooks.yml:2:5: disable: unknown hook 'timng' "
                                        "(did you mean 'timing'?)");
}

/* An interrupt check that says stop from its limit-th question on. */
typedef struct asked {
    int n, limit;
} asked;

static bool stop_after(void *user)
{
    asked *a = user;
    return ++a->n >= a->limit;
}

static void test_load_asks_before_each_file_and_stops_when_told(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "a: {type: text, filepath: a.txt}\n");
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "x: 1\n");
    asked never = {.limit = 1 << 30};
    conf_interrupt intr = {stop_after, &never};
    assert_int_equal(project_load(f->fp.dir, NULL, NULL, test_env, NULL, &intr, &f->fp.p, &f->fp.err), 0);
    assert_true(never.n >= 2); /* at least once per file */
    project_free(f->fp.p);
    f->fp.p = NULL;
    asked second = {.limit = 2};
    intr.user = &second;
    assert_int_equal(project_load(f->fp.dir, NULL, NULL, test_env, NULL, &intr, &f->fp.p, &f->fp.err),
                     CRUN_ECANCELED);
    assert_null(f->fp.p);
    assert_non_null(strstr(f->fp.err.message, "interrupted while loading the project (reading "
                                           "conf/base/"));
}

static void test_globals_resolve_against_each_other(void **state)
{
    fixture *f = *state;
    fixture_put(f->fp.dir, "conf/base/globals.yml", "file: ${globals:dirs.data}/a.txt\n"
                                    "dirs: {root: /srv, data: '${globals:dirs.root}/data'}\n"
                                    "literal: $${globals:file}\n");
    fixture_put(f->fp.dir, "conf/base/catalog.yml", "a: {type: text, filepath: '${globals:file}',"
                                    " note: '${globals:literal}', dirs: '${globals:dirs}'}\n");
    load_ok(f, NULL, NULL);
    assert_json(conf_get(f->fp.p->catalog, "a"),
                "{\"type\":\"text\",\"filepath\":\"/srv/data/a.txt\","
                "\"note\":\"${globals:file}\","
                "\"dirs\":{\"root\":\"/srv\",\"data\":\"/srv/data\"}}");
}

/* --conf-source: the configuration of another folder, envs under it, named in
 * messages as given; conf/ of the project is not read. */
static void test_conf_source_replaces_conf(void **state)
{
    fixture *f = *state;
    char conf[FIXTURE_DIR_SIZE + 16], missing[FIXTURE_DIR_SIZE + 16];
    snprintf(conf, sizeof(conf), "%s/elsewhere", f->fp.dir);
    snprintf(missing, sizeof(missing), "%s/nowhere", f->fp.dir);
    fixture_put(f->fp.dir, "crun.ini", "[project]\nname = apart\n");
    fixture_put(f->fp.dir, "conf/base/parameters.yml", "a: 1\n");
    fixture_put(f->fp.dir, "elsewhere/base/parameters.yml", "a: 2\nb: 3\n");
    fixture_put(f->fp.dir, "elsewhere/prod/parameters.yml", "b: [\n");
    assert_int_equal(project_load_conf(f->fp.dir, conf, NULL, NULL, test_env, NULL, NULL,
                                       &f->fp.p, &f->fp.err), 0);
    assert_json(f->fp.p->parameters, "{\"a\":2,\"b\":3}");
    assert_string_equal(f->fp.p->conf, conf);
    project_free(f->fp.p);
    f->fp.p = NULL;
    assert_int_equal(project_load_conf(f->fp.dir, conf, "prod", NULL, test_env, NULL, NULL,
                                       &f->fp.p, &f->fp.err), CRUN_ECONFIG);
    char want[FIXTURE_DIR_SIZE + 64];
    snprintf(want, sizeof(want), "%s/prod/parameters.yml:", conf);
    assert_non_null(strstr(f->fp.err.message, want));
    crun_error_clear(&f->fp.err);
    assert_int_equal(project_load_conf(f->fp.dir, missing, NULL, NULL, test_env, NULL, NULL,
                                       &f->fp.p, &f->fp.err), CRUN_EUSAGE);
    assert_null(f->fp.p);
    assert_non_null(strstr(f->fp.err.message, "--conf-source: '"));
    assert_non_null(strstr(f->fp.err.message, "/nowhere' is not a folder"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_without_crun_ini),
        T(test_folder_without_project_is_enoent),
        T(test_crun_ini_sets_name_env_and_plugin_path),
        T(test_crun_ini_unknown_key_suggests),
        T(test_crun_ini_syntax_error_names_line),
        T(test_crun_ini_hooks_keep_order_and_options),
        T(test_env_overrides_runner_option),
        T(test_deep_merge_of_parameters),
        T(test_catalog_entry_replaced_whole),
        T(test_pipeline_replaced_whole_library_kept),
        T(test_kind_files_joined_in_name_order),
        T(test_duplicate_key_across_files_in_one_env),
        T(test_top_of_file_must_be_a_map),
        T(test_yaml_error_names_project_relative_file),
        T(test_missing_env_folder_is_an_error),
        T(test_base_is_not_an_env),
        T(test_globals_and_env_interpolated_into_catalog),
        T(test_interpolation_error_names_position),
        T(test_params_override_parameters),
        T(test_unknown_params_key_suggests),
        T(test_params_used_by_reference_are_known),
        T(test_malformed_params_are_a_usage_error),
        T(test_params_parse_types_values),
        T(test_params_parse_rejects_malformed),
        T(test_hooks_yml_adds_hooks_with_options),
        T(test_hooks_yml_disable),
        T(test_hooks_yml_disable_unknown_suggests),
        T(test_load_asks_before_each_file_and_stops_when_told),
        T(test_globals_resolve_against_each_other),
        T(test_conf_source_replaces_conf),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
