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

source "$HERE/common.sh"

# --- preflight ---------------------------------------------------------------------------
command -v sysbench >/dev/null || die "sysbench is not installed"
command -v mariadb >/dev/null || die "the mariadb client is not installed"
python3 -c 'import pymysql' 2>/dev/null || die "PyMySQL is missing (pip install PyMySQL)"
# 1,000 idle clients need 2,000 sockets in Tern (client + backend) and 1,000 in the client.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 16384 ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
mkdir -p "$OUT/raw"
build_tern
log "raw output in $OUT"

# --- MariaDB primary, table, Tern -------------------------------------------------------
start_cluster
mariadb_version="$(sql "$primary_port" 'SELECT VERSION()')"
log "primary $primary (MariaDB $mariadb_version)"
prepare_table
start_tern

sb_common=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user="$APP_USER"
  --mysql-password="$APP_PASSWORD" --mysql-db="$APP_DB" --tables=1 --table-size="$TABLE_SIZE")

# --- header --------------------------------------------------------------------------------
{
  echo "Tern overhead benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'),"\
    "$(awk '/MemTotal/{printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "MariaDB $mariadb_version (buffer pool $BUFFER_POOL, replicas $REPLICAS);" \
    "tern built from $TERN_SOURCE${TERN_ARGS:+, extra flags: $TERN_ARGS}"
  echo "sysbench $(sysbench --version | awk '{print $2}'): 1 table x $TABLE_SIZE rows," \
    "--rand-type=$RAND_TYPE, server-side prepared statements (sysbench default --db-ps-mode=auto)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "runs: ${DURATION}s measured after a separate ${WARMUP}s warm-up run, $REPS per side," \
    "alternating direct/tern; CLK_TCK=$CLK_TCK"
} | tee "$OUT/header.txt"
echo

# --- benchmark -----------------------------------------------------------------------------
runs="$OUT/runs.tsv"
printf 'workload\tthreads\trep\tside\ttps\tp95_ms\tqueries\tcpu_ticks\tcpu_us_per_query\tother_cpu_pct\n' >"$runs"
printf '%-18s %4s %3s %-6s %10s %8s %10s %9s %10s %7s\n' \
  workload thr rep side tps p95_ms queries cpu_ticks tern_us/q other% | tee "$OUT/runs.txt"

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
        t0="$(date +%s.%N)" m0="$(machine_ticks)" d0="$(cpu_ticks "$mariadbd_pid")" x0="$(cpu_ticks "$tern_pid")"
        sb_cpu="$(run_rusage "$OUT/raw/$name.txt" "${sb[@]}" --time="$DURATION" run)" \
          || die "sysbench failed, see $OUT/raw/$name.txt"
        t1="$(date +%s.%N)" m1="$(machine_ticks)" d1="$(cpu_ticks "$mariadbd_pid")" x1="$(cpu_ticks "$tern_pid")"
        ticks="-" us="-"
        if [ "$side" = tern ]; then
          ticks=$((x1 - x0))
        fi
        # CPU used by anything but sysbench, mariadbd and Tern during the run, in % of one
        # CPU: a busy neighbour shows up here and makes the run worthless.
        other="$(awk -v m=$((m1 - m0)) -v d=$((d1 - d0)) -v x=$((x1 - x0)) -v s="$sb_cpu" \
          -v hz="$CLK_TCK" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" \
          'BEGIN { o = ((m - d - x) / hz - s) / w * 100; printf "%.0f", o }')"
        read -r tps p95 queries < <(python3 "$HERE/report.py" parse "$OUT/raw/$name.txt")
        if [ "$side" = tern ]; then
          us="$(awk -v t="$ticks" -v hz="$CLK_TCK" -v q="$queries" 'BEGIN{printf "%.2f", t * 1e6 / hz / q}')"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$t" "$rep" "$side" "$tps" "$p95" "$queries" "$ticks" "$us" "$other" >>"$runs"
        printf '%-18s %4s %3s %-6s %10s %8s %10s %9s %10s %7s\n' "$wl" "$t" "$rep" "$side" "$tps" "$p95" "$queries" "$ticks" "$us" "$other" \
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
bg_pid=$!
wait_for_line "$OUT/idle_conns.log" '^open ' "$bg_pid" 900 || die "could not open $IDLE_CONNS connections"
sleep 3 # let them settle: all idle, nothing in flight
rss_idle="$(rss_kib "$tern_pid")"
{
  echo "tern VmRSS before: $rss_before KiB; with $IDLE_CONNS idle connections: $rss_idle KiB"
  grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|Threads):' "/proc/$tern_pid/status"
  echo "tern open fds: $(ls "/proc/$tern_pid/fd" | wc -l)"
  sql "$primary_port" "SHOW GLOBAL STATUS LIKE 'Threads_connected'"
} | tee "$OUT/memory.txt" >&2
stop_pid "$bg_pid"
bg_pid=""

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
