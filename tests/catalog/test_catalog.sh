#!/usr/bin/env bash
# The data catalog end to end: every dataset type through the built crun on
# temporary projects.  Round trips (a command or function node writes,
# another reads) for text, bytes, json, csv, sqlite and partitioned; missing
# and corrupt files (exit 1, the dataset and file named, nothing else
# overwritten); command outputs a dataset refuses; SQLite's if_exists;
# versioning (two runs, two versions; --load-versions; one version per
# run); --env; dataset factories; credentials; `crun list datasets`.
#
# Needs python3 (lib.sh's JSON checks, SQLite and CSV readers in commands).
# CRUN_CREDS_PROBE: the creds_probe.so fixture (tests/fixtures/plugins/creds_probe.c;
# default: the build tree's).
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

: "${CRUN_CREDS_PROBE:=$CRUN_BUILD_DIR/tests/fixtures/plugins/creds_probe.so}"

# --- helpers -------------------------------------------------------------------------

# An empty project in ./p (and cd into it): crun.ini, a sequential runner,
# data/; the test writes pipelines.yml and catalog.yml.
cat_project()
{
    mkdir -p p/conf/base p/conf/local p/data || fail "cannot create the project"
    printf '[project]\nname = catalog\n' >p/crun.ini
    printf 'default: sequential\nrunners:\n  sequential: {type: sequential}\n' \
        >p/conf/base/runner.yml
    cd p || fail "no project"
}

pipelines() { write_file conf/base/pipelines.yml; }
catalog() { write_file conf/base/catalog.yml; }

# A copy of the demo project (crun.ini, conf, data/01_raw) in ./demo; cd there.
demo_project()
{
    mkdir -p demo/data || fail "cannot create demo/"
    cp -r "$CRUN_SOURCE_DIR/crun.ini" "$CRUN_SOURCE_DIR/conf" demo/ || fail "cannot copy the demo"
    cp -r "$CRUN_SOURCE_DIR/data/01_raw" demo/data/ || fail "cannot copy the demo's data"
    cd demo || fail "no demo"
}

# Every file under data/ (hidden ones too) with its checksum, sorted.
data_state()
{
    (cd data && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

expect_same_files()
{
    e2e_checked
    cmp -s "$1" "$2" || fail "$1 and $2 differ: $(e2e_oneline "$(cmp "$1" "$2" 2>&1)")"
}

# No temporary file of an atomic save or a command output is left in data/.
expect_no_temp_files()
{
    e2e_checked
    local left
    left=$(find data -name '.*' \( -name '*.tmp-*' -o -name '*.crun-*' \) | head -n 5)
    [ -z "$left" ] || fail "temporary files left behind: $(e2e_oneline "$left")"
}

# `crun list datasets` ($OUT) has a line for NAME of TYPE showing PATH (a
# whitespace-separated field; none for a dataset without a file).
expect_listed()
{
    e2e_checked
    awk -v n="$1" -v t="$2" -v p="${3:-}" '
        $1 == n && $2 == t { for (i = 3; i <= NF; i++) if ($i == p) ok = 1; if (p == "") ok = 1 }
        END { exit !ok }' "$OUT" ||
        fail "list datasets: no line for '$1' of type '$2' with path '${3:-(none)}': $STDOUT"
}

# py SCRIPT ARGS...: python3 -c SCRIPT ARGS...
py() { python3 -c "$@"; }

# An SQLite file holding table t (a integer, b text) with one row.
make_db()
{
    python3 - "$1" <<'PY' || fail "cannot make $1"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("create table t (a integer, b text)")
c.execute("insert into t values (1, 'x')")
c.commit()
PY
}

KEDRO_VERSION='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{3}Z$'

# The version folders under a versioned dataset's filepath, oldest first.
versions_of()
{
    find "$1" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' 2>/dev/null | sort
}

# --- round trips ------------------------------------------------------------------------

# text: a command writes UTF-8, a function node loads and saves it, a command copies it.
test_text_round_trip()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - name: write
        cmd: [sh, -c, 'printf "h\303\251llo \342\234\223\nline 2\n" > {outputs.o}']
        outputs: {o: note}
      - {name: copy, func: bench.noop, inputs: [note], outputs: [note_copy]}
      - name: back
        cmd: [cp, "{inputs.i}", "{outputs.o}"]
        inputs: {i: note_copy}
        outputs: {o: note_back}
EOF
    catalog <<'EOF'
note: {type: text, filepath: data/note.txt}
note_copy: {type: text, filepath: data/copies/note.txt, encoding: utf-8}
note_back: {type: text, filepath: data/back.txt}
EOF
    run_crun
    expect_status 0
    printf 'h\303\251llo \342\234\223\nline 2\n' >expected.txt
    expect_same_files expected.txt data/note.txt
    expect_same_files expected.txt data/copies/note.txt
    expect_same_files expected.txt data/back.txt
    expect_no_temp_files
    # a second run replaces the files with the same content
    run_crun
    expect_status 0
    expect_same_files expected.txt data/back.txt
    expect_no_temp_files
}

# bytes: every byte value (NULs included) survives a command, a function node, a command.
test_bytes_round_trip()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - name: write
        cmd: [sh, -c, "head -c 200000 /dev/urandom > {outputs.o}"]
        outputs: {o: blob}
      - {name: copy, func: bench.noop, inputs: [blob], outputs: [blob_copy]}
      - name: back
        cmd: [cp, "{inputs.i}", "{outputs.o}"]
        inputs: {i: blob_copy}
        outputs: {o: blob_back}
EOF
    catalog <<'EOF'
blob: {type: bytes, filepath: data/blob.bin}
blob_copy: {type: bytes, filepath: data/copy.bin}
blob_back: {type: bytes, filepath: data/back.bin}
EOF
    run_crun
    expect_status 0
    expect_eq "$(stat -c %s data/blob.bin)" 200000 "size of blob.bin"
    expect_same_files data/blob.bin data/copy.bin
    expect_same_files data/blob.bin data/back.bin
    expect_no_temp_files
}

