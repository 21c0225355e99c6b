/* test_conf.c - configuration trees: YAML with positions, JSON typing,
 * merging and ${...} interpolation (runner/conf/conf.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"

typedef struct fixture {
    conf_pool *pool;
    crun_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(fixture));
    if (!f || !(f->pool = conf_pool_new()))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    crun_error_clear(&f->err);
    conf_pool_free(f->pool);
    free(f);
    return 0;
}

static conf_node *parse_ok(fixture *f, const char *yaml)
{
    conf_node *root = NULL;
    int rc = conf_parse_string(f->pool, yaml, "conf/base/catalog.yml", &root, &f->err);
    if (rc != 0)
        print_error("unexpected: %s\n", f->err.message);
    assert_int_equal(rc, 0);
    assert_non_null(root);
    return root;
}

static int parse_fails(fixture *f, const char *yaml)
{
    conf_node *root = NULL;
    int rc = conf_parse_string(f->pool, yaml, "conf/base/catalog.yml", &root, &f->err);
    assert_null(root);
    assert_non_null(f->err.message);
    return rc;
}

static char *json_text(const conf_node *node)
{
    json_t *j = conf_to_json(node);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    return s;
}

static void assert_json(const conf_node *node, const char *expected)
{
    char *s = json_text(node);
    assert_string_equal(s, expected);
    free(s);
}

/* --- reading --------------------------------------------------------------- */

static void test_positions_are_one_based(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "companies:\n  type: csv\n  filepath: data/c.csv\n");
    conf_node *entry = conf_get(root, "companies");
    assert_int_equal(entry->kind, CONF_MAP);
    conf_node *type = conf_get(entry, "type");
    assert_int_equal(type->line, 2);
    assert_int_equal(type->col, 9);
    assert_string_equal(type->file, "conf/base/catalog.yml");
    conf_node *key = conf_get_key(entry, "filepath");
    assert_int_equal(key->line, 3);
    assert_int_equal(key->col, 3);
    char where[128];
    assert_string_equal(conf_where(type, where, sizeof(where)), "conf/base/catalog.yml:2:9");
    conf_free(root);
}

static void test_yaml_syntax_error_names_line_and_column(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse_fails(f, "a: 1\nb: [1, 2\nc: 3\n"), CRUN_ECONFIG);
    assert_true(strncmp(f->err.message, "conf/base/catalog.yml:3:2: ", 27) == 0);
}

static void test_duplicate_key_is_an_error(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse_fails(f, "a: 1\nb: 2\na: 3\n"), CRUN_ECONFIG);
    assert_string_equal(f->err.message,
                        "conf/base/catalog.yml:3:1: duplicate key 'a' (first at line 1:1)");
}

/* A map of n keys k0..k(n-1), then key dup: the text (malloc'd). */
static char *many_keys(size_t n, const char *dup)
{
    size_t cap = n * 24 + 64, at = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, cap - at, "k%zu: {v: %zu}\n", i, i);
    snprintf(text + at, cap - at, "%s: 1\n", dup);
    return text;
}

/* Big maps (a generated catalog) are checked through a hash table: every
 * duplicate is still found, wherever it is, and nested maps keep their own
 * keys. */
static void test_duplicate_keys_in_big_maps(void **state)
{
    fixture *f = *state;
    static const struct {
        size_t n;
        const char *dup, *message;
    } cases[] = {
        {15, "k0", "conf/base/catalog.yml:16:1: duplicate key 'k0' (first at line 1:1)"},
        {16, "k0", "conf/base/catalog.yml:17:1: duplicate key 'k0' (first at line 1:1)"},
        {17, "k16", "conf/base/catalog.yml:18:1: duplicate key 'k16' (first at line 17:1)"},
        {50000, "k49999",
         "conf/base/catalog.yml:50001:1: duplicate key 'k49999' (first at line 50000:1)"},
        {50000, "k3", "conf/base/catalog.yml:50001:1: duplicate key 'k3' (first at line 4:1)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = many_keys(cases[i].n, cases[i].dup);
        assert_int_equal(parse_fails(f, text), CRUN_ECONFIG);
        assert_string_equal(f->err.message, cases[i].message);
        crun_error_clear(&f->err);
        free(text);
    }
    char *text = many_keys(50000, "v");
    conf_node *root = parse_ok(f, text);
    assert_int_equal(root->n, 50001);
    assert_string_equal(conf_get(conf_get(root, "k49999"), "v")->str, "49999");
    conf_free(root);
    free(text);
}

static void test_empty_file_is_null(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "# only a comment\n");
    assert_int_equal(root->kind, CONF_NULL);
    conf_free(root);
}

