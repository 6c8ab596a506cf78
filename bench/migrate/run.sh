#!/usr/bin/env bash
# bench/migrate: the same ALTERs of a 1,000,000-row sysbench table done three
# ways under one load, on a throwaway MariaDB primary + GTID replica:
#   tern    the ALTER sent through Tern (online migration)
#   ptosc   pt-online-schema-change against the primary
#   native  ALTER ... ALGORITHM=COPY against the primary
# Load during every run: sysbench oltp_read_write, 4 threads, --rate=200,
# through Tern, plus a probe inserting one row every 10 ms through Tern and
# sampling the replica's lag (tern-bench-probe). Prints per run: wall time,
# rows/s, sysbench tps before/during, the probe's worst write and errors, the
# replica's worst lag, and Tern's cut-over hold.
#
#   bench/migrate/run.sh                   # all cases, all methods
#   ROWS=200000 METHODS="tern native" CASES="force" bench/migrate/run.sh
# Variables: ROWS (1000000), METHODS ("tern ptosc native"), CASES ("force index modify"),
# BASELINE_S (10), BUFFER_POOL (1G), REDO_LOG (1G), BUILD (1), TERN_ARGS (extra tern serve flags),
# WRITEBACK (smooth | machine: the kernel's page-cache writeback, see lib.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/migrate/lib.sh
. "$ROOT/bench/migrate/lib.sh"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
ROWS="${ROWS:-1000000}"
METHODS="${METHODS:-tern ptosc native}"
CASES="${CASES:-force index modify}"
BASELINE_S="${BASELINE_S:-10}"
BUFFER_POOL="${BUFFER_POOL:-1G}"
# A production-sized redo log: with the tests' 64M, InnoDB stalls every writer on
# checkpoints during any 1M-row copy, whoever makes it.
REDO_LOG="${REDO_LOG:-1G}"
BUILD="${BUILD:-1}"
OUT="$ROOT/bench/out/migrate-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

APP_USER=app APP_PASSWORD=app_pw DB=app
ADMIN_USER=tern_admin ADMIN_PASSWORD=tern_admin_pw

# name | change | how to undo it afterwards (natively, outside the measurement)
case_spec() {
  case "$1" in
    force) echo "ADD COLUMN note VARCHAR(32) NOT NULL DEFAULT '', FORCE|DROP COLUMN note" ;;
    index) echo "ADD INDEX k_c (c)|DROP INDEX k_c" ;;
    # A column type change: MariaDB can only do it with ALGORITHM=COPY.
    modify) echo "MODIFY pad VARCHAR(80) NOT NULL DEFAULT ''|MODIFY pad CHAR(60) NOT NULL DEFAULT ''" ;;
    *) echo "unknown case $1" >&2; exit 2 ;;
  esac
}

stop_on_exit

if [ "$BUILD" = 1 ]; then
  log "building (cargo build --release -p tern -p tern-tests --bins)"
  cargo build --release -q -p tern -p tern-tests --bins
fi
smooth_writeback
TERN_BIN="$ROOT/target/release/tern"
CLUSTER_BIN="$ROOT/target/release/tern-cluster"
PROBE_BIN="$ROOT/target/release/tern-bench-probe"
command -v pt-online-schema-change >/dev/null || case " $METHODS " in *" ptosc "*) die "pt-online-schema-change missing (apt-get install percona-toolkit)" ;; esac

log "starting tern-cluster (1 replica, buffer pool $BUFFER_POOL)"
"$CLUSTER_BIN" --replicas 1 --buffer-pool "$BUFFER_POOL" --redo-log "$REDO_LOG" >"$OUT/cluster.log" 2>&1 &
pids+=($!)
wait_for_line "$OUT/cluster.log" '^ready' "${pids[-1]}" 600 || die "cluster did not start"
primary="$(awk '/^primary /{print $2}' "$OUT/cluster.log")"
replica="$(awk '/^replica /{print $2; exit}' "$OUT/cluster.log")"
primary_port="${primary##*:}" replica_port="${replica##*:}"

tern_port="$(free_port)"
log "starting tern on 127.0.0.1:$tern_port"
"$TERN_BIN" serve --listen "127.0.0.1:$tern_port" --primary "$primary" --replica "$replica" \
  --admin-user "$ADMIN_USER" --admin-password "$ADMIN_PASSWORD" ${TERN_ARGS:-} 2>"$OUT/tern.log" &
pids+=($!)
wait_for_line "$OUT/tern.log" 'listening on' "${pids[-1]}" 60 || die "tern did not start"

