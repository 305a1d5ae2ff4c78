"""A hostile corpus, generated on the fly: every file with the fate the build must give it.

``make_hostile_corpus(root, outside, make_pdf, scale)`` writes the files and returns their expectations.
``scale="quick"`` keeps everything small (a second to build); ``"long"`` adds the big ones: a 300 MB
sparse text file over the default 200 MB cap, a 3000-page blank PDF, a 5-million-character line, a
2 GiB deflate bomb inside a PDF, 200,000 form feeds.
"""

from __future__ import annotations

import os
import random
import socket
import zlib
from dataclasses import dataclass
from pathlib import Path

FRENCH = "Café crème brûlée, naïve résumé and the déjà vu of the élève; Señor Muñoz paid 5 £ for truffles."
RUSSIAN = "Совы охотятся ночью в тихом лесу, а летучие мыши ловят мотыльков."
MIXED_PARTS = (
    ("utf-8", "Narwhals swim under Arctic ice — “tusks” and naïve calves."),
    ("cp1252", "Les phoques dorment sur la banquise, été comme hiver, déjà."),
    ("utf-8", "Back in UTF-8: 日本語 and 한국어 beside Ünïcödé."),
)
SECRET = "TOP-SECRET-9f31 outside the corpus"
HIDDEN_SCRIPT = "alert('owned-4e1d')"


@dataclass
class Expect:
    """The fate of one corpus file: ``ok`` (then ``words`` find it), ``skipped`` with ``reason`` (exact, or
    a prefix ending in "("), or ``absent`` (a hidden file: not a corpus file at all)."""

    path: str
    status: str
    reason: str = ""
    words: str = ""
    warning: str = ""
    text: str = ""  # the exact page text, where the test knows it

    def reason_ok(self, got: str) -> bool:
        return got.startswith(self.reason) if self.reason.endswith("(") else got == self.reason


