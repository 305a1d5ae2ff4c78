"""The index in Milvus: many `qa serve` replicas share one index held in a Milvus server (or cluster).

``Location`` names where it lives; nothing here imports pymilvus, so the CLI, ``qa.index`` and ``qa.build``
can name a location for free. ``store`` holds the collections of one generation, ``manifest`` what they
describe, ``sync`` writes a built index into them per document and swaps it in by alias, ``build`` updates it
from a corpus, ``load`` reads it back as a ``qa.index.Index`` whose vectors and BM25 stay in Milvus.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from qa.errors import UsageError

DEFAULT_COLLECTION = "qa"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")


@dataclass(frozen=True)
class Location:
    """A Milvus server (``http://host:port``, or a milvus-lite ``file.db`` for one process) and the name of
    the index's alias in it; the collections behind the alias are ``<collection>__<generation>_*``."""

    uri: str
    collection: str = DEFAULT_COLLECTION

    def __post_init__(self) -> None:
        if not self.uri.strip():
            raise UsageError("--milvus-uri is empty (give e.g. http://127.0.0.1:19530)")
        if not _NAME.fullmatch(self.collection):
            raise UsageError(
                f"--collection '{self.collection}' is not a Milvus name "
                "(letters, digits and _, starting with a letter or _)"
            )

    def __str__(self) -> str:
        return f"{self.uri}#{self.collection}"


def location_from(uri: str | None, collection: str | None) -> Location | None:
    """The Milvus location named on the command line or by $QA_MILVUS_URI, or None for the FAISS folder."""
    uri = uri or os.environ.get("QA_MILVUS_URI")
    if not uri:
        if collection:
            raise UsageError("--collection needs --milvus-uri (or $QA_MILVUS_URI)")
        return None
    return Location(uri, collection or DEFAULT_COLLECTION)
