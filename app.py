"""Start the chat on the shipped corpus: `python app.py` (what `make run` does)."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch or faiss load

from qa.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["serve", "--build"]))
