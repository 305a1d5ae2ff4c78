"""OCR of PDF pages without a text layer: rendered with pypdfium2, read by Tesseract (the CLI, TSV output).

Only a page with no text that holds an image is OCR'd (a blank page has nothing to read), at most
``max_ocr_pages`` per file; pages over the cap, pages where Tesseract is missing or fails, and pages it
finds no words on are reported in the file's warnings, never dropped silently. Each result is cached by a
hash of the rendered page (pixels, resolution, language, Tesseract version), so an update or a rebuild
never OCRs a page twice: the cache lives in the index folder (``ocr.jsonl``) and each build carries it on.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from qa.ingest.corpus import FileReport

DPI = 300
LANG = "eng"
PAGE_TIMEOUT_S = 180
CACHE_FILE = "ocr.jsonl"
INSTALL = "install Debian's tesseract-ocr"


@dataclass(frozen=True)
class OcrResult:
    text: str
    confidence: float | None  # mean word confidence, 0-100; None when no word was read


class OcrCache:
    """OCR results by page key, loaded from an index folder and written into the next one."""

    def __init__(self, entries: dict[str, dict] | None = None) -> None:
        self.entries: dict[str, dict] = entries or {}
        self.used: set[str] = set()
        self.seconds = 0.0  # time spent in Tesseract by this build
        self.pages = 0  # pages OCR'd by this build (not found in the cache)

    @classmethod
    def load(cls, index: Path) -> OcrCache:
        """The cache of an index folder; a missing or damaged file (or line) only costs a new OCR."""
        entries = {}
        try:
            with open(Path(index) / CACHE_FILE, encoding="utf-8") as f:
                for line in f:
                    try:
                        e = json.loads(line)
                        entries[str(e["key"])] = {
                            "doc": str(e.get("doc", "")),
                            "text": str(e["text"]),
                            "confidence": e.get("confidence"),
                        }
                    except (ValueError, KeyError, TypeError):
                        continue
        except OSError:
            pass
        return cls(entries)

    def get(self, key: str, doc: str) -> OcrResult | None:
        e = self.entries.get(key)
        if e is None:
            return None
        e["doc"] = doc
        self.used.add(key)
        return OcrResult(e["text"], e["confidence"])

    def put(self, key: str, doc: str, result: OcrResult) -> None:
        self.entries[key] = {"doc": doc, "text": result.text, "confidence": result.confidence}
        self.used.add(key)

    def save(self, folder: Path, keep_docs: set[str] = frozenset()) -> None:
        """Write to ``folder`` the entries this build used and those of ``keep_docs`` (the unchanged files,
        which were not read again); entries of files gone from the corpus are dropped."""
        keys = sorted(k for k, e in self.entries.items() if k in self.used or e["doc"] in keep_docs)
        if not keys:
            return
        with open(Path(folder) / CACHE_FILE, "w", encoding="utf-8") as f:
            for k in keys:
                f.write(json.dumps({"key": k, **self.entries[k]}, ensure_ascii=False) + "\n")


def tesseract_version() -> str | None:
    """Tesseract's version line, or None when the binary is not installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else "tesseract"


def ocr_empty_pages(
    path: Path, doc: str, texts: list[str], report: FileReport, options, skip: set[int] = frozenset()
) -> tuple[dict[int, OcrResult], list[str]]:
    """OCR the pages of a PDF whose text is empty (but those in ``skip``): {page index: OcrResult} for
    those that gave text, and why the others have none (empty for a page with nothing to OCR).

    Warnings name the pages read by OCR (with their mean confidence) and those left without text."""
    empty = [i for i, t in enumerate(texts) if not t.strip() and i not in skip]
    if not empty:
        return {}, []
    cap = options.max_ocr_pages
    cache = options.ocr_cache if options.ocr_cache is not None else OcrCache()
    progress = options.progress
    found: dict[int, OcrResult] = {}
    unread: list[tuple[int, str]] = []  # (page index, why)
    scanned = _pages_with_images(path, empty)
    unread += [(i, "") for i in empty if i not in scanned]
    if scanned and cap <= 0:
        unread += [(i, "OCR off: QA_MAX_OCR_PAGES=0") for i in scanned]
        scanned = []
    version = tesseract_version() if scanned else None
    if scanned and version is None:
        unread += [(i, f"not OCR'd: tesseract not found ({INSTALL})") for i in scanned]
        scanned = []
    over = scanned[cap:]
    unread += [(i, f"not OCR'd: over the cap of {cap} OCR pages per file, QA_MAX_OCR_PAGES") for i in over]
    todo = scanned[:cap]
    for n, i in enumerate(todo):
        if progress:
            progress("ocr", n, len(todo))
        try:
            result = _ocr_page(path, doc, i, cache, version)
        except OcrFailed as e:
            unread.append((i, f"OCR failed: {e}"))
            continue
        if result.text.strip():
            found[i] = result
        else:
            unread.append((i, "OCR found no text"))
    if progress and todo:
        progress("ocr", len(todo), len(todo))
    if found:
        confs = [r.confidence for r in found.values() if r.confidence is not None]
        mean = f", mean confidence {sum(confs) / len(confs):.0f}" if confs else ""
        report.warnings.append(f"text from OCR (Tesseract) on {_pages(found)}{mean}")
    for why in dict.fromkeys(w for _, w in sorted(unread, key=lambda u: u[1])):
        pages = _pages(i for i, w in unread if w == why)
        report.warnings.append(f"no text layer (scanned?) on {pages}" + (f" ({why})" if why else ""))
    return found, sorted({w for _, w in unread if w})


