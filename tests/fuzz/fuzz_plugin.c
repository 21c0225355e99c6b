/* fuzz_plugin.c - the host's checks of a plugin descriptor under libFuzzer
 * (fuzz_conf's "plugin").
 *
 * What a plugin's crun_plugin_entry returns is built from the bytes: the
 * head (magic, ABI major and minor, size, kind), the name, version and
 * description (present or NULL, any bytes), the kind's table (its declared
 * size and as many bytes), a node library's functions (names, present or
 * missing functions) and an options table (names, types, defaults, ranges,
 * choices, flags).  The memory is what it says it is, as a real plugin's
 * is (a table as long as its size, n entries where n are promised): what
 * is fuzzed is what the values say.  Then the host does what it does after
 * dlopen: plugin_check_descriptor, and with a descriptor it accepted,
 * plugin_describe (`crun plugin info`, `crun list plugins`), the node
 * library's lookup, and crun_options_read of an empty configuration (every
 * default parsed and range-checked).  Crashes, sanitizer reports and leaks
 * are findings; a refusal is the expected answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "plugin/options.h"
#include "plugin/plugin.h"

enum { MAX_ITEMS = 8, CONFIG_SIZE = 1024 };

/* The bytes, taken from the front; zeros once they run out. */
typedef struct input {
    const uint8_t *p;
    size_t left;
} input;

static uint8_t byte(input *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static uint32_t word(input *in)
{
    uint32_t w = 0;
    for (int i = 0; i < 4; i++)
        w = w << 8 | byte(in);
    return w;
}

/* A string of up to 15 bytes (any but NUL) from the input, kept in pool;
 * NULL when the length byte says so. */
static const char *text(input *in, char (*pool)[16], size_t *used)
{
    uint8_t len = byte(in);
    if (len == 0xff || *used >= 4 * MAX_ITEMS + 8)
        return NULL;
    char *s = pool[(*used)++];
    size_t n = len % 16;
    for (size_t i = 0; i < n; i++) {
        s[i] = (char)byte(in);
        if (!s[i])
            s[i] = 'x';
    }
    s[n] = '\0';
    return s;
}

static int a_node(crun_call *call)
{
    (void)call;
    return 0;
}

typedef struct built {
    crun_plugin d;
    unsigned char *table;
    crun_node_def nodes[MAX_ITEMS];
    crun_option options[MAX_ITEMS];
    const char *choices[MAX_ITEMS][3];
    char pool[4 * MAX_ITEMS + 8][16];
    size_t used;
} built;

/* Option types and flags as the bytes say (out-of-range ones included). */
static void build_options(built *b, input *in)
{
    size_t n = byte(in) % (MAX_ITEMS + 1);
    for (size_t i = 0; i < n; i++) {
        crun_option *o = &b->options[i];
        o->name = text(in, b->pool, &b->used);
        o->type = (crun_option_type)(byte(in) % 12);
        o->def = text(in, b->pool, &b->used);
        o->min = (double)(int8_t)byte(in);
        o->max = (double)(int8_t)byte(in);
        uint8_t c = byte(in);
        if (c & 1) {
            b->choices[i][0] = text(in, b->pool, &b->used);
            b->choices[i][1] = b->choices[i][0] ? text(in, b->pool, &b->used) : NULL;
            b->choices[i][2] = NULL;
            o->choices = b->choices[i];
        }
        o->flags = byte(in) & 7;
        o->offset = (size_t)(i * 64); /* room for any member */
    }
    b->d.options = (byte(in) & 1) ? NULL : b->options;
    b->d.n_options = n;
}

/* The kind's table: size bytes, its size member saying so; a node
 * library's names its functions when it is long enough to. */
static void build_table(built *b, input *in)
{
    size_t size = 4 + byte(in) % 200;
    b->table = calloc(1, size);
    if (!b->table)
        return;
    uint32_t declared = (uint32_t)size;
    memcpy(b->table, &declared, sizeof(declared));
    b->d.table = (byte(in) & 1) ? NULL : b->table;
    if (b->d.kind != CRUN_PLUGIN_NODES || size < sizeof(crun_nodes_type))
        return;
    crun_nodes_type t = {.size = declared, .nodes = b->nodes, .n_nodes = byte(in) % (MAX_ITEMS + 1)};
    for (size_t i = 0; i < t.n_nodes; i++) {
        b->nodes[i].name = text(in, b->pool, &b->used);
        b->nodes[i].fn = (byte(in) & 1) ? a_node : NULL;
        b->nodes[i].doc = text(in, b->pool, &b->used);
    }
    if (byte(in) & 1)
        t.nodes = NULL;
    memcpy(b->table, &t, sizeof(t));
}

static void use_accepted(const crun_plugin *desc)
{
    json_decref(plugin_describe(desc, "fuzz.so"));
    if (desc->kind == CRUN_PLUGIN_NODES) {
        const crun_nodes_type *t = desc->table;
        for (size_t i = 0; i < t->n_nodes; i++)
            if (!t->nodes[i].name || !t->nodes[i].fn)
                abort(); /* the check lets no lookup meet a NULL */
    }
    size_t n;
    const crun_option *table = plugin_options(desc, &n);
    if (!table)
        return;
    crun_options *none = options_from_conf(NULL, "fuzz");
    unsigned char *config = calloc(1, MAX_ITEMS * 64 + CONFIG_SIZE);
    crun_error err = CRUN_ERROR_INIT;
    if (none && config)
        crun_options_read(none, table, n, config, &err);
    crun_error_clear(&err);
    free(config);
    crun_options_free(none);
}

void fuzz_plugin(const uint8_t *data, size_t size)
{
    input in = {data, size};
    built *b = calloc(1, sizeof(*b));
    if (!b)
        return;
    uint8_t head = byte(&in);
    b->d.magic = (head & 1) ? word(&in) : CRUN_PLUGIN_MAGIC;
    b->d.abi_major = (head & 2) ? (uint16_t)(byte(&in) % 4) : CRUN_ABI_MAJOR;
    b->d.abi_minor = (head & 4) ? (uint16_t)(byte(&in) % 4) : CRUN_ABI_MINOR;
    b->d.size = (head & 8) ? (uint32_t)(byte(&in) % (sizeof(crun_plugin) + 1))
                           : (uint32_t)sizeof(crun_plugin);
    b->d.kind = (crun_plugin_kind)(byte(&in) % 6);
    b->d.name = text(&in, b->pool, &b->used);
    b->d.version = text(&in, b->pool, &b->used);
    b->d.description = text(&in, b->pool, &b->used);
    build_table(b, &in);
    build_options(b, &in);
    const crun_plugin *desc = NULL;
    crun_error err = CRUN_ERROR_INIT;
    crun_plugin_kind want = (crun_plugin_kind)(byte(&in) % 5);
    if (b->table && plugin_check_descriptor("fuzz.so", &b->d, want, &desc, &err) == 0) {
        use_accepted(desc);
        plugin_close_file(NULL, desc);
    }
    crun_error_clear(&err);
    free(b->table);
    free(b);
}
