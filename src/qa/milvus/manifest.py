"""What a generation in Milvus describes: the index's manifest, its references, the order of its
documents and a signature per document, so an update rewrites only the documents that changed."""

from __future__ import annotations

import hashlib
import json

from qa.errors import IndexProblem
from qa.milvus import Location
from qa.milvus.store import MilvusStore


def signature(fingerprint: str, chunks: list[dict], pages: list[dict]) -> str:
    """Changes when anything stored for the document changes (its vectors follow from text and settings)."""
    blob = json.dumps([fingerprint, chunks, pages], sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()


def no_index(location: Location) -> IndexProblem:
    return IndexProblem(
        f"no index in Milvus at {location.uri} (collection {location.collection}); build it with: "
        f"qa index --milvus-uri {location.uri} --collection {location.collection}"
    )


def live_meta(store: MilvusStore) -> tuple[str, dict]:
    """The live generation and its metadata; IndexProblem when there is none."""
    gen = store.live()
    meta = store.meta(gen) if gen else None
    if meta is None:
        raise no_index(store.location)
    return gen, meta


def read_manifest(location: Location) -> dict:
    """The manifest of the live index in Milvus, as ``qa.index.read_manifest`` gives a folder's."""
    return live_meta(MilvusStore(location))[1]["manifest"]
