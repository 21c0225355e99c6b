#!/usr/bin/env python3
"""Benchmarks of the parallel runner beside ninja, make, snakemake and dask:
prints markdown tables, asserts nothing.

usage: bench/parallel/run.py [--build build] [--cmd-nodes 10000] [--func-nodes 100000]
                             [--snakemake-nodes 500] [--cpu-nodes 200] [--chain 1000]
                             [--repeat 3] [--tmp DIR] [--files-nodes 2000,10000]
                             [--files-levels none,node] [--files-baseline OLD_CRUN]
                             [--only cmd,files,cpu,func,mem,snakemake]

1. no-op command nodes (`touch` an output), chain / wide / layered, 2 workers:
   `crun` (parallel runner, max_workers 2) vs `ninja -j2` vs `make -j2` on the
   same DAG; and snakemake --cores 2 on a smaller one (it is slow).
1b. the same `touch` DAGs with every output a `text` file of catalog.yml, as a
   project replacing make declares them: crun at each durability level (run,
   the default; none; node) vs ninja and make, 2,000 and 10,000 nodes,
   median of --repeat alternating rounds, and each tool's own CPU per node
   (optionally an older crun beside: --files-baseline).
2. CPU-bound command nodes (awk loops of ~50 ms, wide): speed-up of 2 workers
   over 1, for crun and for ninja.
3. no-op function nodes (bench.noop), 2 workers: the run phase per node
   (bench/phases: plan, catalog, execution, release) and the whole process;
   dask's threaded scheduler (dask.threaded.get, num_workers=2) on the same DAG.
4. a chain of function nodes each making a fresh 10 MB value (bench.fill):
   peak RSS, parallel and sequential.
Every number is the best of --repeat runs (the machine may be shared).
"self CPU" is the CPU time of the tool's own process (all its threads, not
its children), sampled from /proc every 10 ms in a separate run.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GEN = os.path.join(HERE, "gen.py")
TICK = os.sysconf("SC_CLK_TCK")

DASK_SCRIPT = r"""
import json, sys, time
from dask.threaded import get
ins = json.load(open(sys.argv[1]))["inputs"]
def noop(*args):
    return args[0] if args else b"x"
dsk = {f"d{i}": (noop,) + tuple(f"d{j}" for j in deps) for i, deps in enumerate(ins)}
best = 1e30
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    get(dsk, list(dsk), num_workers=2)
    best = min(best, time.perf_counter() - t)
