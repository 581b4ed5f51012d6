"""Progress on the terminal: never silent on a long run, whether or not it is a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lunarsite.launch import progress as progress_module
from lunarsite.launch.progress import LINE_PERIOD_S, progress_reporter
from lunarsite.launch.recorder import Progress


def test_plain_lines_every_few_seconds_when_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wall = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: wall[0])
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    with progress_reporter(console, "dig_and_dump") as report:
        for k in range(0, 121):  # two minutes of wall time, a report each second
            wall[0] = float(k)
            report(Progress(14.0 * k, 1800.0, float(k), f"dig {k // 10 + 1}; {k // 10} dumps"))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 120 // LINE_PERIOD_S + 1  # one at the start, then every 10 s
    assert lines[-1] == "  1680/1800 s (93%): dig 13; 12 dumps; 14.0× real time"
    assert lines[0] == "  0/1800 s (0%): dig 1; 0 dumps"  # no rate before a second has passed


def test_quiet_prints_nothing() -> None:
    buf = io.StringIO()
    with progress_reporter(Console(file=buf), "x", quiet=True) as report:
        report(Progress(1.0, 2.0, 1.0, "a"))
    assert buf.getvalue() == ""
