/* cli_habits.c - the commands a Kedro user reaches for first:
 *
 *   crun catalog list [--pipeline P] [--json]   the datasets of each pipeline,
 *       with their type and whether the catalog declares them (kedro catalog list)
 *   crun registry list [--json]                 the pipelines (kedro registry list),
 *       the same as crun list pipelines
 *   crun catalog show DATASET [--head N]        a dataset's value for a quick look
 *       (catalog.load in a notebook): a table's first rows, text's first lines, JSON
 *
 * Both work from the IR JSON crun_session_compile returns, like any other tool;
 * a pipeline that cannot be planned alone is listed with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Add each dataset the ports of one node name to used (an object used as a set). */
static void add_ports(json_t *used, json_t *ports)
{
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p) {
        const char *ds = json_string_value(json_object_get(p, "dataset"));
        if (ds)
            json_object_set_new(used, ds, json_true());
    }
}

/* {"pipeline": P, "datasets": [{name, type, declared}], "unused": [names]}
 * for one pipeline's IR. */
static json_t *pipeline_datasets(const char *name, json_t *ir)
{
    json_t *used = json_object(), *datasets = json_array(), *unused = json_array();
    size_t i;
    json_t *node, *ds;
    const char *key;
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        add_ports(used, json_object_get(node, "inputs"));
        add_ports(used, json_object_get(node, "outputs"));
    }
    json_object_foreach(json_object_get(ir, "datasets"), key, ds) {
        const char *kind = json_string_value(json_object_get(ds, "kind"));
        if (kind && strcmp(kind, "params") == 0)
            continue;
        bool declared = kind && strcmp(kind, "catalog") == 0;
        if (json_object_get(used, key))
            json_array_append_new(datasets, json_pack("{s:s, s:s, s:b}", "name", key, "type",
                                                      json_string_value(json_object_get(ds, "type")),
                                                      "declared", declared));
        else if (declared)
            json_array_append_new(unused, json_string(key));
    }
    json_decref(used);
    return json_pack("{s:s, s:o, s:o}", "pipeline", name, "datasets", datasets, "unused", unused);
}

static void print_pipeline(json_t *p)
{
    size_t i;
    json_t *d;
    const char *error = json_string_value(json_object_get(p, "error"));
    printf("%s:%s%s\n", json_string_value(json_object_get(p, "pipeline")),
           error ? " cannot be planned alone: " : "", error ? error : "");
    json_array_foreach(json_object_get(p, "datasets"), i, d)
        printf("  %-30s %-12s %s\n", json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "type")),
               json_is_true(json_object_get(d, "declared")) ? "declared"
                                                            : "not declared (memory)");
    json_t *unused = json_object_get(p, "unused");
    if (json_array_size(unused)) {
        printf("  catalog entries it does not use:");
        json_array_foreach(unused, i, d)
            printf("%s %s", i ? "," : "", json_string_value(d));
        printf("\n");
    }
}

int cli_catalog_list(cli *c, crun_session *s, crun_error *err)
{
    if (c->what2)
        return usage_error("unexpected argument '%s'", c->what2);
    json_t *pipelines = NULL, *out = json_array();
    int rc = crun_session_list(s, "pipelines", &pipelines, err);
    size_t i;
    json_t *p;
    json_array_foreach(pipelines, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (rc || (c->filter.pipeline && strcmp(c->filter.pipeline, name) != 0))
            continue;
        crun_filter f = CRUN_FILTER_INIT;
        f.pipeline = name;
        json_t *ir = NULL;
        crun_error why = CRUN_ERROR_INIT;
        /* a part that cannot run alone (it reads another part's memory
         * datasets) is still listed, with the reason */
        if (crun_session_compile(s, &f, &ir, &why) == 0)
            json_array_append_new(out, pipeline_datasets(name, ir));
        else
            json_array_append_new(out, json_pack("{s:s, s:s}", "pipeline", name, "error",
                                                 why.message ? why.message : "cannot be planned"));
        crun_error_clear(&why);
        json_decref(ir);
    }
    json_decref(pipelines);
    if (!rc && c->filter.pipeline && !json_array_size(out))
        rc = crun_error_set(err, CRUN_EUSAGE, "--pipeline: no pipeline named '%s' (see crun "
                            "registry list)", c->filter.pipeline);
    if (!rc && c->json) {
        char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            puts(text);
        free(text);
    } else if (!rc) {
        json_array_foreach(out, i, p)
            print_pipeline(p);
    }
    json_decref(out);
    return rc ? report(err) : EXIT_OK;
}

/* A table's columns and first rows, tab-separated. */
static void print_table(json_t *t, long head)
{
    size_t i, k;
    json_t *col, *row, *cell;
    json_array_foreach(json_object_get(t, "columns"), i, col)
        printf("%s%s", i ? "\t" : "", json_string_value(col));
    printf("\n");
    json_t *rows = json_object_get(t, "rows");
    json_array_foreach(rows, i, row) {
        if ((long)i >= head)
            break;
        json_array_foreach(row, k, cell) {
            /* a missing cell is empty, as in the CSV it came from */
            char *text = json_is_string(cell) || json_is_null(cell)
                             ? NULL : json_dumps(cell, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
            const char *plain = json_string_value(cell);
            printf("%s%s", k ? "\t" : "", text ? text : plain ? plain : "");
            free(text);
        }
        printf("\n");
    }
    if (json_array_size(rows) > (size_t)head)
        printf("... (%zu rows in all)\n", json_array_size(rows));
}

/* Text's first head lines; other bytes as their size and type. */
static void print_bytes(const crun_value *v, long head)
{
    size_t len = 0;
    const char *data = crun_value_bytes(v, &len);
    const char *mt = crun_value_media_type(v);
    if (crun_utf8_invalid_at(data, len) != len || memchr(data, '\0', len)) {
        printf("(%zu bytes of %s)\n", len, mt ? mt : "application/octet-stream");
        return;
    }
    size_t at = 0;
    for (long line = 0; at < len && line < head; line++) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - data) + 1 : len;
        fwrite(data + at, 1, end - at, stdout);
        at = end;
    }
    if (at < len)
        printf("%s... (%zu bytes in all)\n", data[at - 1] == '\n' ? "" : "\n", len);
}

int cli_catalog_show(cli *c, crun_session *s, crun_error *err)
{
    char *end = NULL;
    long head = c->head ? strtol(c->head, &end, 10) : 10;
    if (c->head && (!*c->head || *end || head < 0))
        return usage_error("--head: expected a number of rows, got '%s'", c->head);
    crun_value *v = NULL;
    if (crun_session_load_dataset(s, c->what2, &v, err) != 0)
        return report(err);
    json_t *j = NULL;
    switch (crun_value_kind_of(v)) {
    case CRUN_VALUE_BYTES:
        print_bytes(v, head);
        break;
    case CRUN_VALUE_TABLE:
        if (crun_value_to_json(v, &j, err) != 0) {
            crun_value_unref(v);
            return report(err);
        }
        print_table(j, head);
        break;
    case CRUN_VALUE_JSON: {
        char *text = json_dumps(crun_value_json(v), JSON_INDENT(2) | JSON_ENCODE_ANY |
                                                            JSON_REAL_PRECISION(15));
        if (text)
            puts(text);
        free(text);
        break;
    }
    default:
        printf("(%s value)\n", crun_value_kind_name(crun_value_kind_of(v)));
    }
    json_decref(j);
    crun_value_unref(v);
    return EXIT_OK;
}
