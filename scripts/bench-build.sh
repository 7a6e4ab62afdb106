#!/usr/bin/env bash
# Times a clean release build and reports the binary's size, with the
# release profile of Cargo.toml ("current") or, with `--before`, the profile
# posture had until it set one per package (debug line tables everywhere, the
# AWS SDK crates at the full optimisation level), so both are measured the
# same way on the same machine. Run it alone on the machine: anything else
# building at the same time lengthens the build. The numbers go in the README.
# Usage: scripts/bench-build.sh [--before] [TARGET_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

label=current
overrides=()
if [ "${1:-}" = "--before" ]; then
  label=before
  shift
  overrides+=(--config 'profile.release.debug="line-tables-only"' --config 'profile.release.strip="none"')
  for crate in $(sed -n 's/^\[profile\.release\.package\.\(aws-sdk-[a-z0-9]*\)\]$/\1/p' Cargo.toml); do
    overrides+=(--config "profile.release.package.$crate.opt-level=3")
  done
fi
target_dir=${1:-$(mktemp -d /tmp/posture-bench-build.XXXXXX)}
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }

rm -rf "$target_dir/release"
cargo fetch --locked --quiet
echo "clean release build ($label profile) on $(nproc) cores, into $target_dir"
CARGO_TARGET_DIR=$target_dir /usr/bin/time -f "  %e s wall (%U s user), %M KiB peak" \
  cargo build --release --locked --quiet "${overrides[@]}"
binary=$target_dir/release/posture
echo "  binary: $(stat -c %s "$binary") bytes ($(( $(stat -c %s "$binary") / 1048576 )) MiB)"
