"""The run folder: metrics, the raw arrays they come from, the trajectory and pictures.

One writer for every run, on every backend::

    metrics.json      what ran (scenario, rover, backend, seed), how it ended (status,
                      reason), each acceptance check, times, distances, errors, and the
                      mission's own figures
    trajectory.csv    per control tick: time, [true pose,] estimated pose, command,
                      [energy drawn,] and the mission's columns (bucket load, goal index...)
    events.csv        the task timeline: the time of each change of the task's activity,
                      then how the run ended
    terrain.npy       the true height grid (float64, m), shape (ny, nx), and terrain.json
                      with its cell size, origin and layout (simulation only); on
                      deformable soil terrain_before.npy and terrain_after.npy instead
    map.png           the site with the true and estimated paths, the mission's points
                      and areas (without truth: the estimated path on the site outline)
    video.mp4         with --video: a chase camera (simulation only; written by the runner
                      through :class:`~.video.VideoRecorder`, H.264 when ffmpeg is there)
    run.mcap          the run for Foxglove, streamed while it goes (poses, transforms, the
                      timeline, the controller's map, costmap, path, camera frames and
                      scans, the true terrain, the metrics): :mod:`~.runlog`; written by
                      the runner, not here

and whatever the mission adds (:meth:`MissionKind.write_files`: ``navigate`` draws
``belief_end.png`` and ``belief_goal_NN.png``, the rover's map and costmap beside the
truth); then, last, from those
files alone (:func:`~.html_report.write_run_report`, the code ``lunarsite report``
runs)::

    report.html       the run's page: scenario, verdict, acceptance, grouped metrics,
                      trajectory, task timeline, energy, every picture, the video, links
    report_*.png      its own pictures: report_trajectory.png, report_timeline.png and
                      report_energy.png (when trajectory.csv has energy_used_wh)

A failure to build the page is logged and never loses the folder.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .backends import SimBackend
from .consistency import nees_summary, run_nees
from .html_report import write_run_report
from .missions.base import Judgement, RunRecord
from .terrain_maps import write_terrain_map

__all__ = [
    "default_out_dir",
    "judge_run",
    "metrics_data",
    "path_length_m",
    "write_pose_csv",
    "write_report_logged",
    "write_run_folder",
]

log = logging.getLogger(__name__)

LAYOUT = (
    "heights[j, i] is the height at x = origin_x + i*cell, y = origin_y + j*cell"
    " (row 0 is the south edge; site frame: x east, y north, z up)"
)


def default_out_dir(scenario_name: str, root: Path | None = None) -> Path:
    """A fresh timestamped folder name under ``runs/`` (not created)."""
    root = root or Path("runs")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = root / f"{scenario_name}-{stamp}"
    n = 1
    while candidate.exists():
        n += 1
        candidate = root / f"{scenario_name}-{stamp}-{n}"
    return candidate


def path_length_m(xy: np.ndarray) -> float:
    """Length of the polyline through the rows (x, y, ...) of ``xy``, in m."""
    if len(xy) < 2:
        return 0.0
    return float(np.sum(np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))))


# ----------------------------------------------------------------------- judging
def judge_run(run: RunRecord) -> Judgement:
    """The mission's verdict, with the checks every mission shares (on ground truth)."""
    judgement = run.setup.scenario.kind.judge(run)
    acc = run.setup.scenario.acceptance
    if run.has_truth:
        limit = getattr(acc, "max_rock_contacts", None)
        if limit is not None:
            judgement.checks["rock_contacts_ok"] = len(run.rocks_touched) <= limit
        limit = getattr(acc, "max_tip_overs", None)
        if limit is not None:
            judgement.checks["tip_overs_ok"] = int(run.tipped_over) <= limit
        if run.setup.scenario.site_size_m is not None:
            judgement.checks.setdefault("stayed_on_site", not run.left_site)
    if run.error is not None:
        judgement.checks["no_error"] = False
    return judgement


