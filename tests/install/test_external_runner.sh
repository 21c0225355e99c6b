#!/usr/bin/env bash
# A runner plugin written outside the repository, compiled against the
# *installed* headers and library (meson install into a scratch folder,
# pkg-config --cflags --libs crun), named by path in a runner.yml, runs the
# demo project.  This is what a plugin author does; nothing here reaches
# into the source tree's private headers.
set -euo pipefail
build=${CRUN_BUILD_DIR:?} source=${CRUN_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else echo "FAIL: $*"; fail=$((fail + 1)); fi; }

meson install -C "$build" --destdir "$tmp/inst" --quiet >/dev/null
pc=$(dirname "$(find "$tmp/inst" -name crun.pc | head -n 1)")
prefix=$(sed -n 's/^prefix=//p' "$pc/crun.pc")
# a relocatable crun.pc (prefix=${pcfiledir}/...): the prefix it names, within the destdir
case $prefix in '${pcfiledir}'*) prefix=$(cd "$pc/${prefix#'${pcfiledir}'}" && pwd) && prefix=${prefix#"$tmp/inst"} ;; esac
pcflags=(--define-variable=prefix="$tmp/inst$prefix")
flags=$(PKG_CONFIG_PATH=$pc pkg-config "${pcflags[@]}" --cflags --libs crun)
libdir=$(PKG_CONFIG_PATH=$pc pkg-config "${pcflags[@]}" --variable=libdir crun)
check test -f "$tmp/inst$prefix/include/crun/runner.h"
# only public headers are installed
check test ! -e "$tmp/inst$prefix/include/crun/run.h"

cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -o "$tmp/stopwatch.so" \
  "$source/docs/examples/stopwatch_runner.c" $flags -Wl,-rpath,"$libdir"
check test -f "$tmp/stopwatch.so"

# a copy of the demo project whose runner.yml names the plugin by path
mkdir -p "$tmp/project"
cp -r "$source/crun.ini" "$source/conf" "$source/data" "$tmp/project/"
rm -rf "$tmp/project/data/0"[2-8]*
mkdir -p "$tmp/project/conf/external"
cat > "$tmp/project/conf/external/runner.yml" <<YML
default: stopwatch
runners:
  stopwatch: {type: $tmp/stopwatch.so, label: timed}
YML
"$build/crun" plugin info "$tmp/stopwatch.so" > "$tmp/info.txt"
check grep -q "stopwatch" "$tmp/info.txt"
# the options its table declares, from the installed options.h
check grep -qE "^options +label +string +stopwatch +what each log line starts with" "$tmp/info.txt"
status=0
"$build/crun" --project "$tmp/project" --env external > "$tmp/out.txt" 2>&1 || status=$?
check test "$status" -eq 0
check grep -q "timed: evaluate_model took" "$tmp/out.txt"
check test -s "$tmp/project/data/08_reporting/report.md"
# an option the plugin does not know is refused with the file and line
sed -i 's/label: timed/labl: timed/' "$tmp/project/conf/external/runner.yml"
status=0
"$build/crun" --project "$tmp/project" --env external > "$tmp/out.txt" 2>&1 || status=$?
check test "$status" -eq 2
check grep -q "conf/external/runner.yml:3:.*'labl'.*did you mean 'label'" "$tmp/out.txt"
[ "$fail" -eq 0 ] || cat "$tmp/out.txt"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
