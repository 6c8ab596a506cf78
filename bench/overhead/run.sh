#!/usr/bin/env bash
# Tern overhead benchmark: sysbench directly against a MariaDB primary vs. through Tern,
# alternating direct/tern runs, plus Tern's CPU time per query and its resident memory
# with many idle client connections. See bench/overhead/README.md.
#
# Everything it starts (tern-cluster and its servers, Tern, the idle-connection client)
# is stopped on exit. Raw outputs go to $OUT (default bench/out/overhead-<timestamp>/).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-20}"              # seconds per measured run
WARMUP="${WARMUP:-5}"                   # seconds of unmeasured warm-up before each run
REPS="${REPS:-3}"                       # repetitions per side (direct and tern)
THREADS="${THREADS:-4 16}"
WORKLOADS="${WORKLOADS:-oltp_point_select oltp_read_write}"
TABLE_SIZE="${TABLE_SIZE:-1000000}"
RAND_TYPE="${RAND_TYPE:-uniform}"
BUFFER_POOL="${BUFFER_POOL:-1G}"
REPLICAS="${REPLICAS:-0}"               # replicas tern-cluster starts (unused by the benchmark)
IDLE_CONNS="${IDLE_CONNS:-1000}"
DATA_DIR="${DATA_DIR:-}"                # keep MariaDB's files here and reuse prepared data
BUILD="${BUILD:-1}"                     # 0: use the existing target/release binaries
OUT="${OUT:-$ROOT/bench/out/overhead-$(date +%Y%m%d-%H%M%S)}"

TERN_BIN="$ROOT/target/release/tern"
CLUSTER_BIN="$ROOT/target/release/tern-cluster"
APP_USER=app APP_PASSWORD=app_pw APP_DB=app
ADMIN_USER=tern_admin ADMIN_PASSWORD=tern_admin_pw
CLK_TCK="$(getconf CLK_TCK)"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cluster_pid="" tern_pid="" idle_pid=""
stop_pid() { # SIGTERM one process we started and wait for it
  local pid="$1"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$idle_pid"
  stop_pid "$tern_pid"
  if [ -n "$cluster_pid" ]; then log "stopping tern-cluster"; fi
  stop_pid "$cluster_pid"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for_line() { # FILE PATTERN PID TIMEOUT_S
  local file="$1" pattern="$2" pid="$3" timeout="$4" i
  for ((i = 0; i < timeout * 10; i++)); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; return 1; }
    sleep 0.1
  done
  cat "$file" >&2
  return 1
}
sql() { # PORT SQL -> tab-separated rows
  mariadb -h 127.0.0.1 -P "$1" -u "$APP_USER" -p"$APP_PASSWORD" -N -B "$APP_DB" -e "$2"
}
cpu_ticks() { # utime+stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat)
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

# --- preflight ---------------------------------------------------------------------------
command -v sysbench >/dev/null || die "sysbench is not installed"
command -v mariadb >/dev/null || die "the mariadb client is not installed"
python3 -c 'import pymysql' 2>/dev/null || die "PyMySQL is missing (pip install PyMySQL)"
# 1,000 idle clients need 2,000 sockets in Tern (client + backend) and 1,000 in the client.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 16384 ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
if [ "$BUILD" = 1 ]; then
  log "building (cargo build --release -p tern -p tern-tests --bins)"
  cargo build --release -p tern -p tern-tests --bins
fi
[ -x "$TERN_BIN" ] && [ -x "$CLUSTER_BIN" ] || die "missing $TERN_BIN or $CLUSTER_BIN"
mkdir -p "$OUT/raw"
log "raw output in $OUT"

# --- MariaDB primary ---------------------------------------------------------------------
cluster_args=(--replicas "$REPLICAS" --buffer-pool "$BUFFER_POOL")
[ -n "$DATA_DIR" ] && cluster_args+=(--dir "$DATA_DIR")
log "starting tern-cluster ${cluster_args[*]}"
"$CLUSTER_BIN" "${cluster_args[@]}" >"$OUT/cluster.log" 2>&1 &
cluster_pid=$!
wait_for_line "$OUT/cluster.log" '^ready' "$cluster_pid" 600 || die "tern-cluster did not become ready"
primary="$(awk '/^primary /{print $2}' "$OUT/cluster.log")"
primary_port="${primary##*:}"
mariadb_version="$(sql "$primary_port" 'SELECT VERSION()')"
log "primary $primary (MariaDB $mariadb_version)"

sb_common=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user="$APP_USER"
  --mysql-password="$APP_PASSWORD" --mysql-db="$APP_DB" --tables=1 --table-size="$TABLE_SIZE")

rows="$(sql "$primary_port" "SELECT COUNT(*) FROM sbtest1" 2>/dev/null || echo 0)"
if [ "$rows" = "$TABLE_SIZE" ]; then
  log "reusing sbtest1 ($rows rows)"
else
  log "preparing sbtest1 with $TABLE_SIZE rows (directly against the primary)"
  sysbench oltp_read_write "${sb_common[@]}" --mysql-port="$primary_port" cleanup >"$OUT/raw/prepare.txt" 2>&1
  sysbench oltp_read_write "${sb_common[@]}" --mysql-port="$primary_port" prepare >>"$OUT/raw/prepare.txt" 2>&1
fi
# Read the whole clustered index and the secondary index once so both sit in the buffer pool.
sql "$primary_port" "SELECT COUNT(*), SUM(LENGTH(c)) FROM sbtest1; SELECT SUM(k) FROM sbtest1 FORCE INDEX (k_1)" >/dev/null
sql "$primary_port" "SHOW GLOBAL STATUS WHERE Variable_name IN
  ('Innodb_buffer_pool_pages_data','Innodb_buffer_pool_pages_free','Innodb_buffer_pool_pages_total')" \
  >"$OUT/buffer_pool.txt"