# json: any JSON in, the same JSON out, written indented in insertion order
# with reals as short as read back exactly; parameters as JSON too.
test_json_round_trip()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - name: write
        cmd: [cp, "{inputs.i}", "{outputs.o}"]
        inputs: {i: src}
        outputs: {o: doc}
      - {name: copy, func: bench.noop, inputs: [doc], outputs: [doc_copy]}
      - name: back
        cmd: [cp, "{inputs.i}", "{outputs.o}"]
        inputs: {i: doc_copy}
        outputs: {o: doc_back}
      - {name: params, func: bench.noop, inputs: ["params:cfg"], outputs: [cfg_json]}
      - name: scalar
        cmd: [sh, -c, "echo '[1, 2]' > {outputs.o}"]
        outputs: {o: arr}
EOF
    catalog <<'EOF'
src: {type: json, filepath: data/src.json}
doc: {type: json, filepath: data/doc.json}
doc_copy: {type: json, filepath: data/doc_copy.json}
doc_back: {type: json, filepath: data/doc_back.json, indent: 4}
cfg_json: {type: json, filepath: data/cfg.json, indent: 0}
arr: {type: json, filepath: data/arr.json}
EOF
    write_file conf/base/parameters.yml <<'EOF'
cfg: {rate: 0.1, layers: [3, 4], name: x}
EOF
    printf '{"b": [1, 2.5, 0.1, "x"], "a": {"t": true, "n": null}, "u": "h\303\251"}' \
        >data/src.json
    run_crun
    expect_status 0
    expect_same_files data/src.json data/doc.json
    printf '{\n  "b": [\n    1,\n    2.5,\n    0.1,\n    "x"\n  ],\n  "a": {\n    "t": true,\n    "n": null\n  },\n  "u": "h\303\251"\n}\n' \
        >expected.json
    expect_same_files expected.json data/doc_copy.json
    expect_same_files data/doc_copy.json data/doc_back.json
    expect_eq "$(py 'import json,sys; print(json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])))' \
        data/src.json data/doc_copy.json)" True "src.json == doc_copy.json"
    expect_eq "$(json_query data/cfg.json 'd')" '{"layers": [3, 4], "name": "x", "rate": 0.1}' "cfg.json"
    expect_eq "$(json_query data/arr.json 'd')" '[1, 2]' "arr.json (any JSON value)"
    expect_no_temp_files
}

# csv: a command writes quoting, missing cells and an empty string; a function
# node loads it (typed columns) and saves it as CSV and SQLite; a command reads
# the SQLite table; the SQLite table loads back to the same CSV.
test_csv_round_trip()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - name: write
        cmd: [cp, "{inputs.i}", "{outputs.o}"]
        inputs: {i: given}
        outputs: {o: raw}
      - {name: to_csv, func: bench.noop, inputs: [raw], outputs: [clean]}
      - {name: to_db, func: bench.noop, inputs: [clean], outputs: [db]}
      - name: dump
        cmd:
          - python3
          - -c
          - |
            import json, sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            cols = [(r[1], r[2]) for r in c.execute("pragma table_info(rows)")]
            rows = [[type(v).__name__, v] for r in c.execute("select * from rows") for v in r]
            json.dump({"columns": cols, "cells": rows}, open(sys.argv[2], "w"))
          - "{inputs.db}"
          - "{outputs.o}"
        inputs: {db: db}
        outputs: {o: dumped}
      - {name: from_db, func: bench.noop, inputs: [db], outputs: [again]}
EOF
    catalog <<'EOF'
