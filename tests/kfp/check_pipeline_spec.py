#!/usr/bin/env python3
"""check_pipeline_spec.py - check a Kubeflow Pipelines v2 PipelineSpec (YAML or JSON)
offline, as `crun export kfp` writes it.

The field names are those of the messages of api/v2alpha1/pipeline_spec.proto in
kubeflow/pipelines (their JSON names), written out below by hand: a field the proto
does not have is an error, as are a oneof with two members set, a wrong scalar type,
and every broken reference: a task's componentRef, a component's executorLabel, a
dependentTasks entry, a taskOutputArtifact's producer task and output key, a
componentInputParameter, a task input the component does not declare or a declared
one it does not get, a placeholder in an executor's args naming an input or output its
component lacks, a producer missing from dependentTasks, and a cycle.

    check_pipeline_spec.py FILE [--one-image]     exit 0 and "OK", or 1 and the errors
"""
import json
import re
import sys

import yaml

ANY = "any"  # google.protobuf.Value / Struct: anything
STR, BOOL, INT, NUM = "string", "bool", "int", "number"

# message name -> {json field: type}; a type is a scalar above, another message's
# name, ("map", T), ("list", T), or ANY.  Oneofs are listed in ONEOFS.
MESSAGES = {
    "PipelineSpec": {
        "pipelineInfo": "PipelineInfo", "deploymentSpec": "PipelineDeploymentConfig",
        "sdkVersion": STR, "schemaVersion": STR, "components": ("map", "ComponentSpec"),
        "root": "ComponentSpec", "defaultPipelineRoot": STR,
    },
    "PipelineInfo": {"name": STR, "displayName": STR, "description": STR},
    "ComponentSpec": {
        "inputDefinitions": "ComponentInputsSpec", "outputDefinitions": "ComponentOutputsSpec",
        "dag": "DagSpec", "executorLabel": STR, "singlePlatformSpecs": ("list", ANY),
        "taskConfigPassthroughs": ("list", "TaskConfigPassthrough"),
    },
    "TaskConfigPassthrough": {"field": STR, "applyToTask": BOOL},
    "DagSpec": {"tasks": ("map", "PipelineTaskSpec"), "outputs": "DagOutputsSpec"},
    "DagOutputsSpec": {"artifacts": ("map", "DagOutputArtifactSpec"),
                       "parameters": ("map", "DagOutputParameterSpec")},
    "DagOutputArtifactSpec": {"artifactSelectors": ("list", "ArtifactSelectorSpec")},
    "ArtifactSelectorSpec": {"producerSubtask": STR, "outputArtifactKey": STR},
    "DagOutputParameterSpec": {"valueFromParameter": "ParameterSelectorSpec",
                               "valueFromOneof": "ParameterSelectorsSpec"},
    "ParameterSelectorSpec": {"producerSubtask": STR, "outputParameterKey": STR},
    "ParameterSelectorsSpec": {"parameterSelectors": ("list", "ParameterSelectorSpec")},
    "ComponentInputsSpec": {"artifacts": ("map", "InputArtifactDef"),
                            "parameters": ("map", "InputParameterDef")},
    "InputArtifactDef": {"artifactType": "ArtifactTypeSchema", "isArtifactList": BOOL,
                         "isOptional": BOOL, "description": STR},
    "InputParameterDef": {"parameterType": "ParameterType", "defaultValue": ANY,
                          "isOptional": BOOL, "description": STR, "literals": ("list", ANY)},
    "ComponentOutputsSpec": {"artifacts": ("map", "OutputArtifactDef"),
                             "parameters": ("map", "OutputParameterDef")},
    "OutputArtifactDef": {"artifactType": "ArtifactTypeSchema", "metadata": ANY,
                          "isArtifactList": BOOL, "description": STR},
    "OutputParameterDef": {"parameterType": "ParameterType", "description": STR},
    "ArtifactTypeSchema": {"schemaTitle": STR, "instanceSchema": STR, "schemaVersion": STR},
    "TaskInputsSpec": {"parameters": ("map", "InputParameterSpec"),
                       "artifacts": ("map", "InputArtifactSpec")},
    "InputArtifactSpec": {"taskOutputArtifact": "TaskOutputArtifactSpec",
                          "componentInputArtifact": STR},
    "TaskOutputArtifactSpec": {"producerTask": STR, "outputArtifactKey": STR},
    "InputParameterSpec": {"taskOutputParameter": "TaskOutputParameterSpec",
                           "runtimeValue": "ValueOrRuntimeParameter",
                           "componentInputParameter": STR,
                           "taskFinalStatus": "TaskFinalStatus",
                           "parameterExpressionSelector": STR},
    "TaskOutputParameterSpec": {"producerTask": STR, "outputParameterKey": STR},
    "TaskFinalStatus": {"producerTask": STR},
    "ValueOrRuntimeParameter": {"runtimeParameter": STR, "constant": ANY},
    "PipelineTaskSpec": {
        "taskInfo": "PipelineTaskInfo", "inputs": "TaskInputsSpec",
        "dependentTasks": ("list", STR), "cachingOptions": "CachingOptions",
        "componentRef": "ComponentRef", "triggerPolicy": "TriggerPolicy",
        "artifactIterator": "ArtifactIteratorSpec",
        "parameterIterator": "ParameterIteratorSpec", "retryPolicy": "RetryPolicy",
        "iteratorPolicy": "IteratorPolicy",
    },
    "PipelineTaskInfo": {"name": STR},
    "CachingOptions": {"enableCache": BOOL, "cacheKey": STR},
    "ComponentRef": {"name": STR},
    "TriggerPolicy": {"condition": STR, "strategy": STR},
    "ArtifactIteratorSpec": {"items": ("map", ANY), "itemInput": STR},
    "ParameterIteratorSpec": {"items": ("map", ANY), "itemInput": STR},
    "RetryPolicy": {"maxRetryCount": INT, "backoffDuration": "Duration",
                    "backoffFactor": NUM, "backoffMaxDuration": "Duration"},
    "IteratorPolicy": {"parallelismLimit": INT},
    "PipelineDeploymentConfig": {"executors": ("map", "ExecutorSpec")},
    "ExecutorSpec": {"container": "PipelineContainerSpec", "importer": ANY,
                     "resolver": ANY, "customJob": ANY},
    "PipelineContainerSpec": {"image": STR, "command": ("list", STR), "args": ("list", STR),
                              "lifecycle": ANY, "resources": "ResourceSpec",
                              "env": ("list", "EnvVar")},
    "ResourceSpec": {"cpuLimit": NUM, "memoryLimit": NUM, "cpuRequest": NUM,
                     "memoryRequest": NUM, "resourceCpuLimit": STR,
                     "resourceMemoryLimit": STR, "resourceCpuRequest": STR,
                     "resourceMemoryRequest": STR, "accelerator": ANY},
    "EnvVar": {"name": STR, "value": STR},
}
ONEOFS = {
    "ComponentSpec": [("dag", "executorLabel")],
    "InputArtifactSpec": [("taskOutputArtifact", "componentInputArtifact")],
    "InputParameterSpec": [("taskOutputParameter", "runtimeValue", "componentInputParameter",
                            "taskFinalStatus")],
    "PipelineTaskSpec": [("artifactIterator", "parameterIterator")],
    "ExecutorSpec": [("container", "importer", "resolver", "customJob")],
    "ArtifactTypeSchema": [("schemaTitle", "instanceSchema")],
    "ValueOrRuntimeParameter": [("runtimeParameter", "constant")],
    "DagOutputParameterSpec": [("valueFromParameter", "valueFromOneof")],
}
REQUIRED = {
    "PipelineSpec": ["pipelineInfo", "root", "schemaVersion"],
    "PipelineTaskSpec": ["taskInfo", "componentRef"],
    "ComponentSpec": [],
    "PipelineContainerSpec": ["image"],
}
PARAMETER_TYPES = {"NUMBER_DOUBLE": (int, float), "NUMBER_INTEGER": (int,), "STRING": (str,),
                   "BOOLEAN": (bool,), "LIST": (list,), "STRUCT": (dict,),
                   "TASK_FINAL_STATUS": (dict,), "TASK_CONFIG": (dict,)}
