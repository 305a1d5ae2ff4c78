"""`qa index` and `qa status` through ``qa.cli.main``: exit codes, one JSON object on stdout, human output,
errors on stderr, QA_CORPUS / QA_INDEX defaults; `python -m qa --help` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main

FAKE = ["--model", "fake:bow-64"]
REPORT_KEYS = {
    "index",
    "corpus",
    "added",
    "changed",
    "removed",
    "unchanged",
    "skipped",
    "embedded",
    "updated",
    "summary",
    "documents",
    "pages",
    "chunks",
    "timings",
    "previous",
    "warnings",
    "ocr_pages",
    "examples",
}
STATUS_KEYS = {
    "index",
    "created",
    "model",
    "counts",
    "dense",
    "documents",
    "skipped",
    "corpus",
    "added",
    "changed",
    "removed",
    "settings_changed",
    "stale",
}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_json(out: str) -> dict:
    lines = out.splitlines()
    assert len(lines) == 1, f"--json prints exactly one line, got {len(lines)}"
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    return obj


@pytest.fixture
def paths(tmp_path, fake_corpus) -> tuple[Path, Path]:
    corpus = fake_corpus({**_DOCS, "notes.pptx": b"PK\x03\x04"})
    return corpus, tmp_path / "idx"


_DOCS = {
    "a.txt": "Apple orchards in Kashmir harvest crisp apples.\n",
    "b.md": "# Mango Notes\n\nAlphonso mangoes ripen in summer.\n",
    "c.txt": "Violins fill the orchestra.\fPianos need tuning.\n",
}


def test_index_json(capsys, paths):
    corpus, index = paths
    code, out, err = run(capsys, "index", "--corpus", str(corpus), "--index", str(index), "--json", *FAKE)
    assert code == 0, err
    report = one_json(out)
    assert set(report) == REPORT_KEYS
    assert report["added"] == ["a.txt", "b.md", "c.txt"]
    assert (report["documents"], report["pages"], report["chunks"], report["embedded"]) == (3, 4, 4, 4)
    assert report["skipped"][0]["path"] == "notes.pptx"
    assert report["skipped"][0]["reason"] == "unsupported file type '.pptx'"
    assert report["summary"] == "0 unchanged, 3 added (4 chunks embedded), 1 skipped"
    assert report["index"] == str(index) and report["updated"] is True
    assert err == ""  # no progress bar in --json mode
    assert json.loads((index / "manifest.json").read_text())["model"]["id"] == "fake:bow-64"


def test_index_human_then_up_to_date_then_quiet(capsys, paths):
    corpus, index = paths
    args = ["index", "--corpus", str(corpus), "--index", str(index), *FAKE]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert out.splitlines() == [
        "0 unchanged, 3 added (4 chunks embedded), 1 skipped",
        "  skipped notes.pptx: unsupported file type '.pptx'",
        f"index: {index} (3 documents, 4 pages, 4 chunks)",
    ]
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert out.splitlines() == [
        "index up to date: 3 unchanged, 1 skipped",
        "  skipped notes.pptx: unsupported file type '.pptx'",
    ]
    (corpus / "a.txt").write_text("Changed apples.\n")
    code, out, err = run(capsys, *args, "--quiet")
    assert (code, out, err) == (0, "", "")
    code, out, _ = run(capsys, *args, "--rebuild", "--json")
    assert one_json(out)["embedded"] == 4 and one_json(out)["previous"] == "rebuild"


def test_index_missing_corpus(capsys, tmp_path):
    code, out, err = run(capsys, "index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i"))
    assert code == 2 and out == ""
    assert err.startswith(f"qa: error: corpus folder not found: {tmp_path / 'nope'}")
    assert err.count("\n") == 1
    assert not (tmp_path / "i").exists()


def test_index_empty_corpus(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "index", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "i"))
    assert (code, out) == (2, "")
    assert "has no documents" in err


def test_index_json_error_goes_to_stderr(capsys, tmp_path):
    code, out, err = run(
        capsys, "index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i"), "--json"
    )
    assert (code, out) == (2, "") and err.startswith("qa: error: corpus folder not found")


def test_status_missing_index(capsys, tmp_path, fake_corpus):
    corpus = fake_corpus(_DOCS)
    code, out, err = run(capsys, "status", "--index", str(tmp_path / "none"), "--corpus", str(corpus))
    assert (code, out) == (2, "")
    none = tmp_path / "none"
    assert err == f"qa: error: no index at {none}; build it with: qa index --index {none}\n"


def test_status_json_and_human_after_changes(capsys, paths):
    corpus, index = paths
    assert run(capsys, "index", "--corpus", str(corpus), "--index", str(index), "--json", *FAKE)[0] == 0
    (corpus / "a.txt").write_text("Different apples.\n")
    (corpus / "c.txt").unlink()
    (corpus / "d.txt").write_text("A new file.\n")
    code, out, err = run(capsys, "status", "--index", str(index), "--corpus", str(corpus), "--json")
    assert code == 0, err
    st = one_json(out)
    assert set(st) == STATUS_KEYS
    assert (st["added"], st["changed"], st["removed"]) == (["d.txt"], ["a.txt"], ["c.txt"])
    # `qa status` compares with the settings `qa index` would use now: the default (bundled) model
    assert st["settings_changed"] == ["model"] and st["stale"] is True
    assert st["counts"] == {"documents": 3, "pages": 4, "chunks": 4, "skipped": 1}
    assert st["skipped"] == [{"path": "notes.pptx", "reason": "unsupported file type '.pptx'"}]
    code, out, _ = run(capsys, "status", "--index", str(index), "--corpus", str(corpus))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith(f"index: {index} built ") and lines[0].endswith(" with fake:bow-64")
    assert lines[1:] == [
        "3 documents, 4 pages, 4 chunks, 1 skipped",
        "  added: d.txt",
        "  changed: a.txt",
        "  removed: c.txt",
        "  settings changed: model",
        "stale: run `qa index` to update",
    ]


@pytest.mark.slow
def test_status_of_the_real_index_is_up_to_date(capsys, real_index_path, corpus_dir, real_index):
    code, out, err = run(
        capsys, "status", "--index", str(real_index_path), "--corpus", str(corpus_dir), "--json"
    )
    assert code == 0, err
    st = one_json(out)
    assert st["stale"] is False and st["settings_changed"] == []
    assert [d["path"] for d in st["documents"]] == [
        "brief/indo-japanese-collaboration-on-ai.txt",
        "related/japan-ai-strategy-2019.pdf",
        "related/japan-ai-technology-strategy-2017.txt",
        "sources/niti-aayog-national-strategy-for-ai-2018.txt",
    ]
    code, out, _ = run(capsys, "status", "--index", str(real_index_path), "--corpus", str(corpus_dir))
    chunks = len(real_index.chunks)
    assert out.splitlines()[1:] == [f"4 documents, 215 pages, {chunks} chunks, 0 skipped", "up to date"]


def test_env_defaults(capsys, monkeypatch, tmp_path, fake_corpus):
    corpus = fake_corpus(_DOCS, name="elsewhere-corpus")
    index = tmp_path / "elsewhere-index"
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # no corpus/ or index/ here: only the environment can point at them
    monkeypatch.setenv("QA_CORPUS", str(corpus))
    monkeypatch.setenv("QA_INDEX", str(index))
    code, out, err = run(capsys, "index", "--json", *FAKE)
    assert code == 0, err
    report = one_json(out)
    assert (report["corpus"], report["index"]) == (str(corpus), str(index))
    assert (index / "manifest.json").is_file() and not (workdir / "index").exists()
    code, out, err = run(capsys, "status", "--json")
    assert code == 0, err
    st = one_json(out)
    assert (st["index"], st["corpus"]) == (str(index), str(corpus))
    assert (st["added"], st["changed"], st["removed"]) == ([], [], [])
    # the flags win over the environment
    code, _, err = run(capsys, "status", "--index", str(tmp_path / "other"))
    assert code == 2 and f"no index at {tmp_path / 'other'}" in err


def test_usage_errors_from_argparse(capsys):
    assert main(["index", "--dense", "bogus"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main([]) == 2


def test_python_m_qa_help():
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "--help"], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: qa ")
    for command in ("index", "status"):
        assert command in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "index", "--help"], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert proc.returncode == 0
    for flag in ("--corpus", "--index", "--model", "--rebuild", "--json", "--quiet"):
        assert flag in proc.stdout


def test_help_does_not_import_heavy_libraries():
    heavy = ("torch", "faiss", "sentence_transformers", "gradio", "bm25s")
    code = (
        f"import sys, qa.cli; qa.cli.build_parser(); print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_index_reports_page_warnings(capsys, tmp_path, fake_corpus, make_pdf):
    corpus = fake_corpus(_DOCS)
    make_pdf(corpus / "scan.pdf", [["Page one has words."], None, ["Page three has words."]])
    code, out, err = run(capsys, "index", "--corpus", str(corpus), "--index", str(tmp_path / "i"), *FAKE)
    assert code == 0, err
    assert "  warning scan.pdf: no text layer (scanned?) on page 2" in out.splitlines()
    code, out, _ = run(
        capsys, "index", "--corpus", str(corpus), "--index", str(tmp_path / "j"), "--json", *FAKE
    )
    assert one_json(out)["warnings"] == {"scan.pdf": ["no text layer (scanned?) on page 2"]}


def test_status_without_a_corpus_folder_describes_the_index(capsys, tmp_path, monkeypatch, paths):
    corpus, index = paths
    assert run(capsys, "index", "--corpus", str(corpus), "--index", str(index), *FAKE)[0] == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no corpus/ here
    monkeypatch.delenv("QA_CORPUS", raising=False)
    code, out, err = run(capsys, "status", "--index", str(index), "--json")
    st = one_json(out)
    assert code == 0 and "stale" not in st and st["counts"]["documents"] == 3
    code, out, err = run(
        capsys, "status", "--index", str(index), "--corpus", str(corpus), "--model", "fake:bow-64"
    )
    assert code == 0 and out.strip().endswith("up to date")
