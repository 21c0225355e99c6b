/* squeue.c - what Slurm says about a run's jobs.
 *
 * One squeue call per poll covers every job still going:
 *
 *     squeue -h -t all -j ID1,ID2,... -O JobID:20,State:20,exit_code:12,Reason:60
 *
 * (-t all keeps finished jobs for MinJobAge; exit_code is the raw wait status;
 * Reason is last because it may hold spaces).  A job squeue no longer lists
 * is asked of `scontrol show job -o ID`, then of accounting (`sacct`, on
 * clusters with slurmdbd), then of the jobcomp/filetxt file that
 * `scontrol show config` names, matching job id and name there because ids
 * restart when a cluster is rebuilt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "slurm.h"

enum { IDS_PER_CALL = 5000 }; /* keeps one argument well under Linux's 128 KiB */
static const double client_timeout = 60.0;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool slurm_state_terminal(const char *state)
{
    static const char *const terminal[] = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
                                           "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
                                           "DEADLINE", "PREEMPTED", "SPECIAL_EXIT", "REVOKED",
                                           NULL};
    for (size_t i = 0; terminal[i]; i++)
        if (strcmp(state, terminal[i]) == 0)
            return true;
    return false;
}

/* Copy one word of at most size-1 bytes from *p, advancing past it. */
static void take_word(const char **p, char *out, size_t size)
{
    const char *s = *p + strspn(*p, " \t");
    size_t n = strcspn(s, " \t\n");
    snprintf(out, size, "%.*s", (int)n, s);
    *p = s + n;
}

/* The value after " KEY=" in a line of KEY=VALUE words ("" when absent). */
static void field(const char *line, size_t line_len, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *p = line; p && p < line + line_len; p = strchr(p + 1, ' ')) {
        const char *w = p == line ? p : p + 1;
        if (strncmp(w, key, klen) == 0 && w[klen] == '=') {
            const char *v = w + klen + 1;
            snprintf(out, size, "%.*s", (int)strcspn(v, " \n"), v);
            return;
        }
    }
}

/* "3:0" (exit:signal) as a wait status. */
static int exit_pair(const char *s)
{
    int code = 0, sig = 0;
    if (sscanf(s, "%d:%d", &code, &sig) < 1)
        return 0;
    return (code & 0xff) << 8 | (sig & 0x7f);
}

typedef struct poll_ctx {
    slurm_job *jobs;
    bool *answered;          /* per job: some source knew it in this poll */
    const char *const *names;
    void (*changed)(void *user, size_t job, const char *old_state);
    void *user;
    crun_run *run;
} poll_ctx;

static void record(poll_ctx *c, size_t i, const char *state, int exit_status, const char *reason)
{
    slurm_job *j = &c->jobs[i];
    c->answered[i] = true;
    j->missing = 0;
    j->exit_status = exit_status;
    snprintf(j->reason, sizeof(j->reason), "%s", reason);
    if (strcmp(j->state, state) == 0)
        return;
    char old[sizeof(j->state)];
    snprintf(old, sizeof(old), "%s", j->state);
    snprintf(j->state, sizeof(j->state), "%s", state);
    j->terminal = slurm_state_terminal(state);
    j->ok = strcmp(state, "COMPLETED") == 0;
    if (c->changed)
        c->changed(c->user, i, old);
}

/* Job indices sorted by numeric job id, for looking answers up. */
typedef struct by_id {
    unsigned long long id;
    size_t index;
} by_id;

static int cmp_id(const void *a, const void *b)
{
    unsigned long long x = ((const by_id *)a)->id, y = ((const by_id *)b)->id;
    return x < y ? -1 : x > y;
}

static by_id *find_id(by_id *sorted, size_t n, const char *id)
{
    by_id key = {.id = strtoull(id, NULL, 10)};
    return bsearch(&key, sorted, n, sizeof(by_id), cmp_id);
}

static void parse_squeue(poll_ctx *c, const char *text, by_id *sorted, size_t n)
{
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        char id[32], state[32], exit_text[32], reason[64];
        const char *p = line;
        take_word(&p, id, sizeof(id));
        take_word(&p, state, sizeof(state));
        take_word(&p, exit_text, sizeof(exit_text));
        p += strspn(p, " \t");
        size_t rlen = (size_t)(line + len - p);
        while (rlen && (p[rlen - 1] == ' ' || p[rlen - 1] == '\t'))
            rlen--;
        snprintf(reason, sizeof(reason), "%.*s", (int)rlen, p);
        by_id *hit = id[0] ? find_id(sorted, n, id) : NULL;
        if (hit && state[0])
            record(c, hit->index, state, atoi(exit_text), reason);
        line += len + (line[len] == '\n');
    }
}

