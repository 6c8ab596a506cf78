#!/usr/bin/env python3
"""What dropping the cut-over sentry costs, by storage engine.

The last step of a cut-over drops the sentry table under LOCK TABLES and then
unlocks; every write to the table waits meanwhile. This times that step the
way the cut-over runs it (CREATE the sentry, LOCK TABLES with another table,
DROP TABLE, UNLOCK TABLES) for DURATION seconds, in turn with an InnoDB
sentry, a MEMORY one, and a MEMORY one kept out of the binary log (SET
STATEMENT sql_log_bin=0), and prints per kind the median, p90 and worst of
the DROP and of DROP + UNLOCK.

    sentry.py PORT USER PASSWORD DATABASE DURATION_S
"""

import sys
import time

import pymysql

# (engine, written to the binary log)
KINDS = (("InnoDB", True), ("MEMORY", True), ("MEMORY", False))
PAUSE_S = 0.25


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    port, user, password, database, duration = sys.argv[1:6]
    conn = pymysql.connect(
        host="127.0.0.1", port=int(port), user=user, password=password, database=database, autocommit=True
    )
    cur = conn.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS tern_bench_locked (id INT PRIMARY KEY) ENGINE=InnoDB")
    timings = {kind: [] for kind in KINDS}
    deadline = time.monotonic() + float(duration)
    round_no = 0
    while time.monotonic() < deadline:
        # Rotate which kind goes first, so none always follows the same other.
        shift = round_no % len(KINDS)
        for engine, logged in KINDS[shift:] + KINDS[:shift]:
            name = f"tern_bench_sentry_{engine.lower()}_{int(logged)}"
            unlogged = "" if logged else "SET STATEMENT sql_log_bin=0 FOR "
            cur.execute(f"{unlogged}DROP TABLE IF EXISTS {name}")
            cur.execute(f"{unlogged}CREATE TABLE {name} (tern_sentry INT) ENGINE={engine} COMMENT='bench sentry'")
            cur.execute(f"LOCK TABLES tern_bench_locked WRITE, {name} WRITE")
            t0 = time.monotonic()
            cur.execute(f"{unlogged}DROP TABLE {name}")
            t1 = time.monotonic()
            cur.execute("UNLOCK TABLES")
            t2 = time.monotonic()
            timings[(engine, logged)].append(((t1 - t0) * 1000, (t2 - t0) * 1000))
            time.sleep(PAUSE_S)
        round_no += 1
    cur.execute("DROP TABLE IF EXISTS tern_bench_locked")
    print(f"{'sentry':15} {'n':>4} {'drop p50':>9} {'p90':>7} {'worst':>7} {'+unlock p50':>12} {'p90':>7} {'worst':>7}  (ms)")
    for (engine, logged), runs in timings.items():
        if not runs:
            continue
        drops = [d for d, _ in runs]
        both = [b for _, b in runs]
        label = engine + ("" if logged else " unlogged")
        print(
            f"{label:15} {len(drops):>4} {percentile(drops, 50):>9.1f} {percentile(drops, 90):>7.1f} "
            f"{max(drops):>7.1f} {percentile(both, 50):>12.1f} {percentile(both, 90):>7.1f} {max(both):>7.1f}"
        )

if __name__ == "__main__":
    main()
