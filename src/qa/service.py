"""The process's one loaded index, shared by every request of `qa serve` (the REST API and the chat).

Every request takes one reference to the index and uses only that, so an upload that re-indexes and swaps
in a new `Index` never changes an answer in flight.
"""

import contextlib
import os
import sys
import threading
from pathlib import Path

from qa import pageview
from qa.config import Settings
from qa.links import doc_links
from qa.milvus import Location
from qa.uploads import (
    UPLOAD_FOLDER,
    UploadRejected,
    check_content,
    free_name,
    sanitize_filename,
    storage_error,
    validate_readable,
)

DEFAULT_MAX_UPLOAD = 25 * 1024 * 1024
# How long an upload to an index in Milvus waits for another replica's update before it is refused (503).
UPLOAD_WAIT_S = 300


class Service:
    """The process's one index (and, through it, one model), swapped atomically after uploads."""

    def __init__(self, settings: Settings, max_upload: int = DEFAULT_MAX_UPLOAD, index=None) -> None:
        from qa.index import load_index

        self.settings = settings
        self.corpus = Path(settings.corpus)
        self.max_upload = max_upload
        self.index = index if index is not None else load_index(settings.index)
        self._update = threading.Lock()  # one re-index at a time; readers never wait on it

    @property
    def index(self):
        """The index to answer from; one shared in Milvus is reloaded when another replica updated it."""
        self._index = self._index.latest()
        return self._index

    @index.setter
    def index(self, value) -> None:
        self._index = value

    def warm_up(self) -> None:
        """Load the model now, not on the first question."""
        self.index.embed_query("warm up")

    def ask(self, question: str, history: list | None = None, docs: list[str] | None = None, k: int = 8):
        idx = self.index  # one reference per request: a swap after an upload cannot change it mid-answer
        return idx.ask(question, history=history, docs=docs or None, k=k)

    def status(self) -> dict:
        # A replica answering from an index in Milvus may have no corpus folder: describe the index alone.
        st = self.index.status(self.corpus if self.corpus.is_dir() else None, self.settings)
        st["uploads"] = {"folder": f"{UPLOAD_FOLDER}/", "max_bytes": self.max_upload}
        return st

    def documents(self) -> list[dict]:
        return [document_entry(f) for _, f in sorted(self.index.documents.items())]

    @staticmethod
    def find_doc(idx, doc_id: str) -> str | None:
        """The id of a document in the index, or None. Only exact ids are served: nothing is guessed."""
        # A backslash is an ordinary character of a POSIX file name; ids only ever match exactly.
        if not doc_id or "\x00" in doc_id or doc_id.startswith("/"):
            return None
        if any(part in ("..", ".", "") for part in doc_id.split("/")):
            return None
        return doc_id if doc_id in idx.documents else None

    def page(self, doc_id: str, n: int) -> dict | None:
        idx = self.index
        doc = self.find_doc(idx, doc_id)
        page = idx.pages.get((doc, n)) if doc else None
        if page is None:
            return None
        rows = idx.doc_rows.get(doc, [])
        chunks = [idx.chunks[int(i)] for i in rows if idx.chunks[int(i)].page == n]
        meta = idx.documents[doc]
        return {
            "doc": doc,
            "title": meta.get("title"),
            "format": meta.get("format"),
            "pages": meta.get("pages"),
            "page": n,
            "label": page.label,
            "text": page.text,
            "headings": page.to_dict()["headings"],
            "ocr": page.ocr,
            "chunks": [
                {
                    "id": c.id,
                    "start": c.start,
                    "end": c.end,
                    "section": list(c.section),
                    "kind": c.kind,
                    "sentences": [list(s) for s in c.sentences],
                    "text": c.text,
                }
                for c in chunks
            ],
        }

    def file_path(self, doc_id: str) -> tuple[Path, str] | None:
        """The original file of an indexed document, only if it really lies inside the corpus."""
        idx = self.index
        doc = self.find_doc(idx, doc_id)
        if doc is None:
            return None
        root = self.corpus.resolve()
        target = (self.corpus / doc).resolve()  # follows symlinks: a link out of the corpus is refused
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target, idx.documents[doc].get("format", "text")

    def page_image(self, doc_id: str, n: int) -> bytes | None:
        """Page ``n`` of an indexed PDF as PNG, or None."""
        found = self.file_path(doc_id)
        if found is None or found[1] != "pdf" or (doc_id, n) not in self.index.pages:
            return None
        return pageview.render_png(found[0], n)

    def placement(self, view: dict, start: int | None, end: int | None):
        """Where [start, end) of a page view's text is on its rendered PDF page (None: not a PDF)."""
        found = self.file_path(view["doc"]) if view["format"] == "pdf" else None
        if found is None:
            return None
        return pageview.place_quote(found[0], view["page"], view["text"], start, end, view["ocr"])

    @contextlib.contextmanager
    def _shared_update(self, name: str, progress):
        """An index in Milvus is shared by replicas: one update at a time across all of them, held from
        choosing the file's name to the alias swap (``qa.milvus.lock``, in the corpus folder they share).
        A folder index has this one process, which ``_update`` serialises."""
        if not isinstance(self.settings.index, Location):
            yield
            return
        from qa.milvus.lock import NoCorpus, update_lock

        def say(message: str) -> None:
            print(f"qa serve: {message}", file=sys.stderr, flush=True)
            if progress:
                progress("waiting for another update", 0, 1)

        def busy(message: str) -> UploadRejected:
            return UploadRejected(f"{message}; nothing was saved", 503)

        try:
            with update_lock(self.corpus, f"the upload of {name}", say, UPLOAD_WAIT_S, busy):
                yield
        except NoCorpus:
            raise UploadRejected(
                f"this replica has no corpus folder ({self.corpus}): upload through a replica that shares it",
                503,
            ) from None

    def upload(self, filename: str, data: bytes, progress=None) -> dict:
        """Check, save under corpus/uploads/ and index one file; a rejected file changes nothing."""
        from qa.build import build_index
        from qa.index import load_index
        from qa.ingest import sha256_file

        name = sanitize_filename(filename)
        check_content(name, data, self.max_upload)
        with self._update:
            meta, n_chunks = validate_readable(name, data, self.settings)
            with self._shared_update(name, progress):
                folder = self.corpus / UPLOAD_FOLDER
                folder.mkdir(parents=True, exist_ok=True)
                dest, same = free_name(folder, name, data, sha256_file)
                rel = dest.relative_to(self.corpus).as_posix()
                if same and rel in self.index.documents:
                    return {"status": "unchanged", "doc": rel, "message": f"{rel} is already in the corpus"}
                # A dot file is not a corpus file: no build can see it half-written.
                part = folder / f".{dest.name}.part"
                old = self.index
                try:
                    part.write_bytes(data)
                    os.replace(part, dest)
                    report = build_index(
                        self.corpus,
                        self.settings.index,
                        self.settings,
                        embedder=old.embedder,
                        progress=progress,
                    )
                    new = load_index(self.settings.index, embedder=old.embedder)
                except BaseException as e:
                    part.unlink(missing_ok=True)
                    dest.unlink(missing_ok=True)
                    if isinstance(e, OSError):  # disk full, quota, I/O error: say so, not a bare 500
                        raise storage_error(name, e) from None
                    raise
                if rel not in new.documents:  # the build skipped it after all: undo, keep the old index
                    dest.unlink(missing_ok=True)
                    reason = next((s["reason"] for s in report["skipped"] if s["path"] == rel), "not indexed")
                    build_index(self.corpus, self.settings.index, self.settings, embedder=old.embedder)
                    raise UploadRejected(f"cannot index {name}: {reason}", 422)
                self.index = new  # the swap: requests that already hold `old` finish with it
        entry = document_entry(new.documents[rel])
        return {
            "status": "added",
            "doc": rel,
            "title": entry["title"] or meta["title"],
            "format": entry["format"],
            "pages": entry["pages"],
            "chunks": entry["chunks"] or n_chunks,
            "links": entry["links"],
            "summary": report["summary"],
            "message": f"added {rel} ({_n(entry['pages'], 'page')}, {_n(entry['chunks'], 'chunk')})",
        }


def _n(count, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def document_entry(f: dict) -> dict:
    keys = ("path", "title", "format", "pages", "chunks", "url", "bytes")
    out = {k: f.get(k) for k in keys}
    out["id"] = f["path"]
    out["links"] = doc_links(f["path"], f.get("format"))
    return out
