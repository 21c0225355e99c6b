#!/usr/bin/env bash
# `crun export kfp`: a Kubeflow Pipelines v2 PipelineSpec, checked offline by
# tests/kfp/check_pipeline_spec.py (the fields of kfp's pipeline_spec.proto and the
# references between tasks, components and executors) for the demo and generated
# pipelines of 1, 2 and 500 nodes; broken specs fail the checker; the tasks, run
# as KFP's launcher would (placeholders filled in, in dependency order), give the
# metrics of `crun run`; retries and caching.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CHECKER=$CRUN_SOURCE_DIR/tests/kfp/check_pipeline_spec.py

if [ "$HAVE_PYTHON" != 1 ] || ! python3 -c 'import yaml' 2>/dev/null; then
    echo "SKIP: the checker needs python3 with PyYAML (apt-get install python3-yaml)"
    exit 77
fi

demo_project()
{
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" . || fail "cannot copy the demo"
    mkdir -p data && cp -r "$CRUN_SOURCE_DIR/data/01_raw" data/ || fail "cannot copy the data"
}

# A project of n command nodes n0..n<n-1>: node i reads the datasets of nodes
# i-1 and i/2 and writes its own, d<i>, a catalog file (memory: all in memory).
dag_project()
{
    local dir=$1 n=$2 kind=${3:-files} i
    make_project "$dir"
    {
        echo "pipelines:"
        echo "  __default__:"
        echo "    nodes:"
        for ((i = 0; i < n; i++)); do
            echo "      - name: n$i"
            if [ "$i" -eq 0 ]; then
                echo "        cmd: [sh, -c, \"echo 0 > {outputs.o}\"]"
            else
                echo "        cmd: [sh, -c, \"cat {inputs.a} {inputs.b} | wc -l > {outputs.o}\"]"
                echo "        inputs: {a: d$((i - 1)), b: d$((i / 2))}"
            fi
            echo "        outputs: {o: d$i}"
        done
    } >"$dir/conf/base/pipelines.yml"
    : >"$dir/conf/base/catalog.yml"
    if [ "$kind" = files ]; then
        for ((i = 0; i < n; i++)); do
            echo "d$i: {type: text, filepath: data/d$i.txt}"
        done >"$dir/conf/base/catalog.yml"
    fi
}

expect_valid_spec()
{
    e2e_checked
    python3 "$CHECKER" "$1" --one-image >check.log 2>&1 || fail "checker: $(head -c 700 check.log)"
    grep -q "^OK PipelineSpec: $2 tasks" check.log || fail "expected $2 tasks: $(cat check.log)"
}

# FILE with python (d = the spec) applied: the checker must refuse it, saying WORD.
expect_broken()
{
    e2e_checked
    python3 - "$1" "$2" <<'PY' >broken.yaml || fail "cannot break the spec"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
exec(sys.argv[2])
print(yaml.safe_dump(d))
PY
    ! python3 "$CHECKER" broken.yaml >broken.log 2>&1 || fail "the checker accepted: $2"
    grep -qF -- "$3" broken.log || fail "the checker said $(head -c 400 broken.log), not '$3'"
}

spec_query()
{
    python3 -c 'import sys, yaml, json; d = yaml.safe_load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2]), sort_keys=True))' "$1" "$2"
}

test_the_demo_export_passes_the_checker()
{
    demo_project
    run_crun export kfp -o spec.yaml
    expect_status 0
    expect_valid_spec spec.yaml 5
    expect_eq "$(spec_query spec.yaml 'd["schemaVersion"], d["pipelineInfo"]["name"]')" \
        '["2.1.0", "spaceflights"]' "schema version and name"
    expect_eq "$(spec_query spec.yaml 'sorted(d["root"]["inputDefinitions"]["parameters"])')" \
        '["p_model_options_features", "p_model_options_random_state", "p_model_options_test_size"]' \
        "pipeline parameters"
    expect_eq "$(spec_query spec.yaml 'd["root"]["dag"]["tasks"]["render-report"]["inputs"]["artifacts"]["metrics"]')" \
        '{"taskOutputArtifact": {"outputArtifactKey": "metrics", "producerTask": "split-data"}}' \
        "the report reads the metrics of the grouped split_data step"
    run_crun export kfp --format json -o spec.json
    expect_valid_spec spec.json 5
}

