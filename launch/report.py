"""The run folder: metrics, the raw arrays they come from, trajectories and pictures.

Layout of a run folder::

    metrics.json      scenario, seed, success, times, distances, errors, per-waypoint results
    terrain.npy       true terrain heights (float64, m), shape (ny, nx)
    terrain.json      grid metadata for terrain.npy: cell size, origin, shape, layout
    trajectory.csv    per control tick: time, true pose, estimated pose, drive command
    map.png           hill-shaded terrain with the true and estimated paths
    video.mp4         with --video: a chase camera, 10× speed
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lunarsite.sim.terrain import Terrain

from .pictures import write_terrain_map
from .runner import RunRecord
from .schema import LoadedScenario

__all__ = [
    "Metrics",
    "compute_metrics",
    "default_out_dir",
    "path_length_m",
    "write_path_map",
    "write_pose_csv",
    "write_run_folder",
    "write_terrain_files",
    "write_trajectory",
]

log = logging.getLogger(__name__)


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


def run_header(
    scenario: LoadedScenario, seed: int, success: bool, status: str, reason: str
) -> dict[str, Any]:
    """The first keys of every run's metrics.json: what ran, with which seed, and how it
    ended."""
    return {
        "scenario": scenario.config.name,
        "scenario_file": str(scenario.path),
        "rover": scenario.rover.name,
        "seed": seed,
        "success": success,
        "status": status,
        "reason": reason,
    }


@dataclass(frozen=True)
class Metrics:
    success: bool
    data: dict[str, Any]


def path_length_m(xy: np.ndarray) -> float:
    """Length of the polyline through the rows (x, y, ...) of ``xy``, in m."""
    if len(xy) < 2:
        return 0.0
    return float(np.sum(np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))))


def compute_metrics(record: RunRecord) -> Metrics:
    """Judge a run on ground truth against the scenario's acceptance criteria."""
    cfg = record.scenario.config
    acc = cfg.acceptance
    assert acc.max_waypoint_error_m is not None and acc.max_final_error_m is not None, (
        "load_scenario requires both for a waypoints mission"
    )
    outcome, result = record.outcome, record.result
    assert outcome is not None and result is not None, "compute_metrics needs a finished run"
    true_xy = np.asarray([(x, y) for x, y, _, _ in record.true_xyzyaw], dtype=np.float64)
    est_xy = np.asarray([(x, y) for x, y, _ in record.est_xyyaw], dtype=np.float64)
    arrivals = {a.index: a for a in outcome.arrivals}
    waypoints = []
    for i, wp in enumerate(cfg.mission.waypoints):
        entry: dict[str, Any] = {"index": i, "x_m": wp.x_m, "y_m": wp.y_m}
        arrival = arrivals.get(i)
        if arrival is None:
            entry.update(declared=False, reached=False)
        else:
            tx, ty = record.true_at_arrival.get(i, (math.nan, math.nan))
            err = math.hypot(tx - wp.x_m, ty - wp.y_m)
            entry.update(
                declared=True,
                declared_at_s=round(arrival.stamp_s, 3),
                true_error_m=round(err, 4),
                localization_error_m=round(
                    math.hypot(arrival.estimate.x_m - tx, arrival.estimate.y_m - ty), 4
                ),
                reached=bool(err <= acc.max_waypoint_error_m),
            )
        waypoints.append(entry)
    final_true = record.final_true
    final_est = record.final_estimate
    assert final_true is not None and final_est is not None
    last = cfg.mission.waypoints[-1]
    final_goal = math.hypot(final_true.x_m - last.x_m, final_true.y_m - last.y_m)
    final_loc = math.hypot(final_true.x_m - final_est.x_m, final_true.y_m - final_est.y_m)
    checks = {
        "mission_succeeded": result.succeeded,
        "all_waypoints_reached": all(w["reached"] for w in waypoints),
        "final_goal_distance_ok": final_goal <= acc.max_final_error_m,
        "not_tipped_over": not record.tipped_over,
    }
    if acc.max_rock_contacts is not None:
        checks["rock_contacts_ok"] = len(record.rocks_touched) <= acc.max_rock_contacts
    success = all(checks.values())
    sim_time = record.sim_time_s
    data: dict[str, Any] = {
        **run_header(
            record.scenario,
            record.seed,
            success,
            result.status.value,
            result.reason,
        ),
        "acceptance": {
            "criteria": acc.model_dump(exclude_none=True),
            "checks": checks,
        },
        "oracle": False,
        "sim_time_s": round(sim_time, 4),
        "time_limit_s": record.time_limit_s,
        "wall_time_s": round(record.wall_time_s, 3),
        "real_time_factor": round(sim_time / record.wall_time_s, 2) if record.wall_time_s else None,
        "distance_driven_m": round(path_length_m(true_xy), 4),
        "distance_estimated_m": round(path_length_m(est_xy), 4),
        "final_position_error_m": round(final_loc, 4),
        "final_goal_distance_m": round(final_goal, 4),
        "final_true_pose": {
            "x_m": final_true.x_m,
            "y_m": final_true.y_m,
            "yaw_rad": final_true.yaw_rad,
        },
        "final_estimated_pose": {
            "x_m": final_est.x_m,
            "y_m": final_est.y_m,
            "yaw_rad": final_est.yaw_rad,
        },
        "waypoints": waypoints,
        "waypoints_reached": sum(1 for w in waypoints if w["reached"]),
        "rock_contacts": len(record.rocks_touched),
        "tipped_over": record.tipped_over,
        "turn_stalls": outcome.turn_stalls,
        "energy_used_wh": round(record.energy_used_wh, 5),
        "terrain": {
            "craters": len(record.terrain.craters),
            "rigid_rocks": len(record.terrain.rocks),
        },
    }
    if record.video_frames:
        data["video_frames"] = record.video_frames
    return Metrics(success=success, data=data)


