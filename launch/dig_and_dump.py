"""The ``dig_and_dump`` scenario: an excavator digs, carries and dumps regolith.

The rover repeats dig, carry and dump cycles between a dig area and a dump area of the
scenario, by the script of :mod:`.dig_script` (no planning; closed-loop on the rover's own
wheel odometry and gyro, with position fixes on the walls of the arena from a level range
scan when the mission has walls). The run folder shows the pit that deepened and the pile that
grew, measured from the true soil grids before and after as the Lunabotics judges measure
from two scans (:mod:`lunarsite.robot.site.survey`), with the soil model's mass ledger.

Run folder::

    metrics.json          scenario, seed, success, acceptance, times, the soil section
    terrain_before.npy    true soil surface at the start (float64, m), shape (ny, nx)
    terrain_after.npy     true soil surface at the end
    terrain.json          grid metadata for both: cell size, origin, shape, layout, areas
    trajectory.csv        per control tick: time, true pose, estimated pose, bucket load
    terrain_before.png    hill-shaded maps with the dig and dump areas marked
    terrain_after.png     (with the true and estimated paths)
    difference.png        before, after and after − before
    video.mp4             with --video: a chase camera, one frame per simulated second

The same scenario runs on rigid terrain (``soil_on=False``) to measure what the soil costs
(``lunarsite bench soil``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as pb

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.site.survey import box_polygon, volume_change
from lunarsite.robot.types import Pose2
from lunarsite.sim.rangefinder import Rangefinder, RangefinderConfig
from lunarsite.sim.rover import SimRover
from lunarsite.sim.soil import SoilConfig
from lunarsite.sim.soil_coupling import resample_terrain
from lunarsite.sim.terrain import Terrain
from lunarsite.sim.world import LunarWorld

from .dig_script import (
    DigDumpPlan,
    Pilot,
    ScriptState,
    dig_bucket,
    max_dig_depth_m,
    run_script,
)
from .missions import MissionProgress, MissionRun
from .pictures import VideoRecorder, write_difference_map, write_terrain_map
from .report import Metrics, path_length_m, run_header, write_pose_csv
from .runner import build_terrain, seed_streams
from .schema import AreaBox, DigAndDumpMission, LoadedScenario

__all__ = [
    "ARENA_SIZE_M",
    "DigDumpRecord",
    "arena_terrain",
    "check_mission",
    "dig_and_dump_entry",
    "dig_and_dump_metrics",
    "run_dig_and_dump",
    "write_dig_and_dump_folder",
]

log = logging.getLogger(__name__)

ARENA_SIZE_M = (6.88, 5.0)
"""Lunabotics KSC arena interior (reference/LUNAR.md)."""

VIDEO_FRAME_PERIOD_S = 1.0
VIDEO_FPS = 20.0
VIDEO_SIZE_PX = (640, 480)


def arena_terrain(cell_size_m: float, size_m: tuple[float, float] = ARENA_SIZE_M) -> Terrain:
    """A flat arena of ``size_m`` (raked simulant) at ``cell_size_m``."""
    nx = math.floor(size_m[0] / cell_size_m + 1e-9) + 1
    ny = math.floor(size_m[1] / cell_size_m + 1e-9) + 1
    return Terrain(np.zeros((ny, nx)), cell_size_m)


# ------------------------------------------------------------------ scenario checks
def check_mission(
    mission: DigAndDumpMission,
    rover: RoverConfig,
    soil: SoilConfig | None,
    size_m: tuple[float, float] | None,
) -> list[tuple[tuple[int | str, ...], str]]:
    """Problems with a dig_and_dump mission that need several fields at once, as
    (location in the scenario file, reason) pairs. Used by :func:`load_scenario`."""
    out: list[tuple[tuple[int | str, ...], str]] = []
    if soil is None:
        out.append((("mission", "kind"), "a dig_and_dump mission needs soil: {...}"))
    if soil is not None and soil.depth_m is not None and mission.max_depth_m > soil.depth_m:
        out.append(
            (
                ("mission", "max_depth_m"),
                f"{mission.max_depth_m:g} m is deeper than the soil (soil.depth_m "
                f"{soil.depth_m:g} m)",
            )
        )
    if mission.layer_depth_m > mission.max_depth_m:
        out.append(
            (
                ("mission", "layer_depth_m"),
                f"{mission.layer_depth_m:g} m is more than max_depth_m ({mission.max_depth_m:g})",
            )
        )
    if mission.dig_speed_mps > rover.drive.max_speed_mps:
        out.append(
            (
                ("mission", "dig_speed_mps"),
                f"{mission.dig_speed_mps:g} m/s exceeds the rover's drive.max_speed_mps "
                f"({rover.drive.max_speed_mps:g})",
            )
        )
    if _overlap(mission.dig_area, mission.dump_area):
        out.append((("mission", "dump_area"), "overlaps the dig_area"))
    if size_m is not None:
        for key in ("dig_area", "dump_area"):
            x0, x1, y0, y1 = getattr(mission, key).bounds_m
            if x0 < 0.0 or y0 < 0.0 or x1 > size_m[0] or y1 > size_m[1]:
                out.append(
                    (
                        ("mission", key),
                        f"box x {x0:g}..{x1:g}, y {y0:g}..{y1:g} m is not inside the site "
                        f"(0..{size_m[0]:g} × 0..{size_m[1]:g} m)",
                    )
                )
    if dig_bucket(rover) is None:
        out.append(
            (("rover", "file"), f"rover {rover.name!r} has no bucket on a boom (two joints)")
        )
        return out
    try:
        plan = DigDumpPlan(mission, rover)
    except ValueError as exc:
        out.append((("mission", "layer_depth_m"), str(exc)))
        return out
    if plan.reachable_depth_m < mission.max_depth_m - 1e-9:
        deepest = max_dig_depth_m(rover, plan.tool, plan.poses)
        out.append(
            (
                ("mission", "max_depth_m"),
                f"rover {rover.name!r}'s bucket reaches {math.floor(deepest * 1000) / 1000:g} m "
                f"below the ground at most",
            )
        )
    if size_m is not None:
        margin = 0.5 * math.hypot(rover.chassis.length_m, rover.chassis.width_m)
        for what, (x, y) in plan.stations():
            if not (margin <= x <= size_m[0] - margin and margin <= y <= size_m[1] - margin):
                key = "dig_area" if what.startswith("dig") else "dump_area"
                out.append(
                    (
                        ("mission", key),
                        f"the rover would stand at ({x:.2f}, {y:.2f}) m ({what}), closer than "
                        f"{margin:.2f} m to the site edge: move the area or change the facing",
                    )
                )
                break
    return out


def _overlap(a: AreaBox, b: AreaBox) -> bool:
    ax0, ax1, ay0, ay1 = a.bounds_m
    bx0, bx1, by0, by1 = b.bounds_m
    return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1


# --------------------------------------------------------------------------- running
@dataclass
class DigDumpRecord:
    """Everything a run produced, for the report. Per-tick lists are per control tick."""

    scenario: LoadedScenario
    seed: int
    time_limit_s: float
    soil_on: bool
    cell_size_m: float = 0.0
    origin_xy_m: tuple[float, float] = (0.0, 0.0)
    terrain_before_m: np.ndarray | None = None
    terrain_after_m: np.ndarray | None = None
    soil: dict[str, Any] | None = None
    sim_time_s: float = 0.0
    wall_time_s: float = 0.0
    digs: int = 0
    dumps: int = 0
    phase: str = ""
    t_s: list[float] = field(default_factory=list)
    true_xyzyaw: list[tuple[float, float, float, float]] = field(default_factory=list)
    est_xyyaw: list[tuple[float, float, float]] = field(default_factory=list)
    load_kg: list[float] = field(default_factory=list)
    dig_loads_kg: list[float] = field(default_factory=list)
    min_edge_clearance_m: float = math.inf
    tipped_over: bool = False
    turn_stalls: int = 0
    dig_pitch_reliefs: int = 0
    timeouts: int = 0
    energy_used_wh: float = 0.0
    gyro_bias_estimate_radps: float = 0.0
    wall_fixes: int = 0
    wall_fix_corrections_m: list[float] = field(default_factory=list)
    video_frames: int = 0

    @property
    def real_time_factor(self) -> float:
        return self.sim_time_s / self.wall_time_s if self.wall_time_s > 0.0 else math.inf


class _Recorder:
    """Observes every control tick from the evaluation channel: truth, load, video."""

    def __init__(
        self,
        world: LunarWorld,
        rover: SimRover,
        record: DigDumpRecord,
        tool: str,
        t0_s: float,
        progress: MissionProgress | None,
        state: ScriptState,
    ) -> None:
        self.world = world
        self.rover = rover
        self.record = record
        self.tool = tool
        self.t0_s = t0_s
        self.progress = progress
        self.state = state
        self.video: VideoRecorder | None = None
        self._next_frame_s = 0.0
        self._last_progress_s = -math.inf
        self.size_m = record.scenario.site_size_m

    def observe(self, pilot: Pilot) -> None:
        truth = self.world.truth
        pose = truth.rover_pose(self.rover)
        est = pilot.pose
        rec = self.record
        t = self.world.sim_time_s - self.t0_s
        rec.t_s.append(t)
        rec.true_xyzyaw.append((pose.x_m, pose.y_m, pose.z_m, pose.yaw_rad))
        rec.est_xyyaw.append((est.x_m, est.y_m, est.yaw_rad))
        rec.load_kg.append(truth.tool_load_kg(self.rover, self.tool))
        sx, sy = self.size_m
        clearance = min(pose.x_m, pose.y_m, sx - pose.x_m, sy - pose.y_m)
        rec.min_edge_clearance_m = min(rec.min_edge_clearance_m, clearance)
        if pose.tilt_rad > self.rover.config.limits.tip_over_rad:
            rec.tipped_over = True
        if self.video is not None and t >= self._next_frame_s:
            self._next_frame_s = t + VIDEO_FRAME_PERIOD_S
            self.video.add_frame(
                self.world.render_view(
                    (pose.x_m, pose.y_m, pose.z_m),
                    distance_m=4.5,
                    yaw_rad=pose.yaw_rad - 0.75 * math.pi,
                    pitch_rad=math.radians(-35.0),
                    width_px=VIDEO_SIZE_PX[0],
                    height_px=VIDEO_SIZE_PX[1],
                )
            )
        if self.progress is not None and t - self._last_progress_s >= 1.0:
            self._last_progress_s = t
            self.progress(t, rec.time_limit_s, self.state.phase)


WALL_THICKNESS_M = 0.1
WALL_RGBA = (0.45, 0.45, 0.5, 1.0)


def _add_walls(world: LunarWorld, size_m: tuple[float, float], height_m: float) -> None:
    """Four walls round the site ``[0, size_x] × [0, size_y]``, their inner faces on its
    edges (the KSC arena is walled), standing on the lowest ground."""
    c = world.client
    sx, sy = size_m
    t = WALL_THICKNESS_M
    base = float(world.terrain.heights_m.min()) - 0.5
    half_h = 0.5 * (height_m + 0.5)
    for cx, cy, hx, hy in (
        (-0.5 * t, 0.5 * sy, 0.5 * t, 0.5 * sy + t),
        (sx + 0.5 * t, 0.5 * sy, 0.5 * t, 0.5 * sy + t),
        (0.5 * sx, -0.5 * t, 0.5 * sx + t, 0.5 * t),
        (0.5 * sx, sy + 0.5 * t, 0.5 * sx + t, 0.5 * t),
    ):
        col = c.createCollisionShape(pb.GEOM_BOX, halfExtents=[hx, hy, half_h])
        vis = c.createVisualShape(pb.GEOM_BOX, halfExtents=[hx, hy, half_h], rgbaColor=WALL_RGBA)
        c.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=col,
            baseVisualShapeIndex=vis,
            basePosition=[cx, cy, base + half_h],
        )


def _rigid_terrain(terrain: Terrain, soil: SoilConfig) -> Terrain:
    """The site on the collision cell the soil run would use (same stepping cost per
    contact), for the rigid-terrain comparison."""
    cell = soil.cell_size_m or terrain.cell_size_m
    k = max(1, round(soil.collision_cell_size_m / cell))
    if k == 1 and math.isclose(cell, terrain.cell_size_m):
        return terrain
    heights, origin = resample_terrain(terrain, k * cell)
    return Terrain(heights, k * cell, origin, craters=terrain.craters, rocks=terrain.rocks)


def run_dig_and_dump(
    scenario: LoadedScenario,
    *,
    seed: int | None = None,
    time_limit_s: float | None = None,
    soil_on: bool = True,
    gui: bool = False,
    video_path: Path | None = None,
    progress: MissionProgress | None = None,
) -> DigDumpRecord:
    """Run a dig_and_dump scenario headless (or in the viewer) and record it.

    Args:
        soil_on: False runs the same script on rigid terrain at the soil's collision
            cell, to measure what the soil costs.
    """
    cfg = scenario.config
    mission = cfg.mission
    if not isinstance(mission, DigAndDumpMission):
        raise TypeError(f"scenario {cfg.name!r} is not a dig_and_dump mission")
    seed = cfg.seed if seed is None else seed
    limit = cfg.time_limit_s if time_limit_s is None else time_limit_s
    terrain_rng, sensor_rng = seed_streams(seed)
    terrain = build_terrain(scenario, terrain_rng)
    soil = cfg.soil if soil_on else None
    if not soil_on and cfg.soil is not None:
        terrain = _rigid_terrain(terrain, cfg.soil)
    plan = DigDumpPlan(mission, scenario.rover)
    record = DigDumpRecord(
        scenario=scenario, seed=seed, time_limit_s=limit, soil_on=soil is not None
    )
    start = Pose2(cfg.rover.start.x_m, cfg.rover.start.y_m, cfg.rover.start.yaw_rad)
    wall0 = time.perf_counter()
    with LunarWorld(terrain, cfg.sim, gui=gui, soil=soil) as world:
        rover = world.add_rover(scenario.rover, start, rng=sensor_rng)
        rover.configure()
        rover.activate()
        truth = world.truth
        record.cell_size_m = truth.terrain_cell_size_m
        record.origin_xy_m = truth.terrain_origin_xy_m
        record.terrain_before_m = truth.terrain_heights_m()
        t0 = world.sim_time_s
        state = ScriptState()
        recorder = _Recorder(world, rover, record, plan.tool.name, t0, progress, state)
        video = VideoRecorder(video_path, VIDEO_FPS, VIDEO_SIZE_PX) if video_path else None
        recorder.video = video

        def on_cycle(st: ScriptState) -> None:
            record.dig_loads_kg.append(max(record.load_kg[-200:], default=0.0))

        scanner = None
        if mission.wall_height_m is not None:
            _add_walls(world, scenario.site_size_m, mission.wall_height_m)
            scanner = Rangefinder(
                world,
                rover,
                RangefinderConfig(
                    mount_xyz_m=mission.scanner_mount_xyz_m,
                    azimuth_fov_rad=2.0 * math.pi,
                    azimuth_count=360,
                    elevation_min_rad=0.0,
                    elevation_max_rad=0.0,
                    elevation_count=1,
                    max_range_m=10.0,
                ),
                rng=sensor_rng,
            ).scan
        pilot = Pilot(
            rover,
            scenario.rover,
            start,
            control_hz=cfg.sim.control_hz,
            deadline_s=t0 + limit,
            observer=recorder.observe,
            scanner=scanner,
            site_size_m=scenario.site_size_m,
        )
        try:
            run_script(pilot, plan, cycles=mission.cycles, state=state, on_cycle=on_cycle)
        finally:
            if video is not None:
                record.video_frames = video.frames_written
                video.close()
        if rover.lifecycle_state.value == "active":
            rover.deactivate()
        record.sim_time_s = world.sim_time_s - t0
        record.digs, record.dumps, record.phase = state.digs, state.dumps, state.phase
        record.turn_stalls, record.timeouts = pilot.turn_stalls, pilot.timeouts
        record.dig_pitch_reliefs = pilot.pitch_reliefs
        record.gyro_bias_estimate_radps = pilot.gyro_bias_radps[2]
        record.wall_fixes = pilot.fixes
        record.wall_fix_corrections_m = list(pilot.fix_corrections_m)
        record.terrain_after_m = truth.terrain_heights_m()
        record.soil = truth.soil_report()
        record.energy_used_wh = truth.energy_used_wh(rover)
        record.tipped_over = record.tipped_over or truth.tipped_over(rover)
    record.wall_time_s = time.perf_counter() - wall0
    log.info(
        "dig_and_dump: %d digs, %d dumps in %.0f s simulated, %.1f s wall",
        record.digs,
        record.dumps,
        record.sim_time_s,
        record.wall_time_s,
    )
    return record


# ---------------------------------------------------------------------------- report
def _area_volumes(record: DigDumpRecord, box: AreaBox) -> dict[str, float]:
    """Fill and cut inside a box from the before and after grids (survey, two scans)."""
    assert record.terrain_before_m is not None and record.terrain_after_m is not None
    poly = box_polygon((box.x_m, box.y_m), (box.size_x_m, box.size_y_m))
    v = volume_change(
        record.terrain_before_m,
        record.terrain_after_m,
        record.cell_size_m,
        record.origin_xy_m,
        poly,
    )
    return {
        "fill_m3": round(v.fill_m3, 6),
        "cut_m3": round(v.cut_m3, 6),
        "net_m3": round(v.net_m3, 6),
        "area_m2": round(v.area_m2, 4),
    }


def dig_and_dump_metrics(record: DigDumpRecord) -> Metrics:
    """Judge a run on ground truth against the scenario's acceptance criteria."""
    cfg = record.scenario.config
    mission = cfg.mission
    assert isinstance(mission, DigAndDumpMission)
    acc = cfg.acceptance
    soil: dict[str, Any] | None = None
    if record.soil is not None:
        soil = dict(record.soil)
        soil["dig_area"] = _area_volumes(record, mission.dig_area)
        soil["dump_area"] = _area_volumes(record, mission.dump_area)
        soil["pile_volume_m3"] = soil["dump_area"]["fill_m3"]
        soil["pit_volume_m3"] = soil["dig_area"]["cut_m3"]
        soil["volume_moved_m3"] = soil["moved_into_tools_m3"]
        # From the two grids of the run folder (the "before" scan is taken once the rover
        # has settled, so it holds its first wheel prints; the ledger starts before them).
        assert record.terrain_before_m is not None and record.terrain_after_m is not None
        soil["scan_volume_change_m3"] = float(
            (record.terrain_after_m - record.terrain_before_m).sum() * record.cell_size_m**2
        )
        if cfg.soil is not None:
            soil["depth_m"] = cfg.soil.depth_m
    checks: dict[str, bool] = {
        "stayed_on_site": record.min_edge_clearance_m > 0.0,
        "not_tipped_over": not record.tipped_over,
    }
    if mission.cycles is not None:
        checks["cycles_done"] = record.dumps >= mission.cycles
    if acc.min_dump_fill_m3 is not None:
        checks["dump_fill_ok"] = soil is not None and soil["pile_volume_m3"] >= acc.min_dump_fill_m3
    if acc.max_conservation_error is not None:
        checks["conservation_ok"] = (
            soil is not None and soil["conservation_error_rel"] <= acc.max_conservation_error
        )
    if acc.max_tip_overs is not None:
        checks["tip_overs_ok"] = int(record.tipped_over) <= acc.max_tip_overs
    success = all(checks.values())
    failed = [k for k, ok in checks.items() if not ok]
    true_xy = np.asarray([(x, y) for x, y, _, _ in record.true_xyzyaw], dtype=np.float64)
    est_xy = np.asarray([(x, y) for x, y, _ in record.est_xyyaw], dtype=np.float64)
    final_true = record.true_xyzyaw[-1] if record.true_xyzyaw else (math.nan,) * 4
    final_est = record.est_xyyaw[-1] if record.est_xyyaw else (math.nan,) * 3
    loc_err = np.hypot(true_xy[:, 0] - est_xy[:, 0], true_xy[:, 1] - est_xy[:, 1])
    sim = record.sim_time_s
    data: dict[str, Any] = {
        **run_header(
            record.scenario,
            record.seed,
            success,
            "succeeded" if success else "execution_failed",
            "acceptance met" if success else "failed: " + ", ".join(failed),
        ),
        "acceptance": {"criteria": acc.model_dump(exclude_none=True), "checks": checks},
        "oracle": False,
        "soil_on": record.soil_on,
        "sim_time_s": round(sim, 4),
        "time_limit_s": record.time_limit_s,
        "wall_time_s": round(record.wall_time_s, 3),
        "real_time_factor": round(sim / record.wall_time_s, 2) if record.wall_time_s else None,
        "physics_hz": cfg.sim.physics_hz,
        "control_hz": cfg.sim.control_hz,
        "digs": record.digs,
        "dumps": record.dumps,
        "cycles": record.dumps,
        "dig_loads_kg": [round(x, 3) for x in record.dig_loads_kg],
        "last_phase": record.phase,
        "distance_driven_m": round(path_length_m(true_xy), 3),
        "distance_estimated_m": round(path_length_m(est_xy), 3),
        "min_edge_clearance_m": round(record.min_edge_clearance_m, 4),
        "final_true_pose": dict(zip(("x_m", "y_m", "z_m", "yaw_rad"), final_true, strict=True)),
        "final_estimated_pose": dict(zip(("x_m", "y_m", "yaw_rad"), final_est, strict=True)),
        "final_position_error_m": round(float(loc_err[-1]), 4) if loc_err.size else None,
        "max_position_error_m": round(float(loc_err.max()), 4) if loc_err.size else None,
        "gyro_bias_estimate_radps": record.gyro_bias_estimate_radps,
        "wall_fixes": record.wall_fixes,
        "wall_fix_correction_median_m": round(float(np.median(record.wall_fix_corrections_m)), 4)
        if record.wall_fix_corrections_m
        else None,
        "wall_fix_correction_max_m": round(max(record.wall_fix_corrections_m), 4)
        if record.wall_fix_corrections_m
        else None,
        "tipped_over": record.tipped_over,
        "turn_stalls": record.turn_stalls,
        "dig_pitch_reliefs": record.dig_pitch_reliefs,
        "motion_timeouts": record.timeouts,
        "energy_used_wh": round(record.energy_used_wh, 4),
        "soil": soil,
    }
    if record.video_frames:
        data["video_frames"] = record.video_frames
    return Metrics(success=success, data=data)


