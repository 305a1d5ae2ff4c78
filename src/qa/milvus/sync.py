"""Write a built index (an index folder, as ``qa index`` makes) into Milvus, per document, and swap it in.

Only the standby generation is written: documents whose stored content is unchanged there are kept, the
others deleted by document and their chunks inserted, then the alias moves to it. Readers of the live
generation never see half an update; ``qa index --milvus-uri URI --from index/`` is this step alone, so
nothing is re-embedded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from qa.errors import IndexProblem
from qa.examples import FILE as EXAMPLES
from qa.milvus import Location
from qa.milvus.manifest import signature
from qa.milvus.store import MilvusStore, bm25_terms, unit_key


def write_index(location: Location, folder: str | Path) -> dict:
    """Load the index folder (validated) into Milvus; returns what was written."""
    from qa.index import lexical_text, load_index

    t0 = time.perf_counter()
    idx = load_index(Path(folder))
    manifest = idx.manifest
    store = MilvusStore(location)
    live = store.live()
    gen = store.other(live)
    number = (store.generation(live) if live else 0) + 1
    fp, dim, kind = manifest["fingerprint"], manifest["model"]["dim"], manifest["dense"]["kind"]

    order = list(dict.fromkeys(c.doc for c in idx.chunks))
    pages: dict[str, list[dict]] = {}
    for (doc, _), page in sorted(idx.pages.items()):
        pages.setdefault(doc, []).append(page.to_dict())
    rows = {doc: [int(r) for r in idx.doc_rows[doc]] for doc in order}
    sigs = {
        doc: signature(fp, [idx.chunks[r].to_dict() for r in rows[doc]], pages.get(doc, [])) for doc in order
    }
    old = store.meta(gen) if store.exists(gen) else None
    same_shape = old is not None and (
        old["manifest"]["fingerprint"],
        old["manifest"]["model"]["dim"],
        old["manifest"]["dense"]["kind"],
    ) == (fp, dim, kind)
    if not same_shape:
        store.create(gen, dim, kind, len(idx.chunks), manifest["bm25"])
    else:
        store.clear_meta(gen)
    old_sigs = old["signatures"] if same_shape else {}
    stale = sorted(d for d, s in old_sigs.items() if sigs.get(d) != s)
    write = [d for d in order if old_sigs.get(d) != sigs[d]]
    for doc in stale:
        store.remove_doc(gen, doc)
    stemmer = manifest["bm25"]["stemmer"]
    for doc in write:
        chunks = [idx.chunks[r] for r in rows[doc]]
        terms = bm25_terms([lexical_text(c) for c in chunks], stemmer)
        store.add_chunks(
            gen,
            (
                {**c.to_dict(), "pos": pos, "terms": " ".join(t), "vector": idx.vectors[r].tolist()}
                for pos, (c, r, t) in enumerate(zip(chunks, rows[doc], terms, strict=True))
            ),
        )
        store.add_units(
            gen,
            (
                (unit_key(c.id, i), doc, vec)
                for c, r in zip(chunks, rows[doc], strict=True)
                for i, vec in enumerate(idx.units[idx.unit_offsets[r] : idx.unit_offsets[r + 1]])
            ),
        )
        store.add_pages(gen, pages.get(doc, []))
    meta = {"manifest": manifest, "references": idx.bibliography.data, "order": order, "signatures": sigs}
    examples = Path(folder) / EXAMPLES
    if examples.is_file():  # the example questions the build drew (qa.examples), for the chat's buttons
        meta["examples"] = json.loads(examples.read_text(encoding="utf-8"))
    store.put_meta(gen, meta, number)
    store.flush(gen)
    now = store.live()
    if (now, store.generation(live) if live else 0) != (live, number - 1):
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
        "chunks_written": sum(len(rows[d]) for d in write),
        "seconds": round(time.perf_counter() - t0, 3),
    }
