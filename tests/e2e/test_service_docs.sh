#!/usr/bin/env bash
# docs/service.md's requests, as written there, against the demo project
# (the repository's conf/ and data/01_raw) served on a free port: each gets
# the answer the page shows.  And a command node's text output comes back as
# a string, not base64.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=service_lib.sh
. "$(dirname "$0")/service_lib.sh"

DOC=$CRUN_SOURCE_DIR/docs/service.md

demo_service()
{
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" .
    mkdir -p data && cp -r "$CRUN_SOURCE_DIR/data/01_raw" data/
    export CRUN_SERVICE_PORT=0
    start_service --env prod
}

# The JSON bodies of the page's `curl -d '...'` lines (one per line).
doc_curl_bodies()
{
    python3 - "$DOC" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for body in re.findall(r"curl -d '([^']*)'", text):
    print(body)
PY
}

# The POST /v1/runs example block, its // comments dropped.
doc_run_example()
{
    python3 - "$DOC" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
block = text.split("### POST /v1/runs", 1)[1].split("\n\n", 2)[1]
lines = [re.sub(r"\s*//.*$", "", l) for l in block.splitlines()]
print(json.dumps(json.loads("\n".join(lines))))
PY
}

test_the_pages_requests_answer_as_shown()
{
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; return 0; }
    demo_service
    http GET /healthz
    expect_http 200
    local body n=0
    while IFS= read -r body; do
        n=$((n + 1))
        http POST /v1/runs "$body"
        expect_http 200
        expect_eq "$(body 'd["status"]')" succeeded "status of $body"
        expect_eq "$(body 'sorted(d["outputs"])')" '["report"]' "outputs of $body"
        expect_body_contains '# Spaceflights: price model'
    done < <(doc_curl_bodies)
    expect_eq "$n" 1 "curl examples in the page"
    body=$(doc_run_example) || fail "the POST /v1/runs example is not JSON once its comments go"
    http POST /v1/runs "$body"
    expect_http 200
    expect_eq "$(body 'd["status"]')" succeeded "status"
    expect_eq "$(body 'd["outputs"]["preprocessed_companies"]["rows"]')" \
        '[[3888, 1.0, "Isle of Man", 1.0, 0]]' "the example's output"
    expect_eq "$(body 'sorted(d["timings"])')" '["preprocess_companies"]' "timings"
    stop_service
    expect_clean_exit
}

test_a_command_nodes_text_comes_back_as_a_string()
{
    [ "$HAVE_PYTHON" = 1 ] || { e2e_checked; return 0; }
    service_project
    write_file conf/base/pipelines.yml <<'YML'
pipelines:
  __default__:
    nodes:
      - name: count
        cmd: [sh, -c, "echo $(( $(cat {inputs.x}) * 15 )) > {outputs.n}"]
        inputs: {x: "params:x"}
        outputs: {n: n}
      - name: raw
        cmd: [sh, -c, "printf '\\001\\002' > {outputs.b}"]
        outputs: {b: raw}
YML
    start_service
    http POST /v1/runs '{}'
    expect_http 200
    expect_eq "$(body 'd["outputs"]["n"]')" 15 "text output"
    expect_body_contains '"n":"15\n"'
    # bytes that are not text stay base64
    expect_eq "$(body 'd["outputs"]["raw"]["base64"]')" AQI= "binary output"
    stop_service
    expect_clean_exit
}

run_tests "$@"
