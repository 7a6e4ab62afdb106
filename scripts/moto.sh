#!/usr/bin/env bash
# Installs the AWS API emulator (moto server, from PyPI, in its own virtual
# environment) and starts it on 127.0.0.1. Prints the endpoint URL on stdout;
# the server's pid is written to $MOTO_PIDFILE (default /tmp/posture-moto.pid),
# its output to $MOTO_LOG (default /tmp/posture-moto.log). It waits up to
# $MOTO_START_TIMEOUT seconds (default 120: a busy machine can take a minute)
# for the server to answer, and stops it if it does not.
# Usage: scripts/moto.sh [PORT]
set -euo pipefail

version=5.2.5
port=${1:-5055}
venv=${POSTURE_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/posture/moto-$version}
pidfile=${MOTO_PIDFILE:-/tmp/posture-moto.pid}
log=${MOTO_LOG:-/tmp/posture-moto.log}
timeout=${MOTO_START_TIMEOUT:-120}

if [ ! -x "$venv/bin/moto_server" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
  fi
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$version" >&2
fi

# S3 Control's account-level calls put the account id in front of the host
# name (123456789012.127.0.0.1): it must resolve to loopback.
if ! grep -q '123456789012.127.0.0.1' /etc/hosts 2>/dev/null; then
  echo '127.0.0.1 123456789012.127.0.0.1' >> /etc/hosts
fi

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  kill "$(cat "$pidfile")" 2>/dev/null || true
  sleep 0.5
fi
# AWS managed policies (AWSSupportAccess, AdministratorAccess...) exist only when loaded.
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
server=$!
echo "$server" > "$pidfile"
deadline=$((SECONDS + timeout))
while [ "$SECONDS" -lt "$deadline" ]; do
  if python3 - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
  then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  # A server that exited will not answer: no point waiting out the deadline.
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
# Whatever was started is stopped, so that no half-started server keeps the port.
kill "$server" 2>/dev/null || true
rm -f "$pidfile"
echo "moto server did not answer on 127.0.0.1:$port within ${timeout}s; see $log" >&2
exit 1
