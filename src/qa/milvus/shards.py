"""Index folders built by different workers from disjoint parts of one corpus, read as one index to write
into Milvus (``qa index --milvus-uri URI --from shard1/ --from shard2/``), nothing re-embedded.

Each worker runs ``qa index --corpus part_i --index shard_i`` on a part laid out as the corpus is (the same
relative paths). A chunk's vectors, terms and references depend only on its own document and the settings,
so the shards' rows are the rows one build of the whole corpus would have made. What a build computes over
the whole corpus is made again here: the document order (by path, as a build reads them), the counts, the
dense index kind ``auto`` picks for the total, and the URL a document gets from another document's
References list. BM25's IDF and average length are Milvus's, over every chunk in the collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from qa.errors import UsageError
from qa.examples import FILE as EXAMPLES
from qa.examples import MAX_EXAMPLES

SAME = ("fingerprint", "model", "embedding", "chunking", "bm25")  # what every shard must share


@dataclass
class Shard:
    """One document's rows in the index folder that holds it."""

    index: object  # qa.index.Index
    rows: list[int]
    pages: list[dict]


class Shards:
    """The documents of one or more index folders: ``manifest``, ``order``, ``docs`` (doc → ``Shard``),
    ``references`` and ``examples`` as one build of their union would have them."""

    def __init__(self, folders: list[str | Path]) -> None:
        from qa.index import load_index

        if not folders:
            raise UsageError("--from needs an index folder")
        self.folders = [Path(f) for f in folders]
        self.indexes = [load_index(f) for f in self.folders]
        first = self.indexes[0].manifest
        for folder, idx in zip(self.folders[1:], self.indexes[1:], strict=True):
            for what in SAME:
                if idx.manifest[what] != first[what]:
                    raise UsageError(
                        f"{folder} was built with another {what} than {self.folders[0]} "
                        f"({idx.manifest[what]} against {first[what]}): build every shard with the same "
                        "model, backend and settings"
                    )
        holder: dict[str, Path] = {}
        for folder, idx in zip(self.folders, self.indexes, strict=True):
            for entry in idx.manifest["files"]:
                if entry["path"] in holder:
                    raise UsageError(
                        f"document '{entry['path']}' is in two shards, {holder[entry['path']]} and {folder}: "
                        "each document of the corpus must be in one part"
                    )
                holder[entry["path"]] = folder
        self.docs: dict[str, Shard] = {}
        for idx in self.indexes:
            pages: dict[str, list[dict]] = {}
            for (doc, _), page in sorted(idx.pages.items()):
                pages.setdefault(doc, []).append(page.to_dict())
            for doc in dict.fromkeys(c.doc for c in idx.chunks):
                self.docs[doc] = Shard(idx, [int(r) for r in idx.doc_rows[doc]], pages.get(doc, []))
        self.references = {d: b for idx in self.indexes for d, b in idx.bibliography.data.items()}
        # One folder too: its build made the same order, manifest and URLs (tested against a build).
        self.order, self.manifest = sorted(self.docs), self._merged()
        self.examples = self._examples()

    def _merged(self) -> dict:
        from qa.citing import copy_urls
        from qa.store import choose_kind

        manifests = [idx.manifest for idx in self.indexes]
        first = manifests[0]
        files = sorted((f for m in manifests for f in m["files"]), key=lambda f: f["path"])
        # An indexed document cited with a copy in the corpus gets that reference's URL
        # (qa.citing.link_documents), also when the citing document is in another shard.
        urls = copy_urls(self.references)
        files = [
            {**f, "url": urls[f["path"]]}
            if f["status"] == "ok" and f["path"] in urls and not f.get("url")
            else f
            for f in files
        ]
        counts = {k: sum(m["counts"][k] for m in manifests) for k in first["counts"]}
        total = counts["chunks"]
        return {
            **first,
            "created": max((m["created"] for m in manifests), key=datetime.fromisoformat),
            "dense": {**first["dense"], "kind": choose_kind(first["settings"]["dense_kind"], total)},
            "counts": counts,
            "files": files,
        }

    def _examples(self) -> dict | None:
        """The shards' example questions (each drawn and answered in its shard), the first few of them."""
        import json

        found = [
            json.loads((f / EXAMPLES).read_text(encoding="utf-8"))
            for f in self.folders
            if (f / EXAMPLES).is_file()
        ]
        if len(found) <= 1:
            return found[0] if found else None
        questions = list(dict.fromkeys(q for e in found for q in e.get("questions", [])))
        if found[0].get("source") == "corpus":  # drawn ones are capped; the user's own list is kept whole
            questions = questions[:MAX_EXAMPLES]
        return {**found[0], "index_created": self.manifest["created"], "questions": questions}
