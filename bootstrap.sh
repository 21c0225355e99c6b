#!/usr/bin/env bash
# bootstrap.sh - set up a fresh Debian machine for crun, build, and act.
#
#   ./bootstrap.sh demo   install what is missing, build, run the demo pipeline
#   ./bootstrap.sh test   install what is missing, build, run the whole test
#                         suite: once as built, once under AddressSanitizer
#                         and UndefinedBehaviorSanitizer
#   ./bootstrap.sh install [PREFIX]
#                         install what is missing, build, install crun into
#                         PREFIX (default /usr/local; sudo when not writable):
#                         the program, libcrun, its plugins, headers, crun.pc
#                         and the docs with their examples
#
# Packages come from Debian only (apt-get); nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")"

packages=(gcc meson ninja-build pkg-config binutils procps python3 python3-jsonschema
          python3-numpy libyaml-dev libuv1-dev libinih-dev libjansson-dev libcmocka-dev
          libcsv-dev libsqlite3-dev chromium graphviz python3-yaml libmicrohttpd-dev curl
          clang libclang-rt-14-dev libxxhash-dev cwltool)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bootstrap: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# configure DIR [meson options...]: set up a build folder once, reuse it after
configure() {
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@"
  fi
}

# run_suite DIR LABEL [TEST...]: run a build's tests (all, or those named);
# print the plain summary line and return meson's status.
run_suite() {
  local dir=$1 label=$2 status=0
  shift 2
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || status=$?
  python3 - "$dir/meson-logs/testlog.json" "$label" <<'PY'
import json, sys
ok = bad = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): ok += 1
    elif r == "SKIP": skipped += 1
    else: bad += 1
print(f"{sys.argv[2]}: {ok} passed, {bad} failed, {skipped} skipped")
PY
  return $status
}

case "${1:-}" in
  demo)
    install_missing
    configure build --buildtype=debugoptimized
    ninja -C build
    ./build/crun
    ;;
  test)
    install_missing
    configure build --buildtype=debugoptimized --werror
    ninja -C build
    status=0
    run_suite build plain || status=1
    configure build-sanitize --buildtype=debug --werror -Db_sanitize=address,undefined \
      -Db_lundef=false
    ninja -C build-sanitize
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      run_suite build-sanitize sanitize || status=1
    # ThreadSanitizer on what runs many threads: sessions in threads, the
    # YAML parsed on a second thread, the parallel runner, the service's concurrent requests, hooks from workers,
    # trials of a sweep at once
    configure build-tsan --buildtype=debugoptimized --werror -Db_sanitize=thread \
      -Db_lundef=false
    ninja -C build-tsan
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp \
      run_suite build-tsan thread conf_events conf_cache embed run runner_contract hooks e2e-parallel e2e-service e2e-service-deadlines e2e-hooks e2e-sweep || status=1
    exit $status
    ;;
  install)
    install_missing
    prefix=$(realpath -m "${2:-/usr/local}")
    configure build --buildtype=debugoptimized -Dprefix="$prefix"
    ninja -C build
    sudo=""
    mkdir -p "$prefix" 2>/dev/null || true
    [ -w "$prefix" ] || sudo="sudo"
    $sudo meson install -C build --no-rebuild --quiet
    libdir=$(meson introspect build --buildoptions |
      python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"))')
    echo "bootstrap: crun installed in $prefix"
    case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "  export PATH=$prefix/bin:\$PATH" ;; esac
    pkg-config --exists crun 2>/dev/null ||
      echo "  export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
    echo "then: crun new myproj && cd myproj && meson setup b && meson compile -C b && crun"
    ;;
  *)
    echo "usage: $0 demo|test|install [PREFIX]" >&2
    exit 2
    ;;
esac