static void test_missing_file_is_enoent(void **state)
{
    fixture *f = *state;
    conf_node *root = NULL;
    int rc = conf_parse_file(f->pool, "/nonexistent/crun/x.yml", "conf/base/x.yml", &root, &f->err);
    assert_int_equal(rc, CRUN_ENOENT);
    assert_null(root);
    assert_non_null(strstr(f->err.message, "conf/base/x.yml"));
}

static void test_alias_is_expanded_as_copy(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "base: &b {type: csv, sep: ','}\nother: *b\n");
    conf_node *a = conf_get(root, "base"), *b = conf_get(root, "other");
    assert_ptr_not_equal(a, b);
    assert_json(b, "{\"type\":\"csv\",\"sep\":\",\"}");
    conf_free(root);
}

static void test_merge_key_keeps_explicit_keys(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "_csv: &csv {type: csv, sep: ','}\n"
                                  "x:\n  <<: *csv\n  sep: ';'\n  filepath: x.csv\n");
    assert_json(conf_get(root, "x"), "{\"sep\":\";\",\"filepath\":\"x.csv\",\"type\":\"csv\"}");
    conf_free(root);
}

static void test_unknown_alias_is_an_error(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse_fails(f, "a: *nope\n"), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "conf/base/catalog.yml:1:"));
}

static void test_alias_bomb_is_refused(void **state)
{
    fixture *f = *state;
    char text[2048] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; i++) {
        char line[128];
        snprintf(line, sizeof(line), "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(text, line);
    }
    assert_int_equal(parse_fails(f, text), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "too many nodes"));
}

static void test_two_documents_are_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(parse_fails(f, "a: 1\n---\nb: 2\n"), CRUN_ECONFIG);
}

/* --- JSON ------------------------------------------------------------------ */

static void test_plain_scalars_typed_by_core_schema(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "- ~\n- null\n-\n- true\n- FALSE\n- 42\n- -7\n- 0x1f\n"
                                  "- 0o17\n- 1.5\n- 2e3\n- .5\n- -.inf\n- .nan\n- 1.2.3\n"
                                  "- yes\n- 012\n");
    json_t *j = conf_to_json(root);
    assert_true(json_is_null(json_array_get(j, 0)));
    assert_true(json_is_null(json_array_get(j, 1)));
    assert_true(json_is_null(json_array_get(j, 2)));
    assert_true(json_is_true(json_array_get(j, 3)));
    assert_true(json_is_false(json_array_get(j, 4)));
    assert_int_equal(json_integer_value(json_array_get(j, 5)), 42);
    assert_int_equal(json_integer_value(json_array_get(j, 6)), -7);
    assert_int_equal(json_integer_value(json_array_get(j, 7)), 31);
    assert_int_equal(json_integer_value(json_array_get(j, 8)), 15);
    assert_true(json_real_value(json_array_get(j, 9)) == 1.5);
    assert_true(json_real_value(json_array_get(j, 10)) == 2000.0);
    assert_true(json_real_value(json_array_get(j, 11)) == 0.5);
    /* JSON cannot hold infinities: the text survives as a string */
    assert_string_equal(json_string_value(json_array_get(j, 12)), "-.inf");
    assert_string_equal(json_string_value(json_array_get(j, 13)), ".nan");
    assert_string_equal(json_string_value(json_array_get(j, 14)), "1.2.3");
    assert_string_equal(json_string_value(json_array_get(j, 15)), "yes");
    assert_int_equal(json_integer_value(json_array_get(j, 16)), 12);
    json_decref(j);
    conf_free(root);
}

static void test_quoted_scalars_stay_strings(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "a: '42'\nb: \"true\"\nc: !!str 1.5\nd: |\n  null\n");
    assert_json(root, "{\"a\":\"42\",\"b\":\"true\",\"c\":\"1.5\",\"d\":\"null\\n\"}");
    conf_free(root);
}

static void test_from_json_round_trips(void **state)
{
    (void)state;
    json_t *in = json_loads("{\"a\":[1,2.0,\"3\",true,null],\"b\":{\"c\":\"x\"}}", 0, NULL);
    conf_node *node = conf_from_json(in, "--params", 0, 0);
    assert_non_null(node);
    json_t *out = conf_to_json(node);
    assert_true(json_equal(in, out));
    json_decref(in);
    json_decref(out);
    conf_free(node);
}

