"""The demo's model metrics, recomputed independently with numpy.

Copies the demo project (crun.ini, conf/, data/01_raw) into a temporary
folder, runs the built crun there, then reads the newest version of
data/08_reporting/metrics.json and data/06_models/regressor.json and
recomputes Kedro's spaceflights from the raw CSV files with Python's csv
module and numpy only:

  companies: iata_approved "t"/"f" -> 1/0, company_rating "100%" -> 1.0
  shuttles:  d_check_complete, moon_clearance_complete "t"/"f" -> 1/0,
             price "$1,325.0" -> 1325.0
  join:      shuttles.id = reviews.shuttle_id (shuttles' id dropped), then
             company_id = companies.id; rows with any missing cell dropped
  split:     test rows are shuttle_id % 5 == 0
  model:     least squares with an intercept (numpy.linalg.lstsq; the
             design matrix is rank deficient: one feature is constant)
  metrics:   r2_score, mae, max_error on the test rows

crun's numbers must agree to 6 significant digits (relative 1e-6), and the
row counts must agree.  Prints PASS/FAIL lines and "N passed, M failed".

usage: check_spaceflights_metrics.py CRUN SOURCE_DIR
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    # Debian's python3-numpy belongs to /usr/bin/python3, which another
    # python3 first on PATH (pyenv, a venv) does not see: use Debian's.
    if os.path.exists("/usr/bin/python3") and not os.environ.get("CRUN_CHECK_REEXEC"):
        os.environ["CRUN_CHECK_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    # meson's "skipped": bootstrap.sh installs python3-numpy
    print("SKIP numpy is not installed (apt-get install python3-numpy)")
    sys.exit(77)

REL = 1e-6
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def close(a, b, rel=REL):
    """a and b agree to rel relative to the larger magnitude."""
    return abs(a - b) <= rel * max(abs(a), abs(b))


# --- reading the raw files -------------------------------------------------------

def read_csv(path):
    """Rows as dicts; an empty cell is missing (None), as in crun and pandas."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]


def number(s):
    return None if s is None else float(s)


def flag(s):
    return None if s is None else {"t": 1.0, "f": 0.0}[s]


def percent(s):
    if s is None:
        return None
    assert s.endswith("%"), s
    return float(s[:-1]) / 100.0


def money(s):
    return None if s is None else float(s.replace("$", "").replace(",", ""))


def preprocess(raw_dir):
    companies = read_csv(os.path.join(raw_dir, "companies.csv"))
    shuttles = read_csv(os.path.join(raw_dir, "shuttles.csv"))
    reviews = read_csv(os.path.join(raw_dir, "reviews.csv"))
    for c in companies:
        c["iata_approved"] = flag(c["iata_approved"])
        c["company_rating"] = percent(c["company_rating"])
    for s in shuttles:
        s["d_check_complete"] = flag(s["d_check_complete"])
        s["moon_clearance_complete"] = flag(s["moon_clearance_complete"])
        s["price"] = money(s["price"])
    return companies, shuttles, reviews


def inner_join(left, lkey, right, rkey, drop_left=None):
    """Every pair of rows whose keys are equal (missing keys never match)."""
    index = {}
    for r in right:
        if r[rkey] is not None:
            index.setdefault(int(r[rkey]), []).append(r)
    out = []
    for l in left:
        if l[lkey] is None:
            continue
        for r in index.get(int(l[lkey]), []):
            row = {k: v for k, v in l.items() if k != drop_left}
            clash = set(row) & set(r)
            assert not clash, f"columns on both sides: {clash}"
            row.update(r)
            out.append(row)
    return out


def model_input(raw_dir):
    companies, shuttles, reviews = preprocess(raw_dir)
    rated = inner_join(shuttles, "id", reviews, "shuttle_id", drop_left="id")
    joined = inner_join(rated, "company_id", companies, "id")
    return [r for r in joined if all(v is not None for v in r.values())], len(joined[0])


