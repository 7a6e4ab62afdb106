#!/usr/bin/env bash
# Times a full audit of this machine by posture (release build) beside Lynis
# (`lynis audit system --quick`), with /usr/bin/time for wall time and peak
# memory. Run as root for a complete audit. The numbers go in the README.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v lynis >/dev/null 2>&1 || need+=(lynis)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "posture $(target/release/posture --version | cut -d' ' -f2): full CIS Debian Linux 12 audit of this machine (3 runs)"
for run in 1 2 3; do
  /usr/bin/time -f "  run $run: %e s wall, %M KiB peak" target/release/posture audit --quiet --no-history --fail-on none --out "$work/posture" || true
done
target/release/posture audit --no-history --fail-on none --out "$work/posture" 2>&1 | tail -n 1 | sed 's/^/  /'

echo "lynis $(lynis show version): lynis audit system --quick"
/usr/bin/time -f "  %e s wall, %M KiB peak" lynis audit system --quick --no-colors >"$work/lynis.out" 2>"$work/lynis.time" || true
tail -n 1 "$work/lynis.time"
grep -E "Tests performed" "$work/lynis.out" | sed 's/^ */  /'
