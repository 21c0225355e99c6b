#!/usr/bin/env python3
"""Benchmarks of the core (sequential runner): prints numbers, asserts nothing.

usage: bench/run.py [--build build] [--nodes 100000] [--cmd-nodes 2000] [--repeat 3]

1. 100,000 no-op function nodes with memory datasets (chain, wide, layered):
   - the whole `crun -q` process: wall time and peak RSS per node, "cold"
     (no .crun/cache/: libyaml parses the pipelines file, and the run caches
     its events, as a first run does) and "cached" (every later run of an
     unchanged file: the events come from .crun/cache/);
   - the phases through the embedding API (bench/phases): loading the YAML
     into the IR (cold and cached), and the run itself (plan, catalog,
     execution, release).
2. no-op command nodes (`touch {outputs.o}`) through the sequential runner.
3. the compiled-IR path on the same function-node pipelines: `crun compile -o
   ir.json`, then `crun run --ir ir.json` from a folder without YAML;
4. `crun compile` of the demo project (median of many runs).
Every measurement is the best of --repeat runs; the machine is shared.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_measured(argv):
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(argv)} failed:\n{err}")
    return wall, usage.ru_maxrss


def best_of(n, argv, before=None):
    runs = []
    for _ in range(n):
        if before:
            before()
        runs.append(run_measured(argv))
    return min(r[0] for r in runs), max(r[1] for r in runs)


def forget_cache(proj):
    """Remove the project's cached events: the next run parses the YAML."""
    path = os.path.join(proj, ".crun")
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def age(proj):
    """Date the project's files an hour back (crun caches no file changed in
    the last two seconds; their change times still need two seconds)."""
    old = time.time() - 3600
    for d, _, files in os.walk(proj):
        for f in files:
            os.utime(os.path.join(d, f), (old, old))


def generate(tmp, nodes, shape, kind):
    d = os.path.join(tmp, f"{shape}-{kind}-{nodes}")
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), d, "--nodes", str(nodes),
                    "--shape", shape, "--kind", kind], check=True)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--nodes", type=int, default=100000)
    ap.add_argument("--cmd-nodes", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    crun = os.path.join(a.build, "crun")
    phases = os.path.join(a.build, "bench", "phases")
    print(f"# crun core benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"\n## {a.nodes} no-op function nodes, memory datasets, sequential runner\n")
        projs = {shape: generate(tmp, a.nodes, shape, "func")
                 for shape in ("chain", "wide", "layered")}
        for proj in projs.values():
            age(proj)
        time.sleep(2.5)
        print("| shape | cold wall (s) | cold µs/node | cached wall (s) | cached µs/node "
              "| peak RSS KiB | bytes/node | load µs/node cold / cached | run µs/node |")
        print("|---|---|---|---|---|---|---|---|---|")
        for shape, proj in projs.items():
            argv = [crun, "--project", proj, "-q"]
            cold, rss_cold = best_of(a.repeat, argv, lambda: forget_cache(proj))
            run_measured(argv)  # makes the cache
            warm, rss_warm = best_of(a.repeat, argv)
            rss = max(rss_cold, rss_warm)
            ph = {}
            for kind in ("cold", "cached"):
                forget_cache(proj)
                if kind == "cold":  # no folder for a cache: every load parses
                    open(os.path.join(proj, ".crun"), "w").close()
                else:
                    run_measured(argv)
                out = subprocess.run([phases, proj, str(a.repeat)], check=True,
                                     capture_output=True, text=True).stdout
                ph[kind] = json.loads(out)
            forget_cache(proj)
            print(f"| {shape} | {cold:.3f} | {cold * 1e6 / a.nodes:.2f} | {warm:.3f} "
                  f"| {warm * 1e6 / a.nodes:.2f} | {rss} | {rss * 1024 / a.nodes:.0f} "
                  f"| {ph['cold']['load_us_per_node']:.2f} / "
                  f"{ph['cached']['load_us_per_node']:.2f} "
                  f"| {ph['cached']['run_us_per_node']:.2f} |")
        print(f"\n## The compiled IR instead of YAML ({a.nodes} function nodes)\n")
        print("| shape | compile -o (s) | IR JSON MiB | run --ir (s) | µs/node "
              "| peak RSS bytes/node |")
        print("|---|---|---|---|---|---|")
        for shape in ("chain", "wide", "layered"):
            proj = os.path.join(tmp, f"{shape}-func-{a.nodes}")
            ir = os.path.join(tmp, f"{shape}.ir.json")
            bare = os.path.join(tmp, f"{shape}-ir")
            os.makedirs(bare, exist_ok=True)
            with open(os.path.join(bare, "crun.ini"), "w") as f:
                f.write("[project]\nname = bench\n")
            comp, _ = best_of(a.repeat, [crun, "compile", "--project", proj, "-o", ir])
            wall, rss = best_of(a.repeat, [crun, "run", "--project", bare, "--ir", ir, "-q"])
            print(f"| {shape} | {comp:.2f} | {os.path.getsize(ir) / 2**20:.0f} | {wall:.2f} "
                  f"| {wall * 1e6 / a.nodes:.2f} | {rss * 1024 / a.nodes:.0f} |")
        print(f"\n## {a.cmd_nodes} no-op command nodes (touch), sequential runner\n")
        print("| shape | crun wall (s) | µs/node |")
        print("|---|---|---|")
        for shape in ("chain", "wide", "layered"):
            proj = generate(tmp, a.cmd_nodes, shape, "cmd")
            wall, _ = best_of(a.repeat, [crun, "--project", proj, "-q"])
            print(f"| {shape} | {wall:.3f} | {wall * 1e6 / a.cmd_nodes:.0f} |")
    times = [run_measured([crun, "compile", "--project", ROOT])[0] for _ in range(50)]
    print(f"\n## crun compile of the demo\n\nmedian {statistics.median(times) * 1e3:.2f} ms, "
          f"best {min(times) * 1e3:.2f} ms (50 runs, process start included)")


if __name__ == "__main__":
    main()
