"""``report.html`` of a campaign folder, from its files alone::

    campaign.json   scenario, scenario_file, seeds, variations (name, params), workers,
                    address, started, finished, wall_time_s
    runs.csv        one row per run: run_id, variation, seed, status, success, reason,
                    sim_time_s, wall_time_s, then the flattened scalar metrics
    summary.json    runs, succeeded, crashed, success_share (value, ci95, method),
                    metrics (median, ci95, n, method), failures, by_variation
    *.png           the campaign's plots
    runs/RUN_ID/    each run's folder (its report.html; traceback.txt for a crash)

Only ``campaign.json`` is required; a missing ``runs.csv`` or ``summary.json`` leaves its
sections out with a note (the counts then come from ``runs.csv`` where it is there).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from . import report_page as hp
from .html_report import REPORT_NAME, ReportError, read_json

__all__ = ["write_campaign_report"]

log = logging.getLogger(__name__)

RUN_COLUMNS: Final = (
    "variation",
    "seed",
    "status",
    "success",
    "reason",
    "sim_time_s",
    "wall_time_s",
)


def write_campaign_report(folder: Path) -> Path:
    """Build ``report.html`` in a campaign folder; returns its path.

    Raises:
        ReportError: ``campaign.json`` is missing or unreadable, or a file is malformed.
    """
    folder = Path(folder)
    campaign = read_json(folder / "campaign.json")
    if not isinstance(campaign, dict):
        raise ReportError(folder / "campaign.json", "expected a JSON object")
    summary_path = folder / "summary.json"
    summary = read_json(summary_path) if summary_path.is_file() else None
    if summary is not None and not isinstance(summary, dict):
        raise ReportError(summary_path, "expected a JSON object")
    runs = _read_runs(folder / "runs.csv")
    name = str(campaign.get("scenario", folder.name))
    sections = [
        _campaign_section(campaign),
        _success_section(summary, runs),
        _metrics_section(summary),
        _variations_section(campaign, summary),
        _failures_section(folder, summary, runs),
        _runs_section(folder, runs),
        _plots_section(folder),
        _files_section(folder),
    ]
    header = (
        f"<h1>Campaign: {hp.esc(name)}</h1>"
        f"<p>{_share_text(summary, runs)}</p>"
        f"<p>started {hp.esc(campaign.get('started') or '?')}, finished "
        f"{hp.esc(campaign.get('finished') or 'not finished')}</p>"
    )
    path = folder / REPORT_NAME
    path.write_text(hp.page(f"{name}: campaign report", header, "\n".join(sections)))
    log.info("campaign report written: %s", path)
    return path


def _read_runs(path: Path) -> list[dict[str, str]] | None:
    if not path.is_file():
        return None
    try:
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReportError(path, f"cannot read: {exc}") from exc


def _num(text: Any) -> Any:
    """A CSV cell as a number or boolean where it is one."""
    if not isinstance(text, str):
        return text
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _seeds_text(seeds: Sequence[Any]) -> str:
    """``0-9, 12`` for runs of consecutive seeds."""
    try:
        values = sorted({int(s) for s in seeds})
    except (TypeError, ValueError):
        return ", ".join(str(s) for s in seeds)
    parts, k = [], 0
    while k < len(values):
        j = k
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[k]) if j == k else f"{values[k]}–{values[j]}")
        k = j + 1
    return f"{', '.join(parts)} ({len(values)} seeds)"


def _interval(ci: Any) -> str:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        return f"{hp.fmt(ci[0])} – {hp.fmt(ci[1])}"
    return "–"


def _counts(
    summary: Mapping[str, Any] | None, runs: list[dict[str, str]] | None
) -> tuple[int, int, int]:
    if summary is not None and "runs" in summary:
        return (
            int(summary.get("runs", 0)),
            int(summary.get("succeeded", 0)),
            int(summary.get("crashed", 0)),
        )
    rows = runs or []
    ok = sum(1 for r in rows if r.get("status") == "succeeded")
    crashed = sum(1 for r in rows if r.get("status") == "crashed")
    return len(rows), ok, crashed


def _share_text(summary: Mapping[str, Any] | None, runs: list[dict[str, str]] | None) -> str:
    n, ok, crashed = _counts(summary, runs)
    share = (summary or {}).get("success_share") or {}
    value = share.get("value", ok / n if n else None)
    pct = f"{100.0 * value:.0f} %" if isinstance(value, int | float) else "–"
    ci = share.get("ci95")
    ci_text = (
        f" (95 % interval {100.0 * ci[0]:.0f}–{100.0 * ci[1]:.0f} %)"
        if isinstance(ci, list) and len(ci) == 2
        else ""
    )
    return hp.esc(f"{ok} of {n} runs succeeded: {pct}{ci_text}; {crashed} crashed")


def _campaign_section(campaign: Mapping[str, Any]) -> str:
    rows = [
        ("scenario", campaign.get("scenario")),
        ("scenario file", campaign.get("scenario_file")),
        ("seeds", _seeds_text(campaign.get("seeds") or [])),
        ("variations", len(campaign.get("variations") or [])),
        ("workers", campaign.get("workers")),
        ("cluster address", campaign.get("address") or "local"),
        ("started", campaign.get("started")),
        ("finished", campaign.get("finished") or "not finished"),
        ("wall time, s", campaign.get("wall_time_s")),
    ]
    return hp.section("Campaign", hp.key_value_table(rows), "campaign")


def _success_section(summary: Mapping[str, Any] | None, runs: list[dict[str, str]] | None) -> str:
    share = (summary or {}).get("success_share") or {}
    n, ok, crashed = _counts(summary, runs)
    body = f'<p class="big">{_share_text(summary, runs)}</p>'
    if share:
        body += hp.key_value_table(
            [
                ("success share", share.get("value")),
                ("95 % interval", _interval(share.get("ci95"))),
                ("method", share.get("method")),
                ("runs", n),
                ("succeeded", ok),
                ("crashed", crashed),
            ]
        )
    elif summary is None:
        body += '<p class="note">No summary.json: counts from runs.csv.</p>'
    return hp.section("Success", body, "success")


def _metrics_section(summary: Mapping[str, Any] | None) -> str:
    metrics = (summary or {}).get("metrics") or {}
    if not metrics:
        return hp.section("Metrics", '<p class="note">No metric summaries.</p>', "metrics")
    rows = [
        (name, m.get("median"), _interval(m.get("ci95")), m.get("n"), m.get("method"))
        for name, m in metrics.items()
        if isinstance(m, Mapping)
    ]
    return hp.section(
        "Metrics",
        hp.table(["metric", "median", "95 % interval", "runs", "method"], rows),
        "metrics",
    )


def _variations_section(campaign: Mapping[str, Any], summary: Mapping[str, Any] | None) -> str:
    by = (summary or {}).get("by_variation") or {}
    rows = []
    for v in campaign.get("variations") or []:
        if not isinstance(v, Mapping):
            continue
        name = str(v.get("name", "?"))
        params = v.get("params") or {}
        stats = by.get(name) or {}
        share = stats.get("success_share") or {}
        rows.append(
            (
                name,
                "; ".join(f"{k} = {hp.fmt(val)}" for k, val in params.items()) or "(as the file)",
                stats.get("runs"),
                stats.get("succeeded"),
                share.get("value"),
                _interval(share.get("ci95")),
            )
        )
    if not rows:
        return hp.section("Variations", '<p class="note">No variations.</p>', "variations")
    header = ["variation", "parameters", "runs", "succeeded", "success share", "95 % interval"]
    return hp.section("Variations", hp.table(header, rows), "variations")


def _run_links(folder: Path, run_id: str) -> str:
    run_dir = Path("runs") / run_id
    links = [
        hp.link(run_dir / name, name)
        for name in (REPORT_NAME, "traceback.txt", "metrics.json")
        if (folder / run_dir / name).is_file()
    ]
    return " · ".join(links) if links else '<span class="note">no run folder</span>'


def _failures_section(
    folder: Path, summary: Mapping[str, Any] | None, runs: list[dict[str, str]] | None
) -> str:
    failures = (summary or {}).get("failures")
    if failures is None:
        failures = [r for r in runs or [] if r.get("status") != "succeeded"]
    rows = []
    for f in failures:
        if not isinstance(f, Mapping):
            continue
        run_id = str(f.get("run_id", "?"))
        status = str(f.get("status", "?"))
        rows.append(
            (
                f"<td>{hp.esc(run_id)}</td>",
                hp.cell(_num(f.get("seed"))),
                hp.cell(f.get("variation")),
                f'<td class="bad">{hp.esc(status)}</td>',
                hp.cell(f.get("reason")),
                f"<td>{_run_links(folder, run_id)}</td>",
            )
        )
    if not rows:
        return hp.section("Failures", "<p>No run fell short or crashed.</p>", "failures")
    header = ["run", "seed", "variation", "status", "reason", "files"]
    return hp.section("Failures", hp.table(header, rows, raw=True), "failures")


def _runs_section(folder: Path, runs: list[dict[str, str]] | None) -> str:
    if runs is None:
        return hp.section("Runs", '<p class="note">No runs.csv.</p>', "runs")
    columns = list(runs[0]) if runs else ["run_id", *RUN_COLUMNS]
    extra = [c for c in columns if c != "run_id"]
    rows = []
    for r in runs:
        run_id = r.get("run_id", "?")
        report = Path("runs") / run_id / REPORT_NAME
        first = (
            f"<td>{hp.link(report, run_id)}</td>"
            if (folder / report).is_file()
            else f"<td>{hp.esc(run_id)}</td>"
        )
        cells = []
        for c in extra:
            value = _num(r.get(c, ""))
            if c == "status":
                cls = "ok" if value == "succeeded" else "bad"
                cells.append(f'<td class="{cls}">{hp.esc(value)}</td>')
            else:
                cells.append(hp.cell(value))
        rows.append((first, *cells))
    return hp.section(f"All runs ({len(runs)})", hp.table(["run", *extra], rows, raw=True), "runs")


def _plots_section(folder: Path) -> str:
    pictures = sorted(p.name for p in folder.glob("*.png"))
    if not pictures:
        return hp.section("Plots", '<p class="note">No plots.</p>', "plots")
    figures = [hp.figure(n, n[: -len(".png")].replace("_", " ")) for n in pictures]
    return hp.section("Plots", "".join(figures), "plots")


def _files_section(folder: Path) -> str:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name != REPORT_NAME]
    rows = [
        (f"<td>{hp.link(p.name)}</td>", f'<td class="num">{hp.human_size(p.stat().st_size)}</td>')
        for p in files
    ]
    if (folder / "runs").is_dir():
        rows.append((f"<td>{hp.link('runs/', 'runs/')}</td>", "<td>each run's folder</td>"))
    return hp.section("Files", hp.table(["file", "size"], rows, raw=True), "files")
