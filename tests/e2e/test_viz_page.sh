#!/usr/bin/env bash
# The page of `crun viz --format html` as a user works with it at 1400x900 in
# headless Chromium: the legend covers no node, a parameter's value shows in
# the details panel, the search box and the tag filter fade out what does not
# match.  The page's script writes what it measured into <body data-*>, which
# the tests read from Chromium's DOM dump (tests/viz/render.sh).  Skipped
# (status 77) when Chromium is not installed.  `crun viz --serve` is watched
# while a run with a slow node goes on: its states JSON (curl) and its page
# (Chromium, screenshots in the test's folder) show the node running, then ok.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null 2>&1 || {
    echo "SKIP: chromium is not installed (Debian: apt-get install chromium; bootstrap.sh installs it)"
    exit 77
}

RENDER=$CRUN_SOURCE_DIR/tests/viz/render.sh

# Render PAGE at 1400x900 into folder OUT, checking the script ran cleanly.
render_1400()
{
    e2e_checked
    RENDERED=$(bash "$RENDER" "$1" "$2" 1400,900 2>"$E2E_DIR/.render") ||
        fail "the page did not render cleanly: $RENDERED $(cat "$E2E_DIR/.render")"
}

# The value of data-ATTR on <body> in DOM.
body_attr()
{
    sed -n "s/.*<body[^>]*data-$2=\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1
}

# The data-status of node NODE in DOM.
node_status()
{
    python3 - "$1" "$2" <<'PY'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("data-node") == sys.argv[2]:
            print(a.get("data-status", ""))
P().feed(open(sys.argv[1]).read())
PY
}

# "NAME=in|out" per node in DOM, sorted, one line.
node_filters()
{
    python3 - "$1" <<'PY'
import sys
from html.parser import HTMLParser
out = []
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-node" in a:
            out.append("%s=%s" % (a["data-node"], a.get("data-filtered", "?")))
P().feed(open(sys.argv[1]).read())
print(" ".join(sorted(out)))
PY
}

test_legend_covers_no_node_at_1400x900()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" -o demo.html
    expect_status 0
    render_1400 demo.html shot
    expect_eq "$RENDERED" "rendered=7 visible=7 events=0 error=none" "render"
    # the legend and zoom bar's box against every node's and dataset's box
    expect_eq "$(body_attr shot/dom.html covered)" 0 "vertices under the legend"
    expect_eq "$(grep -c 'id="legend"' shot/dom.html)" 1 "the legend"
}

test_parameter_values_in_the_page_and_the_panel()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" -o demo.html
    expect_status 0
    grep -q '"parameters":{"model_options":{"test_size":0.2[0-9]*,"random_state":0' demo.html ||
        fail "the parameter values are not in the page"
    render_1400 "demo.html#dataset=params:model_options" shot
    python3 - shot/dom.html <<'PY' || fail "the value of params:model_options: $(grep -o '<aside.*</aside>' shot/dom.html | head -c 600)"
import json, re, sys
aside = re.search(r'<aside id="details">(.*?)</aside>', open(sys.argv[1]).read(), re.S).group(1)
value = re.search(r'<pre class="value">(.*?)</pre>', aside, re.S).group(1)
v = json.loads(value.replace("&quot;", '"'))
assert v["test_size"] == 0.2 and v["random_state"] == 0 and "crew" in v["features"], v
PY
    # one leaf of the tree, in a project of its own
    make_project p
    cd p || fail "no project"
    write_file conf/base/parameters.yml <<'EOF2'
opts: {rate: 0.75, label: "<b>x</b>"}
EOF2
    write_file conf/base/pipelines.yml <<'EOF2'
pipelines:
  __default__:
    nodes:
      - name: use
        cmd: [sh, -c, "cat {inputs.rate} > {outputs.o}"]
        inputs: {rate: "params:opts.rate", label: "params:opts.label"}
        outputs: {o: out}
EOF2
    run_crun viz -o p.html
    expect_status 0
    render_1400 "p.html#dataset=params:opts.label" shot
    grep -q '<pre class="value">"&lt;b&gt;x&lt;/b&gt;"</pre>' shot/dom.html ||
        fail "the value of params:opts.label: $(grep -o '<aside.*</aside>' shot/dom.html | head -c 600)"
}

test_search_fades_out_what_does_not_match()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" -o demo.html
    expect_status 0
    grep -q 'id="search"' demo.html || fail "no search box"
    render_1400 "demo.html#search=MODEL" shot
    expect_eq "$(body_attr shot/dom.html shown)" 3 "nodes shown"
    expect_eq "$(node_filters shot/dom.html)" "create_model_input_table=in evaluate_model=in \
preprocess_companies=out preprocess_shuttles=out render_report=out split_data=out train_model=in" "filter"
    # without a search everything stays
    render_1400 demo.html all
    expect_eq "$(body_attr all/dom.html shown)" 7 "nodes shown without a search"
}

