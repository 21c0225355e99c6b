#!/usr/bin/env bash
# `crun viz`: the pipeline as DOT (checked with Graphviz), Mermaid, and one
# self-contained HTML page that headless Chromium renders offline without a
# console message, showing every node of the demo; with a run's events the
# page colours nodes by status and duration.  tests/viz/render.sh drives
# Chromium; the screenshots stay in the test's folder while it runs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

RENDER=$CRUN_SOURCE_DIR/tests/viz/render.sh
DEMO_EVENTS=$CRUN_SOURCE_DIR/tests/viz/demo-events.jsonl
DEMO_NODES="preprocess_companies preprocess_shuttles create_model_input_table split_data
train_model evaluate_model render_report"

# Render PAGE in Chromium into folder OUT: $RENDERED holds render.sh's line.
expect_renders()
{
    e2e_checked
    command -v chromium >/dev/null 2>&1 || fail "chromium is not installed (bootstrap.sh installs it)"
    RENDERED=$(bash "$RENDER" "$1" "$2" 2>"$E2E_DIR/.render") ||
        fail "the page did not render cleanly: $RENDERED $(cat "$E2E_DIR/.render")"
}

# The value of attribute ATTR of the element with data-node="NODE" in DOM.
node_attr()
{
    python3 - "$1" "$2" "$3" <<'PY'
import sys
from html.parser import HTMLParser
dom, node, attr = sys.argv[1:]
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("data-node") == node:
            print(a.get(attr, ""))
P().feed(open(dom).read())
PY
}

# --- dot and mermaid ------------------------------------------------------------

test_viz_dot_draws_every_node_and_dataset()
{
    run_crun viz --project "$CRUN_SOURCE_DIR"
    expect_status 0
    expect_stdout_contains "digraph \"spaceflights\""
    local n
    for n in $DEMO_NODES; do
        expect_stdout_contains "\"n:$n\" [label=\"$n\""
    done
    expect_stdout_contains "\"d:companies\" [label=\"companies\", shape=cylinder"
    expect_stdout_contains "\"d:X_train\" [label=\"X_train\", shape=ellipse, style=dashed"
    expect_stdout_contains "\"d:params:model_options\" -> \"n:split_data\";"
    expect_stdout_contains "\"n:split_data\" -> \"d:X_train\";"
    e2e_checked
    command -v dot >/dev/null 2>&1 || fail "graphviz is not installed (bootstrap.sh installs it)"
    dot -Tsvg "$OUT" >graph.svg 2>dot.err || fail "dot refused it: $(cat dot.err)"
    for n in $DEMO_NODES; do
        expect_eq "$(grep -c ">$n</text>" graph.svg)" 1 "$n in the SVG"
    done
}

test_viz_mermaid_flowchart()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --format mermaid
    expect_status 0
    expect_stdout_contains "flowchart TB"
    local n
    for n in $DEMO_NODES; do
        expect_stdout_contains "[\"$n\"]:::"
    done
    expect_stdout_contains "[(\"companies\")]:::catalog"
    expect_stdout_contains "([\"X_train\"]):::memory"
    expect_stdout_contains "{{\"params:model_options\"}}:::params"
    # one arrow per input and output of the demo's nodes
    expect_eq "$(grep -c -- ' --> ' "$OUT")" 24 "edges"
}

test_viz_mermaid_escapes_labels()
{
    make_project p
    cd p || fail "no project"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: "say#<hi>&"
        cmd: [sh, -c, "echo > {outputs.o}"]
        outputs: {o: "out\"quoted"}
EOF
    run_crun viz --format mermaid
    expect_status 0
    expect_stdout_contains '["say#35;#lt;hi#gt;#amp;"]:::cmd'
    expect_stdout_contains '(["out#quot;quoted"]):::memory'
}

test_viz_format_follows_output_extension()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" -o p.mmd
    expect_status 0
    expect_eq "$(head -n 2 p.mmd | tail -n 1)" "flowchart TB" "p.mmd"
    run_crun viz --project "$CRUN_SOURCE_DIR" -o p.gv
    expect_status 0
    grep -q '^digraph' p.gv || fail "p.gv is not DOT"
    run_crun viz --project "$CRUN_SOURCE_DIR" -o p.html
    expect_status 0
    grep -q '^<!DOCTYPE html>' p.html || fail "p.html is not HTML"
    expect_eq "$STDOUT" "" "stdout with -o"
}

test_viz_follows_filters()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --pipeline data_science
    expect_status 0
    expect_stdout_contains '"n:train_model"'
    expect_stdout_lacks '"n:preprocess_companies"'
    expect_stdout_lacks '"n:render_report"'
}

test_viz_refuses_bad_usage()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --format svg
    expect_status 2
    expect_stderr_contains "--format must be dot, mermaid or html, got 'svg'"
    run_crun viz --project "$CRUN_SOURCE_DIR" --events "$DEMO_EVENTS"
    expect_status 2
    expect_stderr_contains "--events needs --format html"
    run_crun viz extra --project "$CRUN_SOURCE_DIR"
    expect_status 2
    expect_stderr_contains "unexpected argument 'extra'"
}

# --- the html page ------------------------------------------------------------------

test_viz_html_is_self_contained()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --format html -o page.html
    expect_status 0
    # the only URL is the SVG namespace: no script, style, font or image is fetched
    expect_eq "$(grep -o 'https\?://[^"'"'"' )]*' page.html | sort -u | tr '\n' ' ')" \
        "http://www.w3.org/2000/svg " "URLs in the page"
    ! grep -qiE '<script[^>]+src=|<link |@import|<img |<iframe' page.html ||
        fail "the page loads something from elsewhere"
    e2e_checked
    expect_eq "$(grep -c 'id="crun-ir"' page.html)" 1 "embedded IR"
}

