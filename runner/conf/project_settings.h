/* project_settings.h - what project.c and project_settings.c share.
 * Private to libcrun.
 */
#ifndef CRUN_PROJECT_SETTINGS_H
#define CRUN_PROJECT_SETTINGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/project.h"

/* crun.ini into p (name, default env, plugin path, hooks). */
int project_read_ini(project *p, const char *path, char *const *envp, crun_error *err);
/* conf/<env>/hooks.yml (merged) over the hooks crun.ini gave. */
int project_apply_hooks_yml(project *p, const conf_node *tree, crun_error *err);
void project_hook_clear(project_hook *h);

/* "a/b", malloc'd; NULL when out of memory. */
static inline char *path_join(const char *a, const char *b)
{
    char *s = NULL;
    return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

/* Replace *slot by a copy of value. */
static inline int set_str(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return CRUN_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

#endif
