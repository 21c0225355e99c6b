"""`crun compile` output must validate against docs/ir.schema.json.

Compiles the demo project (the repository root) whole and filtered, and a
generated project with command nodes, list/map ports and tags, and validates
each IR; then checks that an IR the schema refuses is also refused by the
validator (the check can fail)."""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

crun, source = sys.argv[1], sys.argv[2]
schema = json.load(open(os.path.join(source, "docs", "ir.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
failures = 0


def compile_ir(project, *args):
    out = subprocess.run([crun, "compile", "--project", project, *args],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def check(name, ir, nodes=None):
    global failures
    errors = sorted(validator.iter_errors(ir), key=str)
    if errors:
        failures += 1
        print(f"FAIL {name}: {errors[0].message}")
    elif nodes is not None and len(ir["nodes"]) != nodes:
        failures += 1
        print(f"FAIL {name}: {len(ir['nodes'])} nodes, expected {nodes}")
    else:
        print(f"PASS {name}")


check("demo", compile_ir(source), nodes=7)
check("demo data_science", compile_ir(source, "--pipeline", "data_science"), nodes=3)
check("demo tags", compile_ir(source, "--tags", "preprocessing"), nodes=2)

with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "conf", "base"))
    with open(os.path.join(tmp, "conf", "base", "pipelines.yml"), "w") as f:
        f.write("""pipelines:
  p:
    nodes:
      - {name: a, cmd: [sh, -c, "echo 1 > {outputs.x}"], outputs: {x: one}, tags: t,
         retry: {attempts: 3, delay: 0.5, backoff: 2, jitter: 0.1, on_exit: [75]}}
      - {name: b, cmd: [cat, "{inputs.0}"], inputs: [one], outputs: [], tags: [t, u]}
      - {name: c, cmd: [sh, -c, "cat {inputs.v} > {outputs.w}"], inputs: {v: one},
         outputs: {w: two}}
""")
    with open(os.path.join(tmp, "conf", "base", "parameters.yml"), "w") as f:
        f.write("a: {b: 1}\n")
    ir = compile_ir(tmp)
    check("commands", ir, nodes=3)
    deps = {n["name"]: n["depends_on"] for n in ir["nodes"]}
    if deps != {"a": [], "b": ["a"], "c": ["a"]}:
        failures += 1
        print(f"FAIL dependencies: {deps}")
    if ir["nodes"][0].get("retry", {}).get("on_exit") != [75]:
        failures += 1
        print(f"FAIL retry: {ir['nodes'][0].get('retry')}")
    wrong = json.loads(json.dumps(ir))
    wrong["nodes"][0]["retry"]["attempts"] = 0
    if validator.is_valid(wrong):
        failures += 1
        print("FAIL the schema accepts a retry of 0 attempts")
    else:
        print("PASS schema refuses a retry of 0 attempts")
    broken = json.loads(json.dumps(ir))
    broken["nodes"][0]["func"] = "x.y"  # both func and cmd
    if validator.is_valid(broken):
        failures += 1
        print("FAIL the schema accepts a node with both func and cmd")
    else:
        print("PASS schema refuses a node with both func and cmd")

print(f"{4 + 2 - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
