#!/usr/bin/env bash
# Times a full CIS AWS Foundations v3.0.0 audit by posture (release build) of
# an emulated account (moto server on 127.0.0.1) seeded at each given scale,
# and Prowler's CIS 3.0 scan of the same account beside it
# (../shared/peers/run-prowler.sh). Prints wall time, peak memory and the
# number of API requests the emulator received during each run.
#   scripts/bench-aws.sh [SCALE ...]          default: 1 10
set -euo pipefail
cd "$(dirname "$0")/.."
scales=("$@"); [ ${#scales[@]} -gt 0 ] || scales=(1 10)
regions=(us-east-1 eu-west-1)
port=5070
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }
cargo build --release --quiet
export MOTO_PIDFILE=/tmp/posture-bench-moto.pid
endpoint=$(scripts/moto.sh $port)
trap 'kill "$(cat "$MOTO_PIDFILE")" 2>/dev/null || true' EXIT
python=${POSTURE_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/posture/moto-5.2.5}/bin/python
log=/tmp/posture-moto.log
requests() { grep -c '" [0-9][0-9][0-9] ' "$log" || true; }
work=$(mktemp -d)

for scale in "${scales[@]}"; do
  python3 - "$endpoint" <<'PY'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/moto-api/reset", method="POST"))
PY
  "$python" scripts/seed-aws.py "$endpoint" "$scale" "${regions[@]}"
  before=$(requests)
  AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true \
    /usr/bin/time -f "posture scale $scale: %e s wall, %M KiB peak" \
    target/release/posture audit --target aws --regions "$(IFS=,; echo "${regions[*]}")" --quiet --no-history --fail-on none \
      --out "$work/posture-$scale" || true
  echo "posture scale $scale: $(( $(requests) - before )) API requests"
  if [ -x ../shared/peers/run-prowler.sh ] && [ -z "${SKIP_PROWLER:-}" ]; then
    before=$(requests)
    ../shared/peers/run-prowler.sh "$endpoint" "${regions[@]}" | tail -n 1 | sed "s/^/scale $scale: /"
    echo "prowler scale $scale: $(( $(requests) - before )) API requests"
  fi
done
