#!/usr/bin/env bash
# A runner that wraps runners, written as a third party would: the
# `repeat` example of docs/plugins.md (docs/examples/repeat_runner.c),
# compiled against the *installed* headers and library, wrapping a
# parallel runner named in runner.yml.  It proves what issue 15 asks of
# the API: the inner runs inherit the outer run's filters, get their own
# ids and log prefix, their parameters reach ${runtime_params:...} in the
# catalog, their failure and resume command reach the outer run's report;
# stacks resolve and are checked before anything runs (unknown names,
# cycles, an inner runner's own check), and `crun list runners` shows them.
set -euo pipefail
build=${CRUN_BUILD_DIR:?} source=${CRUN_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else echo "FAIL: $*"; fail=$((fail + 1)); fi; }
crun() { status=0; "$build/crun" "$@" --project "$tmp/p" >"$tmp/out.txt" 2>&1 || status=$?; }

meson install -C "$build" --destdir "$tmp/inst" --quiet >/dev/null
pc=$(dirname "$(find "$tmp/inst" -name crun.pc | head -n 1)")
prefix=$(sed -n 's/^prefix=//p' "$pc/crun.pc")
# a relocatable crun.pc (prefix=${pcfiledir}/...): the prefix it names, within the destdir
case $prefix in '${pcfiledir}'*) prefix=$(cd "$pc/${prefix#'${pcfiledir}'}" && pwd) && prefix=${prefix#"$tmp/inst"} ;; esac
pcflags=(--define-variable=prefix="$tmp/inst$prefix")
flags=$(PKG_CONFIG_PATH=$pc pkg-config "${pcflags[@]}" --cflags --libs crun)
libdir=$(PKG_CONFIG_PATH=$pc pkg-config "${pcflags[@]}" --variable=libdir crun)
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -o "$tmp/repeat.so" \
  "$source/docs/examples/repeat_runner.c" $flags -Wl,-rpath,"$libdir"
# the example stays as short as docs/plugins.md says, and is what it shows
check test "$(wc -l <"$source/docs/examples/repeat_runner.c")" -lt 80
sed -n '/^## A runner that wraps runners/,/^## A node library/p' "$source/docs/plugins.md" |
  sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$tmp/shown.c"
check cmp -s "$tmp/shown.c" "$source/docs/examples/repeat_runner.c"

mkdir -p "$tmp/p/conf/base"
cat >"$tmp/p/conf/base/pipelines.yml" <<'YML'
pipelines:
  __default__:
    nodes:
      - {name: make, cmd: [sh, -c, "echo '{\"x\": 1}' > {outputs.o}"], outputs: {o: out}}
      - {name: use, cmd: [sh, -c, "test -z \"$FAIL\" || exit 3; cat {inputs.i}"],
         inputs: {i: out}}
YML
cat >"$tmp/p/conf/base/catalog.yml" <<'YML'
out: {type: json, filepath: "data/out_${runtime_params:trial,0}.json"}
YML
cat >"$tmp/p/conf/base/runner.yml" <<YML
runners:
  par: {type: parallel, max_workers: 2}
  thrice: {type: $tmp/repeat.so, runner: par, times: 3, param: trial}
  twice: {type: $tmp/repeat.so, runner: thrice, times: 2}
  loop_a: {type: $tmp/repeat.so, runner: loop_b}
  loop_b: {type: $tmp/repeat.so, runner: loop_a}
  typo: {type: $tmp/repeat.so, runner: parr}
  picky: {type: $tmp/repeat.so, runner: par, colour: red}
  wraps_picky: {type: $tmp/repeat.so, runner: picky, times: 3}
YML

# three trials, each writing the file its own parameter names
crun --runner thrice
check test "$status" -eq 0
for k in 1 2 3; do check test -s "$tmp/p/data/out_$k.json"; done
check test ! -e "$tmp/p/data/out_0.json"
check grep -q "^crun: repeat 2: use: {\"x\": 1}" "$tmp/out.txt"
check grep -q "ran the pipeline in runs of its own" "$tmp/out.txt"

# the outer run's filter reaches every inner run: only 'make' runs
crun --runner thrice --nodes make
check test "$status" -eq 0
check grep -q "repeat 3: \[1/1\] make" "$tmp/out.txt"
check test "$(grep -c '\] use' "$tmp/out.txt")" -eq 0

# a stack of two wrappers: 2 x 3 inner runs, prefixes nested
rm -rf "$tmp/p/data"
crun --runner twice
check test "$status" -eq 0
check grep -q "^crun: repeat 2: repeat 3: \[2/2\] use" "$tmp/out.txt"

# an inner failure is the outer run's: exit 1, the node, and a resume
# command that starts the outer runner again from the failed node
FAIL=1 crun --runner thrice
check test "$status" -eq 1
check grep -q "error: repeat 1: node 'use'" "$tmp/out.txt"
check grep -q "the run failed at node 'use'" "$tmp/out.txt"
check grep -q -- "crun run --project $tmp/p --runner thrice --from-nodes use\$" "$tmp/out.txt"

# stacks are resolved before anything runs: exit 2 at the runner: line
rm -rf "$tmp/p/data"
crun --runner loop_a
check test "$status" -eq 2
check grep -q "runner.yml:6:.*makes a cycle: loop_a -> loop_b -> loop_a" "$tmp/out.txt"
crun --runner typo
check test "$status" -eq 2
check grep -q "runner.yml:7:.*unknown runner 'parr' (did you mean 'par'?)" "$tmp/out.txt"
# an inner runner's check() refuses its options before the first trial
crun --runner wraps_picky
check test "$status" -eq 2
check grep -q "runner.yml:8:.*'colour'" "$tmp/out.txt"
check test "$(grep -c 'repeat 1' "$tmp/out.txt")" -eq 0
check test ! -e "$tmp/p/data"

# crun list runners shows each stack
crun list runners
check grep -qE "^twice +.* twice -> thrice -> par\(parallel\)$" "$tmp/out.txt"
check grep -qE "^loop_a +.*error: .*makes a cycle" "$tmp/out.txt"

[ "$fail" -eq 0 ] || cat "$tmp/out.txt"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
