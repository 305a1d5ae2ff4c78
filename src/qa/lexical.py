"""BM25 over the chunks (bm25s, English stemming and stop words) behind a small class."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _stemmer(name: str):
    if not name:
        return None
    import Stemmer

    return Stemmer.Stemmer(name)


class Lexical:
    def __init__(self, retriever, stemmer: str) -> None:
        self.retriever = retriever
        self.stemmer_name = stemmer
        self._stemmer = _stemmer(stemmer)

    @classmethod
    def build(cls, texts: list[str], stemmer: str = "english", k1: float = 1.5, b: float = 0.75) -> Lexical:
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b)
        tokens = bm25s.tokenize(texts or [""], stopwords="en", stemmer=_stemmer(stemmer), show_progress=False)
        retriever.index(tokens, show_progress=False)
        return cls(retriever, stemmer)

    def save(self, path: Path) -> None:
        self.retriever.save(str(path), allow_pickle=False)

    @classmethod
    def load(cls, path: Path, stemmer: str) -> Lexical:
        import bm25s

        return cls(bm25s.BM25.load(str(path), allow_pickle=False, load_corpus=False), stemmer)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros where no term matches)."""
        import bm25s

        toks = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )[0]
        vocab = self.retriever.vocab_dict
        toks = [t for t in toks if t in vocab]
        n = int(self.retriever.scores["num_docs"])
        if not toks:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(toks), dtype=np.float32)
