"""A ``milvus-lite server`` on a free loopback port: the real Milvus gRPC API in one local process, for tests,
the bench and trying the Milvus store on one machine (a deployment runs Milvus itself: docs/deploy.md)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def milvus_lite_server(data_dir: Path, timeout_s: float = 60) -> Iterator[str]:
    """Start ``milvus-lite server`` with its data in ``data_dir``; yields its URI; stops it on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited: {proc.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"milvus-lite server did not listen on port {port} in {timeout_s:.0f} s")
            time.sleep(0.2)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