print(best)
"""


def run_once(argv, cwd=None, env=None):
    """(wall seconds, peak RSS KiB of the process tree's largest) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(argv)} failed in {cwd}:\n{err[-2000:]}")
    return wall, usage.ru_maxrss


def self_cpu(argv, cwd=None, env=None):
    """CPU seconds of the process itself (no children), sampled from /proc."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    last = 0.0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            last = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.01)
    return last


def best_of(n, argv, cwd=None, clean=None, env=None):
    best_wall, best_rss = 1e30, 1 << 62
    for _ in range(n):
        if clean:
            clean()
        wall, rss = run_once(argv, cwd, env)
        best_wall, best_rss = min(best_wall, wall), min(best_rss, rss)
    return best_wall, best_rss


def best_cpu(n, argv, cwd=None, clean=None, env=None):
    best = 1e30
    for _ in range(max(1, n - 1)):
        if clean:
            clean()
        best = min(best, self_cpu(argv, cwd, env))
    return best


def gen(tmp, name, *args):
    d = os.path.join(tmp, name)
    if not os.path.isdir(d):
        subprocess.run([sys.executable, GEN, d] + [str(a) for a in args], check=True)
    return d


def remover(*paths):
    def clean():
        for p in paths:
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.unlink(p)
    return clean


def machine():
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{platform.node()}: {os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
            f"load {os.getloadavg()[0]:.1f}")


def version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True).stdout.strip()
        return out.splitlines()[0] if out else "?"
    except OSError:
        return None


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "-"


def bench_cmd(a, tmp, crun):
    n = a.cmd_nodes
    print(f"\n## {n} no-op command nodes (`touch` the output), 2 workers\n")
    print("commands: `crun -q --project P` (runner.yml: parallel, max_workers 2) running "
          "`touch {outputs.0}` without a shell (crun's default), the same through "
          "`sh -c` (as ninja runs every command), `ninja -j2`, `make -j2 -s` (make runs "
          "`touch` without a shell); outputs cleaned before each run, runs interleaved\n")
    print("| shape | crun wall s | crun sh -c wall s | ninja wall s | make wall s | crun/ninja "
          "| crun sh -c/ninja | crun/make | crun self CPU µs/node | ninja self CPU µs/node |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for shape in ("chain", "wide", "layered"):
        d = gen(tmp, f"cmd-{shape}", "--nodes", n, "--shape", shape, "--kind", "cmd",
                "--also", "ninja,make")
        dsh = gen(tmp, f"cmd-sh-{shape}", "--nodes", n, "--shape", shape, "--kind", "cmd",
                  "--shell")
        nj, mk = os.path.join(d, "ninja"), os.path.join(d, "make")
        nj_clean = remover(os.path.join(nj, "out"), os.path.join(nj, ".ninja_log"),
                           os.path.join(nj, ".ninja_deps"))
        mk_clean = remover(os.path.join(mk, "out"))
        runs = {
            "crun": ([crun, "-q", "--project", os.path.join(d, "crun")], None, None),
            "crun_sh": ([crun, "-q", "--project", os.path.join(dsh, "crun")], None, None),
            "ninja": (["ninja", "-j2"], nj, nj_clean),
            "make": (["make", "-j2", "-s"], mk, mk_clean),
        }
        # interleaved, so that a noisy minute hurts every tool alike
        w = {k: 1e30 for k in runs}
        for _ in range(a.repeat):
            for k, (argv, cwd, clean) in runs.items():
                w[k] = min(w[k], best_of(1, argv, cwd, clean)[0])
        c_cpu = best_cpu(a.repeat, runs["crun"][0])
        n_cpu = best_cpu(a.repeat, ["ninja", "-j2"], nj, nj_clean)
        print(f"| {shape} | {w['crun']:.2f} | {w['crun_sh']:.2f} | {w['ninja']:.2f} "
              f"| {w['make']:.2f} | {ratio(w['crun'], w['ninja'])} "
              f"| {ratio(w['crun_sh'], w['ninja'])} | {ratio(w['crun'], w['make'])} "
              f"| {c_cpu * 1e6 / n:.0f} | {n_cpu * 1e6 / n:.0f} |")
        nj_clean()
        mk_clean()


def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def run_self(argv, cwd=None):
    """(wall seconds, CPU seconds of the process itself and its threads, not
    its children) of one run: read from /proc while it is a zombie."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    wall = time.perf_counter() - start
    with open(f"/proc/{proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed in {cwd}:\n{err[-2000:]}")
    return wall, cpu


class Trash:
    """Outputs moved aside between runs (one rename) and deleted once the
    rounds are over: deleting thousands of files just before a timed run
    slows its file creations (ext4 skips freshly freed inodes), whichever
    tool comes next."""
    def __init__(self, where):
        self.where = where
        self.n = 0

    def mover(self, *paths):
        def clean():
            os.makedirs(self.where, exist_ok=True)
            for p in paths:
                if os.path.lexists(p):
                    self.n += 1
                    os.rename(p, os.path.join(self.where, str(self.n)))
        return clean

    def empty(self):
        shutil.rmtree(self.where, ignore_errors=True)


def bench_cmd_files(a, tmp, crun):
    """The same `touch` DAG with every output a real file of catalog.yml (text,
    filepath out/dI), at crun's three durability levels beside ninja and make."""
    base = os.path.abspath(a.files_baseline) if a.files_baseline else None
    for n in [int(x) for x in a.files_nodes.split(",") if x]:
        print(f"\n## {n} `touch` command nodes whose outputs are catalog files, 2 workers\n")
        print("catalog.yml: `dI: {type: text, filepath: out/dI}`; commands: `crun -q --project P "
              "[--durability none|node]` (default durability: run, one syncfs at the end), "
              "`ninja -j2`, `make -j2 -s`; outputs moved aside before each run (deleted after "
              f"the shape's rounds); the runs alternate, {a.repeat} rounds; median wall seconds; "
              "CPU µs/node: the median CPU time of the tool's own process (its threads, not "
              "its children) per node" + (f"; crun before: {base}" if base else "") + "\n")
        print("| shape | crun (run) | crun none | crun node | ninja | make | crun/make "
              "| crun/ninja | crun node/make | crun CPU µs/node | make CPU µs/node "
              + ("| crun before | before/make " if base else "") + "| load before, after |")
        print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if base else "") + "---|")
        for shape in ("chain", "wide", "layered"):
            d = gen(tmp, f"files-{shape}-{n}", "--nodes", n, "--shape", shape, "--kind", "cmd",
                    "--also", "ninja,make", "--files")
            proj, nj, mk = (os.path.join(d, x) for x in ("crun", "ninja", "make"))
            trash = Trash(os.path.join(d, "trash"))
            cr_clean = trash.mover(os.path.join(proj, "out"), os.path.join(proj, ".crun"))
            levels = a.files_levels.split(",")
            runs = {
                "crun": ([crun, "-q", "--project", proj], None, cr_clean),
                "none": ([crun, "-q", "--project", proj, "--durability", "none"], None,
                         cr_clean),
                "node": ([crun, "-q", "--project", proj, "--durability", "node"], None,
                         cr_clean),
                "base": ([base, "-q", "--project", proj], None, cr_clean),
                "ninja": (["ninja", "-j2"], nj, trash.mover(os.path.join(nj, "out"),
                                                            os.path.join(nj, ".ninja_log"))),
                "make": (["make", "-j2", "-s"], mk, trash.mover(os.path.join(mk, "out"))),
            }
            keep = levels + ["crun", "ninja", "make"] + (["base"] if base else [])
            runs = {k: v for k, v in runs.items() if k in keep}
            load0 = os.getloadavg()[0]
            t = {k: [] for k in runs}
            cpu = {k: [] for k in runs}
            for _ in range(a.repeat):
                for k, (argv, cwd, clean) in runs.items():
                    clean()
                    wall, c = run_self(argv, cwd)
                    t[k].append(wall)
                    cpu[k].append(c)
            m = {k: median(v) for k, v in t.items()}
            m.setdefault("none", float("nan"))
            m.setdefault("node", float("nan"))
            row = (f"| {shape} | {m['crun']:.2f} | {m['none']:.2f} | {m['node']:.2f} "
                   f"| {m['ninja']:.2f} | {m['make']:.2f} | {ratio(m['crun'], m['make'])} "
                   f"| {ratio(m['crun'], m['ninja'])} | {ratio(m['node'], m['make'])} "
                   f"| {median(cpu['crun']) * 1e6 / n:.0f} | {median(cpu['make']) * 1e6 / n:.0f} ")
            if base:
                row += f"| {m['base']:.2f} | {ratio(m['base'], m['make'])} "
            print(row + f"| {load0:.1f}, {os.getloadavg()[0]:.1f} |", flush=True)
            for _, _, clean in runs.values():
                clean()
            trash.empty()


