"""Fault injection: damaged index files, writers that fail half-way (disk full), and subprocess runs of the
real `qa` command with their peak memory."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

# Every file of an index (lexical/ holds bm25s's five).
INDEX_FILES = (
    "manifest.json",
    "pages.jsonl",
    "chunks.jsonl",
    "vectors.npy",
    "sentences.npy",
    "dense.faiss",
    "references.json",
    "lexical/params.index.json",
    "lexical/vocab.index.json",
    "lexical/data.csc.index.npy",
    "lexical/indices.csc.index.npy",
    "lexical/indptr.csc.index.npy",
    "lexical/stopwords.json",
    "term_df.json",
)
# delete / empty / cut in half / lose its last byte / overwritten with garbage / replaced by the same file of
# another index of a different size ("swap") or of the same shape, same counts, other text ("twin").
FAULTS = ("delete", "empty", "half", "last-byte", "garbage", "swap", "twin")

QUERIES = ("apple orchards in Kashmir", "violins and cellos in the orchestra", "rockets reach orbit")


def corrupt(index: Path, rel: str, fault: str, swap: Path | None = None, twin: Path | None = None) -> None:
    """Damage one file of an index in place."""
    path = index / rel
    data = path.read_bytes()
    if fault == "delete":
        path.unlink()
    elif fault == "empty":
        path.write_bytes(b"")
    elif fault == "half":
        path.write_bytes(data[: len(data) // 2])
    elif fault == "last-byte":
        path.write_bytes(data[:-1])
    elif fault == "garbage":
        path.write_bytes(bytes((b * 7 + 13) % 256 for b in data) or b"\xff")
    elif fault in ("swap", "twin"):
        donor = (swap if fault == "swap" else twin) / rel
        path.write_bytes(donor.read_bytes())
    else:
        raise ValueError(fault)


def wrong_version(index: Path, version) -> None:
    m = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    m["format"]["version"] = version
    (index / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


def twin_docs(docs: dict[str, str]) -> dict[str, str]:
    """The same documents with other words: same pages, sentences and chunks, so every count matches, and one
    word more, so no file of its index (BM25 arrays included) can be byte-equal to the original's."""
    table = str.maketrans("aeiou", "oiuae")
    twin = {rel: text.translate(table) for rel, text in docs.items()}
    first = sorted(twin)[0]
    twin[first] = twin[first].replace(".", " quixotic.", 1)
    return twin


def answers(index: Path) -> dict:
    """What an index answers: chunk ids, ranked hits and full answers for a few questions (JSON-equal)."""
    import qa

    idx = qa.load_index(index)
    return {
        "chunks": [c.id for c in idx.chunks],
        "hits": {q: [(h.chunk.id, round(float(h.score), 5)) for h in idx.search(q, k=5)] for q in QUERIES},
        "answers": {q: idx.ask(q).to_dict() for q in QUERIES},
    }


def leftovers(index: Path) -> list[str]:
    """Temporary or set-aside copies of the index beside it (a build leaves none once it has finished)."""
    return sorted(p.name for p in index.parent.iterdir() if p.name.startswith(f".{index.name}."))


# ---------------------------------------------------------------- writers that fail half-way


def _half_then_full(path) -> None:
    """Leave what a full disk leaves (the file cut short), then fail as a full disk does."""
    p = Path(path)
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files[-1:]:
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(p))


WRITE_POINTS = (
    "pages.jsonl",
    "chunks.jsonl",
    "vectors.npy",
    "sentences.npy",
    "references.json",
    "dense.faiss",
    "lexical",
    "manifest.json",
    "fsync",
    "swap",
)


def fail_writing(monkeypatch, point: str) -> None:
    """Make the build's write of ``point`` stop half-way with ENOSPC (or fail its fsync / final rename)."""
    from pathlib import Path as P

    import numpy as np

    import qa.build
    import qa.lexical
    import qa.store
    import qa.units

    def by_name(real, name_of):
        def wrapper(*args, **kwargs):
            out = real(*args, **kwargs)
            target = name_of(*args, **kwargs)
            if P(target).name == point:
                _half_then_full(target)
            return out

        return wrapper

    if point in ("pages.jsonl", "chunks.jsonl"):
        monkeypatch.setattr(qa.build, "write_jsonl", by_name(qa.build.write_jsonl, lambda path, rows: path))
    elif point == "vectors.npy":
        monkeypatch.setattr(np, "save", by_name(np.save, lambda file, *a, **k: file))
    elif point == "sentences.npy":  # streamed while embedding
        writer = qa.units._RowWriter
        monkeypatch.setattr(writer, "close", by_name(writer.close, lambda self: self.path))
    elif point in ("references.json", "manifest.json"):
        monkeypatch.setattr(P, "write_text", by_name(P.write_text, lambda self, *a, **k: self))
    elif point == "dense.faiss":
        monkeypatch.setattr(qa.store.VectorStore, "save", by_name(qa.store.VectorStore.save, lambda s, p: p))
    elif point == "lexical":
        monkeypatch.setattr(qa.lexical.Lexical, "save", by_name(qa.lexical.Lexical.save, lambda s, p: p))
    elif point == "fsync":

        def fsync_fails(path):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))

        monkeypatch.setattr(qa.build, "fsync_dir", fsync_fails)
    elif point == "swap":
        real_rename = P.rename

        def rename(self, target):  # the old index is moved aside, then moving the new one in fails
            if ".tmp-" in self.name:
                raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))
            return real_rename(self, target)

        monkeypatch.setattr(P, "rename", rename)
    else:
        raise ValueError(point)


# ---------------------------------------------------------------- the real command in a subprocess

_MEASURED = r"""
import json, resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], capture_output=True)
print(json.dumps({
    "rc": p.returncode,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "seconds": round(time.monotonic() - t, 2),
    "stdout": p.stdout.decode("utf-8", "replace"),
    "stderr": p.stderr.decode("utf-8", "replace"),
}))
"""


def qa_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa", *args]


def run_qa(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        qa_command(*args), capture_output=True, text=True, errors="replace", timeout=timeout, env=env
    )


def run_measured(cmd: list[str], timeout: float = 900) -> dict:
    """Run a command in a fresh process; its exit code, output, wall time and peak RSS (MB)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURED, *cmd], capture_output=True, text=True, timeout=timeout, check=True
    )
    return json.loads(out.stdout)
