#!/usr/bin/env python3
"""Heap growth between two valgrind massif detailed snapshots, per unit.

  bench/massif_diff.py BEFORE.ms AFTER.ms N [DEPTH]

Prints, for every allocation path (the allocating function and up to DEPTH-1
callers; default 3), the growth in bytes divided by N (e.g. bytes per
connection when N connections were opened between the two snapshots),
largest first. Used by bench/profile.sh idle. Python stdlib only.
"""
import collections
import re
import sys


def tree(path):
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^( *)n\d+: (\d+) (.*)$", line.rstrip("\n"))
            if m:
                loc = re.sub(r"0x[0-9A-Fa-f]+: ", "", m.group(3))
                loc = re.sub(r"\(in /[^)]*/([^/)]*)\)", r"(\1)", loc)
                out.append((len(m.group(1)), int(m.group(2)), loc))
    return out


def by_path(t, depth):
    total, acc, stack = 0, collections.Counter(), []
    for d, b, loc in t:
        stack = stack[:d] + [loc]
        if d == 0:
            total = b
        elif d <= depth:
            acc[" <- ".join(stack[1:d + 1])] += b
    return total, acc


def main():
    before, after, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    depth = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    t0, a = by_path(tree(before), depth)
    t1, b = by_path(tree(after), depth)
    print(f"heap: {t0:,} -> {t1:,} bytes = {(t1 - t0) / n:,.0f} bytes per unit (N = {n})")
    rows = sorted(((b[k] - a[k]) / n, k) for k in set(a) | set(b))
    for per, k in reversed(rows):
        if abs(per) >= 32:
            print(f"{per:8.0f}  {k[:240]}")


if __name__ == "__main__":
    main()
