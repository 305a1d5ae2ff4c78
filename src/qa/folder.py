"""The index folder on disk: JSON lines, checksums, and the safe replacement of one index by another.

A build writes its new index into a fresh folder beside the old one and swaps it in by two renames; a
build killed half-way leaves folders whose names carry its pid, and ``recover`` finishes or removes them, so
an index is always the old one or the new one, whole."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from qa.ingest import sha256_file


def write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of each index file but the manifest, by relative path: a swapped or damaged file shows."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def fsync_dir(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead(folder: Path) -> bool:
    """Whether the build that made ``.<name>.tmp-<pid>`` / ``.<name>.old-<pid>`` is gone."""
    pid = folder.name.rsplit("-", 1)[-1]
    return pid.isdigit() and not _alive(int(pid))


def recover(index: Path) -> None:
    """Finish a swap that a killed build interrupted (the old index moved aside, the new one not moved in)
    and remove what killed builds left behind. A live build's folders are left alone: it is mid-swap."""
    for tmp in index.parent.glob(f".{index.name}.tmp-*"):
        if _dead(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    olds = [old for old in sorted(index.parent.glob(f".{index.name}.old-*")) if _dead(old)]
    if not index.exists():
        for old in olds:
            if (old / "manifest.json").is_file():
                old.rename(index)
                olds.remove(old)
                break
    if index.exists():
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


def swap_in(tmp: Path, index: Path) -> None:
    aside = index.parent / f".{index.name}.old-{os.getpid()}"
    if index.exists():
        index.rename(aside)
    try:
        tmp.rename(index)
    except BaseException:
        if aside.exists() and not index.exists():
            aside.rename(index)  # the new index could not move in: put the old one back
        raise
    shutil.rmtree(aside, ignore_errors=True)


def fresh_tmp(index: Path) -> Path:
    """The folder this build writes the new index into, beside the index (removed if the build fails)."""
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.parent / f".{index.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp
