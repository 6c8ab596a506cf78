#!/usr/bin/env python3
"""Open N client connections (PyMySQL) and keep them open and idle until SIGTERM/SIGINT.

Usage: idle_conns.py HOST PORT USER PASSWORD DATABASE N

Prints `open N` on stdout once every connection has logged in (each one runs a
single `SELECT 1` first so it is known to work end to end), then sleeps.
"""
import signal
import sys
import time

import pymysql


def main() -> int:
    host, port, user, password, database, count = sys.argv[1:7]
    port, count = int(port), int(count)
    conns = []
    for i in range(count):
        try:
            conn = pymysql.connect(host=host, port=port, user=user, password=password,
                                   database=database, connect_timeout=30)
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
        except Exception as exc:  # report how far we got, then fail
            print(f"error after {i} connections: {exc}", flush=True)
            return 1
        conns.append(conn)
    print(f"open {len(conns)}", flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.2)
    for conn in conns:
        try:
            conn.close()
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