sb=(sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-db="$DB"
  --mysql-user="$APP_USER" --mysql-password="$APP_PASSWORD" --tables=1 --table-size="$ROWS")
log "preparing sbtest1 with $ROWS rows (directly on the primary)"
"${sb[@]}" --mysql-port="$primary_port" prepare >"$OUT/prepare.txt" 2>&1 || die "prepare failed"
replica_caught_up

summary="$OUT/summary.tsv"
printf 'case\tmethod\twall_s\trows_per_s\ttps_before\ttps_during\ttps_ratio\tprobe_worst_ms\tprobe_errors\tprobe_writes\treplica_lag_max_ms\thold_ms\n' >"$summary"

for case_name in $CASES; do
  IFS='|' read -r change undo <<<"$(case_spec "$case_name")"
  for method in $METHODS; do
    run="$case_name-$method"
    log "== $run: $change"
    rm -f "$OUT/$run.stop"
    sb_start="$(now_ms)"
    "${sb[@]}" --mysql-port="$tern_port" --threads=4 --rate=200 --time=3600 --report-interval=1 \
      --mysql-ignore-errors=1213,1205 run >"$OUT/$run.sysbench" 2>&1 &
    sb_pid=$!
    pids+=("$sb_pid")
    "$PROBE_BIN" --target "127.0.0.1:$tern_port" --user "$APP_USER" --password "$APP_PASSWORD" \
      --database "$DB" --table sbtest1 --first-id $((2000000 + RANDOM * 1000)) --interval-ms 10 \
      --primary "$primary" --replica "$replica" --admin-user "$ADMIN_USER" \
      --admin-password "$ADMIN_PASSWORD" --stop-file "$OUT/$run.stop" --out "$OUT/$run.probe" &
    probe_pid=$!
    pids+=("$probe_pid")
    sleep "$BASELINE_S"
    t0="$(now_ms)"
    case "$method" in
      tern)
        mariadb --no-defaults -h 127.0.0.1 -P "$tern_port" -u "$APP_USER" -p"$APP_PASSWORD" "$DB" \
          -e "ALTER TABLE sbtest1 $change" >"$OUT/$run.alter" 2>&1 ;;
      ptosc)
        pt-online-schema-change --alter "$change" \
          "h=127.0.0.1,P=$primary_port,u=root,p=root,D=$DB,t=sbtest1" \
          --recursion-method=hosts --max-lag=1 --check-interval=1 \
          --execute >"$OUT/$run.alter" 2>&1 ;;
      native)
        mariadb --no-defaults -h 127.0.0.1 -P "$primary_port" -u root -proot "$DB" \
          -e "ALTER TABLE sbtest1 $change, ALGORITHM=COPY" >"$OUT/$run.alter" 2>&1 ;;
    esac || die "$run: the ALTER failed: $(cat "$OUT/$run.alter")"
    t1="$(now_ms)"
    # Keep measuring until the replica has the change too (a native ALTER replays there).
    replica_caught_up
    t2="$(now_ms)"
    sleep 2
    hold=""
    if [ "$method" = tern ]; then
      hold="$(mariadb --no-defaults -h 127.0.0.1 -P "$tern_port" -u "$APP_USER" -p"$APP_PASSWORD" -N -B \
        -e 'SHOW TERN MIGRATIONS' | tail -1 | cut -f11)"
    fi
    touch "$OUT/$run.stop"
    wait "$probe_pid" || true
    kill -TERM "$sb_pid" 2>/dev/null || true
    wait "$sb_pid" 2>/dev/null || true
    python3 "$ROOT/bench/migrate/report.py" "$case_name" "$method" "$ROWS" "$sb_start" "$t0" "$t1" "$t2" \
      "$BASELINE_S" "$OUT/$run.sysbench" "$OUT/$run.probe" "${hold:-}" >>"$summary"
    tail -1 "$summary" >&2
    log "undoing: $undo"
    root_sql "$primary_port" "ALTER TABLE sbtest1 $undo" || die "undo failed"
    root_sql "$primary_port" "DELETE FROM sbtest1 WHERE id > $ROWS" || true
    replica_caught_up
  done
done

{
  echo
  echo "machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "tern: $(git -C "$ROOT" rev-parse --short HEAD)"
  echo "$(mariadbd --version 2>/dev/null | head -1)"
  echo "pt-online-schema-change: $(pt-online-schema-change --version 2>/dev/null | head -1)"
  writeback_line
} >>"$summary"
column -t -s $'\t' "$summary"
log "results in $OUT"
