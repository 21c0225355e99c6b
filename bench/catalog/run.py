#!/usr/bin/env python3
"""Benchmark of the catalog's table datasets: crun's csv and sqlite types
against pandas, on the same file, on the same machine, in the same run.
Prints numbers and a markdown table; asserts nothing (it is not a test).

usage: bench/catalog/run.py [--build build] [--rows 1000000] [--repeat 3]
                            [--keep DIR]
       bench/catalog/run.py --wide 20000 [--rows 10] [--build build] [--repeat 3]
       bench/catalog/run.py --json-save [--rows N] [--json-plugin SO] [--repeat 3]

1. Generates once a CSV file of --rows rows and 8 columns: 3 int64
   (id, qty, delta), 3 double (price: 2 decimals, lat: 17 significant
   digits, score: 6 decimals; ~1% of price cells missing) and 2 string
   (name: 5-12 letters, city: one of 12 names, ~1% holding a comma, so
   quoted).  Seeded: the same file every time.
2. crun: a project with one no-op function node (bench.noop) per operation,
   each operation in its own process (peak RSS is a process's maximum):
     csv load      table_csv -> noop (no outputs)
     csv save      table_csv -> noop -> table_out (csv)
     sqlite save   table_csv -> noop -> table_db (sqlite, if_exists replace)
     sqlite load   table_db -> noop (no outputs)
   The `events` hook's before/after_dataset_loaded and _saved times give the
   load and save times alone; the peak RSS is the whole process's
   (os.wait4's ru_maxrss), so for a save it includes the loaded table.
3. pandas (Debian's python3-pandas): the same operations, each in its own
   `python3 -c` process, timed inside the process around read_csv, to_csv,
   to_sql and read_sql (sqlite3 module), index=False.
MB/s is the operation's file size (the CSV file for csv, the database file
for sqlite) over its best time.  Each operation runs --repeat times; the
table shows the best time (the machine is shared: the least disturbed run)
and the median, and the largest peak RSS.

The table's size, the yardstick for memory: 8 bytes per numeric cell (6 of
the 8 columns, missing cells included: a column has a slot per row) plus the
UTF-8 length of every string cell (2 columns), i.e. what the values take
without any per-cell overhead.

--wide COLUMNS is another case, crun alone (no pandas needed): a file of
COLUMNS columns and --rows rows (10 unless given), whose cost is per column,
not per cell: naming the columns (every header name checked against the
others) and building the table (every column added by name).  Column i
holds int64, double or string cells by i % 3, and every 1000th header name
is empty ("Unnamed: N").  Two loads: as inferred, and with load_args.columns
forcing every column's type (each column looks up its forced type).  A
per-column cost that grows with the column count shows here as a load time
far from linear in COLUMNS.  The whole run's wall time is printed too: it
includes reading catalog.yml, whose load_args.columns has COLUMNS keys.

--json-save is a third case, crun alone: the CSV file of --rows rows (as
in 1.) loaded and saved with the json dataset, as a table ({"columns",
"rows"}), against the same load alone: save time, peak RSS and the JSON
file's size.  --json-plugin SO saves with another build of the json plugin
(a path to its .so), to compare two writers on the same file.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CITIES = ["Lagos", "Lima", "Oslo", "Perth", "Quito", "Riga", "Seoul", "Tunis",
          "Kyiv", "Reno, NV", "Bath, UK", "Turin"]


# --- the data ---------------------------------------------------------------------------

def generate(path, rows, seed=20261123):
    """Write the CSV file; return the table's size in bytes (see above)."""
    rng = random.Random(seed)
    letters = string.ascii_lowercase
    strings_bytes = 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "qty", "delta", "price", "lat", "score", "name", "city"])
        for i in range(rows):
            name = "".join(rng.choices(letters, k=rng.randint(5, 12)))
            city = CITIES[rng.randrange(len(CITIES))] if rng.random() < 0.1 else CITIES[i % 9]
            price = "" if rng.random() < 0.01 else f"{rng.uniform(0, 10000):.2f}"
            w.writerow([i + 1, rng.randint(0, 10000), rng.randint(-5000, 5000), price,
                        repr(rng.uniform(-90, 90)), f"{rng.random():.6f}", name, city])
            strings_bytes += len(name.encode()) + len(city.encode())
    return 6 * 8 * rows + strings_bytes


