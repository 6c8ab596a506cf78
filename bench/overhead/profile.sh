#!/usr/bin/env bash
# Where does Tern's CPU go? Companion to run.sh, for one sysbench workload
# (WORKLOAD, default oltp_point_select) at THREADS threads (default 16).
#
#  1. CPU split: one sysbench run directly and one through Tern; utime/stime per query of
#     Tern, mariadbd and sysbench, and of the whole machine (/proc/stat), plus Tern's
#     context switches per query.
#  2. strace -c -f on Tern for STRACE_SECS during a run through Tern; syscalls per query
#     (queries counted by the server's Com_stmt_execute + Com_begin + Com_commit over the
#     same window).
#     strace slows Tern down a lot; only the counts per query mean anything.
#  3. perf record -e cpu-clock on Tern for PERF_SECS during a run through Tern: flat
#     profile by symbol and by DSO (kernel vs. Tern vs. libc).
#
# Outputs go to $OUT (default bench/out/profile-<timestamp>/); report.txt is the summary.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
WORKLOAD="${WORKLOAD:-oltp_point_select}"
THREADS="${THREADS:-16}"
TABLE_SIZE="${TABLE_SIZE:-1000000}"
RAND_TYPE="${RAND_TYPE:-uniform}"
BUFFER_POOL="${BUFFER_POOL:-1G}"
STRACE_SECS="${STRACE_SECS:-5}"
PERF_SECS="${PERF_SECS:-10}"
PERF_FLAGS="${PERF_FLAGS:-}"          # extra perf record flags, e.g. -g
DATA_DIR="${DATA_DIR:-}"
BUILD="${BUILD:-1}"
OUT="${OUT:-$ROOT/bench/out/profile-$(date +%Y%m%d-%H%M%S)}"

REPLICAS=0
source "$HERE/common.sh"

ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'; }   # utime stime
ctxsw() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt/{v+=$2} /^nonvoluntary_ctxt/{n+=$2} END{print v, n}'; }
machine() { awk '/^cpu /{print $2+$3, $4, $7+$8, $5+$6}' /proc/stat; } # user system irq+softirq idle+iowait
executes() { # statements the server ran: prepared executions plus BEGIN/COMMIT (read_write)
  sql "$primary_port" "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_stmt_execute','Com_begin','Com_commit')" \
    | awk '{n += $2} END {print n}'
}

command -v strace >/dev/null || die "strace is not installed"
command -v perf >/dev/null || die "perf is not installed"
mkdir -p "$OUT"
build_tern
log "output in $OUT"
start_cluster
prepare_table
start_tern

sb_common=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user="$APP_USER" --mysql-password="$APP_PASSWORD"
  --mysql-db="$APP_DB" --tables=1 --table-size="$TABLE_SIZE" --rand-type="$RAND_TYPE" --threads="$THREADS")

report="$OUT/report.txt"
: >"$report"
say() { echo "$*" | tee -a "$report"; }
say "tern built from $TERN_SOURCE"

# Runs sysbench in the foreground; prints "queries sysbench_user_s sysbench_sys_s".
sysbench_rusage() {
  python3 - "$@" <<'PY'
import re, resource, subprocess, sys
out_path, args = sys.argv[1], sys.argv[2:]
with open(out_path, "w") as out:
    subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
q = re.search(r"^\s+queries:\s+(\d+)", open(out_path).read(), re.M).group(1)
print(q, r.ru_utime, r.ru_stime)
PY
}