given: {type: text, filepath: data/given.csv}
raw: {type: csv, filepath: data/raw.csv}
clean: {type: csv, filepath: data/clean.csv}
db: {type: sqlite, filepath: data/rows.db, table_name: rows}
dumped: {type: json, filepath: data/dumped.json}
again: {type: csv, filepath: data/again.csv}
EOF
    printf 'id,price,name,note\r\n1,1.5,"Smith, J",plain\r\n2,,"say ""hi""",\r\n3,-2.25e3,"two\nlines",""\r\n' \
        >data/given.csv
    run_crun
    expect_status 0
    expect_same_files data/given.csv data/raw.csv
    # RFC 4180 out: quotes only where needed, whole doubles keep ".0", a
    # missing cell is an empty field and an empty string is ""
    printf 'id,price,name,note\n1,1.5,"Smith, J",plain\n2,,"say ""hi""",\n3,-2250.0,"two\nlines",""\n' \
        >expected.csv
    expect_same_files expected.csv data/clean.csv
    expect_eq "$(json_query data/dumped.json 'd["columns"]')" \
        '[["id", "INTEGER"], ["price", "REAL"], ["name", "TEXT"], ["note", "TEXT"]]' "SQLite columns"
    expect_eq "$(json_query data/dumped.json 'd["cells"]')" \
        '[["int", 1], ["float", 1.5], ["str", "Smith, J"], ["str", "plain"], ["int", 2], ["NoneType", null], ["str", "say \"hi\""], ["NoneType", null], ["int", 3], ["float", -2250.0], ["str", "two\nlines"], ["str", ""]]' \
        "SQLite cells"
    expect_same_files data/clean.csv data/again.csv
    expect_no_temp_files
}

# sqlite: save_args.if_exists replace (default), append and fail.
test_sqlite_if_exists()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: replace, func: bench.noop, inputs: [rows], outputs: [replaced]}
      - {name: append, func: bench.noop, inputs: [rows], outputs: [appended]}
      - {name: fail, func: bench.noop, inputs: [rows], outputs: [once]}
EOF
    catalog <<'EOF'
rows: {type: csv, filepath: data/rows.csv}
replaced: {type: sqlite, filepath: data/out.db, table_name: replaced}
appended: {type: sqlite, filepath: data/out.db, table_name: appended, save_args: {if_exists: append}}
once: {type: sqlite, filepath: data/out.db, table_name: once, save_args: {if_exists: fail}}
EOF
    printf 'a,b\n1,x\n2,y\n' >data/rows.csv
    local count='import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(" ".join(str(c.execute("select count(*) from " + t).fetchone()[0]) for t in sys.argv[2:]))'
    run_crun
    expect_status 0
    expect_eq "$(py "$count" data/out.db replaced appended once)" "2 2 2" "rows after one run"
    run_crun --nodes replace,append
    expect_status 0
    expect_eq "$(py "$count" data/out.db replaced appended once)" "2 4 2" "rows after a second run"
    run_crun --nodes fail
    expect_status 1
    expect_stderr_contains "dataset 'once'"
    expect_stderr_contains "table 'once' already exists"
    expect_eq "$(py "$count" data/out.db replaced appended once)" "2 4 2" "rows after a refused save"
    # a query loads; a dataset with sql cannot be saved
    catalog <<'EOF'
rows: {type: csv, filepath: data/rows.csv}
replaced: {type: sqlite, filepath: data/out.db, sql: "select a * 10 as a10 from replaced"}
appended: {type: sqlite, filepath: data/out.db, table_name: appended}
once: {type: csv, filepath: data/once.csv}
EOF
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: query, func: bench.noop, inputs: [replaced], outputs: [once]}
EOF
    run_crun
    expect_status 0
    expect_file_content data/once.csv "$(printf 'a10\n10\n20')"
}

# partitioned: a JSON object saves one file per member; a folder of CSV files
# loads as partitions (sorted, recursive, hidden files and other suffixes
# skipped) and saves as a folder again.
test_partitioned_round_trip()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: split, func: bench.noop, inputs: [seed], outputs: [parts]}
      - {name: copy_parts, func: bench.noop, inputs: [parts], outputs: [parts_copy]}
      - {name: copy_tables, func: bench.noop, inputs: [tables], outputs: [tables_copy]}
      - {name: copy_notes, func: bench.noop, inputs: [notes], outputs: [notes_copy]}
EOF
    catalog <<'EOF'
