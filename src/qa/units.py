"""What a build embeds and how: each chunk's units (its sentences, or a whole table row / References entry
with its context head), and the embedding pass that streams their vectors to ``sentences.npy`` and derives
each chunk's vector from them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.records import Chunk

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def context_head(chunk: Chunk, title: str, with_context: bool) -> str:
    """What is embedded before a chunk's text: the document title, section path and table header."""
    if not with_context:
        return ""
    return " | ".join(p for p in (title, " > ".join(chunk.section[-2:]), chunk.context) if p)


def embed_text(chunk: Chunk, title: str, with_context: bool) -> str:
    """What is embedded for a chunk: its text, after its context head (``context_head``)."""
    head = context_head(chunk, title, with_context)
    return f"{head}\n{chunk.text}" if head else chunk.text


WHOLE = ("table_row", "reference")  # answered whole: one unit, embedded with its context


def unit_texts(chunk: Chunk, title: str, with_context: bool) -> list[str]:
    """The units a chunk's answer is chosen from, in order: each sentence, or the whole row / entry."""
    if chunk.kind in WHOLE:
        return [embed_text(chunk, title, with_context)]
    return [chunk.text[a - chunk.start : b - chunk.start] for a, b in chunk.sentences]


def unit_offsets(chunks: list[Chunk]) -> np.ndarray:
    """Row of each chunk's first unit in sentences.npy (and the total at the end)."""
    counts = [1 if c.kind in WHOLE else len(c.sentences) for c in chunks]
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _known_units(prev, docs: set[str], settings: Settings) -> dict[str, np.ndarray]:
    """Unit text → stored vector, over the previous index's chunks of the given (changed) documents."""
    known: dict[str, np.ndarray] = {}
    if prev is None or prev.units is None:
        return known
    for doc in docs:
        title = prev.files.get(doc, {}).get("title") or ""
        for c, i in prev.chunks.get(doc, []):
            texts = unit_texts(c, title, settings.embed_context)
            for text, vec in zip(texts, prev.units[prev.offsets[i] : prev.offsets[i + 1]], strict=True):
                known[text] = vec
    return known


class _RowWriter:
    """A float32 matrix written to an .npy file a block of rows at a time, so a build never holds it all."""

    def __init__(self, path: Path, rows: int, dim: int) -> None:
        self.path, self.rows, self.written = path, rows, 0
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close(), or by the build's clean-up
        header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)}
        np.lib.format.write_array_header_1_0(self.file, header)

    def write(self, block: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
        self.written += len(block)

    def close(self) -> None:
        self.file.close()
        if self.written != self.rows:
            raise RuntimeError(f"{self.path.name}: wrote {self.written} of {self.rows} rows")


def embed_units(
    docs, all_chunks: list[Chunk], prev, emb, settings: Settings, progress: Progress | None, out: Path
) -> tuple[np.ndarray, int]:
    """Vectors of every unit (sentence, or whole table row / References entry), streamed to ``out`` in
    order, and of every chunk, returned.

    Units of unchanged files are reused, and so is any unit of a changed file whose text the previous index
    already embedded (an edit re-embeds only the sentences it touched). A chunk's vector is the normalised
    mean of its units' vectors (``chunk_vectors="mean"``, one embedding pass over the text) or its own
    embedding with title and section (``"embed"``, a second pass). A whole unit (table row, References
    entry) is embedded with its context head. Chunks are taken in blocks of about ``4 * batch_size`` new
    units, so memory holds one block of unit vectors."""
    offsets = unit_offsets(all_chunks)
    vectors = np.zeros((len(all_chunks), emb.dim), dtype=np.float32)
    known = _known_units(prev, {d.doc for d, _, _, srcs in docs if None in srcs}, settings)
    rows = [
        (c, src, d.title) for d, _, cs, srcs in docs for c, src in zip(cs, srcs, strict=True)
    ]  # chunk, its row in the previous index (None: new), its document's title
    own = settings.chunk_vectors == "embed"
    # Work per chunk, for the progress bar and the block size: its units (embedded, or found in ``known``)
    # and its own embedding under "embed"; none for a chunk taken whole from the previous index.
    work = [
        0 if src is not None else int(offsets[i + 1] - offsets[i]) + (own and c.kind not in WHOLE)
        for i, (c, src, _) in enumerate(rows)
    ]
    todo = sum(work)
    writer = _RowWriter(out, int(offsets[-1]), emb.dim)
    done = 0

    def flush(first: int, last: int) -> None:
        """Embed and write the units of chunks ``first..last-1``; set their chunk vectors."""
        nonlocal done
        base = offsets[first]
        units = np.zeros((int(offsets[last] - base), emb.dim), dtype=np.float32)
        texts, at, chunk_texts, chunk_at = [], [], [], []
        for row in range(first, last):
            c, src, title = rows[row]
            a, b = offsets[row] - base, offsets[row + 1] - base
            if src is not None:
                units[a:b] = prev.units[prev.offsets[src] : prev.offsets[src + 1]]
                vectors[row] = prev.vectors[src]
                continue
            for r, text in zip(range(a, b), unit_texts(c, title, settings.embed_context), strict=True):
                if text in known:
                    units[r] = known[text]
                else:
                    texts.append(text)
                    at.append(r)
            if own and c.kind not in WHOLE:
                chunk_texts.append(embed_text(c, title, settings.embed_context))
                chunk_at.append(row)
        if progress and texts + chunk_texts:
            progress("embed", done, todo)
        if texts:
            units[at] = emb.encode(texts)
        if chunk_texts:
            vectors[chunk_at] = emb.encode(chunk_texts)
        done += sum(work[first:last])
        for row in range(first, last):
            c, src, _ = rows[row]
            if src is None and (not own or c.kind in WHOLE):
                mean = units[offsets[row] - base : offsets[row + 1] - base].mean(axis=0)
                vectors[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        writer.write(units)

    first, pending = 0, 0
    for row in range(len(rows)):
        pending += work[row]
        if pending >= settings.batch_size * 4 or int(offsets[row + 1] - offsets[first]) >= 16384:
            flush(first, row + 1)
            first, pending = row + 1, 0
    flush(first, len(rows))
    writer.close()
    if progress:
        progress("embed", todo, todo)
    return vectors, sum(1 for _, src, _ in rows if src is None)
