"""Question files → rows ``{id, question, answers[, doc, pages, type, ...]}``: JSON lines, SQuAD 2.0 JSON and
CSV. An empty ``answers`` list means unanswerable; fields the evaluation does not know are kept. A malformed
file raises one UsageError naming the line (or, in SQuAD JSON, the entry)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from qa.errors import UsageError

FORMATS = ("jsonl", "squad", "csv")


def load_questions(path: str | Path, fmt: str | None = None) -> list[dict]:
    """Read a question file; ``fmt`` is one of FORMATS, else chosen from the suffix (.json SQuAD, .csv)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"question file not found: {path}")
    fmt = fmt or {".json": "squad", ".csv": "csv"}.get(path.suffix.lower(), "jsonl")
    if fmt not in FORMATS:
        raise UsageError(f"unknown question format {fmt!r} (one of {', '.join(FORMATS)})")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    rows = {"jsonl": _jsonl, "squad": _squad, "csv": _csv}[fmt](path, text)
    if not rows:
        raise UsageError(f"{path} has no questions")
    seen: dict[str, int] = {}
    for row in rows:
        seen[row["id"]] = seen.get(row["id"], 0) + 1
    dup = sorted(k for k, v in seen.items() if v > 1)
    if dup:
        raise UsageError(f"{path}: question ids must be unique; repeated: {', '.join(dup[:5])}")
    return rows


def _jsonl(path: Path, text: str) -> list[dict]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{path}:{n}: not valid JSON") from None
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("question"), str)
            or not isinstance(row.get("answers", []), list)
        ):
            raise UsageError(f"{path}:{n}: each line needs 'question' (text) and 'answers' (list)")
        row.setdefault("id", f"q{n}")
        row.setdefault("answers", [])
        _check_row(path, n, row)
        out.append(row)
    return out


def _check_row(path: Path, where, row: dict) -> None:
    row["id"] = str(row["id"])
    if not all(isinstance(a, str) for a in row["answers"]):
        raise UsageError(f"{path}:{where}: 'answers' must be a list of strings")
    pages = row.get("pages")
    if pages is not None and (
        not isinstance(pages, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in pages)
    ):
        raise UsageError(f"{path}:{where}: 'pages' must be a list of page numbers")


def _squad(path: Path, text: str) -> list[dict]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UsageError(f'{path}: a SQuAD file is {{"data": [{{"title", "paragraphs": [...]}}]}}')
    out = []
    for a, article in enumerate(data["data"]):
        where = f"data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise UsageError(f"{path}: {where} needs 'paragraphs' (a list)")
        for p, para in enumerate(article["paragraphs"]):
            if not isinstance(para, dict) or not isinstance(para.get("qas"), list):
                raise UsageError(f"{path}: {where}.paragraphs[{p}] needs 'qas' (a list)")
            for q, qa in enumerate(para["qas"]):
                at = f"{where}.paragraphs[{p}].qas[{q}]"
                out.append(_squad_row(path, at, qa, article.get("title")))
    return out


def _squad_row(path: Path, at: str, qa: dict, title) -> dict:
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        raise UsageError(f"{path}: {at} needs 'question' (text)")
    answers = qa.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(x, dict) and "text" in x for x in answers):
        raise UsageError(f"{path}: {at}: 'answers' must be a list of {{'text', 'answer_start'}}")
    row = {k: v for k, v in qa.items() if k not in ("answers", "is_impossible")}
    row.setdefault("id", at)
    golds = [] if qa.get("is_impossible") else list(dict.fromkeys(x["text"] for x in answers))
    row["answers"] = golds
    if title is not None:
        row.setdefault("doc", title)
    _check_row(path, at, row)
    return row


def _csv(path: Path, text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = reader.fieldnames or []
    if "question" not in fields or "answer" not in fields:
        raise UsageError(f"{path}:1: the header needs 'question' and 'answer' columns (then doc, pages)")
    out = []
    for row in reader:
        n = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise UsageError(f"{path}:{n}: {len(fields)} columns expected")
        rec = {k: v for k, v in row.items() if k not in ("answer", "pages") and v != ""}
        if not row["question"].strip():
            raise UsageError(f"{path}:{n}: the question is empty")
        rec["question"] = row["question"]
        rec.setdefault("id", f"q{n}")
        rec["answers"] = [row["answer"]] if row["answer"].strip() else []
        if row.get("pages", "").strip():
            try:
                rec["pages"] = [int(p) for p in row["pages"].replace(",", ";").split(";") if p.strip()]
            except ValueError:
                raise UsageError(f"{path}:{n}: pages are numbers separated by ';' (\"3;4\")") from None
        _check_row(path, n, rec)
        out.append(rec)
    return out
