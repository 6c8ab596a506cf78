#!/usr/bin/env bash
# bench/migrate/gentle: what the application feels while Tern copies a table.
#
# Seven writers at full speed (no rate limit) on a 1,000,000-row sysbench
# table: six through Tern, one straight to the primary (tern-bench-writers:
# inserts, updates, deletes, key changes, transactions). Runs alternate:
#   baseline  the writers alone, BASELINE_S seconds
#   alter     the writers while a COPY-only change runs through Tern
#             (MODIFY k BIGINT NULL, ADD COLUMN ...; MariaDB cannot do it in
#             place), undone natively afterwards, outside the measurement
#   capture   (only if PHASES names it) the writers while the same ALTER,
#             run postponed, waits after its copy before the cut-over,
#             BASELINE_S seconds from the moment it waits: what applying every
#             write to the shadow costs without a copy
# The server keeps MariaDB's default 96 MiB redo log (REDO_LOG) and a 1 GiB
# buffer pool. Prints per run: writes/s, errors, p50/p99/p99.9/worst latency
# of the writes through Tern and of the direct writer, writes over 50 ms, the
# ALTER's wall time and cut-over hold. Then the bare copy's floor from
# primitive.sh on the same machine.
#
#   bench/migrate/gentle.sh
#   REPS=1 ROWS=200000 BUILD=0 bench/migrate/gentle.sh
# Variables: ROWS (1000000), REPS (2), BASELINE_S (60), WARMUP_S (5),
# REDO_LOG (96M), BUFFER_POOL (1G), BUILD (1), PRIMITIVE (1), TERN_ARGS, BIN (target/release),
# RATE (0: unthrottled; else steps per second across the seven writers),
# PHASES ("baseline alter"; each rep runs these in order),
# WRITEBACK (smooth | machine).
#
# WRITEBACK=smooth, the default, smooths the kernel's page-cache writeback
# for the run (lib.sh says why).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/migrate/lib.sh
. "$ROOT/bench/migrate/lib.sh"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
ROWS="${ROWS:-1000000}"
REPS="${REPS:-2}"
BASELINE_S="${BASELINE_S:-60}"
WARMUP_S="${WARMUP_S:-5}"
REDO_LOG="${REDO_LOG:-96M}"
BUFFER_POOL="${BUFFER_POOL:-1G}"
BUILD="${BUILD:-1}"
PRIMITIVE="${PRIMITIVE:-1}"
PHASES="${PHASES:-baseline alter}"
OUT="$ROOT/bench/out/gentle-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
CHANGE="MODIFY k BIGINT NULL, ADD COLUMN note VARCHAR(32) NOT NULL DEFAULT ''"
UNDO="DROP COLUMN note, MODIFY k INT NOT NULL DEFAULT '0'"

APP_USER=app APP_PASSWORD=app_pw DB=app
ADMIN_USER=tern_admin ADMIN_PASSWORD=tern_admin_pw

stop_on_exit

if [ "$BUILD" = 1 ]; then
  log "building (cargo build --release -p tern -p tern-tests --bins)"
  cargo build --release -q -p tern -p tern-tests --bins
fi
BIN="${BIN:-$ROOT/target/release}"

smooth_writeback

log "starting tern-cluster (1 replica, redo log $REDO_LOG, buffer pool $BUFFER_POOL)"
"$BIN/tern-cluster" --replicas 1 --buffer-pool "$BUFFER_POOL" --redo-log "$REDO_LOG" >"$OUT/cluster.log" 2>&1 &
pids+=($!)
wait_for_line "$OUT/cluster.log" '^ready' "${pids[-1]}" 600 || die "cluster did not start"
primary="$(awk '/^primary /{print $2}' "$OUT/cluster.log")"
replica="$(awk '/^replica /{print $2; exit}' "$OUT/cluster.log")"
primary_port="${primary##*:}" replica_port="${replica##*:}"

tern_port="$(free_port)"
log "starting tern on 127.0.0.1:$tern_port"
"$BIN/tern" serve --listen "127.0.0.1:$tern_port" --primary "$primary" --replica "$replica" \
  --admin-user "$ADMIN_USER" --admin-password "$ADMIN_PASSWORD" ${TERN_ARGS:-} 2>"$OUT/tern.log" &
pids+=($!)
wait_for_line "$OUT/tern.log" 'listening on' "${pids[-1]}" 60 || die "tern did not start"

log "preparing sbtest1 with $ROWS rows (directly on the primary)"
sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$primary_port" \
  --mysql-db="$DB" --mysql-user="$APP_USER" --mysql-password="$APP_PASSWORD" \
  --tables=1 --table-size="$ROWS" prepare >"$OUT/prepare.txt" 2>&1 || die "prepare failed"
