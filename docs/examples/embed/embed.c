/* embed.c - run a crun project from your own program and read its outputs.
 *
 * usage: embed PROJECT_DIR [PARAMS_JSON [RUNS]]
 *
 * Opens a session on the project (its conf/, catalog and plugins, loaded
 * once), then starts RUNS runs of its default pipeline with the parameter
 * overrides given as a JSON object, keeping outputs in memory (no file is
 * written), and prints each run's free outputs as one JSON object per line.
 * Build against an installed crun:
 *
 *     cc -o embed embed.c $(pkg-config --cflags --libs crun)
 *
 * A session may be shared by threads: call crun_session_run from as many as
 * you like; each run has its own catalog, memory datasets and scratch folder.
 */
#include <stdio.h>
#include <stdlib.h>

#include <crun/crun.h>

/* The run's outputs as {"name": value}: JSON values as they are, other
 * values through crun_value_to_json (tables as {"columns", "rows"}, bytes
 * parsed as JSON text, or kept as a string when they are not JSON). */
static json_t *outputs_json(const crun_run_result *res)
{
    json_t *out = json_object();
    for (size_t i = 0; i < res->n_outputs; i++) {
        json_t *v = NULL;
        crun_error err = CRUN_ERROR_INIT;
        if (crun_value_to_json(res->output_values[i], &v, &err) != 0) {
            size_t len = 0;
            const char *bytes = crun_value_bytes(res->output_values[i], &len);
            v = bytes ? json_stringn(bytes, len) : NULL;
        }
        crun_error_clear(&err);
        json_object_set_new(out, res->output_names[i], v ? v : json_null());
    }
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROJECT_DIR [PARAMS_JSON [RUNS]]\n", argv[0]);
        return 2;
    }
    crun_error err = CRUN_ERROR_INIT;
    json_t *params = NULL;
    if (argc > 2) {
        json_error_t jerr;
        if (!(params = json_loads(argv[2], 0, &jerr))) {
            fprintf(stderr, "embed: PARAMS_JSON: %s\n", jerr.text);
            return 2;
        }
    }
    int runs = argc > 3 ? atoi(argv[3]) : 1;

    /* 1. a session: the project loaded once, for one environment */
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = argv[1];
    so.log_level = CRUN_LOG_WARN;
    crun_session *session;
    if (crun_session_open(&so, &session, &err) != 0) {
        fprintf(stderr, "embed: %s\n", err.message);
        crun_error_clear(&err);
        json_decref(params);
        return 2;
    }

    int status = 0;
    for (int i = 0; i < runs && status == 0; i++) {
        /* 2. a run: parameter overrides for this run only, outputs in memory */
        crun_run_options ro = CRUN_RUN_OPTIONS_INIT;
        ro.params = params;
        ro.memory_outputs = true;
        ro.collect_outputs = true;
        crun_run_result res = CRUN_RUN_RESULT_INIT;
        int rc = crun_session_run(session, &ro, &res, &err);
        if (rc != 0) {
            fprintf(stderr, "embed: run %s failed%s%s: %s\n", res.run_id ? res.run_id : "-",
                    res.failed_nodes ? " at node " : "",
                    res.failed_nodes ? res.failed_nodes[0] : "", err.message);
            status = 1;
        } else {
            /* 3. its outputs: values owned by the result until it is cleared */
            json_t *out = outputs_json(&res);
            char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", text ? text : "null");
            free(text);
            json_decref(out);
        }
        crun_run_result_clear(&res);
        crun_error_clear(&err);
    }

    crun_session_close(session);
    json_decref(params);
    return status;
}
