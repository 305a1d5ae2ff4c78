"""Shared fixtures: the real index of the shipped corpus (built once per session), small fake corpora built
with the deterministic fake embedder, and generated PDFs."""

from __future__ import annotations

import os

# Before torch or faiss load: idle OpenMP threads sleep instead of spinning; never reach for the network.
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"  # the project's own copy, never ../shared
FAKE_MODEL = "fake:bow-64"

# Five small documents with disjoint vocabularies, so the bag-of-words fake embedder ranks them exactly.
FAKE_DOCS: dict[str, str] = {
    "fruit/apples.txt": "Apple orchards in Kashmir harvest crisp apples every autumn.\n",
    "fruit/mangoes.md": "# Mango Notes\n\nAlphonso mangoes ripen in the humid Konkan summer.\n",
    "music.txt": (
        "Violins and cellos fill the orchestra before the concert.\n"
        "\f"
        "Pianos need tuning after a long monsoon season.\n"
    ),
    "space/rockets.txt": "Rockets reach orbit after the launch from Sriharikota.\n",
    "space/telescopes.txt": "Telescopes observe distant galaxies through clear mountain skies.\n",
}


def _fake_settings(**overrides):
    from qa.config import Settings

    return Settings(model=FAKE_MODEL, **overrides)


@pytest.fixture
def fake_settings() -> Callable[..., object]:
    """``fake_settings(**overrides)``: Settings for fake builds, with the fake model id (so loading the index
    picks the same fake embedder back up)."""
    return _fake_settings


@pytest.fixture
def fake_docs() -> dict[str, str]:
    """The five documents ``fake_corpus()`` writes by default (a copy)."""
    return dict(FAKE_DOCS)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shipped corpus folder."""
    assert (CORPUS / "brief").is_dir(), f"shipped corpus missing at {CORPUS}"
    return CORPUS


@pytest.fixture(scope="session")
def real_index_build(tmp_path_factory, corpus_dir) -> dict:
    """Build the shipped corpus with the real bundled model, once per session; returns the build report."""
    from qa.build import build_index
    from qa.config import Settings

    path = tmp_path_factory.mktemp("real-index") / "index"
    report = build_index(corpus_dir, path, settings=Settings(corpus=corpus_dir, index=path))
    report["path"] = path
    return report


@pytest.fixture(scope="session")
def real_index_path(real_index_build) -> Path:
    """Folder of the real index of the shipped corpus (treat as read-only)."""
    return real_index_build["path"]


@pytest.fixture(scope="session")
def real_index(real_index_path):
    """The loaded real index of the shipped corpus (shared by the session: do not mutate it)."""
    import qa

    return qa.load_index(real_index_path)


@pytest.fixture
def fake_corpus(tmp_path) -> Callable[..., Path]:
    """Factory: ``fake_corpus(files=None, name="corpus")`` writes a corpus folder and returns its path.

    ``files`` maps relative paths to str (UTF-8) or bytes; by default the five FAKE_DOCS.
    """

    def make(files: dict[str, str | bytes] | None = None, name: str = "corpus") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for rel, content in (FAKE_DOCS if files is None else files).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return root

    return make


@pytest.fixture
def build_fake() -> Callable[..., dict]:
    """``build_fake(corpus, index, embedder=None, rebuild=False, **settings)`` builds with a FakeEmbedder.

    Returns the build report with the embedder used under ``report["embedder"]`` (count its texts).
    """
    from qa.build import build_index
    from qa.embed import FakeEmbedder

    def build(corpus: Path, index: Path, embedder=None, rebuild: bool = False, **overrides) -> dict:
        emb = embedder if embedder is not None else FakeEmbedder(model_id=FAKE_MODEL)
        report = build_index(
            corpus,
            index,
            settings=_fake_settings(corpus=Path(corpus), index=Path(index), **overrides),
            embedder=emb,
            rebuild=rebuild,
        )
        report["embedder"] = emb
        return report

    return build


def _pdf(path: Path, pages: list[list[str] | None], password: str | None = None, labels=(), title=None):
    """Write a PDF whose pages show the given lines in Helvetica; ``None`` is a page with no text layer."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for lines in pages:
        page = writer.add_blank_page(width=612, height=792)
        if lines is None:
            continue
        ops = ["BT", "/F1 11 Tf", "72 740 Td", "14 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    for args in labels:
        writer.set_page_label(*args)
    if title:
        writer.add_metadata({"/Title": title})
    if password is not None:
        writer.encrypt(password, algorithm="AES-128")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        writer.write(f)
    return path


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory):
    """A real milvus-lite server on a free loopback port, one per test module that asks for it."""
    from qa.milvus.server import milvus_lite_server

    with milvus_lite_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri


@pytest.fixture
def location(milvus_uri):
    """A collection name of its own for each test, on that server."""
    import uuid

    from qa.milvus import Location

    return Location(milvus_uri, f"t_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def make_pdf() -> Callable[..., Path]:
    """``make_pdf(path, pages, password=None, labels=(), title=None)``: see ``_pdf``.

    ``labels`` are ``PdfWriter.set_page_label`` argument tuples, e.g. ``(0, 1, "/r")``.
    """
    return _pdf