def write_terrain_files(out_dir: Path, terrain: Terrain, stem: str = "terrain") -> None:
    """``STEM.npy`` (the height grid) and ``STEM.json`` (its cell size, origin and layout)."""
    np.save(out_dir / f"{stem}.npy", terrain.heights_m)
    meta = {
        "cell_size_m": terrain.cell_size_m,
        "origin_xy_m": list(terrain.origin_xy_m),
        "shape": list(terrain.heights_m.shape),
        "units": "m",
        "layout": "heights[j, i] is the height at x = origin_x + i*cell, y = origin_y + j*cell"
        " (row 0 is the south edge; site frame: x east, y north, z up)",
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(meta, indent=2) + "\n")


POSE_COLUMNS = (
    "t_s",
    "true_x_m",
    "true_y_m",
    "true_z_m",
    "true_yaw_rad",
    "est_x_m",
    "est_y_m",
    "est_yaw_rad",
)


def write_pose_csv(
    path: Path,
    t_s: Sequence[float],
    true_xyzyaw: Sequence[tuple[float, float, float, float]],
    est_xyyaw: Sequence[tuple[float, float, float]],
    extra: Mapping[str, Sequence[float]] | None = None,
) -> None:
    """A CSV with, per control tick, time, true pose, estimated pose and ``extra`` columns."""
    extra = extra or {}
    columns = list(extra.values())
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*POSE_COLUMNS, *extra])
        for k, (t, tr, es) in enumerate(zip(t_s, true_xyzyaw, est_xyyaw, strict=True)):
            values = (*tr, *es, *(col[k] for col in columns))
            writer.writerow([f"{t:.4f}", *(f"{v:.5f}" for v in values)])


def write_trajectory(out_dir: Path, record: RunRecord) -> None:
    """``trajectory.csv``: per control tick, time, true pose, estimated pose, command."""
    write_pose_csv(
        out_dir / "trajectory.csv",
        record.t_s,
        record.true_xyzyaw,
        record.est_xyyaw,
        {
            "cmd_linear_mps": [v for v, _ in record.cmd],
            "cmd_angular_radps": [w for _, w in record.cmd],
        },
    )


def write_path_map(
    out_dir: Path,
    record: RunRecord,
    points_xy_m: np.ndarray,
    *,
    success: bool,
    tolerance_m: float | None,
) -> None:
    """``map.png``: hill-shaded true terrain, true and estimated paths, numbered points."""
    terrain = record.terrain
    true_xy = np.asarray([(x, y) for x, y, _, _ in record.true_xyzyaw], dtype=np.float64)
    est_xy = np.asarray([(x, y) for x, y, _ in record.est_xyyaw], dtype=np.float64)
    write_terrain_map(
        out_dir / "map.png",
        terrain.heights_m,
        terrain.cell_size_m,
        terrain.origin_xy_m,
        paths={"true": true_xy.reshape(-1, 2), "estimated": est_xy.reshape(-1, 2)},
        waypoints_xy_m=points_xy_m,
        rocks=[(r.x_m, r.y_m, r.diameter_m) for r in terrain.rocks],
        title=f"{record.scenario.config.name}  seed {record.seed}  "
        + ("succeeded" if success else "fell short"),
        waypoint_tolerance_m=tolerance_m,
    )


def write_run_folder(record: RunRecord, out_dir: Path) -> Metrics:
    """Write every file of a waypoints run's folder; returns the metrics written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = compute_metrics(record)
    (out_dir / "metrics.json").write_text(json.dumps(metrics.data, indent=2) + "\n")
    write_terrain_files(out_dir, record.terrain)
    write_trajectory(out_dir, record)
    cfg = record.scenario.config
    write_path_map(
        out_dir,
        record,
        np.asarray([(w.x_m, w.y_m) for w in cfg.mission.waypoints]),
        success=metrics.success,
        tolerance_m=cfg.acceptance.max_waypoint_error_m,
    )
    log.info("run folder written: %s", out_dir)
    return metrics