def metrics_data(run: RunRecord, judgement: Judgement) -> dict[str, Any]:
    """The contents of ``metrics.json``."""
    setup = run.setup
    scenario = setup.scenario
    result = run.result
    success = bool(judgement.checks) and all(judgement.checks.values())
    wall = run.wall_time_s
    est_xy = run.est_xy()
    data: dict[str, Any] = {
        "scenario": scenario.config.name,
        "scenario_file": str(scenario.path),
        "rover": scenario.rover.name,
        "backend": setup.backend.name,
        "seed": setup.seed,
        "success": success,
        "status": result.status.value if result is not None else "execution_failed",
        "reason": result.reason if result is not None else "did not run",
        "ended_by": run.loop.ended_by if run.loop is not None else "error",
        "acceptance": {
            "criteria": scenario.acceptance.model_dump(exclude_none=True),
            "checks": judgement.checks,
        },
        "oracle": False,
        "control_hz": setup.control_hz,
        "sim_time_s": round(run.sim_time_s, 4),
        "time_limit_s": run.time_limit_s,
        "wall_time_s": round(wall, 3),
        "real_time_factor": round(run.sim_time_s / wall, 2) if wall > 0.0 else None,
        "ticks": len(run.t_s),
        "distance_estimated_m": round(path_length_m(est_xy), 4),
        "final_estimated_pose": _pose_dict(run.est_xyyaw[-1] if run.est_xyyaw else None),
    }
    if run.has_truth:
        true_xy = run.true_xy()
        err = np.hypot(*(true_xy - est_xy).T)
        data.update(
            distance_driven_m=round(path_length_m(true_xy), 4),
            final_true_pose=_pose_dict(run.true_xyzyaw[-1]),
            final_position_error_m=round(float(err[-1]), 4),
            max_position_error_m=round(float(err.max()), 4),
            rock_contacts=len(run.rocks_touched),
            tipped_over=run.tipped_over,
            tip_overs=int(run.tipped_over),
            left_site=run.left_site,
            min_edge_clearance_m=round(run.min_edge_clearance_m, 4),
            energy_used_wh=round(run.energy_used_wh or 0.0, 5),
        )
        if len(run.est_cov) == len(run.t_s) and run.t_s:
            pos, yaw = run_nees(run.true_xyzyaw, run.est_xyyaw, run.est_cov)
            data["nees"] = {"position": nees_summary(pos, 2), "yaw": nees_summary(yaw, 1)}
    data.update(judgement.data)
    if run.video_frames:
        data["video_frames"] = run.video_frames
    if run.error is not None:
        data["error"] = run.error
    return data


def _pose_dict(pose: Sequence[float] | None) -> dict[str, float] | None:
    if pose is None:
        return None
    keys = ("x_m", "y_m", "z_m", "yaw_rad") if len(pose) == 4 else ("x_m", "y_m", "yaw_rad")
    return dict(zip(keys, (float(v) for v in pose), strict=True))