seed: {type: json, filepath: data/seed.json}
parts: {type: partitioned, path: data/parts, dataset: json, filename_suffix: .json}
parts_copy: {type: partitioned, path: data/parts_copy, dataset: {type: json, indent: 0}, filename_suffix: .json}
tables: {type: partitioned, path: data/tables, dataset: csv, filename_suffix: .csv}
tables_copy: {type: partitioned, path: data/tables_copy, dataset: {type: csv, save_args: {delimiter: ";"}}, filename_suffix: .csv}
notes: {type: partitioned, path: data/notes, dataset: text}
notes_copy: {type: partitioned, path: data/notes_copy, dataset: text}
EOF
    printf '{"2024/jan": {"n": 1}, "2024/feb": [1, 2.5], "top": "x"}' >data/seed.json
    mkdir -p data/tables/sub data/notes/deep
    printf 'a,b\n1,x\n' >data/tables/one.csv
    printf 'a,b\n2,"y, z"\n' >data/tables/sub/two.csv
    printf 'not,a\npartition\n' >data/tables/.hidden.csv
    printf 'not a partition\n' >data/tables/readme.txt
    printf 'first\n' >data/notes/a.txt
    printf 'second \342\234\223\n' >data/notes/deep/b.md
    run_crun
    expect_status 0
    expect_eq "$(cd data/parts && find . -type f | sort | tr '\n' ' ')" \
        "./2024/feb.json ./2024/jan.json ./top.json " "partition files"
    expect_eq "$(json_query data/parts/2024/jan.json 'd')" '{"n": 1}' "2024/jan.json"
    expect_eq "$(json_query data/parts/2024/feb.json 'd')" '[1, 2.5]' "2024/feb.json"
    expect_eq "$(json_query data/parts/top.json 'd')" 'x' "top.json"
    expect_eq "$(cd data/parts_copy && find . -type f | sort | tr '\n' ' ')" \
        "./2024/feb.json ./2024/jan.json ./top.json " "copied partition files"
    printf '[1, 2.5]\n' >expected.json
    expect_same_files expected.json data/parts_copy/2024/feb.json
    expect_eq "$(cd data/tables_copy && find . -type f | sort | tr '\n' ' ')" \
        "./one.csv ./sub/two.csv " "copied CSV partitions (no hidden file, no other suffix)"
    expect_file_content data/tables_copy/one.csv "$(printf 'a;b\n1;x')"
    expect_file_content data/tables_copy/sub/two.csv "$(printf 'a;b\n2;y, z')"
    expect_same_files data/notes/a.txt data/notes_copy/a.txt
    expect_same_files data/notes/deep/b.md data/notes_copy/deep/b.md
    expect_no_temp_files
}

# A command node gets a partitioned dataset (a folder, no single file) only
# through a function node: crun refuses clearly, and runs nothing after.
test_partitioned_command_refused()
{
    cat_project
    pipelines <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: show
        cmd: [sh, -c, "cat {inputs.i} > {outputs.o}"]
        inputs: {i: notes}
        outputs: {o: shown}
EOF
    catalog <<'EOF'
notes: {type: partitioned, path: data/notes, dataset: text}
shown: {type: text, filepath: data/shown.txt}
EOF
    mkdir -p data/notes
    printf 'first\n' >data/notes/a.txt
    run_crun
    expect_status 1
    expect_stderr_contains "node 'show'"
    expect_stderr_contains "crun.partitions"
    expect_no_file data/shown.txt
}

# --- missing and corrupt files ------------------------------------------------------------

# A node's input whose file does not exist: the run fails (exit 1) naming the
# dataset and the file, for every file-backed type.
test_missing_files()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  text: {nodes: [{name: t, func: bench.noop, inputs: [in_text], outputs: [out]}]}
  bytes: {nodes: [{name: b, func: bench.noop, inputs: [in_bytes], outputs: [out]}]}
  json: {nodes: [{name: j, func: bench.noop, inputs: [in_json], outputs: [out]}]}
  csv: {nodes: [{name: c, func: bench.noop, inputs: [in_csv], outputs: [out]}]}
  sqlite: {nodes: [{name: s, func: bench.noop, inputs: [in_sqlite], outputs: [out]}]}
  partitioned: {nodes: [{name: p, func: bench.noop, inputs: [in_partitioned], outputs: [out]}]}
  command: {nodes: [{name: k, cmd: [cat, "{inputs.i}"], inputs: {i: in_csv}, outputs: []}]}
EOF
    catalog <<'EOF'
in_text: {type: text, filepath: data/missing/note.txt}
in_bytes: {type: bytes, filepath: data/missing/blob.bin}
in_json: {type: json, filepath: data/missing/doc.json}
in_csv: {type: csv, filepath: data/missing/table.csv}
in_sqlite: {type: sqlite, filepath: data/missing/db.sqlite, table_name: t}
in_partitioned: {type: partitioned, path: data/missing/parts, dataset: text}
EOF
    local p file wrong_status=""
    for p in text bytes json csv sqlite partitioned command; do
        case $p in
        text) file=data/missing/note.txt ;;
        bytes) file=data/missing/blob.bin ;;
        json) file=data/missing/doc.json ;;
        csv | command) file=data/missing/table.csv ;;
        sqlite) file=data/missing/db.sqlite ;;
        partitioned) file=data/missing/parts ;;
        esac
        run_crun --pipeline "$p"
        expect_stderr_contains "dataset 'in_${p/command/csv}'"
        expect_stderr_contains "$file"
        expect_stderr_contains "the run failed at node"
        [ "$STATUS" = 0 ] && fail "$p: a missing input file did not fail the run"
        [ "$STATUS" = 1 ] || wrong_status="$wrong_status $p:$STATUS"
    done
    # nothing was created: not even the SQLite file a load would open
    expect_eq "$(find data -mindepth 1)" "" "files under data/ after the failed runs"
    # a database without the table is missing data too
    mkdir -p data/missing
    py 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("create table other (x)")' \
        data/missing/db.sqlite
    run_crun --pipeline sqlite
    expect_stderr_contains "dataset 'in_sqlite'"
    expect_stderr_contains "no table 't'"
    [ "$STATUS" = 1 ] || wrong_status="$wrong_status sqlite-table:$STATUS"
    e2e_checked
    [ -z "$wrong_status" ] ||
        fail "exit status should be 1 (the pipeline failed) for a missing input; got (pipeline:status)$wrong_status"
}

