#!/usr/bin/env bash
# bench/transparency: MariaDB's own test suite (the mariadb-test package, suite
# `main`) run twice against a fresh throwaway primary + replica: once straight
# to the primary, once through Tern. Prints the tests that pass directly and
# fail through Tern, and keeps each such test's diff.
#
#   EVERY=3 bench/transparency/mtr.sh          # every third test of main
#   TESTS="main.alter_table main.view" bench/transparency/mtr.sh
#
# Settings (environment): EVERY (take every Nth test, default 3), OFFSET
# (which of the N, default 0), TESTS (explicit list, overrides both), PORT
# (primary; the replica is PORT+1 and Tern PORT+90, default 24300), OUT
# (results, default /tmp/tern-mtr), BIN (release binaries; built unless
# BUILD=0), TERN_ARGS (more flags for `tern serve`), TIMEOUT_MIN (minutes a
# test may take, default 1: the few that take longer, such as main.compress,
# fail in both runs and are left out of the comparison).
#
# Both runs use TCP (`protocol=tcp`: the suite's `localhost` connections would
# otherwise take the server's socket and bypass Tern) and the same order of
# tests. Between tests the databases a test made are dropped (the suite
# expects a server fresh from its bootstrap; without this, one test's leftover
# `t1` fails the next). The suite connects as root with no password, so this
# sets none on the throwaway cluster's root accounts, and it turns name
# resolution on, so that the suite's `user@localhost` accounts match its TCP
# connections from 127.0.0.1 as they would match its socket.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
EVERY=${EVERY:-3}
OFFSET=${OFFSET:-0}
PORT=${PORT:-24300}
OUT=${OUT:-/tmp/tern-mtr}
BIN=${BIN:-$PWD/target/release}
SUITE_DIR=/usr/share/mysql/mysql-test
TERN_PORT=$((PORT + 90))

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Waits up to 60 s for a line matching $2 in file $1; $3 names what started.
wait_for_line() {
  for _ in $(seq 1 120); do
    grep -q "$2" "$1" && return 0
    sleep 0.5
  done
  log "$3 did not start (see $1)"
  exit 1
}

if [ ! -x "$SUITE_DIR/mtr" ]; then
  log "installing mariadb-test"
  apt-get install -y -q mariadb-test >/dev/null
fi
if [ "${BUILD:-1}" = 1 ]; then
  log "building (cargo build --release -p tern -p tern-tests --bins)"
  cargo build --release -q -p tern -p tern-tests --bins
fi

if [ -n "${TESTS:-}" ]; then
  read -r -a tests <<<"$TESTS"
