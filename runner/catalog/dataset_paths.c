/* dataset_paths.c - files given for catalog datasets for one run
 * (crun_run_options.input_paths / output_paths, `crun run --input/--output`).
 *
 * An engine that stages files itself (CWL, Kubeflow) runs one node with
 *     crun run --node split_data --input model_input_table=/stage/in.db
 *                                --output X_train=/out/X_train.json
 * and the dataset's own type reads and writes the given file instead of its
 * catalog filepath.  Here: checking the given names and paths before the
 * run opens anything, and the path of one dataset when its entry opens.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"

/* The options' arrays, or NULL for a caller whose struct predates them. */
static const char *const *given_paths(const crun_run_options *o, bool input)
{
    if (o->size < offsetof(crun_run_options, output_paths) + sizeof(o->output_paths))
        return NULL;
    return input ? o->input_paths : o->output_paths;
}

/* "NAME=PATH" -> PATH when the item names name, else NULL. */
static const char *path_of(const char *item, const char *name)
{
    size_t n = strlen(name);
    return strncmp(item, name, n) == 0 && item[n] == '=' ? item + n + 1 : NULL;
}

const char *catalog_given_path(const crun_run_options *o, const char *name)
{
    for (int input = 1; input >= 0; input--) {
        const char *const *items = given_paths(o, input);
        for (size_t i = 0; items && items[i]; i++) {
            const char *path = path_of(items[i], name);
            if (path)
                return path;
        }
    }
    return NULL;
}

size_t catalog_given_path_count(const crun_run_options *o)
{
    size_t n = 0;
    for (int input = 1; input >= 0; input--) {
        const char *const *items = given_paths(o, input);
        for (size_t i = 0; items && items[i]; i++)
            n++;
    }
    return n;
}

/* The dataset of "NAME=PATH", checked: it exists, has a filepath, the run
 * reads (input) or makes (output) it, and no other item names it. */
static int check_one(const catalog *c, const crun_run_options *o, const char *item, bool input,
                     crun_error *err)
{
    const ir_t *ir = c->shared->ir;
    const char *flag = input ? "--input" : "--output";
    const char *eq = strchr(item, '=');
    if (!eq || eq == item || !eq[1])
        return crun_error_set(err, CRUN_EUSAGE, "%s '%s': expected DATASET=PATH", flag, item);
    char name[512];
    snprintf(name, sizeof(name), "%.*s", (int)(eq - item), item);
    size_t ds;
    if (!strmap_get(&ir->ds_index, name, &ds))
        return crun_error_set(err, CRUN_EUSAGE, "%s %s: there is no dataset '%s' in this "
                              "pipeline", flag, item, name);
    const ir_dataset *d = &ir->ds[ds];
    const conf_node *fp = d->kind == IR_DS_CATALOG ? conf_get(d->options, "filepath") : NULL;
    if (!fp || fp->kind != CONF_SCALAR)
        return crun_error_set(err, CRUN_EUSAGE, "%s %s: dataset '%s' (type %s) has no filepath "
                              "to replace; only catalog datasets stored in a file can be given "
                              "a path", flag, item, name, d->type);
    if (strcmp(catalog_given_path(o, name), eq + 1) != 0)
        return crun_error_set(err, CRUN_EUSAGE, "%s %s: dataset '%s' is given a path twice",
                              flag, item, name);
    const plan *p = c->plan;
    if (input && (p->consumers[ds] == 0 || p->producer[ds] != PLAN_NONE))
        return crun_error_set(err, CRUN_EUSAGE, "--input %s: no node of this run reads '%s' "
                              "from outside the run", item, name);
    if (!input && p->producer[ds] == PLAN_NONE)
        return crun_error_set(err, CRUN_EUSAGE, "--output %s: no node of this run makes '%s'",
                              item, name);
    struct stat st;
    char full[4096];
    snprintf(full, sizeof(full), "%s%s%s", eq[1] == '/' ? "" : ir->dir, eq[1] == '/' ? "" : "/",
             eq + 1);
    if (input && stat(full, &st) != 0)
        return crun_error_set(err, CRUN_EUSAGE, "--input %s: dataset '%s' has no file at %s",
                              item, name, full);
    return 0;
}

int catalog_check_paths(const catalog *c, const crun_run_options *o, crun_error *err)
{
    for (int input = 1; input >= 0; input--) {
        const char *const *items = given_paths(o, input);
        for (size_t i = 0; items && items[i]; i++) {
            int rc = check_one(c, o, items[i], input, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}
