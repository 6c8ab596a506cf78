#!/usr/bin/env bash
# Run tests/sql/cli_battery.sql through the `mariadb` command-line client and
# print a normalised transcript on stdout.
#
#   tests/sql/run_cli_battery.sh HOST PORT [TAG]
#
# The run creates its own database cli_<10 hex chars> (derived from TAG, or
# from the port and this shell's pid when TAG is omitted; always the same
# length so that server-side truncated messages do not depend on it), runs
# the battery in it, drops it, and prints the transcript with that name
# replaced by the same-length token cli_xxxxxxxxxx.  A direct run and a run
# through the proxy must print byte-identical output:
#
#   diff <(run_cli_battery.sh 127.0.0.1 3306 direct) \
#        <(run_cli_battery.sh 127.0.0.1 3307 proxied)
#
# Environment: CLI_USER (default app), CLI_PASSWORD (default app_pw),
# MARIADB (client binary, default: mariadb).
# Exit status: 0 when the client ran the whole battery (SQL errors the
# battery provokes are part of the transcript), non-zero otherwise.
set -u -o pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 HOST PORT [TAG]" >&2
    exit 2
fi
HOST=$1
PORT=$2
TAG=${3:-$PORT-$$}
USER_=${CLI_USER:-app}
PASS_=${CLI_PASSWORD:-app_pw}
CLIENT=${MARIADB:-mariadb}
HERE=$(cd "$(dirname "$0")" && pwd)

DB="cli_$(printf '%s' "$TAG" | sha1sum | cut -c1-10)"
TOKEN="cli_xxxxxxxxxx"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cli_battery.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Small tab-separated file for LOAD DATA LOCAL INFILE (same content as the
# Python batteries use): a NULL, non-ASCII text, a bad number, an extra field
# and a duplicate key.
INFILE="$WORK/infile.tsv"
printf '1\talpha\t1.50\t\\N\n2\tb\xc3\xa9ta \xf0\x9f\x98\x80\t-2.25\tnote\n3\tgamma\ttoo-many-digits-not-a-number\t\n4\tdelta\t4\textra\tfield\n1\tduplicate\t0\t\\N\n' > "$INFILE"

sed -e "s|@@DB@@|$DB|g" -e "s|@@INFILE@@|$INFILE|g" "$HERE/cli_battery.sql" > "$WORK/battery.sql"

client() {
    "$CLIENT" --no-defaults -h "$HOST" -P "$PORT" -u "$USER_" -p"$PASS_" \
        --default-character-set=utf8mb4 "$@"
}

# Fresh database for this run.
if ! client --batch -e "DROP DATABASE IF EXISTS \`$DB\`; DROP DATABASE IF EXISTS \`${DB}_o\`; CREATE DATABASE \`$DB\`" >"$WORK/setup.out" 2>&1; then
    cat "$WORK/setup.out" >&2
    echo "run_cli_battery: could not create database $DB" >&2
    exit 1
fi

# --table -vv          : echo every statement, table output, "N rows in set"
#                        / "Query OK, N rows affected" lines, but no timings
# --column-type-info   : every column definition field of every result set
# --show-warnings      : warnings after every statement
# --force              : go on after errors (errors are part of the transcript)
# --binary-as-hex      : binary values printed as 0x.. (no raw bytes / NULs)
# --local-infile       : LOAD DATA LOCAL INFILE
# stdbuf -o0 -e0       : unbuffered stdout and stderr, so that the ERROR lines
#                        (stderr) land at their place in the merged transcript
rc=0
stdbuf -o0 -e0 "$CLIENT" --no-defaults -h "$HOST" -P "$PORT" -u "$USER_" -p"$PASS_" \
    --default-character-set=utf8mb4 \
    --table -vv --column-type-info --show-warnings --force --binary-as-hex \
    --local-infile=1 \
    "$DB" < "$WORK/battery.sql" > "$WORK/raw.out" 2>&1 || rc=$?

client --batch -e "DROP DATABASE IF EXISTS \`$DB\`; DROP DATABASE IF EXISTS \`${DB}_o\`" >/dev/null 2>&1 || true

# Normalise: run database name, generated file path, and (defensively)
# timings such as "(0.001 sec)".
sed -e "s|$DB|$TOKEN|g" \
    -e "s|$INFILE|<INFILE>|g" \
    -e 's/ ([0-9]*\.[0-9]* sec)//g' \
    "$WORK/raw.out"

if [ $rc -ne 0 ]; then
    echo "run_cli_battery: client exited with status $rc" >&2
    exit $rc
fi
if ! grep -q "END OF BATTERY" "$WORK/raw.out"; then
    echo "run_cli_battery: battery did not run to the end" >&2
    exit 1
fi
exit 0
