#!/usr/bin/env bash
# `crun export argo`: the pipeline as one Argo Workflow, validated offline
# against Argo's published schema with validate-argo.sh --strict (the demo,
# and generated DAGs of 1, 2 and 500 nodes), task names mapped and unique,
# the real node names passed to `crun run --node`, options and errors.
#
#   ARGO_VALIDATE   the validator (default: ../shared/schemas/validate-argo.sh
#                   beside the repository); without it the tests fall back to
#                   the same name and dependency checks in python3, and say so
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${ARGO_VALIDATE:=$CRUN_SOURCE_DIR/../shared/schemas/validate-argo.sh}"

# A project of n command nodes n0..n<n-1>: node i reads the datasets of
# nodes i-1 and i/2 (a DAG with fan-in and long edges) and writes its own.
dag_project()
{
    local dir=$1 n=$2 i
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
}

# FILE is a valid Argo Workflow (the published schema, strict).
expect_valid_workflow()
{
    e2e_checked
    local f=$1 log=$E2E_DIR/.validate
    if [ -x "$ARGO_VALIDATE" ] || [ -f "$ARGO_VALIDATE" ]; then
        bash "$ARGO_VALIDATE" --strict --kind Workflow - <"$f" >"$log" 2>&1 ||
            fail "not a valid Argo Workflow: $(head -c 600 "$log")"
        grep -q "OK Workflow" "$log" || fail "validator said: $(head -c 300 "$log")"
        return 0
    fi
    echo "note: $ARGO_VALIDATE not found: checking names and dependencies only"
    python3 - "$f" <<'PY' || fail "not a valid Argo Workflow (see the log)"
import re, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["apiVersion"] == "argoproj.io/v1alpha1" and d["kind"] == "Workflow"
rx = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
t = {x["name"]: x for x in d["spec"]["templates"]}
tasks = t[d["spec"]["entrypoint"]]["dag"]["tasks"]
names = [x["name"] for x in tasks]
assert len(set(names)) == len(names) and all(rx.match(n) and len(n) <= 128 for n in names)
for x in tasks:
    assert x["template"] in t
    assert all(dep in names for dep in x.get("dependencies", []))
PY
}

# Print EXPR over the parsed YAML document FILE (`d`).
yaml_query()
{
    python3 -c 'import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(r if not isinstance(r, (list, dict)) else json.dumps(r, sort_keys=True))' "$1" "$2"
}

TASKS='d["spec"]["templates"][0]["dag"]["tasks"]'
# node name -> task name, and task name -> its dependencies' node names
NODE_OF='{x["name"]: x["arguments"]["parameters"][0]["value"] for x in '$TASKS'}'

# --- the demo ---------------------------------------------------------------------

test_export_demo_is_a_valid_workflow()
{
    run_crun export argo --project "$CRUN_SOURCE_DIR"
    expect_status 0
    expect_valid_workflow "$OUT"
    expect_eq "$(yaml_query "$OUT" 'len('"$TASKS"')')" 7 "tasks"
    expect_eq "$(yaml_query "$OUT" 'sorted(('"$NODE_OF"').values())')" \
        '["create_model_input_table", "evaluate_model", "preprocess_companies", "preprocess_shuttles", "render_report", "split_data", "train_model"]' \
        "node parameters"
    # dependencies are the IR's depends_on, in task names
    expect_eq "$(yaml_query "$OUT" '[sorted(x.get("dependencies", [])) for x in '"$TASKS"' if x["name"] == "evaluate-model"]')" \
        '[["split-data", "train-model"]]' "evaluate-model's dependencies"
    expect_eq "$(yaml_query "$OUT" 'd["spec"]["templates"][1]["container"]["args"]')" \
        '["run", "--env", "local", "--pipeline", "__default__", "--runner", "sequential", "--node", "{{inputs.parameters.node}}", "--run-id", "{{workflow.name}}"]' \
        "the container's command"
    expect_eq "$(yaml_query "$OUT" 'd["spec"]["templates"][1]["container"]["image"]')" "crun:latest" "image"
    expect_eq "$(yaml_query "$OUT" 'd["spec"]["templates"][1]["container"]["workingDir"]')" "/work" "workingDir"
    expect_eq "$(yaml_query "$OUT" 'd["metadata"]["generateName"]')" "spaceflights-" "generateName"
}

test_export_follows_env_and_pipeline()
{
    run_crun export argo --project "$CRUN_SOURCE_DIR" --env prod --pipeline data_science
    expect_status 0
    expect_valid_workflow "$OUT"
    expect_eq "$(yaml_query "$OUT" 'sorted(x["name"] for x in '"$TASKS"')')" \
        '["evaluate-model", "split-data", "train-model"]' "tasks"
    # split_data's producer is outside the pipeline: no dependency on it
    expect_eq "$(yaml_query "$OUT" '[x.get("dependencies", []) for x in '"$TASKS"' if x["name"] == "split-data"]')" \
        '[[]]' "split-data's dependencies"
    expect_eq "$(yaml_query "$OUT" 'd["spec"]["templates"][1]["container"]["args"][1:5]')" \
        '["--env", "prod", "--pipeline", "data_science"]' "env and pipeline"
}

