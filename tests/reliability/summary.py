"""What the suite tried, one row per test, written to artifacts/reliability-summary.md and printed at the end.

A test asks for the ``record`` fixture and fills in its row: the area, the inputs tried, the faults
injected, the outcome it checked, what was lost, and free notes (timings, peak memory). pytest's own
result (passed, failed, xfailed) is added to the row, so a failing check can never read as a success. The
file is written only when a long (``reliability``-marked) test ran, so the quick run leaves it alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUMMARY = REPO / "artifacts" / "reliability-summary.md"


@dataclass
class Row:
    test: str
    long: bool
    area: str = ""
    inputs: str = ""
    faults: str = ""
    outcome: str = ""
    lost: str = "nothing"
    notes: list[str] = field(default_factory=list)
    result: str = "not run"
    seconds: float = 0.0


class Summary:
    """A pytest plugin object: collects rows and results, writes the markdown at the end of the session."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.started = time.monotonic()

    def row(self, item: pytest.Item) -> Row:
        long = item.get_closest_marker("reliability") is not None
        self.rows[item.nodeid] = row = Row(test=item.nodeid.split("::", 1)[-1], long=long)
        return row

    def pytest_runtest_logreport(self, report) -> None:
        row = self.rows.get(report.nodeid)
        if row is None:
            return
        if report.when == "call" or report.outcome != "passed":
            row.seconds += report.duration
            if hasattr(report, "wasxfail"):
                row.result = "xfail (known bug, see reason)" if report.skipped else "XPASS: remove the xfail"
            else:
                row.result = report.outcome
        elif report.when == "setup":
            row.seconds += report.duration

    def markdown(self) -> str:
        rows = list(self.rows.values())
        icon = {"passed": "pass", "failed": "**FAIL**", "skipped": "skipped"}
        lines = [
            "# Reliability summary",
            "",
            f"Run {datetime.now(UTC).isoformat(timespec='seconds')}; {len(rows)} checks in "
            f"{time.monotonic() - self.started:.0f} s (`make reliability` runs the long part; the quick "
            "part runs in `make test`).",
            "",
            "| Area | Inputs tried | Faults injected | Outcome | Lost | Result |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            cells = [r.area or r.test, r.inputs, r.faults, r.outcome, r.lost, icon.get(r.result, r.result)]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        lines += ["", "## Details", ""]
        for r in rows:
            lines.append(f"- `{r.test}` ({r.result}, {r.seconds:.1f} s)")
            lines += [f"  - {n}" for n in r.notes]
        return "\n".join(lines) + "\n"

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not any(r.long for r in self.rows.values()):
            return
        text = self.markdown()
        SUMMARY.parent.mkdir(parents=True, exist_ok=True)
        SUMMARY.write_text(text, encoding="utf-8")
        terminalreporter.section("reliability summary")
        for line in text.splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(written to {SUMMARY})")


def plugin(config: pytest.Config) -> Summary:
    """The session's Summary, registered with pytest on first use."""
    found = config.pluginmanager.get_plugin("qa-reliability-summary")
    if found is None:
        found = Summary()
        config.pluginmanager.register(found, "qa-reliability-summary")
    return found
