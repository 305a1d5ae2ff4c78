"""qa: extractive, cited question answering over a folder of documents."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["build_index", "load_index", "__version__"]


def build_index(corpus, index, **kwargs):
    """Build or update the index of ``corpus`` in ``index``; returns the build report (a dict)."""
    from qa.build import build_index as _build

    return _build(corpus, index, **kwargs)


def load_index(index="index", **kwargs):
    """Load a built index; the returned object answers ``search`` and ``ask``."""
    from qa.index import load_index as _load

    return _load(index, **kwargs)
