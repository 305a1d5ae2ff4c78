"""The JSON contract of an answer (`qa ask --json`, `POST /api/ask`, `Answer.to_dict()`), shared by tests."""

ANSWER_KEYS = [
    "question",
    "answer",
    "display",
    "kind",  # answer | evidence | abstain
    "abstained",
    "confidence",
    "message",
    "highlights",
    "citations",
    "related",
    "hits",
]
CITATION_KEYS = {
    "n",
    "doc",
    "path",
    "title",
    "page",
    "label",
    "section",
    "start",
    "end",
    "quote",
    "url",
    "score",
    "references",
    "evidence",
    "ocr",
}
HIT_KEYS = {"rank", "chunk_id", "doc", "page", "section", "score", "dense", "lexical", "start", "end", "text"}