# A corrupt input fails its node (exit 1) with a clear message naming the
# dataset and the file, and no other file is touched: the outputs of the
# earlier good run keep their content, and no temporary file is left.
test_corrupt_inputs()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: load_csv, func: bench.noop, inputs: [in_csv], outputs: [out_csv]}
      - {name: after_csv, func: bench.noop, inputs: [out_csv], outputs: [out_csv2]}
      - {name: load_json, func: bench.noop, inputs: [in_json], outputs: [out_json]}
      - {name: after_json, func: bench.noop, inputs: [out_json], outputs: [out_json2]}
      - {name: load_sqlite, func: bench.noop, inputs: [in_sqlite], outputs: [out_sqlite]}
      - {name: after_sqlite, func: bench.noop, inputs: [out_sqlite], outputs: [out_sqlite2]}
      - {name: load_text, func: bench.noop, inputs: [in_text], outputs: [out_text]}
      - {name: after_text, func: bench.noop, inputs: [out_text], outputs: [out_text2]}
EOF
    catalog <<'EOF'
in_csv: {type: csv, filepath: data/in/table.csv}
out_csv: {type: csv, filepath: data/out/table.csv}
out_csv2: {type: csv, filepath: data/out/table2.csv}
in_json: {type: json, filepath: data/in/doc.json}
out_json: {type: json, filepath: data/out/doc.json}
out_json2: {type: json, filepath: data/out/doc2.json}
in_sqlite: {type: sqlite, filepath: data/in/db.sqlite, table_name: t}
out_sqlite: {type: sqlite, filepath: data/out/db.sqlite, table_name: t}
out_sqlite2: {type: csv, filepath: data/out/from_db.csv}
in_text: {type: text, filepath: data/in/note.txt}
out_text: {type: text, filepath: data/out/note.txt}
out_text2: {type: text, filepath: data/out/note2.txt}
EOF
    mkdir -p data/in
    printf 'a,b\n1,x\n2,y\n' >data/in/table.csv
    printf '{"a": [1, 2]}\n' >data/in/doc.json
    make_db data/in/db.sqlite
    printf 'caf\303\251\n' >data/in/note.txt
    run_crun
    expect_status 0
    local kind file what
    for kind in csv json sqlite text; do
        case $kind in
        csv)
            file=data/in/table.csv what="unterminated quoted field"
            printf 'a,b\n1,x\n2,"y\n3,z\n' >$file
            ;;
        json)
            file=data/in/doc.json what="invalid JSON"
            printf '{"a": [1, 2\n' >$file
            ;;
        sqlite)
            file=data/in/db.sqlite what="not a database"
            printf 'SQLite format 3? no: just text, long enough to have a header ...........\n' >$file
            ;;
        text)
            file=data/in/note.txt what="invalid UTF-8 at byte 3"
            printf 'caf\351\n' >$file
            ;;
        esac
        data_state | grep -v " \./in/" >before.txt
        run_crun --nodes "load_$kind,after_$kind"
        expect_status 1
        expect_stderr_contains "node 'load_$kind'"
        expect_stderr_contains "dataset 'in_$kind'"
        expect_stderr_contains "$file"
        expect_stderr_contains "$what"
        data_state | grep -v " \./in/" >after.txt
        cmp -s before.txt after.txt || fail "$kind: files changed by the failed run: $(e2e_oneline "$(diff before.txt after.txt)")"
        expect_no_temp_files
    done
    # the line of a CSV or JSON error is named
    run_crun --nodes load_csv
    expect_stderr_contains "table.csv:3: unterminated quoted field"
    run_crun --nodes load_json
    expect_stderr_contains "doc.json:2:"
}

