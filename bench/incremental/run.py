#!/usr/bin/env python3
"""Incremental runs: what skipping costs.  Prints numbers, asserts nothing.

usage: bench/incremental/run.py [--build build] [--nodes 100000] [--repeat 3]
                                [--big-mb 1024]

1. 100,000 no-op function nodes (bench.noop, memory datasets; chain and
   layered shapes from bench/gen.py), after one `crun run --only-changed`
   recorded them: `crun -q run --only-changed` with nothing changed, against
   `crun -q list pipelines` (the same load of the pipeline, nothing run).
   The difference per node is what deciding costs: the plan, the catalog,
   reading the fingerprint store, a fingerprint per node, the decision.
   Runs where every node runs are shown too: plain, before the project has
   a store (nothing recorded), the first --only-changed, and plain once a
   store exists (every node recorded).
2. One input file of --big-mb MiB (sparse, dated an hour back) read by one
   command node: `crun status` the first time (the file is hashed) and the
   second time (the stat cache: one stat).
Every measurement is the best of --repeat runs; the machine is shared.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def measured(argv, cwd):
    """Wall seconds and CPU seconds (user + system) of one child process:
    on a loaded machine the wall time mostly says how busy the others were."""
    start = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(argv)} failed:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def timed(argv, cwd):
    return measured(argv, cwd)[0]


def best(n, argv, cwd):
    """The best wall and the best CPU time of n runs."""
    runs = [measured(argv, cwd) for _ in range(n)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def age(proj):
    """Date the project's files an hour back, so caches trust them."""
    old = time.time() - 3600
    for d, _, files in os.walk(proj):
        for f in files:
            os.utime(os.path.join(d, f), (old, old))


def nodes_bench(crun, tmp, n, shape, repeat):
    d = os.path.join(tmp, f"{shape}-{n}")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen.py"), d, "--nodes", str(n),
                    "--shape", shape, "--kind", "func"], check=True)
    age(d)
    time.sleep(2.5)  # files changed in the last 2 s are not cached
    timed([crun, "list", "pipelines", "-q"], d)  # warm the YAML events cache
    plain = best(repeat, [crun, "run", "-q"], d)  # no store yet: nothing recorded
    first = measured([crun, "run", "-q", "--only-changed"], d)  # every node runs, recorded
    load = best(repeat, [crun, "list", "pipelines", "-q"], d)
    skip = best(repeat, [crun, "run", "-q", "--only-changed"], d)
    recorded = best(repeat, [crun, "run", "-q"], d)  # a plain run records once a store exists
    print(f"{shape:8} {n} nodes, --only-changed with nothing changed against the load alone "
          f"(crun list pipelines):\n"
          f"  wall {skip[0]:.3f} s - {load[0]:.3f} s = {(skip[0] - load[0]) / n * 1e6:.2f} us/node; "
          f"cpu {skip[1]:.3f} s - {load[1]:.3f} s = {(skip[1] - load[1]) / n * 1e6:.2f} us/node\n"
          f"  every node runs: plain run without a store wall {plain[0]:.3f} s cpu {plain[1]:.3f} s; "
          f"first --only-changed wall {first[0]:.3f} s cpu {first[1]:.3f} s; "
          f"plain run recording wall {recorded[0]:.3f} s cpu {recorded[1]:.3f} s")


def big_file_bench(crun, tmp, mb):
    d = os.path.join(tmp, "big")
    os.makedirs(os.path.join(d, "conf", "base"))
    os.makedirs(os.path.join(d, "data"))
    with open(os.path.join(d, "crun.ini"), "w") as f:
        f.write("[project]\nname = big\n")
    with open(os.path.join(d, "conf", "base", "catalog.yml"), "w") as f:
        f.write("big: {type: bytes, filepath: data/big.bin}\n"
                "size: {type: text, filepath: data/size.txt}\n")
    with open(os.path.join(d, "conf", "base", "pipelines.yml"), "w") as f:
        f.write("pipelines:\n  __default__:\n    nodes:\n"
                "      - {name: measure, cmd: [sh, -c, 'wc -c < {inputs.b} > {outputs.s}'],"
                " inputs: {b: big}, outputs: {s: size}}\n")
    with open(os.path.join(d, "data", "big.bin"), "wb") as f:
        f.truncate(mb << 20)
    age(d)
    timed([crun, "run", "-q", "--only-changed"], d)
    age(d)
    time.sleep(2.5)  # ctime cannot be dated back: files changed in the last 2 s are re-hashed
    shutil.rmtree(os.path.join(d, ".crun"))
    timed([crun, "list", "pipelines", "-q"], d)
    hashed = timed([crun, "status", "-q"], d)
    cached = best(3, [crun, "status", "-q"], d)[0]
    print(f"{mb} MiB input, unchanged: crun status {hashed:.3f} s when it is hashed, "
          f"{cached:.3f} s from the stat cache")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--nodes", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-mb", type=int, default=1024)
    ap.add_argument("--only-big", action="store_true", help="only the big-file measurement")
    a = ap.parse_args()
    crun = os.path.abspath(os.path.join(a.build, "crun"))
    with tempfile.TemporaryDirectory(prefix="crun-bench-incr.") as tmp:
        for shape in () if a.only_big else ("chain", "layered"):
            nodes_bench(crun, tmp, a.nodes, shape, a.repeat)
        big_file_bench(crun, tmp, a.big_mb)


if __name__ == "__main__":
    main()
