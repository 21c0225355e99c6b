/* fuzz_request.c - libFuzzer target for the service's request-to-run path.
 *
 * Each input is a POST /v1/runs body.  It goes through exactly what the
 * service does with one: parse and check it (svc_request_parse), turn it
 * into run options, run it on a tiny project of in-process function nodes
 * (bench library: no processes, no files written), and turn the result into
 * the JSON answer.  A crash, a sanitizer report or a leak is a finding.
 * The project is written to a temporary folder once, in LLVMFuzzerInitialize;
 * the fuzzer's state lives in statics, which is fine for a test program (the
 * no-globals rule is for libcrun and plugins).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service.h"

#ifndef FUZZ_PLUGIN_DIRS
#define FUZZ_PLUGIN_DIRS ""
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static crun_session *session;
static svc_served served;

static void put(const char *dir, const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void quiet(void *user, crun_log_level level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/crun-fuzz-XXXXXX";
    if (!mkdtemp(dir))
        exit(2);
    char sub[4200];
    const char *subs[] = {"conf", "conf/base", "conf/local", "data"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
        mkdir(sub, 0777);
    }
    put(dir, "crun.ini", "[project]\nname = fuzz\n");
    put(dir, "conf/base/pipelines.yml",
        "libraries: {bench: bench}\n"
        "pipelines:\n"
        "  __default__:\n"
        "    nodes:\n"
        "      - {name: a, func: bench.noop, inputs: \"params:x\", outputs: d0}\n"
        "      - {name: b, func: bench.noop, inputs: [d0, \"params:opts\"], outputs: d1}\n"
        "      - {name: copy, func: bench.noop, inputs: table, outputs: table_copy}\n"
        "      - {name: text, func: bench.noop, inputs: note, outputs: note_copy}\n"
        "      - {name: raw, func: bench.noop, inputs: blob, outputs: blob_copy}\n");
    put(dir, "conf/base/parameters.yml",
        "x: 1\nopts: {rate: 0.5, name: n, flags: [a], deep: {k: 1, on: true}, none: null}\n");
    put(dir, "conf/base/catalog.yml",
        "table: {type: csv, filepath: data/table.csv}\n"
        "note: {type: text, filepath: data/note.txt}\n"
        "blob: {type: bytes, filepath: data/blob.bin}\n");
    put(dir, "data/table.csv", "id,name\n1,a\n");
    put(dir, "data/note.txt", "hello\n");
    put(dir, "data/blob.bin", "\x01\x02");
    crun_session_options so = CRUN_SESSION_OPTIONS_INIT;
    so.project_dir = dir;
    so.builtin_plugin_dir = FUZZ_PLUGIN_DIRS;
    so.log_level = CRUN_LOG_ERROR;
    so.log_fn = quiet;
    so.no_hooks = true;
    crun_error err = CRUN_ERROR_INIT;
    if (crun_session_open(&so, &session, &err) != 0 ||
        svc_served_init(&served, session, NULL, NULL, "sequential", &err) != 0) {
        fprintf(stderr, "fuzz_request: %s\n", err.message);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    svc_request req;
    char *error = NULL;
    int status = svc_request_parse(&served, (const char *)data, size, &req, &error);
    if (status) {
        if (status != 400 || !error)
            abort(); /* a refusal always names the problem */
        char *body = svc_error_body("%s", error);
        free(body);
        free(error);
        return 0;
    }
    crun_run_options ro;
    crun_filter filter;
    svc_request_options(&served, &req, &ro, &filter);
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    crun_error err = CRUN_ERROR_INIT;
    int rc = crun_session_run(session, &ro, &res, &err);
    json_t *answer = NULL;
    int http = svc_result_json(&served, rc, &err, &res, &answer);
    if (!answer || (rc == 0) != (http == 200))
        abort();
    char *text = json_dumps(answer, JSON_COMPACT);
    if (!text)
        abort();
    free(text);
    json_decref(answer);
    crun_run_result_clear(&res);
    crun_error_clear(&err);
    svc_request_clear(&req);
    return 0;
}
