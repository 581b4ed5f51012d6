"""Progress of a long run on the terminal: a live bar on a terminal, a plain line every
few seconds otherwise (a log, a CI job), so a 30-minute run is never silent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar

from .recorder import Progress, ProgressFn

__all__ = ["LINE_PERIOD_S", "progress_reporter"]

LINE_PERIOD_S = 10.0
"""Wall time between plain progress lines when the output is not a terminal, in s."""


def _rtf(p: Progress) -> str:
    return f"{p.real_time_factor:.1f}× real time" if p.wall_s >= 1.0 else ""


def _line(p: Progress) -> str:
    share = 100.0 * p.elapsed_s / p.time_limit_s if p.time_limit_s > 0 else 0.0
    rtf = _rtf(p)
    return f"  {p.elapsed_s:.0f}/{p.time_limit_s:.0f} s ({share:.0f}%): {p.activity}" + (
        f"; {rtf}" if rtf else ""
    )


@contextmanager
def progress_reporter(console: Console, name: str, *, quiet: bool = False) -> Iterator[ProgressFn]:
    """A progress callback for a run of ``name``, shown on ``console`` while in use."""
    if quiet:
        yield lambda _p: None
        return
    if not console.is_terminal:
        last = [-float("inf")]

        def plain(p: Progress) -> None:
            now = time.monotonic()
            if now - last[0] >= LINE_PERIOD_S:
                last[0] = now
                console.print(_line(p), highlight=False, markup=False)

        yield plain
        return
    with Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TextColumn("{task.fields[activity]}"),
        TextColumn("{task.fields[rtf]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(name, total=1.0, activity="starting", rtf="")

        def live(p: Progress) -> None:
            bar.update(
                task,
                total=p.time_limit_s,
                completed=min(p.elapsed_s, p.time_limit_s),
                activity=p.activity,
                rtf=_rtf(p),
            )

        yield live
