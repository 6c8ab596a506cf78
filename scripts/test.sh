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
# Plain mistakes fail in seconds, before any server starts: formatting, lints,
# then the unit tests (every crate's lib and bins, no cluster).
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --lib --bins
cargo test --workspace --doc
cargo test --workspace --test '*' -- --test-threads="${TERN_TEST_THREADS:-2}"
