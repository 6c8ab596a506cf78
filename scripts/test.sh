#!/usr/bin/env bash
# Runs Tern's whole test suite: unit tests and the integration tests, which start
# their own MariaDB servers (primary + GTID replicas) on free ports and Tern in
# front of them. Nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
# Each integration test starts its own cluster; two at a time keeps a 2-core
# machine responsive. Override with TERN_TEST_THREADS.
cargo build --workspace --all-targets
cargo test --workspace -- --test-threads="${TERN_TEST_THREADS:-2}"