def bench_snakemake(a, tmp, crun):
    n = a.snakemake_nodes
    print(f"\n## {n} no-op command nodes, layered, 2 workers: snakemake\n")
    print("commands: `crun -q`, `snakemake --cores 2 -q`, `ninja -j2`\n")
    d = gen(tmp, f"smk-{n}", "--nodes", n, "--shape", "layered", "--kind", "cmd",
            "--also", "snakemake,ninja")
    sm, nj = os.path.join(d, "snakemake"), os.path.join(d, "ninja")
    sm_clean = remover(os.path.join(sm, "out"), os.path.join(sm, ".snakemake"))
    nj_clean = remover(os.path.join(nj, "out"), os.path.join(nj, ".ninja_log"))
    c = best_of(a.repeat, [crun, "-q", "--project", os.path.join(d, "crun")])[0]
    s = best_of(min(a.repeat, 2), ["snakemake", "--cores", "2", "-q"], sm, sm_clean)[0]
    j = best_of(a.repeat, ["ninja", "-j2"], nj, nj_clean)[0]
    print("| crun wall s | snakemake wall s | ninja wall s | snakemake/crun |")
    print("|---|---|---|---|")
    print(f"| {c:.2f} | {s:.2f} | {j:.2f} | {ratio(s, c)} |")
    sm_clean()
    nj_clean()


