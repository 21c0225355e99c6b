/* answer.c - a run's result as the JSON answer of POST /v1/runs.
 *
 * Outputs become JSON the way DESIGN.md fixes: JSON values inline, text (a
 * text/... media type, or a text dataset) as a string, other bytes as
 * {"base64", "media_type"}, tables as {"columns", "rows"}.  A run that
 * succeeded is written straight into a text buffer (no JSON tree, timings
 * printed without printf's floating point): this is on every request's path.
 * Failures map to HTTP statuses: a failed node 422, a refused request 400,
 * a cancelled run 503, anything else 500.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

/* text as a JSON string with every byte past ASCII written \xHH. */
static json_t *ascii_string(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(4 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x80) {
            *o++ = (char)*p;
        } else {
            snprintf(o, 5, "\\x%02X", *p);
            o += 4;
        }
    }
    *o = '\0';
    json_t *s = json_string(out);
    free(out);
    return s;
}

char *svc_error_body(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    json_t *o = json_object(), *s = json_string(msg);
    if (!s) /* not UTF-8 (a percent-decoded URL...): bytes past ASCII as \xHH */
        s = ascii_string(msg);
    free(msg);
    json_object_set_new(o, "error", s ? s : json_string("error"));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* --- base64 (RFC 4648, with padding) --- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* --- values out --- */

static bool is_text_media(const char *mt)
{
    return mt && strncmp(mt, "text/", 5) == 0;
}

/* No control characters but tab, newline and carriage return (UTF-8 is
 * checked when the string is made). */
static bool looks_like_text(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return false;
    }
    return true;
}

json_t *svc_value_to_json(const crun_value *value, const char *declared)
{
    switch (crun_value_kind_of(value)) {
    case CRUN_VALUE_JSON:
        return json_incref(crun_value_json(value));
    case CRUN_VALUE_TABLE: {
        json_t *out = NULL;
        crun_error err = CRUN_ERROR_INIT;
        crun_value_to_json(value, &out, &err);
        crun_error_clear(&err);
        return out;
    }
    case CRUN_VALUE_BYTES: {
        size_t len = 0;
        const char *data = crun_value_bytes(value, &len);
        const char *mt = crun_value_media_type(value);
        bool json_like = (mt && strncmp(mt, "application/json", 16) == 0) ||
                         (declared && strcmp(declared, "json") == 0);
        if (json_like) {
            json_t *parsed = json_loadb(data, len, JSON_DECODE_ANY, NULL);
            if (parsed)
                return parsed;
        }
        /* text, and bytes of no particular type (a command node's output)
         * that are UTF-8 text without NUL, come back as a string */
        bool untyped = !mt || strcmp(mt, "application/octet-stream") == 0;
        if (is_text_media(mt) || (declared && strcmp(declared, "text") == 0) ||
            (untyped && looks_like_text(data, len))) {
            json_t *s = json_stringn(data, len); /* NULL unless valid UTF-8 */
            if (s)
                return s;
        }
        char *b64 = base64_encode((const unsigned char *)data, len);
        json_t *o = b64 ? json_pack("{s:s}", "base64", b64) : NULL;
        free(b64);
        if (o && mt)
            json_object_set_new(o, "media_type", json_string(mt));
        return o;
    }
    default:
        return json_pack("{s:s}", "kind", "opaque");
    }
}

static json_t *outputs_json(const svc_served *sv, const crun_run_result *res)
{
    json_t *outputs = json_object();
    for (size_t i = 0; outputs && i < res->n_outputs; i++) {
        const char *declared =
            json_string_value(json_object_get(sv->dataset_types, res->output_names[i]));
        json_t *v = svc_value_to_json(res->output_values[i], declared);
        if (!v || json_object_set_new(outputs, res->output_names[i], v) != 0) {
            json_decref(outputs);
            return NULL;
        }
    }
    return outputs;
}

/* --- answers as text --- */

/* A growing buffer; `failed` once out of memory.  Writers reserve room for
 * what they are about to write, then store bytes directly: this is on every
 * request's path, and a call per byte or per piece shows in the profile. */
