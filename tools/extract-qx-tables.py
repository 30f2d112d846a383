#!/usr/bin/env python3
"""Extract nutdrv_qx's protocol tables from a NUT checkout into TSV files.

This is the one step that reads NUT's sources; its output is committed under
tools/data/qx/ so that tools/import-qx-tables.py (which writes
src/qx/tables.rs) runs without NUT. Run it again to follow a newer NUT:

  tools/extract-qx-tables.py --nut /path/to/nut [--rev v2.8.0]

With --rev the files are read with `git show REV:drivers/...`, otherwise from
the work tree. Only facts are taken: each qx2nut row (command, expected
answer length and leading character, field positions, format, flags, the
names of the functions NUT runs on it), the ranges of writable variables,
each protocol's claim function, version, accepted and rejected strings, its
`testing` table (sample answers) and the USB VID:PID match table.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tools" / "data" / "qx"

# Protocol name (as `protocol =` takes it) -> NUT file stem.
PROTOCOLS = [
    ("megatec", "megatec"),
    ("megatec/old", "megatec-old"),
    ("mustek", "mustek"),
    ("q1", "q1"),
    ("voltronic-qs", "voltronic-qs"),
    ("zinto", "zinto"),
    ("hunnox", "hunnox"),
    ("mecer", "mecer"),
    ("voltronic-qs-hex", "voltronic-qs-hex"),
    ("bestups", "bestups"),
]


def die(msg):
    sys.exit(f"extract-qx-tables: {msg}")


def read(nut, rev, rel):
    if rev:
        return subprocess.run(["git", "-C", str(nut), "show", f"{rev}:{rel}"],
                              check=True, capture_output=True, text=True).stdout
    return (Path(nut) / rel).read_text()


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def split_top(s):
    """Split a C initialiser body on commas outside quotes and braces."""
    out, cur, depth, q = [], "", 0, None
    i = 0
    while i < len(s):
        c = s[i]
        if q:
            cur += c
            if c == "\\":
                cur += s[i + 1]
                i += 1
            elif c == q:
                q = None
        elif c in "\"'":
            q = c
            cur += c
        elif c in "({":
            depth += 1
            cur += c
        elif c in ")}":
            depth -= 1
            cur += c
        elif c == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    if cur.strip():
        out.append(cur.strip())
    return out


def c_string(tok):
    """A C string or char literal (adjacent strings joined) as TSV text:
    backslash escapes kept as written (\\r stays \\r)."""
    tok = tok.strip()
    if tok == "NULL":
        return None
    if tok.startswith("'"):
        return tok[1:-1]
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', tok)
    if not parts and tok:
        return tok  # a macro name (DEFAULT_ONDELAY) or number
    return "".join(parts)


def table_rows(src, decl):
    m = re.search(decl + r"\s*\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        die(f"no table {decl}")
    body = m.group(1)
    rows = []
    for row in re.findall(r"\{((?:[^{}\"]|\"(?:[^\"\\]|\\.)*\")*)\}", body):
        rows.append(split_top(row))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nut", required=True)
    ap.add_argument("--rev", default=None)
    args = ap.parse_args()

    common = read(args.nut, args.rev, "drivers/nutdrv_qx.h")
    defaults = dict(re.findall(r'#define\s+(DEFAULT_\w+)\s+"([^"]*)"', common))

    items, ranges, protos, testing = [], {}, [], []
    blazer = strip_comments(read(args.nut, args.rev, "drivers/nutdrv_qx_blazer-common.c"))
    for rng, body in re.findall(r"info_rw_t\s+(\w+)\[\]\s*=\s*\{(.*?)\n\};", blazer, re.S):
        vals = [c_string(split_top(r)[0]) for r in re.findall(r"\{([^{}]*)\}", body)]
        ranges[rng] = [v for v in vals if v]
    core = strip_comments(read(args.nut, args.rev, "drivers/nutdrv_qx.c"))
    lst = re.search(r"subdriver_list\[\]\s*=\s*\{(.*?)\};", core, re.S).group(1)
    probe = [x.strip().lstrip("&").replace("_subdriver", "") for x in lst.split(",")]
    probe = [x for x in probe if x and x != "NULL"]
    for order, (name, stem) in enumerate(PROTOCOLS):
        src = strip_comments(read(args.nut, args.rev, f"drivers/nutdrv_qx_{stem}.c"))
        for rng, body in re.findall(r"info_rw_t\s+(\w+)\[\]\s*=\s*\{(.*?)\n\};", src, re.S):
            vals = [c_string(split_top(r)[0]) for r in re.findall(r"\{([^{}]*)\}", body)]
            ranges[rng] = [v for v in vals if v]
        table = re.search(r"item_t\s+(\w+_qx2nut)\s*\[\]", src).group(1)
        for r in table_rows(src, r"item_t\s+" + table):
            if c_string(r[0]) is None:
                continue
            if len(r) != 15:
                die(f"{stem}: row with {len(r)} fields: {r}")
            dfl = c_string(r[10])
            dfl = defaults.get(dfl, dfl)
            items.append([name, c_string(r[0]), r[1], r[2], c_string(r[3]) or "",
                          r[5], c_string(r[6]) if r[6] != "0" else "", r[8], r[9],
                          dfl if dfl is not None else "", r[11].replace(" ", ""),
                          r[12], r[13], r[14]])
        version = re.search(r'#define\s+\w+_VERSION\s+"([^"]+)"', src).group(1)
        sub = re.search(r"subdriver_t\s+\w+\s*=\s*\{(.*?)\n\};", src, re.S).group(1)
        sub = [x for x in split_top(re.sub(r"#\w+[^\n]*\n", "", sub)) if x]
        key = stem.replace("-", "_")
        if key not in probe:
            die(f"{stem} is not in nutdrv_qx's subdriver_list")
        protos.append([name, str(probe.index(key)), version, sub[1],
                       c_string(sub[6]) or "", c_string(sub[7]) or ""])
        t = re.search(r"testing_t\s+\w+\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
        if t:
            for row in re.findall(r"\{((?:[^{}\"]|\"(?:[^\"\\]|\\.)*\")*)\}", t.group(1)):
                f = split_top(row)
                if c_string(f[0]) is None:
                    continue
                testing.append([name, c_string(f[0]), c_string(f[1])])

    ids = []
    for r in table_rows(core, r"qx_usb_device_id_t\s+qx_usb_id"):
        m = re.match(r"USB_DEVICE\((\w+),\s*(\w+)\)", r[0])
        if not m:
            continue
        fun = r[-1].lstrip("&").replace("_subdriver_fun", "").replace("_subdriver", "")
        fun = {"fabula_hunnox": "hunnox", "NULL": "none"}.get(fun, fun)
        vals = split_top(r[0][r[0].index("(") + 1:r[0].rindex(")")])
        ids.append([vals[0].lower(), vals[1].lower(), c_string(r[1]) or "",
                    c_string(r[2]) or "", fun])

    def write(name, header, rows):
        lines = ["\t".join(header)] + ["\t".join(x) for x in rows]
        (OUT / name).write_text("\n".join(lines) + "\n")

    OUT.mkdir(parents=True, exist_ok=True)
    write("items.tsv", ["protocol", "var", "info_flags", "info_rw", "command",
                        "answer_len", "leading", "from", "to", "dfl", "qxflags",
                        "preprocess_command", "preprocess_answer", "preprocess"], items)
    write("ranges.tsv", ["name", "values"], [[k, ",".join(v)] for k, v in ranges.items()])
    write("protocols.tsv", ["protocol", "order", "version", "claim", "accepted",
                            "rejected"], protos)
    write("testing.tsv", ["protocol", "command", "answer"], testing)
    write("probe_order.tsv", ["subdriver"], [[x] for x in probe])
    write("usb_ids.tsv", ["vid", "pid", "vendor", "product", "transport"], ids)
    src_note = f"NUT {args.rev or 'work tree'}"
    (OUT / "SOURCE").write_text(f"Extracted by tools/extract-qx-tables.py from {src_note}.\n")


if __name__ == "__main__":
    main()
