"""The report's own pictures, drawn from a run folder's raw files alone.

- ``report_trajectory.png`` from ``trajectory.csv``: the true and estimated paths in the
  site plane and, with truth, the position error (estimate against truth) over time;
- ``report_timeline.png`` from ``events.csv``: what the task was doing over time, one
  lane per kind of activity (a Gantt chart), and how the run ended;
- ``report_energy.png`` from the ``energy_used_wh`` column of ``trajectory.csv``: the
  energy drawn from the battery over time and the mean power.

Drawn with matplotlib's object API (no ``pyplot``), as :mod:`.pictures`.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .pictures import DPI, PictureError

__all__ = [
    "Span",
    "Timeline",
    "activity_lane",
    "read_columns",
    "read_timeline",
    "write_energy_plot",
    "write_timeline_plot",
    "write_trajectory_plot",
]

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

MAX_LANES: Final = 14
"""Kinds of activity drawn as their own lane; the rest share an "other" lane."""
_LANE_COLOURS: Final = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#5254a3",
)  # fmt: skip


def read_columns(path: Path) -> dict[str, FloatArray]:
    """The numeric columns of a CSV with a header row, by name (a cell that is not a
    number reads as NaN)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    out: dict[str, FloatArray] = {}
    for k, name in enumerate(header):
        values = np.full(len(body), np.nan)
        for i, row in enumerate(body):
            if k < len(row):
                with contextlib.suppress(ValueError):  # not a number: NaN
                    values[i] = float(row[k])
        out[name] = values
    return out


# ------------------------------------------------------------------------ timeline
@dataclass(frozen=True, slots=True)
class Span:
    """One stretch of one activity."""

    lane: str
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class Timeline:
    spans: tuple[Span, ...]
    lanes: tuple[str, ...]
    """Kinds of activity in order of first appearance (``other`` last, if any)."""
    end_s: float
    ending: str
    """How the run ended (the ``end: ...`` row), or empty."""


_WORDY_PARENTHESIS = re.compile(r"\(([A-Za-z][A-Za-z _-]*)\)")
_PARENTHESIS = re.compile(r"\([^)]*\)")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:/\d+)?")


def activity_lane(text: str) -> str:
    """The kind of an activity, for its lane: the word in parentheses where there is one
    (``step 3/12 (turn)`` → ``turn``, ``goal 2/20 (following), 1 reached`` →
    ``following``), else its first clause without numbers (``dig 4 (layer 1, lane 2); 3
    dumps`` → ``dig``, ``load 2: dump at (1.0, 2.0); ...`` → ``load: dump at``)."""
    wordy = _WORDY_PARENTHESIS.search(text)
    if wordy:
        return wordy.group(1).strip()
    first = text.split(";")[0]
    first = _PARENTHESIS.sub("", first)
    first = _NUMBER.sub("", first)
    first = re.sub(r"\s+", " ", first).replace(" :", ":").strip(" ,:")
    return first or text.strip() or "?"


def read_timeline(path: Path) -> Timeline:
    """The spans of ``events.csv`` (rows ``t_s, event``; a last row ``end: ...``)."""
    events: list[tuple[float, str]] = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if len(row) >= 2:
                try:
                    events.append((float(row[0]), row[1]))
                except ValueError:
                    continue
    ending = ""
    if events and events[-1][1].startswith("end:"):
        end_s, ending = events[-1][0], events[-1][1][len("end:") :].strip()
        events = events[:-1]
    else:
        end_s = events[-1][0] if events else 0.0
    spans = []
    for k, (t, text) in enumerate(events):
        stop = events[k + 1][0] if k + 1 < len(events) else end_s
        if stop > t:  # an activity reported at the very end took no time
            spans.append(Span(activity_lane(text), t, stop, text))
    totals: dict[str, float] = {}
    for s in spans:
        totals[s.lane] = totals.get(s.lane, 0.0) + (s.end_s - s.start_s)
    lanes = list(dict.fromkeys(s.lane for s in spans))
    if len(lanes) > MAX_LANES:
        keep = set(sorted(lanes, key=lambda n: -totals[n])[: MAX_LANES - 1])
        spans = [s if s.lane in keep else Span("other", s.start_s, s.end_s, s.text) for s in spans]
        lanes = [n for n in lanes if n in keep] + ["other"]
    return Timeline(tuple(spans), tuple(lanes), end_s, ending)


# ------------------------------------------------------------------------ drawing
def _figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> None:
    try:
        fig.savefig(path, dpi=DPI, format="png")
    except OSError as exc:
        raise PictureError(f"cannot write {path}: {exc}") from exc
    _log.debug("wrote %s", path)


