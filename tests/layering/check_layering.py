#!/usr/bin/env python3
"""check_layering.py - the house rules of runner/ and the plugins, checked.

1. Stages: a file of runner/<stage>/ includes headers of its own stage and
   of the stages before it only (runner/README.md gives the order); cli/ and
   every plugin include no internal header of libcrun at all.
2. No circles between files: from the built objects (nm), file A depends on
   file B when A uses a symbol B defines.  Within libcrun, the parallel
   runner and the service, that graph must have no cycle.

usage: check_layering.py SOURCE_ROOT BUILD_DIR|- [LABEL=OBJECT_DIR...]
(the object folders default to libcrun's, the parallel runner's and the
service's in BUILD_DIR; '-' checks only those given)
"""
import os
import re
import subprocess
import sys

STAGES = ["core", "conf", "ir", "plan", "plugin", "catalog", "run", "session", "cli"]
# what each stage may include besides itself and core (the stages before it)
ALLOWED = {s: set(STAGES[:i]) for i, s in enumerate(STAGES)}
ALLOWED["plugin"] = {"core", "conf"}
ALLOWED["cli"] = set()
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def check_includes(root):
    bad = []
    runner = os.path.join(root, "runner")
    for stage in sorted(os.listdir(runner)) if os.path.isdir(runner) else []:
        folder = os.path.join(runner, stage)
        if not os.path.isdir(folder):
            continue
        if stage not in STAGES:
            bad.append(f"runner/{stage}/: not a stage of runner/README.md")
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            text = open(os.path.join(folder, name), encoding="utf-8").read()
            for inc in INCLUDE.findall(text):
                head = inc.split("/")[0] if "/" in inc else None
                if head is None or head == "crun":
                    continue  # same folder, or the public headers
                ok = head == stage or head == "core" and stage != "cli" or head in ALLOWED[stage]
                if not ok:
                    bad.append(f"runner/{stage}/{name}: includes \"{inc}\", a stage after "
                               f"{stage}/ (or not one it may call)")
    for dirpath, _, files in os.walk(os.path.join(root, "plugins")):
        for name in files:
            if name.endswith((".c", ".h")):
                path = os.path.join(dirpath, name)
                for inc in INCLUDE.findall(open(path, encoding="utf-8").read()):
                    if inc.split("/")[0] in STAGES:
                        bad.append(f"{os.path.relpath(path, root)}: includes libcrun's internal "
                                   f"\"{inc}\"")
    return bad


def symbols(obj):
    out = subprocess.run(["nm", "--defined-only", "-g", obj], capture_output=True, text=True,
                         check=True).stdout
    defined = {l.split()[-1] for l in out.splitlines() if len(l.split()) == 3}
    out = subprocess.run(["nm", "-u", obj], capture_output=True, text=True, check=True).stdout
    used = {l.split()[-1] for l in out.splitlines() if l.split()}
    return defined, used


def circles(graph):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, on, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def check_cycles(objects):
    bad = []
    for label, path in objects:
        if not os.path.isdir(path):
            bad.append(f"{label}: no objects in {path} (build first)")
            continue
        objs = sorted(f for f in os.listdir(path) if f.endswith(".o"))
        info = {o: symbols(os.path.join(path, o)) for o in objs}
        owner = {}
        for o, (defined, _) in info.items():
            for sym in defined:
                owner[sym] = o
        graph = {o: {owner[s] for s in used if s in owner and owner[s] != o}
                 for o, (_, used) in info.items()}
        for comp in circles(graph):
            names = [c.replace(".c.o", ".c") for c in comp]
            if label == "libcrun":
                names = [n.replace("_", "/", 1) for n in names]
            bad.append(f"{label}: these files call each other in a circle: {', '.join(names)}")
    return bad


def main():
    root, build = sys.argv[1], sys.argv[2]
    objects = [tuple(arg.split("=", 1)) for arg in sys.argv[3:]]
    if build != "-":
        objects += [
            ("libcrun", os.path.join(build, "runner/libcrun.so.0.1.0.p")),
            ("the parallel runner", os.path.join(build, "plugins/runners/parallel/parallel.so.p")),
            ("the service runner", os.path.join(build, "plugins/runners/service/service.so.p")),
        ]
    bad = check_includes(root)
    bad += check_cycles(objects)
    for line in bad:
        print(line)
    print(f"layering: {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
