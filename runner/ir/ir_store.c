/* ir_store.c - the IR as storage: its arena, interned text, arrays that grow.
 *
 * Everything the IR holds lives in its arena and is freed with it; names
 * are interned once (a 100,000-node pipeline costs no allocation per
 * string).  The builders (ir.c, ir_catalog.c, ir_pipelines.c) and
 * the JSON reader fill it through these calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_builder.h"

ir_t *ir_new(void)
{
    ir_t *ir = calloc(1, sizeof(*ir));
    if (!ir)
        return NULL;
    strmap_init(&ir->node_index);
    strmap_init(&ir->ds_index);
    strmap_init(&ir->string_index);
    if (!(ir->arena = conf_arena_new())) {
        free(ir);
        return NULL;
    }
    return ir;
}

void ir_free(ir_t *ir)
{
    if (!ir)
        return;
    free(ir->nodes); /* their text and arrays are in the arena */
    for (size_t i = 0; i < ir->n_ds; i++)
        conf_free(ir->ds[i].options);
    free(ir->ds);
    for (size_t i = 0; i < ir->n_factories; i++) {
        conf_free(ir->factories[i].key);
        conf_free(ir->factories[i].entry);
    }
    free(ir->factories);
    for (size_t i = 0; i < ir->n_pipelines; i++) {
        free(ir->pipelines[i].name);
        free(ir->pipelines[i].nodes);
    }
    free(ir->pipelines);
    strmap_free(&ir->node_index);
    strmap_free(&ir->ds_index);
    free(ir->strings);
    strmap_free(&ir->string_index);
    json_decref(ir->libraries);
    json_decref(ir->params);
    conf_free(ir->runner);
    free(ir->project);
    free(ir->env);
    free(ir->dir);
    if (ir->pool)
        conf_pool_free(ir->pool);
    conf_arena_free(ir->arena);
    free(ir);
}

char *ir_strdup(ir_t *ir, const char *s)
{
    return conf_arena_strdup(ir->arena, s);
}

const char *ir_intern(ir_t *ir, const char *s)
{
    size_t i;
    uint32_t h = strmap_hash(s);
    if (strmap_get_hashed(&ir->string_index, s, h, &i))
        return ir->strings[i];
    char **grown = realloc(ir->strings, (ir->n_strings + 1) * sizeof(char *));
    if (!grown)
        return NULL;
    ir->strings = grown;
    if (!(grown[ir->n_strings] = ir_strdup(ir, s)))
        return NULL;
    if (strmap_put_hashed(&ir->string_index, grown[ir->n_strings], h, ir->n_strings, NULL) < 0)
        return NULL;
    return grown[ir->n_strings++];
}

int ir_port_set(ir_t *ir, ir_port *port, const char *arg, size_t ds)
{
    port->ds = (uint32_t)ds;
    /* a name or list port's argument is its dataset's name: share it */
    port->own_arg = strcmp(arg, ir->ds[ds].name) != 0;
    port->arg = port->own_arg ? ir_strdup(ir, arg) : ir->ds[ds].name;
    return port->arg ? 0 : CRUN_ENOMEM;
}

long ir_pipeline_find(const ir_t *ir, const char *name)
{
    for (size_t i = 0; i < ir->n_pipelines; i++)
        if (strcmp(ir->pipelines[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Grow an array of elem-sized items to hold at least need. */
int ir_reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}
