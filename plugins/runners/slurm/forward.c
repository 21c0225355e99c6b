/* forward.c - what a job's `crun run --node` must repeat of this run.
 *
 * A job rebuilds the run from the project, so it needs every input that
 * shaped it: the pipeline (a node's memory datasets cross relative to it),
 * --params, --ir, --load-versions and --durability (its saves sync as this
 * run's would).  The run API does not hand these to a
 * runner yet, so they are read back from this program's command line when the
 * program is crun itself (/proc/self/cmdline, parsed with crun's own option
 * table).  Parameters a program gave the run itself (a sweep, the service)
 * differ from the session's: each differing leaf is passed as
 * `--params a.b=<JSON>`, which crun reads back as that JSON value.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slurm.h"

/* crun's options that take a value (runner/cli/main.c), so that values are skipped. */
static const char *const value_options[] = {
    "--env", "--runner", "--runner-opt", "--pipeline", "--tags", "--nodes", "--node",
    "--from-nodes", "--to-nodes", "--from-inputs", "--to-outputs", "--params",
    "--load-versions", "--project", "--ir", "--run-id", "--output", "-o", "--durability", NULL};
static const char *const forwarded[] = {"--pipeline", "--params", "--ir", "--load-versions",
                                        "--durability", NULL};
enum { N_FORWARDED = 5 };

static char *read_cmdline(size_t *len)
{
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (!f)
        return NULL;
    size_t cap = 4096;
    char *buf = malloc(cap);
    *len = 0;
    while (buf) {
        *len += fread(buf + *len, 1, cap - *len - 1, f);
        if (*len < cap - 1)
            break;
        char *b = realloc(buf, cap *= 2);
        if (!b)
            free(buf);
        buf = b;
    }
    fclose(f);
    if (buf)
        buf[*len] = '\0';
    return buf;
}

static bool host_is_crun(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    return strcmp(basename(exe), "crun") == 0;
}

/* values[k] = the last value given to forwarded[k] (borrowed from buf). */
static void scan_cmdline(char *buf, size_t len, const char **values)
{
    char *words[4096];
    size_t n = 0;
    for (char *p = buf; p < buf + len && n < 4096; p += strlen(p) + 1)
        words[n++] = p;
    for (size_t i = 1; i < n; i++) {
        char *w = words[i];
        if (strcmp(w, "--") == 0)
            break;
        char *eq = strncmp(w, "--", 2) == 0 ? strchr(w, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - w) : strlen(w);
        bool takes_value = false;
        for (size_t k = 0; value_options[k]; k++)
            takes_value = takes_value || (strlen(value_options[k]) == name_len &&
                                          strncmp(w, value_options[k], name_len) == 0);
        if (!takes_value)
            continue;
        const char *value = eq ? eq + 1 : i + 1 < n ? words[++i] : NULL;
        for (size_t k = 0; forwarded[k] && value; k++)
            if (strlen(forwarded[k]) == name_len && strncmp(w, forwarded[k], name_len) == 0)
                values[k] = value;
    }
}

static bool plain_key(const char *key)
{
    return key[0] && !strpbrk(key, ".,=\"'[]{} \t\n");
}

/* Append "prefix.key=<json>" for every leaf of run that differs from base. */
static int params_diff(json_t *run, json_t *base, const char *prefix, char **out,
                       crun_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(run, key, v) {
        json_t *b = json_object_get(base, key);
        if (b && json_equal(v, b))
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", prefix, prefix[0] ? "." : "", key) < 0)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        int rc = 0;
        if (!plain_key(key)) {
            rc = crun_error_set(err, CRUN_EUSAGE, "parameter '%s' of this run cannot be passed "
                                "to a Slurm job with --params: its name holds a character "
                                "such as '.', ',', '=' or a space", path);
        } else if (json_is_object(v) && json_is_object(b)) {
            rc = params_diff(v, b, path, out, err);
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *next = NULL;
            if (!text || asprintf(&next, "%s%s%s=%s", *out ? *out : "", *out ? "," : "", path,
                                  text) < 0)
                rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
            else {
                free(*out);
                *out = next;
            }
            free(text);
        }
        free(path);
        if (rc)
            return rc;
    }
    return 0;
}

static int push(char ***argv, size_t *n, const char *a, const char *b)
{
    char **v = realloc(*argv, (*n + 3) * sizeof(char *));
    if (!v)
        return CRUN_ENOMEM;
    *argv = v;
    v[*n] = strdup(a);
    v[*n + 1] = strdup(b);
    v[*n + 2] = NULL;
    *n += 2;
    return v[*n - 2] && v[*n - 1] ? 0 : CRUN_ENOMEM;
}

int forward_args(crun_run *run, char ***out, crun_error *err)
{
    const char *values[N_FORWARDED] = {0};
    size_t len = 0;
    char *cmdline = host_is_crun() ? read_cmdline(&len) : NULL;
    if (cmdline)
        scan_cmdline(cmdline, len, values);
    char *params = values[1] ? strdup(values[1]) : NULL;
    int rc = values[1] && !params ? CRUN_ENOMEM : 0;
    json_t *session_params = crun_session_params(crun_run_session(run));
    if (!rc)
        rc = params_diff(crun_run_params(run), session_params, "", &params, err);
    char ir[PATH_MAX];
    if (values[2] && !realpath(values[2], ir))
        snprintf(ir, sizeof(ir), "%s", values[2]);
    char **argv = calloc(1, sizeof(char *));
    size_t n = 0;
    if (!argv && !rc)
        rc = CRUN_ENOMEM;
    if (!rc && values[0])
        rc = push(&argv, &n, "--pipeline", values[0]);
    if (!rc && params)
        rc = push(&argv, &n, "--params", params);
    if (!rc && values[2])
        rc = push(&argv, &n, "--ir", ir);
    if (!rc && values[3])
        rc = push(&argv, &n, "--load-versions", values[3]);
    if (!rc && values[4])
        rc = push(&argv, &n, "--durability", values[4]);
    free(params);
    free(cmdline);
    if (rc) {
        argv_free(argv);
        return rc == CRUN_ENOMEM ? crun_error_set(err, rc, "out of memory") : rc;
    }
    *out = argv;
    return 0;
}
