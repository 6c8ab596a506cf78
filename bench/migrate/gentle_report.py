#!/usr/bin/env python3
"""One line of bench/migrate/gentle.sh's summary from a tern-bench-writers CSV.

Only statements that ended inside [t0, t1] count: the baseline's measured
seconds, or the ALTER's wall time.
"""
import sys

COLUMNS = ["run", "secs", "tern_writes_per_s", "tern_errors", "tern_p50_ms", "tern_p99_ms",
           "tern_p999_ms", "tern_worst_ms", "tern_over_50ms", "direct_p999_ms",
           "direct_worst_ms", "direct_errors", "hold_ms"]


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main():
    if sys.argv[1:] == ["--header"]:
        print("\t".join(COLUMNS))
        return
    run, path, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    hold = sys.argv[5] if len(sys.argv) > 5 else ""
    lat = {"tern": [], "direct": []}
    errors = {"tern": 0, "direct": 0}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(",")
            if len(parts) != 5:
                continue
            _, via, end_ms, micros, code = parts
            if not t0 <= int(end_ms) <= t1:
                continue
            lat[via].append(int(micros) / 1000.0)
            if code != "0":
                errors[via] += 1
    secs = (t1 - t0) / 1000.0
    t = sorted(lat["tern"])
    d = sorted(lat["direct"])
    row = [run, f"{secs:.1f}", f"{len(t) / secs:.0f}", str(errors["tern"]),
           f"{quantile(t, 0.5):.1f}", f"{quantile(t, 0.99):.1f}", f"{quantile(t, 0.999):.1f}",
           f"{t[-1] if t else float('nan'):.1f}", str(sum(1 for v in t if v > 50)),
           f"{quantile(d, 0.999):.1f}", f"{d[-1] if d else float('nan'):.1f}",
           str(errors["direct"]), hold or "-"]
    print("\t".join(row))


if __name__ == "__main__":
    main()