# --- Tern ----------------------------------------------------------------------------------
tern_port="${TERN_PORT:-$(free_port)}"
log "starting tern on 127.0.0.1:$tern_port (primary only)"
"$TERN_BIN" serve --listen "127.0.0.1:$tern_port" --primary "$primary" \
  --admin-user "$ADMIN_USER" --admin-password "$ADMIN_PASSWORD" --max-connections 5000 \
  2>"$OUT/tern.log" &
tern_pid=$!
wait_for_line "$OUT/tern.log" 'listening on' "$tern_pid" 60 || die "tern did not start"
[ "$(sql "$tern_port" 'SELECT 1')" = 1 ] || die "cannot query through tern"

# --- header --------------------------------------------------------------------------------
{
  echo "Tern overhead benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'),"\
    "$(awk '/MemTotal/{printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "MariaDB $mariadb_version (buffer pool $BUFFER_POOL, replicas $REPLICAS);" \
    "tern $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- proxy 2>/dev/null || echo ' (proxy/ modified)')"
  echo "sysbench $(sysbench --version | awk '{print $2}'): 1 table x $TABLE_SIZE rows," \
    "--rand-type=$RAND_TYPE, server-side prepared statements (sysbench default --db-ps-mode=auto)"
  echo "runs: ${DURATION}s measured after a separate ${WARMUP}s warm-up run, $REPS per side," \
    "alternating direct/tern; CLK_TCK=$CLK_TCK"
} | tee "$OUT/header.txt"
echo

# --- benchmark -----------------------------------------------------------------------------
runs="$OUT/runs.tsv"
printf 'workload\tthreads\trep\tside\ttps\tp95_ms\tqueries\tcpu_ticks\tcpu_us_per_query\n' >"$runs"
printf '%-18s %4s %3s %-6s %10s %8s %10s %9s %12s\n' \
  workload thr rep side tps p95_ms queries cpu_ticks tern_us/q | tee "$OUT/runs.txt"

for wl in $WORKLOADS; do
  for t in $THREADS; do
    for ((rep = 1; rep <= REPS; rep++)); do
      for side in direct tern; do
        if [ "$side" = direct ]; then port="$primary_port"; else port="$tern_port"; fi
        sb=(sysbench "$wl" "${sb_common[@]}" --mysql-port="$port" --threads="$t" --rand-type="$RAND_TYPE")
        name="${wl}_t${t}_r${rep}_${side}"
        if [ "$WARMUP" -gt 0 ]; then
          "${sb[@]}" --time="$WARMUP" run >"$OUT/raw/${name}_warmup.txt" 2>&1 \
            || die "warm-up failed, see $OUT/raw/${name}_warmup.txt"
        fi
        before=""
        [ "$side" = tern ] && before="$(cpu_ticks "$tern_pid")"
        "${sb[@]}" --time="$DURATION" run >"$OUT/raw/$name.txt" 2>&1 \
          || die "sysbench failed, see $OUT/raw/$name.txt"
        ticks="-" us="-"
        if [ "$side" = tern ]; then
          ticks=$(($(cpu_ticks "$tern_pid") - before))
        fi
        read -r tps p95 queries < <(python3 "$HERE/report.py" parse "$OUT/raw/$name.txt")
        if [ "$side" = tern ]; then
          us="$(awk -v t="$ticks" -v hz="$CLK_TCK" -v q="$queries" 'BEGIN{printf "%.2f", t * 1e6 / hz / q}')"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$t" "$rep" "$side" "$tps" "$p95" "$queries" "$ticks" "$us" >>"$runs"
        printf '%-18s %4s %3s %-6s %10s %8s %10s %9s %12s\n' "$wl" "$t" "$rep" "$side" "$tps" "$p95" "$queries" "$ticks" "$us" \
          | tee -a "$OUT/runs.txt"
      done
    done
  done
done
echo

# --- memory with idle connections ----------------------------------------------------------
sleep 2
rss_before="$(rss_kib "$tern_pid")"
log "tern VmRSS before: ${rss_before} KiB; opening $IDLE_CONNS idle connections through tern"
python3 "$HERE/idle_conns.py" 127.0.0.1 "$tern_port" "$APP_USER" "$APP_PASSWORD" "$APP_DB" "$IDLE_CONNS" \
  >"$OUT/idle_conns.log" 2>&1 &
idle_pid=$!
wait_for_line "$OUT/idle_conns.log" '^open ' "$idle_pid" 900 || die "could not open $IDLE_CONNS connections"
sleep 3 # let them settle: all idle, nothing in flight
rss_idle="$(rss_kib "$tern_pid")"
{
  echo "tern VmRSS before: $rss_before KiB; with $IDLE_CONNS idle connections: $rss_idle KiB"
  grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|Threads):' "/proc/$tern_pid/status"
  echo "tern open fds: $(ls "/proc/$tern_pid/fd" | wc -l)"
  sql "$primary_port" "SHOW GLOBAL STATUS LIKE 'Threads_connected'"
} | tee "$OUT/memory.txt" >&2
stop_pid "$idle_pid"
idle_pid=""

# --- summary -------------------------------------------------------------------------------
{
  cat "$OUT/header.txt"
  echo
  echo "Per run:"
  cat "$OUT/runs.txt"
  echo
  python3 "$HERE/report.py" summary "$runs" "$rss_before" "$rss_idle" "$IDLE_CONNS"
} >"$OUT/summary.txt"
echo
python3 "$HERE/report.py" summary "$runs" "$rss_before" "$rss_idle" "$IDLE_CONNS"
log "summary written to $OUT/summary.txt"
