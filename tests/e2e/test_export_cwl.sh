#!/usr/bin/env bash
# `crun export cwl`: the CWL v1.2 Workflow is accepted by cwltool --validate
# and run by cwltool --no-container with crun on PATH, giving the metrics of
# `crun run` (to 1e-9), also with a job file overriding a parameter as
# --params does; memory datasets join their producer and consumers in one
# step.  Skipped (exit 77) when cwltool is not installed: apt-get install cwltool.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v cwltool >/dev/null 2>&1; then
    echo "SKIP: cwltool is not installed (apt-get install cwltool), so no CWL engine can check the export"
    exit 77
fi
# the crun under test is the one the workflow's steps find first on PATH
PATH=$(dirname "$CRUN"):$PATH
export PATH

demo_project()
{
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" . || fail "cannot copy the demo"
    mkdir -p data && cp -r "$CRUN_SOURCE_DIR/data/01_raw" data/ || fail "cannot copy the data"
}

# cwltool, quietly: its log in cwltool.log, the outputs in DIR.
run_cwltool()
{
    local dir=$1
    shift
    e2e_checked
    timeout -k 5 120 cwltool --quiet --no-container --outdir "$dir" "$@" >cwltool.json 2>cwltool.log ||
        fail "cwltool failed: $(tail -c 600 cwltool.log)"
}

# The numbers of two metrics files agree to 1e-9 (and have the same keys).
expect_same_metrics()
{
    e2e_checked
    python3 - "$1" "$2" <<'PY' || fail "metrics differ: $(cat "$1") vs $(cat "$2")"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a.keys() == b.keys() and a, (a, b)
assert all(abs(a[k] - b[k]) <= 1e-9 for k in a), (a, b)
PY
}

test_cwltool_validates_the_demo_export()
{
    demo_project
    run_crun export cwl -o cwl
    expect_status 0
    e2e_checked
    cwltool --validate cwl/workflow.cwl >validate.log 2>&1 || fail "cwltool --validate: $(tail -c 600 validate.log)"
    grep -q "is valid CWL" validate.log || fail "cwltool said: $(tail -c 300 validate.log)"
}

test_cwltool_runs_the_demo_with_the_metrics_of_crun_run()
{
    demo_project
    run_crun export cwl -o cwl
    expect_status 0
    run_cwltool out cwl/workflow.cwl
    [ -f out/metrics.json ] || fail "no metrics.json among the outputs: $(ls out)"
    run_crun run -q
    expect_status 0
    expect_same_metrics out/metrics.json data/08_reporting/metrics.json/*/metrics.json
    grep -q '^| r2_score |' out/report.md || fail "the report step did not see the metrics"
}

test_a_job_file_overrides_a_parameter_as_params_does()
{
    demo_project
    run_crun export cwl -o cwl
    printf 'p_model_options_test_size: 0.3\n' >job.yml
    run_cwltool out cwl/workflow.cwl job.yml
    run_crun run -q --params model_options.test_size=0.3
    expect_status 0
    expect_same_metrics out/metrics.json data/08_reporting/metrics.json/*/metrics.json
    # and the override mattered: the defaults give other metrics
    rm -rf data/08_reporting
    run_crun run -q
    e2e_checked
    ! cmp -s out/metrics.json data/08_reporting/metrics.json/*/metrics.json ||
        fail "test_size 0.3 gave the metrics of the default 0.2"
}

# Three command nodes: a -> memory m -> c, a -> file f -> b -> file g -> c.
# Grouping a and c for m closes a cycle with b, so all three are one step.
grouped_project()
{
    make_project .
    cat >conf/base/pipelines.yml <<'YML'
pipelines:
  __default__:
    nodes:
      - name: a
        cmd: [sh, -c, "cat {inputs.label} > {outputs.m}; echo f > {outputs.f}"]
        inputs: {label: "params:label"}
        outputs: {m: m, f: f}
      - name: b
        cmd: [sh, -c, "cat {inputs.f} > {outputs.g}"]
        inputs: {f: f}
        outputs: {g: g}
      - name: c
        cmd: [sh, -c, "cat {inputs.m} {inputs.g} > {outputs.out}"]
        inputs: {m: m, g: g}
        outputs: {out: out}
      - name: d
        cmd: [sh, -c, "tr a-z A-Z < {inputs.out} > {outputs.up}"]
        inputs: {out: out}
        outputs: {up: up}
YML
    cat >conf/base/catalog.yml <<'YML'
f: {type: text, filepath: data/f.txt}
g: {type: text, filepath: data/g.txt}
out: {type: text, filepath: data/out.txt}
up: {type: text, filepath: data/up.txt}
YML
    printf 'count: 3\nlabel: "007"\n' >conf/base/parameters.yml
}

test_memory_datasets_join_their_nodes_into_one_step_and_strings_stay_strings()
{
    grouped_project
    run_crun export cwl -o cwl
    expect_status 0
    e2e_checked
    python3 - cwl/workflow.cwl <<'PY' || fail "steps: $(grep -A3 -- '--nodes' cwl/workflow.cwl)"
import sys, yaml
wf = yaml.safe_load(open(sys.argv[1]))
steps = {k: v["in"]["args"]["default"] for k, v in wf["steps"].items()}
assert sorted(steps) == ["a", "d"], steps
assert steps["a"][:2] == ["--nodes", "a,b,c"], steps
assert "--input" not in steps["a"] and "out=out.txt" in steps["a"], steps
assert steps["d"][:4] == ["--nodes", "d", "--input", "out=out.txt"], steps
PY
    printf 'p_label: "42"\n' >job.yml
    run_cwltool out cwl/workflow.cwl job.yml
    expect_file_content out/up.txt '"42"F'
    expect_no_file data/out.txt
}

test_image_is_a_docker_hint_and_bad_options_are_refused()
{
    demo_project
    run_crun export cwl --image registry.example/crun:1 -o cwl
    expect_status 0
    e2e_checked
    python3 -c 'import sys, yaml; t = yaml.safe_load(open(sys.argv[1])); assert t["hints"]["DockerRequirement"]["dockerPull"] == "registry.example/crun:1" and "DockerRequirement" not in t.get("requirements", {})' \
        cwl/crun-node.cwl || fail "no DockerRequirement hint: $(cat cwl/crun-node.cwl)"
    run_crun export cwl --pvc claim -o cwl2
    expect_status 2
    expect_stderr_contains "crun export cwl takes --image and -o DIR only"
    expect_no_file cwl2
}

run_tests "$@"
