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

Killed and started again on the same folder, it skips the finished runs and reruns only
those that were in flight. The seeds may change between starts (more seeds reuse the
runs already finished); the scenario file, its rover file, the variations and the time
limit may not. A run that raises, or whose worker process dies, is recorded
as crashed with its traceback, and the campaign goes on. Runs write to the campaign
folder directly, so on a cluster (``address``) the folder must be on a file system every
node sees.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .campaign_stats import run_row, summarize, write_tables
from .sweep import BASE, Variation, validate_variations

__all__ = [
    "CampaignError",
    "CampaignResult",
    "CampaignSpec",
    "RunJob",
    "execute_run",
    "finish_campaign",
    "parse_seeds",
    "run_campaign",
    "run_jobs",
]

log = logging.getLogger(__name__)

FINISHED_MARK = "campaign_run.json"
TRACEBACK_FILE = "traceback.txt"


class CampaignError(RuntimeError):
    """A campaign that cannot start or go on (a folder holding another campaign, Ray
    not reachable)."""


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


@dataclass(frozen=True)
class RunJob:
    """One run of a campaign, as handed to a worker (plain data: it crosses processes)."""

    run_id: str
    scenario: str
    variation: str
    params: dict[str, Any]
    seed: int
    run_dir: str
    time_limit_s: float | None


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


# ----------------------------------------------------------------------- a run
def execute_run(job: RunJob) -> dict[str, Any]:
    """Run one job into its folder and mark it finished; never raises for a run's own
    failure (a crash becomes a row with status "crashed" and ``traceback.txt``)."""
    from .runner import run_sim
    from .schema import load_scenario

    run_dir = Path(job.run_dir)
    if run_dir.exists():  # the leftovers of a run killed in flight
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    try:
        scenario = load_scenario(job.scenario, job.params or None)
        limit = job.time_limit_s or scenario.config.time_limit_s
        outcome = run_sim(scenario, run_dir, seed=job.seed, time_limit_s=limit)
        row = run_row(job.run_id, job.variation, job.seed, outcome.metrics)
    except Exception as exc:
        (run_dir / TRACEBACK_FILE).write_text(traceback.format_exc())
        row = run_row(job.run_id, job.variation, job.seed, None, crashed=_one_line(exc))
    mark_finished(run_dir, row)
    return row


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]


def mark_finished(run_dir: Path, row: dict[str, Any]) -> None:
    """Write the run's row as its finished mark (atomically: a kill leaves none)."""
    tmp = run_dir / (FINISHED_MARK + ".tmp")
    tmp.write_text(json.dumps(row, indent=1) + "\n")
    os.replace(tmp, run_dir / FINISHED_MARK)


def finished_row(run_dir: Path) -> dict[str, Any] | None:
    """The row of a finished run, or None when it did not finish."""
    mark = run_dir / FINISHED_MARK
    if not mark.is_file():
        return None
    try:
        row = json.loads(mark.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) else None


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


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


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
    _write_json(folder / "campaign.json", meta)
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

    summary = summarize(rows)
    write_tables(rows, folder)
    _write_json(folder / "summary.json", summary)
    files = [folder / "runs.csv", folder / "runs.parquet", folder / "summary.json"]
    files += write_campaign_plots(rows, summary, folder)
    wall = time.perf_counter() - wall0
    meta.update(finished=_now(), wall_time_s=round(wall, 2))
    _write_json(folder / "campaign.json", meta)
    return CampaignResult(folder, list(rows), summary, 0, 0, wall, files)


def run_jobs(
    jobs: Sequence[RunJob],
    workers: int,
    address: str | None,
    fn: Callable[[RunJob], dict[str, Any]] = execute_run,
) -> Iterator[dict[str, Any]]:
    """Run ``fn`` on each job on Ray, one worker process per job; yield each row as it
    finishes, with at most ``workers`` in flight. A job whose worker process dies
    yields a "crashed" row (and ``traceback.txt`` in its folder)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is not None:
        _token_auth_if_available()  # read when ray is first imported
    import ray
    from ray.exceptions import RayError

    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address is None:
                ray.init(
                    address="local",
                    num_cpus=workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    object_store_memory=80 * 1024 * 1024,
                )
            else:
                ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a local Ray"
            raise CampaignError(f"cannot start Ray ({where}): {exc}") from None
    remote = ray.remote(num_cpus=1, max_calls=1, max_retries=0)(fn)
    pending: dict[Any, RunJob] = {}
    queue = list(jobs)
    try:
        while queue or pending:
            while queue and len(pending) < workers:
                job = queue.pop(0)
                pending[remote.remote(job)] = job
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    row: dict[str, Any] = ray.get(ref)
                except RayError as exc:  # the worker process died (a crash in C, OOM)
                    row = _worker_died(job, exc)
                yield row
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def _token_auth_if_available() -> None:
    """Ask for token authentication when a token is at hand and nothing says otherwise.

    From Ray 2.59 ``ray start`` turns token authentication on for a local cluster, while
    a driver connecting to an address still defaults to none, and is refused. A driver
    sending a token is accepted by a cluster with or without authentication."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if (
        os.environ.get("RAY_AUTH_TOKEN")
        or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or (Path.home() / ".ray" / "auth_token").is_file()
    ):
        log.info("a Ray token is available: connecting with RAY_AUTH_MODE=token")
        os.environ["RAY_AUTH_MODE"] = "token"


def _worker_died(job: RunJob, exc: BaseException) -> dict[str, Any]:
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / TRACEBACK_FILE).write_text(f"the worker process of this run died:\n{exc}\n")
    row = run_row(job.run_id, job.variation, job.seed, None, crashed=_one_line(exc))
    mark_finished(run_dir, row)
    return row


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
