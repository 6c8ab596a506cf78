#!/usr/bin/env python3
"""bench/migrate/stalls.sh's sampler and report.

  stalls.py sample PORT OUT SECONDS   status every 100 ms -> OUT/status.csv,
                                      disk probe every 20 ms -> OUT/disk.csv
  stalls.py report OUT                stalls of OUT/writes.csv with both around them
"""
import csv
import os
import sys
import threading
import time

import pymysql

STATUS = ["Innodb_checkpoint_age", "Innodb_checkpoint_max_age", "Threads_running",
          "Innodb_buffer_pool_pages_dirty", "Innodb_history_list_length",
          "Innodb_buffer_pool_pages_flushed", "Innodb_data_written", "Innodb_os_log_written",
          "Innodb_data_pending_writes", "Innodb_data_pending_fsyncs", "Innodb_log_waits"]
# Beside the server's status: the kernel's side of the same moments (page
# cache waiting for writeback, the block device's requests in flight and
# sectors written) and the binlog file, to place a rotation among them.
OTHER = ["Dirty", "Writeback", "inflight", "sectors_written", "binlog_file"]
SLOW_MS = 50.0


def kernel_sample():
    values = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, rest = line.split(":", 1)
            if name in ("Dirty", "Writeback"):
                values[name] = rest.split()[0]
    for dev in sorted(os.listdir("/sys/block")):
        if dev.startswith(("loop", "zram", "ram")):
            continue
        fields = open("/sys/block/%s/stat" % dev).read().split()
        values["inflight"] = fields[8]
        values["sectors_written"] = fields[6]
        break
    return values


def sample(port, out, seconds):
    end = time.time() + seconds
    probes = []

    def disk_probe():
        fd = os.open(os.path.join(out, "disk.probe"), os.O_WRONLY | os.O_CREAT, 0o600)
        while time.time() < end:
            t = time.time()
            os.write(fd, b"x" * 4096)
            os.fdatasync(fd)
            probes.append((t, (time.time() - t) * 1000))
            time.sleep(0.02)
        os.close(fd)

    probe = threading.Thread(target=disk_probe)
    probe.start()
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="root",
                           autocommit=True)
    names = ",".join("'%s'" % n for n in STATUS)
    with open(os.path.join(out, "status.csv"), "w") as f:
        f.write("t," + ",".join(STATUS + OTHER) + "\n")
        with conn.cursor() as cur:
            while time.time() < end:
                t = time.time()
                cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % names)
                values = dict(cur.fetchall())
                values.update(kernel_sample())
                cur.execute("SHOW MASTER STATUS")
                status_row = cur.fetchone()
                values["binlog_file"] = status_row[0] if status_row else ""
                f.write("%.3f," % t + ",".join(str(values.get(n, "")) for n in STATUS + OTHER)
                        + "\n")
                time.sleep(max(0.0, 0.1 - (time.time() - t)))
    probe.join()
    with open(os.path.join(out, "disk.csv"), "w") as f:
        for t, ms in probes:
            f.write("%.3f,%.1f\n" % (t, ms))


def report(out):
    writes = []
    with open(os.path.join(out, "writes.csv")) as f:
        for row in csv.reader(f):
            writes.append((int(row[2]) / 1000.0, int(row[3]) / 1000.0))
    status = list(csv.DictReader(open(os.path.join(out, "status.csv"))))
    disk = [tuple(map(float, line.split(","))) for line in open(os.path.join(out, "disk.csv"))]
    t0 = float(status[0]["t"])
    syncs = sorted(ms for _, ms in disk)
    slow = sorted((end, ms) for end, ms in writes if ms > SLOW_MS)
    print("writes %d (%.0f/s), over %.0f ms: %d; disk probe: %d syncs, p99 %.1f ms, worst %.1f ms"
          % (len(writes), len(writes) / max(1.0, writes[-1][0] - writes[0][0]), SLOW_MS,
             len(slow), len(syncs), syncs[int(len(syncs) * 0.99)], syncs[-1]))
    stalls = []
    for end, ms in slow:
        if stalls and end - stalls[-1][-1][0] < 1.0:
            stalls[-1].append((end, ms))
        else:
            stalls.append([(end, ms)])
    for stall in stalls:
        worst = max(ms for _, ms in stall)
        start = stall[0][0] - worst / 1000.0
        end = stall[-1][0]
        ages = [100.0 * int(s["Innodb_checkpoint_age"]) / max(1, int(s["Innodb_checkpoint_max_age"]))
                for s in status if start - 1.0 <= float(s["t"]) <= end + 0.5]
        syncs_near = [ms for t, ms in disk if start - 0.5 <= t <= end + 0.5 and ms > 10]
        print("stall at %6.1f s: worst %4.0f ms, %d writes over %.0f ms; checkpoint age %s; "
              "disk syncs over 10 ms: %s"
              % (start - t0, worst, len(stall), SLOW_MS,
                 "%.0f-%.0f %%" % (min(ages), max(ages)) if ages else "-",
                 ", ".join("%.0f" % ms for ms in syncs_near) or "none"))
    late = [(t - t0, ms) for t, ms in disk if ms > 100]
    print("disk syncs over 100 ms at (s): %s" % (", ".join("%.1f" % t for t, _ in late) or "none"))


if __name__ == "__main__":
    if sys.argv[1] == "sample":
        sample(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    else:
        report(sys.argv[2])