def _areas(mission: DigAndDumpMission) -> dict[str, tuple[float, float, float, float]]:
    return {"dig area": mission.dig_area.bounds_m, "dump area": mission.dump_area.bounds_m}


def write_dig_and_dump_folder(record: DigDumpRecord, out_dir: Path) -> Metrics:
    """Write every file of a dig_and_dump run folder; returns the metrics written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = dig_and_dump_metrics(record)
    (out_dir / "metrics.json").write_text(json.dumps(metrics.data, indent=2) + "\n")
    cfg = record.scenario.config
    mission = cfg.mission
    assert isinstance(mission, DigAndDumpMission)
    before, after = record.terrain_before_m, record.terrain_after_m
    assert before is not None and after is not None
    np.save(out_dir / "terrain_before.npy", before)
    np.save(out_dir / "terrain_after.npy", after)
    meta = {
        "cell_size_m": record.cell_size_m,
        "origin_xy_m": list(record.origin_xy_m),
        "shape": list(before.shape),
        "units": "m",
        "layout": "heights[j, i] is the height at x = origin_x + i*cell, y = origin_y + j*cell"
        " (row 0 is the south edge; site frame: x east, y north, z up)",
        "files": {"before": "terrain_before.npy", "after": "terrain_after.npy"},
        "soil": record.soil_on,
        "areas": {
            "dig": mission.dig_area.model_dump(),
            "dump": mission.dump_area.model_dump(),
        },
    }
    (out_dir / "terrain.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_pose_csv(
        out_dir / "trajectory.csv",
        record.t_s,
        record.true_xyzyaw,
        record.est_xyyaw,
        {"bucket_load_kg": record.load_kg},
    )
    areas = _areas(mission)
    cell, origin = record.cell_size_m, record.origin_xy_m
    title = f"{cfg.name}  seed {record.seed}"
    write_terrain_map(
        out_dir / "terrain_before.png", before, cell, origin, areas=areas, title=title + "  before"
    )
    true_xy = np.asarray([(x, y) for x, y, _, _ in record.true_xyzyaw], dtype=np.float64)
    est_xy = np.asarray([(x, y) for x, y, _ in record.est_xyyaw], dtype=np.float64)
    write_terrain_map(
        out_dir / "terrain_after.png",
        after,
        cell,
        origin,
        paths={"true": true_xy.reshape(-1, 2), "estimated": est_xy.reshape(-1, 2)},
        areas=areas,
        title=f"{title}  after {record.sim_time_s:.0f} s, {record.dumps} dumps",
    )
    d = metrics.data
    soil = d["soil"] or {}
    write_difference_map(
        out_dir / "difference.png",
        before,
        after,
        cell,
        origin,
        areas=areas,
        title=f"{title}: pit {soil.get('pit_volume_m3', 0.0):.3f} m³, "
        f"pile {soil.get('pile_volume_m3', 0.0):.3f} m³ after {record.sim_time_s:.0f} s",
    )
    log.info("run folder written: %s", out_dir)
    return metrics


def dig_and_dump_entry(
    scenario: LoadedScenario,
    out_dir: Path,
    *,
    seed: int,
    time_limit_s: float,
    gui: bool,
    video_path: Path | None,
    progress: MissionProgress | None,
) -> MissionRun:
    """The ``dig_and_dump`` entry of :data:`lunarsite.launch.missions.SIM_MISSIONS`."""
    record = run_dig_and_dump(
        scenario,
        seed=seed,
        time_limit_s=time_limit_s,
        gui=gui,
        video_path=video_path,
        progress=progress,
    )
    metrics = write_dig_and_dump_folder(record, out_dir)
    d = metrics.data
    soil = d["soil"] or {}
    return MissionRun(
        metrics,
        (
            f"{d['dumps']} dumps ({d['digs']} digs) in {d['sim_time_s']:.0f} s simulated, "
            f"{d['wall_time_s']:.1f} s wall ({d['real_time_factor']}× real time)",
            f"moved {soil.get('volume_moved_m3', 0.0):.3f} m³ loose; pile "
            f"{soil.get('pile_volume_m3', 0.0):.3f} m³, pit "
            f"{soil.get('pit_volume_m3', 0.0):.3f} m³; conservation error "
            f"{soil.get('conservation_error_rel', 0.0):.2e} of the mass cut",
            f"final position error {d['final_position_error_m']} m (estimate vs truth), "
            f"closest to the site edge {d['min_edge_clearance_m']:.2f} m",
        ),
    )
