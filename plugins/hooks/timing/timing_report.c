/* timing_report.c - what the timing hook shows when a run ends: a compact
 * table of the slowest nodes on the log (one crun_log line per row, so that
 * any log sink gets whole lines), and, when asked, the whole run as a JSON
 * file written atomically.  Both list the nodes that started, slowest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

/* --- cells --------------------------------------------------------------------- */

static void fmt_seconds(char *buf, size_t size, double s)
{
    if (s < 0)
        s = 0;
    if (s < 1e-3)
        snprintf(buf, size, "%.0f us", s * 1e6);
    else if (s < 1)
        snprintf(buf, size, "%.1f ms", s * 1e3);
    else if (s < 100)
        snprintf(buf, size, "%.2f s", s);
    else
        snprintf(buf, size, "%.0f s", s);
}

static void fmt_kib(char *buf, size_t size, long kib)
{
    long mag = kib < 0 ? -kib : kib;
    if (mag < 1024)
        snprintf(buf, size, "%+ld KiB", kib);
    else if (mag < 1024L * 1024)
        snprintf(buf, size, "%+.1f MiB", (double)kib / 1024.0);
    else
        snprintf(buf, size, "%+.2f GiB", (double)kib / (1024.0 * 1024.0));
}

static void fmt_cpu(char *buf, size_t size, const node_times *nt)
{
    if (!nt->measured || nt->cpu_from == CPU_NONE) {
        snprintf(buf, size, "n/a ");
        return;
    }
    fmt_seconds(buf, size - 2, nt->cpu);
    /* a star marks the command's processes, explained under the table */
    strcat(buf, nt->cpu_from == CPU_CHILDREN ? "*" : " ");
}

/* --- order ------------------------------------------------------------------------ */

static int slowest_first(const void *a, const void *b)
{
    const node_times *x = *(const node_times *const *)a, *y = *(const node_times *const *)b;
    if (x->measured != y->measured)
        return x->measured ? -1 : 1;
    if (x->wall != y->wall)
        return x->wall > y->wall ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The nodes that started, slowest first (a new array; *n its length). */
static node_times **sorted_nodes(run_times *rt, size_t *n)
{
    node_times **v = malloc((rt->n + 1) * sizeof(*v));
    *n = 0;
    for (size_t i = 0; v && i < rt->n; i++)
        if (rt->nodes[i].status != NODE_NOT_RUN)
            v[(*n)++] = &rt->nodes[i];
    if (v)
        qsort(v, *n, sizeof(*v), slowest_first);
    return v;
}

/* --- the table ---------------------------------------------------------------------- */

enum { NAME_MAX_WIDTH = 40 };

static void log_row(crun_logger *logger, int width, const char *name, const char *wall,
                    const char *cpu, const char *rss, const char *note)
{
    int len = (int)strlen(name);
    crun_log(logger, CRUN_LOG_INFO, "  %-*.*s%s %9s %10s %10s%s", width,
             len > width ? width - 1 : width, name, len > width ? "~" : "", wall, cpu, rss, note);
}

static void log_table(const timing_options *o, const char *report, crun_logger *logger,
                      run_times *rt, node_times **v, size_t n, double wall, bool failed)
{
    size_t rows = n < (size_t)o->top ? n : (size_t)o->top;
    int width = 5; /* "(sum)" */
    for (size_t i = 0; i < rows; i++) {
        int len = (int)strlen(v[i]->name);
        width = len > width ? len : width;
    }
    width = width > NAME_MAX_WIDTH ? NAME_MAX_WIDTH : width;
    char w[32], c[32], r[32];
    fmt_seconds(w, sizeof(w), wall);
    crun_log(logger, CRUN_LOG_INFO, "timing: %zu of %zu nodes ran in %s%s, slowest first:", n,
             rt->n, w, failed ? " (the run failed)" : "");
    log_row(logger, width, "node", "wall", "cpu ", "peak rss", "");
    double sum_wall = 0, sum_cpu = 0;
    long sum_rss = 0;
    bool children = false, cpu_known = true;
    for (size_t i = 0; i < n; i++) {
        const node_times *nt = v[i];
        sum_wall += nt->measured ? nt->wall : 0;
        sum_rss += nt->measured ? nt->rss_delta : 0;
        sum_cpu += nt->measured && nt->cpu_from != CPU_NONE ? nt->cpu : 0;
        cpu_known = cpu_known && nt->measured && nt->cpu_from != CPU_NONE;
        if (i >= rows)
            continue;
        children = children || (nt->measured && nt->cpu_from == CPU_CHILDREN);
        fmt_seconds(w, sizeof(w), nt->wall);
        fmt_cpu(c, sizeof(c), nt);
        fmt_kib(r, sizeof(r), nt->rss_delta);
        log_row(logger, width, nt->name, nt->measured ? w : "-", nt->measured ? c : "- ",
                nt->measured ? r : "-", nt->status == NODE_FAILED ? "  failed" : "");
    }
    if (rows < n)
        crun_log(logger, CRUN_LOG_INFO, "  ... and %zu more node%s%s%s", n - rows,
                 n - rows == 1 ? "" : "s", report ? ", in " : " (option top)",
                 report ? report : "");
    fmt_seconds(w, sizeof(w), sum_wall);
    fmt_seconds(c, sizeof(c) - 2, sum_cpu);
    strcat(c, cpu_known ? " " : "+");
    fmt_kib(r, sizeof(r), sum_rss);
    log_row(logger, width, "(sum)", w, c, r, "");
    if (children)
        crun_log(logger, CRUN_LOG_INFO, "  * cpu of the command's processes");
    if (!cpu_known)
        crun_log(logger, CRUN_LOG_INFO, "  + without the nodes whose cpu is n/a (commands that "
                 "overlapped other nodes)");
}

/* --- the JSON report ------------------------------------------------------------------- */

static const char *status_name(node_status s)
{
    return s == NODE_OK ? "ok" : s == NODE_FAILED ? "failed" : s == NODE_RUNNING ? "running"
                                                                              : "not run";
}

static json_t *node_json(const node_times *nt)
{
    bool cpu = nt->measured && nt->cpu_from != CPU_NONE;
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "node", nt->name, "kind",
                     nt->command ? "command" : "function", "status", status_name(nt->status),
                     "wall_s", nt->measured ? json_real(nt->wall) : json_null(), "cpu_s",
                     cpu ? json_real(nt->cpu) : json_null(), "cpu_of",
                     cpu ? json_string(nt->cpu_from == CPU_THREAD ? "thread" : "processes")
                         : json_null(),
                     "peak_rss_delta_kib",
                     nt->measured ? json_integer(nt->rss_delta) : json_null());
}

