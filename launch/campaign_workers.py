"""A campaign's runs and how Ray runs them: each run in a fresh worker process.

:func:`execute_run` is what a worker does with one :class:`RunJob`: run the scenario into
its folder and write ``campaign_run.json`` (its table row) last, atomically, so a folder
without it is a run that did not finish. :func:`run_jobs` hands jobs to Ray, one worker
process per job (``max_calls=1``: PyBullet clients leak in long-lived workers), at most
``workers`` in flight, and turns a worker that died into a "crashed" row.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .campaign_stats import run_row

__all__ = [
    "FINISHED_MARK",
    "TRACEBACK_FILE",
    "CampaignError",
    "RunJob",
    "execute_run",
    "finished_row",
    "mark_finished",
    "run_jobs",
    "write_json_atomic",
]

log = logging.getLogger(__name__)

FINISHED_MARK = "campaign_run.json"
TRACEBACK_FILE = "traceback.txt"


class CampaignError(RuntimeError):
    """A campaign that cannot start or go on (a folder holding another campaign, Ray
    not reachable)."""


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


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that a kill leaves the old file or the new, never half."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def mark_finished(run_dir: Path, row: dict[str, Any]) -> None:
    """Write the run's row as its finished mark (atomically: a kill leaves none)."""
    write_json_atomic(run_dir / FINISHED_MARK, row)


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
