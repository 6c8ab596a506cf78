#!/usr/bin/env bash
# bench/ryw: read-your-writes through Tern on a throwaway MariaDB primary + GTID
# replica (started and stopped by the driver). Prints stale reads (must be 0),
# the share of reads the replica served, and read latency p50/p99 through Tern
# against the same reads sent straight to the primary.
#   PAIRS=10000 SESSIONS=8 bench/ryw/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
cargo build --release -q -p tern -p tern-tests --bins
TERN_TEST_RELEASE=1 TERN_BIN="$PWD/target/release/tern" \
  ./target/release/tern-bench-ryw --pairs "${PAIRS:-10000}" --sessions "${SESSIONS:-8}"
