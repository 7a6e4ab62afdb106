#!/usr/bin/env bash
# Sets up what the tests need on a fresh Debian machine, then runs every test.
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# The SSH tests start their own sshd instances on 127.0.0.1 (tests/integration/ssh.rs).
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
# The shell integration tests parse the completions with zsh -n and render
# the man page with groff (tests/integration/shell_integration.rs).
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v groff >/dev/null 2>&1 || missing+=(groff-base)
# The HTML report's filters are tested in headless Chromium (tests/integration/html.rs).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "scripts/test.sh: cargo is required (install Rust with rustup)" >&2; exit 2; }

# The AWS API emulator the AWS tests run against (moto server on 127.0.0.1).
export MOTO_PIDFILE=/tmp/posture-test-moto.pid
POSTURE_TEST_AWS_ENDPOINT=$(scripts/moto.sh 5056)
export POSTURE_TEST_AWS_ENDPOINT
trap 'kill "$(cat "$MOTO_PIDFILE")" 2>/dev/null || true' EXIT

# The PostgreSQL server the shared-history tests run against (127.0.0.1;
# each test creates a database of its own).
POSTURE_TEST_POSTGRES_URL=$(scripts/postgres.sh 5057)
export POSTURE_TEST_POSTGRES_URL
trap 'kill "$(cat "$MOTO_PIDFILE")" 2>/dev/null || true; scripts/postgres.sh stop 5057 || true' EXIT

cargo test --locked "$@"
