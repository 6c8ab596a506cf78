# Shared helpers of the bench/migrate scripts (sourced, not run). Expects
# DB, and primary_port / replica_port once the cluster is up.
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }
wait_for_line() { # FILE PATTERN PID TIMEOUT_S
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
root_sql() { mariadb --no-defaults -h 127.0.0.1 -P "$1" -u root -proot -N -B "$DB" -e "$2"; }
replica_caught_up() {
  # Waits for the primary's position as of now: under a steady load the two
  # positions are never equal at the same instant (the keeper Tern runs after
  # a cut-over adds its own transactions), so waiting for equality can hang.
  local p
  p="$(root_sql "$primary_port" 'SELECT @@gtid_binlog_pos')"
  [ "$(root_sql "$replica_port" "SELECT MASTER_GTID_WAIT('$p', 600)")" = 0 ] ||
    die "replica did not catch up"
}

# WRITEBACK=smooth (needs root) sets vm.dirty_expire_centisecs=200 and
# vm.dirty_writeback_centisecs=100 for a run; restore_writeback puts the old
# values back. With the kernel's defaults (3000 / 500) each log file's dirty
# pages are written back in one burst every 30 s: the servers write their
# binlog and relay log through the page cache (sync_binlog=0), so every
# 30 s some 30 s of logs reach the disk at once and every commit waits
# behind them. Measured here with no migration at all (bench/migrate/stalls.sh,
# ~2,900 writes/s): 574-914 ms stalls, every writer and an fsync of an
# unrelated file at the same instant; with the smoother writeback, none over
# 50 ms in 95 s. A baseline that stalls that long by itself says nothing
# about a copy. WRITEBACK=machine leaves the kernel alone.
writeback_before=""
smooth_writeback() {
  [ "${WRITEBACK:-smooth}" = smooth ] || return 0
  writeback_before="vm.dirty_expire_centisecs=$(sysctl -n vm.dirty_expire_centisecs) vm.dirty_writeback_centisecs=$(sysctl -n vm.dirty_writeback_centisecs)"
  sysctl -q -w vm.dirty_expire_centisecs=200 vm.dirty_writeback_centisecs=100 ||
    die "WRITEBACK=smooth needs root (or WRITEBACK=machine)"
  log "page-cache writeback every 1 s, pages older than 2 s (was: $writeback_before)"
}
restore_writeback() {
  [ -n "$writeback_before" ] || return 0
  # shellcheck disable=SC2086
  sysctl -q -w $writeback_before || log "could not put back: $writeback_before"
  writeback_before=""
}
writeback_line() {
  echo "writeback: ${WRITEBACK:-smooth} (vm.dirty_expire_centisecs=$(sysctl -n vm.dirty_expire_centisecs), vm.dirty_writeback_centisecs=$(sysctl -n vm.dirty_writeback_centisecs))"
}

# Background processes a run started (servers, Tern, writers): stop_all
# stops them newest first; stop_on_exit does that, and puts the kernel's
# writeback back, however the script ends.
pids=()
stop_all() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  pids=()
}
# Takes a process out of the list once the run has waited for it itself, so
# a later stop_all never signals a reused pid.
forget() {
  local keep=() p
  for p in "${pids[@]}"; do
    [ "$p" = "$1" ] || keep+=("$p")
  done
  pids=("${keep[@]}")
}
# Runs a command in the background and waits for it: bash runs a signal's
# trap only once a foreground command returns, so an interrupted run would
# otherwise keep its servers until a long ALTER or sleep ended by itself.
interruptible() {
  "$@" &
  local pid=$! rc=0
  pids+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  return "$rc"
}
cleanup_at_exit() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  restore_writeback
  exit "$rc"
}
stop_on_exit() {
  trap cleanup_at_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