static void test_kind_name_describes_scalars(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "{a: 1, b: x, c: ~, d: [], e: {}, f: true}\n");
    assert_string_equal(conf_kind_name(conf_get(root, "a")), "a number");
    assert_string_equal(conf_kind_name(conf_get(root, "b")), "a string");
    assert_string_equal(conf_kind_name(conf_get(root, "c")), "null");
    assert_string_equal(conf_kind_name(conf_get(root, "d")), "a list");
    assert_string_equal(conf_kind_name(conf_get(root, "e")), "a map");
    assert_string_equal(conf_kind_name(conf_get(root, "f")), "a boolean");
    conf_free(root);
}

/* --- merging and keys ------------------------------------------------------ */

static void test_shallow_merge_replaces_entries_whole(void **state)
{
    fixture *f = *state;
    conf_node *base = parse_ok(f, "a: {type: csv, sep: ','}\nb: {type: text}\n");
    conf_node *over = parse_ok(f, "a: {type: json}\nc: {type: bytes}\n");
    conf_node *merged = conf_merge(base, over, false);
    assert_json(merged, "{\"a\":{\"type\":\"json\"},\"b\":{\"type\":\"text\"},"
                        "\"c\":{\"type\":\"bytes\"}}");
    conf_free(merged);
}

static void test_deep_merge_combines_maps(void **state)
{
    fixture *f = *state;
    conf_node *base = parse_ok(f, "model: {alpha: 1, layers: [1, 2], opt: {lr: 0.1, m: 0.9}}\n");
    conf_node *over = parse_ok(f, "model: {layers: [3], opt: {lr: 0.5}}\n");
    conf_node *merged = conf_merge(base, over, true);
    assert_json(merged, "{\"model\":{\"alpha\":1,\"layers\":[3],\"opt\":{\"lr\":0.5,\"m\":0.9}}}");
    conf_free(merged);
}

static void test_set_replaces_existing_value(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "a: 1\nb: 2\n");
    assert_int_equal(conf_set(root, conf_new_scalar("a", NULL, 0, 0),
                              conf_new_scalar("x", NULL, 0, 0)), 0);
    assert_json(root, "{\"a\":\"x\",\"b\":2}");
    conf_free(root);
}

static void test_check_keys_suggests_closest(void **state)
{
    fixture *f = *state;
    static const char *const known[] = {"name", "func", "inputs", "outputs", "tags", NULL};
    conf_node *root = parse_ok(f, "name: a\nfunc: x.y\ninptus: b\n");
    assert_int_equal(conf_check_keys(root, known, "a node", &f->err), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/catalog.yml:3:1: unknown key 'inptus' in a "
                                        "node (did you mean 'inputs'?)");
    conf_free(root);
}

/* --- interpolation ----------------------------------------------------------- */

static int interpolate(fixture *f, conf_node *root, const conf_node *globals, json_t *rt,
                       char *const *envp, json_t *used)
{
    conf_interp ctx = {.globals = globals, .runtime_params = rt, .environ = envp,
                       .used_runtime_params = used};
    return conf_interpolate(root, &ctx, &f->err);
}

static void test_interpolation_whole_reference_keeps_kind(void **state)
{
    fixture *f = *state;
    conf_node *globals = parse_ok(f, "db: {host: h, port: 5432}\n");
    conf_node *root = parse_ok(f, "conn: ${globals:db}\nport: ${globals:db.port}\n");
    assert_int_equal(interpolate(f, root, globals, NULL, NULL, NULL), 0);
    assert_json(root, "{\"conn\":{\"host\":\"h\",\"port\":5432},\"port\":5432}");
    assert_int_equal(conf_get(root, "conn")->line, 1);
    assert_int_equal(conf_get(root, "conn")->col, 7);
    conf_free(root);
    conf_free(globals);
}

static void test_interpolation_inside_text(void **state)
{
    fixture *f = *state;
    char *envp[] = {"DATA=/srv/data", NULL};
    conf_node *globals = parse_ok(f, "layer: raw\n");
    conf_node *root = parse_ok(f, "path: ${env:DATA}/${globals:layer}/x.csv\n");
    assert_int_equal(interpolate(f, root, globals, NULL, envp, NULL), 0);
    assert_json(root, "{\"path\":\"/srv/data/raw/x.csv\"}");
    conf_free(root);
    conf_free(globals);
}

