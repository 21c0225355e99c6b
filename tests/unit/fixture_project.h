/* fixture_project.h - a temporary project read the way crun reads it, for
 * the tests of the stages (project_load, ir_build and what follows); part
 * of the unit tests' fixture library, with fixture.h.
 *
 * A test embeds a fixture_project in its own fixture, writes files into
 * dir with fixture_put, then loads (project_load) or builds (ir_load).  Each load or build
 * frees what the previous one made.  One thread at a time.  Include it
 * after <cmocka.h>.
 */
#ifndef CRUN_TEST_FIXTURE_PROJECT_H
#define CRUN_TEST_FIXTURE_PROJECT_H

#include "fixture.h"
#include "conf/project.h"
#include "ir/ir.h"

typedef struct fixture_project {
    char dir[FIXTURE_DIR_SIZE]; /* the project folder */
    project *p;                 /* NULL until loaded */
    ir_t *ir;                   /* NULL until built; borrows from p */
    crun_error err;             /* the last load's or build's message */
} fixture_project;

/* A fresh folder (tag names it); 0 or -1. */
int fixture_project_begin(fixture_project *fp, const char *tag);
/* Free the IR, the project and the message, and remove the folder; 0 or -1. */
int fixture_project_end(fixture_project *fp);
/* project_load(dir, env, params) with vars as the process environment
 * (NULL-terminated "NAME=value"); returns its code. */
int fixture_project_load(fixture_project *fp, const char *env, const char *params,
                         char *const *vars);
/* ir_load with the default env: the project and its IR; returns its code. */
int fixture_project_build(fixture_project *fp, char *const *vars);

#endif
