/* ir_builder.h - the builder's insides, shared by ir.c (nodes, checks) and
 * ir_pipelines.c (pipelines, ir_build).  Private to libcrun.
 */
#ifndef CRUN_IR_BUILDER_H
#define CRUN_IR_BUILDER_H

#include "ir/ir.h"

typedef struct ir_builder ir_builder;

/* Building node by node (project_load's sink, in ir_load).  ir_builder_new makes the IR with the
 * project's catalog (its entries decide what each named dataset is);
 * ir_builder_node checks one node definition (interpolated) and adds it to
 * pipeline (whose nodes come one after another); def is not kept.
 * ir_builder_nodes does the same for a whole list of definitions.  Errors
 * are CRUN_ECONFIG with the definition's file:line:col. */
int ir_builder_new(const project *p, ir_builder **out, crun_error *err);
int ir_builder_node(ir_builder *b, const char *pipeline, const conf_node *def, crun_error *err);
int ir_builder_nodes(ir_builder *b, const char *pipeline, const conf_node *nodes,
                     crun_error *err);
void ir_builder_free(ir_builder *b);

/* The nodes one pipeline defined: consecutive in ir->nodes. */
typedef struct node_range {
    const char *pipeline;
    size_t first, n;
} node_range;

/* Where a function name or a parameter is first used: checked by ir_build,
 * once libraries and parameters are final. */
typedef struct first_use {
    const char *what;  /* the function name, or the parameter dataset's name */
    size_t node;
    bool named;        /* the node has a 'name' (else it is named after its function) */
    conf_node at;      /* only the position */
} first_use;

/* The ports of the node being read, reused from node to node.  Duplicate
 * argument names of long lists are found through a table of port indices,
 * so a fan-in node with 100,000 inputs reads in linear time. */
typedef struct port_list {
    ir_port *items;
    size_t n, cap;
    uint32_t *slots;   /* index + 1 of a port, by hash of its argument; 0 is empty */
    size_t n_slots;    /* a power of two, or 0 while the list is short */
} port_list;

struct ir_builder {
    ir_t *ir;
    size_t node_cap;
    node_range *ranges;
    size_t n_ranges, ranges_cap;
    first_use *funcs;
    size_t n_funcs, funcs_cap;
    first_use *params;
    size_t n_params, params_cap;
    port_list ports;
};

/* Grow an array of elem-sized items to hold at least need (-1: out of memory). */
int ir_reserve(void **arr, size_t *cap, size_t need, size_t elem);
/* The first use of each function and parameter, checked in node order. */
int ir_check_uses(const ir_builder *b, crun_error *err);

#endif