test_tag_filter_keeps_the_tagged_nodes()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" -o demo.html
    expect_status 0
    grep -q 'id="tag"' demo.html || fail "no tag filter"
    render_1400 "demo.html#tag=preprocessing" shot
    expect_eq "$(node_filters shot/dom.html)" "create_model_input_table=out evaluate_model=out \
preprocess_companies=in preprocess_shuttles=in render_report=out split_data=out train_model=out" "filter"
    # the menu offers the pipeline's tags
    local t
    for t in model preprocessing reporting; do
        grep -q "<option value=\"$t\">$t</option>" shot/dom.html || fail "tag $t is not offered"
    done
    # search and tag together
    render_1400 "demo.html#tag=model&search=train" both
    expect_eq "$(body_attr both/dom.html shown)" 1 "nodes shown"
    expect_eq "$(grep -c 'data-node="train_model"[^>]*data-filtered="in"\|data-filtered="in"[^>]*data-node="train_model"' both/dom.html)" 1 "train_model shown"
}

# The run's status and node NODE's in states.json at URL (python3 reads it).
node_state()
{
    curl -sf "$1states.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)
n = s["nodes"].get(sys.argv[1])
print(s["status"], n["status"] if n else "none")' "$2"
}

test_serve_follows_a_run_in_progress()
{
    [ -f "$CRUN_BUILD_DIR/plugins/hooks/events/events.so" ] || {
        echo "note: no events hook plugin in this build; skipping"
        e2e_checked
        return 0
    }
    command -v curl >/dev/null 2>&1 || fail "curl is not installed"
    make_project p
    cd p || fail "no project"
    printf '[hooks]\nevents = path=%s/events.jsonl\n' "$PWD" >>crun.ini
    write_file conf/base/pipelines.yml <<'EOF2'
pipelines:
  __default__:
    nodes:
      - name: slow
        cmd: [sh, -c, "while [ ! -e go ]; do sleep 0.1; done; echo 1 > {outputs.o}"]
        outputs: {o: mid}
      - name: last
        cmd: [sh, -c, "cat {inputs.i} > {outputs.o}"]
        inputs: {i: mid}
        outputs: {o: greeting}
EOF2
    # crun list hooks shows the events hook; viz --serve follows its file
    # without being told (--events FILE names another)
    run_crun list hooks
    expect_status 0
    expect_stdout_contains "events"
    expect_stdout_contains "\"path\":\"$PWD/events.jsonl\""
    "$CRUN" viz --serve --port 0 >serve.out 2>serve.err &
    local server=$! url="" i
    for i in $(seq 50); do
        url=$(sed -n 's/^crun viz: serving \(http:[^ ]*\) .*/\1/p' serve.out)
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { kill "$server"; fail "the server did not start: $(cat serve.err)"; }
    case $url in http://127.0.0.1:*/) ;; *) kill "$server"; fail "not on loopback: $url" ;; esac
    e2e_checked
    expect_eq "$(node_state "$url" slow)" "none none" "before the run"
    "$CRUN" >run.out 2>run.err &
    local run=$! state=""
    for i in $(seq 100); do
        state=$(node_state "$url" slow)
        [ "$state" = "running running" ] && break
        sleep 0.1
    done
    expect_eq "$state" "running running" "the run and slow while it runs"
    expect_eq "$(node_state "$url" last)" "running none" "last while slow runs"
    # the page, in Chromium, while the run goes on
    RENDERED=$(bash "$RENDER" "$url" during 1400,900 2>"$E2E_DIR/.render") ||
        { touch go; kill "$server"; fail "the served page did not render: $RENDERED $(cat "$E2E_DIR/.render")"; }
    expect_eq "$(node_status during/dom.html slow)" running "slow in the page"
    expect_eq "$(node_status during/dom.html last)" none "last in the page"
    touch go
    wait "$run"
    expect_eq "$?" 0 "the run's exit status"
    expect_eq "$(node_state "$url" slow)" "ok ok" "after the run"
    expect_eq "$(node_state "$url" last)" "ok ok" "last after the run"
    RENDERED=$(bash "$RENDER" "$url" after 1400,900 2>"$E2E_DIR/.render") ||
        { kill "$server"; fail "the served page did not render: $RENDERED"; }
    expect_eq "$(node_status after/dom.html last)" ok "last in the page after the run"
    # a second server on the same port says which port
    local port=${url#http://127.0.0.1:}
    port=${port%/}
    run_crun viz --serve --port "$port"
    expect_status 2
    expect_stderr_contains "cannot listen on 127.0.0.1:$port"
    kill -INT "$server"
    wait "$server"
    expect_eq "$?" 130 "the server's exit status on Ctrl-C"
}

test_serve_refuses_bad_usage()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --serve --port 70000
    expect_status 2
    expect_stderr_contains "--port must be a number from 0 to 65535, got '70000'"
    run_crun viz --project "$CRUN_SOURCE_DIR" --port 8080
    expect_status 2
    expect_stderr_contains "--port needs --serve"
    run_crun viz --project "$CRUN_SOURCE_DIR" --serve -o x.html
    expect_status 2
    expect_stderr_contains "no --format or -o"
}

run_tests "$@"
