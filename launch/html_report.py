"""``report.html``: one page for a run folder or a campaign folder, built from its raw
files alone, so the end of a run and ``lunarsite report FOLDER`` give the same page.

A run folder's page (:func:`write_run_report`) shows what ran (scenario, file, rover,
backend, seed), how it ended (status, reason), the acceptance criteria and each check,
every scalar of ``metrics.json`` grouped (lists of records as tables), the trajectory,
the task timeline and the energy over time (pictures drawn next to it by
:mod:`.report_plots`), every other picture in the folder, the video if there is one, and
links to the raw files. A campaign folder (one with ``campaign.json``) gets the page of
:mod:`.campaign_report`. Links are relative: the folder can be moved or zipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from . import report_page as hp
from .report_plots import (
    Timeline,
    read_columns,
    read_timeline,
    write_energy_plot,
    write_timeline_plot,
    write_trajectory_plot,
)

__all__ = ["REPORT_NAME", "ReportError", "write_report", "write_run_report"]

log = logging.getLogger(__name__)

REPORT_NAME: Final = "report.html"
TRAJECTORY_PNG: Final = "report_trajectory.png"
TIMELINE_PNG: Final = "report_timeline.png"
ENERGY_PNG: Final = "report_energy.png"
OWN_PICTURES: Final = (TRAJECTORY_PNG, TIMELINE_PNG, ENERGY_PNG)

CAPTIONS: Final = {
    "map.png": "The site hill-shaded (sun from the north-west), the true and estimated "
    "paths, the mission's points, rocks and areas",
    "terrain_before.png": "True terrain before the run",
    "terrain_after.png": "True terrain after the run, with the paths",
    "difference.png": "After minus before: blue where soil was cut, red where it was filled",
    "error_after.png": "True ground after the run minus the design",
    "plan.png": "The rover's first plan: cut and fill on its own survey, one arrow per load",
    "belief_end.png": "What the rover believed at the end: the true ground, its own "
    "elevation map on the same scale and the costmap it last planned on",
}
"""Captions of the pictures the run folder writer and the missions make."""
_CAPTION_PREFIXES: Final = {
    "profile_": "The true ground before and after across {name}, with its design",
    "belief_goal_": "What the rover believed when goal {name} failed: the true ground, its "
    "own elevation map and its costmap, with the path it was following",
}
_GROUPS: Final = {
    "Timing": (
        "control_hz",
        "sim_time_s",
        "time_limit_s",
        "wall_time_s",
        "real_time_factor",
        "ticks",
        "video_frames",
    ),
    "Motion and localisation": (
        "distance_estimated_m",
        "distance_driven_m",
        "final_position_error_m",
        "max_position_error_m",
        "final_estimated_pose",
        "final_true_pose",
    ),
    "Safety": ("rock_contacts", "tipped_over", "tip_overs", "left_site", "min_edge_clearance_m"),
    "Energy": ("energy_used_wh",),
}
_SHOWN_ABOVE: Final = {
    "scenario",
    "scenario_file",
    "rover",
    "backend",
    "seed",
    "success",
    "status",
    "reason",
    "ended_by",
    "acceptance",
    "oracle",
    "error",
}
_LIST_PREVIEW: Final = 12


class ReportError(Exception):
    """A report cannot be built: the folder is not a run or campaign folder, or one of
    its files cannot be read. The message names the folder or the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def write_report(folder: Path) -> Path:
    """Build ``report.html`` in ``folder``: a campaign's (``campaign.json``) or a run's
    (``metrics.json``); returns its path.

    Raises:
        ReportError: the folder is neither, or a file it needs cannot be read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(folder, "no such folder")
    if (folder / "campaign.json").is_file():
        from .campaign_report import write_campaign_report

        return write_campaign_report(folder)
    if (folder / "metrics.json").is_file():
        return write_run_report(folder)
    raise ReportError(
        folder, "not a run folder (no metrics.json) nor a campaign folder (no campaign.json)"
    )


def read_json(path: Path) -> Any:
    """A JSON file's contents, or :class:`ReportError` naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(path, f"cannot read: {exc}") from exc