def _pages(indexes) -> str:
    """0-based page indexes as 1-based "page 2" / "pages 2, 4-5"."""
    from qa.ingest.pdf import ranges

    nums = sorted(i + 1 for i in indexes)
    return f"page{'s' if len(nums) > 1 else ''} {ranges(nums)}"


class OcrFailed(Exception):
    pass


def _pages_with_images(path: Path, indexes: list[int]) -> list[int]:
    """Those of the given pages that hold an image (a scan); a page with no image has nothing to OCR."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    from qa.ingest.pdf import PDFIUM_LOCK

    out = []
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(path)
        except Exception:
            return []
        try:
            for i in indexes:
                try:
                    page = pdf[i]
                    if next(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3), None):
                        out.append(i)
                except Exception:
                    continue
        finally:
            pdf.close()
    return out


def _ocr_page(path: Path, doc: str, i: int, cache: OcrCache, version: str | None) -> OcrResult:
    """The OCR of page ``i`` (0-based): from the cache when this rendering was read before."""
    import io

    import pypdfium2 as pdfium

    from qa.ingest.pdf import PDFIUM_LOCK

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(path)
            try:
                image = pdf[i].render(scale=DPI / 72, grayscale=True).to_pil()
            finally:
                pdf.close()
        except Exception as e:
            raise OcrFailed(f"page could not be rendered ({type(e).__name__})") from None
    key = hashlib.sha256(f"{DPI}:{LANG}:{version}:{image.size}:".encode() + image.tobytes()).hexdigest()
    hit = cache.get(key, doc)
    if hit is not None:
        return hit
    png = io.BytesIO()
    image.save(png, format="PNG")
    t = time.perf_counter()
    result = tesseract(png.getvalue())
    cache.seconds += time.perf_counter() - t
    cache.pages += 1
    cache.put(key, doc, result)
    return result


def tesseract(image: bytes, lang: str = LANG) -> OcrResult:
    """Run Tesseract on an image (PNG bytes) and rebuild its text from the TSV words: words of a line
    joined by spaces, lines by newlines, paragraphs and blocks by a blank line."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise OcrFailed(f"tesseract not found ({INSTALL})")
    cmd = [exe, "stdin", "stdout", "-l", lang, "--dpi", str(DPI), "tsv"]
    try:
        out = subprocess.run(cmd, input=image, capture_output=True, timeout=PAGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"tesseract took over {PAGE_TIMEOUT_S} s") from None
    except OSError as e:
        raise OcrFailed(f"tesseract could not run ({e.strerror})") from None
    if out.returncode != 0:
        err = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrFailed(f"tesseract exit {out.returncode}: {err[-1] if err else ''}".strip())
    return parse_tsv(out.stdout.decode("utf-8", "replace"))


def parse_tsv(tsv: str) -> OcrResult:
    """Text and mean word confidence from Tesseract's TSV (level 5 rows are words)."""
    paras: list[list[list[str]]] = []  # paragraphs → lines → words
    where: tuple | None = None
    confs: list[float] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        if not word or conf < 0:
            continue
        block, par, line = cols[2], cols[3], cols[4]
        if where is None or where[:2] != (block, par):
            paras.append([[]])
        elif where[2] != line:
            paras[-1].append([])
        where = (block, par, line)
        paras[-1][-1].append(word)
        confs.append(conf)
    text = "\n\n".join("\n".join(" ".join(ws) for ws in lines) for lines in paras)
    return OcrResult(text, round(sum(confs) / len(confs), 1) if confs else None)
