#!/usr/bin/env bash
# Times `posture audit` (release build, the full CIS Debian Linux 12
# benchmark) of N loopback SSH targets, for each N given (default: 1 10 50),
# with /usr/bin/time for wall time, CPU and peak memory, and prints the SSH
# round trips and commands per host from report.json. The numbers go in the
# README ("Auditing hosts over SSH").
#
# The targets are sshds on 127.0.0.1 listening on N ports in all (16 per
# sshd, its limit; a generated host key, a generated user key, their own
# configuration): each target is a separate connection and session, as N
# hosts would be, but every command runs on this machine, so the CPU of the
# "hosts" is this machine's too.
# Run as root (sshd's privilege separation). Usage: scripts/bench-ssh.sh [N...] [-- extra posture args]
set -euo pipefail
cd "$(dirname "$0")/.."

counts=()
extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  counts+=("$1"); shift
done
[ ${#counts[@]} -gt 0 ] || counts=(1 10 50)

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

cargo build --release --quiet
work=$(mktemp -d)
sshd_pids=()
cleanup() {
  for pid in "${sshd_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

max=0
for n in "${counts[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
base=$((30000 + RANDOM % 20000))

ssh-keygen -q -t ed25519 -N '' -C posture-bench -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -C posture-bench -f "$work/user_key"
cp "$work/user_key.pub" "$work/authorized_keys"
mkdir -p /run/sshd
# sshd listens on at most 16 sockets: one sshd per 16 targets.
for first in $(seq 1 16 "$max"); do
  last=$((first + 15 > max ? max : first + 15))
  {
  for i in $(seq "$first" "$last"); do echo "Port $((base + i))"; done
  cat <<EOF
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
# Every "host" is this one sshd: let all connections in at once.
MaxStartups 200
MaxSessions 50
EOF
  } >"$work/sshd_config.$first"
  /usr/sbin/sshd -D -e -f "$work/sshd_config.$first" 2>"$work/sshd.$first.log" &
  sshd_pids+=($!)
done

key=$(cut -d' ' -f1,2 "$work/host_key.pub")
: >"$work/known_hosts"
: >"$work/ssh_config"
for i in $(seq 1 "$max"); do
  echo "[127.0.0.1]:$((base + i)) $key" >>"$work/known_hosts"
  printf 'Host h%d\n  HostName 127.0.0.1\n  Port %d\n' "$i" "$((base + i))" >>"$work/ssh_config"
done
cat >>"$work/ssh_config" <<EOF
Host *
  User root
  IdentityFile $work/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  GlobalKnownHostsFile /dev/null
EOF
for host in $(seq -f 'h%g' 1 16 "$max"); do
  for _ in $(seq 1 100); do
    ssh -F "$work/ssh_config" -o BatchMode=yes "$host" true 2>/dev/null && break
    sleep 0.1
  done
done

echo "posture $(target/release/posture --version | cut -d' ' -f2), $(ssh -V 2>&1), $(nproc) CPU(s)"
echo "one ssh session costs $( { /usr/bin/time -f '%e' ssh -F "$work/ssh_config" -o BatchMode=yes h1 true; } 2>&1 | tail -n 1 ) s here (connection, authentication, the login shell)"
for n in "${counts[@]}"; do
  targets=$(seq -s, -f 'ssh://h%g' 1 "$n")
  out="$work/out-$n"
  /usr/bin/time -f "%e s wall, %U s user + %S s system CPU, %M KiB peak" -o "$work/time-$n" \
    target/release/posture audit --quiet --no-history --fail-on none --format json \
    --ssh-config "$work/ssh_config" --target "$targets" --out "$out" "${extra[@]}" || true
  trips=$(grep -o '"round_trips": [0-9]*' "$out/report.json" | awk '{ s += $2; if ($2 > m) m = $2 } END { printf "%.1f avg, %d max", s / NR, m }')
  commands=$(grep -c '"round_trip": ' "$out/report.json" || true)
  errors=$(grep -c '"error": "' "$out/report.json" || true)
  printf '%3d target(s): %s; round trips per host: %s; %d commands in all; %d host error(s)\n' \
    "$n" "$(cat "$work/time-$n")" "$trips" "$commands" "$errors"
done