# --- generated DAGs -----------------------------------------------------------------

test_export_one_node()
{
    dag_project p 1
    cd p || fail "no project"
    run_crun export argo
    expect_status 0
    expect_valid_workflow "$OUT"
    expect_eq "$(yaml_query "$OUT" "$TASKS")" \
        '[{"arguments": {"parameters": [{"name": "node", "value": "n0"}]}, "name": "n0", "template": "crun-node"}]' \
        "the one task"
}

test_export_two_nodes()
{
    dag_project p 2
    cd p || fail "no project"
    run_crun export argo
    expect_status 0
    expect_valid_workflow "$OUT"
    expect_eq "$(yaml_query "$OUT" '[(x["name"], x.get("dependencies")) for x in '"$TASKS"']')" \
        '[["n0", null], ["n1", ["n0"]]]' "tasks and dependencies"
}

test_export_500_nodes()
{
    dag_project p 500
    cd p || fail "no project"
    run_crun export argo -o wf.yaml
    expect_status 0
    expect_valid_workflow wf.yaml
    expect_eq "$(yaml_query wf.yaml 'len('"$TASKS"')')" 500 "tasks"
    # node i depends on i-1 and i/2, named as tasks
    expect_eq "$(yaml_query wf.yaml 'sorted([x for x in '"$TASKS"' if x["name"] == "n499"][0]["dependencies"])')" \
        '["n249", "n498"]' "n499's dependencies"
    expect_eq "$(yaml_query wf.yaml 'sum(len(x.get("dependencies", [])) for x in '"$TASKS"')')" 996 "edges"
}

# Each task's container command, run here in dependency order as Argo would
# run the pods (with {{...}} filled in), makes what a plain `crun` makes: the
# memory dataset between the two nodes crosses through .crun/runs/<run id>/.
test_export_tasks_run_like_the_pipeline()
{
    make_project p
    cd p || fail "no project"
    run_crun export argo --format json -o wf.json
    expect_status 0
    python3 - wf.json >commands.txt <<'PY' || fail "cannot read the workflow"
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["name"]: x for x in d["spec"]["templates"]}
tasks = t[d["spec"]["entrypoint"]]["dag"]["tasks"]
container = t["crun-node"]["container"]
done, order = set(), []
while len(order) < len(tasks):
    for x in tasks:
        if x["name"] not in done and all(dep in done for dep in x.get("dependencies", [])):
            done.add(x["name"]); order.append(x)
for x in order:
    node = x["arguments"]["parameters"][0]["value"]
    args = [a.replace("{{inputs.parameters.node}}", node).replace("{{workflow.name}}", "wf-x1")
            for a in container["args"]]
    print("\t".join(container["command"][1:] + args))
PY
    local line
    while IFS=$'\t' read -r -a line; do
        run_crun "${line[@]}"
        expect_status 0
    done <commands.txt
    expect_ran "make_count greet"
    expect_file_content data/greeting.txt "hello 3"
    e2e_checked
    [ -d .crun/runs/wf-x1 ] || fail "the run id was not the workflow's name"
}

# --- names -----------------------------------------------------------------------------

test_export_maps_node_names_to_unique_task_names()
{
    make_project p
    cd p || fail "no project"
    write_file conf/base/pipelines.yml <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: load.raw, cmd: [sh, -c, "echo a > {outputs.o}"], outputs: {o: a}}
      - {name: load_raw, cmd: [sh, -c, "echo b > {outputs.o}"], outputs: {o: b}}
      - {name: Load-Raw, cmd: [sh, -c, "cat {inputs.a} {inputs.b} > {outputs.o}"], inputs: {a: a, b: b}, outputs: {o: c}}
      - {name: _features.v2_, cmd: [sh, -c, "cat {inputs.c} > {outputs.o}"], inputs: {c: c}, outputs: {o: d}}
      - {name: "yes", cmd: [sh, -c, "cat {inputs.d} > {outputs.o}"], inputs: {d: d}, outputs: {o: e}}
      - {name: "1.5", cmd: [sh, -c, "cat {inputs.e} > {outputs.o}"], inputs: {e: e}, outputs: {o: f}}
EOF
    run_crun export argo
    expect_status 0
    expect_valid_workflow "$OUT"
    local names
    names=$(yaml_query "$OUT" '[x["name"] for x in '"$TASKS"']')
    # three names map to load-raw: each gets a short hash, so none depends on the order
    python3 -c 'import json, re, sys
