"""`qa serve` in a subprocess on a free port of 127.0.0.1, for tests that need a real uvicorn server."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from reliability.faults import qa_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def qa_server(index: Path, corpus: Path, log: Path, *extra: str, timeout: float = 180) -> Iterator[str]:
    """Start `qa serve` and yield its base URL once /api/status answers; stop it afterwards."""
    import httpx

    port = free_port()
    cmd = qa_command("serve", "--index", str(index), "--corpus", str(corpus), "--port", str(port), *extra)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"qa serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
                )
            try:
                if httpx.get(f"{url}/api/status", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"qa serve did not start in {timeout} s:\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
