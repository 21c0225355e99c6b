/* request.c - a POST /v1/runs body as run options.
 *
 * The body is checked before anything runs, so that a client learns what is
 * wrong from one 400 naming the field: unknown top-level fields, params whose
 * type differs from the catalog's default, inputs whose value cannot be what
 * their dataset holds, nodes that are not served.  What only the plan can
 * tell (an unknown parameter, an input no node reads) comes back from
 * crun_session_run as CRUN_EUSAGE and is a 400 too.  Values cross the API as
 * JSON: {"base64": ...} is bytes, {"columns": [...], "rows": [...]} a table,
 * anything else a JSON value (a string for a text dataset becomes text).
 * Everything here is a pure function of its arguments (the fuzz target
 * drives it directly).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

/* in the order of the enum: parse_body finds a field's value by its index */
enum { FIELD_PARAMS, FIELD_INPUTS, FIELD_NODES, FIELD_PERSIST };
static const char *const body_fields[] = {"params", "inputs", "nodes", "persist", NULL};

static int problem(char **error, const char *fmt, ...) CRUN_PRINTF(2, 3);
static int problem(char **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(error, fmt, ap) < 0)
        *error = NULL;
    va_end(ap);
    return 400;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* --- base64 (RFC 4648): standard or URL-safe alphabet --- */

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe alphabet, padding optional; false on anything else. */
static bool base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    while (len && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return false;
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    if (!buf)
        return false;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int d = b64_digit((unsigned char)in[i]);
        if (d < 0) {
            free(buf);
            return false;
        }
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out = buf;
    *out_len = o;
    return true;
}

/* --- values in --- */

/* A column's type from its cells: integers only -> int64, numbers -> double,
 * strings -> string; nulls are missing cells.  0 when the cells mix kinds. */
static crun_column_type column_type(json_t *rows, size_t col)
{
    bool ints = true, numbers = true, strings = true, any = false;
    size_t r;
    json_t *row;
    json_array_foreach(rows, r, row) {
        json_t *cell = json_array_get(row, col);
        if (json_is_null(cell))
            continue;
        any = true;
        ints = ints && json_is_integer(cell);
        numbers = numbers && json_is_number(cell);
        strings = strings && json_is_string(cell);
    }
    if (!any || strings)
        return strings || !any ? CRUN_COLUMN_STRING : 0;
    return ints ? CRUN_COLUMN_INT64 : numbers ? CRUN_COLUMN_DOUBLE : 0;
}

static int table_cell(crun_table *t, size_t c, size_t r, crun_column_type type, json_t *cell)
{
    if (json_is_null(cell))
        return crun_table_set_missing(t, c, r);
    if (type == CRUN_COLUMN_INT64)
        return crun_table_set_int64(t, c, r, json_integer_value(cell));
    if (type == CRUN_COLUMN_DOUBLE)
        return crun_table_set_double(t, c, r, json_number_value(cell));
    return crun_table_set_string(t, c, r, json_string_value(cell));
}

