#!/usr/bin/env bash
# The hook plugin of docs/hooks.md (docs/examples/hooks/node_counter.c),
# built the way the page says: against the *installed* headers and library
# (meson install into a scratch folder, pkg-config --cflags --libs crun),
# then enabled in a project's crun.ini, by path and by name on the plugin
# path, and run.  Nothing here reaches into the source tree's private headers.
set -euo pipefail
build=${CRUN_BUILD_DIR:?} source=${CRUN_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else echo "FAIL: $*"; fail=$((fail + 1)); fi; }

meson install -C "$build" --destdir "$tmp/inst" --no-rebuild --quiet >/dev/null
pc=$(dirname "$(find "$tmp/inst" -name crun.pc | head -n 1)")
prefix=$(sed -n 's/^prefix=//p' "$pc/crun.pc")
# a relocatable crun.pc (prefix=${pcfiledir}/...): the prefix it names, within the destdir
case $prefix in '${pcfiledir}'*) prefix=$(cd "$pc/${prefix#'${pcfiledir}'}" && pwd) && prefix=${prefix#"$tmp/inst"} ;; esac
pcflags=(--define-variable=prefix="$tmp/inst$prefix")
flags=$(PKG_CONFIG_PATH=$pc pkg-config "${pcflags[@]}" --cflags --libs crun)
libdir=$(PKG_CONFIG_PATH=$pc pkg-config "${pcflags[@]}" --variable=libdir crun)
check test -f "$tmp/inst$prefix/include/crun/hooks.h"

# the command of docs/hooks.md, with warnings as errors
mkdir -p "$tmp/plugins"
# shellcheck disable=SC2086  # pkg-config output is a list of flags
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -o "$tmp/plugins/node_counter.so" \
  "$source/docs/examples/hooks/node_counter.c" $flags -Wl,-rpath,"$libdir"
check test -f "$tmp/plugins/node_counter.so"
"$build/crun" plugin info "$tmp/plugins/node_counter.so" >"$tmp/info.txt"
check grep -q "node_counter" "$tmp/info.txt"
check grep -q "hooks" "$tmp/info.txt"

# a project with three command nodes; the hook named by path, with an option
mkdir -p "$tmp/project/conf/base" "$tmp/project/conf/local"
cat >"$tmp/project/crun.ini" <<INI
[project]
name = counted
[hooks]
$tmp/plugins/node_counter.so = label=counted
INI
cat >"$tmp/project/conf/base/pipelines.yml" <<'YML'
pipelines:
  __default__:
    nodes:
      - {name: a, cmd: [sh, -c, "echo 1 > {outputs.o}"], outputs: {o: x}}
      - {name: b, cmd: [cp, "{inputs.i}", "{outputs.o}"], inputs: {i: x}, outputs: {o: y}}
      - {name: c, cmd: [cat, "{inputs.i}"], inputs: {i: y}}
YML
status=0
"$build/crun" --project "$tmp/project" >"$tmp/out.txt" 2>&1 || status=$?
check test "$status" -eq 0
check grep -q "counted: 3 nodes ran, 0 failed in run " "$tmp/out.txt"
[ "$fail" -eq 0 ] || cat "$tmp/out.txt"

# by name, from a folder of the plugin path, in conf/local/hooks.yml; a
# failing node is counted
cat >"$tmp/project/crun.ini" <<INI
[project]
name = counted
plugin_path = $tmp/plugins
INI
cat >"$tmp/project/conf/local/hooks.yml" <<'YML'
hooks:
  - node_counter
YML
sed -i 's/cat, "{inputs.i}"]/sh, -c, "exit 4", c, "{inputs.i}"]/' "$tmp/project/conf/base/pipelines.yml"
status=0
"$build/crun" --project "$tmp/project" >"$tmp/out.txt" 2>&1 || status=$?
check test "$status" -eq 1
check grep -q "node_counter: 2 nodes ran, 1 failed in run " "$tmp/out.txt"

# an option the hook does not know: the file and line, and a suggestion
sed -i 's/- node_counter/- {name: node_counter, labl: x}/' "$tmp/project/conf/local/hooks.yml"
status=0
"$build/crun" --project "$tmp/project" >"$tmp/out.txt" 2>&1 || status=$?
check test "$status" -eq 2
check grep -q "conf/local/hooks.yml:2:.*'labl'.*did you mean 'label'" "$tmp/out.txt"
[ "$fail" -eq 0 ] || cat "$tmp/out.txt"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
