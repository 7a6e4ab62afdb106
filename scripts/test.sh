#!/usr/bin/env bash
# Sets up what the tests need on a fresh Debian machine, then runs every test.
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "scripts/test.sh: cargo is required (install Rust with rustup)" >&2; exit 2; }

cargo test --locked "$@"