static int table_from_json(const char *name, json_t *v, crun_value **out, char **error)
{
    json_t *cols = json_object_get(v, "columns"), *rows = json_object_get(v, "rows");
    if (json_object_size(v) != 2 || !json_is_array(cols) || !json_is_array(rows))
        return problem(error, "inputs.%s: a table is {\"columns\": [names], \"rows\": [[cells]]}",
                       name);
    size_t nc = json_array_size(cols), nr = json_array_size(rows);
    size_t i;
    json_t *it;
    json_array_foreach(cols, i, it) {
        if (!json_is_string(it))
            return problem(error, "inputs.%s: columns[%zu] must be a name (a string), got %s",
                           name, i, json_kind(it));
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_array_get(cols, k)), json_string_value(it)) == 0)
                return problem(error, "inputs.%s: column '%s' appears twice", name,
                               json_string_value(it));
    }
    json_array_foreach(rows, i, it) {
        if (!json_is_array(it) || json_array_size(it) != nc)
            return problem(error, "inputs.%s: rows[%zu] must be an array of %zu cells", name, i,
                           nc);
        size_t c;
        json_t *cell;
        json_array_foreach(it, c, cell) {
            if (!json_is_null(cell) && !json_is_number(cell) && !json_is_string(cell))
                return problem(error, "inputs.%s: rows[%zu][%zu]: a cell is a number, a string "
                               "or null, got %s", name, i, c, json_kind(cell));
        }
    }
    crun_table *t = crun_table_new(nr);
    int rc = t ? crun_table_set_rows(t, nr) : CRUN_ENOMEM;
    for (size_t c = 0; c < nc && rc == 0; c++) {
        crun_column_type type = column_type(rows, c);
        if (!type) {
            crun_table_free(t);
            return problem(error, "inputs.%s: column '%s' mixes numbers and strings", name,
                           json_string_value(json_array_get(cols, c)));
        }
        int col = crun_table_add_column(t, json_string_value(json_array_get(cols, c)), type);
        rc = col < 0 ? col : 0;
        for (size_t r = 0; r < nr && rc == 0; r++)
            rc = table_cell(t, (size_t)col, r, type, json_array_get(json_array_get(rows, r), c));
    }
    if (rc) {
        crun_table_free(t);
        return problem(error, "inputs.%s: cannot build the table (out of memory)", name);
    }
    *out = crun_value_table_new(t);
    return *out ? 0 : problem(error, "out of memory");
}

static int bytes_from_json(const char *name, json_t *v, crun_value **out, char **error)
{
    json_t *b64 = json_object_get(v, "base64"), *mt = json_object_get(v, "media_type");
    if (!json_is_string(b64) || (mt && !json_is_string(mt)) ||
        json_object_size(v) != 1u + (mt != NULL))
        return problem(error, "inputs.%s: bytes are {\"base64\": \"...\"} with an optional "
                       "\"media_type\"", name);
    unsigned char *data = NULL;
    size_t len = 0;
    if (!base64_decode(json_string_value(b64), json_string_length(b64), &data, &len))
        return problem(error, "inputs.%s: base64 is not valid base64", name);
    *out = crun_value_bytes_take(data, len, mt ? json_string_value(mt) : NULL);
    return *out ? 0 : problem(error, "out of memory");
}

/* What a dataset type holds, for checking an input's value. */
enum holds { HOLDS_ANY, HOLDS_TABLE, HOLDS_TEXT, HOLDS_BYTES, HOLDS_JSON };

static enum holds holds_of(const char *type)
{
    if (!type)
        return HOLDS_ANY;
    if (strcmp(type, "csv") == 0 || strcmp(type, "sqlite") == 0)
        return HOLDS_TABLE;
    if (strcmp(type, "text") == 0)
        return HOLDS_TEXT;
    if (strcmp(type, "bytes") == 0)
        return HOLDS_BYTES;
    if (strcmp(type, "json") == 0)
        return HOLDS_JSON;
    return HOLDS_ANY;
}

static int input_value(const svc_served *sv, const char *name, json_t *v, crun_value **out,
                       char **error)
{
    const char *type = json_string_value(json_object_get(sv->dataset_types, name));
    enum holds h = holds_of(type);
    bool is_bytes = json_is_object(v) && json_object_get(v, "base64");
    bool is_table = json_is_object(v) && json_object_get(v, "columns");
    if (h == HOLDS_JSON) /* a json dataset takes the value as it is */
        return (*out = crun_value_json_new(json_incref(v))) ? 0 : problem(error, "out of memory");
    if (h == HOLDS_TABLE && !is_table)
        return problem(error, "inputs.%s: dataset '%s' (%s) holds a table: give {\"columns\": "
                       "[...], \"rows\": [...]}, not %s", name, name, type, json_kind(v));
    if (h == HOLDS_TEXT && !json_is_string(v))
        return problem(error, "inputs.%s: dataset '%s' (text) holds text: give a string, not %s",
                       name, name, json_kind(v));
    if (h == HOLDS_BYTES && !is_bytes && !json_is_string(v))
        return problem(error, "inputs.%s: dataset '%s' (bytes) holds bytes: give "
                       "{\"base64\": \"...\"} or a string, not %s", name, name, json_kind(v));
    if (is_bytes)
        return bytes_from_json(name, v, out, error);
    if (is_table)
        return table_from_json(name, v, out, error);
    if (json_is_string(v) && (h == HOLDS_TEXT || h == HOLDS_BYTES)) {
        *out = crun_value_bytes_new(json_string_value(v), json_string_length(v),
                                    h == HOLDS_TEXT ? "text/plain; charset=utf-8" : NULL);
        return *out ? 0 : problem(error, "out of memory");
    }
    return (*out = crun_value_json_new(json_incref(v))) ? 0 : problem(error, "out of memory");
}

