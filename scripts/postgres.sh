#!/usr/bin/env bash
# Installs PostgreSQL (Debian package `postgresql`) when missing, creates a
# throwaway cluster and starts it on 127.0.0.1:PORT, trusting local
# connections. Prints the URL of its `posture` database on stdout, e.g.
# postgres://posture@127.0.0.1:5057/posture. As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root). It waits up to
# $POSTGRES_START_TIMEOUT seconds (default 120: a busy machine can take a
# minute) for the server, and stops it if it does not come up.
# Usage: scripts/postgres.sh [PORT]        start (again) on PORT (default 5057)
#        scripts/postgres.sh stop [PORT]   stop it
set -euo pipefail

action=start
if [ "${1:-}" = stop ]; then
  action=stop
  shift
fi
port=${1:-5057}
dir=${POSTURE_POSTGRES_DIR:-/tmp/posture-postgres-$port}
timeout=${POSTGRES_START_TIMEOUT:-120}

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
bin=$(find_bin)
if [ "$action" = start ] && { [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; }; then
  echo "scripts/postgres.sh: installing postgresql" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  as_server() { runuser -u postgres -- "$@"; }
else
  as_server() { "$@"; }
fi

# A server left by an earlier run on this folder is stopped first.
if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
  as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
fi
if [ "$action" = stop ]; then
  exit 0
fi

rm -rf "$dir"
mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
fi
as_server "$bin/initdb" -D "$dir/data" -U posture --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
# Loopback only; the socket stays in the cluster's folder, out of /var/run.
if ! as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$timeout" \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null; then
  # pg_ctl gave up waiting, the server may still be starting: stop it, so
  # that nothing keeps the port or the folder.
  as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  echo "PostgreSQL did not start on 127.0.0.1:$port within ${timeout}s; see $dir/server.log" >&2
  tail -n 20 "$dir/server.log" >&2 || true
  exit 1
fi
as_server "$bin/createdb" -h 127.0.0.1 -p "$port" -U posture posture
echo "postgres://posture@127.0.0.1:$port/posture"