test_generated_pipelines_of_1_2_and_500_nodes_pass()
{
    local n
    for n in 1 2 500; do
        dag_project "p$n" "$n"
        (cd "p$n" && "$CRUN" export kfp -o ../spec$n.yaml) || fail "export of $n nodes"
        expect_valid_spec "spec$n.yaml" "$n"
    done
    expect_eq "$(spec_query spec500.yaml 'sorted(d["root"]["dag"]["tasks"]["n499"]["dependentTasks"])')" \
        '["n249", "n498"]' "dependencies of n499"
    # all in memory: one step runs every node
    dag_project mem 500 memory
    (cd mem && "$CRUN" export kfp -o ../mem.yaml) || fail "export of 500 memory nodes"
    expect_valid_spec mem.yaml 1
}

test_hand_broken_specs_fail_the_checker()
{
    demo_project
    run_crun export kfp -o spec.yaml
    expect_valid_spec spec.yaml 5
    local t='d["root"]["dag"]["tasks"]'
    expect_broken spec.yaml "$t[\"split-data\"][\"retryPolicies\"] = {}" "unknown field 'retryPolicies'"
    expect_broken spec.yaml "$t[\"split-data\"][\"componentRef\"][\"name\"] = \"comp-nope\"" \
        "componentRef 'comp-nope' is not a component"
    expect_broken spec.yaml "del d[\"deploymentSpec\"][\"executors\"][\"exec-split-data\"]" \
        "executorLabel 'exec-split-data' is not an executor"
    expect_broken spec.yaml "$t[\"render-report\"][\"dependentTasks\"] = []" \
        "without depending on it"
    expect_broken spec.yaml "$t[\"render-report\"][\"inputs\"][\"artifacts\"][\"metrics\"][\"taskOutputArtifact\"][\"outputArtifactKey\"] = \"metric\"" \
        "has no output artifact 'metric'"
    expect_broken spec.yaml "d[\"components\"][\"comp-render-report\"][\"inputDefinitions\"][\"artifacts\"].pop(\"metrics\")" \
        "names inputs artifacts 'metrics'"
    expect_broken spec.yaml "$t[\"split-data\"][\"dependentTasks\"].append(\"render-report\")" "a cycle"
    expect_broken spec.yaml "d[\"schemaVersion\"] = \"2.0.0\"" "schemaVersion"
    expect_broken spec.yaml "$t[\"split-data\"][\"cachingOptions\"][\"enableCache\"] = \"yes\"" \
        "expected a bool"
}

# Run every task of SPEC as KFP's launcher would: placeholders filled in
# (parameters from JOB's values or the defaults, artifacts as files under
# art/), in the order of dependentTasks.
run_like_kfp()
{
    e2e_checked
    python3 - "$1" "${2:-{\}}" <<'PY' >kfp.log 2>&1 || fail "a task failed: $(tail -c 600 kfp.log)"
import json, os, re, subprocess, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
values = {k: v.get("defaultValue") for k, v in d["root"]["inputDefinitions"]["parameters"].items()}
values.update(json.loads(sys.argv[2]))
tasks, done = d["root"]["dag"]["tasks"], []
def render(v):
    return v if isinstance(v, str) else json.dumps(v)
while len(done) < len(tasks):
    for name, t in tasks.items():
        if name in done or any(x not in done for x in t.get("dependentTasks", [])):
            continue
        comp = d["components"][t["componentRef"]["name"]]
        ex = d["deploymentSpec"]["executors"][comp["executorLabel"]]["container"]
        ins = t.get("inputs", {})
        def fill(m):
            io, kind, key = m.group(1), m.group(2), m.group(3)
            if kind == "parameters":
                return render(values[ins["parameters"][key]["componentInputParameter"]])
            if io == "outputs":
                os.makedirs(f"art/{name}", exist_ok=True)
                return os.path.abspath(f"art/{name}/{key}")
            src = ins["artifacts"][key]["taskOutputArtifact"]
            return os.path.abspath(f"art/{src['producerTask']}/{src['outputArtifactKey']}")
        rx = r"\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](?:\.path)?\}\}"
        argv = [re.sub(rx, fill, a) for a in ex["command"] + ex["args"]]
        subprocess.run(argv, check=True)
        done.append(name)
PY
}