else
  tests=()
  i=0
  for f in "$SUITE_DIR"/main/*.test; do
    # A test that stops or restarts the server cannot run against servers it
    # did not start: it would end the run.
    if grep -qE 'shutdown_server|restart_mysqld|kill_mysqld|start_mysqld|restart_embedded' "$f"; then
      continue
    fi
    if [ $((i % EVERY)) -eq "$OFFSET" ]; then
      name=$(basename "$f" .test)
      tests+=("main.$name")
    fi
    i=$((i + 1))
  done
fi
log "${#tests[@]} tests"

rm -rf "$OUT"
mkdir -p "$OUT"
cluster_pid=
tern_pid=
stop_all() {
  [ -n "$tern_pid" ] && kill "$tern_pid" 2>/dev/null && wait "$tern_pid" 2>/dev/null
  [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null && wait "$cluster_pid" 2>/dev/null
  tern_pid=
  cluster_pid=
  return 0
}
trap stop_all EXIT

start_cluster() {
  # The suite's own server settings that its results assume (its
  # include/default_mysqld.cnf), where they do not fight the cluster's.
  "$BIN/tern-cluster" --replicas 1 --base-port "$PORT" \
    --server-setting character-set-server=latin1 \
    --server-setting collation-server=latin1_swedish_ci \
    --server-setting log-bin-trust-function-creators=1 \
    --server-setting local-infile=1 \
    --server-setting max_heap_table_size=1M \
    --server-setting sort_buffer_size=256K \
    --server-setting key_buffer_size=1M \
    --server-setting open-files-limit=1024 \
    --server-setting connect-timeout=60 \
    --server-setting skip-name-resolve=0 \
    >"$OUT/cluster-$1.log" 2>&1 &
  cluster_pid=$!
  wait_for_line "$OUT/cluster-$1.log" '^ready' "the cluster"
  # The suite logs in as root without a password, and creates its `test`
  # database itself only in its own bootstrap.
  mariadb -h127.0.0.1 -P"$PORT" -uroot -proot -e "
    SET PASSWORD FOR root@'127.0.0.1' = PASSWORD('');
    SET PASSWORD FOR root@localhost = PASSWORD('');
    CREATE DATABASE IF NOT EXISTS test;"
  # The suite's bootstrap also makes `mtr` with mtr.add_suppression(), which
  # many tests call; its file is written for mysqltest's `delimiter ||;`.
  {
    echo "CREATE DATABASE IF NOT EXISTS mtr; USE mtr;"
    sed 's/^delimiter ||;$/delimiter ||/' "$SUITE_DIR/include/mtr_warnings.sql"
  } | mariadb -h127.0.0.1 -P"$PORT" -uroot --force >/dev/null 2>&1 || true
}

# Puts the servers back between tests: every database, user and role a test
# made is dropped and `test` made again, and the replica has caught up, so
# each test starts from the same state in both runs (reads through Tern may
# go to the replica). A replica whose applier a test stopped (a plugin only
# the primary has, say) is set to the primary's position with the same reset.
KEEP_SCHEMAS="'mysql', 'information_schema', 'performance_schema', 'sys', 'app', 'tern_whoami', '_tern', 'mtr'"
KEEP_USERS="'root', 'mariadb.sys', 'tern_admin', 'app', 'tern_repl'"
drops_on() {
  mariadb -h127.0.0.1 -P"$1" -uroot -N -e "
    SELECT CONCAT('DROP DATABASE \`', SCHEMA_NAME, '\`;') FROM information_schema.SCHEMATA
      WHERE SCHEMA_NAME NOT IN ($KEEP_SCHEMAS);
    SELECT CONCAT(IF(is_role = 'Y', 'DROP ROLE ', 'DROP USER '), QUOTE(User),
                  IF(is_role = 'Y', '', CONCAT('@', QUOTE(Host))), ';')
      FROM mysql.user WHERE User NOT IN ($KEEP_USERS);"
}
reset_servers() {
  local replica=$((PORT + 1)) pos caught
  mariadb -h127.0.0.1 -P"$PORT" -uroot -e "SET SESSION foreign_key_checks = 0;
    $(drops_on "$PORT") CREATE DATABASE test;" >/dev/null 2>&1 || true
  pos=$(mariadb -h127.0.0.1 -P"$PORT" -uroot -N -e "SELECT @@global.gtid_binlog_pos") || {
    log "the primary does not answer after the previous test"
    exit 1
  }
  caught=$(mariadb -h127.0.0.1 -P"$replica" -uroot -N -e "SELECT MASTER_GTID_WAIT('$pos', 10)" 2>/dev/null || echo -1)
  if [ "$caught" != 0 ]; then
    mariadb -h127.0.0.1 -P"$replica" -uroot -e "STOP SLAVE; SET SESSION sql_log_bin = 0;
      SET SESSION foreign_key_checks = 0; $(drops_on "$replica") CREATE DATABASE test;
      SET GLOBAL gtid_slave_pos = '$pos'; START SLAVE;" >/dev/null 2>&1 || true
  fi
}

run_suite() {
  local mode=$1 port=$2 t
  log "running ${#tests[@]} tests $mode (port $port)"
  : >"$OUT/$mode.log"
  for t in "${tests[@]}"; do
    reset_servers
    (
      cd "$SUITE_DIR"
      ./mtr --extern host=127.0.0.1 --extern port="$port" --extern user=root \
        --extern protocol=tcp --vardir="$OUT/var-$mode" --force --max-test-fail=0 \
        --retry=1 --testcase-timeout="${TIMEOUT_MIN:-1}" --nocheck-testcases "$t"
    ) >>"$OUT/$mode.log" 2>&1 || true
  done
  # "main.name  [ pass ]", "[ fail ]", "[ skipped ]" lines, first verdict wins.
  grep -oE '^main\.[^ ]+( '"'"'[^'"'"']*'"'"')? +\[ [a-z]+ \]' "$OUT/$mode.log" |
    sed -E 's/^(main\.[^ ]+).*\[ ([a-z]+) \]$/\1 \2/' | awk '!seen[$1]++' |
    sort >"$OUT/$mode.verdicts"
}

start_cluster direct
run_suite direct "$PORT"
stop_all

start_cluster tern
"$BIN/tern" serve --listen "127.0.0.1:$TERN_PORT" --primary "127.0.0.1:$PORT" \
  --replica "127.0.0.1:$((PORT + 1))" --admin-user tern_admin \
  --admin-password tern_admin_pw --http 127.0.0.1:0 ${TERN_ARGS:-} >"$OUT/tern-serve.log" 2>&1 &
tern_pid=$!
wait_for_line "$OUT/tern-serve.log" 'listening on' "Tern"
run_suite tern "$TERN_PORT"
stop_all

join "$OUT/direct.verdicts" "$OUT/tern.verdicts" >"$OUT/both"
awk '$2 == "pass" && $3 != "pass" { print $1 }' "$OUT/both" >"$OUT/tern-only-failures"
mkdir -p "$OUT/diffs"
while read -r t; do
  # The run's report of the test: from its verdict line to the next test's.
  awk -v t="$t" '$1 == t { on = 1 } on && (/^Logging:/ || (/^main\./ && $1 != t)) { exit } on' \
    "$OUT/tern.log" >"$OUT/diffs/$t.txt"
done <"$OUT/tern-only-failures"

count() { awk -v col="$1" -v v="$2" '$col == v' "$OUT/both" | wc -l; }
printf 'tests: %d, compared: %d\n' "${#tests[@]}" "$(wc -l <"$OUT/both")"
printf 'direct: %d pass, %d fail, %d skipped\n' "$(count 2 pass)" "$(count 2 fail)" "$(count 2 skipped)"
printf 'tern:   %d pass, %d fail, %d skipped\n' "$(count 3 pass)" "$(count 3 fail)" "$(count 3 skipped)"
printf 'pass directly, fail through Tern: %d (list: %s, diffs: %s)\n' \
  "$(wc -l <"$OUT/tern-only-failures")" "$OUT/tern-only-failures" "$OUT/diffs"
