#!/usr/bin/env python3
"""What hooks cost per node: prints numbers, asserts nothing.

usage: bench/hooks/bench_hooks.py [--build build] [--nodes 100000] [--shape chain]
                                  [--repeat 5] [--baseline-build DIR] [--instructions]

A generated project of --nodes no-op function nodes (bench/gen.py, memory
datasets, sequential runner) is run through bench/phases (the embedding API;
"run" is crun_session_run: plan, catalog, every node, release) with:

  none     no hooks registered: the host's dispatch is one test per event
  null     bench/hooks/null_hook.c: thread-safe, no callbacks, so every event
           is built and the hook list walked, and no hook code runs
  events   the events hook writing one JSON line per event to a file
  timing   the timing hook (its table off: 100,000 rows are not the point)

Configurations take turns, --repeat rounds, best of each; the events file is
removed before each run.  --baseline-build runs another build's bench/phases
with no hooks too: a build of the same source with the dispatch compiled out
answers "what does dispatch cost when no hook is registered".  To make one,
copy the tree and put `return 0;` first in hooks_fire and node_hooks
(runner/run/run.c), fire_dataset (runner/catalog/catalog.c), dataset_hook and
command_hooks (runner/run/command.c).

On a busy machine wall times swing by more than the effect measured here;
--instructions counts instructions instead (valgrind's callgrind, collecting
inside crun_session_run only), which is exact and repeatable: one run each,
and use fewer nodes (10000), valgrind is slow.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def build_null_hook(build, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    so = os.path.join(out_dir, "null_hook.so")
    jansson = subprocess.run(["pkg-config", "--cflags", "jansson"], capture_output=True,
                             text=True).stdout.split()
    libdir = os.path.join(build, "runner")
    subprocess.run(["cc", "-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
                    "-I", os.path.join(ROOT, "include"), *jansson,
                    os.path.join(HERE, "null_hook.c"), "-o", so,
                    "-L", libdir, "-lcrun", "-Wl,-rpath," + libdir], check=True)
    return so


def write_ini(proj, plugin_dir, hooks):
    with open(os.path.join(proj, "crun.ini"), "w") as f:
        f.write(f"[project]\nname = bench\nplugin_path = {plugin_dir}\n[hooks]\n")
        for line in hooks:
            f.write(line + "\n")


def phases(build, proj):
    """Run-phase cost per node: microseconds."""
    out = subprocess.run([os.path.join(build, "bench", "phases"), proj, "1"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["run_us_per_node"]


def instructions(build, proj, nodes, tmp):
    """Run-phase cost per node: instructions executed inside crun_session_run."""
    out = os.path.join(tmp, "callgrind.out")
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        "--toggle-collect=crun_session_run",
                        os.path.join(build, "bench", "phases"), proj, "1"],
                       check=True, capture_output=True, text=True)
    collected = [l for l in r.stderr.splitlines() if "Collected :" in l]
    return int(collected[-1].split(":")[-1].replace(",", "")) / nodes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--nodes", type=int, default=100000)
    ap.add_argument("--shape", default="chain", choices=["chain", "wide", "layered"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline-build", help="another build dir: its phases, no hooks")
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions with valgrind instead of timing")
    a = ap.parse_args()
    if a.instructions:
        a.repeat = 1
    build = os.path.abspath(a.build)
    with tempfile.TemporaryDirectory() as tmp:
        proj = os.path.join(tmp, "proj")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen.py"), proj,
                        "--nodes", str(a.nodes), "--shape", a.shape, "--kind", "func"],
                       check=True)
        plugins = os.path.join(tmp, "plugins")
        build_null_hook(build, plugins)
        events_file = os.path.join(tmp, "events.jsonl")
        configs = {
            "none": [],
            "null": ["null_hook ="],
            "events": [f"events = path={events_file}"],
            "timing": ["timing = table=false"],
        }
        runs = [(name, build, hooks) for name, hooks in configs.items()]
        if a.baseline_build:
            runs.append(("none, baseline build", os.path.abspath(a.baseline_build), []))
        best = {}
        event_lines = 0
        for _ in range(a.repeat):
            for name, b, hooks in runs:
                write_ini(proj, plugins, hooks)
                if os.path.exists(events_file):
                    os.remove(events_file)
                cost = instructions(b, proj, a.nodes, tmp) if a.instructions else phases(b, proj)
                if name == "events":
                    with open(events_file, "rb") as f:
                        event_lines = sum(1 for _ in f)
                best[name] = min(cost, best.get(name, cost))
        base = best["none"]
        unit = "instructions" if a.instructions else "µs"
        print(f"# hook dispatch, {a.nodes} no-op function nodes ({a.shape}), sequential runner, "
              f"best of {a.repeat}; {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs\n")
        print(f"| hooks | run {unit}/node | vs none | added {unit}/node |")
        print("|---|---|---|---|")
        for name, _, _ in runs:
            c = best[name]
            print(f"| {name} | {c:.3f} | {100 * (c - base) / base:+.2f}% | {c - base:+.3f} |")
        print(f"\nevents wrote {event_lines} lines per run "
              f"({event_lines / a.nodes:.1f} per node)")


if __name__ == "__main__":
    main()
