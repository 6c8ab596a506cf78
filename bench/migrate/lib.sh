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
  local p r i
  for ((i = 0; i < 6000; i++)); do
    p="$(root_sql "$primary_port" 'SELECT @@gtid_binlog_pos')"
    r="$(root_sql "$replica_port" 'SELECT @@gtid_slave_pos')"
    [ "$p" = "$r" ] && return 0
    sleep 0.1
  done
  die "replica did not catch up"
}
