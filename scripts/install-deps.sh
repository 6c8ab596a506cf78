#!/usr/bin/env bash
# Installs what Tern's demo and tests need on a Debian/Ubuntu machine, skipping
# whatever is already there: MariaDB server and client, sysbench, openssl, the
# Python drivers used by the client-compatibility tests, the client matrix's
# drivers (MariaDB Connector/J with a JDK, Node with mysql2, Perl DBD::MariaDB),
# Chromium (the status page test), and a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
command -v sysbench >/dev/null 2>&1 || missing+=(sysbench)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v stdbuf >/dev/null 2>&1 || missing+=(coreutils)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
# The status-page test loads the page in headless Chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The client matrix (tests/tests/compat_matrix.rs): Debian's Connector/J, run
# with the JDK's source launcher (`java File.java` needs a JDK, not only a
# JRE), DBD::MariaDB, and Node for mysql2.
[ -f /usr/share/java/mariadb-java-client.jar ] || missing+=(libmariadb-java)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
perl -MDBD::MariaDB -e 1 >/dev/null 2>&1 || missing+=(libdbd-mariadb-perl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import pymysql, mysql.connector' >/dev/null 2>&1; then
  # Debian's Python refuses system-wide pip installs; the drivers are test-only.
  python3 -m pip install -q -r tests/py/requirements.txt 2>/dev/null \
    || python3 -m pip install -q --break-system-packages -r tests/py/requirements.txt
fi

if [ ! -d tests/node/node_modules/mysql2 ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi

if ! command -v cargo >/dev/null 2>&1; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
