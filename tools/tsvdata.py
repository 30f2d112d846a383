"""Reading the TSV data files under tools/data, shared by the importers."""


def read_tsv(path, die):
    """Rows of a TSV file as dicts. No quoting: every byte is kept as is.

    `die` is the caller's error reporter (prints and exits)."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        die(f"{path}: empty file")
    header = lines[0].split("\t")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            die(f"{path}:{n}: {len(fields)} fields, header has {len(header)}")
        rows.append(dict(zip(header, fields)))
    return rows
