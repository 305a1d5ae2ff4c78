"""One audit hook per test process that records the files opened while it is on (shared by test files)."""

import os
import sys
from pathlib import Path


class OpenRecorder:
    """Every file this process opens while on (an audit hook: it cannot be removed, only muted)."""

    def __init__(self) -> None:
        self.on = False
        self.paths: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if self.on and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            self.paths.append(os.fsdecode(args[0]))

    def outside(self, root: Path) -> list[str]:
        real = root.resolve()
        paths = [p for p in self.paths if not Path(p).resolve().is_relative_to(real)]
        # Python's own reads (module source, site-packages) are not a route reading a file.
        return [p for p in paths if not p.endswith((".py", ".pyc")) and "site-packages" not in p]


_RECORDER: OpenRecorder | None = None


def recorder() -> OpenRecorder:
    global _RECORDER
    if _RECORDER is None:
        _RECORDER = OpenRecorder()
    return _RECORDER