static int parse_inputs(const svc_served *sv, json_t *inputs, svc_request *req, char **error)
{
    if (!json_is_object(inputs))
        return problem(error, "inputs: expected an object of dataset -> value, got %s",
                       json_kind(inputs));
    size_t n = json_object_size(inputs);
    req->input_names = calloc(n + 1, sizeof(char *));
    req->input_values = calloc(n + 1, sizeof(crun_value *));
    if (!req->input_names || !req->input_values)
        return problem(error, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(inputs, name, v) {
        if (!json_object_get(sv->dataset_types, name))
            return problem(error, "inputs: unknown dataset '%s'", name);
        crun_value *value = NULL;
        int rc = input_value(sv, name, v, &value, error);
        if (rc)
            return rc;
        req->input_names[req->n_inputs] = name;
        req->input_values[req->n_inputs++] = value;
    }
    return 0;
}

/* A real that an integer parameter can take: whole and within json_int_t
 * (casting one outside that range would be undefined). */
static bool is_whole(double v)
{
    return v >= -0x1p63 && v < 0x1p63 && v == (double)(json_int_t)v;
}

/* path + "." + key, as far as it fits */
static void path_push(char *path, size_t len, size_t cap, const char *key)
{
    if (len + 2 > cap)
        return; /* no room: the path stays as it is */
    size_t klen = strlen(key);
    if (klen > cap - len - 2)
        klen = cap - len - 2;
    char *p = path + len;
    if (len)
        *p++ = '.';
    memcpy(p, key, klen);
    p[klen] = '\0';
}

/* Overrides must have the type of the parameter they replace (numbers are
 * one type, but an integer parameter takes only integral numbers); keys the
 * parameters lack are left for the core, which names the closest one. */
static int check_params(json_t *def, json_t *over, char *path, size_t cap, char **error)
{
    const char *key;
    json_t *v;
    size_t len = strlen(path);
    json_object_foreach(over, key, v) {
        json_t *d = json_object_get(def, key);
        if (!d || json_is_null(d))
            continue;
        path_push(path, len, cap, key);
        bool ok = json_typeof(d) == json_typeof(v) ||
                  (json_is_boolean(d) && json_is_boolean(v)) ||
                  (json_is_real(d) && json_is_integer(v)) ||
                  (json_is_integer(d) && json_is_real(v) && is_whole(json_real_value(v)));
        if (!ok)
            return problem(error, "params: '%s' is %s, got %s", path,
                           json_is_real(d) ? "a number" : json_kind(d), json_kind(v));
        if (json_is_object(d)) {
            int rc = check_params(d, v, path, cap, error);
            if (rc)
                return rc;
        }
        path[len] = '\0';
    }
    return 0;
}

static int parse_nodes(const svc_served *sv, json_t *nodes, svc_request *req, char **error)
{
    if (!json_is_array(nodes) || json_array_size(nodes) == 0)
        return problem(error, "nodes: expected a non-empty array of node names, got %s",
                       json_is_array(nodes) ? "an empty array" : json_kind(nodes));
    size_t total = 1, i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        if (!json_is_string(n))
            return problem(error, "nodes[%zu]: expected a node name, got %s", i, json_kind(n));
        const char *name = json_string_value(n);
        if (!json_object_get(sv->node_set, name) || strchr(name, ','))
            return problem(error, "nodes: '%s' is not a node of the served pipeline", name);
        total += json_string_length(n) + 1;
    }
    if (!(req->nodes = calloc(1, total)))
        return problem(error, "out of memory");
    json_array_foreach(nodes, i, n) {
        if (i)
            strcat(req->nodes, ",");
        strcat(req->nodes, json_string_value(n));
    }
    return 0;
}

