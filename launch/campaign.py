"""Campaigns: one scenario over many seeds (and sweep variations), on Ray.

:func:`run_campaign` validates the scenario under every variation first (a scenario that
does not validate stops the campaign before any run starts), then runs each (variation,
seed) pair as one Ray task in a fresh worker process (``max_calls=1``: PyBullet clients
leak in long-lived workers), at most ``workers`` at a time. Each run writes its normal
run folder under ``runs/``; the campaign folder then gets::

    campaign.json     what the campaign is (scenario and its file's hash, seeds,
                      variations, workers, Ray address) and when it ran
    runs/<run_id>/    each run's folder; ``campaign_run.json`` in it marks it finished
                      (its table row); a crashed run has ``traceback.txt``
    runs.csv          one row per run: id, variation, seed, status, reason, metrics
    runs.parquet      the same table, typed
    summary.json      success share (Wilson interval), medians (bootstrap intervals),
                      failures with their reasons, per variation
    success.png       success share per variation with its interval
    metrics.png       the spread of the main metrics over runs
    report.html       the page of it all (:mod:`.campaign_report`)

Killed and started again on the same folder, it skips the finished runs and reruns only
those that were in flight. The seeds may change between starts (more seeds reuse the
runs already finished); the scenario file, its rover file, the variations and the time
limit may not. A run that raises, or whose worker process dies, is recorded
as crashed with its traceback, and the campaign goes on (:mod:`.campaign_workers`
runs them). Runs write to the campaign
folder directly, so on a cluster (``address``) the folder must be on a file system every
node sees.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .campaign_stats import summarize, write_tables
from .campaign_workers import CampaignError, RunJob, finished_row, run_jobs, write_json_atomic
from .sweep import BASE, Variation, validate_variations

__all__ = [
    "CampaignError",
    "CampaignResult",
    "CampaignSpec",
    "finish_campaign",
    "parse_seeds",
    "run_campaign",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignSpec:
    """What a campaign runs: a scenario (shipped name or path), seeds, variations."""

    scenario: str
    seeds: tuple[int, ...]
    variations: tuple[Variation, ...] = (BASE,)
    time_limit_s: float | None = None
    """Overrides every run's time limit, in simulated s (None: the scenario's)."""
    sweep_file: str | None = None

    def run_id(self, variation: Variation, seed: int) -> str:
        if len(self.variations) == 1 and self.variations[0] == BASE:
            return f"seed-{seed:04d}"
        return f"{variation.name}-seed-{seed:04d}"


@dataclass
class CampaignResult:
    """A finished (or stopped) campaign."""

    folder: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    ran: int
    """Runs executed by this call (the rest were finished before it started)."""
    skipped: int
    wall_time_s: float
    files: list[Path] = field(default_factory=list)


ProgressFn = Callable[[int, int, dict[str, Any]], None]
"""Called as each run finishes: (runs done, runs in all, the run's row)."""


# ----------------------------------------------------------------------- the folder
def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _identity(spec: CampaignSpec, scenario_file: Path, rover_file: Path) -> dict[str, Any]:
    return {
        "scenario": spec.scenario,
        "scenario_file": str(scenario_file),
        "scenario_sha256": _file_hash(scenario_file),
        "rover_file": str(rover_file),
        "rover_sha256": _file_hash(rover_file),
        "seeds": list(spec.seeds),
        "variations": [asdict(v) for v in spec.variations],
        "time_limit_s": spec.time_limit_s,
        "sweep_file": spec.sweep_file,
    }


def _check_same_campaign(folder: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    path = folder / "campaign.json"
    if not path.is_file():
        if folder.exists() and any(folder.iterdir()):
            raise CampaignError(f"{folder}: not empty and holds no campaign.json")
        return None
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CampaignError(f"{path}: cannot read: {exc}") from None
    for key, value in identity.items():
        if key != "seeds" and old.get(key) != value:
            raise CampaignError(
                f"{folder} holds another campaign: its {key} is {old.get(key)!r}, "
                f"this one's is {value!r} (use another --out, or the same settings to resume)"
            )
    return dict(old)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------- the campaign
def run_campaign(
    spec: CampaignSpec,
    folder: Path,
    *,
    workers: int | None = None,
    address: str | None = None,
    on_progress: ProgressFn | None = None,
) -> CampaignResult:
    """Run (or resume) ``spec`` into ``folder``; see the module docstring.

    Args:
        workers: runs at once (default: the machine's CPU count, or the cluster's).
        address: a Ray cluster to use (``ray start --head`` prints it); None starts a
            local Ray for this campaign and stops it at the end.

    Raises:
        ScenarioError: the scenario does not validate under some variation.
        CampaignError: ``folder`` holds another campaign, or Ray cannot start.
    """
    wall0 = time.perf_counter()
    folder = folder.resolve()  # workers may start elsewhere
    loaded = validate_variations(spec.scenario, list(spec.variations), _path_or_none(spec))
    first = next(iter(loaded.values()))
    identity = _identity(spec, first.path, first.rover_path)
    old = _check_same_campaign(folder, identity)
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    jobs = [
        RunJob(
            spec.run_id(var, seed),
            str(first.path.resolve()),
            var.name,
            dict(var.params),
            seed,
            str(folder / "runs" / spec.run_id(var, seed)),
            spec.time_limit_s,
        )
        for var in spec.variations
        for seed in spec.seeds
    ]
    rows: dict[str, dict[str, Any]] = {}
    for job in jobs:
        row = finished_row(Path(job.run_dir))
        if row is not None:
            rows[job.run_id] = row
    todo = [j for j in jobs if j.run_id not in rows]
    workers = max(1, workers or os.cpu_count() or 1)
    meta = {
        **identity,
        "workers": workers,
        "address": address,
        "started": old.get("started") if old else _now(),
        "resumed": (old.get("resumed", 0) + 1) if old else 0,
        "finished": None,
        "wall_time_s": None,
    }
    write_json_atomic(folder / "campaign.json", meta)
    log.info(
        "campaign %s: %d runs, %d finished before, %d to run on %d workers",
        folder,
        len(jobs),
        len(rows),
        len(todo),
        workers,
    )
    done = len(rows)
    if todo:
        for row in run_jobs(todo, workers, address):
            rows[row["run_id"]] = row
            done += 1
            if on_progress is not None:
                on_progress(done, len(jobs), row)
    ordered = [rows[j.run_id] for j in jobs]
    result = finish_campaign(folder, ordered, meta, wall0)
    result.ran, result.skipped = len(todo), len(jobs) - len(todo)
    return result


def _path_or_none(spec: CampaignSpec) -> Path | None:
    return Path(spec.sweep_file) if spec.sweep_file else None


def finish_campaign(
    folder: Path, rows: Sequence[dict[str, Any]], meta: dict[str, Any], wall0: float
) -> CampaignResult:
    """Write the table, the summary, the plots and the report of a campaign folder."""
    from .campaign_plots import write_campaign_plots
    from .campaign_report import write_campaign_report

    summary = summarize(rows)
    write_tables(rows, folder)
    write_json_atomic(folder / "summary.json", summary)
    files = [folder / "runs.csv", folder / "runs.parquet", folder / "summary.json"]
    files += write_campaign_plots(rows, summary, folder)
    wall = time.perf_counter() - wall0
    meta.update(finished=_now(), wall_time_s=round(wall, 2))
    write_json_atomic(folder / "campaign.json", meta)
    try:
        files.append(write_campaign_report(folder))
    except Exception:  # the table and summary matter more than the page
        log.exception("could not write the report of %s (rebuild: lunarsite report)", folder)
    return CampaignResult(folder, list(rows), summary, 0, 0, wall, files)


def parse_seeds(text: str) -> tuple[int, ...]:
    """The seeds of ``--seeds``: ``A:B`` (A up to B-1, as Python's ``range``) or a comma
    list ``1,4,9``.

    Raises:
        ValueError: with the accepted forms.
    """
    forms = "expected A:B (seeds A to B-1) or a list 1,4,9 of whole numbers >= 0"
    try:
        if ":" in text:
            a, b = (int(p) for p in text.split(":"))
            seeds = tuple(range(a, b))
        else:
            seeds = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise ValueError(f"{text!r}: {forms}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"{text!r}: {forms}, at least one seed, none twice")
    return seeds