# --- measuring -----------------------------------------------------------------------------

def run_measured(argv, cwd=None, env=None):
    """(wall seconds, peak RSS in bytes, stdout, CPU seconds) of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(argv)} failed ({proc.returncode}):\n"
                     f"{err.read().decode()[-2000:]}")
        return (wall, usage.ru_maxrss * 1024, out.read().decode(),
                usage.ru_utime + usage.ru_stime)


def summarise(runs):
    """Best (least) and median of each timing, largest peak RSS."""
    keys = runs[0]["times"].keys()
    return {"times": {k: min(r["times"][k] for r in runs) for k in keys},
            "median": {k: statistics.median(r["times"][k] for r in runs) for k in keys},
            "wall": min(r["wall"] for r in runs),
            "cpu": min(r["cpu"] for r in runs),
            "rss": max(r["rss"] for r in runs)}


# --- crun ------------------------------------------------------------------------------------

CRUN_PIPELINES = """libraries: {bench: bench}
pipelines:
  csv_load:
    nodes: [{name: load_csv, func: bench.noop, inputs: [table_csv], outputs: []}]
  csv_save:
    nodes: [{name: save_csv, func: bench.noop, inputs: [table_csv], outputs: [table_out]}]
  sqlite_save:
    nodes: [{name: save_db, func: bench.noop, inputs: [table_csv], outputs: [table_db]}]
  sqlite_load:
    nodes: [{name: load_db, func: bench.noop, inputs: [table_db], outputs: []}]
"""


def crun_project(d, csv_path):
    os.makedirs(os.path.join(d, "conf", "base"), exist_ok=True)
    with open(os.path.join(d, "crun.ini"), "w") as f:
        # an absolute path: crun --project DIR runs from another folder
        events = os.path.join(os.path.abspath(d), "events.jsonl")
        f.write(f"[project]\nname = catalog_bench\n[hooks]\nevents = path={events}\n")
    with open(os.path.join(d, "conf", "base", "pipelines.yml"), "w") as f:
        f.write(CRUN_PIPELINES)
    with open(os.path.join(d, "conf", "base", "catalog.yml"), "w") as f:
        f.write(f"table_csv: {{type: csv, filepath: {csv_path}}}\n"
                "table_out: {type: csv, filepath: out/table.csv}\n"
                "table_db: {type: sqlite, filepath: out/table.db, table_name: t}\n")


def dataset_times(events_path):
    """{"load <ds>": s, "save <ds>": s} from the events hook's lines."""
    start, times = {}, {}
    for line in open(events_path):
        e = json.loads(line)
        ev, ds = e["event"], e.get("dataset")
        if ev in ("before_dataset_loaded", "before_dataset_saved"):
            start[(ev.endswith("loaded"), ds)] = e["time"]
        elif ev in ("after_dataset_loaded", "after_dataset_saved"):
            loaded = ev.endswith("loaded")
            times[f"{'load' if loaded else 'save'} {ds}"] = e["time"] - start[(loaded, ds)]
    return times


def crun_op(crun, project, pipeline, repeat):
    argv = [crun, "--project", project, "--pipeline", pipeline]
    runs = []
    for _ in range(repeat):
        events = os.path.join(project, "events.jsonl")
        if os.path.exists(events):
            os.remove(events)
        wall, rss, _, cpu = run_measured(argv)
        runs.append({"times": dataset_times(events), "wall": wall, "rss": rss, "cpu": cpu})
    return summarise(runs), argv


# --- pandas ------------------------------------------------------------------------------------

