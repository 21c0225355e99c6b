/* path.c - the service's per-request work without HTTP, timed in one thread.
 *
 * usage: path PROJECT_DIR [N] [BODY]
 *
 * Repeats what the service does for POST /v1/runs after libmicrohttpd has
 * read the body: parse and check it (svc_request_parse), run it
 * (crun_session_run with the service's options), make the answer
 * (svc_success_text, or svc_result_json for errors).  Prints microseconds per request for
 * each step: the floor under the service's cost per request, whatever the
 * HTTP side does.  Built by run.sh from the plugin's own request.c, answer.c, served.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: path PROJECT_DIR [N] [BODY]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 100000;
    const char *body = argc > 3 ? argv[3] : "{\"params\": {\"x\": 7}}";
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = argv[1];
    so.log_level = CRUN_LOG_ERROR;
    crun_session *s;
    svc_served sv;
    crun_error err = CRUN_ERROR_INIT;
    if (crun_session_open(&so, &s, &err) != 0 ||
        svc_served_init(&sv, s, NULL, NULL, "sequential", &err) != 0) {
        fprintf(stderr, "path: %s\n", err.message);
        return 2;
    }
    double t_parse = 0, t_run = 0, t_answer = 0;
    for (int i = 0; i < n; i++) {
        double a = now();
        svc_request req;
        char *error = NULL;
        if (svc_request_parse(&sv, body, strlen(body), &req, &error) != 0) {
            fprintf(stderr, "path: %s\n", error);
            return 2;
        }
        double b = now();
        crun_run_options ro;
        crun_filter filter;
        svc_request_options(&sv, &req, &ro, &filter);
        crun_run_result res = CRUN_RUN_RESULT_INIT;
        int rc = crun_session_run(s, &ro, &res, &err);
        double c = now();
        char *text = rc == 0 ? svc_success_text(&sv, &res) : NULL;
        if (!text) { /* the service's path for errors */
            json_t *answer = NULL;
            svc_result_json(&sv, rc, &err, &res, &answer);
            text = svc_answer_text(answer);
            json_decref(answer);
        }
        free(text);
        crun_run_result_clear(&res);
        crun_error_clear(&err);
        svc_request_clear(&req);
        double d = now();
        t_parse += b - a;
        t_run += c - b;
        t_answer += d - c;
    }
    printf("per request (us): parse %.2f  run %.2f  answer %.2f  total %.2f  (%d requests)\n",
           t_parse * 1e6 / n, t_run * 1e6 / n, t_answer * 1e6 / n,
           (t_parse + t_run + t_answer) * 1e6 / n, n);
    svc_served_clear(&sv);
    crun_session_close(s);
    return 0;
}