DURATION = re.compile(r"^-?[0-9]+(\.[0-9]+)?s$")
PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](\.[a-z]+)?\}\}")


def check_type(value, typ, where, errors):
    if typ == ANY:
        return
    if isinstance(typ, tuple):
        kind, inner = typ
        if kind == "map":
            if not isinstance(value, dict):
                errors.append(f"{where}: expected a map")
                return
            for k, v in value.items():
                check_type(v, inner, f"{where}.{k}", errors)
        else:
            if not isinstance(value, list):
                errors.append(f"{where}: expected a list")
                return
            for i, v in enumerate(value):
                check_type(v, inner, f"{where}[{i}]", errors)
        return
    scalars = {STR: (str,), BOOL: (bool,), INT: (int,), NUM: (int, float)}
    if typ in scalars:
        ok = isinstance(value, scalars[typ]) and not (typ != BOOL and isinstance(value, bool))
        if not ok:
            errors.append(f"{where}: expected a {typ}, got {value!r}")
        return
    if typ == "Duration":
        if not isinstance(value, str) or not DURATION.match(value):
            errors.append(f"{where}: expected a duration such as '1.5s', got {value!r}")
        return
    if typ == "ParameterType":
        if value not in PARAMETER_TYPES:
            errors.append(f"{where}: unknown parameterType {value!r}")
        return
    check_message(value, typ, where, errors)