# --------------------------------------------------------------------- run folder
def write_run_report(folder: Path) -> Path:
    """Build ``report.html`` (and its pictures) in a run folder; returns its path.

    Raises:
        ReportError: ``metrics.json`` is missing or unreadable.
    """
    folder = Path(folder)
    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file():
        raise ReportError(folder, "not a run folder (no metrics.json)")
    data = read_json(metrics_path)
    if not isinstance(data, dict):
        raise ReportError(metrics_path, "expected a JSON object")
    name = f"{data.get('scenario', folder.name)} seed {data.get('seed', '?')}"
    sections = [
        _run_section(data),
        _acceptance_section(data),
        _metrics_section(data),
        *_plot_sections(folder, name),
        _pictures_section(folder),
        _video_section(folder),
        _files_section(folder),
    ]
    verdict = bool(data.get("success"))
    badge = (
        '<span class="badge ok">succeeded</span>'
        if verdict
        else '<span class="badge bad">fell short</span>'
    )
    header = (
        f"<h1>{hp.esc(name)} {badge}</h1>"
        f"<p>{hp.esc(data.get('status', '?'))}: {hp.esc(data.get('reason', ''))}"
        f" — ended by {hp.esc(data.get('ended_by', '?'))}</p>"
        f"<p>rover {hp.esc(data.get('rover', '?'))} on {hp.esc(data.get('backend', '?'))}</p>"
    )
    path = folder / REPORT_NAME
    path.write_text(hp.page(f"{name}: run report", header, "\n".join(s for s in sections if s)))
    log.info("report written: %s", path)
    return path


def _run_section(data: Mapping[str, Any]) -> str:
    rows = [
        ("scenario", data.get("scenario")),
        ("scenario file", data.get("scenario_file")),
        ("rover", data.get("rover")),
        ("backend", data.get("backend")),
        ("seed", data.get("seed")),
        ("succeeded", data.get("success")),
        ("status", data.get("status")),
        ("reason", data.get("reason")),
        ("ended by", data.get("ended_by")),
        ("oracle (ground truth given to the controller)", hp.fmt(data.get("oracle"))),
    ]
    if data.get("error"):
        rows.append(("error", data["error"]))
    return hp.section("Run", hp.key_value_table(rows), "run")


def _acceptance_section(data: Mapping[str, Any]) -> str:
    acceptance = data.get("acceptance") or {}
    criteria = acceptance.get("criteria") or {}
    checks = acceptance.get("checks") or {}
    body = "<h3>Criteria</h3>" + (
        hp.key_value_table(_flatten(criteria))
        if criteria
        else '<p class="note">The scenario sets no acceptance criteria.</p>'
    )
    rows = [
        (
            f"<td>{hp.esc(k)}</td>",
            f'<td class="{"ok" if ok else "bad"}">{"✓ pass" if ok else "✗ fail"}</td>',
        )
        for k, ok in checks.items()
    ]
    body += "<h3>Checks</h3>" + (
        hp.table(["check", "result"], rows, raw=True)
        if rows
        else '<p class="note">No checks were made.</p>'
    )
    return hp.section("Acceptance", body, "acceptance")


