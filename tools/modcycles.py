#!/usr/bin/env python3
"""Check that the crate's top-level modules import each other without a
cycle, and print the edges.

Usage: tools/modcycles.py [--edges] [--within DIR]...

A module is a top-level entry of src/ (`daemon`, `ups`, `store`, ...),
except `device`, which holds two layers and counts as two modules:
`device` (its pure files: usb, matcher, naming, assign, sched, grant,
which `sys` may use) and `device-shell` (io, probe, shared, worker,
sim, qxio, qxunit, which use `sys`).
An edge A -> B is a `crate::B` path (in a `use` or inline, grouped
`use crate::{B, ...}` included) in non-test code of A's files; comments
and `#[cfg(test)]` items are left out, so doc links and tests may point
anywhere. `super::` and `self::` stay inside a module and are not edges,
except in a top-level file (src/x.rs), where `super::` is the crate root.

`--within DIR` checks the files of one folder of src/ the same way
(`--within ups`: `engine` -> `select` is an edge when engine.rs names
`super::select` or `crate::ups::select`; submodules in a subfolder count
as their parent file).

Exit status 1 (and the cycles printed) when a graph has a cycle; run by
`make lint`. A plain script rather than `cargo modules` so that lint needs
nothing beyond Python 3.
"""

import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
# Files that are not part of the library's module tree.
SKIP = {"main.rs"}
# device/ files that are shell code (the rest of device/ is pure).
DEVICE_SHELL = {"io", "probe", "shared", "worker", "sim", "qxio", "qxunit"}


def device_node(sub):
    return "device-shell" if sub in DEVICE_SHELL else "device"


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
    names = set()
    for m in re.finditer(r"\bcrate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?", code):
        top, sub = m.group(1), m.group(2)
        names.add(device_node(sub) if top == "device" and sub else top)
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
                    if t == "device":
                        rest = tok.strip().split("::")
                        names.add(device_node(rest[1].strip("{ ")) if len(rest) > 1 else "device")
                    else:
                        names.add(t)
                tok = ""
            elif d == 0:
                tok += ch
            else:
                tok += ch
    return names


def code_of(d, name):
    with open(os.path.join(d, name), encoding="utf-8") as f:
        return drop_tests(strip(f.read()))


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
            if top == "device" and len(rel) > 1:
                sub = rel[1][:-3] if rel[1].endswith(".rs") else rel[1]
                if sub == "mod":
                    continue
                top = device_node(sub)
                # Inside device/, `super::x` names a sibling file.
                for x in set(re.findall(r"\bsuper::([a-z_][a-z0-9_]*)", code_of(d, name))):
                    if device_node(x) != top:
                        edges.setdefault(top, set()).add(device_node(x))
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


def graph_within(folder):
    """Files of src/FOLDER as nodes (a file's own subfolder folds in)."""
    base = os.path.join(SRC, folder)
    edges, tops = {}, set()
    for d, _, files in os.walk(base):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(d, name), base).split(os.sep)
            node = rel[0][:-3] if rel[0].endswith(".rs") else rel[0]
            if node == "mod":
                continue
            tops.add(node)
            with open(os.path.join(d, name), encoding="utf-8") as f:
                code = drop_tests(strip(f.read()))
            found = set(re.findall(r"\bcrate::" + folder + r"::([a-z_][a-z0-9_]*)", code))
            if len(rel) == 1:
                found |= set(re.findall(r"\bsuper::([a-z_][a-z0-9_]*)", code))
                for m in re.finditer(r"\bsuper::\{([^}]*)\}", code):
                    found |= {w.strip().split("::")[0].strip() for w in m.group(1).split(",")}
            for t in found:
                if t != node:
                    edges.setdefault(node, set()).add(t)
    return tops, edges


def report(label, tops, edges, show):
    if show:
        for t in sorted(tops):
            print(f"{t:<10} -> {', '.join(sorted(e for e in edges.get(t, ()) if e in tops)) or '-'}")
    found = cycles(tops, edges)
    for c in found:
        print(f"import cycle in {label}: " + " <-> ".join(c))
        for a in c:
            for b in sorted(edges.get(a, ())):
                if b in c:
                    print(f"  {a} -> {b}")
    if not found:
        print(f"no import cycle between the {len(tops)} modules of {label}")
    return 1 if found else 0


def main():
    args = sys.argv[1:]
    show = "--edges" in args
    within = [args[i + 1] for i, a in enumerate(args) if a == "--within" and i + 1 < len(args)]
    if within:
        return max(report(f"src/{w}/", *graph_within(w), show) for w in within)
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