# A command writes an output its dataset refuses (bad JSON, CSV, UTF-8, a
# file that is no database): the node fails, the old file stays, and the
# refused temporary file is removed.
test_refused_command_outputs()
{
    cat_project
    pipelines <<'EOF'
pipelines:
  __default__:
    nodes:
      - {name: w_json, cmd: [cp, src/doc.json, "{outputs.o}"], outputs: {o: doc}}
      - {name: w_csv, cmd: [cp, src/table.csv, "{outputs.o}"], outputs: {o: table}}
      - {name: w_text, cmd: [cp, src/note.txt, "{outputs.o}"], outputs: {o: note}}
      - {name: w_sqlite, cmd: [cp, src/db.sqlite, "{outputs.o}"], outputs: {o: db}}
EOF
    catalog <<'EOF'
doc: {type: json, filepath: data/doc.json}
table: {type: csv, filepath: data/table.csv}
note: {type: text, filepath: data/note.txt}
db: {type: sqlite, filepath: data/db.sqlite, table_name: t}
EOF
    mkdir -p src
    printf '{"ok": true}\n' >src/doc.json
    printf 'a,b\n1,x\n' >src/table.csv
    printf 'good\n' >src/note.txt
    make_db src/db.sqlite
    run_crun
    expect_status 0
    expect_same_files src/doc.json data/doc.json
    expect_same_files src/table.csv data/table.csv
    expect_same_files src/note.txt data/note.txt
    expect_same_files src/db.sqlite data/db.sqlite
    local before
    before=$(data_state)
    printf '{"ok": tru\n' >src/doc.json
    printf 'a,b\n1,"x\n' >src/table.csv
    printf 'caf\351\n' >src/note.txt
    printf 'no database here, only text in a file that is long enough\n' >src/db.sqlite
    run_crun --nodes w_json
    expect_status 1
    expect_stderr_contains "node 'w_json'"
    expect_stderr_contains "dataset 'doc'"
    expect_stderr_contains "invalid JSON"
    run_crun --nodes w_csv
    expect_status 1
    expect_stderr_contains "dataset 'table'"
    expect_stderr_contains "unterminated quoted field"
    run_crun --nodes w_text
    expect_status 1
    expect_stderr_contains "dataset 'note'"
    expect_stderr_contains "invalid UTF-8"
    run_crun --nodes w_sqlite
    expect_status 1
    expect_stderr_contains "dataset 'db'"
    expect_stderr_contains "not a database"
    # a database without the table the dataset names
    rm src/db.sqlite
    py 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("create table other (x)")' \
        src/db.sqlite
    run_crun --nodes w_sqlite
    expect_stderr_contains "dataset 'db'"
    expect_stderr_contains "no table 't'"
    local status=$STATUS
    expect_eq "$(data_state)" "$before" "data/ after refused outputs"
    expect_no_temp_files
    STATUS=$status
    expect_status 1
}

# --- versioning ------------------------------------------------------------------------------

# The demo twice: two versions of regressor and metrics, each run's saves
# under one version folder <filepath>/<version>/<basename>.
test_versions_demo()
{
    demo_project
    run_crun
    expect_status 0
    run_crun
    expect_status 0
    local reg met v
    reg=$(versions_of data/06_models/regressor.json)
    met=$(versions_of data/08_reporting/metrics.json)
    expect_eq "$(echo "$reg" | wc -l)" 2 "regressor versions"
    expect_eq "$met" "$reg" "metrics' versions (the same as the regressor's)"
    for v in $reg; do
        [[ $v =~ $KEDRO_VERSION ]] || fail "version '$v' is not Kedro's YYYY-MM-DDThh.mm.ss.sssZ"
        [ -f "data/06_models/regressor.json/$v/regressor.json" ] || fail "no regressor.json in $v"
        [ -f "data/08_reporting/metrics.json/$v/metrics.json" ] || fail "no metrics.json in $v"
        expect_json "data/08_reporting/metrics.json/$v/metrics.json"
    done
    # the report (not versioned) is one file, read from the newest metrics
    expect_eq "$(find data/08_reporting -maxdepth 1 -type f -printf '%f\n')" report.md "report files"
    expect_no_temp_files
}

# A versioned dataset written by one node and read by another: runs make
# versions; --load-versions name:version makes a later run read an old one.
version_project()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: train, func: bench.noop, inputs: ["params:model"], outputs: [model]}
      - name: use
        cmd: [sh, -c, "sleep 0.2; cat {inputs.m} > {outputs.o}"]
        inputs: {m: model}
        outputs: {o: used}
      - name: stamp
        cmd: [sh, -c, "sleep 0.2; echo $CRUN_RUN_ID > {outputs.o}"]
        inputs: {x: used}
        outputs: {o: stamp}
EOF
    catalog <<'EOF'
model: {type: json, filepath: data/model.json, versioned: true}
used: {type: text, filepath: data/used.json, versioned: true}
stamp: {type: text, filepath: data/stamp.txt, versioned: true}
EOF
    write_file conf/base/parameters.yml <<'EOF'
model: {weight: "${runtime_params:w,0}"}
EOF
}

test_load_versions()
{
    version_project
    run_crun --params w=1
    expect_status 0
    local v1 v2
    v1=$(versions_of data/model.json)
    run_crun --params w=2
    expect_status 0
    v2=$(versions_of data/model.json | tail -n 1)
    expect_eq "$(versions_of data/model.json | wc -l)" 2 "model versions"
    [ "$v1" \< "$v2" ] || fail "versions do not sort by time: '$v1' then '$v2'"
    expect_eq "$(json_query "data/model.json/$v2/model.json" 'd["weight"]')" 2 "the newest model"
    # the consumer alone reads the newest version by default...
    run_crun --from-nodes use
    expect_status 0
    local v3
    v3=$(versions_of data/used.json | tail -n 1)
    expect_eq "$(json_query "data/used.json/$v3/used.json" 'd["weight"]')" 2 "used (newest model)"
    # ...and the old one when asked
    run_crun --from-nodes use --load-versions "model:$v1"
    expect_status 0
    local v4
    v4=$(versions_of data/used.json | tail -n 1)
    [ "$v4" != "$v3" ] || fail "the pinned run made no new version of used"
    expect_eq "$(json_query "data/used.json/$v4/used.json" 'd["weight"]')" 1 "used (model:$v1)"
    expect_eq "$(versions_of data/model.json | wc -l)" 2 "model versions after the consumer runs"
    # a dataset that is not versioned, or not in the catalog, cannot be pinned
    run_crun --from-nodes use --load-versions "nothing:$v1"
    expect_status 2
    expect_stderr_contains "--load-versions: 'nothing' is not a versioned dataset"
}

