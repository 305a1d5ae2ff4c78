"""The Milvus collections of one index generation, behind create / add / remove / search / read / swap.

Per generation ``g`` (``a`` or ``b``): ``<name>__g_chunks`` holds one row per chunk (its fields, the dense
vector, and BM25 over its terms computed by Milvus), ``<name>__g_units`` the sentence vectors the answer
step reads, ``<name>__g_docs`` the page texts and the manifest as JSON in parts. The alias ``<name>``
points at the live generation's chunks collection: moving it is the one atomic step of an update, and an
update writes only the other (standby) generation, which no reader uses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator

import numpy as np

from qa.errors import IndexProblem, QAError
from qa.milvus import Location

GENERATIONS = ("a", "b")
PART = 16_000  # characters per stored JSON part: under the 65,535-byte VARCHAR even in 4-byte UTF-8
TOPK_MAX = 16_384  # the largest search limit Milvus accepts
BATCH = 512  # rows per insert call (well under gRPC's message size with 384-dim vectors and chunk text)
# Rows of a vector and a key only (sentence vectors) go in larger batches, their vectors as numpy rows: with
# milvus-lite, 37,500 of the shipped corpus's sentence vectors went in at 7,100 rows/s against 6,100 as
# v.tolist() in batches of 512 (medians of 3, one run; qa.milvus.bench measured 7,000 against 5,300 at
# 200,000 rows); the stored float32 values are the same either way.
VECTOR_BATCH = 2_000
LONG = 65_535
CHUNK_FIELDS = (
    "id",
    "doc",
    "page",
    "start",
    "end",
    "kind",
    "context",
    "text",
    "section",
    "sentences",
    "refs",
)
# The chunk's terms are tokenised and stemmed here exactly as bm25s does for the FAISS index (qa.lexical)
# and stored space-separated; Milvus's standard analyzer splits them back into the same terms and
# computes BM25 (k1, b, Lucene IDF) itself. Its own analyzers differ between servers (milvus-lite has no
# stemmer), this way the terms, and so the BM25 ranking, are the same on FAISS and on any Milvus.
ANALYZER = {"tokenizer": "standard"}


def _kind_index(kind: str, n: int) -> tuple[str, dict, dict]:
    """Milvus index type, build params and search params for a manifest's FAISS kind."""
    if kind == "hnsw":
        return "HNSW", {"M": 16, "efConstruction": 40}, {"ef": 64}
    if kind == "ivf":
        return "IVF_FLAT", {"nlist": max(8, int(np.sqrt(max(n, 1))))}, {"nprobe": 24}
    return "FLAT", {}, {}


def _quote(value: str) -> str:
    """A Milvus filter string literal."""
    return json.dumps(value, ensure_ascii=False)


def key(name: str) -> str:
    """A row's primary key: a hash of its name (a chunk id, a unit's, a page part's), since Milvus's own
    paging by key does not quote the keys it compares, and names are file names with any character."""
    return hashlib.blake2b(name.encode(), digest_size=16).hexdigest()


def _parts(text: str) -> list[str]:
    return [text[i : i + PART] for i in range(0, len(text), PART)] or [""]


class MilvusUnavailable(QAError):
    """Milvus refused or failed a call (down, unreachable, out of resources): said once, at the edge."""


class CollectionGone(MilvusUnavailable):
    """A collection was dropped under the call (an update makes a standby generation again)."""


class _Client:
    """A MilvusClient whose errors become ``MilvusUnavailable`` naming the server, not a gRPC traceback."""

    def __init__(self, client, uri: str) -> None:
        self._client, self._uri = client, uri

    def __getattr__(self, name: str):
        from pymilvus.exceptions import ErrorCode, MilvusException

        call = getattr(self._client, name)

        def guarded(*args, **kwargs):
            try:
                return call(*args, **kwargs)
            except MilvusException as e:
                kind = CollectionGone if e.code == ErrorCode.COLLECTION_NOT_FOUND else MilvusUnavailable
                raise kind(f"Milvus at {self._uri} failed {name}: {e.message}") from None

        return guarded


