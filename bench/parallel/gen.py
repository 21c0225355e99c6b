#!/usr/bin/env python3
"""Generate one DAG as a crun project and, from the same edges, as the inputs
of other tools, for the parallel runner's benchmarks (a copy of bench/gen.py
with more outputs; the DAG shapes and seeds are the same).

usage: gen.py DIR --nodes N --shape chain|wide|layered --kind func|cmd
              [--seed S] [--width W] [--cmd 'TEMPLATE'] [--func bench.noop]
              [--params 'key: value'] [--workers W] [--also ninja,make,snakemake,dask]
              [--shell] [--files]

DIR/crun        the crun project; conf/base/runner.yml has `parallel`
                (max_workers W, the default) and `sequential`
DIR/ninja       build.ninja: one edge per node, `touch $out` (or --cmd)
DIR/make        Makefile: the same rules
DIR/snakemake   Snakefile: the same rules
DIR/dask.json   {"inputs": [[...], ...]} for a dask graph of the same shape

chain:   n0 -> n1 -> ... (each node reads its predecessor's output)
wide:    one source fans out to N-2 nodes that fan in to one sink
layered: layers of `width` nodes; each node reads 1-3 random outputs of the
         previous layer (a random layered DAG, seeded)
func nodes call --func with memory datasets; cmd nodes run --cmd (default
`touch {out}`), where {out} is the node's output file ({outputs.0} in crun,
a memory dataset passed through a file, as in bench/gen.py; with --files a
`text` dataset of catalog.yml whose filepath is out/dI, as make's).  crun runs a
plain `touch` without a shell (its default), anything else, or everything
with --shell, through `sh -c` (ninja runs every command through /bin/sh -c;
make runs a simple command like `touch` directly).
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


def crun_node(i, ins, a):
    d = {"name": f"n{i}", "outputs": f"d{i}"}
    if ins:
        d["inputs"] = [f"d{j}" for j in ins]
    if a.kind == "func":
        d["func"] = a.func
    else:
        cmd = a.cmd.replace("{out}", "{outputs.0}")
        direct = a.cmd == "touch {out}" and not a.shell
        d["cmd"] = ["touch", "{outputs.0}"] if direct else ["sh", "-c", cmd]
    return d


def write_crun(d, ins, a):
    os.makedirs(os.path.join(d, "conf", "base"), exist_ok=True)
    with open(os.path.join(d, "crun.ini"), "w") as f:
        f.write("[project]\nname = bench\n")
    lib = a.func.split(".")[0]
    with open(os.path.join(d, "conf", "base", "pipelines.yml"), "w") as f:
        # flow-style lines keep the file small and fast to read
        f.write(f"libraries: {{{lib}: {lib}}}\npipelines:\n  __default__:\n    nodes:\n")
        for i in range(len(ins)):
            f.write("      - " + json.dumps(crun_node(i, ins[i], a)) + "\n")
    with open(os.path.join(d, "conf", "base", "runner.yml"), "w") as f:
        f.write(f"default: parallel\nrunners:\n  parallel: {{type: parallel, max_workers: "
                f"{a.workers}}}\n  sequential: {{type: sequential}}\n")
    if a.files:
        # each output a real file declared in the catalog, as a user replacing make writes
        with open(os.path.join(d, "conf", "base", "catalog.yml"), "w") as f:
            for i in range(len(ins)):
                f.write(f"d{i}: {{type: text, filepath: out/d{i}}}\n")
    if a.params:
        with open(os.path.join(d, "conf", "base", "parameters.yml"), "w") as f:
            f.write(a.params + "\n")


def shell_cmd(a, out):
    return a.cmd.replace("{out}", out)


def write_ninja(d, ins, a):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "build.ninja"), "w") as f:
        f.write("rule node\n  command = $cmd\n")
        for i, deps in enumerate(ins):
            dep = " ".join(f"out/d{j}" for j in deps)
            cmd = shell_cmd(a, f"out/d{i}").replace("$", "$$")
            f.write(f"build out/d{i}: node {dep}\n  cmd = {cmd}\n")


def write_make(d, ins, a):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write(".SUFFIXES:\nMAKEFLAGS += -r\nall: " +
                " ".join(f"out/d{i}" for i in range(len(ins))) + "\nout:\n\tmkdir -p out\n")
        for i, deps in enumerate(ins):
            dep = " ".join(f"out/d{j}" for j in deps)
            cmd = shell_cmd(a, f"out/d{i}").replace("$", "$$")
            f.write(f"out/d{i}: {dep} | out\n\t{cmd}\n")


def write_snakemake(d, ins, a):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "Snakefile"), "w") as f:
        f.write("rule all:\n    input: " +
                ", ".join(f'"out/d{i}"' for i in range(len(ins))) + "\n")
        for i, deps in enumerate(ins):
            cmd = shell_cmd(a, "{output}").replace("{", "{{").replace("}", "}}")
            cmd = cmd.replace("{{output}}", "{output}")
            f.write(f"rule n{i}:\n    output: \"out/d{i}\"\n")
            if deps:
                f.write("    input: " + ", ".join(f'"out/d{j}"' for j in deps) + "\n")
            f.write(f"    shell: {json.dumps(cmd)}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--shape", choices=["chain", "wide", "layered"], default="chain")
    ap.add_argument("--kind", choices=["func", "cmd"], default="func")
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cmd", default="touch {out}")
    ap.add_argument("--func", default="bench.noop")
    ap.add_argument("--params", default="")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--also", default="")
    ap.add_argument("--shell", action="store_true",
                    help="run `touch` through sh -c in crun too (ninja always uses /bin/sh -c)")
    ap.add_argument("--files", action="store_true",
                    help="cmd: declare each output in catalog.yml as a text file out/dI")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ins = edges(a.nodes, a.shape, a.width, rng)
    write_crun(os.path.join(a.dir, "crun"), ins, a)
    also = [x for x in a.also.split(",") if x]
    if "ninja" in also:
        write_ninja(os.path.join(a.dir, "ninja"), ins, a)
    if "make" in also:
        write_make(os.path.join(a.dir, "make"), ins, a)
    if "snakemake" in also:
        write_snakemake(os.path.join(a.dir, "snakemake"), ins, a)
    if "dask" in also:
        with open(os.path.join(a.dir, "dask.json"), "w") as f:
            json.dump({"inputs": ins}, f)


if __name__ == "__main__":
    main()
