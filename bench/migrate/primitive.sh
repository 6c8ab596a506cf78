#!/usr/bin/env bash
# bench/migrate/primitive: the floor under any online copy on this machine.
#
# Copies a sysbench table (1,000,000 rows) into a shadow table with nothing but
# the chunked `INSERT ... SELECT` that Tern, pt-online-schema-change and gh-ost
# all build on, with no load, no tool and no checks around it, then waits until
# the replica has applied it. Two ways of logging the copy:
#   row        READ COMMITTED, binlog_format=ROW: the rows go through the binlog
#              and the replica inserts them (what Tern does)
#   statement  REPEATABLE READ, binlog_format=STATEMENT: the replica runs each
#              chunk's INSERT ... SELECT itself (the copy then locks the rows it
#              reads, which is why Tern does not do it)
# Prints per run: when the primary finished, when the replica had everything,
# and the CPU seconds both mariadbd processes spent (from /proc).
#
#   bench/migrate/primitive.sh
#   ROWS=200000 CHUNK=5000 REPS=1 bench/migrate/primitive.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
ROWS="${ROWS:-1000000}"
CHUNK="${CHUNK:-10000}"
REPS="${REPS:-2}"
BUILD="${BUILD:-1}"
OUT="$ROOT/bench/out/primitive-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }
cluster_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$cluster_pid" ]; then kill -TERM "$cluster_pid" 2>/dev/null || true; wait "$cluster_pid" 2>/dev/null || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 -c 'import pymysql' 2>/dev/null || die "PyMySQL is missing (pip install PyMySQL)"
if [ "$BUILD" = 1 ]; then
  log "building tern-cluster"
  cargo build --release -q -p tern-tests --bin tern-cluster
fi
"$ROOT/target/release/tern-cluster" --replicas 1 --buffer-pool 1G --redo-log 1G >"$OUT/cluster.log" 2>&1 &
cluster_pid=$!
for _ in $(seq 600); do grep -q '^ready' "$OUT/cluster.log" && break; sleep 0.1; done
grep -q '^ready' "$OUT/cluster.log" || die "cluster did not start: $(cat "$OUT/cluster.log")"
primary="$(awk '/^primary /{print $2}' "$OUT/cluster.log")"
replica="$(awk '/^replica /{print $2; exit}' "$OUT/cluster.log")"
primary_port="${primary##*:}" replica_port="${replica##*:}"
sql() { mariadb --no-defaults -h 127.0.0.1 -P "$1" -u root -proot -N -B app -e "$2"; }
server_pid() { # PORT -> pid of the mariadbd listening there
  local file
  file="$(sql "$1" 'SELECT @@pid_file')"
  cat "$file"
}
CLK_TCK="$(getconf CLK_TCK)"
cpu_ms() { sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$CLK_TCK" '{print int(($12 + $13) * 1000 / hz)}'; }
caught_up() {
  for _ in $(seq 6000); do
    [ "$(sql "$primary_port" 'SELECT @@gtid_binlog_pos')" = "$(sql "$replica_port" 'SELECT @@gtid_slave_pos')" ] && return 0
    sleep 0.02
  done
  die "replica did not catch up"
}
primary_pid="$(server_pid "$primary_port")"
replica_pid="$(server_pid "$replica_port")"

log "preparing sbtest1 with $ROWS rows"
sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$primary_port" \
  --mysql-user=app --mysql-password=app_pw --mysql-db=app --tables=1 --table-size="$ROWS" \
  prepare >"$OUT/prepare.txt" 2>&1 || die "prepare failed"
caught_up

{
  echo "machine: $(nproc) CPUs, $(uname -r); $(mariadbd --version 2>/dev/null | head -1)"
  echo "rows $ROWS, chunk $CHUNK rows, idle primary + 1 GTID replica on this machine"
  printf 'mode\trun\tprimary_done_ms\treplica_done_ms\tprimary_cpu_ms\treplica_cpu_ms\n'
} | tee "$OUT/summary.tsv"

for rep in $(seq "$REPS"); do
  for mode in row statement; do
    sql "$primary_port" "DROP TABLE IF EXISTS shadow; CREATE TABLE shadow LIKE sbtest1;
      ALTER TABLE shadow ADD COLUMN note VARCHAR(32) NOT NULL DEFAULT ''"
    caught_up
    p0="$(cpu_ms "$primary_pid")" r0="$(cpu_ms "$replica_pid")" t0="$(now_ms)"
    python3 - "$primary_port" "$mode" "$CHUNK" "$ROWS" <<'PY'
import sys
import pymysql
port, mode, chunk, rows = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = pymysql.connect(host="127.0.0.1", port=port, user="root", password="root",
                    database="app", autocommit=True)
cur = c.cursor()
if mode == "row":
    cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    cur.execute("SET SESSION binlog_format = 'ROW'")
else:
    cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    cur.execute("SET SESSION binlog_format = 'STATEMENT'")
lo = 0
while lo < rows:
    cur.execute("INSERT INTO shadow (id, k, c, pad) SELECT id, k, c, pad FROM sbtest1 "
                f"WHERE id > {lo} AND id <= {lo + chunk}")
    lo += chunk
PY
    t1="$(now_ms)"
    caught_up
    t2="$(now_ms)"
    p1="$(cpu_ms "$primary_pid")" r1="$(cpu_ms "$replica_pid")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$rep" $((t1 - t0)) $((t2 - t0)) $((p1 - p0)) $((r1 - r0)) |
      tee -a "$OUT/summary.tsv"
  done
done
sql "$primary_port" "DROP TABLE IF EXISTS shadow"
log "results in $OUT"