def calibrate_awk(target=0.05):
    k = 1000000
    for _ in range(4):
        t = time.perf_counter()
        subprocess.run(["awk", f"BEGIN {{ for (i = 0; i < {k}; i++) s += i }}"], check=True)
        took = time.perf_counter() - t
        k = max(1000, int(k * target / max(took, 1e-3)))
    return k


def bench_cpu(a, tmp, crun):
    n = a.cpu_nodes
    k = calibrate_awk()
    cmd = f"awk 'BEGIN {{ for (i = 0; i < {k}; i++) s += i; print s }}' > {{out}}"
    print(f"\n## {n} CPU-bound command nodes (awk loop of ~50 ms: {k} iterations), wide\n")
    print("commands: `crun -q --runner-opt max_workers=W`, `ninja -jW`\n")
    d = gen(tmp, f"cpu-{n}", "--nodes", n, "--shape", "wide", "--kind", "cmd", "--cmd", cmd,
            "--also", "ninja")
    nj = os.path.join(d, "ninja")
    nj_clean = remover(os.path.join(nj, "out"), os.path.join(nj, ".ninja_log"))
    p = os.path.join(d, "crun")
    c1 = best_of(a.repeat, [crun, "-q", "--project", p, "--runner-opt", "max_workers=1"])[0]
    c2 = best_of(a.repeat, [crun, "-q", "--project", p, "--runner-opt", "max_workers=2"])[0]
    j1 = best_of(a.repeat, ["ninja", "-j1"], nj, nj_clean)[0]
    j2 = best_of(a.repeat, ["ninja", "-j2"], nj, nj_clean)[0]
    print("| tool | 1 worker s | 2 workers s | speed-up |")
    print("|---|---|---|---|")
    print(f"| crun parallel | {c1:.2f} | {c2:.2f} | {c1 / c2:.2f}x |")
    print(f"| ninja | {j1:.2f} | {j2:.2f} | {j1 / j2:.2f}x |")
    nj_clean()


def dask_python():
    for py in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([py, "-c", "import dask.threaded"], capture_output=True).returncode == 0:
            return py
    return None


def bench_func(a, tmp, crun, phases):
    n = a.func_nodes
    py = dask_python()
    print(f"\n## {n} no-op function nodes (bench.noop, memory datasets), 2 workers\n")
    print("run phase: `bench/phases P` (crun_session_run: plan, catalog, execute, release; "
          "runner.yml default), whole process: `crun -q`; dask: `dask.threaded.get(dsk, keys, "
          "num_workers=2)` on the same DAG (graph building not counted)\n")
    print("| shape | parallel run µs/node | sequential run µs/node | parallel whole process "
          "µs/node | dask threaded µs/node | dask/crun (run phase) |")
    print("|---|---|---|---|---|---|")
    for shape in ("chain", "wide", "layered"):
        d = gen(tmp, f"func-{shape}", "--nodes", n, "--shape", shape, "--kind", "func",
                "--also", "dask")
        p = os.path.join(d, "crun")
        out = subprocess.run([phases, p, str(a.repeat)], check=True, capture_output=True,
                             text=True).stdout
        par = json.loads(out)["run_us_per_node"]
        rcfile = os.path.join(p, "conf", "base", "runner.yml")
        with open(rcfile) as f:
            rc = f.read()
        with open(rcfile, "w") as f:
            f.write(rc.replace("default: parallel", "default: sequential"))
        out = subprocess.run([phases, p, str(a.repeat)], check=True, capture_output=True,
                             text=True).stdout
        seq = json.loads(out)["run_us_per_node"]
        with open(rcfile, "w") as f:
            f.write(rc)
        whole = best_of(a.repeat, [crun, "-q", "--project", p])[0]
        dask = "-"
        ratio_s = "-"
        if py:
            r = subprocess.run([py, "-c", DASK_SCRIPT, os.path.join(d, "dask.json"),
                                str(a.repeat)], capture_output=True, text=True)
            if r.returncode == 0:
                dsec = float(r.stdout.strip())
                dask = f"{dsec * 1e6 / n:.1f}"
                ratio_s = f"{dsec * 1e6 / n / par:.0f}x"
        print(f"| {shape} | {par:.2f} | {seq:.2f} | {whole * 1e6 / n:.2f} | {dask} | {ratio_s} |")
    if not py:
        print("\n(dask not found: apt-get install python3-dask)")