static int parse_body(const svc_served *sv, json_t *body, svc_request *req, char **error)
{
    if (!json_is_object(body))
        return problem(error, "the body must be a JSON object {\"params\", \"inputs\", "
                       "\"nodes\", \"persist\"}, got %s", json_kind(body));
    /* the fields by their index in body_fields, found while checking the
     * keys (the parser refused duplicates): no lookup per field after */
    json_t *field[sizeof(body_fields) / sizeof(body_fields[0])] = {0};
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        size_t k = 0;
        while (body_fields[k] && strcmp(body_fields[k], key) != 0)
            k++;
        if (!body_fields[k])
            return problem(error, "unknown field '%s' (expected params, inputs, nodes or "
                           "persist)", key);
        field[k] = v;
    }
    json_t *params = field[FIELD_PARAMS];
    if (params && !json_is_null(params)) {
        if (!json_is_object(params))
            return problem(error, "params: expected an object, got %s", json_kind(params));
        char path[1024] = "";
        int rc = check_params(sv->params, params, path, sizeof(path), error);
        if (rc)
            return rc;
        req->params = params;
    }
    json_t *persist = field[FIELD_PERSIST];
    if (persist && !json_is_boolean(persist))
        return problem(error, "persist: expected true or false, got %s", json_kind(persist));
    req->persist = json_is_true(persist);
    json_t *nodes = field[FIELD_NODES];
    int rc = nodes && !json_is_null(nodes) ? parse_nodes(sv, nodes, req, error) : 0;
    json_t *inputs = field[FIELD_INPUTS];
    if (!rc && inputs && !json_is_null(inputs))
        rc = parse_inputs(sv, inputs, req, error);
    return rc;
}

int svc_request_parse(const svc_served *sv, const char *body, size_t len, svc_request *req,
                      char **error)
{
    memset(req, 0, sizeof(*req));
    *error = NULL;
    size_t skip = 0;
    while (skip < len && strchr(" \t\r\n", body[skip]))
        skip++;
    if (skip == len) { /* an empty body: the pipeline as configured */
        req->body = json_object();
        return req->body ? 0 : problem(error, "out of memory");
    }
    json_error_t jerr;
    req->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req->body)
        return problem(error, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                       jerr.text);
    int rc = parse_body(sv, req->body, req, error);
    if (rc)
        svc_request_clear(req);
    return rc;
}

void svc_request_clear(svc_request *req)
{
    for (size_t i = 0; i < req->n_inputs; i++)
        crun_value_unref(req->input_values[i]);
    free(req->input_values);
    free(req->input_names);
    free(req->nodes);
    json_decref(req->body);
    memset(req, 0, sizeof(*req));
}

void svc_request_options(const svc_served *sv, const svc_request *req, crun_run_options *ro,
                         crun_filter *filter)
{
    *ro = (crun_run_options)CRUN_RUN_OPTIONS_INIT;
    *filter = (crun_filter)CRUN_FILTER_INIT;
    ro->runner = sv->executor;
    filter->pipeline = sv->pipeline;
    filter->nodes = req->nodes ? req->nodes : sv->nodes;
    ro->filter = filter;
    ro->params = req->params;
    ro->input_names = req->input_names;
    ro->input_values = req->input_values;
    ro->n_inputs = req->n_inputs;
    ro->memory_outputs = !req->persist;
    ro->collect_outputs = true;
}
