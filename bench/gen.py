#!/usr/bin/env python3
"""Generate a crun project of N no-op nodes for benchmarks.

usage: gen.py DIR --nodes N --shape chain|wide|layered --kind func|cmd [--seed S]
              [--width W] [--format yaml|ir]

chain:   n0 -> n1 -> ... (each node reads its predecessor's output)
wide:    one source fans out to N-2 nodes that fan in to one sink
layered: layers of `width` nodes; each node reads 1-3 random outputs of the
         previous layer (a random layered DAG, seeded)
func nodes call bench.noop with memory datasets; cmd nodes run
`touch {outputs.o}` (the touched file is the node's memory output).
"""
import argparse
import json
import os
import random


def edges(n, shape, width, rng):
    """inputs[i] = indices of the nodes whose output node i reads."""
    if shape == "chain":
        return [[] if i == 0 else [i - 1] for i in range(n)]
    if shape == "wide":
        mid = list(range(1, n - 1))
        return [[]] + [[0] for _ in mid] + [mid]
    layers, i = [], 0
    while i < n:
        layers.append(list(range(i, min(n, i + width))))
        i += width
    inputs = [[] for _ in range(n)]
    for prev, layer in zip(layers, layers[1:]):
        for v in layer:
            inputs[v] = sorted(rng.sample(prev, min(len(prev), rng.randint(1, 3))))
    return inputs


def node(i, ins, kind):
    d = {"name": f"n{i}", "outputs": f"d{i}"}
    if ins:
        d["inputs"] = [f"d{j}" for j in ins]
    if kind == "func":
        d["func"] = "bench.noop"
    else:
        d["cmd"] = ["touch", "{outputs.0}"]
    return d


def write_yaml(path, nodes):
    # flow-style lines keep the file small and fast to read
    with open(path, "w") as f:
        f.write("libraries: {bench: bench}\npipelines:\n  __default__:\n    nodes:\n")
        for d in nodes:
            f.write("      - " + json.dumps(d) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--shape", choices=["chain", "wide", "layered"], default="chain")
    ap.add_argument("--kind", choices=["func", "cmd"], default="func")
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ins = edges(a.nodes, a.shape, a.width, rng)
    nodes = [node(i, ins[i], a.kind) for i in range(a.nodes)]
    os.makedirs(os.path.join(a.dir, "conf", "base"), exist_ok=True)
    with open(os.path.join(a.dir, "crun.ini"), "w") as f:
        f.write("[project]\nname = bench\n")
    write_yaml(os.path.join(a.dir, "conf", "base", "pipelines.yml"), nodes)


if __name__ == "__main__":
    main()