n = json.loads(sys.argv[1])
assert len(set(n)) == 6, n
assert all(re.match(r"^load-raw-[0-9a-f]{6}$", x) for x in n[:3]), n
assert n[3:] == ["features-v2", "yes", "1-5"], n' "$names" || fail "task names: $names"
    e2e_checked
    # the real names travel as the node parameter, as strings
    expect_eq "$(yaml_query "$OUT" '[x["arguments"]["parameters"][0]["value"] for x in '"$TASKS"']')" \
        '["load.raw", "load_raw", "Load-Raw", "_features.v2_", "yes", "1.5"]' "node parameters"
    expect_eq "$(yaml_query "$OUT" '[x.get("dependencies") for x in '"$TASKS"'][2:4]')" \
        "$(python3 -c 'import json, sys; n = json.loads(sys.argv[1]); print(json.dumps([[n[0], n[1]], [n[2]]]))' "$names")" \
        "dependencies use the mapped names"
}

# --- options -----------------------------------------------------------------------------

test_export_options_set_image_resources_and_volume()
{
    make_project p
    cd p || fail "no project"
    run_crun export argo --image registry.example/crun:0.1 --cpu 500m --memory 2Gi \
        --workdir /srv/project --pvc crun-data --params count=5
    expect_status 0
    expect_valid_workflow "$OUT"
    local c='d["spec"]["templates"][1]["container"]'
    expect_eq "$(yaml_query "$OUT" "$c"'["image"]')" "registry.example/crun:0.1" "image"
    expect_eq "$(yaml_query "$OUT" "$c"'["resources"]')" \
        '{"limits": {"memory": "2Gi"}, "requests": {"cpu": "500m", "memory": "2Gi"}}' "resources"
    expect_eq "$(yaml_query "$OUT" "$c"'["workingDir"]')" "/srv/project" "workingDir"
    expect_eq "$(yaml_query "$OUT" "$c"'["volumeMounts"]')" \
        '[{"mountPath": "/srv/project", "name": "project"}]' "volumeMounts"
    expect_eq "$(yaml_query "$OUT" 'd["spec"]["volumes"]')" \
        '[{"name": "project", "persistentVolumeClaim": {"claimName": "crun-data"}}]' "volumes"
    expect_eq "$(yaml_query "$OUT" "$c"'["args"][7:9]')" \
        '["--params", "count=5"]' "params passed on"
}

# Each pod's saves sync as the exporting command asked.
test_export_passes_durability_on()
{
    make_project p
    cd p || fail "no project"
    run_crun export argo --durability node
    expect_status 0
    expect_eq "$(yaml_query "$OUT" 'd["spec"]["templates"][1]["container"]["args"][7:9]')" \
        '["--durability", "node"]' "durability passed on"
}

test_export_json_format()
{
    run_crun export argo --project "$CRUN_SOURCE_DIR" --format json -o wf.json
    expect_status 0
    expect_json wf.json
    expect_valid_workflow wf.json
    expect_eq "$(json_query wf.json 'd["kind"]')" "Workflow" "kind"
}

test_export_writes_nothing_on_stdout_with_output_file()
{
    run_crun export argo --project "$CRUN_SOURCE_DIR" -o wf.yaml
    expect_status 0
    expect_eq "$STDOUT" "" "stdout"
    expect_valid_workflow wf.yaml
}

test_export_refuses_bad_options()
{
    run_crun export argo --project "$CRUN_SOURCE_DIR" --cpu lots
    expect_status 2
    expect_stderr_contains "--cpu: 'lots' is not a Kubernetes quantity"
    run_crun export argo --project "$CRUN_SOURCE_DIR" --memory 1GB
    expect_status 2
    expect_stderr_contains "--memory"
    run_crun export argo --project "$CRUN_SOURCE_DIR" --workdir relative/dir
    expect_status 2
    expect_stderr_contains "not an absolute path"
    run_crun export argo --project "$CRUN_SOURCE_DIR" --pvc Bad_Name
    expect_status 2
    expect_stderr_contains "--pvc"
    run_crun export argo --project "$CRUN_SOURCE_DIR" --format toml
    expect_status 2
    expect_stderr_contains "yaml or json"
}

test_export_needs_a_known_target()
{
    run_crun export --project "$CRUN_SOURCE_DIR"
    expect_status 2
    expect_stderr_contains "crun export needs a target"
    run_crun export airflow --project "$CRUN_SOURCE_DIR"
    expect_status 2
    expect_stderr_contains "unknown export target 'airflow'"
}

test_export_reports_configuration_errors()
{
    make_project p
    cd p || fail "no project"
    run_crun export argo --pipeline nope
    expect_status 2
    expect_stderr_contains "nope"
    expect_eq "$STDOUT" "" "stdout"
}

run_tests "$@"
