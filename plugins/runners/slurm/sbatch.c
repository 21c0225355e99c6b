/* sbatch.c - one node of the plan as one sbatch command line.
 *
 *     sbatch --parsable --job-name=NODE --output=.crun/runs/ID/logs/NODE.log
 *            --kill-on-invalid-dep=yes [--dependency=afterok:J1:J2]
 *            [--partition=P --account=A --time=T --cpus-per-task=N --mem=M]
 *            [sbatch_args...] --chdir=PROJECT
 *            --wrap="exec 'CRUN' run --project 'PROJECT' --env 'ENV' --runner 'sequential'
 *                    --node 'NODE' --run-id 'ID' [forwarded...]"
 *
 * No shell sees sbatch's own arguments (posix_spawn), so only the --wrap text
 * is quoted: every word in single quotes, a quote inside written '\''.  Node
 * names may hold anything YAML allows; the log file name is the node name
 * only when it is plain, because Slurm reads % and \ in --output as patterns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slurm.h"

char *shell_quote(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = malloc(n + 1), *o = q;
    if (!q)
        return NULL;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return q;
}

static bool plain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

char *log_file_name(const char *name, size_t i)
{
    size_t len = strlen(name);
    bool plain = len > 0 && len <= 200 && name[0] != '.';
    for (size_t k = 0; plain && k < len; k++)
        plain = plain_char(name[k]);
    char *out = NULL;
    if (plain)
        return asprintf(&out, "%s.log", name) < 0 ? NULL : out;
    char clean[201];
    size_t n = 0;
    for (size_t k = 0; k < len && n < 200; k++)
        clean[n++] = plain_char(name[k]) ? name[k] : '_';
    clean[n] = '\0';
    return asprintf(&out, "%s-%zu.log", clean, i) < 0 ? NULL : out;
}

/* A growing argv; on any allocation failure `failed` is set and the rest ignored. */
typedef struct args {
    char **v;
    size_t n, cap;
    bool failed;
} args;

static void add_owned(args *a, char *s)
{
    if (!s || a->failed) {
        free(s);
        a->failed = true;
        return;
    }
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **v = realloc(a->v, cap * sizeof(char *));
        if (!v) {
            free(s);
            a->failed = true;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void add_fmt(args *a, const char *fmt, const char *value)
{
    char *s = NULL;
    if (asprintf(&s, fmt, value) < 0)
        s = NULL;
    add_owned(a, s);
}

/* Append " " and the quoted word to *cmd. */
static bool append_word(char **cmd, const char *word)
{
    char *q = shell_quote(word), *next = NULL;
    if (!q || asprintf(&next, "%s %s", *cmd, q) < 0)
        next = NULL;
    free(q);
    free(*cmd);
    *cmd = next;
    return next != NULL;
}

static char *wrap_command(const slurm_submit_ctx *ctx, const char *name)
{
    char *cmd = strdup("exec");
    /* the job runs its one node itself: never the project's default runner,
     * which may be this one and would submit the node again */
    const char *words[] = {ctx->crun, "run", "--project", ctx->project,
                           "--runner", "sequential", "--node", name, "--run-id", ctx->run_id,
                           "--env", ctx->env};
    /* the env goes along only when it is a folder: the implicit "local" of
     * a project that has none is no env to name (crun refuses --env local
     * then) */
    char *folder = NULL;
    struct stat st;
    bool env_folder = asprintf(&folder, "%s/conf/%s", ctx->project, ctx->env) >= 0 &&
                      stat(folder, &st) == 0 && S_ISDIR(st.st_mode);
    free(folder);
    size_t n = sizeof(words) / sizeof(words[0]) - (env_folder ? 0 : 2);
    for (size_t i = 0; cmd && i < n; i++)
        if (!append_word(&cmd, words[i]))
            return NULL;
    for (size_t i = 0; cmd && ctx->forward && ctx->forward[i]; i++)
        if (!append_word(&cmd, ctx->forward[i]))
            return NULL;
    return cmd;
}

static char *dependency(const char *const *dep_ids, size_t n)
{
    size_t len = strlen("--dependency=afterok") + 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(dep_ids[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    char *o = s + sprintf(s, "--dependency=afterok");
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, ":%s", dep_ids[i]);
    return s;
}

char **sbatch_argv(const slurm_submit_ctx *ctx, const char *name, const slurm_resources *res,
                   const char *log_rel, const char *const *dep_ids, size_t n_deps)
{
    args a = {0};
    add_owned(&a, strdup("sbatch"));
    add_owned(&a, strdup("--parsable"));
    add_fmt(&a, "--job-name=%s", name);
    add_fmt(&a, "--output=%s", log_rel);
    add_owned(&a, strdup("--kill-on-invalid-dep=yes"));
    if (n_deps)
        add_owned(&a, dependency(dep_ids, n_deps));
    if (res->partition)
        add_fmt(&a, "--partition=%s", res->partition);
    if (res->account)
        add_fmt(&a, "--account=%s", res->account);
    if (res->time)
        add_fmt(&a, "--time=%s", res->time);
    if (res->cpus_per_task) {
        char n[32];
        snprintf(n, sizeof(n), "%lld", (long long)res->cpus_per_task);
        add_fmt(&a, "--cpus-per-task=%s", n);
    }
    if (res->mem)
        add_fmt(&a, "--mem=%s", res->mem);
    for (size_t i = 0; i < res->n_sbatch_args; i++)
        add_owned(&a, strdup(res->sbatch_args[i]));
    add_fmt(&a, "--chdir=%s", ctx->project);
    char *wrap = wrap_command(ctx, name);
    if (wrap)
        add_fmt(&a, "--wrap=%s", wrap);
    else
        a.failed = true;
    free(wrap);
    if (a.failed) {
        argv_free(a.v);
        return NULL;
    }
    return a.v;
}

void argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}
