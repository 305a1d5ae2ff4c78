"""BM25 over the chunks (English stemming and stop words): built and saved by bm25s, read back and scored
with numpy alone, so that answering never imports bm25s (with scipy, about a third of a second of a cold
start).

bm25s saves, per vocabulary term, the BM25 weight of every chunk holding it (a CSC matrix: ``data``,
``indices``, ``indptr``) beside its vocabulary and parameters; a query's score is the sum of its terms'
columns, added in the order bm25s adds them (so the scores are bm25s's to the bit). A query is split into
terms as ``bm25s.tokenize`` does: lower-cased, runs of two or more word characters, stop words dropped,
then stemmed; the stop words are saved with the index (``stopwords.json``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default token_pattern
STOPWORDS_FILE = "stopwords.json"


def _stemmer(name: str):
    if not name:
        return None
    import Stemmer

    return Stemmer.Stemmer(name)


class Lexical:
    def __init__(
        self,
        vocab: dict[str, int],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        num_docs: int,
        stemmer: str,
        stopwords: frozenset[str],
        retriever=None,
    ) -> None:
        self.vocab = vocab
        self.data, self.indices, self.indptr = data, indices, indptr
        self.num_docs = int(num_docs)
        self.dtype = data.dtype
        self.stemmer_name = stemmer
        self._stemmer = _stemmer(stemmer)
        self.stopwords = stopwords
        self.retriever = retriever  # the bm25s object of a build (None once read back), kept for save()

    @classmethod
    def build(cls, texts: list[str], stemmer: str = "english", k1: float = 1.5, b: float = 0.75) -> Lexical:
        import bm25s
        from bm25s.stopwords import STOPWORDS_EN

        retriever = bm25s.BM25(k1=k1, b=b)
        tokens = bm25s.tokenize(texts or [""], stopwords="en", stemmer=_stemmer(stemmer), show_progress=False)
        retriever.index(tokens, show_progress=False)
        s = retriever.scores
        return cls(
            retriever.vocab_dict,
            s["data"],
            s["indices"],
            s["indptr"],
            s["num_docs"],
            stemmer,
            frozenset(STOPWORDS_EN),
            retriever,
        )

    def save(self, path: Path) -> None:
        self.retriever.save(str(path), allow_pickle=False)
        (Path(path) / STOPWORDS_FILE).write_text(json.dumps(sorted(self.stopwords)), encoding="utf-8")

    @classmethod
    def load(cls, path: Path, stemmer: str) -> Lexical:
        """bm25s's saved arrays, vocabulary and parameters (and the stop words), without bm25s."""
        path = Path(path)
        params = json.loads((path / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method", "lucene") not in ("lucene", "robertson", "atire"):
            raise ValueError(f"BM25 variant {params['method']!r} is not read back here")
        vocab = json.loads((path / "vocab.index.json").read_text(encoding="utf-8"))
        data, indices, indptr = (
            np.load(path / f"{n}.csc.index.npy", allow_pickle=False) for n in ("data", "indices", "indptr")
        )
        if (path / STOPWORDS_FILE).is_file():
            stopwords = frozenset(json.loads((path / STOPWORDS_FILE).read_text(encoding="utf-8")))
        else:  # an index written before the stop words were saved with it
            from bm25s.stopwords import STOPWORDS_EN

            stopwords = frozenset(STOPWORDS_EN)
        # bm25s's vocabulary holds "" past the last column (no query term is empty)
        if (
            not isinstance(vocab, dict)
            or len(indptr) not in (len(vocab), len(vocab) + 1)
            or len(data) != len(indices)
        ):
            raise ValueError("BM25 arrays and vocabulary do not agree")
        return cls(vocab, data, indices, indptr, params["num_docs"], stemmer, stopwords)

    def terms(self, text: str) -> list[str]:
        """The query's terms as ``bm25s.tokenize(..., stopwords="en", stemmer=...)`` gives them."""
        words = [w for w in _TOKEN.findall(text.lower()) if w not in self.stopwords]
        return self._stemmer.stemWords(words) if self._stemmer is not None else words

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros where no term matches)."""
        scores = np.zeros(self.num_docs, dtype=self.dtype)
        for t in self.terms(query):
            i = self.vocab.get(t)
            if i is not None and i + 1 < len(self.indptr):
                a, b = self.indptr[i], self.indptr[i + 1]
                np.add.at(scores, self.indices[a:b], self.data[a:b])
        return scores
