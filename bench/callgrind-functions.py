#!/usr/bin/env python3
"""Per-call instructions by function, before and after, from four callgrind profiles.

Usage: bench/callgrind-functions.py BEFORE_DIR AFTER_DIR MODE N [TOP]
Each DIR holds callgrind.out.MODE.N and callgrind.out.MODE.2N (bench/callgrind.sh TREE MODE N DIR).
For each function, callgrind_annotate's Ir at 2N minus Ir at N, divided by N, is its cost per call
(start-up and shutdown cancel out as in the totals); prints the TOP largest before/after differences,
inclusive and exclusive. Object paths are cut to their file name so the two trees' functions match.
"""
import re, subprocess, sys

LINE = re.compile(r'^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*)$')

def annotate(path, inclusive):
    out = subprocess.run(['callgrind_annotate', '--inclusive=' + ('yes' if inclusive else 'no'),
                          '--threshold=100', path], check=True, capture_output=True, text=True).stdout
    costs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m or 'PROGRAM TOTALS' in line:
            continue
        name = m.group(2)
        name = re.sub(r'^[^:]*:', '', name, count=1)          # drop the source file (??? or a path)
        name = re.sub(r'\[[^\]]*/([^/\]]+)\]$', r'[\1]', name)  # object path -> file name
        costs[name] = costs.get(name, 0) + int(m.group(1).replace(',', ''))
    return costs

def per_call(directory, mode, n, inclusive):
    short = annotate(f'{directory}/callgrind.out.{mode}.{n}', inclusive)
    long = annotate(f'{directory}/callgrind.out.{mode}.{2 * n}', inclusive)
    return {k: (long.get(k, 0) - short.get(k, 0)) / n for k in set(short) | set(long)}

def main():
    before_dir, after_dir, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    top = int(sys.argv[5]) if len(sys.argv) > 5 else 30
    for inclusive in (True, False):
        before = per_call(before_dir, mode, n, inclusive)
        after = per_call(after_dir, mode, n, inclusive)
        rows = [(after.get(k, 0) - before.get(k, 0), before.get(k, 0), after.get(k, 0), k)
                for k in set(before) | set(after)]
        rows.sort(key=lambda r: -abs(r[0]))
        print(f"## {mode}, {'inclusive' if inclusive else 'exclusive'}, top {top}")
        for d, b, a, k in rows[:top]:
            print(f'{d:+10.0f} {b:10.0f} {a:10.0f}  {k[:200]}')
        print()

main()
