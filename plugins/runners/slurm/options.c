/* options.c - the slurm runner's runner.yml options, checked up front.
 *
 *     slurm:
 *       type: slurm
 *       partition: gpu          # account, time, cpus_per_task, mem likewise
 *       sbatch_args: [--qos=high]
 *       resources: {train: {mem: 8G, time: "2:00:00"}}   # by node tag
 *       poll_interval: 1        # seconds between squeue calls
 *
 * Every complaint names the runner.yml line (through crun_options_where); a
 * per-tag map is checked as options of its own, so it gets the same checks
 * and messages as the top level.  Options crun sets itself on each job (its
 * name, log, dependencies, command) are refused in sbatch_args.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slurm.h"

/* The options as written; slurm_config_parse checks and copies them into a
 * slurm_config.  A per-tag map of `resources` fills one of these too. */
typedef struct slurm_settings {
    const char *partition;
    const char *account;
    json_t *time;          /* a string, or minutes as a whole number */
    json_t *mem;           /* a string, or megabytes as a whole number */
    int64_t cpus_per_task; /* 0: not set */
    json_t *sbatch_args;   /* a list of strings, or one string split at spaces */
    json_t *resources;
    double poll_interval;
    const char *crun_path;
} slurm_settings;

#define SLURM_OPTION(field) .offset = offsetof(slurm_settings, field)
/* What a job can ask for, at the top level and per node tag. */
#define SLURM_RESOURCE_OPTIONS                                                                \
    {.name = "partition", .type = CRUN_OPTION_STRING, .doc = "sbatch --partition",            \
     SLURM_OPTION(partition)},                                                                \
    {.name = "account", .type = CRUN_OPTION_STRING, .doc = "sbatch --account",                \
     SLURM_OPTION(account)},                                                                  \
    {.name = "time", .type = CRUN_OPTION_JSON,                                                \
     .doc = "time limit: minutes, MM:SS, HH:MM:SS, D-HH:MM:SS or unlimited", SLURM_OPTION(time)}, \
    {.name = "cpus_per_task", .type = CRUN_OPTION_INT, .min = 1, .max = 1000000,              \
     .doc = "sbatch --cpus-per-task", SLURM_OPTION(cpus_per_task)},                           \
    {.name = "mem", .type = CRUN_OPTION_JSON,                                                 \
     .doc = "memory: megabytes, or a number with a unit K, M, G or T (8G)", SLURM_OPTION(mem)}, \
    {.name = "sbatch_args", .type = CRUN_OPTION_JSON,                                         \
     .doc = "more sbatch arguments: a list, or one string split at spaces",                   \
     SLURM_OPTION(sbatch_args)}

static const crun_option resource_table[] = {SLURM_RESOURCE_OPTIONS};

const crun_option slurm_option_table[SLURM_OPTION_COUNT] = {
    SLURM_RESOURCE_OPTIONS,
    {.name = "resources", .type = CRUN_OPTION_JSON,
     .doc = "per node tag, a map of the options above: {train: {mem: 8G}}",
     SLURM_OPTION(resources)},
    {.name = "poll_interval", .type = CRUN_OPTION_DURATION, .def = "1", .min = 0.1, .max = 3600,
     .doc = "time between squeue calls", SLURM_OPTION(poll_interval)},
    {.name = "crun_path", .type = CRUN_OPTION_STRING,
     .doc = "absolute path of crun on the cluster; default: this program",
     SLURM_OPTION(crun_path)},
};
_Static_assert(CRUN_OPTION_COUNT(resource_table) + 3 == SLURM_OPTION_COUNT,
               "SLURM_OPTION_COUNT counts every option of the table");

/* sbatch options that would break how crun follows its jobs. */
static const char *const taken_long[] = {"job-name", "output", "error", "dependency", "wrap",
                                         "parsable", "chdir", "kill-on-invalid-dep", "array",
                                         "wait", "hold", "test-only", NULL};
static const char taken_short[] = "JoedDaWH";

static int bad_value(const crun_options *opts, const char *key, const char *what, crun_error *err)
{
    char *shown = json_dumps(json_object_get(crun_options_json(opts), key),
                             JSON_ENCODE_ANY | JSON_COMPACT);
    const char *owner = crun_options_owner(opts);
    crun_error_set(err, CRUN_ECONFIG, "%s: %s%soption '%s': expected %s, got %s",
                   crun_options_where(opts, key), owner, owner[0] ? ": " : "", key, what,
                   shown ? shown : "a value");
    free(shown);
    return CRUN_ECONFIG;
}

