/* phases.c - time the two halves of a crun run through the embedding API.
 *
 * usage: phases PROJECT_DIR [REPEAT]
 *
 * "load" is crun_session_open: read crun.ini and conf/ (YAML), build the IR.
 * "run" is crun_session_run with the sequential runner: plan, open the
 * catalog, execute every node, release memory datasets.  Printed per node,
 * with the process's peak RSS after each half (getrusage) and what is
 * resident once loaded, as one JSON line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "crun/crun.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident now (not the peak): what the loaded session holds. */
static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: phases PROJECT_DIR [REPEAT] [PLUGIN_DIRS]\n");
        return 2;
    }
    int repeat = argc > 2 ? atoi(argv[2]) : 1;
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = argv[1];
    so.log_level = CRUN_LOG_ERROR;
    so.builtin_plugin_dir = argc > 3 ? argv[3] : CRUN_BENCH_PLUGIN_DIRS;
    crun_error err = CRUN_ERROR_INIT;
    crun_session *s;
    double t0 = now();
    if (crun_session_open(&so, &s, &err) != 0) {
        fprintf(stderr, "phases: %s\n", err.message);
        return 2;
    }
    double t1 = now();
    long load_peak = peak_kib(), loaded = rss_kib();
    double best = 1e30;
    size_t nodes = 0;
    for (int i = 0; i < repeat; i++) {
        crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
        crun_run_result res = CRUN_RUN_RESULT_INIT;
        double a = now();
        int rc = crun_session_run(s, &ro, &res, &err);
        double b = now();
        nodes = res.nodes_total;
        crun_run_result_clear(&res);
        if (rc != 0) {
            fprintf(stderr, "phases: %s\n", err.message);
            return 1;
        }
        best = b - a < best ? b - a : best;
    }
    printf("{\"nodes\": %zu, \"load_us_per_node\": %.3f, \"run_us_per_node\": %.3f, "
           "\"peak_kib_after_load\": %ld, \"rss_kib_after_load\": %ld, "
           "\"peak_kib_after_run\": %ld, \"peak_bytes_per_node\": %.0f}\n",
           nodes, (t1 - t0) * 1e6 / (double)nodes, best * 1e6 / (double)nodes, load_peak, loaded,
           peak_kib(), (double)peak_kib() * 1024.0 / (double)nodes);
    crun_session_close(s);
    crun_error_clear(&err);
    return 0;
}
