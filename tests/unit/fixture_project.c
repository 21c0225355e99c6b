/* fixture_project.c - a temporary project loaded and built as crun does it
 * (see fixture_project.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture_project.h"

int fixture_project_begin(fixture_project *fp, const char *tag)
{
    *fp = (fixture_project){.err = CRUN_ERROR_INIT};
    return fixture_tmpdir(fp->dir, tag);
}

static void unload(fixture_project *fp)
{
    /* the IR borrows file names of the project's conf nodes: free it first */
    ir_free(fp->ir);
    fp->ir = NULL;
    project_free(fp->p);
    fp->p = NULL;
    crun_error_clear(&fp->err);
}

int fixture_project_end(fixture_project *fp)
{
    unload(fp);
    return fixture_rmtree(fp->dir);
}

int fixture_project_load(fixture_project *fp, const char *env, const char *params,
                         char *const *vars)
{
    unload(fp);
    return project_load(fp->dir, env, params, vars, NULL, NULL, &fp->p, &fp->err);
}

int fixture_project_build(fixture_project *fp, char *const *vars)
{
    unload(fp);
    return ir_load(fp->dir, NULL, NULL, vars, NULL, &fp->p, &fp->ir, &fp->err);
}