test_the_tasks_run_as_kfp_would_give_the_metrics_of_crun_run()
{
    demo_project
    run_crun export kfp --workdir "$PWD" -o spec.yaml
    expect_status 0
    PATH=$(dirname "$CRUN"):$PATH run_like_kfp spec.yaml '{"p_model_options_test_size": 0.3}'
    expect_no_file data/08_reporting/report.md  # every output went to its artifact
    run_crun run -q --params model_options.test_size=0.3
    expect_status 0
    e2e_checked
    python3 - art/split-data/metrics data/08_reporting/metrics.json/*/metrics.json <<'PY' ||
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-9 for k in a), (a, b)
PY
        fail "metrics differ: $(cat art/split-data/metrics)"
    grep -q '^| r2_score |' art/render-report/report || fail "no report"
}

test_retry_is_a_retry_policy_and_caching_follows_what_a_step_reads()
{
    make_project .
    cat >conf/base/pipelines.yml <<'YML'
pipelines:
  __default__:
    nodes:
      - name: fetch
        cmd: [sh, -c, "cat {inputs.n} > {outputs.o}"]
        inputs: {n: "params:count"}
        outputs: {o: raw}
        retry: {attempts: 4, delay: 1.5, backoff: 2}
      - name: greet
        cmd: [sh, -c, "echo hello $(cat {inputs.c}) > {outputs.g}"]
        inputs: {c: raw}
        outputs: {g: greeting}
      - name: shout
        cmd: [sh, -c, "tr a-z A-Z < {inputs.g} > {outputs.s}; cat {inputs.x} >/dev/null"]
        inputs: {g: greeting, x: extra}
        outputs: {s: shout}
YML
    cat >conf/base/catalog.yml <<'YML'
raw: {type: text, filepath: data/raw.txt}
greeting: {type: text, filepath: data/greeting.txt}
extra: {type: text, filepath: data/extra.txt}
shout: {type: text, filepath: data/shout.txt}
YML
    run_crun export kfp -o spec.yaml
    expect_status 0
    expect_valid_spec spec.yaml 3
    expect_eq "$(spec_query spec.yaml 'd["root"]["dag"]["tasks"]["fetch"]["retryPolicy"]')" \
        '{"backoffDuration": "1.5s", "backoffFactor": 2.0, "backoffMaxDuration": "3600s", "maxRetryCount": 3}' \
        "retryPolicy"
    expect_eq "$(spec_query spec.yaml 'd["deploymentSpec"]["executors"]["exec-fetch"]["container"]["env"]')" \
        '[{"name": "CRUN_NODE_RETRY", "value": "off"}]' "crun's own retries off under KFP's"
    expect_eq "$(spec_query spec.yaml '"retryPolicy" in d["root"]["dag"]["tasks"]["greet"]')" "false" \
        "no retry for greet"
    expect_eq "$(spec_query spec.yaml '[d["root"]["dag"]["tasks"][t]["cachingOptions"]["enableCache"] for t in ("fetch", "greet", "shout")]')" \
        '[true, true, false]' "cached unless reading a file of the project folder"
}

test_bad_options_are_refused()
{
    demo_project
    run_crun export kfp --pvc claim -o spec.yaml
    expect_status 2
    expect_stderr_contains "crun export kfp takes"
    run_crun export kfp --workdir rel -o spec.yaml
    expect_status 2
    expect_stderr_contains "--workdir: 'rel' is not an absolute path"
    expect_no_file spec.yaml
    run_crun export kfp --memory lots -o spec.yaml
    expect_status 2
    expect_stderr_contains "--memory: 'lots' is not a Kubernetes quantity"
    run_crun export kfp --cpu 500m --memory 2Gi -o spec.yaml
    expect_status 0
    expect_eq "$(spec_query spec.yaml 'd["deploymentSpec"]["executors"]["exec-split-data"]["container"]["resources"]')" \
        '{"resourceCpuRequest": "500m", "resourceMemoryLimit": "2Gi", "resourceMemoryRequest": "2Gi"}' \
        "resources"
    expect_valid_spec spec.yaml 5
}

run_tests "$@"
