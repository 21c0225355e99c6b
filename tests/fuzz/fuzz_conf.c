/* fuzz_conf.c - libFuzzer target for what crun reads from files it is given.
 *
 * One binary, four readers, chosen by CRUN_FUZZ_TARGET:
 *   yaml  the configuration reader: the bytes as a YAML file (libyaml through
 *         conf_parse_text, the nesting and alias limits), then ${...}
 *         interpolation against a small globals tree, the environment and
 *         runtime params, then the tree as JSON;
 *   ir    the IR reader of `crun run --ir`: the bytes as JSON, then
 *         ir_from_json with every check it makes on hand-edited IR;
 *   csv   the csv dataset's reader (fuzz_csv.c);
 *   plugin the host's checks of a loaded plugin's descriptor (fuzz_plugin.c).
 * Every libcrun source is compiled into the fuzzer (instrumented), so the
 * coverage guides into the readers themselves.  A crash, a sanitizer report
 * or a leak is a finding; an error returned is the expected answer to bad
 * input.  The target's choice lives in a static, fine for a test program.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "fuzz.h"
#include "ir/ir.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const targets[] = {"yaml", "ir", "csv", "plugin"};
static int target; /* an index of targets */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *t = getenv("CRUN_FUZZ_TARGET");
    for (target = 0; t && target < 4; target++)
        if (strcmp(t, targets[target]) == 0)
            return 0;
    fprintf(stderr, "fuzz_conf: set CRUN_FUZZ_TARGET to yaml, ir, csv or plugin\n");
    exit(2);
}

static void fuzz_yaml(const uint8_t *data, size_t size)
{
    conf_pool *pool = conf_pool_new();
    conf_node *tree = NULL, *globals = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (!pool)
        return;
    if (conf_parse_string(pool, "a: {b: 1, c: [x, y]}\nname: g\n", "globals.yml", &globals,
                          &err) != 0)
        abort(); /* the fixed globals always parse */
    if (conf_parse_text(pool, (const char *)data, size, "fuzz.yml", NULL, &tree, &err) == 0) {
        char *const env[] = {"HOME=/nowhere", "X=1", NULL};
        json_t *runtime = json_pack("{s:{s:i}}", "p", "q", 2);
        conf_interp ctx = {.globals = globals, .runtime_params = runtime, .environ = env};
        crun_error_clear(&err);
        if (conf_interpolate(tree, &ctx, &err) == 0)
            json_decref(conf_to_json(tree));
        json_decref(runtime);
    }
    crun_error_clear(&err);
    conf_free(tree);
    conf_free(globals);
    conf_pool_free(pool);
}

static void fuzz_ir(const uint8_t *data, size_t size)
{
    json_t *json = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!json)
        return;
    ir_t *ir = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (ir_from_json(json, "fuzz.json", "/nowhere", &ir, &err) == 0)
        ir_free(ir);
    crun_error_clear(&err);
    json_decref(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    switch (target) {
    case 0: fuzz_yaml(data, size); break;
    case 1: fuzz_ir(data, size); break;
    case 2: fuzz_csv(data, size); break;
    default: fuzz_plugin(data, size); break;
    }
    return 0;
}
