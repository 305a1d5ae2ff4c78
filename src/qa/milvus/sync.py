"""Write a built index (an index folder, as ``qa index`` makes) into Milvus, per document, and swap it in.

Only the standby generation is written: documents whose stored content is unchanged there are kept, the
others deleted by document and their chunks inserted, then the alias moves to it. Readers of the live
generation never see half an update; ``qa index --milvus-uri URI --from index/`` is this step alone, so
nothing is re-embedded (``--from`` repeated: the shards several workers built, as one index).
"""

from __future__ import annotations

import time
from pathlib import Path

from qa.errors import IndexProblem
from qa.milvus import Location
from qa.milvus.manifest import signature
from qa.milvus.shards import Shards
from qa.milvus.store import MilvusStore, bm25_terms, unit_key


def write_index(location: Location, folders: str | Path | list[str | Path]) -> dict:
    """Load an index folder (validated), or the shards several workers built of one corpus
    (``qa.milvus.shards``), into Milvus; returns what was written."""
    from qa.build import lexical_text

    t0 = time.perf_counter()
    shards = Shards([folders] if isinstance(folders, str | Path) else list(folders))
    manifest, order, docs = shards.manifest, shards.order, shards.docs
    store = MilvusStore(location)
    live = store.live()
    gen = store.other(live)
    number = (store.generation(live, strong=True) if live else 0) + 1
    fp, dim, kind = manifest["fingerprint"], manifest["model"]["dim"], manifest["dense"]["kind"]

    def chunk_dicts(doc: str) -> list[dict]:
        return [docs[doc].index.chunks[r].to_dict() for r in docs[doc].rows]

    sigs = {doc: signature(fp, chunk_dicts(doc), docs[doc].pages) for doc in order}
    old = store.meta(gen) if store.exists(gen) else None
    same_shape = old is not None and (
        old["manifest"]["fingerprint"],
        old["manifest"]["model"]["dim"],
        old["manifest"]["dense"]["kind"],
    ) == (fp, dim, kind)
    if not same_shape:
        store.create(gen, dim, kind, manifest["counts"]["chunks"], manifest["bm25"])
    else:
        store.clear_meta(gen)  # marks the standby rewritten before anything of it changes (qa.milvus.load)
    old_sigs = old["signatures"] if same_shape else {}
    stale = sorted(d for d, s in old_sigs.items() if sigs.get(d) != s)
    write = [d for d in order if old_sigs.get(d) != sigs[d]]
    for doc in stale:
        store.remove_doc(gen, doc)
    stemmer = manifest["bm25"]["stemmer"]
    for doc in write:
        idx, rows = docs[doc].index, docs[doc].rows
        chunks = [idx.chunks[r] for r in rows]
        terms = bm25_terms([lexical_text(c) for c in chunks], stemmer)
        store.add_chunks(
            gen,
            (
                {**c.to_dict(), "pos": pos, "terms": " ".join(t), "vector": idx.vectors[r]}
                for pos, (c, r, t) in enumerate(zip(chunks, rows, terms, strict=True))
            ),
        )
        store.add_units(
            gen,
            (
                (unit_key(c.id, i), doc, vec)
                for c, r in zip(chunks, rows, strict=True)
                for i, vec in enumerate(idx.units[idx.unit_offsets[r] : idx.unit_offsets[r + 1]])
            ),
        )
        store.add_pages(gen, docs[doc].pages)
    meta = {"manifest": manifest, "references": shards.references, "order": order, "signatures": sigs}
    if shards.examples:  # the example questions the build drew (qa.examples), for the chat's buttons
        meta["examples"] = shards.examples
    store.put_meta(gen, meta, number)
    store.flush(gen)
    now = store.live()
    if (now, store.generation(live, strong=True) if live else 0) != (live, number - 1):
        # Another writer that did not hold the update lock (qa.milvus.lock) swapped in meanwhile, and may
        # have written this generation too: refuse the swap; the next update rewrites the standby in full.
        if now != gen:
            store.clear_meta(gen)
        raise IndexProblem(
            f"another update of {location} was swapped in while this one was written; nothing of this "
            "one is visible: run it again (and run updates one at a time: qa index --from holds no lock)"
        )
    store.swap(gen)
    return {
        "uri": location.uri,
        "collection": location.collection,
        "generation": number,
        "written": write,
        "removed": [d for d in stale if d not in sigs],
        "kept": len(order) - len(write),
        "chunks_written": sum(len(docs[d].rows) for d in write),
        "seconds": round(time.perf_counter() - t0, 3),
    }
