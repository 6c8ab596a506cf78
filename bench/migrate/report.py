#!/usr/bin/env python3
"""One summary line (TSV) for a bench/migrate run.

Arguments: case method rows sysbench_start_ms t0_ms t1_ms t2_ms baseline_s
sysbench_log probe_csv hold_ms. The ALTER ran from t0 to t1; the replica had
it by t2. "before" is the baseline window ending at t0, "during" is t0..t1.
"""
import re
import sys

case, method, rows, sb_start, t0, t1, t2, baseline, sb_log, probe_csv, hold = sys.argv[1:12]
rows, sb_start, t0, t1, t2, baseline = int(rows), int(sb_start), int(t0), int(t1), int(t2), int(baseline)

# sysbench: "[ 12s ] thds: 4 tps: 199.96 ..." one line per second since its start.
per_second = []
for line in open(sb_log, errors="replace"):
    m = re.match(r"\[ (\d+)s \] thds: \d+ tps: ([\d.]+)", line)
    if m:
        end_ms = sb_start + int(m.group(1)) * 1000
        per_second.append((end_ms - 1000, end_ms, float(m.group(2))))


def mean_tps(lo, hi):
    # Seconds whose middle falls inside [lo, hi].
    vals = [tps for (a, b, tps) in per_second if lo <= (a + b) / 2 <= hi]
    return sum(vals) / len(vals) if vals else float("nan")


tps_before = mean_tps(t0 - baseline * 1000 + 1000, t0)
tps_during = mean_tps(t0, t1)

worst_ms, errors, writes, lag_max = 0.0, 0, 0, 0
for line in open(probe_csv, errors="replace"):
    parts = line.rstrip("\n").split(",")
    if parts[0] == "probe":
        at, lat_us, ok = int(parts[1]), int(parts[2]), parts[3] == "1"
        if t0 <= at <= t2:
            writes += 1
            worst_ms = max(worst_ms, lat_us / 1000.0)
            errors += 0 if ok else 1
    elif parts[0] == "lag":
        at, lag = int(parts[1]), int(parts[2])
        if t0 <= at <= t2:
            lag_max = max(lag_max, lag)

wall_s = (t1 - t0) / 1000.0
print(
    "\t".join(
        [
            case,
            method,
            f"{wall_s:.1f}",
            f"{rows / wall_s:.0f}",
            f"{tps_before:.1f}",
            f"{tps_during:.1f}",
            f"{tps_during / tps_before:.3f}" if tps_before == tps_before and tps_before > 0 else "nan",
            f"{worst_ms:.1f}",
            str(errors),
            str(writes),
            str(lag_max),
            hold or "-",
        ]
    )
)