# ----------------------------------------------------------------------- writing
def write_run_folder(
    run: RunRecord, judgement: Judgement, out_dir: Path, *, page: bool = True
) -> dict[str, Any]:
    """Write every file of a run's folder; returns the metrics written. ``page=False``
    leaves ``report.html`` to the caller (:func:`write_report_logged`), for a runner that
    still has a file to close (``run.mcap``) that the page should link whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = metrics_data(run, judgement)
    (out_dir / "metrics.json").write_text(json.dumps(data, indent=2) + "\n")
    _write_trajectory(run, out_dir / "trajectory.csv")
    _write_events(run, data, out_dir / "events.csv")
    title = f"{data['scenario']}  seed {data['seed']}  " + (
        "succeeded" if data["success"] else "fell short"
    )
    _write_terrain(run, judgement, out_dir)
    _write_map(run, judgement, out_dir / "map.png", title)
    run.setup.scenario.kind.write_files(run, out_dir, judgement)
    if page:
        write_report_logged(out_dir)
    log.info("run folder written: %s", out_dir)
    return data


def write_report_logged(out_dir: Path) -> None:
    """``report.html`` from the files just written; a failure is logged, never raised:
    the run folder matters more than its page (``lunarsite report`` rebuilds it)."""
    try:
        write_run_report(out_dir)
    except Exception:
        log.exception("could not write the report of %s (rebuild: lunarsite report)", out_dir)


POSE_COLUMNS = ("true_x_m", "true_y_m", "true_z_m", "true_yaw_rad")
EST_COLUMNS = ("est_x_m", "est_y_m", "est_yaw_rad")
EST_COV_COLUMNS = ("est_std_x_m", "est_std_y_m", "est_corr_xy", "est_std_yaw_rad")


def write_pose_csv(
    path: Path,
    t_s: Sequence[float],
    columns: Mapping[str, Sequence[float]],
) -> None:
    """A CSV with a time column and the given columns, one row per control tick."""
    names = list(columns)
    values = [columns[n] for n in names]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["t_s", *names])
        for k, t in enumerate(t_s):
            writer.writerow([f"{t:.4f}", *(f"{col[k]:.5f}" for col in values)])


def _write_trajectory(run: RunRecord, path: Path) -> None:
    cols: dict[str, Sequence[float]] = {}
    if run.has_truth:
        for i, name in enumerate(POSE_COLUMNS):
            cols[name] = [row[i] for row in run.true_xyzyaw]
    for i, name in enumerate(EST_COLUMNS):
        cols[name] = [row[i] for row in run.est_xyyaw]
    if len(run.est_cov) == len(run.t_s):
        # Standard deviations and the x–y correlation: well scaled for the CSV's digits.
        vx, cxy, vy, vyaw = (
            np.asarray(c, dtype=np.float64) for c in zip(*run.est_cov, strict=True)
        )
        sx, sy = np.sqrt(vx), np.sqrt(vy)
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.where(sx * sy > 0.0, cxy / (sx * sy), 0.0)
        for name, col in zip(EST_COV_COLUMNS, (sx, sy, corr, np.sqrt(vyaw)), strict=True):
            cols[name] = col.tolist()
    cols["cmd_linear_mps"] = [v for v, _ in run.cmd]
    cols["cmd_angular_radps"] = [w for _, w in run.cmd]
    if run.has_truth and len(run.energy_wh) == len(run.t_s):
        cols["energy_used_wh"] = run.energy_wh
    cols.update(run.channels)
    write_pose_csv(path, run.t_s, cols)


def _write_events(run: RunRecord, data: Mapping[str, Any], path: Path) -> None:
    end_s = run.t_s[-1] if run.t_s else 0.0
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["t_s", "event"])
        for t, text in run.events:
            writer.writerow([f"{t:.4f}", text])
        writer.writerow([f"{end_s:.4f}", f"end: {data['status']}: {data['reason']}"])


def _write_terrain(run: RunRecord, judgement: Judgement, out_dir: Path) -> None:
    """The true height grid(s) and their metadata (simulation only)."""
    truth = run.setup.backend.truth
    before, after = run.terrain_before_m, run.terrain_after_m
    if truth is None or before is None:
        return
    meta: dict[str, Any] = {
        "cell_size_m": truth.terrain_cell_size_m,
        "origin_xy_m": list(truth.terrain_origin_xy_m),
        "shape": list(before.shape),
        "units": "m",
        "layout": LAYOUT,
    }
    if run.setup.scenario.config.soil is not None and after is not None:
        np.save(out_dir / "terrain_before.npy", before)
        np.save(out_dir / "terrain_after.npy", after)
        meta["files"] = {"before": "terrain_before.npy", "after": "terrain_after.npy"}
        meta["soil"] = True
    else:
        np.save(out_dir / "terrain.npy", before)
    if judgement.areas:
        meta["areas"] = {k: list(v) for k, v in judgement.areas.items()}
    (out_dir / "terrain.json").write_text(json.dumps(meta, indent=2) + "\n")


def _write_map(run: RunRecord, judgement: Judgement, path: Path, title: str) -> None:
    backend = run.setup.backend
    truth = backend.truth
    scenario = run.setup.scenario
    paths = {"estimated": run.est_xy()}
    heights = run.terrain_after_m if run.terrain_after_m is not None else run.terrain_before_m
    if truth is not None and heights is not None and isinstance(backend, SimBackend):
        paths = {"true": run.true_xy(), **paths}
        cell, origin = truth.terrain_cell_size_m, truth.terrain_origin_xy_m
        rocks = [(r.x_m, r.y_m, r.diameter_m) for r in backend.terrain.rocks]
    else:  # no truth: the estimated path on the site's outline
        sx, sy = scenario.site_size_m
        cell = max(sx, sy) / 200.0
        heights = np.zeros((math.floor(sy / cell) + 1, math.floor(sx / cell) + 1))
        origin, rocks = (0.0, 0.0), []
    write_terrain_map(
        path,
        heights,
        cell,
        origin,
        paths=paths,
        waypoints_xy_m=judgement.points_xy_m,
        rocks=rocks,
        title=title,
        waypoint_tolerance_m=judgement.tolerance_m,
        areas=judgement.areas,
    )