def reference(raw_dir, features):
    table, ncols = model_input(raw_dir)
    x = np.array([[number(r[f]) for f in features] for r in table])
    y = np.array([number(r["price"]) for r in table])
    test = np.array([int(r["shuttle_id"]) % 5 == 0 for r in table])
    design = np.column_stack([x[~test], np.ones((~test).sum())])
    coef, _, rank, _ = np.linalg.lstsq(design, y[~test], rcond=None)
    pred = x[test] @ coef[:-1] + coef[-1]
    resid = y[test] - pred
    r2 = 1.0 - (resid ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum()
    return {
        "rows": len(table),
        "columns": ncols,
        "train_rows": int((~test).sum()),
        "rank": int(rank),
        # crun's "rank" counts the features' effective rank once centred,
        # without the intercept's column
        "feature_rank": int(np.linalg.matrix_rank(x[~test] - x[~test].mean(axis=0))),
        "coef": coef,
        "x_train": x[~test],
        "metrics": {"r2_score": r2, "mae": np.abs(resid).mean(),
                    "max_error": np.abs(resid).max()},
    }


def features_of(parameters_yml):
    """The list under model_options.features (a plain YAML list of names)."""
    names, inside = [], False
    for line in open(parameters_yml):
        if re.match(r"^\s*features:\s*$", line):
            inside = True
            continue
        m = re.match(r"^\s*-\s*([A-Za-z0-9_]+)\s*$", line)
        if inside and m:
            names.append(m.group(1))
        elif inside and line.strip() and not line.strip().startswith("#"):
            break
    return names


def newest(folder, base):
    versions = sorted(v for v in os.listdir(folder) if not v.startswith("."))
    return versions[-1], json.load(open(os.path.join(folder, versions[-1], base)))


def main():
    crun, source = os.path.abspath(sys.argv[1]), sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="crun-spaceflights.") as tmp:
        shutil.copy(os.path.join(source, "crun.ini"), tmp)
        shutil.copytree(os.path.join(source, "conf"), os.path.join(tmp, "conf"))
        shutil.copytree(os.path.join(source, "data", "01_raw"),
                        os.path.join(tmp, "data", "01_raw"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRUN_")}
        run = subprocess.run([crun], cwd=tmp, env=env, capture_output=True, text=True,
                             timeout=120)
        check("crun exits 0", run.returncode == 0,
              f"status {run.returncode}: {run.stderr[-600:]}")
        check("crun logs the R^2", "Model has a coefficient R^2 of" in run.stderr,
              run.stderr[-600:])
        if run.returncode != 0:
            return
        m = re.search(r"model input table: (\d+) rows, (\d+) columns", run.stderr)
        check("crun logs the model input table's size", m is not None, run.stderr[-600:])

        features = features_of(os.path.join(tmp, "conf", "base", "parameters.yml"))
        check("parameters.yml names eight features", len(features) == 8, str(features))
        ref = reference(os.path.join(tmp, "data", "01_raw"), features)

        if m:
            check("model input rows agree", int(m.group(1)) == ref["rows"],
                  f"crun {m.group(1)}, numpy {ref['rows']}")
            check("model input columns agree", int(m.group(2)) == ref["columns"],
                  f"crun {m.group(2)}, reference {ref['columns']}")

        mver, metrics = newest(os.path.join(tmp, "data", "08_reporting", "metrics.json"),
                               "metrics.json")
        rver, model = newest(os.path.join(tmp, "data", "06_models", "regressor.json"),
                             "regressor.json")
        check("metrics and regressor share the run's version", mver == rver,
              f"{mver} != {rver}")
        for key, want in ref["metrics"].items():
            got = metrics.get(key)
            check(f"{key} agrees (crun {got}, numpy {want:.10g})",
                  isinstance(got, (int, float)) and close(got, want),
                  f"relative difference {abs(got - want) / abs(want):.3g}"
                  if isinstance(got, (int, float)) else f"missing in {metrics}")

        check("training rows agree", model.get("rows") == ref["train_rows"],
              f"crun {model.get('rows')}, numpy {ref['train_rows']}")
        check("design matrix is rank deficient", ref["rank"] == len(features),
              f"numpy's rank of the {len(features) + 1} columns is {ref['rank']}")
        check("rank of the centred features agrees", model.get("rank") == ref["feature_rank"],
              f"crun {model.get('rank')}, numpy {ref['feature_rank']}")

        # The fit is unique up to the constant column(s), whose weight may sit
        # in the intercept (numpy's minimum-norm solution spreads it): compare
        # the identified coefficients one by one, the rest as their sum.
        x, coef = ref["x_train"], ref["coef"]
        const = [j for j in range(len(features)) if np.all(x[:, j] == x[0, j])]
        check("exactly one feature is constant on the training rows", len(const) == 1,
              f"constant: {[features[j] for j in const]}")
        scale = np.abs(coef).max()
        crun_coefs = model.get("coefficients", {})
        for j, f in enumerate(features):
            if j in const:
                continue
            got = crun_coefs.get(f)
            check(f"coefficient {f} agrees",
                  got is not None and abs(got - coef[j]) <= REL * max(abs(got), abs(coef[j]))
                  + 1e-12 * scale, f"crun {got}, numpy {coef[j]!r}")
        crun_offset = model.get("intercept", 0.0) + sum(
            crun_coefs.get(features[j], 0.0) * x[0, j] for j in const)
        ref_offset = coef[-1] + sum(coef[j] * x[0, j] for j in const)
        check("intercept (with the constant feature) agrees", close(crun_offset, ref_offset),
              f"crun {crun_offset!r}, numpy {ref_offset!r}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure with its reason, not a traceback alone
        failed += 1
        print(f"FAIL unexpected error: {type(e).__name__}: {e}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
