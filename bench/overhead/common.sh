# Shared by run.sh and profile.sh (sourced, not run). Expects ROOT, OUT and the
# variables documented in README.md; defines helpers and the cluster/Tern start-up.

APP_USER=app APP_PASSWORD=app_pw APP_DB=app
ADMIN_USER=tern_admin ADMIN_PASSWORD=tern_admin_pw
CLK_TCK="$(getconf CLK_TCK)"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cluster_pid="" tern_pid="" bg_pid=""
stop_pid() { # SIGTERM one process we started and wait for it
  local pid="$1"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$bg_pid"
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
cpu_ticks() { # utime+stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat)
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

# Builds (unless BUILD=0) and sets TERN_BIN, CLUSTER_BIN and TERN_SOURCE (what was built).
# TERN_COMMIT=<rev>: build that commit from a clean `git archive` export under
# bench/out/src (own target dir bench/out/target), untouched by edits in the working tree.
build_tern() {
  local head
  if [ -n "${TERN_COMMIT:-}" ]; then
    local rev src="$ROOT/bench/out/src"
    rev="$(git -C "$ROOT" rev-parse --short "$TERN_COMMIT^{commit}")" || die "unknown commit $TERN_COMMIT"
    if [ "$(cat "$src/.tern-bench-rev" 2>/dev/null)" != "$rev" ]; then
      rm -rf "$src" && mkdir -p "$src"
      git -C "$ROOT" archive "$rev" | tar -x -C "$src"
      echo "$rev" >"$src/.tern-bench-rev"
    fi
    log "building commit $rev (clean export in $src)"
    (cd "$src" && CARGO_TARGET_DIR="$ROOT/bench/out/target" cargo build --release -p tern -p tern-tests --bins)
    TERN_BIN="$ROOT/bench/out/target/release/tern"
    CLUSTER_BIN="$ROOT/bench/out/target/release/tern-cluster"
    TERN_SOURCE="commit $rev (clean export)"
  else
    head="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    # Recorded before building: what the working tree held when cargo read it.
    if [ -n "$(git -C "$ROOT" status --porcelain -- proxy rules tests Cargo.toml Cargo.lock 2>/dev/null)" ]; then
      TERN_SOURCE="working tree at $head, WITH uncommitted changes"
    else
      TERN_SOURCE="working tree at $head (clean)"
    fi
    if [ "$BUILD" = 1 ]; then
      log "building (cargo build --release -p tern -p tern-tests --bins)"
      cargo build --release -p tern -p tern-tests --bins
    else
      TERN_SOURCE="existing target/release binaries (BUILD=0; HEAD is $head)"
    fi
    TERN_BIN="$ROOT/target/release/tern"
    CLUSTER_BIN="$ROOT/target/release/tern-cluster"
  fi
  [ -x "$TERN_BIN" ] && [ -x "$CLUSTER_BIN" ] || die "missing $TERN_BIN or $CLUSTER_BIN"
}

# Starts tern-cluster (primary + REPLICAS replicas); sets cluster_pid, primary, primary_port.
start_cluster() {
  local args=(--replicas "$REPLICAS" --buffer-pool "$BUFFER_POOL")
  [ -n "$DATA_DIR" ] && args+=(--dir "$DATA_DIR")
  log "starting tern-cluster ${args[*]}"
  "$CLUSTER_BIN" "${args[@]}" >"$OUT/cluster.log" 2>&1 &
  cluster_pid=$!
  wait_for_line "$OUT/cluster.log" '^ready' "$cluster_pid" 600 || die "tern-cluster did not become ready"
  primary="$(awk '/^primary /{print $2}' "$OUT/cluster.log")"
  primary_port="${primary##*:}"
  mariadbd_pid="$(pgrep -P "$cluster_pid" -x mariadbd | head -1)"
  [ -n "$mariadbd_pid" ] || die "cannot find mariadbd under tern-cluster"
}
# Busy ticks of the whole machine: user+nice+system+irq+softirq (tasks' own times include
# the softirq work done in their context, e.g. loopback TCP).
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# Runs a command with its output in FILE; prints its user+system CPU seconds.
run_rusage() { # FILE CMD...
  python3 - "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    rc = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)
sys.exit(rc)
PY
}

# Creates sbtest1 directly on the primary unless it already holds TABLE_SIZE rows, then
# reads the clustered and the secondary index once so both sit in the buffer pool.
prepare_table() {
  local rows sb=(sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1
    --mysql-port="$primary_port" --mysql-user="$APP_USER" --mysql-password="$APP_PASSWORD"
    --mysql-db="$APP_DB" --tables=1 --table-size="$TABLE_SIZE")
  rows="$(sql "$primary_port" "SELECT COUNT(*) FROM sbtest1" 2>/dev/null || echo 0)"
  if [ "$rows" = "$TABLE_SIZE" ]; then
    log "reusing sbtest1 ($rows rows)"
  else
    log "preparing sbtest1 with $TABLE_SIZE rows (directly against the primary)"
    "${sb[@]}" cleanup >"$OUT/prepare.txt" 2>&1
    "${sb[@]}" prepare >>"$OUT/prepare.txt" 2>&1 || die "sysbench prepare failed, see $OUT/prepare.txt"
  fi
  sql "$primary_port" "SELECT COUNT(*), SUM(LENGTH(c)) FROM sbtest1;
    SELECT SUM(k) FROM sbtest1 FORCE INDEX (k_1)" >/dev/null
  sql "$primary_port" "SHOW GLOBAL STATUS WHERE Variable_name IN
    ('Innodb_buffer_pool_pages_data','Innodb_buffer_pool_pages_free','Innodb_buffer_pool_pages_total')" \
    >"$OUT/buffer_pool.txt"
}

# Starts Tern in front of the primary only (plus TERN_ARGS, word-split); sets tern_pid, tern_port.
start_tern() {
  tern_port="${TERN_PORT:-$(free_port)}"
  log "starting tern on 127.0.0.1:$tern_port (primary only)"
  "$TERN_BIN" serve --listen "127.0.0.1:$tern_port" --primary "$primary" \
    --admin-user "$ADMIN_USER" --admin-password "$ADMIN_PASSWORD" --max-connections 5000 \
    ${TERN_ARGS:-} 2>"$OUT/tern.log" &
  tern_pid=$!
  wait_for_line "$OUT/tern.log" 'listening on' "$tern_pid" 60 || die "tern did not start"
  [ "$(sql "$tern_port" 'SELECT 1')" = 1 ] || die "cannot query through tern"
}