def write_trajectory_plot(columns: dict[str, FloatArray], path: Path, title: str) -> bool:
    """Paths in the plane and, with truth, the error over time; False (nothing written)
    when ``columns`` has no estimated path."""
    if "est_x_m" not in columns or "est_y_m" not in columns or "t_s" not in columns:
        return False
    t = columns["t_s"]
    est = np.column_stack([columns["est_x_m"], columns["est_y_m"]])
    has_truth = "true_x_m" in columns and "true_y_m" in columns
    fig = _figure(12.0, 5.0) if has_truth else _figure(7.0, 6.0)
    axes = fig.subplots(1, 2, width_ratios=[1.0, 1.3]) if has_truth else [fig.subplots()]
    ax = axes[0]
    if has_truth:
        ax.plot(columns["true_x_m"], columns["true_y_m"], color="#d62728", lw=1.8, label="true")
    ax.plot(est[:, 0], est[:, 1], color="#1f77b4", lw=1.2, ls="--", label="estimated")
    ax.plot(est[0, 0], est[0, 1], "o", color="black", ms=5, label="start")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x (east), m")
    ax.set_ylabel("y (north), m")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    ax.set_title("paths in the site plane")
    if has_truth:
        err = np.hypot(columns["true_x_m"] - est[:, 0], columns["true_y_m"] - est[:, 1])
        ax2 = axes[1]
        ax2.plot(t, err, color="#d62728", lw=1.2, label="position error")
        if "true_yaw_rad" in columns and "est_yaw_rad" in columns:
            yaw = np.angle(np.exp(1j * (columns["est_yaw_rad"] - columns["true_yaw_rad"])))
            twin = ax2.twinx()
            twin.plot(t, np.degrees(yaw), color="#7f7f7f", lw=0.9, label="heading error")
            twin.set_ylabel("heading error (estimate − truth), °", color="#555555")
        ax2.set_xlabel("time, s")
        ax2.set_ylabel("position error (estimate vs truth), m", color="#d62728")
        ax2.grid(alpha=0.3)
        ax2.set_title("estimate against truth")
    fig.suptitle(title)
    _save(fig, path)
    return True


def write_timeline_plot(timeline: Timeline, path: Path, title: str) -> bool:
    """The Gantt chart of the task's activities; False when there are none."""
    if not timeline.spans:
        return False
    lanes = list(timeline.lanes)
    fig = _figure(12.0, 1.2 + 0.36 * len(lanes))
    ax = fig.subplots()
    for k, lane in enumerate(lanes):
        bars = [(s.start_s, s.end_s - s.start_s) for s in timeline.spans if s.lane == lane]
        ax.broken_barh(
            bars,
            (k - 0.38, 0.76),
            facecolors=_LANE_COLOURS[k % len(_LANE_COLOURS)],
            edgecolor="white",
            linewidth=0.4,
        )
    ax.set_yticks(range(len(lanes)), labels=lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.axvline(timeline.end_s, color="black", lw=1.0, ls=":")
    ax.set_xlim(0.0, max(timeline.end_s, 1e-3) * 1.01)
    ax.set_xlabel("time, s")
    ax.grid(axis="x", alpha=0.3)
    ending = f" — ended: {timeline.ending}" if timeline.ending else ""
    ax.set_title(f"{title}{ending}", fontsize=10)
    _save(fig, path)
    return True


def write_energy_plot(t_s: FloatArray, energy_wh: FloatArray, path: Path, title: str) -> bool:
    """Energy drawn over time and the mean power; False when there are no finite values."""
    ok = np.isfinite(t_s) & np.isfinite(energy_wh)
    if ok.sum() < 2:
        return False
    t, e = t_s[ok], energy_wh[ok]
    fig = _figure(10.0, 3.6)
    ax = fig.subplots()
    ax.plot(t, e, color="#ff7f0e", lw=1.5)
    ax.fill_between(t, e, color="#ff7f0e", alpha=0.15)
    duration = float(t[-1] - t[0])
    mean_w = 3600.0 * float(e[-1] - e[0]) / duration if duration > 0.0 else 0.0
    ax.set_xlabel("time, s")
    ax.set_ylabel("energy drawn, Wh")
    ax.grid(alpha=0.3)
    ax.set_title(f"{title}: {float(e[-1]):.4g} Wh in {duration:.1f} s, mean {mean_w:.3g} W")
    _save(fig, path)
    return True
