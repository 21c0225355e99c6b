#!/usr/bin/env bash
# The page of `crun viz --format html` as a user works with it at 1400x900 in
# headless Chromium: the legend covers no node, a parameter's value shows in
# the details panel, the search box and the tag filter fade out what does not
# match.  The page's script writes what it measured into <body data-*>, which
# the tests read from Chromium's DOM dump (tests/viz/render.sh).  Skipped
# (status 77) when Chromium is not installed.
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

run_tests "$@"
