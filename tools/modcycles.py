#!/usr/bin/env python3
"""Check that the crate's top-level modules import each other without a
cycle, and print the edges.

Usage: tools/modcycles.py [--edges]

A module is a top-level entry of src/ (`daemon`, `ups`, `store`, ...).
An edge A -> B is a `crate::B` path (in a `use` or inline, grouped
`use crate::{B, ...}` included) in non-test code of A's files; comments
and `#[cfg(test)]` items are left out, so doc links and tests may point
anywhere. `super::` and `self::` stay inside a module and are not edges,
except in a top-level file (src/x.rs), where `super::` is the crate root.

Exit status 1 (and the cycles printed) when the graph has a cycle; run by
`make lint`. A plain script rather than `cargo modules` so that lint needs
nothing beyond Python 3.
"""

import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
# Files that are not part of the library's module tree.
SKIP = {"main.rs"}


def strip(text):
    """Remove comments and string literals (keeps line structure)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == "r" and re.match(r'r#*"', text[i:i + 10]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            out.append('""')
            i = n if j < 0 else j + len(end)
            continue
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                i += len(m.group(0))
                out.append("' '")
                continue
        out.append(c)
        i += 1
    return "".join(out)


def drop_tests(text):
    """Remove `#[cfg(test)]` items (a block or a single `mod x;`)."""
    out = []
    i = 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = j + len("#[cfg(test)]")
        depth = 0
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    k += 1
                    break
            elif text[k] == ";" and depth == 0:
                k += 1
                break
            k += 1
        i = k


def refs(code):
    """Top-level module names referenced as crate::NAME or in grouped
    `crate::{NAME, ...}` imports."""
    names = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", code))
    for m in re.finditer(r"\bcrate::\{", code):
        depth, k = 1, m.end()
        start = k
        while k < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[k], 0)
            k += 1
        inner = code[start:k - 1]
        # Names at depth 0 of the group.
        d, tok = 0, ""
        for ch in inner + ",":
            if ch == "{":
                d += 1
            elif ch == "}":
                d -= 1
            if d == 0 and ch == ",":
                t = tok.strip().split("::")[0].strip()
                if re.fullmatch(r"[a-z_][a-z0-9_]*", t):
                    names.add(t)
                tok = ""
            elif d == 0:
                tok += ch
            else:
                tok += ch
    return names


def graph():
    edges = {}
    tops = set()
    for d, _, files in os.walk(SRC):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(d, name), SRC).split(os.sep)
            if rel[0] in SKIP or rel[0] == "lib.rs":
                continue
            top = rel[0][:-3] if rel[0].endswith(".rs") else rel[0]
            tops.add(top)
            with open(os.path.join(d, name), encoding="utf-8") as f:
                code = drop_tests(strip(f.read()))
            found = refs(code)
            if len(rel) == 1:
                found |= set(re.findall(r"\bsuper::([a-z_][a-z0-9_]*)", code))
            for t in found:
                if t != top:
                    edges.setdefault(top, set()).add(t)
    return tops, edges


def cycles(tops, edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in tops:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(tops):
        if v not in index:
            visit(v)
    return out


def main():
    tops, edges = graph()
    if "--edges" in sys.argv:
        for t in sorted(tops):
            print(f"{t:<10} -> {', '.join(sorted(e for e in edges.get(t, ()) if e in tops)) or '-'}")
    found = cycles(tops, edges)
    if found:
        for c in found:
            print("import cycle between top-level modules: " + " <-> ".join(c))
            for a in c:
                for b in sorted(edges.get(a, ())):
                    if b in c:
                        print(f"  {a} -> {b}")
        return 1
    print(f"no import cycle between the {len(tops)} top-level modules of src/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