# One run, one version: saves made seconds apart share the run's timestamp.
test_one_version_per_run()
{
    version_project
    run_crun
    expect_status 0
    run_crun
    expect_status 0
    local runs ds
    runs=$(versions_of data/model.json)
    expect_eq "$(echo "$runs" | wc -l)" 2 "versions after two runs"
    for ds in used.json stamp.txt; do
        expect_eq "$(versions_of "data/$ds")" "$runs" "versions of $ds"
    done
    # the run id names the same instant
    local v
    for v in $runs; do
        [[ $v =~ $KEDRO_VERSION ]] || fail "version '$v' is not Kedro's format"
        local id
        id=$(cat "data/stamp.txt/$v/stamp.txt")
        local want=${v:0:4}${v:5:2}${v:8:2}T${v:11:2}${v:14:2}${v:17:2}Z
        [[ $id == "$want"-* ]] || fail "run id '$id' and version '$v' name different instants"
    done
}

# --- environments, factories, credentials, listing ----------------------------------------

# --env prod: conf/prod/catalog.yml replaces the report's entry.
test_env_prod()
{
    demo_project
    run_crun list datasets --env prod
    expect_status 0
    expect_listed report text data/08_reporting/report_prod.md
    run_crun --env prod
    expect_status 0
    [ -s data/08_reporting/report_prod.md ] || fail "no report_prod.md"
    expect_no_file data/08_reporting/report.md
    run_crun
    expect_status 0
    [ -s data/08_reporting/report.md ] || fail "no report.md with the default env"
    grep -q '| r2_score |' data/08_reporting/report.md || fail "report.md has no r2_score"
}

# Factories: a name no entry declares takes the best matching pattern's
# entry (most literal characters first, then fewest placeholders); an
# explicit entry wins, also one written after a factory that matches it
# (pinned_csv: under the sanitizers this also checks that the factory's
# entry it replaces is freed); names matching nothing are memory datasets.
test_factories()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: a, func: bench.noop, inputs: [cars_csv], outputs: [cars_out_csv]}
      - {name: b, func: bench.noop, inputs: [cars_out_csv], outputs: [special_cars_csv]}
      - {name: c, func: bench.noop, inputs: [cars_csv], outputs: [pinned_csv]}
      - {name: d, func: bench.noop, inputs: [cars_csv], outputs: [plain]}
      - {name: e, func: bench.noop, inputs: [plain], outputs: [cars_json]}
      - {name: f, func: bench.noop, inputs: [cars_csv], outputs: [x_y_db]}
EOF
    catalog <<'EOF'
"{name}_csv":
  type: csv
  filepath: data/{name}.csv
"special_{name}_csv":
  type: csv
  filepath: data/special/{name}.csv
  save_args: {delimiter: ";"}
"{kind}_json": {type: json, filepath: "data/json/{kind}.json"}
"{a}_{b}_db": {type: sqlite, filepath: "data/{a}.db", table_name: "{b}"}
pinned_csv: {type: csv, filepath: data/pinned/here.csv}
EOF
    printf 'make,n\nmoon,1\nmars,2\n' >data/cars.csv
    run_crun list datasets
    expect_status 0
    expect_listed cars_csv csv data/cars.csv
    expect_listed cars_out_csv csv data/cars_out.csv
    expect_listed special_cars_csv csv data/special/cars.csv
    expect_listed pinned_csv csv data/pinned/here.csv
    expect_listed plain memory
    expect_listed cars_json json data/json/cars.json
    expect_listed x_y_db sqlite data/x.db
    run_crun
    expect_status 0
    expect_same_files data/cars.csv data/cars_out.csv
    expect_file_content data/special/cars.csv "$(printf 'make;n\nmoon;1\nmars;2')"
    expect_same_files data/cars.csv data/pinned/here.csv
    expect_eq "$(json_query data/json/cars.json 'd')" \
        '{"columns": ["make", "n"], "rows": [["moon", 1], ["mars", 2]]}' "cars.json"
    expect_eq "$(py 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from y").fetchone()[0])' data/x.db)" \
        2 "rows of table y in x.db"
    # the IR names the resolved entries
    run_crun compile
    expect_status 0
    expect_eq "$(json_query "$OUT" 'd["datasets"]["special_cars_csv"]["type"]')" csv "IR type"
}

credentials_project()
{
    cat_project
    pipelines <<'EOF'
pipelines:
  __default__:
    nodes:
      - name: show
        cmd: [sh, -c, "cat {inputs.c} > {outputs.o}"]
        inputs: {c: warehouse}
        outputs: {o: shown}
EOF
    catalog <<EOF
warehouse:
  type: $CRUN_CREDS_PROBE
  label: nightly
  credentials: db_creds
shown: {type: json, filepath: data/shown.json}
EOF
    write_file conf/local/credentials.yml <<'EOF'
db_creds:
  user: scott
  password: s3cr3t-TIGER-42
other_creds: {user: nobody, password: x}
EOF
}

