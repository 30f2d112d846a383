#!/usr/bin/env python3
"""Print the source layout: files, lines and non-test lines under src/.

Usage: tools/layout.py [--top N] [--all]

"test" lines are those inside `#[cfg(test)]` items (a `mod tests { ... }`
block or a single item), found by brace counting; blank and comment lines
count in every column. Used to measure restructuring steps (issue 13):
run it before and after and compare. Needs only Python 3 and the checkout.
"""

import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def strip_strings(line):
    """Drop string/char literals and // comments so braces inside them do
    not count (good enough for this code base's style)."""
    out = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "/" and i + 1 < n and line[i + 1] == "/":
            break
        if c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
            continue
        if c == "'" and i + 2 < n and (line[i + 2] == "'" or line[i + 1] == "\\"):
            j = line.find("'", i + 2 if line[i + 1] == "\\" else i + 1)
            i = j + 1 if j > 0 else i + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def count(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    test = 0
    i = 0
    while i < len(lines):
        if lines[i].strip() == "#[cfg(test)]":
            start = i
            depth = 0
            opened = False
            i += 1
            while i < len(lines):
                s = strip_strings(lines[i])
                depth += s.count("{") - s.count("}")
                if "{" in s:
                    opened = True
                if (opened and depth <= 0) or (not opened and s.rstrip().endswith(";")):
                    break
                i += 1
            test += i - start + 1
        i += 1
    return len(lines), test


def main():
    top = 15
    show_all = "--all" in sys.argv
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
    rows = []
    for d, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".rs"):
                p = os.path.join(d, name)
                total, test = count(p)
                rows.append((os.path.relpath(p, os.path.join(ROOT, "..")), total, test))
    rows.sort(key=lambda r: -(r[1] - r[2]))
    total = sum(r[1] for r in rows)
    test = sum(r[2] for r in rows)
    print(f"src/: {len(rows)} files, {total} lines, {test} test, {total - test} non-test")
    by_dir = {}
    for p, t, s in rows:
        parts = p.split("/")
        key = "/".join(parts[:2]) if len(parts) > 2 else p
        f, a, b = by_dir.get(key, (0, 0, 0))
        by_dir[key] = (f + 1, a + t, b + s)
    print(f"\n{'module':<28}{'files':>6}{'lines':>8}{'test':>7}{'non-test':>9}")
    for k, (f, a, b) in sorted(by_dir.items(), key=lambda kv: -kv[1][1]):
        print(f"{k:<28}{f:>6}{a:>8}{b:>7}{a - b:>9}")
    print(f"\n{'file':<40}{'lines':>7}{'test':>7}{'non-test':>9}")
    for p, t, s in rows if show_all else rows[:top]:
        print(f"{p:<40}{t:>7}{s:>7}{t - s:>9}")
    over = [r for r in rows if r[1] - r[2] > 1000]
    print(f"\nfiles over 1,000 non-test lines: {', '.join(r[0] for r in over) or 'none'}")


if __name__ == "__main__":
    main()