/* A string option, or an integer written without quotes (time: 30, mem: 4096). */
static int text_or_int(const crun_options *opts, const char *key, json_t *v, char **out,
                       crun_error *err)
{
    if (!v)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        if (asprintf(out, "%lld", (long long)json_integer_value(v)) < 0)
            *out = NULL;
    } else if (json_is_string(v) && json_string_value(v)[0]) {
        *out = strdup(json_string_value(v));
    } else {
        return bad_value(opts, key, "a string or a whole number", err);
    }
    return *out ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static bool all_of(const char *s, const char *allowed)
{
    for (; *s; s++)
        if (!strchr(allowed, *s))
            return false;
    return true;
}

/* Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or unlimited. */
static bool slurm_time(const char *s)
{
    if (strcasecmp(s, "unlimited") == 0 || strcasecmp(s, "infinite") == 0)
        return true;
    return isdigit((unsigned char)s[0]) && all_of(s, "0123456789:-") &&
           isdigit((unsigned char)s[strlen(s) - 1]);
}

/* Megabytes, or a number with a K, M, G or T unit. */
static bool slurm_mem(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && (s[n] == '\0' || (strchr("KkMmGgTt", s[n]) && s[n + 1] == '\0'));
}

static bool is_taken(const char *arg)
{
    if (arg[0] != '-')
        return false;
    if (arg[1] != '-')
        return arg[1] && strchr(taken_short, arg[1]) != NULL;
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    for (size_t i = 0; taken_long[i]; i++)
        /* getopt accepts unambiguous abbreviations ("--dep"): catch those too */
        if (len >= 3 && len <= strlen(taken_long[i]) && strncmp(name, taken_long[i], len) == 0)
            return true;
    return false;
}

static int push_arg(slurm_resources *res, const char *arg, size_t len)
{
    char **a = realloc(res->sbatch_args, (res->n_sbatch_args + 2) * sizeof(char *));
    if (!a)
        return CRUN_ENOMEM;
    res->sbatch_args = a;
    if (!(a[res->n_sbatch_args] = strndup(arg, len)))
        return CRUN_ENOMEM;
    a[++res->n_sbatch_args] = NULL;
    return 0;
}

/* A list of strings, or one string split at spaces (as --runner-opt gives it). */
static int sbatch_args(const crun_options *opts, json_t *v, slurm_resources *res,
                       crun_error *err)
{
    if (!v)
        return 0;
    int rc = 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (!rc && *(s += strspn(s, " \t"))) {
            size_t len = strcspn(s, " \t");
            rc = push_arg(res, s, len);
            s += len;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *a;
        json_array_foreach(v, i, a) {
            if (!json_is_string(a))
                return bad_value(opts, "sbatch_args", "a list of strings", err);
            if (!rc)
                rc = push_arg(res, json_string_value(a), strlen(json_string_value(a)));
        }
    } else {
        return bad_value(opts, "sbatch_args", "a list of strings", err);
    }
    if (rc)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; i < res->n_sbatch_args; i++)
        if (is_taken(res->sbatch_args[i])) {
            const char *owner = crun_options_owner(opts);
            return crun_error_set(err, CRUN_ECONFIG, "%s: %s%soption 'sbatch_args': '%s' is set "
                                  "by crun on every job (name, log, dependencies, command) and "
                                  "cannot be changed", crun_options_where(opts, "sbatch_args"),
                                  owner, owner[0] ? ": " : "", res->sbatch_args[i]);
        }
    return 0;
}