PANDAS_OPS = {
    "csv_load": "import pandas as pd, sys, time\n"
                "t = time.perf_counter(); df = pd.read_csv(sys.argv[1])\n"
                "print(time.perf_counter() - t, 0)",
    "csv_save": "import pandas as pd, sys, time\n"
                "t = time.perf_counter(); df = pd.read_csv(sys.argv[1]); l = time.perf_counter() - t\n"
                "t = time.perf_counter(); df.to_csv(sys.argv[2], index=False)\n"
                "print(l, time.perf_counter() - t)",
    "sqlite_save": "import pandas as pd, sqlite3, sys, time\n"
                   "t = time.perf_counter(); df = pd.read_csv(sys.argv[1]); l = time.perf_counter() - t\n"
                   "con = sqlite3.connect(sys.argv[3])\n"
                   "t = time.perf_counter(); df.to_sql('t', con, index=False, if_exists='replace')\n"
                   "con.commit(); print(l, time.perf_counter() - t)",
    "sqlite_load": "import pandas as pd, sqlite3, sys, time\n"
                   "con = sqlite3.connect(sys.argv[3])\n"
                   "t = time.perf_counter(); df = pd.read_sql('select * from t', con)\n"
                   "print(time.perf_counter() - t, 0)",
}


def pandas_python():
    """An interpreter that imports pandas: this one, else Debian's."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if exe and subprocess.run([exe, "-c", "import pandas"], capture_output=True).returncode == 0:
            return exe
    return None


def pandas_op(python, op, csv_path, out_csv, out_db, repeat):
    argv = [python, "-c", PANDAS_OPS[op], csv_path, out_csv, out_db]
    runs = []
    for _ in range(repeat):
        wall, rss, out, cpu = run_measured(argv)
        load, save = (float(x) for x in out.split())
        times = {"load": load} if op.endswith("load") else {"load": load, "save": save}
        runs.append({"times": times, "wall": wall, "rss": rss, "cpu": cpu})
    return summarise(runs), argv


# --- report ----------------------------------------------------------------------------------

def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mib(n):
    return f"{n / (1 << 20):.1f} MiB"


def quote(argv):
    return " ".join(a if a and all(c.isalnum() or c in "-_./:=," for c in a)
                    else "'" + a.replace("'", "'\\''") + "'" for a in argv)


# --- wide: many columns, few rows ------------------------------------------------------------

WIDE_TYPES = ("int64", "double", "string")


def wide_name(i):
    return "" if i % 1000 == 999 else f"c{i}"


def generate_wide(path, columns, rows, seed=20261124):
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([wide_name(i) for i in range(columns)])
        for _ in range(rows):
            w.writerow([rng.randint(-1000, 1000) if i % 3 == 0
                        else f"{rng.uniform(-1, 1):.4f}" if i % 3 == 1
                        else "".join(rng.choices(string.ascii_lowercase, k=6))
                        for i in range(columns)])


def wide_project(d, csv_path, columns):
    """Two datasets on the same file: types inferred, and every type forced."""
    crun_project(d, csv_path)
    forced = ", ".join(f"'{wide_name(i) or f'Unnamed: {i}'}': {WIDE_TYPES[i % 3]}"
                       for i in range(columns))
    with open(os.path.join(d, "conf", "base", "pipelines.yml"), "a") as f:
        f.write("  csv_load_forced:\n"
                "    nodes: [{name: load_forced, func: bench.noop, inputs: [table_forced],"
                " outputs: []}]\n")
    with open(os.path.join(d, "conf", "base", "catalog.yml"), "a") as f:
        f.write(f"table_forced: {{type: csv, filepath: {csv_path}, "
                f"load_args: {{columns: {{{forced}}}}}}}\n")


def wide(a, crun, work):
    rows = 10 if a.rows_default else a.rows
    csv_path = os.path.join(work, "wide.csv")
    generate_wide(csv_path, a.wide, rows)
    project = os.path.join(work, "crun")
    wide_project(project, csv_path, a.wide)
    cv = subprocess.run([crun, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"## crun CSV load, wide: {a.wide:,} columns x {rows:,} rows\n")
    print(f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
          f"{platform.release()}; load average {os.getloadavg()[0]:.2f}")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; {cv}")
    print(f"- CSV file: {os.path.getsize(csv_path):,} bytes; {a.repeat} runs, best (median)\n")
    print("| load | crun | per column | whole run (wall) |")
    print("|---|---|---|---|")
    for op, key, what in (("csv_load", "load table_csv", "types inferred"),
                          ("csv_load_forced", "load table_forced",
                           "every type forced (load_args.columns)")):
        c, argv = crun_op(crun, project, op, a.repeat)
        t, m = c["times"][key], c["median"][key]
        print(f"| {what} | {t:.3f} s ({m:.3f}) | {t / a.wide * 1e6:.2f} µs "
              f"| {c['wall']:.3f} s |")
    print(f"\nCommand: `{quote([sys.argv[0]] + sys.argv[1:])}`")


# --- json: a table saved as JSON --------------------------------------------------------------

def json_save(a, crun, work):
    csv_path = os.path.join(work, "table.csv")
    table_bytes = generate(csv_path, a.rows)
    project = os.path.join(work, "crun")
    crun_project(project, csv_path)
    json_type = os.path.abspath(a.json_plugin) if a.json_plugin else "json"
    with open(os.path.join(project, "conf", "base", "pipelines.yml"), "a") as f:
        f.write("  json_save:\n"
                "    nodes: [{name: save_json, func: bench.noop, inputs: [table_csv],"
                " outputs: [table_json]}]\n")
    with open(os.path.join(project, "conf", "base", "catalog.yml"), "a") as f:
        f.write(f"table_json: {{type: '{json_type}', filepath: out/table.json}}\n")
    load_before = f"{os.getloadavg()[0]:.2f}"
    cv = subprocess.run([crun, "--version"], capture_output=True, text=True).stdout.strip()
    load, _ = crun_op(crun, project, "csv_load", a.repeat)
    save, argv = crun_op(crun, project, "json_save", a.repeat)
    out = os.path.join(project, "out", "table.json")
    print(f"## crun json save of a table: {a.rows:,} rows x 8 columns\n")
    print(f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
          f"{platform.release()}; load average before {load_before}, after "
          f"{os.getloadavg()[0]:.2f} (a shared machine: other work disturbs the timings)")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; {cv}; "
          f"json plugin: {json_type}")
    print(f"- CSV file: {mib(os.path.getsize(csv_path))}; table size {mib(table_bytes)}; "
          f"JSON file: {mib(os.path.getsize(out))}; {a.repeat} runs, best (median)\n")
    print("| run | save time | wall | peak RSS | peak RSS over the load alone |")
    print("|---|---|---|---|---|")
    print(f"| csv load alone | - | {load['wall']:.2f} s | {mib(load['rss'])} | |")
    t, m = save["times"]["save table_json"], save["median"]["save table_json"]
    print(f"| csv load + json save | {t:.3f} s ({m:.3f}) | {save['wall']:.2f} s "
          f"| {mib(save['rss'])} | {mib(save['rss'] - load['rss'])} "
          f"({(save['rss'] - load['rss']) / table_bytes:.2f}x the table) |")
    print(f"\nCommand: `{quote([sys.argv[0]] + sys.argv[1:])}`")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rows", type=int)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", help="work in DIR and keep it (default: a temporary folder)")
    ap.add_argument("--wide", type=int, metavar="COLUMNS",
                    help="time loading a CSV of COLUMNS columns (crun only)")
    ap.add_argument("--json-save", action="store_true",
                    help="time saving the table with the json dataset (crun only)")
    ap.add_argument("--json-plugin", metavar="SO",
                    help="with --json-save: this json plugin's .so instead of crun's")
    a = ap.parse_args()
    a.rows_default = a.rows is None
    if a.rows is None:
        a.rows = 1_000_000
    crun = os.path.abspath(os.path.join(a.build, "crun"))
    if not os.access(crun, os.X_OK):
        sys.exit(f"bench: no crun at {crun}: build it first (ninja -C {a.build})")
    if a.wide or a.json_save:
        work = a.keep or tempfile.mkdtemp(prefix="crun-bench-catalog.")
        os.makedirs(work, exist_ok=True)
        try:
            (wide if a.wide else json_save)(a, crun, work)
        finally:
            if not a.keep:
                shutil.rmtree(work, ignore_errors=True)
        return
    python = pandas_python()
    if not python:
        sys.exit("bench: pandas is not installed (apt-get install -y python3-pandas)")
    work = a.keep or tempfile.mkdtemp(prefix="crun-bench-catalog.")
    os.makedirs(work, exist_ok=True)
    try:
        report(a, crun, python, work)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def report(a, crun, python, work):
    load_before = f"{os.getloadavg()[0]:.2f}"
    csv_path = os.path.join(work, "table.csv")
    t = time.perf_counter()
    table_bytes = generate(csv_path, a.rows)
    csv_bytes = os.path.getsize(csv_path)
    print(f"generated {csv_path}: {a.rows:,} rows, 8 columns, {mib(csv_bytes)} "
          f"in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    project = os.path.join(work, "crun")
    crun_project(project, csv_path)
    pdir = os.path.join(work, "pandas")
    os.makedirs(pdir, exist_ok=True)
    out_csv, out_db = os.path.join(pdir, "table.csv"), os.path.join(pdir, "table.db")

    rows = []  # (operation, crun seconds, crun bytes, crun rss, pandas s, pandas bytes, pandas rss)
    cmds = []
    c_db = os.path.join(project, "out", "table.db")
    for op, key in (("csv_load", "load table_csv"), ("csv_save", "save table_out"),
                    ("sqlite_save", "save table_db"), ("sqlite_load", "load table_db")):
        c, c_argv = crun_op(crun, project, op, a.repeat)
        p, p_argv = pandas_op(python, op, csv_path, out_csv, out_db, a.repeat)
        pkey = "save" if "save" in op else "load"
        ptime = p["times"][pkey]
        size = csv_bytes if op.startswith("csv") else None
        rows.append((op, c["times"][key], c["median"][key], c["wall"], c["rss"], ptime,
                     p["median"][pkey], p["wall"], p["rss"], size, c["cpu"], p["cpu"]))
        cmds.append((op, c_argv, p_argv))
        print(f"{op}: crun {c['times'][key]:.3f} s, pandas {ptime:.3f} s", file=sys.stderr)
    db_sizes = {"crun": os.path.getsize(c_db), "pandas": os.path.getsize(out_db)}

    # baselines: an empty crun run, and python importing pandas
    tiny = os.path.join(work, "tiny.csv")
    with open(tiny, "w") as f:
        f.write("a\n1\n")
    base_project = os.path.join(work, "crun_base")
    crun_project(base_project, tiny)
    _, crun_base_rss, _, crun_base_cpu = run_measured(
        [crun, "--project", base_project, "--pipeline", "csv_load"])
    pandas_base = [run_measured([python, "-c", "import pandas"]) for _ in range(a.repeat)]
    pandas_base_rss = max(r[1] for r in pandas_base)
    pandas_base_cpu = min(r[3] for r in pandas_base)

    nproc = os.cpu_count()
    print(f"## crun catalog vs pandas: {a.rows:,} rows x 8 columns\n")
    print(f"- machine: {nproc} CPUs ({cpu_model()}), {platform.system()} {platform.release()}")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    pv = subprocess.run([python, "-c", "import pandas, sqlite3, sys; print(pandas.__version__, "
                         "sqlite3.sqlite_version, sys.version.split()[0])"],
                        capture_output=True, text=True).stdout.split()
    cv = subprocess.run([crun, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"- {cv}; pandas {pv[0]} (SQLite {pv[1]}, Python {pv[2]})")
    print(f"- CSV file: {csv_bytes:,} bytes ({mib(csv_bytes)}); SQLite files: crun "
          f"{mib(db_sizes['crun'])}, pandas {mib(db_sizes['pandas'])}")
    print(f"- table size: {table_bytes:,} bytes ({mib(table_bytes)}) = 8 bytes x "
          f"{6 * a.rows:,} numeric cells + {table_bytes - 48 * a.rows:,} bytes of string "
          f"cells (UTF-8 lengths of {2 * a.rows:,} cells)")
    print(f"- baselines: an empty crun run {mib(crun_base_rss)} peak RSS, "
          f"{crun_base_cpu:.3f} s CPU; python3 importing pandas {mib(pandas_base_rss)}, "
          f"{pandas_base_cpu:.3f} s CPU")
    print(f"- load average before the run: {load_before}; after: {os.getloadavg()[0]:.2f} "
          f"(other work on a shared machine disturbs the timings)")
    print(f"- {a.repeat} runs of each operation; time = the operation alone (crun: the events "
          f"hook's before/after_dataset_loaded/_saved; pandas: timed in-process), best run "
          f"(median in brackets); MB/s from the best time; wall = the whole process, best run; "
          f"peak RSS = the whole process (ru_maxrss), largest of the runs; CPU = user + system "
          f"time of the whole process, least of the runs, less the import of pandas for "
          f"pandas (steadier than wall times when the machine is busy; crun's includes its "
          f"start, the load before a save, and freeing the table)\n")
    print("| operation | crun | crun MB/s | crun wall | crun CPU | crun peak RSS | pandas "
          "| pandas MB/s | pandas wall | pandas CPU | pandas peak RSS | pandas / crun time "
          "| pandas / crun CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = {}
    for op, ct, cm, cw, crss, pt, pm, pw, prss, size, ccpu, pcpu in rows:
        pcpu -= pandas_base_cpu
        csize = size or db_sizes["crun"]
        psize = size or db_sizes["pandas"]
        results[op] = (ct, crss, pt, prss, cm, pm, ccpu, pcpu)
        print(f"| {op.replace('_', ' ')} | {ct:.3f} s ({cm:.3f}) | {csize / ct / 1e6:.0f} "
              f"| {cw:.2f} s | {ccpu:.2f} s | {mib(crss)} | {pt:.3f} s ({pm:.3f}) "
              f"| {psize / pt / 1e6:.0f} | {pw:.2f} s | {pcpu:.2f} s | {mib(prss)} "
              f"| {pt / ct:.2f}x ({pm / cm:.2f}x) | {pcpu / ccpu:.2f}x |")
    ct, crss, pt, prss, cm, pm, ccpu, pcpu = results["csv_load"]
    print("\nTargets:\n")
    print(f"- crun's CSV load at least 2x faster than pandas' read_csv: {pt / ct:.2f}x best, "
          f"{pm / cm:.2f}x median, {pcpu / ccpu:.2f}x in CPU time "
          f"-> {'met' if pt / ct >= 2 else 'NOT met'}")
    print(f"- crun's peak memory loading the CSV at most 1.5x the table's size: "
          f"{mib(crss)} = {crss / table_bytes:.2f}x {mib(table_bytes)} "
          f"-> {'met' if crss <= 1.5 * table_bytes else 'NOT met'}; above an empty run's "
          f"{mib(crun_base_rss)}: {(crss - crun_base_rss) / table_bytes:.2f}x"
          f" (pandas: {prss / table_bytes:.2f}x, above importing pandas "
          f"{(prss - pandas_base_rss) / table_bytes:.2f}x)")
    print("\nCommand lines (FILE = the generated CSV; OUT = the pandas output folder):\n")
    for op, c_argv, p_argv in cmds:
        print(f"- {op}: `{quote(c_argv)}`")
        code = PANDAS_OPS[op].replace("\n", "; ")
        print(f"  / `{os.path.basename(python)} -c \"{code}\" FILE OUT/table.csv OUT/table.db`")


if __name__ == "__main__":
    main()
