#!/usr/bin/env bash
# Local demo: installs what is missing, builds Tern, starts a MariaDB primary and a
# GTID replica on this machine (data under .demo/), and Tern in front of them on
# 127.0.0.1:6033. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
cargo build --release -p tern -p tern-tests --bins

mkdir -p .demo
cluster_log=.demo/cluster.log
./target/release/tern-cluster --replicas 1 --base-port "${TERN_DEMO_BASE_PORT:-3307}" --dir "$PWD/.demo/data" >"$cluster_log" 2>&1 &
cluster_pid=$!
tern_pid=""
cleanup() {
  [ -n "$tern_pid" ] && kill "$tern_pid" 2>/dev/null || true
  kill "$cluster_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 300); do
  grep -q '^ready' "$cluster_log" 2>/dev/null && break
  kill -0 "$cluster_pid" 2>/dev/null || { cat "$cluster_log"; exit 1; }
  sleep 0.1
done
grep -q '^ready' "$cluster_log" || { echo "MariaDB did not start:"; cat "$cluster_log"; exit 1; }
primary=$(awk '/^primary /{print $2}' "$cluster_log")
replica=$(awk '/^replica /{print $2; exit}' "$cluster_log")

./target/release/tern serve --listen 127.0.0.1:6033 --primary "$primary" --replica "$replica" \
  --admin-user tern_admin --admin-password tern_admin_pw 2>&1 | tee .demo/tern.log &
tern_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' .demo/tern.log 2>/dev/null && break; sleep 0.1; done

cat <<MSG

Tern is listening on 127.0.0.1:6033 in front of MariaDB primary $primary and replica $replica.
Connect as the demo application user:

    mariadb -h 127.0.0.1 -P 6033 -u app -papp_pw app

(admin account: tern_admin / tern_admin_pw; MariaDB root password: root)
Press Ctrl-C to stop Tern and the servers.
MSG
wait "$tern_pid"