class MilvusStore:
    """One connection to Milvus and the collections of an index's two generations."""

    def __init__(self, location: Location) -> None:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        self.location = location
        self.name = location.collection
        token = os.environ.get("QA_MILVUS_TOKEN", "")  # user:password, or a hosted Milvus's API key
        try:
            client = MilvusClient(uri=location.uri, token=token, timeout=10)
        except MilvusException as e:
            raise MilvusUnavailable(
                f"cannot reach Milvus at {location.uri} ({e.message}); start it or check --milvus-uri"
            ) from None
        self.client = _Client(client, location.uri)
        # milvus-lite gives the iterator no snapshot timestamp; the client's own is as good for a scan.
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
        # A failed call is raised once as MilvusUnavailable; pymilvus would log each with its traceback too.
        for name in ("pymilvus.decorators", "pymilvus.client.connection_manager"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def names(self, gen: str) -> dict[str, str]:
        return {part: f"{self.name}__{gen}_{part}" for part in ("chunks", "units", "docs")}

    # ------------------------------------------------------------ generations

    def live(self) -> str | None:
        """The generation the alias points at, or None when there is no index yet."""
        if self.name not in self.client.list_aliases().get("aliases", []):
            return None
        target = self.client.describe_alias(self.name)["collection_name"]
        for gen in GENERATIONS:
            if target == self.names(gen)["chunks"]:
                return gen
        raise IndexProblem(
            f"alias '{self.name}' in Milvus at {self.location.uri} points at '{target}', not a qa index; "
            "pick another --collection"
        )

    @staticmethod
    def other(gen: str | None) -> str:
        return "b" if gen == "a" else "a"

    def exists(self, gen: str) -> bool:
        return all(self.client.has_collection(n) for n in self.names(gen).values())

    def drop(self, gen: str) -> None:
        for n in self.names(gen).values():
            if self.client.has_collection(n):
                self.client.drop_collection(n)

    def create(self, gen: str, dim: int, kind: str, n: int, bm25: dict) -> None:
        """Empty collections for generation ``gen`` (any old ones dropped): chunks, units and docs."""
        from pymilvus import DataType, Function, FunctionType

        self.drop(gen)
        names = self.names(gen)
        c = self.client
        s = c.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, max_length=32, is_primary=True)
        s.add_field("id", DataType.VARCHAR, max_length=LONG)
        s.add_field("doc", DataType.VARCHAR, max_length=LONG)
        s.add_field("pos", DataType.INT64)  # the chunk's place in its document
        for field in ("page", "start", "end"):
            s.add_field(field, DataType.INT64)
        s.add_field("kind", DataType.VARCHAR, max_length=64)
        s.add_field("context", DataType.VARCHAR, max_length=LONG)
        s.add_field("text", DataType.VARCHAR, max_length=LONG)
        for field in ("section", "sentences", "refs"):
            s.add_field(field, DataType.JSON)
        s.add_field(
            "terms", DataType.VARCHAR, max_length=LONG, enable_analyzer=True, analyzer_params=ANALYZER
        )
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        s.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
        s.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["bm25"],
            )
        )
        index_type, params, _ = _kind_index(kind, n)
        ip = c.prepare_index_params()
        ip.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=params)
        ip.add_index(
            field_name="bm25",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": bm25["k1"], "bm25_b": bm25["b"]},
        )
        c.create_collection(names["chunks"], schema=s, index_params=ip)

        s = c.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, max_length=32, is_primary=True)
        s.add_field("doc", DataType.VARCHAR, max_length=LONG)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        ip = c.prepare_index_params()
        ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        c.create_collection(names["units"], schema=s, index_params=ip)

        s = c.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("pk", DataType.VARCHAR, max_length=32, is_primary=True)
        s.add_field("kind", DataType.VARCHAR, max_length=64)  # page | meta | generation
        s.add_field("doc", DataType.VARCHAR, max_length=LONG)
        s.add_field("page", DataType.INT64)
        s.add_field("part", DataType.INT64)
        s.add_field("data", DataType.VARCHAR, max_length=LONG)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field; never searched
        ip = c.prepare_index_params()
        ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        c.create_collection(names["docs"], schema=s, index_params=ip)

    def swap(self, gen: str) -> None:
        """Point the alias at generation ``gen``: readers see the whole update at once."""
        target = self.names(gen)["chunks"]
        if self.live() is None:
            self.client.create_alias(target, self.name)
        else:
            self.client.alter_alias(target, self.name)

    def flush(self, gen: str) -> None:
        """Seal what was written (searches before a flush scan unsealed rows: ~750 ms instead of ~20 ms)."""
        for n in self.names(gen).values():
            self.client.flush(n)

    # ------------------------------------------------------------ writes

    def _insert(self, collection: str, rows: Iterable[dict], size: int = BATCH) -> None:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= size:
                self.client.insert(collection, batch)
                batch = []
        if batch:
            self.client.insert(collection, batch)

    def add_chunks(self, gen: str, rows: Iterable[dict]) -> None:
        """Chunk rows: the chunk's fields (``Chunk.to_dict``), ``pos``, ``terms`` and ``vector`` (a float32
        numpy row)."""
        self._insert(self.names(gen)["chunks"], ({"pk": key(r["id"]), **r} for r in rows))

    def add_units(self, gen: str, rows: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """Unit vectors, each as (``unit_key``, doc, vector: a float32 numpy row)."""
        self._insert(
            self.names(gen)["units"],
            ({"pk": key(u), "doc": d, "vector": np.asarray(v, np.float32)} for u, d, v in rows),
            VECTOR_BATCH,
        )

    def add_pages(self, gen: str, pages: Iterable[dict]) -> None:
        """Pages (``Page.to_dict``) as JSON, cut into parts that fit a VARCHAR."""
        self._insert(
            self.names(gen)["docs"],
            (
                self._doc_row("page", p["doc"], p["page"], i, part)
                for p in pages
                for i, part in enumerate(_parts(json.dumps(p, ensure_ascii=False)))
            ),
        )

    @staticmethod
    def _doc_row(kind: str, doc: str, page: int, part: int, data: str) -> dict:
        name = json.dumps([kind, doc, page, part], ensure_ascii=False)
        return {
            "pk": key(name),
            "kind": kind,
            "doc": doc,
            "page": page,
            "part": part,
            "data": data,
            "vector": [0, 0],
        }

    def remove_doc(self, gen: str, doc: str) -> None:
        """Delete a document's chunks, unit vectors and pages from generation ``gen``."""
        for n in self.names(gen).values():
            self.client.delete(n, filter=f"doc == {_quote(doc)}")

    def clear_meta(self, gen: str) -> None:
        """Mark generation ``gen`` as being rewritten, before anything of it is touched: a reader still
        answering from it finds its number gone and answers again from the live generation
        (``qa.milvus.load``), and an update that dies before ``put_meta`` is redone in full."""
        self.client.delete(self.names(gen)["docs"], filter='kind in ["meta", "generation"]')

    def put_meta(self, gen: str, meta: dict, generation: int) -> None:
        """Replace the generation's metadata (manifest, references, order, signatures) and its number."""
        docs = self.names(gen)["docs"]
        self.clear_meta(gen)
        rows = [self._doc_row("meta", "", 0, i, p) for i, p in enumerate(_parts(json.dumps(meta)))]
        rows.append(self._doc_row("generation", "", 0, 0, str(generation)))
        self._insert(docs, rows)

    # ------------------------------------------------------------ reads

    def _scan(self, collection: str, filter: str, fields: list[str]) -> Iterator[dict]:
        it = self.client.query_iterator(collection, batch_size=1000, filter=filter, output_fields=fields)
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def meta(self, gen: str) -> dict | None:
        """The generation's metadata, or None when it was never completed."""
        rows = self.client.query(
            self.names(gen)["docs"], filter='kind == "meta"', output_fields=["part", "data"]
        )
        if not rows:
            return None
        return json.loads("".join(r["data"] for r in sorted(rows, key=lambda r: r["part"])))

    def generation(self, gen: str, strong: bool = False) -> int:
        """The number of the update that wrote generation ``gen``, -1 while one rewrites it (one query:
        cheap to ask per request). Read at bounded staleness (a view at most seconds old, served without
        waiting for the newest writes), enough to notice an update before a request. ``strong``: it sees
        every write made before the call, for whatever decides on the number (the check after a request,
        a load, an update numbering the next generation)."""
        name = json.dumps(["generation", "", 0, 0])
        rows = self.client.get(
            self.names(gen)["docs"],
            ids=[key(name)],
            output_fields=["data"],
            consistency_level="Strong" if strong else "Bounded",
        )
        return int(rows[0]["data"]) if rows else -1

    def pages(self, gen: str) -> Iterator[dict]:
        """Every page (``Page.to_dict``), its parts joined."""
        parts: dict[tuple[str, int], list[tuple[int, str]]] = {}
        for r in self._scan(self.names(gen)["docs"], 'kind == "page"', ["doc", "page", "part", "data"]):
            parts.setdefault((r["doc"], r["page"]), []).append((r["part"], r["data"]))
        for key in sorted(parts):
            yield json.loads("".join(d for _, d in sorted(parts[key])))

    def chunks(self, gen: str, vectors: bool = False) -> Iterator[dict]:
        """Every chunk row (``Chunk.to_dict``'s fields and ``pos``; with ``vectors`` the dense vector too)."""
        fields = [*CHUNK_FIELDS, "pos"] + (["vector"] if vectors else [])
        yield from self._scan(self.names(gen)["chunks"], "", fields)

    def units(self, gen: str) -> Iterator[dict]:
        """Every unit row: ``pk`` (``key(unit_key)``) and ``vector``."""
        yield from self._scan(self.names(gen)["units"], "", ["vector"])

    def vectors(self, gen: str, part: str, names: list[str]) -> np.ndarray:
        """The vectors of the given rows (chunk ids, or ``unit_key``s), in that order."""
        keys = [key(n) for n in names]
        found: dict[str, list[float]] = {}
        for i in range(0, len(keys), TOPK_MAX):
            rows = self.client.get(
                self.names(gen)[part], ids=keys[i : i + TOPK_MAX], output_fields=["vector"]
            )
            found.update((r["pk"], r["vector"]) for r in rows)
        missing = [n for n, k in zip(names, keys, strict=True) if k not in found]
        if missing:
            raise IndexProblem(f"Milvus generation {gen} of '{self.name}' lacks vectors of {missing[:3]}")
        return np.asarray([found[k] for k in keys], dtype=np.float32)

    # ------------------------------------------------------------ search

    def search_dense(self, gen: str, query: np.ndarray, k: int, kind: str, n: int) -> list[tuple[str, float]]:
        """(chunk key, inner product) of the k nearest chunks, in Milvus's order."""
        _, _, params = _kind_index(kind, n)
        res = self.client.search(
            self.names(gen)["chunks"],
            data=[np.asarray(query, dtype=np.float32).tolist()],
            anns_field="vector",
            limit=max(1, min(k, TOPK_MAX)),
            search_params={"metric_type": "IP", "params": params},
        )
        return [(h["pk"], float(h["distance"])) for h in res[0]]

    def search_bm25(self, gen: str, terms: list[str], k: int, k1: float) -> list[tuple[str, float]]:
        """(chunk key, BM25 score) of the k best chunks for the query terms; nothing for no terms. Milvus
        scores tf·(k1+1)/(tf + k1·(…)) as Lucene did before 8.0; bm25s, like Lucene now, drops the
        constant (k1+1): dividing by it gives bm25s's scores (equal to float rounding) and the same ranks."""
        if not terms:
            return []
        res = self.client.search(
            self.names(gen)["chunks"],
            data=[" ".join(terms)],
            anns_field="bm25",
            limit=max(1, min(k, TOPK_MAX)),
            search_params={"metric_type": "BM25"},
        )
        # milvus-lite reports BM25 as a negated distance, Milvus as the score: both mean |distance|.
        return [(h["pk"], abs(float(h["distance"])) / (k1 + 1)) for h in res[0] if h["distance"]]


def unit_key(chunk_id: str, pos: int) -> str:
    return f"{chunk_id}@{pos}"


def bm25_terms(texts: list[str], stemmer: str) -> list[list[str]]:
    """Each text's terms as bm25s makes them for the FAISS index (English stop words, the stemmer)."""
    import bm25s

    from qa.lexical import _stemmer

    if not texts:
        return []
    return bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(stemmer), return_ids=False, show_progress=False
    )