def check_message(value, name, where, errors):
    if not isinstance(value, dict):
        errors.append(f"{where}: expected a {name} (a map)")
        return
    fields = MESSAGES[name]
    for key, v in value.items():
        if key not in fields:
            errors.append(f"{where}: unknown field '{key}' in {name}")
        else:
            check_type(v, fields[key], f"{where}.{key}", errors)
    for group in ONEOFS.get(name, []):
        set_ = [f for f in group if f in value]
        if len(set_) > 1:
            errors.append(f"{where}: {' and '.join(set_)} are one oneof in {name}")
    for key in REQUIRED.get(name, []):
        if key not in value:
            errors.append(f"{where}: {name} lacks '{key}'")


def check_dag(spec, comp_name, comp, errors):
    comps = spec.get("components") or {}
    executors = (spec.get("deploymentSpec") or {}).get("executors") or {}
    tasks = (comp.get("dag") or {}).get("tasks") or {}
    inputs = ((comp.get("inputDefinitions") or {}).get("parameters")) or {}
    for tname, task in tasks.items():
        at = f"{comp_name}.dag.tasks.{tname}"
        ref = (task.get("componentRef") or {}).get("name")
        callee = comps.get(ref)
        if callee is None:
            errors.append(f"{at}: componentRef '{ref}' is not a component")
            continue
        label = callee.get("executorLabel")
        if label is not None and label not in executors:
            errors.append(f"components.{ref}: executorLabel '{label}' is not an executor")
        deps = task.get("dependentTasks") or []
        for d in deps:
            if d not in tasks:
                errors.append(f"{at}: dependentTasks names '{d}', not a task of the DAG")
            if d == tname:
                errors.append(f"{at}: depends on itself")
        tin = task.get("inputs") or {}
        cin = callee.get("inputDefinitions") or {}
        for kind in ("parameters", "artifacts"):
            given, declared = tin.get(kind) or {}, cin.get(kind) or {}
            # kfp's own channels (conditions, formatted strings) and inputs that
            # only the executor's resources read are passed undeclared
            used = json.dumps(executors.get(label) or {})
            for k in given:
                placeholder = "{{$" in json.dumps((given[k] or {}).get("runtimeValue", ""))
                if k not in declared and not k.startswith("pipelinechannel--") and \
                        f"['{k}']" not in used and not placeholder:
                    errors.append(f"{at}: input {kind[:-1]} '{k}' is not declared by '{ref}'")
            iterated = {(task.get(it) or {}).get("itemInput")
                        for it in ("artifactIterator", "parameterIterator")}
            for k, d in declared.items():
                if k not in given and k not in iterated and not d.get("isOptional") and \
                        "defaultValue" not in d:
                    errors.append(f"{at}: '{ref}' needs input {kind[:-1]} '{k}'")
        for k, p in (tin.get("parameters") or {}).items():
            src = p.get("componentInputParameter")
            if src is not None and src not in inputs:
                errors.append(f"{at}: componentInputParameter '{src}' is not an input of "
                              f"'{comp_name}'")
        for k, a in (tin.get("artifacts") or {}).items():
            out = a.get("taskOutputArtifact")
            if out is None:
                continue
            prod = out.get("producerTask")
            if prod not in tasks:
                errors.append(f"{at}: artifact '{k}' comes from '{prod}', not a task of the DAG")
                continue
            if prod not in deps:
                errors.append(f"{at}: reads an artifact of '{prod}' without depending on it")
            pcomp = comps.get((tasks[prod].get("componentRef") or {}).get("name")) or {}
            outs = (pcomp.get("outputDefinitions") or {}).get("artifacts") or {}
            if out.get("outputArtifactKey") not in outs:
                errors.append(f"{at}: '{prod}' has no output artifact "
                              f"'{out.get('outputArtifactKey')}'")
    # no cycle through dependentTasks
    state = {}
    for start in tasks:
        stack = [(start, iter(tasks[start].get("dependentTasks") or []))]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif nxt in tasks and state.get(nxt) == 1:
                errors.append(f"{comp_name}.dag: a cycle through '{nxt}'")
                return
            elif nxt in tasks and not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(tasks[nxt].get("dependentTasks") or [])))


