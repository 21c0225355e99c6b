#!/usr/bin/env python3
"""What a sweep costs per trial: prints numbers, asserts nothing.

usage: bench/sweep/run.py [--build build] [--trials 100] [--nodes 10] [--repeat 5]

A generated project of --nodes no-op function nodes in a chain (bench.noop,
memory datasets; the first node reads params:p) is swept over p=range(N)
through the sequential runner.  The nodes do nothing, so what is measured
is crun's own work per trial: a run of its own (id, parameters laid over
the project's, plan, catalog, runner, hooks), and the results table
rewritten after every trial.  Best of --repeat for each command, then:

  in-sweep   the median of the trials' own wall times (results.json
             "seconds": crun_session_run of one trial)
  per trial  (wall time of `crun --runner tune` - wall time of a sweep of
             one trial) / (trials - 1): what one more trial adds to the
             process, table rewrites and thread hand-offs included
  cpu        the same difference in user + system CPU time of the process
             (less sensitive than wall time to a machine shared with others)
  per sweep  wall time of a sweep of one trial - a plain `crun`: the fixed
             cost (checks, thread start, the final table written with fsync)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def make_project(d, nodes, trials):
    os.makedirs(os.path.join(d, "conf", "base"))
    with open(os.path.join(d, "crun.ini"), "w") as f:
        f.write("[project]\nname = sweep_bench\n")
    with open(os.path.join(d, "conf", "base", "pipelines.yml"), "w") as f:
        f.write("libraries: {bench: bench}\npipelines:\n  __default__:\n    nodes:\n")
        for i in range(nodes):
            ins = "params:p" if i == 0 else f"d{i - 1}"
            f.write(f"      - {{name: n{i}, func: bench.noop, inputs: [\"{ins}\"], outputs: d{i}}}\n")
    with open(os.path.join(d, "conf", "base", "parameters.yml"), "w") as f:
        f.write("p: 0\n")
    with open(os.path.join(d, "conf", "base", "runner.yml"), "w") as f:
        f.write("default: sequential\nrunners:\n  sequential: {type: sequential}\n"
                f"  tune: {{type: sweep, runner: sequential, params: {{p: \"range({trials})\"}}}}\n"
                "  one: {type: sweep, runner: sequential, params: {p: \"0\"}}\n")


def measure(argv, cwd):
    """Wall seconds and user + system CPU seconds of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0, f"{argv} failed"
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    crun = os.path.join(os.path.abspath(a.build), "crun")
    tmp = tempfile.mkdtemp(prefix="crun-bench-sweep.")
    try:
        make_project(tmp, a.nodes, a.trials)
        in_sweep, plains, ones, one_cpus, swepts, swept_cpus = [], [], [], [], [], []
        for _ in range(a.repeat):
            shutil.rmtree(os.path.join(tmp, ".crun"), ignore_errors=True)
            plain, _ = measure([crun, "-q"], tmp)
            one, one_cpu = measure([crun, "-q", "--runner", "one"], tmp)
            shutil.rmtree(os.path.join(tmp, ".crun"), ignore_errors=True)
            swept, swept_cpu = measure([crun, "-q", "--runner", "tune"], tmp)
            (sweep_dir,) = os.listdir(os.path.join(tmp, ".crun", "sweeps"))
            with open(os.path.join(tmp, ".crun", "sweeps", sweep_dir, "results.json")) as f:
                rows = json.load(f)["trials"]
            assert len(rows) == a.trials and all(r["status"] == "ok" for r in rows)
            in_sweep.append(statistics.median(r["seconds"] for r in rows))
            plains.append(plain)
            ones.append(one)
            one_cpus.append(one_cpu)
            swepts.append(swept)
            swept_cpus.append(swept_cpu)
        # differences of the best times: the best of noisy differences is biased low
        per_trial = (min(swepts) - min(ones)) / (a.trials - 1)
        cpu = (min(swept_cpus) - min(one_cpus)) / (a.trials - 1)
        fixed = min(ones) - min(plains)
        print(f"sweep of {a.trials} trials, {a.nodes} no-op nodes each, through sequential "
              f"(best of {a.repeat})")
        print(f"  in-sweep (median trial run):    {min(in_sweep) * 1e3:.3f} ms per trial")
        print(f"  per trial (N - 1 trial) / N-1:  {per_trial * 1e3:.3f} ms per trial")
        print(f"  cpu, the same:                  {cpu * 1e3:.3f} ms per trial")
        print(f"  per sweep (1 trial - plain):    {fixed * 1e3:.3f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