static int parse_resources(const crun_options *opts, const slurm_settings *set,
                           slurm_resources *res, crun_error *err)
{
    int rc = 0;
    if (set->partition && !(res->partition = strdup(set->partition)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (set->account && !(res->account = strdup(set->account)))
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if ((rc = text_or_int(opts, "time", set->time, &res->time, err)))
        return rc;
    if (res->time && !slurm_time(res->time))
        return bad_value(opts, "time", "a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH:MM:SS "
                         "or unlimited)", err);
    if ((rc = text_or_int(opts, "mem", set->mem, &res->mem, err)))
        return rc;
    if (res->mem && !slurm_mem(res->mem))
        return bad_value(opts, "mem", "megabytes, or a number with a unit K, M, G or T (8G)",
                         err);
    res->cpus_per_task = set->cpus_per_task;
    return sbatch_args(opts, set->sbatch_args, res, err);
}

/* One tag's map of resources, checked as options of their own. */
static int parse_override(const crun_options *opts, const char *tag, json_t *v,
                          slurm_override *o, crun_error *err)
{
    char owner[512];
    snprintf(owner, sizeof(owner), "%s%sresources '%s'", crun_options_owner(opts),
             crun_options_owner(opts)[0] ? ": " : "", tag);
    crun_options *sub = crun_options_new(v, owner, crun_options_where(opts, "resources"));
    if (!sub)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    slurm_settings set = {0};
    int rc = crun_options_read(sub, resource_table, CRUN_OPTION_COUNT(resource_table), &set, err);
    if (!rc)
        rc = parse_resources(sub, &set, &o->res, err);
    crun_options_free(sub);
    if (!rc && !(o->tag = strdup(tag)))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return rc;
}

static int parse_overrides(const crun_options *opts, json_t *map, slurm_config *cfg,
                           crun_error *err)
{
    if (!map)
        return 0;
    if (!json_is_object(map))
        return bad_value(opts, "resources", "a map of node tag -> {mem, time, ...}", err);
    cfg->overrides = calloc(json_object_size(map) + 1, sizeof(slurm_override));
    if (!cfg->overrides)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    const char *tag;
    json_t *v;
    json_object_foreach(map, tag, v) {
        if (!json_is_object(v)) {
            char what[300];
            snprintf(what, sizeof(what), "a map of options for tag '%s'", tag);
            return bad_value(opts, "resources", what, err);
        }
        int rc = parse_override(opts, tag, v, &cfg->overrides[cfg->n_overrides++], err);
        if (rc)
            return rc;
    }
    return 0;
}

int slurm_config_parse(const crun_options *opts, slurm_config *cfg, crun_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    slurm_settings set = {0};
    int rc = crun_options_read(opts, slurm_option_table, SLURM_OPTION_COUNT, &set, err);
    if (!rc)
        rc = parse_resources(opts, &set, &cfg->base, err);
    if (!rc)
        rc = parse_overrides(opts, set.resources, cfg, err);
    cfg->poll_interval = set.poll_interval;
    if (!rc && set.crun_path && set.crun_path[0] != '/')
        rc = bad_value(opts, "crun_path", "an absolute path to the crun program on the cluster",
                       err);
    if (!rc && set.crun_path && !(cfg->crun_path = strdup(set.crun_path)))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (rc)
        slurm_config_clear(cfg);
    return rc;
}

static void resources_clear(slurm_resources *res)
{
    free(res->partition);
    free(res->account);
    free(res->time);
    free(res->mem);
    for (size_t i = 0; i < res->n_sbatch_args; i++)
        free(res->sbatch_args[i]);
    free(res->sbatch_args);
    memset(res, 0, sizeof(*res));
}

void slurm_config_clear(slurm_config *cfg)
{
    resources_clear(&cfg->base);
    for (size_t i = 0; i < cfg->n_overrides; i++) {
        free(cfg->overrides[i].tag);
        resources_clear(&cfg->overrides[i].res);
    }
    free(cfg->overrides);
    free(cfg->crun_path);
    memset(cfg, 0, sizeof(*cfg));
}

int resources_for(const slurm_config *cfg, json_t *tags, slurm_resources *out)
{
    *out = cfg->base;
    out->sbatch_args = NULL;
    out->n_sbatch_args = 0;
    size_t n = cfg->base.n_sbatch_args;
    for (size_t i = 0; i < cfg->n_overrides; i++)
        n += cfg->overrides[i].res.n_sbatch_args;
    char **args = calloc(n + 1, sizeof(char *));
    if (!args)
        return CRUN_ENOMEM;
    for (size_t i = 0; i < cfg->base.n_sbatch_args; i++)
        args[out->n_sbatch_args++] = cfg->base.sbatch_args[i];
    for (size_t i = 0; i < cfg->n_overrides; i++) {
        const slurm_override *o = &cfg->overrides[i];
        bool match = false;
        size_t k;
        json_t *t;
        json_array_foreach(tags, k, t) {
            match = match || (json_is_string(t) && strcmp(json_string_value(t), o->tag) == 0);
        }
        if (!match)
            continue;
        out->partition = o->res.partition ? o->res.partition : out->partition;
        out->account = o->res.account ? o->res.account : out->account;
        out->time = o->res.time ? o->res.time : out->time;
        out->mem = o->res.mem ? o->res.mem : out->mem;
        out->cpus_per_task = o->res.cpus_per_task ? o->res.cpus_per_task : out->cpus_per_task;
        for (size_t a = 0; a < o->res.n_sbatch_args; a++)
            args[out->n_sbatch_args++] = o->res.sbatch_args[a];
    }
    out->sbatch_args = args;
    return 0;
}

void resources_view_clear(slurm_resources *res)
{
    free(res->sbatch_args); /* the strings belong to the config */
    memset(res, 0, sizeof(*res));
}
