"""Small question sets over the fake corpus (tests/conftest.py FAKE_DOCS) for the eval and plugin tests.

Each answerable question repeats the words of its sentence, so the fake embedder finds it; the unanswerable
one shares no word with the corpus. ``WRONG`` asks a question the corpus answers, with a gold string it
does not hold, so it fails whatever the answer step quotes."""

from __future__ import annotations

import json
from pathlib import Path

PASSING = [
    {"id": "mango", "type": "place", "question": "Where do Alphonso mangoes ripen?", "answers": ["Konkan"]},
    {
        "id": "scope",
        "type": "fact",
        "question": "What do telescopes observe?",
        "answers": ["distant galaxies"],
    },
    {"id": "cup", "type": "fact", "question": "Who won the football world cup in Qatar?", "answers": []},
]
WRONG = {
    "id": "wrong",
    "type": "place",
    "question": "Where do Alphonso mangoes ripen?",
    "answers": ["Ratnagiri"],
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