replica_caught_up

summary="$OUT/summary.tsv"
python3 "$ROOT/bench/migrate/gentle_report.py" --header >"$summary"

reset_table() {
  root_sql "$primary_port" "DELETE FROM sbtest1 WHERE id > $ROWS" || die "reset failed"
  replica_caught_up
}

tern_sql() {
  mariadb --no-defaults -h 127.0.0.1 -P "$tern_port" -u "$APP_USER" -p"$APP_PASSWORD" -N -B --comments "$DB" -e "$1"
}
tern_admin() {
  mariadb --no-defaults -h 127.0.0.1 -P "$tern_port" -u "$ADMIN_USER" -p"$ADMIN_PASSWORD" -N -B "$DB" -e "$1"
}

for ((rep = 1; rep <= REPS; rep++)); do
  for phase in $PHASES; do
    run="$phase-$rep"
    log "== $run"
    rm -f "$OUT/$run.stop"
    "$BIN/tern-bench-writers" --tern "127.0.0.1:$tern_port" --primary "$primary" \
      --user "$APP_USER" --password "$APP_PASSWORD" --database "$DB" --rows "$ROWS" \
      --rate "${RATE:-0}" --stop-file "$OUT/$run.stop" --out "$OUT/$run.csv" &
    writers=$!
    pids+=("$writers")
    interruptible sleep "$WARMUP_S"
    t0="$(now_ms)"
    hold=""
    if [ "$phase" = baseline ]; then
      interruptible sleep "$BASELINE_S"
    elif [ "$phase" = capture ]; then
      # The change capture alone, at its full cost: the ALTER runs postponed,
      # so once its copy and verify are done it waits before the cut-over and
      # applies every write to the table to the whole shadow. Measured from
      # then for BASELINE_S, then cancelled.
      id="$(tern_sql "/* tern:async tern:postpone */ ALTER TABLE sbtest1 $CHANGE")" ||
        die "$run: the ALTER failed"
      waited=0
      until [ "$(tern_admin 'SHOW TERN MIGRATIONS' | awk -F'\t' -v id="$id" '$1 == id { print $4 }')" = postponed ]; do
        sleep 1
        waited=$((waited + 1))
        [ "$waited" -lt 1800 ] || die "$run: migration $id never reached postponed"
      done
      log "$run: migration $id copied, waiting before its cut-over; measuring"
      t0="$(now_ms)"
      interruptible sleep "$BASELINE_S"
      tern_admin "TERN CANCEL $id" >/dev/null || die "$run: TERN CANCEL $id failed"
    else
      interruptible tern_sql "ALTER TABLE sbtest1 $CHANGE" >"$OUT/$run.alter" 2>&1 ||
        die "$run: the ALTER failed: $(cat "$OUT/$run.alter")"
    fi
    t1="$(now_ms)"
    touch "$OUT/$run.stop"
    wait "$writers" || die "$run: writers failed"
    forget "$writers"
    if [ "$phase" = alter ]; then
      hold="$(mariadb --no-defaults -h 127.0.0.1 -P "$tern_port" -u "$APP_USER" -p"$APP_PASSWORD" -B \
        -e 'SHOW TERN MIGRATIONS' | awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "last_hold_ms") c = i } END { print $c }')"
      cp "$OUT/tern.log" "$OUT/$run.tern.log"
    fi
    python3 "$ROOT/bench/migrate/gentle_report.py" "$run" "$OUT/$run.csv" "$t0" "$t1" "${hold:-}" >>"$summary"
    tail -1 "$summary" >&2
    if [ "$phase" = alter ]; then
      log "undoing natively: $UNDO"
      root_sql "$primary_port" "ALTER TABLE sbtest1 $UNDO" || die "undo failed"
    fi
    reset_table
  done
done
stop_all

column -t -s $'\t' "$summary" >"$OUT/summary.txt"
{
  echo
  echo "machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "tern: $(git -C "$ROOT" rev-parse --short HEAD)  args: ${TERN_ARGS:-(defaults)}  writers: ${RATE:-0} steps/s (0: unthrottled)"
  echo "$(mariadbd --version 2>/dev/null | head -1); redo log $REDO_LOG, buffer pool $BUFFER_POOL"
  writeback_line
} | tee -a "$summary" >>"$OUT/summary.txt"
cat "$OUT/summary.txt"
if [ "$PRIMITIVE" = 1 ]; then
  log "the bare copy on the same machine (primitive.sh)"
  ROWS="$ROWS" REPS=1 BUILD=0 bash "$ROOT/bench/migrate/primitive.sh" 2>"$OUT/primitive.log" | tee "$OUT/primitive.tsv"
fi
log "results in $OUT"
