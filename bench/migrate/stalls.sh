#!/usr/bin/env bash
# bench/migrate/stalls: does the server stall with no migration at all?
#
# Before blaming a copy for a slow write, see what the workload does alone.
# Runs the gentle benchmark's seven writers (tern-bench-writers, all straight
# to the primary: no Tern, no migration) for DURATION_S seconds and, at the
# same time, samples the primary's InnoDB status every 100 ms and times a
# 4 KiB write + fdatasync of an unrelated file on the same disk every 20 ms.
# Prints each stall (writes over 50 ms, grouped when under 1 s apart) with
# the checkpoint age around it and the disk probe's slow syncs: a stall that
# the unrelated file's sync shares is the disk's, not InnoDB's.
#
#   bench/migrate/stalls.sh
#   RATE=2000 WRITEBACK=smooth bench/migrate/stalls.sh
#   SERVER_SETTINGS="innodb_flush_log_at_trx_commit=1" bench/migrate/stalls.sh
#   SENTRY=1 bench/migrate/stalls.sh   # also: what dropping a cut-over
#                                      # sentry costs, InnoDB vs MEMORY (sentry.py)
# Variables: ROWS (1000000), RATE (2000 steps/s; 0: unthrottled),
# DURATION_S (95), REDO_LOG (96M), BUFFER_POOL (1G), BIN (target/release),
# WRITEBACK (machine | smooth, as in gentle.sh), SERVER_SETTINGS (name=value
# lines for every server's option file, space-separated).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/migrate/lib.sh
. "$ROOT/bench/migrate/lib.sh"
export PATH="$PATH:/usr/sbin:/sbin"
ROWS="${ROWS:-1000000}"
RATE="${RATE:-2000}"
DURATION_S="${DURATION_S:-95}"
REDO_LOG="${REDO_LOG:-96M}"
BUFFER_POOL="${BUFFER_POOL:-1G}"
BIN="${BIN:-$ROOT/target/release}"
WRITEBACK="${WRITEBACK:-machine}"
OUT="$ROOT/bench/out/stalls-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
DB=app

stop_on_exit

smooth_writeback

settings=()
for s in ${SERVER_SETTINGS:-}; do settings+=(--server-setting "$s"); done
log "starting tern-cluster (1 replica, redo log $REDO_LOG, buffer pool $BUFFER_POOL ${SERVER_SETTINGS:-})"
"$BIN/tern-cluster" --replicas 1 --buffer-pool "$BUFFER_POOL" --redo-log "$REDO_LOG" "${settings[@]}" \
  >"$OUT/cluster.log" 2>&1 &
pids+=($!)
wait_for_line "$OUT/cluster.log" '^ready' "${pids[-1]}" 600 || die "cluster did not start"
primary="$(awk '/^primary /{print $2}' "$OUT/cluster.log")"
replica="$(awk '/^replica /{print $2; exit}' "$OUT/cluster.log")"
primary_port="${primary##*:}" replica_port="${replica##*:}"

log "preparing sbtest1 with $ROWS rows"
sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$primary_port" \
  --mysql-db="$DB" --mysql-user=app --mysql-password=app_pw \
  --tables=1 --table-size="$ROWS" prepare >"$OUT/prepare.txt" 2>&1 || die "prepare failed"
replica_caught_up

log "writers alone for $DURATION_S s (rate $RATE), sampling the server and the disk"
python3 "$ROOT/bench/migrate/stalls.py" sample "$primary_port" "$OUT" "$DURATION_S" &
sampler=$!
"$BIN/tern-bench-writers" --tern "$primary" --primary "$primary" --via-tern 0 --direct 7 \
  --user app --password app_pw --database "$DB" --rows "$ROWS" --rate "$RATE" \
  --stop-file "$OUT/stop" --out "$OUT/writes.csv" &
writers=$!
if [ "${SENTRY:-0}" = 1 ]; then
  sleep 5 # past the writers' start-up
  python3 "$ROOT/bench/migrate/sentry.py" "$primary_port" root root "$DB" "$((DURATION_S - 10))" \
    >"$OUT/sentry.txt"
  sleep 5
else
  sleep "$DURATION_S"
fi
touch "$OUT/stop"
wait "$writers"
wait "$sampler"
{
  echo "$(writeback_line); rate $RATE; redo log $REDO_LOG; server settings: ${SERVER_SETTINGS:-tern-cluster defaults}"
  python3 "$ROOT/bench/migrate/stalls.py" report "$OUT"
  if [ -s "$OUT/sentry.txt" ]; then
    echo "dropping a cut-over sentry under LOCK TABLES, with the writers running:"
    cat "$OUT/sentry.txt"
  fi
} | tee "$OUT/report.txt"
log "results in $OUT"
