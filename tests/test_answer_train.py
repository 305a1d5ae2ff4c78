"""`qa train` end to end on a tiny question set: held out by document, seeded, a model file that loads and
answers, and a clear error for a bad set."""

from __future__ import annotations

import json

import pytest

from qa.answer import model as answer_model
from qa.answer.pipeline import ask
from qa.answer.train import train
from qa.errors import UsageError

DOCS = {
    "harbour.txt": (
        "Harbour Notes\n\n"
        "The northern harbour opened in 1998 after four years of work. "
        "It handles 12,000 containers every month. "
        "The harbour master is Anna Berg. "
        "Cranes were bought from Lisbon in 2004. "
        "Fishing boats use the southern quay.\n"
    ),
    "forest.txt": (
        "Forest Notes\n\n"
        "The pine forest covers 340 hectares of the valley. "
        "Rangers planted oaks along the river in 2011. "
        "The forest office is run by Tomas Lind. "
        "Deer are counted each spring by volunteers. "
        "Wildfires are rare because the soil stays wet.\n"
    ),
}
QUESTIONS = [
    ("h1", "harbour", "When did the northern harbour open?", ["1998"]),
    ("h2", "harbour", "How many containers does the harbour handle every month?", ["12,000"]),
    ("h3", "harbour", "Who is the harbour master?", ["Anna Berg"]),
    ("h4", "harbour", "Where were the cranes bought from?", ["Lisbon"]),
    ("h5", "harbour", "Which boats use the southern quay?", ["Fishing boats"]),
    ("h6", "harbour", "How many ferries leave the harbour each day?", []),
    ("f1", "forest", "How large is the pine forest?", ["340 hectares"]),
    ("f2", "forest", "When did rangers plant oaks along the river?", ["2011"]),
    ("f3", "forest", "Who runs the forest office?", ["Tomas Lind"]),
    ("f4", "forest", "When are deer counted?", ["each spring"]),
    ("f5", "forest", "Why are wildfires rare in the forest?", ["the soil stays wet"]),
    ("f6", "forest", "How many wolves live in the forest?", []),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    questions = root / "questions.jsonl"
    rows = [{"id": i, "doc": d, "question": q, "answers": a} for i, d, q, a in QUESTIONS]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = f"tiny={questions}:{corpus}"
    first = train([spec], work=root / "work", out=root / "a.json", seed=3, log=lambda m: None)
    second = train([spec], work=root / "work", out=root / "b.json", seed=3, log=lambda m: None)
    return root, first, second


@pytest.mark.slow
def test_training_writes_a_model_that_loads_and_answers(trained):
    root, result, _ = trained
    model = answer_model.load(root / "a.json")
    assert model.threshold == pytest.approx(result["threshold"], abs=1e-6)
    assert result["training"]["groups"] == 2 and result["training"]["questions"] == len(QUESTIONS)
    held = result["heldout"]["tiny"]
    assert held["questions"] == len(QUESTIONS) and 0.0 <= held["ece"] <= 1.0
    import qa

    index = qa.load_index(next((root / "work").iterdir()))
    ans = ask(index, "Who is the harbour master?", model=model)
    assert ans.abstained or "Anna Berg" in ans.answer


@pytest.mark.slow
def test_training_is_reproducible_from_its_seed(trained):
    root, first, second = trained
    a, b = (json.loads((root / f).read_text()) for f in ("a.json", "b.json"))
    for doc in (a, b):
        doc["training"].pop("trained_at")
    assert a == b
    assert first["training"]["data_sha256"] == second["training"]["data_sha256"]


def test_a_missing_set_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="set 'nope'"):
        train([f"nope={tmp_path / 'none.jsonl'}:{tmp_path}"], work=tmp_path / "w", out=tmp_path / "m.json")
