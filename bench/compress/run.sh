#!/usr/bin/env bash
# What the compressed protocol costs and saves through Tern: the `mariadb` CLI reads a
# large result REPS times with and without --compress, directly (the server compresses)
# and through Tern (Tern compresses; its link to the server stays plain). Reports wall
# time per read and the CPU the compressing process (mariadbd or Tern) spent per read.
# Uses bench/overhead's cluster and Tern start-up; everything is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

REPS="${REPS:-5}"
ROWS="${ROWS:-100000}"                  # rows of sbtest1 read per query (~190 bytes each)
TABLE_SIZE="${TABLE_SIZE:-$ROWS}"
BUFFER_POOL="${BUFFER_POOL:-256M}"
REPLICAS=0 DATA_DIR="" RAND_TYPE=uniform
BUILD="${BUILD:-1}"
OUT="${OUT:-$ROOT/bench/out/compress-$(date +%Y%m%d-%H%M%S)}"

source "$ROOT/bench/overhead/common.sh"
mkdir -p "$OUT"
build_tern
start_cluster
prepare_table
start_tern

query="SELECT * FROM sbtest1 LIMIT $ROWS"
{
  echo "Compressed protocol, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, tern from $TERN_SOURCE"
  echo "query: $query; $REPS reads per case with the mariadb CLI (--batch, output to /dev/null)"
  printf '%-7s %-9s %12s %16s\n' side mode ms_per_read cpu_ms_per_read
} | tee "$OUT/summary.txt"
for side in direct tern; do
  if [ "$side" = direct ]; then port="$primary_port" pid="$mariadbd_pid"; else port="$tern_port" pid="$tern_pid"; fi
  for mode in plain compress; do
    flag=()
    [ "$mode" = compress ] && flag=(--compress)
    c0="$(cpu_ticks "$pid")" t0="$(date +%s.%N)"
    for ((i = 0; i < REPS; i++)); do
      mariadb --no-defaults -h127.0.0.1 -P"$port" -u"$APP_USER" -p"$APP_PASSWORD" "$APP_DB" \
        --batch "${flag[@]}" -e "$query" >/dev/null
    done
    t1="$(date +%s.%N)" c1="$(cpu_ticks "$pid")"
    awk -v s="$side" -v m="$mode" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v hz="$CLK_TCK" \
      -v n="$REPS" 'BEGIN { printf "%-7s %-9s %12.1f %16.1f\n", s, m,
        (t1 - t0) * 1000 / n, c * 1000 / hz / n }' | tee -a "$OUT/summary.txt"
  done
done
log "summary in $OUT/summary.txt"