/* o->report with every "{run_id}" replaced (malloc'd). */
static char *report_path(const char *pattern, const char *run_id)
{
    static const char key[] = "{run_id}";
    size_t n = 0;
    for (const char *p = strstr(pattern, key); p; p = strstr(p + 1, key))
        n++;
    char *out = malloc(strlen(pattern) + n * strlen(run_id) + 1);
    if (!out)
        return NULL;
    char *w = out;
    for (const char *p = pattern; *p;) {
        if (strncmp(p, key, sizeof(key) - 1) == 0) {
            w = stpcpy(w, run_id);
            p += sizeof(key) - 1;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

static int write_report(const char *path, run_times *rt, node_times **v, size_t n,
                        double wall, bool failed, crun_error *err)
{
    json_t *nodes = json_array();
    for (size_t i = 0; nodes && i < n; i++)
        if (json_array_append_new(nodes, node_json(v[i])) != 0) {
            json_decref(nodes);
            nodes = NULL;
        }
    json_t *doc = nodes ? json_pack("{s:s, s:s, s:f, s:I, s:o}", "run_id", rt->run_id, "status",
                                    failed ? "failed" : "ok", "wall_s", wall, "nodes_planned",
                                    (json_int_t)rt->n, "nodes", nodes)
                        : NULL;
    size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6);
    char *text = doc ? json_dumps(doc, flags) : NULL;
    json_decref(doc);
    int rc = 0;
    if (!text) {
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    } else {
        size_t len = strlen(text);
        char *with_nl = realloc(text, len + 2);
        if (with_nl) {
            text = with_nl;
            text[len++] = '\n';
            text[len] = '\0';
        }
        rc = crun_file_write_atomic(path, text, len, err);
        if (rc)
            crun_error_prefix(err, "report %s: ", path);
    }
    free(text);
    return rc;
}

int timing_report(const timing_options *o, crun_logger *logger, run_times *rt, double wall,
                  bool failed, crun_error *err)
{
    size_t n;
    node_times **v = sorted_nodes(rt, &n);
    char *report = o->report ? report_path(o->report, rt->run_id) : NULL;
    if (!v || (o->report && !report)) {
        free(v);
        free(report);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    if (o->table && n > 0)
        log_table(o, report, logger, rt, v, n, wall, failed);
    int rc = report ? write_report(report, rt, v, n, wall, failed, err) : 0;
    free(report);
    free(v);
    return rc;
}
