/* fingerprint.c - what a node's fingerprint covers, as lines of text.
 *
 * A node is described by lines "key<TAB>value": its code (the node
 * library's file and content hash and the function's name; a command's argv
 * and the content of the project files it names), the parameters it reads
 * (their JSON), each input (a file's content hash - of the version loaded
 * when versioned -, a memory dataset's producer's fingerprint), and its
 * declaration (ports, the datasets' types, options and type versions).  The
 * fingerprint is the hash of those lines; its outputs' lines (their content
 * hashes) are hashed apart, so that an output changed or deleted outside
 * crun reruns its producer.  The lines are recorded with the fingerprint:
 * comparing them names what changed.  Lines shared by many nodes (a
 * dataset's declaration, a library's hash) are made once per run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run/incremental.h"

void fp_text_free(fp_text *t)
{
    free(t->s);
    *t = (fp_text){0};
}

static void add(fp_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(fp_text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->cap ? vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 512;
        while (n >= 0 && cap <= t->len + (size_t)n)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s)
            return; /* the line is lost: the fingerprint differs, the node reruns */
        t->s = s;
        t->cap = cap;
    }
}

/* The hot path (every node of every incremental run) appends without printf. */
static void put(fp_text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 512;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *g = realloc(t->s, cap);
        if (!g)
            return;
        t->s = g;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void puts_(fp_text *t, const char *s)
{
    put(t, s, strlen(s));
}

fp_hash fp_hash_text(const char *s, size_t len)
{
    return XXH3_128bits(s, len);
}

static void hex(const fp_hash *h, char out[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = digits[(h->high64 >> (60 - 4 * i)) & 15];
        out[16 + i] = digits[(h->low64 >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

/* --- what every node shares: datasets' declarations, libraries --- */

static void dataset_line(crun_run *run, size_t ds, char out[33])
{
    const ir_dataset *d = &run->ir->ds[ds];
    if (d->kind == IR_DS_MEMORY) {
        memcpy(out, "memory", 7);
        return;
    }
    const crun_plugin *plug = atomic_load(&run->shared->catalog.ds_plugin[ds]);
    json_t *opts = d->options ? conf_to_json(d->options) : NULL;
    char *text = opts ? json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    fp_text t = {0};
    add(&t, "%s\n%d\n%s\n%s", d->type ? d->type : "", d->versioned, text ? text : "",
        plug && plug->version ? plug->version : "");
    json_decref(opts);
    free(text);
    fp_hash fp = fp_hash_text(t.s ? t.s : "", t.len);
    fp_text_free(&t);
    hex(&fp, out);
}

/* The file a node library was loaded from (the loader's record). */
static const char *library_file(plugin_cache *c, const crun_plugin *desc, const char *fallback)
{
    const char *path = fallback;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].desc == desc)
            path = c->items[i].path;
    pthread_mutex_unlock(&c->lock);
    return path;
}

/* "<file name> <content hash>" of the library of function node n. */
static char *library_line(incr_state *s, const ir_node *n)
{
    crun_run *run = s->run;
    const char *dot = strchr(n->func, '.');
    const char *target = dot ? json_string_value(json_object_getn(
                                   run->ir->libraries, n->func, (size_t)(dot - n->func)))
                             : NULL;
    const crun_plugin *plug = NULL;
    crun_error err = CRUN_ERROR_INIT;
    plugin_cache *pc = run->shared->catalog.plugins;
    int rc = target ? plugin_load(pc, CRUN_PLUGIN_NODES, target, &plug, &err) : CRUN_ECONFIG;
    crun_error_clear(&err);
    if (rc)
        return strdup("unknown unknown");
    const char *path = library_file(pc, plug, target);
    const char *base = strrchr(path, '/');
    fp_hash h;
    char hx[33] = "unreadable", *line = NULL;
    if (fp_store_file_hash(s->store, path, &h) == 0)
        hex(&h, hx);
    if (asprintf(&line, "%s %s", base ? base + 1 : path, hx) < 0)
        return NULL;
    return line;
}

int fp_prepare(incr_state *s, crun_error *err)
{
    crun_run *run = s->run;
    const ir_t *ir = run->ir;
    const plan *p = run->plan;
    s->ds_line = calloc(ir->n_ds + 1, sizeof(*s->ds_line));
    s->lib_line = calloc(ir->n_nodes + 1, sizeof(char *));
    s->libs = calloc(ir->n_nodes + 1, sizeof(char *));
    if (!s->ds_line || !s->lib_line || !s->libs)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    const char *last_lib = NULL, *last_line = NULL;
    size_t last_len = 0;
    for (size_t i = 0; i < p->n; i++) {
        const ir_node *n = &ir->nodes[p->node[i]];
        const ir_port *ports[2] = {n->in, n->out};
        uint32_t counts[2] = {n->n_in, n->n_out};
        for (int side = 0; side < 2; side++)
            for (size_t k = 0; k < counts[side]; k++) {
                size_t ds = ports[side][k].ds;
                if (!s->ds_line[ds][0] && ir->ds[ds].kind != IR_DS_PARAMS)
                    dataset_line(run, ds, s->ds_line[ds]);
            }
        if (!n->func)
            continue;
        const char *dot = strchr(n->func, '.');
        size_t len = dot ? (size_t)(dot - n->func) : strlen(n->func);
        if (!last_lib || len != last_len || strncmp(last_lib, n->func, len) != 0) {
            size_t k = 0; /* few libraries: a scan */
            while (k < s->n_libs &&
                   (strncmp(s->libs[k], n->func, len) != 0 || s->libs[k][len] != '\t'))
                k++;
            if (k == s->n_libs) {
                char *line = library_line(s, n);
                if (!line)
                    return crun_error_set(err, CRUN_ENOMEM, "out of memory");
                if (asprintf(&s->libs[s->n_libs], "%.*s\t%s", (int)len, n->func, line) < 0) {
                    free(line);
                    return crun_error_set(err, CRUN_ENOMEM, "out of memory");
                }
                free(line);
                s->n_libs++;
            }
            last_lib = n->func;
            last_len = len;
            last_line = strchr(s->libs[k], '\t') + 1;
        }
        s->lib_line[p->node[i]] = last_line;
    }
    return 0;
}

void fp_release(incr_state *s)
{
    for (size_t i = 0; i < s->n_libs; i++)
        free(s->libs[i]);
    free(s->ds_line);
    free((void *)s->lib_line);
    free(s->libs);
}

/* --- one node's lines --- */

/* The content of the file dataset ds would load now, as hex; "missing"
 * when it has none, "unhashed" for a type that is not one file. */
static void dataset_content(incr_state *s, size_t ds, char out[33])
{
    const cat_entry *e = &s->run->catalog.entries[ds];
    const char *path = e->type && !e->slot && e->type->filepath ? e->type->filepath(e->instance)
                                                                : NULL;
    snprintf(out, 33, "%s", e->type && e->type->filepath ? "missing" : "unhashed");
    if (!path)
        return;
    char *abs = NULL;
    if (path[0] != '/' && asprintf(&abs, "%s/%s", s->run->ir->dir, path) < 0)
        return;
    fp_hash h;
    if (fp_store_file_hash(s->store, abs ? abs : path, &h) == 0)
        hex(&h, out);
    free(abs);
}

/* A memory input: its producer's fingerprint, this run's or the recorded one. */
static void producer_line(incr_state *s, size_t ds, char out[33])
{
    const plan *p = s->run->plan;
    size_t u = p->producer[ds];
    snprintf(out, 33, "unknown");
    if (u != PLAN_NONE && s->fp_set[u]) {
        hex(&s->fp[u], out);
        return;
    }
    const ir_t *ir = s->run->ir;
    for (size_t n = 0; n < ir->n_nodes; n++) /* outside the plan: the recorded one */
        for (size_t k = 0; k < ir->nodes[n].n_out; k++)
            if (ir->nodes[n].out[k].ds == ds && s->has_stored[n])
                hex(&s->stored[n], out);
}

/* Project files a command names (a script, a config): their content.
 * Words of every argument are tried, placeholders and options aside. */
static void command_files(incr_state *s, const ir_node *n, fp_text *t)
{
    const char *dir = s->run->ir->dir;
    size_t tried = 0;
    for (uint32_t a = 0; a < n->argc && tried < 64; a++) {
        const char *p = n->argv[a];
        while (*p && tried < 64) {
            size_t len = strcspn(p, " \t\n;|&<>()'\"`=");
            if (len && len < 512 && p[0] != '-' && p[0] != '$' && !memchr(p, '{', len) &&
                !(p[0] == '/' && strncmp(p, dir, strlen(dir)) != 0)) {
                char path[1100];
                if (p[0] == '/')
                    snprintf(path, sizeof(path), "%.*s", (int)len, p);
                else
                    snprintf(path, sizeof(path), "%s/%.*s", dir, (int)len, p);
                fp_hash h;
                char hx[33];
                tried++;
                if (fp_store_file_hash(s->store, path, &h) == 0) {
                    hex(&h, hx);
                    add(t, "file %.*s\t%s\n", (int)len, p, hx);
                }
            }
            p += len;
            p += *p != '\0';
        }
    }
}

static void code_lines(incr_state *s, const ir_node *n, fp_text *t)
{
    if (n->func) {
        puts_(t, "code\t");
        puts_(t, s->lib_line[n - s->run->ir->nodes]);
        puts_(t, "\nfunc\t");
        puts_(t, n->func);
        put(t, "\n", 1);
        return;
    }
    XXH3_state_t *h = XXH3_createState();
    if (!h)
        return;
    XXH3_128bits_reset(h);
    for (uint32_t a = 0; a < n->argc; a++)
        XXH3_128bits_update(h, n->argv[a], strlen(n->argv[a]) + 1);
    fp_hash fp = XXH3_128bits_digest(h);
    XXH3_freeState(h);
    char hx[33];
    hex(&fp, hx);
    add(t, "cmd\t%s\n", hx);
    command_files(s, n, t);
}

static void input_lines(incr_state *s, const ir_node *n, fp_text *t)
{
    const ir_t *ir = s->run->ir;
    for (uint32_t k = 0; k < n->n_in; k++) {
        size_t ds = n->in[k].ds;
        const ir_dataset *d = &ir->ds[ds];
        char hx[33];
        if (d->kind == IR_DS_PARAMS) {
            const crun_value *v = s->run->catalog.entries[ds].param;
            char *text = v ? json_dumps(crun_value_json(v), JSON_COMPACT | JSON_SORT_KEYS |
                                                                JSON_ENCODE_ANY)
                           : NULL;
            add(t, "param %s\t%s\n", d->name, text ? text : "?");
            free(text);
            continue;
        }
        if (s->run->catalog.entries[ds].in_memory || d->kind == IR_DS_MEMORY)
            producer_line(s, ds, hx);
        else
            dataset_content(s, ds, hx);
        put(t, "in ", 3);
        puts_(t, d->name);
        put(t, "\t", 1);
        puts_(t, hx);
        put(t, "\n", 1);
    }
}

/* Its ports and their datasets' declarations, as they are: one line. */
static void declaration_line(incr_state *s, const ir_node *n, fp_text *t)
{
    const ir_t *ir = s->run->ir;
    puts_(t, "decl\t");
    puts_(t, n->name);
    const ir_port *ports[2] = {n->in, n->out};
    uint32_t counts[2] = {n->n_in, n->n_out};
    for (int side = 0; side < 2; side++)
        for (uint32_t k = 0; k < counts[side]; k++) {
            const ir_port *port = &ports[side][k];
            put(t, side ? " >" : " <", 2);
            puts_(t, port->arg);
            put(t, "=", 1);
            puts_(t, ir->ds[port->ds].name);
            put(t, ":", 1);
            puts_(t, s->ds_line[port->ds]);
        }
    put(t, "\n", 1);
}

int fp_node_lines(incr_state *s, size_t pn, fp_text *in, fp_text *out)
{
    const ir_node *n = &s->run->ir->nodes[s->run->plan->node[pn]];
    in->len = 0;
    code_lines(s, n, in);
    input_lines(s, n, in);
    declaration_line(s, n, in);
    if (!out)
        return 0;
    out->len = 0;
    for (uint32_t k = 0; k < n->n_out; k++) {
        size_t ds = n->out[k].ds;
        const cat_entry *e = &s->run->catalog.entries[ds];
        if (e->in_memory || s->run->ir->ds[ds].kind != IR_DS_CATALOG)
            continue;
        char hx[33];
        dataset_content(s, ds, hx);
        add(out, "out %s\t%s\n", s->run->ir->ds[ds].name, hx);
    }
    return 0;
}

/* --- what changed --- */

/* The value of key in lines (a pointer into them, to the end of its line), or NULL. */
static const char *line_value(const char *lines, const char *key, size_t klen, size_t *vlen)
{
    for (const char *p = lines; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > klen && p[klen] == '\t' && strncmp(p, key, klen) == 0) {
            *vlen = len - klen - 1;
            return p + klen + 1;
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static char *show(json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))
             : strdup("nothing");
}

/* The first leaf that differs between a and b, as "path changed (a -> b)". */
static char *json_diff(const char *path, json_t *a, json_t *b)
{
    if (json_is_object(a) && json_is_object(b)) {
        const char **keys = malloc((json_object_size(a) + json_object_size(b) + 1) *
                                   sizeof(char *));
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) keys[n++] = k;
        json_object_foreach(b, k, v) if (!json_object_get(a, k)) keys[n++] = k;
        char *found = NULL;
        for (size_t i = 0; keys && i < n && !found; i++) {
            json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
            if (x && y && json_equal(x, y))
                continue;
            char *sub = NULL;
            if (asprintf(&sub, "%s.%s", path, keys[i]) >= 0)
                found = json_diff(sub, x, y);
            free(sub);
        }
        free(keys);
        if (found)
            return found;
    }
    char *x = show(a), *y = show(b), *out = NULL;
    if (asprintf(&out, "%s changed (%s -> %s)", path, x ? x : "?", y ? y : "?") < 0)
        out = NULL;
    free(x);
    free(y);
    return out;
}

static char *reason_for(const char *key, size_t klen, const char *old, size_t olen,
                        const char *cur, size_t clen)
{
    char *out = NULL;
    if (klen > 6 && strncmp(key, "param ", 6) == 0) {
        char *a = old ? strndup(old, olen) : NULL, *b = strndup(cur, clen);
        json_t *x = a ? json_loads(a, JSON_DECODE_ANY, NULL) : NULL;
        json_t *y = b ? json_loads(b, JSON_DECODE_ANY, NULL) : NULL;
        char *path = strndup(key + 6, klen - 6);
        out = path && y ? json_diff(path, x, y) : NULL;
        free(path);
        json_decref(x);
        json_decref(y);
        free(a);
        free(b);
        return out;
    }
    int n = strncmp(key, "code", klen) == 0 && klen == 4
                ? asprintf(&out, "code changed: %.*s", (int)strcspn(cur, " "), cur)
            : strncmp(key, "func", klen) == 0 && klen == 4
                ? asprintf(&out, "code changed: function %.*s", (int)clen, cur)
            : strncmp(key, "cmd", klen) == 0 && klen == 3 ? asprintf(&out, "command changed")
            : strncmp(key, "file ", 5) == 0 ? asprintf(&out, "file %.*s changed", (int)klen - 5, key + 5)
            : strncmp(key, "in ", 3) == 0 ? asprintf(&out, "input %.*s changed", (int)klen - 3, key + 3)
            : strncmp(key, "out ", 4) == 0
                ? asprintf(&out, "output %.*s %s", (int)klen - 4, key + 4,
                           clen == 7 && strncmp(cur, "missing", 7) == 0 ? "missing"
                                                                        : "changed")
                : asprintf(&out, "declaration changed");
    return n < 0 ? NULL : out;
}

char *fp_explain(const char *old, const char *cur, bool outputs)
{
    for (const char *p = cur; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *tab = memchr(p, '\t', len);
        bool is_out = len > 4 && strncmp(p, "out ", 4) == 0;
        if (tab && is_out == outputs) {
            size_t klen = (size_t)(tab - p), olen = 0, clen = len - klen - 1;
            const char *ov = line_value(old, p, klen, &olen);
            if (!ov || olen != clen || strncmp(ov, tab + 1, clen) != 0)
                return reason_for(p, klen, ov, olen, tab + 1, clen);
        }
        p = nl ? nl + 1 : NULL;
    }
    return strdup(outputs ? "outputs changed" : "declaration changed");
}
