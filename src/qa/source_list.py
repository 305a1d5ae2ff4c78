"""The references the indexed documents cite, as ``qa sources`` lists them: one line per reference entry."""

from __future__ import annotations

from pathlib import Path


def list_references(index: str | Path) -> list[dict]:
    """Every reference entry of the indexed documents' bibliographies, with ``cited_by`` and ``in_corpus``."""
    from qa.index import load_index

    return load_index(index).bibliography.references()


def cut(s: str | None, n: int) -> str:
    """``s`` on one line, at most ``n`` characters (a cut one ends in an ellipsis)."""
    s = " ".join((s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def format_table(refs: list[dict]) -> str:
    """A compact table: one line per reference."""
    if not refs:
        return "no references: no indexed document has a References list"
    several = len({r["cited_by"] for r in refs}) > 1
    rows = [("KEY", "AUTHOR", "DATE", "TITLE", "OUTLET", "COPY", "URL")]
    for r in refs:
        rows.append(
            (
                (f"{r['cited_by']}: " if several else "") + r["key"],
                cut(r.get("author"), 28),
                cut(r.get("date") or r.get("year"), 18),
                cut(r.get("title"), 48),
                cut(r.get("outlet"), 20),
                r.get("in_corpus") or "-",
                r.get("url") or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows
    ]
    copies = sum(1 for r in refs if r.get("in_corpus"))
    lines.append(f"{len(refs)} references, {copies} with a copy in the corpus")
    return "\n".join(line.rstrip() for line in lines)