static void test_interpolation_env_default(void **state)
{
    fixture *f = *state;
    char *envp[] = {"OTHER=1", NULL};
    conf_node *root = parse_ok(f, "dir: ${env:DATA_DIR,data/01_raw}\nn: ${env:N, 4}\n"
                                  "s: '${env:N,4}'\n");
    assert_int_equal(interpolate(f, root, NULL, NULL, envp, NULL), 0);
    assert_json(root, "{\"dir\":\"data/01_raw\",\"n\":4,\"s\":\"4\"}");
    conf_free(root);
}

static void test_interpolation_missing_env_names_position(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "companies:\n  type: csv\n  filepath: x\n  path:   ${env:DATA_DIR}\n");
    assert_int_equal(interpolate(f, root, NULL, NULL, NULL, NULL), CRUN_ECONFIG);
    assert_string_equal(f->err.message, "conf/base/catalog.yml:4:11: ${env:DATA_DIR}: environment "
                                        "variable DATA_DIR is not set and has no default");
    conf_free(root);
}

static void test_interpolation_escape_is_literal(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "a: $${env:HOME}\nb: cost $$5 and $${x}\n");
    assert_int_equal(interpolate(f, root, NULL, NULL, NULL, NULL), 0);
    assert_json(root, "{\"a\":\"${env:HOME}\",\"b\":\"cost $$5 and ${x}\"}");
    conf_free(root);
}

static void test_interpolation_runtime_params_records_use(void **state)
{
    fixture *f = *state;
    json_t *rt = json_loads("{\"model\":{\"lr\":0.01}}", 0, NULL);
    json_t *used = json_object();
    conf_node *root = parse_ok(f, "lr: ${runtime_params:model.lr}\nseed: ${runtime_params:seed,7}\n");
    assert_int_equal(interpolate(f, root, NULL, rt, NULL, used), 0);
    assert_json(root, "{\"lr\":0.01,\"seed\":7}");
    assert_non_null(json_object_get(used, "model.lr"));
    assert_non_null(json_object_get(used, "seed"));
    conf_free(root);
    json_decref(rt);
    json_decref(used);
}

static void test_interpolation_unknown_resolver_suggests(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "a: ${glob:x}\n");
    assert_int_equal(interpolate(f, root, NULL, NULL, NULL, NULL), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "conf/base/catalog.yml:1:4: ${glob:x}: unknown "
                                           "resolver 'glob'"));
    conf_free(root);
}

static void test_interpolation_missing_global_is_an_error(void **state)
{
    fixture *f = *state;
    conf_node *globals = parse_ok(f, "a: {b: 1}\n");
    conf_node *root = parse_ok(f, "x: ${globals:a.c}\n");
    assert_int_equal(interpolate(f, root, globals, NULL, NULL, NULL), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "1:4: ${globals:a.c}: 'a.c' is not defined"));
    conf_free(root);
    conf_free(globals);
}

static void test_interpolation_map_inside_text_is_an_error(void **state)
{
    fixture *f = *state;
    conf_node *globals = parse_ok(f, "db: {host: h}\n");
    conf_node *root = parse_ok(f, "x: url-${globals:db}\n");
    assert_int_equal(interpolate(f, root, globals, NULL, NULL, NULL), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "cannot be part of a string"));
    conf_free(root);
    conf_free(globals);
}

static void test_interpolation_unterminated_reference(void **state)
{
    fixture *f = *state;
    conf_node *root = parse_ok(f, "x: ${env:A\n");
    assert_int_equal(interpolate(f, root, NULL, NULL, NULL, NULL), CRUN_ECONFIG);
    assert_non_null(strstr(f->err.message, "unterminated"));
    conf_free(root);
}

static void test_getenv_matches_whole_names(void **state)
{
    (void)state;
    char *envp[] = {"HOMEX=1", "HOME=/home/u", "EMPTY=", NULL};
    assert_string_equal(conf_getenv(envp, "HOME"), "/home/u");
    assert_string_equal(conf_getenv(envp, "EMPTY"), "");
    assert_null(conf_getenv(envp, "HOM"));
    assert_null(conf_getenv(NULL, "HOME"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_positions_are_one_based, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_syntax_error_names_line_and_column, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys_in_big_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_key_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_is_expanded_as_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_key_keeps_explicit_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_alias_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_bomb_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_documents_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_scalars_typed_by_core_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoted_scalars_stay_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_json_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kind_name_describes_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shallow_merge_replaces_entries_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deep_merge_combines_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_replaces_existing_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_keys_suggests_closest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_whole_reference_keeps_kind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_inside_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_env_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_missing_env_names_position, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_escape_is_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_runtime_params_records_use, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_unknown_resolver_suggests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_missing_global_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_map_inside_text_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interpolation_unterminated_reference, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_getenv_matches_whole_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
