#!/usr/bin/env python3
"""Parsing and summary for bench/overhead/run.sh.

  report.py parse SYSBENCH_OUTPUT
      prints `TPS P95_MS QUERIES` from one sysbench run's output

  report.py summary RUNS_TSV RSS_BEFORE_KIB RSS_IDLE_KIB IDLE_CONNS
      prints the per-workload summary table and PASS/FAIL per target

RUNS_TSV columns (tab-separated, header line first):
  workload threads rep side tps p95_ms queries cpu_ticks cpu_us_per_query [other_cpu_pct]
"""
import re
import statistics
import sys

# Targets (see bench/overhead/README.md).
POINT_SELECT_16_MIN_RATIO = 0.60
READ_WRITE_MIN_RATIO = 0.85
CPU_US_PER_QUERY_MAX = 15.0
RSS_IDLE_MAX_MIB = 100.0


def parse(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    tps = re.search(r"transactions:\s+\d+\s+\(([\d.]+) per sec\.\)", text)
    p95 = re.search(r"95th percentile:\s+([\d.]+)", text)
    queries = re.search(r"^\s+queries:\s+(\d+)\s+\(", text, re.M)
    if not (tps and p95 and queries):
        sys.exit(f"report.py: cannot parse sysbench output {path}")
    print(tps.group(1), p95.group(1), queries.group(1))


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def summary(runs_tsv, rss_before_kib, rss_idle_kib, idle_conns):
    rows = []
    with open(runs_tsv, encoding="utf-8") as f:
        header = f.readline().split()
        for line in f:
            if line.strip():
                rows.append(dict(zip(header, line.split())))

    combos = []
    for r in rows:
        key = (r["workload"], int(r["threads"]))
        if key not in combos:
            combos.append(key)

    def med(key, side, field):
        vals = [float(r[field]) for r in rows
                if (r["workload"], int(r["threads"])) == key and r["side"] == side
                and r[field] not in ("-", "")]
        return statistics.median(vals) if vals else None

    results = {}
    print("Summary (medians over repetitions; CPU = Tern utime+stime / sysbench queries)")
    cols = ("workload", "thr", "reps", "direct tps", "tern tps", "tern/direct",
            "p95 direct ms", "p95 tern ms", "tern CPU us/q")
    widths = (18, 4, 5, 11, 11, 11, 13, 11, 13)
    print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths))))
    print("  ".join("-" * w for w in widths))
    for key in combos:
        d_tps, t_tps = med(key, "direct", "tps"), med(key, "tern", "tps")
        ratio = t_tps / d_tps if d_tps and t_tps is not None else None
        cpu = med(key, "tern", "cpu_us_per_query")
        reps = sum(1 for r in rows
                   if (r["workload"], int(r["threads"])) == key and r["side"] == "tern")
        results[key] = (ratio, cpu)
        vals = (key[0], str(key[1]), str(reps), fmt(d_tps, ".1f"), fmt(t_tps, ".1f"),
                fmt(ratio, ".3f"), fmt(med(key, "direct", "p95_ms"), ".2f"),
                fmt(med(key, "tern", "p95_ms"), ".2f"), fmt(cpu, ".1f"))
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))))

    others = [float(r["other_cpu_pct"]) for r in rows if r.get("other_cpu_pct", "-") != "-"]
    if others:
        print(f"CPU used by other processes during the runs (% of one CPU): median "
              f"{statistics.median(others):.0f}, max {max(others):.0f}"
              " (more than ~10 means a busy neighbour disturbed the run)")

    rss_before_mib = rss_before_kib / 1024
    rss_idle_mib = rss_idle_kib / 1024
    print()
    print(f"Tern VmRSS before opening idle connections: {rss_before_mib:.1f} MiB")
    print(f"Tern VmRSS with {idle_conns} idle client connections: {rss_idle_mib:.1f} MiB"
          f" ({(rss_idle_kib - rss_before_kib) / max(idle_conns, 1):.1f} KiB per connection)")

    print()
    print("Targets")
    verdicts = []

    def target(name, ok, detail):
        verdict = "PASS" if ok else "FAIL"
        verdicts.append(ok)
        print(f"  {verdict}  {name}: {detail}")

    key = ("oltp_point_select", 16)
    if key in results and results[key][0] is not None:
        r = results[key][0]
        target(f"point select 16 threads >= {POINT_SELECT_16_MIN_RATIO:.2f}x direct",
               r >= POINT_SELECT_16_MIN_RATIO, f"{r:.3f}x")
    else:
        target("point select 16 threads", False, "not measured")
    rw = [(k, v) for k, v in results.items() if k[0] == "oltp_read_write"]
    for k, (r, _) in rw:
        target(f"read_write {k[1]} threads >= {READ_WRITE_MIN_RATIO:.2f}x direct",
               r is not None and r >= READ_WRITE_MIN_RATIO, fmt(r, ".3f") + "x")
    if not rw:
        target("read_write", False, "not measured")
    for k, (_, cpu) in results.items():
        target(f"Tern CPU <= {CPU_US_PER_QUERY_MAX:.0f} us/query ({k[0]}, {k[1]} threads)",
               cpu is not None and cpu <= CPU_US_PER_QUERY_MAX, fmt(cpu, ".1f") + " us")
    target(f"RSS with {idle_conns} idle connections <= {RSS_IDLE_MAX_MIB:.0f} MiB",
           rss_idle_kib > 0 and rss_idle_mib <= RSS_IDLE_MAX_MIB, f"{rss_idle_mib:.1f} MiB")
    print()
    print(f"{sum(verdicts)} of {len(verdicts)} targets met")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "parse":
        parse(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "summary":
        summary(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