def bench_mem(a, tmp, crun):
    n = a.chain
    print(f"\n## a chain of {n} function nodes, each a fresh 10 MB value (bench.fill)\n")
    print("command: `crun -q` (runner.yml: parallel, max_workers 2) and `--runner sequential`; "
          "peak RSS from wait4\n")
    d = gen(tmp, f"fill-{n}", "--nodes", n, "--shape", "chain", "--kind", "func",
            "--func", "bench.fill", "--params", "size: 10000000")
    p = os.path.join(d, "crun")
    wp, rp = best_of(a.repeat, [crun, "-q", "--project", p])
    ws, rs = best_of(a.repeat, [crun, "-q", "--project", p, "--runner", "sequential"])
    print("| runner | wall s | peak RSS MB |")
    print("|---|---|---|")
    print(f"| parallel (2 workers) | {wp:.2f} | {rp / 1024:.1f} |")
    print(f"| sequential | {ws:.2f} | {rs / 1024:.1f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--cmd-nodes", type=int, default=10000)
    ap.add_argument("--snakemake-nodes", type=int, default=500)
    ap.add_argument("--cpu-nodes", type=int, default=200)
    ap.add_argument("--func-nodes", type=int, default=100000)
    ap.add_argument("--chain", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tmp", default=None, help="where DAGs and outputs go (default: $TMPDIR)")
    ap.add_argument("--files-nodes", default="2000,10000",
                    help="sizes of the catalog-files command DAGs (comma-separated)")
    ap.add_argument("--files-levels", default="none,node",
                    help="crun's durability levels run beside the default (run): none,node")
    ap.add_argument("--files-baseline", default=None,
                    help="another crun binary (an older build) run beside, in the files DAGs")
    ap.add_argument("--only", default="cmd,files,snakemake,cpu,func,mem")
    a = ap.parse_args()
    crun = os.path.abspath(os.path.join(a.build, "crun"))
    phases = os.path.abspath(os.path.join(a.build, "bench", "phases"))
    only = set(a.only.split(","))
    print(f"# crun parallel runner benchmarks\n\n{datetime.datetime.now():%Y-%m-%d %H:%M}, "
          f"{machine()}")
    tools = [version([crun, "--version"]), "ninja " + (version(["ninja", "--version"]) or "?"),
             version(["make", "--version"]), "snakemake " + (version(["snakemake", "--version"]) or "?")]
    print("tools: " + "; ".join(f"`{t}`" for t in tools if t))
    with tempfile.TemporaryDirectory(dir=a.tmp) as tmp:
        print(f"files in {tmp}")
        env_tmp = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = tmp  # crun's scratch folder on the same file system
        try:
            if "cmd" in only:
                bench_cmd(a, tmp, crun)
            if "files" in only:
                bench_cmd_files(a, tmp, crun)
            if "snakemake" in only and shutil.which("snakemake"):
                bench_snakemake(a, tmp, crun)
            if "cpu" in only:
                bench_cpu(a, tmp, crun)
            if "func" in only:
                bench_func(a, tmp, crun, phases)
            if "mem" in only:
                bench_mem(a, tmp, crun)
        finally:
            if env_tmp is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = env_tmp


if __name__ == "__main__":
    main()