static bool ask_scontrol(poll_ctx *c, size_t i)
{
    char *argv[] = {"scontrol", "show", "job", "-o", c->jobs[i].id, NULL};
    proc_output o;
    crun_error err = CRUN_ERROR_INIT;
    bool known = false;
    if (proc_capture(c->run, argv, client_timeout, &o, &err) == 0 && WIFEXITED(o.status) &&
        WEXITSTATUS(o.status) == 0) {
        char state[32], reason[64], code[32];
        size_t len = strlen(o.out);
        field(o.out, len, "JobState", state, sizeof(state));
        field(o.out, len, "Reason", reason, sizeof(reason));
        field(o.out, len, "ExitCode", code, sizeof(code));
        if ((known = state[0] != '\0'))
            record(c, i, state, exit_pair(code), reason);
    }
    proc_output_clear(&o);
    crun_error_clear(&err);
    return known;
}

/* sacct for every job still unknown, one call: "ID|STATE|EXIT" lines. */
static void ask_sacct(poll_ctx *c, const size_t *missing, size_t n_missing, by_id *sorted,
                      size_t n)
{
    size_t len = 1;
    for (size_t k = 0; k < n_missing; k++)
        len += strlen(c->jobs[missing[k]].id) + 1;
    char *ids = malloc(len);
    if (!ids)
        return;
    ids[0] = '\0';
    for (size_t k = 0; k < n_missing; k++) {
        strcat(ids, c->jobs[missing[k]].id);
        if (k + 1 < n_missing)
            strcat(ids, ",");
    }
    char *argv[] = {"sacct", "-n", "-X", "-P", "-j", ids, "-o", "JobID,State,ExitCode", NULL};
    proc_output o;
    crun_error err = CRUN_ERROR_INIT;
    if (proc_capture(c->run, argv, client_timeout, &o, &err) == 0 && WIFEXITED(o.status) &&
        WEXITSTATUS(o.status) == 0) {
        char *save = NULL;
        for (char *line = strtok_r(o.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            /* "21|CANCELLED by 0|0:15" */
            char id[32] = "", state[32] = "", code[32] = "";
            char *bar1 = strchr(line, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
            if (!bar2)
                continue;
            snprintf(id, sizeof(id), "%.*s", (int)(bar1 - line), line);
            snprintf(state, sizeof(state), "%.*s", (int)strcspn(bar1 + 1, " |"), bar1 + 1);
            snprintf(code, sizeof(code), "%s", bar2 + 1);
            by_id *hit = find_id(sorted, n, id);
            if (hit && strcmp(c->jobs[hit->index].id, id) == 0)
                record(c, hit->index, state, exit_pair(code), "");
        }
    }
    proc_output_clear(&o);
    crun_error_clear(&err);
    free(ids);
}

/* JobCompLoc, when the cluster writes finished jobs to a text file. */
static void find_jobcomp(slurm_watch *w)
{
    w->jobcomp_checked = true;
    char *argv[] = {"scontrol", "show", "config", NULL};
    proc_output o;
    crun_error err = CRUN_ERROR_INIT;
    if (proc_capture(w->run, argv, client_timeout, &o, &err) == 0 && WIFEXITED(o.status) &&
        WEXITSTATUS(o.status) == 0) {
        char type[64] = "", loc[4096] = "";
        char *save = NULL;
        for (char *line = strtok_r(o.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            sscanf(line, "JobCompType = %63s", type);
            sscanf(line, "JobCompLoc = %4095s", loc);
        }
        if (strcmp(type, "jobcomp/filetxt") == 0 && loc[0] == '/')
            w->jobcomp_path = strdup(loc);
    }
    proc_output_clear(&o);
    crun_error_clear(&err);
}

/* The newest line of the jobcomp file for this job id and name. */
static void ask_jobcomp(poll_ctx *c, const char *text, size_t i, const char *name)
{
    char head[64], nm[1024];
    snprintf(head, sizeof(head), "JobId=%s ", c->jobs[i].id);
    snprintf(nm, sizeof(nm), " Name=%s ", name);
    const char *found = NULL;
    size_t found_len = 0;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (strncmp(line, head, strlen(head)) == 0) {
            const char *at = strstr(line, nm);
            if (at && at < line + len) {
                found = line;
                found_len = len;
            }
        }
        line += len + (line[len] == '\n');
    }
    if (!found)
        return;
    char state[32], code[32];
    field(found, found_len, "JobState", state, sizeof(state));
    field(found, found_len, "ExitCode", code, sizeof(code));
    if (state[0])
        record(c, i, state, exit_pair(code), "");
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            char *t = realloc(text, cap = cap ? cap * 2 : 65536);
            if (!t) {
                free(text);
                fclose(f);
                return NULL;
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

/* Every source after squeue, for the jobs squeue did not list. */
static void ask_others(slurm_watch *w, poll_ctx *c, size_t *missing, size_t n_missing,
                       by_id *sorted, size_t n)
{
    size_t left = 0;
    for (size_t k = 0; k < n_missing; k++)
        if (!ask_scontrol(c, missing[k]))
            missing[left++] = missing[k];
    if (!left)
        return;
    ask_sacct(c, missing, left, sorted, n);
    if (!w->jobcomp_checked)
        find_jobcomp(w);
    char *text = w->jobcomp_path ? read_text(w->jobcomp_path) : NULL;
    for (size_t k = 0; k < left; k++) {
        if (c->answered[missing[k]])
            continue; /* sacct knew it */
        if (text)
            ask_jobcomp(c, text, missing[k], c->names[missing[k]]);
        slurm_job *j = &c->jobs[missing[k]];
        if (!c->answered[missing[k]] && j->missing++ == 0)
            j->missing_since = now_seconds();
    }
    free(text);
}

/* One squeue call for the jobs sorted[from, to). */
static int squeue_chunk(poll_ctx *c, by_id *sorted, size_t from, size_t to, crun_error *err)
{
    size_t len = 1;
    for (size_t k = from; k < to; k++)
        len += strlen(c->jobs[sorted[k].index].id) + 1;
    char *ids = malloc(len);
    if (!ids)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    char *o = ids;
    for (size_t k = from; k < to; k++)
        o += sprintf(o, "%s%s", k > from ? "," : "", c->jobs[sorted[k].index].id);
    char *argv[] = {"squeue", "-h", "-t", "all", "-j", ids, "-O",
                    "JobID:20,State:20,exit_code:12,Reason:60", NULL};
    proc_output out;
    int rc = proc_capture(c->run, argv, client_timeout, &out, err);
    free(ids);
    if (rc)
        return rc;
    bool ok = WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0;
    /* "Invalid job id specified": squeue knows none of them any more */
    if (ok || strstr(out.err, "Invalid job id")) {
        parse_squeue(c, out.out, sorted + from, to - from);
    } else {
        char *what = proc_describe("squeue", &out);
        rc = crun_error_set(err, CRUN_EIO, "%s", what ? what : "squeue failed");
        free(what);
    }
    proc_output_clear(&out);
    return rc;
}

int slurm_poll(slurm_watch *w, slurm_job *jobs, size_t n_jobs, const char *const *names,
               void (*changed)(void *user, size_t job, const char *old_state), void *user,
               crun_error *err)
{
    bool *answered = calloc(n_jobs + 1, sizeof(bool));
    poll_ctx c = {.jobs = jobs, .answered = answered, .names = names, .changed = changed,
                  .user = user, .run = w->run};
    by_id *sorted = malloc((n_jobs + 1) * sizeof(by_id));
    size_t *missing = malloc((n_jobs + 1) * sizeof(size_t));
    int rc = sorted && answered && missing ? 0
                                           : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    size_t n = 0, n_missing = 0;
    for (size_t i = 0; !rc && i < n_jobs; i++)
        if (jobs[i].id[0] && !jobs[i].terminal)
            sorted[n++] = (by_id){.id = strtoull(jobs[i].id, NULL, 10), .index = i};
    if (!rc && n)
        qsort(sorted, n, sizeof(by_id), cmp_id);
    for (size_t from = 0; !rc && from < n; from += IDS_PER_CALL)
        rc = squeue_chunk(&c, sorted, from, from + IDS_PER_CALL < n ? from + IDS_PER_CALL : n,
                          err);
    for (size_t k = 0; !rc && k < n; k++)
        if (!answered[sorted[k].index])
            missing[n_missing++] = sorted[k].index;
    if (!rc && n_missing)
        ask_others(w, &c, missing, n_missing, sorted, n);
    free(sorted);
    free(answered);
    free(missing);
    return rc;
}

void slurm_watch_clear(slurm_watch *w)
{
    free(w->jobcomp_path);
    w->jobcomp_path = NULL;
    w->jobcomp_checked = false;
}

int slurm_scancel(crun_run *run, slurm_job *const *jobs, size_t n, crun_error *err)
{
    int rc = 0;
    for (size_t from = 0; from < n; from += IDS_PER_CALL) {
        size_t to = from + IDS_PER_CALL < n ? from + IDS_PER_CALL : n;
        char **argv = calloc(to - from + 2, sizeof(char *));
        if (!argv)
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        argv[0] = "scancel";
        for (size_t k = from; k < to; k++)
            argv[k - from + 1] = (char *)jobs[k]->id;
        proc_output out;
        int r = proc_capture(run, argv, client_timeout, &out, err);
        free(argv);
        if (r) {
            rc = r;
            continue;
        }
        /* scancel also complains about jobs that ended meanwhile: not a failure */
        if (!(WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0) &&
            !strstr(out.err, "already completing or completed")) {
            char *what = proc_describe("scancel", &out);
            rc = crun_error_set(err, CRUN_EIO, "%s", what ? what : "scancel failed");
            free(what);
        }
        proc_output_clear(&out);
    }
    return rc;
}