# --- 1. CPU split ------------------------------------------------------------------------
say "$WORKLOAD, $THREADS threads, ${DURATION}s, --rand-type=$RAND_TYPE; CPU in us per query (user+sys)"
say "$(printf '%-7s %9s %18s %18s %18s %22s %12s' side qps tern mariadbd sysbench 'machine (irq incl.)' 'tern cs/q')"
for side in direct tern; do
  if [ "$side" = direct ]; then port="$primary_port"; else port="$tern_port"; fi
  sysbench "$WORKLOAD" "${sb_common[@]}" --mysql-port="$port" --time="$WARMUP" run >/dev/null 2>&1
  read -r tu0 ts0 < <(ticks "$tern_pid")
  read -r mu0 ms0 < <(ticks "$mariadbd_pid")
  read -r cv0 cn0 < <(ctxsw "$tern_pid")
  read -r hu0 hs0 hi0 hd0 < <(machine)
  read -r q su ss < <(sysbench_rusage "$OUT/cpu_$side.txt" sysbench "$WORKLOAD" "${sb_common[@]}" \
    --mysql-port="$port" --time="$DURATION" run)
  read -r tu1 ts1 < <(ticks "$tern_pid")
  read -r mu1 ms1 < <(ticks "$mariadbd_pid")
  read -r cv1 cn1 < <(ctxsw "$tern_pid")
  read -r hu1 hs1 hi1 hd1 < <(machine)
  say "$(awk -v side="$side" -v q="$q" -v d="$DURATION" -v hz="$CLK_TCK" \
    -v tu=$((tu1 - tu0)) -v ts=$((ts1 - ts0)) -v mu=$((mu1 - mu0)) -v ms=$((ms1 - ms0)) \
    -v su="$su" -v ss="$ss" -v hu=$((hu1 - hu0)) -v hs=$((hs1 - hs0)) -v hi=$((hi1 - hi0)) \
    -v cs=$((cv1 - cv0 + cn1 - cn0)) 'BEGIN {
      f = 1e6 / hz / q
      printf "%-7s %9.0f %8.1f+%-9.1f %8.1f+%-9.1f %8.1f+%-9.1f %6.1f+%-6.1f+%-8.1f %12.2f\n",
        side, q / d, tu * f, ts * f, mu * f, ms * f, su * 1e6 / q, ss * 1e6 / q,
        hu * f, hs * f, hi * f, cs / q }')"
done
say ""

# --- 2. strace ---------------------------------------------------------------------------
bg_secs=$((STRACE_SECS + 10))
sysbench "$WORKLOAD" "${sb_common[@]}" --mysql-port="$tern_port" --time="$bg_secs" run \
  >"$OUT/strace_sysbench.txt" 2>&1 &
bg_pid=$!
sleep 4
e0="$(executes)"
timeout -s INT "$STRACE_SECS" strace -c -f -p "$tern_pid" -o "$OUT/strace.txt" 2>/dev/null || true
e1="$(executes)"
wait "$bg_pid" || true
bg_pid=""
queries=$((e1 - e0))
say "strace -c -f -p <tern> for ${STRACE_SECS}s: $queries statements (Com_stmt_execute+Com_begin+Com_commit) on the server in that window"
say "$(printf '%-16s %10s %10s' syscall calls per_query)"
awk -v q="$queries" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
    name = $NF; calls = $4; if (calls == "") next
    printf "%-16s %10d %10.2f\n", name, calls, calls / q }' "$OUT/strace.txt" | sort -k2 -nr | awk 'NR <= 15' | tee -a "$report"
awk -v q="$queries" '$NF == "total" { printf "%-16s %10d %10.2f\n", "total", $4, $4 / q }' "$OUT/strace.txt" | tee -a "$report"
say ""

# --- 3. perf -----------------------------------------------------------------------------
sysbench "$WORKLOAD" "${sb_common[@]}" --mysql-port="$tern_port" --time=$((PERF_SECS + 8)) run \
  >"$OUT/perf_sysbench.txt" 2>&1 &
bg_pid=$!
sleep 4
perf record -e cpu-clock -F 1999 ${PERF_FLAGS:-} -p "$tern_pid" -o "$OUT/perf.data" -- sleep "$PERF_SECS" >/dev/null 2>&1
wait "$bg_pid" || true
bg_pid=""
say "perf record -e cpu-clock on tern, ${PERF_SECS}s, by DSO:"
perf report -i "$OUT/perf.data" --no-children --stdio --sort dso >"$OUT/perf_dso.txt" 2>/dev/null
awk '!/^#/ && NF && n++ < 8' "$OUT/perf_dso.txt" | tee -a "$report"
say ""
say "by symbol (top 40):"
perf report -i "$OUT/perf.data" --no-children --stdio --sort dso,sym >"$OUT/perf_sym.txt" 2>/dev/null
awk '!/^#/ && NF && n++ < 40' "$OUT/perf_sym.txt" | tee -a "$report"
log "report in $report"