def _write(root: Path, rel: str, data: bytes | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk and no time to make (a hole; it reads as NUL bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def _bomb_pdf(path: Path, make_pdf, gib: int = 2) -> Path:
    """A one-page PDF whose content stream inflates to ``gib`` GiB of spaces (about 2 MB on disk)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, StreamObject

    make_pdf(path, [["A page that should never be inflated."]])
    writer = PdfWriter(clone_from=PdfReader(path))
    packer = zlib.compressobj(9)
    block = b" " * (1 << 20)
    stream = StreamObject()
    stream._data = b"".join(packer.compress(block) for _ in range(gib * 1024)) + packer.flush()
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    writer.pages[0][NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as f:
        writer.write(f)
    return path


def _blank_pdf(path: Path, n: int) -> Path:
    from pypdf import PdfWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PdfWriter()
    for _ in range(n):
        writer.add_blank_page(width=612, height=792)
    with open(path, "wb") as f:
        writer.write(f)
    return path


def make_hostile_corpus(root: Path, outside: Path, make_pdf, scale: str = "quick") -> list[Expect]:
    """Write the hostile corpus under ``root`` (and a secret under ``outside``); return every file's fate."""
    long = scale == "long"
    rng = random.Random(20240611)
    root.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(SECRET + "\n", encoding="utf-8")
    ex: list[Expect] = []

    def ok(rel, data, words, **kw):
        _write(root, rel, data)
        ex.append(Expect(rel, "ok", words=words, **kw))

    def bad(rel, data, reason):
        if data is not None:
            _write(root, rel, data)
        ex.append(Expect(rel, "skipped", reason))

    ok("good.txt", "Apple orchards in Kashmir harvest crisp apples every autumn.\n", "apple orchards kashmir")

    # ---- PDFs
    lines = [
        [f"Page {i} of the owl survey counts barn owls near {w}." for w in ("Pune", "Nagpur")]
        for i in (1, 2, 3)
    ]
    whole = make_pdf(root / "pdf" / "whole.pdf", lines).read_bytes()
    ex.append(Expect("pdf/whole.pdf", "ok", words="barn owls survey"))
    bad("pdf/truncated.pdf", whole[: int(len(whole) * 0.8)], "corrupt or unreadable PDF (")
    bad("pdf/garbage.pdf", b"%PDF-1.7\n" + rng.randbytes(6000), "corrupt or unreadable PDF (")
    # Garbage after %%EOF is ignored; garbage inside a page object costs that page only (with a warning).
    ok("pdf/garbage-tail.pdf", whole + rng.randbytes(4000), "barn owls survey")
    middle = bytearray(whole)
    middle[len(whole) // 3 : len(whole) // 3 + 200] = rng.randbytes(200)
    ok("pdf/garbage-middle.pdf", bytes(middle), "barn owls survey", warning="text extraction failed")
    make_pdf(root / "pdf" / "encrypted.pdf", [["Locked text about pangolins."]], password="s3cret-pw")
    ex.append(Expect("pdf/encrypted.pdf", "skipped", "encrypted with a password"))
    make_pdf(root / "pdf" / "scanned.pdf", [None, None, None])
    ex.append(Expect("pdf/scanned.pdf", "skipped", "no text layer on any page (scanned?)"))
    make_pdf(root / "pdf" / "partly-scanned.pdf", [["Herons wade in shallow marshes."], None])
    ex.append(
        Expect(
            "pdf/partly-scanned.pdf",
            "ok",
            words="herons wade marshes",
            warning="no text layer (scanned?) on page 2",
        )
    )
    n_blank = 3000 if long else 300
    _blank_pdf(root / "pdf" / f"blank-{n_blank}-pages.pdf", n_blank)
    ex.append(Expect(f"pdf/blank-{n_blank}-pages.pdf", "skipped", "no text layer on any page (scanned?)"))
    make_pdf(root / "pdf" / "late-text.pdf", [None] * (n_blank - 1) + [["Cormorants dry their wings."]])
    ex.append(
        Expect(
            "pdf/late-text.pdf",
            "ok",
            words="cormorants dry wings",
            warning=f"no text layer (scanned?) on pages 1-{n_blank - 1}",
        )
    )
    _blank_pdf(root / "pdf" / "zero-pages.pdf", 0)
    ex.append(Expect("pdf/zero-pages.pdf", "skipped", "PDF has no pages"))
    bad("pdf/not-a-pdf.pdf", "Just words in a file named .pdf\n", "not a PDF (no %PDF header)")
    if long:
        _bomb_pdf(root / "pdf" / "deflate-bomb.pdf", make_pdf)
        # pypdf stops inflating at its limit: the page reads as empty, the file is skipped, memory stays low.
        ex.append(Expect("pdf/deflate-bomb.pdf", "skipped", "no text layer on any page (scanned?)"))

    # ---- text and encodings
    bad("text/empty.txt", b"", "empty file")
    bad("text/blank.md", b"  \n\t\n   \n", "empty file")
    bad("text/binary.txt", rng.randbytes(20_000), "binary data, not text")
    bad("text/elf.txt", b"\x7fELF\x02\x01\x01" + bytes(200) + rng.randbytes(3000), "binary data, not text")
    bad("text/pdf-inside.txt", whole, "PDF data in a .txt file")
    ok("text/latin1.txt", (FRENCH + "\n").encode("latin-1"), "truffles brûlée", text=FRENCH)
    ok("text/cp1251.txt", (RUSSIAN + "\n").encode("cp1251"), "совы охотятся", text=RUSSIAN)
    ok("text/utf16-bom.txt", ("Gannets dive for fish, " + FRENCH + "\n").encode("utf-16"), "gannets dive")
    ok(
        "text/utf16le-no-bom.txt",
        "Puffins nest in burrows on cliffs.\n".encode("utf-16-le"),
        "puffins burrows",
    )
    ok("text/utf32.txt", "Albatrosses glide for hours.\n".encode("utf-32"), "albatrosses glide")
    mixed = b"\n".join(t.encode(enc) for enc, t in MIXED_PARTS) + b"\n"
    ok("text/mixed-encoding.txt", mixed, "narwhals tusks", text="\n".join(t for _, t in MIXED_PARTS))
    ok(
        "text/control-chars.txt",
        "Ravens\x00 solve\x1b[31m puzzles\x9b2J with\x07 tools.\r\nSecond\x0b line.\n",
        "ravens puzzles tools",
        text="Ravens solve [31m puzzles 2J with tools.\nSecond line.",
    )
    long_line = 5_000_000 if long else 200_000
    sentence = "Lemurs leap between baobab branches at dusk "
    ok("text/one-long-line.txt", (sentence * (long_line // len(sentence) + 1))[:long_line], "lemurs baobab")
    ok("text/one-long-token.txt", "Axolotl " + "x" * (long_line - 8), "axolotl")
    feeds = 200_000 if long else 20_000
    ok("text/form-feeds.txt", "\f" * feeds + "Kiwis cannot fly.\n", "kiwis fly")
    over = (300 << 20) if long else (2 << 20)
    _sparse(root / "text" / "over-the-cap.txt", over)
    cap = "32 MiB" if long else "1 MiB"
    why = f"file too large ({over >> 20} MiB > cap of {cap} for text, Markdown and HTML)"
    ex.append(Expect("text/over-the-cap.txt", "skipped", why))

    # ---- markup
    page = (
        "<!doctype html><html><head><title>Storks</title><script>" + HIDDEN_SCRIPT + "</script></head>"
        '<body onload="' + HIDDEN_SCRIPT + '"><h1>White storks</h1>'
        "<p>White storks migrate from Europe to Africa every winter.</p>"
        '<iframe src="javascript:' + HIDDEN_SCRIPT + '"></iframe>'
        '<img src=x onerror="' + HIDDEN_SCRIPT + '"><a href="javascript:void(0)">link</a>'
        "<p>Storks build large nests on chimneys and church towers.</p></body></html>"
    )
    ok("web/scripts.html", page, "storks migrate africa")
    ok(
        "web/raw-html.md",
        "# Flamingos\n\n<script>" + HIDDEN_SCRIPT + '</script>\n\n<div onclick="x()">Flamingos filter '
        'shrimp from salty lakes.</div>\n\n<iframe src="https://example.org"></iframe>\n',
        "flamingos shrimp",
    )
    bad(
        "web/only-script.html",
        "<html><body><script>" + HIDDEN_SCRIPT + "</script></body></html>",
        "no readable text in the HTML",
    )

    # ---- file names
    for rel, animal in (
        ("names/name with spaces.txt", "Capybaras"),
        ("names/ünïcødé 名前.txt", "Pandas"),
        ("names/-leading-dash.txt", "Wombats"),
        ("names/--help.txt", "Okapis"),
        ("names/a..b.txt", "Tapirs"),
        ("names/e\u0301-decomposed.txt", "Quokkas"),
        ("names/per%2e%2ecent #hash ?query.txt", "Meerkats"),
        ("names/back\\slash.txt", "Pangolins"),
    ):
        ok(rel, f"{animal} live here and nowhere else.\n", animal.lower())
    _write(root, "names/..dotdot-hidden.txt", "Hidden by its leading dot.\n")
    ex.append(Expect("names/..dotdot-hidden.txt", "absent"))
    bad("other/report.pptx", b"PK\x03\x04" + rng.randbytes(500), "unsupported file type '.pptx'")
    bad_name = os.fsencode(root / "names") + b"/bad-\xff\xfe.txt"
    with open(bad_name, "wb") as f:
        f.write(b"A fine text under a name that is not UTF-8.\n")
    ex.append(Expect("names/bad-\\xff\\xfe.txt", "skipped", "file name is not valid UTF-8 (rename the file)"))

    # ---- links and special files
    links = root / "links"
    links.mkdir()
    (links / "leak.txt").symlink_to(outside / "secret.txt")
    ex.append(Expect("links/leak.txt", "skipped", "symlink points outside the corpus"))
    (links / "alias.txt").symlink_to(root / "good.txt")
    ex.append(Expect("links/alias.txt", "ok", words="apple orchards kashmir"))
    (links / "dangling.txt").symlink_to(links / "nowhere.txt")
    (links / "cycle-a.txt").symlink_to(links / "cycle-b.txt")
    (links / "cycle-b.txt").symlink_to(links / "cycle-a.txt")
    for rel in ("links/dangling.txt", "links/cycle-a.txt", "links/cycle-b.txt"):
        ex.append(Expect(rel, "skipped", "broken symlink or symlink loop"))
    (links / "loop").symlink_to(links, target_is_directory=True)
    ex.append(Expect("links/loop", "skipped", "symlinked folder not followed"))
    (links / "outside-dir").symlink_to(outside, target_is_directory=True)
    ex.append(Expect("links/outside-dir", "skipped", "symlinked folder not followed"))
    (root / "special").mkdir()
    os.mkfifo(root / "special" / "pipe.txt")
    ex.append(Expect("special/pipe.txt", "skipped", "not a regular file (named pipe)"))
    sock_path = root / "special" / "socket.md"
    if len(os.fsencode(sock_path)) < 100:  # AF_UNIX paths are short
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(os.fsdecode(sock_path))
        ex.append(Expect("special/socket.md", "skipped", "not a regular file (socket)"))
    return ex
