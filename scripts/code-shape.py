#!/usr/bin/env python3
"""Line counts per module and the longest functions of the tern crate.

Used to measure a restructuring before and after: `scripts/code-shape.py [src-dir]`.
Functions inside `#[cfg(test)]` modules and test-only files are counted apart,
since the shape of the shipped code is what the numbers are for.
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "proxy/src"
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")


def strip_strings(line):
    line = re.sub(r'b?"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"b?'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    in_test_mod_depth = None
    depth = 0
    pending_cfg_test = False
    i = 0
    while i < len(lines):
        raw = lines[i]
        code = strip_strings(raw)
        if "#[cfg(test)]" in code:
            pending_cfg_test = True
        m = FN.match(code)
        if m and "{" in "".join(strip_strings(l) for l in lines[i:i + 12]):
            # walk to the end of this function
            d = 0
            started = False
            j = i
            while j < len(lines):
                c = strip_strings(lines[j])
                for ch in c:
                    if ch == "{":
                        d += 1
                        started = True
                    elif ch == "}":
                        d -= 1
                if started and d == 0:
                    break
                if not started and c.rstrip().endswith(";"):
                    break
                j += 1
            if started:
                out.append((j - i + 1, m.group(6), i + 1, in_test_mod_depth is not None))
        if re.match(r"^\s*(pub\s+)?mod\s+\w+\s*\{", code) and pending_cfg_test and in_test_mod_depth is None:
            in_test_mod_depth = depth
        if not code.strip().startswith("#"):
            if code.strip():
                pending_cfg_test = False if not re.match(r"^\s*(pub\s+)?mod\s", code) else pending_cfg_test
        depth += code.count("{") - code.count("}")
        if in_test_mod_depth is not None and depth <= in_test_mod_depth:
            in_test_mod_depth = None
        i += 1
    return out


mods = {}
fns = []
for dirpath, _, files in os.walk(ROOT):
    for f in files:
        if not f.endswith(".rs"):
            continue
        p = os.path.join(dirpath, f)
        rel = os.path.relpath(p, ROOT)
        n = sum(1 for _ in open(p, encoding="utf-8"))
        top = rel.split(os.sep)[0].removesuffix(".rs")
        mods[top] = mods.get(top, 0) + n
        for length, name, line, in_test in functions(p):
            fns.append((length, f"{rel}:{line} {name}", in_test))

print("## Lines per top-level module")
for k, v in sorted(mods.items(), key=lambda kv: -kv[1]):
    print(f"{v:6d}  {k}")
print(f"{sum(mods.values()):6d}  total")
prod = sorted((f for f in fns if not f[2]), reverse=True)
print("\n## Longest functions (outside test modules)")
for length, where, _ in prod[:15]:
    print(f"{length:5d}  {where}")
print(f"\nfunctions over 100 lines: {sum(1 for f in prod if f[0] > 100)}; over 60: {sum(1 for f in prod if f[0] > 60)}")