typedef struct text {
    char *s;
    size_t len, cap;
    bool failed;
} text;

/* Room for n more bytes and the closing NUL; false once out of memory. */
static bool reserve(text *t, size_t n)
{
    if (t->failed)
        return false;
    if (t->len + n + 1 <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1)
        cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
        t->failed = true;
        return false;
    }
    t->s = s;
    t->cap = cap;
    return true;
}

static inline void put(text *t, const char *data, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->s + t->len, data, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void puts_(text *t, const char *s)
{
    put(t, s, strlen(s));
}

static int put_json_cb(const char *buffer, size_t size, void *data)
{
    put(data, buffer, size);
    return 0;
}

static void put_json(text *t, json_t *v)
{
    if (json_dump_callback(v, put_json_cb, t, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        t->failed = true;
}

/* A JSON integer as jansson writes it (printf's %lld), without printf. */
static void put_integer(text *t, json_int_t v)
{
    char digits[24];
    int d = sizeof(digits);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[--d] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[--d] = '-';
    put(t, digits + d, sizeof(digits) - (size_t)d);
}

/* A value of a JSON output: integers, booleans and null written here (the
 * usual small answers), anything else by jansson. */
static void put_value(text *t, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: put_integer(t, json_integer_value(v)); break;
    case JSON_TRUE: put(t, "true", 4); break;
    case JSON_FALSE: put(t, "false", 5); break;
    case JSON_NULL: put(t, "null", 4); break;
    default: put_json(t, v); break;
    }
}

/* A JSON string (quotes and escapes) for a valid UTF-8 key. */
static void put_key(text *t, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(key);
    if (!reserve(t, 6 * n + 2)) /* each byte escaped as \u00XX at most */
        return;
    char *o = t->s + t->len;
    *o++ = '"';
    for (const char *c = key; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u == '"' || u == '\\') {
            *o++ = '\\';
            *o++ = (char)u;
        } else if (u < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[u >> 4];
            o[5] = hex[u & 15];
            o += 6;
        } else {
            *o++ = (char)u;
        }
    }
    *o++ = '"';
    *o = '\0';
    t->len = (size_t)(o - t->s);
}

/* Seconds to the nanosecond, without printf's floating point (printing
 * reals is a good part of the cost of a small answer): the whole seconds,
 * a point, then the nine digits of the nanoseconds without trailing zeros
 * (at least one digit).  Writes at most 30 bytes at o; returns the end. */
static char *write_seconds(char *o, double seconds)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                "31323334353637383940414243444546474849505152535455565758596061"
                                "62636465666768697071727374757677787980818283848586878889909192"
                                "93949596979899";
    unsigned long long ns = seconds > 0 ? (unsigned long long)(seconds * 1e9 + 0.5) : 0;
    unsigned long long whole = ns / 1000000000ULL;
    uint32_t frac = (uint32_t)(ns % 1000000000ULL);
    char digits[20];
    int w = sizeof(digits);
    do {
        digits[--w] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    memcpy(o, digits + w, sizeof(digits) - (size_t)w);
    o += sizeof(digits) - (size_t)w;
    *o++ = '.';
    o[0] = (char)('0' + frac / 100000000u);
    frac %= 100000000u;
    for (int i = 7; i >= 1; i -= 2, frac /= 100)
        memcpy(o + i, pairs + 2 * (frac % 100), 2);
    int len = 9;
    while (len > 1 && o[len - 1] == '0')
        len--;
    return o + len;
}

static void put_timing(text *t, size_t i, const char *node, double seconds)
{
    if (i)
        put(t, ",", 1);
    put_key(t, node);
    if (!reserve(t, 31))
        return;
    char *o = t->s + t->len;
    *o++ = ':';
    o = write_seconds(o, seconds);
    *o = '\0';
    t->len = (size_t)(o - t->s);
}

/* "timings":{...}} from a result, or from an answer's JSON object */
static void put_timings(text *t, const crun_run_result *res, json_t *timings)
{
    puts_(t, "\"timings\":{");
    for (size_t i = 0; res && i < res->n_timed; i++)
        put_timing(t, i, res->timed_nodes[i], res->timed_seconds[i]);
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(timings, key, v) {
        put_timing(t, i++, key, json_number_value(v));
    }
    puts_(t, "}}");
}

char *svc_answer_text(json_t *answer)
{
    json_t *timings = json_incref(json_object_get(answer, "timings"));
    if (!timings)
        return json_dumps(answer, JSON_COMPACT);
    json_object_del(answer, "timings");
    text t = {0};
    put_json(&t, answer);
    json_object_set_new(answer, "timings", timings);
    if (!t.failed && t.len >= 2) {
        t.len--; /* the closing brace: the timings come last */
        put(&t, ",", t.len > 1 ? 1 : 0);
        put_timings(&t, NULL, timings);
    }
    if (t.failed || !t.s) {
        free(t.s);
        return NULL;
    }
    return t.s;
}

char *svc_success_text(const svc_served *sv, const crun_run_result *res)
{
    text t = {0};
    puts_(&t, "{\"run_id\":");
    put_key(&t, res->run_id ? res->run_id : "");
    puts_(&t, ",\"status\":\"succeeded\",\"outputs\":{");
    for (size_t i = 0; i < res->n_outputs; i++) {
        if (i)
            put(&t, ",", 1);
        put_key(&t, res->output_names[i]);
        put(&t, ":", 1);
        const crun_value *v = res->output_values[i];
        if (crun_value_kind_of(v) == CRUN_VALUE_JSON) {
            put_value(&t, crun_value_json(v));
        } else {
            const char *declared =
                json_string_value(json_object_get(sv->dataset_types, res->output_names[i]));
            json_t *j = svc_value_to_json(v, declared);
            if (!j)
                t.failed = true;
            else
                put_json(&t, j);
            json_decref(j);
        }
    }
    puts_(&t, "},");
    put_timings(&t, res, NULL);
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    return t.s;
}

int svc_result_json(const svc_served *sv, int rc, const crun_error *err,
                    const crun_run_result *res, json_t **out)
{
    const char *msg = err && err->message ? err->message : crun_strerror(rc);
    json_t *o = json_object();
    *out = o;
    if (!o)
        return 500;
    if (res->run_id)
        json_object_set_new(o, "run_id", json_string(res->run_id));
    if (rc == 0) {
        json_t *outputs = outputs_json(sv, res);
        if (!outputs) {
            json_object_set_new(o, "error", json_string("cannot convert the outputs to JSON"));
            return 500;
        }
        json_object_set_new(o, "status", json_string("succeeded"));
        json_object_set_new(o, "outputs", outputs);
        json_t *timings = json_object();
        for (size_t i = 0; i < res->n_timed; i++)
            json_object_set_new(timings, res->timed_nodes[i], json_real(res->timed_seconds[i]));
        json_object_set_new(o, "timings", timings);
        return 200;
    }
    json_object_set_new(o, "error", json_string(msg));
    if (res->failed_nodes && res->failed_nodes[0] && rc != CRUN_ECANCELED) {
        json_t *names = json_array();
        for (size_t i = 0; res->failed_nodes[i]; i++)
            json_array_append_new(names, json_string(res->failed_nodes[i]));
        json_object_set_new(o, "status", json_string("failed"));
        json_object_set_new(o, "node", json_string(res->failed_nodes[0]));
        json_object_set_new(o, "failed_nodes", names);
        return 422;
    }
    switch (rc) {
    case CRUN_EUSAGE:
    case CRUN_EINVAL:
        json_object_set_new(o, "status", json_string("rejected"));
        return 400;
    case CRUN_ECANCELED:
        json_object_set_new(o, "status", json_string("cancelled"));
        return 503;
    case CRUN_ENODE:
    case CRUN_EDATA:
    case CRUN_EIO:
    case CRUN_ENOENT:
        json_object_set_new(o, "status", json_string("failed"));
        return 422;
    default:
        json_object_set_new(o, "status", json_string("error"));
        return 500;
    }
}