# credentials.yml (conf/local) reaches the dataset that names it; the secret
# is in no output of crun (compile, list, logs).
test_credentials()
{
    [ -f "$CRUN_CREDS_PROBE" ] || fail "the creds_probe fixture is not built: $CRUN_CREDS_PROBE"
    credentials_project
    run_crun
    expect_status 0
    expect_eq "$(json_query data/shown.json 'd')" '{"password_length": 15, "user": "scott"}' \
        "what the dataset received"
    expect_stderr_lacks "s3cr3t"
    run_crun compile
    expect_status 0
    expect_eq "$(json_query "$OUT" 'd["datasets"]["warehouse"]["credentials"]')" db_creds \
        "the IR names the credentials"
    expect_stdout_lacks "s3cr3t"
    expect_stdout_lacks "scott"
    run_crun compile -o ir.json
    expect_status 0
    ! grep -q s3cr3t ir.json || fail "compile -o wrote the secret"
    run_crun list datasets --json
    expect_status 0
    expect_stdout_lacks "s3cr3t"
    run_crun list datasets
    expect_stdout_lacks "s3cr3t"
    # a built-in type takes no credentials: refused, and still no secret shown
    catalog <<'EOF'
warehouse: {type: json, filepath: data/w.json, credentials: db_creds}
shown: {type: json, filepath: data/shown.json}
EOF
    printf '{}' >data/w.json
    run_crun
    expect_status 2
    expect_stderr_contains "'credentials'"
    expect_stderr_contains "dataset 'warehouse'"
    expect_stderr_lacks "s3cr3t"
}

# A compiled IR names credentials without their values; running it reads
# them from the project's conf/<env>/credentials.yml, as a run from YAML does.
test_credentials_ir()
{
    [ -f "$CRUN_CREDS_PROBE" ] || fail "the creds_probe fixture is not built: $CRUN_CREDS_PROBE"
    credentials_project
    run_crun compile -o ir.json
    expect_status 0
    ! grep -q s3cr3t ir.json || fail "compile -o wrote the secret"
    run_crun --ir ir.json
    expect_stderr_lacks "s3cr3t"
    expect_status 0
    expect_eq "$(json_query data/shown.json 'd')" '{"password_length": 15, "user": "scott"}' \
        "what the dataset received from the IR's run"
}

# A name credentials.yml does not have: exit 2 at the catalog's line, with
# a suggestion, before anything runs; the secret is not shown.
test_credentials_missing()
{
    credentials_project
    sed -i 's/credentials: db_creds/credentials: db_cred/' conf/base/catalog.yml
    run_crun
    expect_config_error "conf/base/catalog.yml:4:16" "no credentials named 'db_cred'" \
        "did you mean 'db_creds'?"
    expect_stderr_lacks "s3cr3t"
    expect_no_file data/shown.json
    run_crun compile
    expect_status 2
    expect_stderr_contains "conf/base/catalog.yml:4:"
    # no credentials.yml at all
    rm conf/local/credentials.yml
    run_crun list datasets
    expect_status 2
    expect_stderr_contains "no credentials named 'db_cred'"
}

# Every dataset, with its type and path: catalog entries of each type,
# parameters and memory datasets.
test_list_datasets()
{
    cat_project
    pipelines <<'EOF'
libraries: {bench: bench}
pipelines:
  __default__:
    nodes:
      - {name: a, func: bench.noop, inputs: [t, b, j, "params:x"], outputs: [mem]}
      - {name: c, func: bench.noop, inputs: [mem, c, s], outputs: [parts]}
EOF
    catalog <<'EOF'
t: {type: text, filepath: data/t.txt}
b: {type: bytes, filepath: data/b.bin}
j: {type: json, filepath: data/j.json, versioned: true}
c: {type: csv, filepath: data/c.csv}
s: {type: sqlite, filepath: data/s.db, table_name: tbl}
parts: {type: partitioned, path: data/parts, dataset: json}
declared_memory: {type: memory}
EOF
    write_file conf/base/parameters.yml <<<'x: 1'
    run_crun list datasets
    expect_status 0
    expect_listed t text data/t.txt
    expect_listed b bytes data/b.bin
    expect_listed j json data/j.json
    expect_listed c csv data/c.csv
    expect_listed s sqlite data/s.db
    expect_listed declared_memory memory
    expect_listed mem memory
    expect_listed params:x params
    expect_eq "$(wc -l <"$OUT")" 9 "datasets listed"
    run_crun list datasets --json
    expect_status 0
    expect_eq "$(json_query "$OUT" '[(x["name"], x["type"], x.get("filepath"), x["versioned"]) for x in d if x["name"] in ("j", "s")]')" \
        '[["j", "json", "data/j.json", true], ["s", "sqlite", "data/s.db", false]]' "list datasets --json"
    # a partitioned dataset's place is its folder (option `path`)
    run_crun list datasets
    expect_listed parts partitioned data/parts
}

run_tests "$@"