def check_references(spec, errors):
    comps = spec.get("components") or {}
    executors = (spec.get("deploymentSpec") or {}).get("executors") or {}
    check_dag(spec, "root", spec.get("root") or {}, errors)
    for name, comp in comps.items():
        if "dag" in comp:
            check_dag(spec, f"components.{name}", comp, errors)
        elif "executorLabel" not in comp:
            errors.append(f"components.{name}: neither dag nor executorLabel")
    for name, d in ((spec.get("root") or {}).get("inputDefinitions") or {}).get(
            "parameters", {}).items():
        if "defaultValue" in d and d.get("parameterType") in PARAMETER_TYPES:
            types = PARAMETER_TYPES[d["parameterType"]]
            v = d["defaultValue"]
            if isinstance(v, float) and v.is_integer() and d["parameterType"] == "NUMBER_INTEGER":
                continue  # 2.0: YAML's float for an integer, as kfp writes some
            if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
                errors.append(f"root.inputDefinitions.parameters.{name}: default {v!r} is not "
                              f"a {d['parameterType']}")
    users = {}
    for name, comp in comps.items():
        if "executorLabel" in comp:
            users.setdefault(comp["executorLabel"], []).append(comp)
    for label, ex in executors.items():
        if label not in users:
            errors.append(f"deploymentSpec.executors.{label}: no component uses it")
        container = (ex or {}).get("container") or {}
        for arg in (container.get("command") or []) + (container.get("args") or []):
            for io, kind, key, _ in PLACEHOLDER.findall(arg if isinstance(arg, str) else ""):
                for comp in users.get(label, []):
                    defs = comp.get("inputDefinitions" if io == "inputs" else "outputDefinitions")
                    if key not in ((defs or {}).get(kind) or {}):
                        errors.append(f"deploymentSpec.executors.{label}: {arg!r} names "
                                      f"{io} {kind} '{key}', which its component lacks")


def check(spec, one_image=False):
    errors = []
    check_message(spec, "PipelineSpec", "spec", errors)
    if spec.get("schemaVersion") != "2.1.0":
        errors.append(f"schemaVersion: expected 2.1.0, got {spec.get('schemaVersion')!r}")
    if not errors:
        check_references(spec, errors)
    if one_image:
        images = {((e or {}).get("container") or {}).get("image")
                  for e in ((spec.get("deploymentSpec") or {}).get("executors") or {}).values()}
        if len(images) > 1:
            errors.append(f"executors use several images: {sorted(map(str, images))}")
    return errors


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[1] == "-" else open(argv[1]).read()
    # a kfp file may carry a second document: the platform spec
    spec = json.loads(text) if text.lstrip().startswith("{") else next(yaml.safe_load_all(text))
    errors = check(spec if isinstance(spec, dict) else {}, "--one-image" in argv)
    for e in errors:
        print(f"error: {e}")
    if not errors:
        n = len(((spec.get("root") or {}).get("dag") or {}).get("tasks") or {})
        print(f"OK PipelineSpec: {n} tasks")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