test_viz_html_shows_every_demo_node_in_chromium()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --format html -o demo.html
    expect_status 0
    expect_renders demo.html shot
    # every node drawn and inside the 1600x1000 window, none cut off
    expect_eq "$RENDERED" "rendered=7 visible=7 events=0 error=none" "render"
    local n
    for n in $DEMO_NODES; do
        expect_eq "$(grep -c "data-node=\"$n\"" shot/dom.html)" 1 "node $n in the DOM"
    done
    expect_eq "$(head -c 8 shot/screenshot.png | od -An -tx1 | tr -d ' \n')" "89504e470d0a1a0a" "PNG"
}

test_viz_html_selects_a_node_from_the_url()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --format html -o demo.html
    expect_status 0
    expect_renders "demo.html#node=split_data" shot
    # the details panel: function, inputs, outputs, tags
    python3 - shot/dom.html <<'PY' || fail "details of split_data: $(grep -o '<aside.*</aside>' shot/dom.html | head -c 600)"
import re, sys
aside = re.search(r'<aside id="details">(.*?)</aside>', open(sys.argv[1]).read(), re.S).group(1)
text = re.sub(r"<[^>]+>", "", aside)
for want in ["split_data", "demo.split_data", "inputs", "data: model_input_table",
             "parameters: params:model_options", "outputs", "X_train", "y_test", "tags"]:
    assert want in text, (want, text)
PY
    e2e_checked
}

test_viz_html_colours_nodes_by_the_runs_events()
{
    run_crun viz --project "$CRUN_SOURCE_DIR" --format html --events "$DEMO_EVENTS" -o run.html
    expect_status 0
    expect_renders run.html shot
    expect_eq "$RENDERED" "rendered=7 visible=7 events=12 error=none" "render"
    # the last run in the file (r2) is shown
    expect_eq "$(node_attr shot/dom.html preprocess_companies data-status)" ok "preprocess_companies"
    expect_eq "$(node_attr shot/dom.html preprocess_shuttles data-status)" ok "preprocess_shuttles"
    expect_eq "$(node_attr shot/dom.html create_model_input_table data-status)" failed "create_model_input_table"
    expect_eq "$(node_attr shot/dom.html train_model data-status)" none "train_model"
    expect_eq "$(node_attr shot/dom.html preprocess_shuttles data-duration)" 2.000000 "duration"
    # the error message, which holds "</script>", stays text
    grep -q 'missing \\u003c/script\\u003e\\u003cb\\u003e' run.html || fail "the events were not escaped"
    e2e_checked
}

test_viz_html_survives_markup_in_names_and_commands()
{
    make_project p
    cd p || fail "no project"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: "<b>bold</b>"
        cmd: [sh, -c, "echo '</script><script>document.body.dataset.error=1</script>' > {outputs.o}"]
        outputs: {o: "<!--x"}
EOF
    run_crun viz --format html -o p.html
    expect_status 0
    expect_renders p.html shot
    expect_eq "$RENDERED" "rendered=1 visible=1 events=0 error=none" "render"
    expect_eq "$(grep -c 'data-node="&lt;b&gt;bold&lt;/b&gt;"' shot/dom.html)" 1 "the node, as text"
}

test_viz_events_of_a_real_run()
{
    [ -f "$CRUN_BUILD_DIR/plugins/hooks/events/events.so" ] || {
        echo "note: no events hook plugin in this build; skipping"
        e2e_checked
        return 0
    }
    make_project p
    cd p || fail "no project"
    printf '[hooks]\nevents = path=%s/events.jsonl\n' "$PWD" >>crun.ini
    run_crun
    expect_status 0
    [ -s events.jsonl ] || fail "the events hook wrote nothing"
    run_crun viz --format html --events events.jsonl -o run.html
    expect_status 0
    expect_renders run.html shot
    expect_eq "$(node_attr shot/dom.html make_count data-status)" ok "make_count"
    expect_eq "$(node_attr shot/dom.html greet data-status)" ok "greet"
}

test_viz_events_file_errors()
{
    printf '{"event":"before_node_run","run_id":"r","time":1,"node":"a"}\nnot json\n' >bad.jsonl
    run_crun viz --project "$CRUN_SOURCE_DIR" --format html --events bad.jsonl
    expect_status 2
    expect_stderr_contains "bad.jsonl:2: not an event"
    run_crun viz --project "$CRUN_SOURCE_DIR" --format html --events missing.jsonl
    expect_status 2
    expect_stderr_contains "cannot open missing.jsonl"
    # a last line still being written is skipped
    printf '{"event":"before_node_run","run_id":"r","time":1,"node":"split_data"}\n{"event":"aft' >partial.jsonl
    run_crun viz --project "$CRUN_SOURCE_DIR" --format html --events partial.jsonl -o p.html
    expect_status 0
    grep -q '"node":"split_data"}\]</script>' p.html || fail "the complete line was not embedded"
}

# viz and export run nothing: hooks are not started (an events hook would
# create its file, and a hook missing on this machine would stop them).
test_viz_and_export_start_no_hooks()
{
    make_project p
    cd p || fail "no project"
    printf '[hooks]\nno_such_hook =\n' >>crun.ini
    run_crun viz
    expect_status 0
    run_crun export argo
    expect_status 0
    run_crun
    expect_status 2
    expect_stderr_contains "no_such_hook"
}

run_tests "$@"
