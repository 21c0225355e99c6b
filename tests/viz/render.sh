#!/usr/bin/env bash
# render.sh - open a page of `crun viz --format html` in headless Chromium,
# offline, and report what its script did.
#
# usage: render.sh PAGE.html OUTDIR [WIDTH,HEIGHT]   (default 1600,1000)
#   PAGE may also be an http:// URL (`crun viz --serve`): then Chromium lets
#   the page's first requests finish (a virtual time budget) before the shot.
#   OUTDIR/screenshot.png   what a user sees at that window size
#   OUTDIR/dom.html         the DOM after the script ran (--dump-dom)
#   OUTDIR/console.log      every console message (Chromium's CONSOLE lines)
# Prints one line "rendered=N visible=N events=N error=MESSAGE" from the
# attributes the page's script sets on <body> when it has finished.
# Exit: 0 the page rendered without any console message or script error,
# 1 it did not, 2 usage or no Chromium (Debian: apt-get install chromium).
set -u
page=${1:?usage: render.sh PAGE.html OUTDIR [WIDTH,HEIGHT]}
out=${2:?usage: render.sh PAGE.html OUTDIR [WIDTH,HEIGHT]}
size=${3:-1600,1000}
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$browser" ] || { echo "render.sh: chromium not found (apt-get install chromium)" >&2; exit 2; }
wait=()
case $page in
    http://*) url=$page wait=(--virtual-time-budget=3000) ;;
    /*) url=file://$page ;;
    *) url=file://$PWD/$page ;;
esac
mkdir -p "$out"
profile=$(mktemp -d "${TMPDIR:-/tmp}/crun-viz-chromium.XXXXXX") || exit 2
trap 'rm -rf "$profile"' EXIT

# No network, no first-run work, no GPU: the page must draw from itself alone.
chrome()
{
    timeout -k 5 90 "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --disable-extensions --user-data-dir="$profile" \
        --enable-logging=stderr --v=0 --window-size="$size" "$@"
}

chrome "${wait[@]}" --screenshot="$out/screenshot.png" "$url" >/dev/null 2>"$out/chromium.log"
chrome "${wait[@]}" --dump-dom "$url" >"$out/dom.html" 2>>"$out/chromium.log"
grep -a ':CONSOLE' "$out/chromium.log" >"$out/console.log"

attr()
{
    sed -n "s/.*<body[^>]*data-$1=\"\([^\"]*\)\".*/\1/p" "$out/dom.html" | head -n 1
}
rendered=$(attr rendered) visible=$(attr visible) events=$(attr events) error=$(attr error)
echo "rendered=${rendered:-none} visible=${visible:-none} events=${events:-none} error=${error:-none}"
status=0
[ -s "$out/screenshot.png" ] || { echo "render.sh: no screenshot" >&2; status=1; }
[ -n "$rendered" ] || { echo "render.sh: the page's script did not finish" >&2; status=1; }
[ -z "$error" ] || status=1
if [ -s "$out/console.log" ]; then
    echo "render.sh: console messages:" >&2
    cat "$out/console.log" >&2
    status=1
fi
exit $status
