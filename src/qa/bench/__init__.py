"""`qa bench`: the project's speed, memory and scaling, side by side with a plain baseline, in one run.

One run, one machine, so the ratios between figures are what count (timings on shared 2-core machines drift
from run to run). One module per section, plus what they share:

- ``build``: the corpus copied to a temporary folder and indexed in a subprocess (stage timings, peak RSS,
  size on disk), then one line appended to its smallest text file and the index updated; the same for a
  corpus of PDFs (extraction, OCR and embedding apart); each against ``baseline`` (fixed 200-word windows,
  the same model on torch, flat FAISS), built and served in subprocesses too (``workers``);
- ``answering``: the query-embedding floor, warm retrieval and ``ask`` latency, cold start (``qa ask`` in a
  new process) against loading the model alone, serving peak RSS against the baseline's;
- ``api``: the REST API when qa.server offers ``create_app``;
- ``scaling``: the VectorStore kinds flat, hnsw and ivf over synthetic vectors with planted neighbours;
- ``goals``, ``report``, ``plots``: the targets, the markdown summary and the PNGs; ``run`` ties them
  together, ``command`` is the CLI.

Writes ``<date>-<host>.json`` (every figure with its unit in its key's suffix), a markdown summary and PNG
plots. Tests check the schema, never times.
"""

from qa.bench.command import add_parser

__all__ = ["add_parser"]
