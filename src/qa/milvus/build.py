"""Build or update the index in Milvus from a corpus, with the same pipeline as an index folder.

The live generation is read back into a scratch index folder, so ``qa.build.build_index`` updates it as it
updates any folder (only added and changed files are read and embedded); ``sync`` then writes the changed
documents into the standby generation and swaps it in. The scratch folder is removed afterwards. One
update at a time: ``qa.milvus.lock``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from qa.examples import FILE as EXAMPLES
from qa.milvus import Location
from qa.milvus.lock import update_lock
from qa.milvus.store import MilvusStore, key, unit_key
from qa.milvus.sync import write_index


def export(store: MilvusStore, gen: str, folder: Path) -> None:
    """What an update reuses (manifest, pages, chunks, their vectors and sentence vectors) as index files."""
    from qa.records import Chunk
    from qa.units import unit_offsets

    meta = store.meta(gen)
    folder.mkdir(parents=True)
    rank = {doc: i for i, doc in enumerate(meta["order"])}
    rows = sorted(store.chunks(gen, vectors=True), key=lambda r: (rank[r["doc"]], r["pos"]))
    chunks = [Chunk.from_dict(r) for r in rows]
    units = {r["pk"]: r["vector"] for r in store.units(gen)}
    offsets = unit_offsets(chunks)
    keys = [key(unit_key(c.id, i)) for n, c in enumerate(chunks) for i in range(offsets[n + 1] - offsets[n])]
    dim = meta["manifest"]["model"]["dim"]
    np.save(folder / "vectors.npy", np.asarray([r["vector"] for r in rows], np.float32).reshape(-1, dim))
    np.save(folder / "sentences.npy", np.asarray([units[k] for k in keys], np.float32).reshape(-1, dim))
    for name, items in (("chunks.jsonl", (c.to_dict() for c in chunks)), ("pages.jsonl", store.pages(gen))):
        with open(folder / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    (folder / "manifest.json").write_text(json.dumps(meta["manifest"], ensure_ascii=False), encoding="utf-8")
    if "examples" in meta:  # current for this manifest: the build does not draw them again
        (folder / EXAMPLES).write_text(json.dumps(meta["examples"], ensure_ascii=False), encoding="utf-8")


def build_milvus(
    corpus, location: Location, settings=None, embedder=None, rebuild=False, progress=None, log=None
) -> dict:
    """``qa.build.build_index`` into Milvus: the same report, plus ``milvus`` (what was written). Holds the
    corpus's update lock (``qa.milvus.lock``) from reading the live generation to moving the alias, so an
    update through another replica is waited for and built upon, never overwritten."""
    from qa.build import build_index

    store = MilvusStore(location)
    with (
        update_lock(corpus, f"the update of {location}", say=log),
        tempfile.TemporaryDirectory(prefix="qa-milvus-") as tmp,
    ):
        folder = Path(tmp) / "index"
        live = store.live()  # read under the lock: whatever another replica swapped in is the base
        if live and not rebuild and store.meta(live):
            export(store, live, folder)
        report = build_index(corpus, folder, settings, embedder, rebuild, progress, log)
        if report["updated"]:
            report["milvus"] = write_index(location, folder)
    report["index"] = str(location)
    return report
