"""One update of a shared index at a time, across processes and machines: an exclusive ``flock`` on a file
in the corpus folder that every replica taking uploads shares.

An update of the index in Milvus reads the live generation, builds, writes the standby generation and
moves the alias. Two at once would write the same standby and one would lose the other's documents, so
each holds this lock from before it reads the live generation until after the alias has moved. Milvus has
no lock of its own (an alias moves unconditionally, and a "lock" row or collection outlives a writer that
crashed: it needs a lease that expires, and a writer slower than its lease loses it without knowing). The
kernel releases a ``flock`` when its holder exits or crashes, and the replicas that take uploads already
share the corpus folder (NFS v4, EFS and CephFS hold ``flock`` across their clients).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from qa.errors import QAError, UsageError

LOCK_FILE = ".qa-update.lock"  # a dot file: never a document of the corpus (qa.ingest skips them)
SAY_EVERY_S = 30.0
POLL_S = 0.1

_held = threading.local()  # paths this thread holds, with how many times: the lock is re-entrant per thread


class UpdateBusy(QAError):
    """Another update held the lock for longer than this one would wait."""


class NoCorpus(UsageError):
    """There is no corpus folder to lock: no update of a shared index without one, since an update reads
    the whole corpus and from none it would remove every document."""


def _say(message: str) -> None:
    print(f"qa: {message}", file=sys.stderr, flush=True)


def holder(path: Path) -> str:
    """Who holds (or last held) the lock, as its holder wrote it, for a waiting update to name."""
    try:
        h = json.loads(path.read_text(encoding="utf-8"))
        return f"{h['what']}, pid {h['pid']} on {h['host']}, since {h['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _open(path: Path) -> tuple[int | None, bool]:
    """A descriptor to lock (read-write, or read-only on a read-only corpus), and whether it is writable."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666), True
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    try:
        return os.open(path, os.O_RDONLY), False
    except OSError:
        return None, False


@contextlib.contextmanager
def update_lock(
    folder: str | Path,
    what: str,
    say: Callable[[str], None] | None = None,
    timeout_s: float | None = None,
    busy: Callable[[str], Exception] = UpdateBusy,
) -> Iterator[None]:
    """Hold the update lock of ``folder`` (a corpus) for the block; ``what`` names this update to whoever
    waits. A busy lock is waited for, said through ``say`` (stderr by default) at once and every
    SAY_EVERY_S; past ``timeout_s`` (None: no limit) ``busy(message)`` is raised, the message naming the
    holder. No folder: ``NoCorpus``, nothing held. Re-entrant within one thread; another thread or process
    waits."""
    say = say or _say
    path = Path(folder).resolve() / LOCK_FILE
    if not path.parent.is_dir():
        raise NoCorpus(f"corpus folder not found: {folder} (an update reads the whole corpus)")
    held: dict[Path, int] = _held.__dict__.setdefault("paths", {})
    if held.get(path):
        held[path] += 1
        try:
            yield
        finally:
            held[path] -= 1
        return
    fd, writable = _open(path)
    if fd is None:
        say(f"cannot lock {path} (read-only): updates of this index from elsewhere are not serialised")
        yield
        return
    try:
        _acquire(fd, path, what, say, timeout_s, busy)
        if writable:
            since = datetime.now().astimezone().isoformat(timespec="seconds")
            me = {"what": what, "pid": os.getpid(), "host": socket.gethostname(), "since": since}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
        held[path] = 1
        try:
            yield
        finally:
            del held[path]
    finally:
        os.close(fd)  # releases the lock; so does the holder's exit or crash


def _acquire(fd: int, path: Path, what: str, say, timeout_s: float | None, busy) -> None:
    start = time.monotonic()
    told = None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if told is not None:
                say(f"{what} goes on: the other update finished after {time.monotonic() - start:.0f} s")
            return
        except BlockingIOError:
            pass
        waited = time.monotonic() - start
        if timeout_s is not None and waited >= timeout_s:
            raise busy(
                f"another update of the index is running ({holder(path)}) and has held it for over "
                f"{timeout_s:.0f} s; {what} did not start: try again when it has finished"
            )
        if told is None:
            told = waited
            say(f"{what} waits for another update of the index to finish ({holder(path)})")
        elif waited - told >= SAY_EVERY_S:
            told = waited
            say(f"{what} still waits, {waited:.0f} s so far ({holder(path)})")
        time.sleep(POLL_S)
