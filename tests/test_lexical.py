"""BM25 read back without bm25s gives bm25s's scores to the bit; what a build precomputes for a cold start
(the stop words, the answer step's term statistics) is used, and ignored where it no longer fits; a cold
`qa ask` imports neither bm25s nor scipy nor the other commands' modules."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from qa.lexical import STOPWORDS_FILE, Lexical, _stemmer

TEXTS = [
    "The IndiaAI Mission was allocated ₹10,372 crore in 2024–25 for compute and datasets.",
    "Japan and India signed a memorandum on semiconductors; it covers design, talent and supply chains.",
    "Net earnings from continuing operations\t$ 6,388\t32.2\t$ 6,038",
    "Society 5.0 — un concept japonais: la société super-intelligente.",
    "Apples, apple orchards and the apples' harvest: running runners ran.",
    "a an the of to in",  # stop words only
    "",
]
QUERIES = [
    "How much was allocated to the IndiaAI Mission?",
    "apple orchard harvests",
    "semiconductor memorandum India Japan",
    "the of and",  # nothing left after stop words
    "Net earnings 6,388",
    "société japonais concept",
    "running apples apples",  # a repeated term counts twice, as in bm25s
    "",
    "zebra unknown words",
]


def _bm25s_scores(folder, query: str) -> np.ndarray:
    """What qa.lexical computed before it read bm25s's files itself: bm25s's own tokenizer and scores."""
    import bm25s

    retriever = bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False)
    toks = bm25s.tokenize(
        [query], stopwords="en", stemmer=_stemmer("english"), return_ids=False, show_progress=False
    )[0]
    toks = [t for t in toks if t in retriever.vocab_dict]
    if not toks:
        return np.zeros(int(retriever.scores["num_docs"]), dtype=np.float32)
    return np.asarray(retriever.get_scores(toks), dtype=np.float32)


def test_scores_read_back_without_bm25s_are_bm25s_scores(tmp_path):
    built = Lexical.build(TEXTS)
    built.save(tmp_path / "lexical")
    loaded = Lexical.load(tmp_path / "lexical", "english")
    assert loaded.num_docs == len(TEXTS) and loaded.retriever is None
    for q in QUERIES:
        expected = _bm25s_scores(tmp_path / "lexical", q)
        assert np.array_equal(loaded.scores(q), expected), q
        assert np.array_equal(built.scores(q), expected), q
        assert loaded.scores(q).dtype == np.float32
    assert loaded.scores("apple orchard harvests").argmax() == 4
    assert not loaded.scores("the of and").any()


def test_stop_words_are_saved_with_the_index_and_older_indexes_use_bm25s_list(tmp_path):
    from bm25s.stopwords import STOPWORDS_EN

    Lexical.build(TEXTS).save(tmp_path / "lexical")
    saved = json.loads((tmp_path / "lexical" / STOPWORDS_FILE).read_text())
    assert set(saved) == set(STOPWORDS_EN)
    (tmp_path / "lexical" / STOPWORDS_FILE).unlink()  # as an index written before this file existed
    older = Lexical.load(tmp_path / "lexical", "english")
    assert older.stopwords == frozenset(STOPWORDS_EN)
    assert np.array_equal(older.scores(QUERIES[0]), _bm25s_scores(tmp_path / "lexical", QUERIES[0]))


def test_mismatched_bm25_files_are_refused(tmp_path):
    Lexical.build(TEXTS).save(tmp_path / "lexical")
    np.save(tmp_path / "lexical" / "indptr.csc.index.npy", np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="do not agree"):
        Lexical.load(tmp_path / "lexical", "english")


def test_the_build_counts_the_answer_steps_term_statistics(tmp_path, fake_corpus, build_fake, monkeypatch):
    import qa.answer.candidates
    from qa.answer.candidates import TERM_DF, Stats, stats
    from qa.index import load_index

    build_fake(fake_corpus(), tmp_path / "index")
    idx = load_index(tmp_path / "index")
    saved = idx.saved_stats()
    assert saved and saved.df and saved.df == Stats(idx.chunks).df and saved.n == len(idx.chunks)
    assert stats(idx).df == saved.df and stats(idx).n == len(idx.chunks)
    # counted by other code (the answer step's terms changed since the build): counted again, not trusted
    monkeypatch.setattr(qa.answer.candidates, "_code_key", lambda: "another")
    assert load_index(tmp_path / "index").saved_stats() is None
    monkeypatch.undo()
    (tmp_path / "index" / TERM_DF).unlink()  # an index built before the file existed: not in its checksums
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    del manifest["checksums"][TERM_DF]
    (tmp_path / "index" / "manifest.json").write_text(json.dumps(manifest))
    older = load_index(tmp_path / "index")
    assert older.saved_stats() is None and stats(older).df == saved.df
    # a file the checksums don't cover (put there by hand) is not trusted either
    saved.save(tmp_path / "index")
    assert load_index(tmp_path / "index").saved_stats() is None


def test_a_cold_ask_imports_no_bm25s_scipy_or_other_commands(tmp_path, fake_corpus, build_fake):
    build_fake(fake_corpus(), tmp_path / "index")
    code = (
        "import sys; from qa.cli import main; "
        f"main(['ask', 'Where are apples harvested?', '--index', {str(tmp_path / 'index')!r}, '--json']); "
        "heavy = ('bm25s', 'scipy', 'torch', 'qa.server', 'qa.service', 'qa.api', 'qa.bench', 'qa.sources', "
        "'qa.source_list', 'qa.source_fetch', 'qa.source_files', 'qa.source_download', 'qa.answer.train'); "
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["citations"][0]["doc"] == "fruit/apples.txt"
    assert proc.stderr.strip().splitlines()[-1] == "[]"