def _flatten(value: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalars of nested mappings, with dotted keys; lists of scalars as short text."""
    out: list[tuple[str, Any]] = []
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, Mapping):
            out.extend(_flatten(v, f"{name}."))
        elif isinstance(v, list):
            if all(not isinstance(x, Mapping | list) for x in v):
                out.append((name, _list_text(v)))
        else:
            out.append((name, v))
    return out


def _list_text(values: list[Any]) -> str:
    shown = ", ".join(hp.fmt(v) for v in values[:_LIST_PREVIEW])
    more = f", … ({len(values)} values)" if len(values) > _LIST_PREVIEW else ""
    return f"[{shown}{more}]"


def _metrics_section(data: Mapping[str, Any]) -> str:
    parts = []
    placed: set[str] = set(_SHOWN_ABOVE)
    for title, keys in _GROUPS.items():
        present = {k: data[k] for k in keys if k in data}
        placed.update(keys)
        if present:
            parts.append(f"<h3>{hp.esc(title)}</h3>" + hp.key_value_table(_flatten(present)))
    mission = {
        k: v for k, v in data.items() if k not in placed and not isinstance(v, Mapping | list)
    }
    if mission:
        parts.append("<h3>Mission</h3>" + hp.key_value_table(_flatten(mission)))
    for key, value in data.items():
        if key in placed:
            continue
        if isinstance(value, Mapping):
            parts.append(f"<h3>{hp.esc(key)}</h3>" + hp.key_value_table(_flatten(value)))
        elif isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
            parts.append(f"<h3>{hp.esc(key)}</h3>" + _records_table(value))
        elif isinstance(value, list):
            parts.append(f"<h3>{hp.esc(key)}</h3><p>{hp.esc(_list_text(value))}</p>")
    return hp.section("Metrics", "".join(parts), "metrics")


def _records_table(records: list[Mapping[str, Any]]) -> str:
    flat = [dict(_flatten(r)) for r in records]
    columns = list(dict.fromkeys(k for row in flat for k in row))
    return hp.table(columns, ([row.get(c) for c in columns] for row in flat))


def _plot_sections(folder: Path, name: str) -> list[str]:
    """Trajectory, timeline and energy: each drawn now from the raw files."""
    out = []
    trajectory = folder / "trajectory.csv"
    columns = read_columns(trajectory) if trajectory.is_file() else {}
    if columns and write_trajectory_plot(columns, folder / TRAJECTORY_PNG, name):
        caption = (
            "True (red) and estimated (blue, dashed) paths; right: the estimate's position "
            "and heading error against the truth over time"
            if "true_x_m" in columns
            else "The estimated path (no ground truth on this backend)"
        )
        out.append(hp.section("Trajectory", hp.figure(TRAJECTORY_PNG, caption), "trajectory"))
    else:
        out.append(hp.section("Trajectory", '<p class="note">No trajectory.csv.</p>'))
    events = folder / "events.csv"
    if events.is_file():
        timeline = read_timeline(events)
        if write_timeline_plot(timeline, folder / TIMELINE_PNG, f"{name}: task timeline"):
            out.append(hp.section("Task timeline", _timeline_body(timeline), "timeline"))
    else:
        out.append(hp.section("Task timeline", '<p class="note">No events.csv.</p>'))
    energy = columns.get("energy_used_wh")
    if energy is not None and write_energy_plot(
        columns["t_s"], energy, folder / ENERGY_PNG, f"{name}: energy"
    ):
        body = hp.figure(ENERGY_PNG, "Energy drawn from the battery by the motors since the start")
    else:
        body = (
            '<p class="note">No energy record: trajectory.csv has no energy_used_wh column '
            "(a rover over a serial link reports none).</p>"
        )
    out.append(hp.section("Energy", body, "energy"))
    return out


def _timeline_body(timeline: Timeline) -> str:
    totals: dict[str, tuple[float, int]] = {}
    for s in timeline.spans:
        time_s, count = totals.get(s.lane, (0.0, 0))
        totals[s.lane] = (time_s + s.end_s - s.start_s, count + 1)
    rows = [(lane, t, n) for lane, (t, n) in totals.items()]
    events = [(s.start_s, s.end_s - s.start_s, s.text) for s in timeline.spans[:500]]
    more = (
        f'<p class="note">The first 500 of {len(timeline.spans)}; all in '
        f"{hp.link('events.csv')}.</p>"
        if len(timeline.spans) > 500
        else ""
    )
    return (
        hp.figure(TIMELINE_PNG, "What the task was doing, one lane per kind of activity")
        + (f"<p>Ended: {hp.esc(timeline.ending)}</p>" if timeline.ending else "")
        + hp.table(["activity", "time, s", "times"], rows)
        + "<details><summary>Every change of activity</summary>"
        + hp.table(["start, s", "lasted, s", "activity"], events)
        + more
        + "</details>"
    )


def _caption(name: str) -> str:
    if name in CAPTIONS:
        return CAPTIONS[name]
    for prefix, text in _CAPTION_PREFIXES.items():
        if name.startswith(prefix):
            return text.format(name=name[len(prefix) : -len(".png")])
    return name


def _pictures_section(folder: Path) -> str:
    pictures = [p.name for p in sorted(folder.glob("*.png")) if p.name not in OWN_PICTURES]
    if not pictures:
        return hp.section("Pictures", '<p class="note">No other pictures.</p>', "pictures")
    order = {n: k for k, n in enumerate(CAPTIONS)}
    pictures.sort(key=lambda n: (order.get(n, len(order)), n))
    return hp.section("Pictures", "".join(hp.figure(n, _caption(n)) for n in pictures), "pictures")


def video_codec(path: Path) -> str | None:
    """``"h264"`` or ``"mp4v"`` from an MP4's sample description, None if not found."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read()
    except OSError:
        return None
    blob = head + tail
    if b"avc1" in blob:
        return "h264"
    if b"mp4v" in blob:
        return "mp4v"
    return None


def _video_section(folder: Path) -> str:
    video = folder / "video.mp4"
    if not video.is_file():
        return ""
    note = ""
    if video_codec(video) == "mp4v":
        note = (
            '<p class="note">This video is MPEG-4 Part 2 (mp4v), which browsers do not play: '
            "open it in a video player, or install ffmpeg (Debian package: ffmpeg) and run "
            "again for H.264.</p>"
        )
    body = (
        f'<video controls preload="metadata" width="640">'
        f'<source src="{hp.href("video.mp4")}" type="video/mp4">'
        f"Your browser cannot play this video: {hp.link('video.mp4')}</video>{note}"
        '<p class="note">Chase camera, a frame every 0.5 s of simulated time.</p>'
    )
    return hp.section("Video", body, "video")


def _files_section(folder: Path) -> str:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name != REPORT_NAME]
    rows = [
        (f"<td>{hp.link(p.name)}</td>", f'<td class="num">{hp.human_size(p.stat().st_size)}</td>')
        for p in files
    ]
    return hp.section("Files", hp.table(["file", "size"], rows, raw=True), "files")
