#!/usr/bin/env bash
# Regenerates docs/report-screenshot.png: the sample HTML report
# (samples/misconfigured-host/reports/report.html, kept current by the
# tests) filtered to its failing controls of high severity, in headless
# Chromium. Usage: scripts/screenshot.sh [view] (default: the view below).
# Needs chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

view=${1:-"?severity=high&status=fail"}
report="$PWD/samples/misconfigured-host/reports/report.html"
out=docs/report-screenshot.png
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "scripts/screenshot.sh: chromium is required (apt-get install chromium)" >&2; exit 2; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No sandbox as root; no background networking, which would wait on a closed network.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1400,1350 \
  --screenshot="$PWD/$out" "file://$report$view" 2>/dev/null
echo "$out: $(stat -c %s "$out") bytes"
