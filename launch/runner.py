"""Runs a scenario in simulation: builds the world and rover, runs the controller, records.

This is the composition root for a simulated run. The controller
(:mod:`lunarsite.robot`) sees only :class:`SimRover` through the hardware interface;
the recorder reads ground truth from the world's evaluation channel for the metrics.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lunarsite.robot.control.waypoints import FollowerParams
from lunarsite.robot.executive import ActionResult, Agent, ControlLoop, TickInfo
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.tasks.waypoints import DriveToWaypoints
from lunarsite.robot.types import STOP, Pose2
from lunarsite.sim.rover import SimRover
from lunarsite.sim.terrain import (
    DemTerrainConfig,
    ProceduralTerrainConfig,
    Terrain,
    generate_terrain,
    load_dem,
)
from lunarsite.sim.world import LunarWorld

from .pictures import VideoRecorder
from .schema import LoadedScenario

__all__ = ["Progress", "RunRecord", "TickRecorder", "build_terrain", "run_scenario", "seed_streams"]

log = logging.getLogger(__name__)

Progress = Callable[[float, float, int, int], None]
"""Called with (sim time s, time limit s, waypoints reached, waypoint count)."""

VIDEO_FRAME_PERIOD_S = 0.5
VIDEO_FPS = 20.0
VIDEO_SIZE_PX = (640, 480)


def seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the terrain and for sensor noise, from one seed."""
    terrain_seq, sensor_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(terrain_seq), np.random.default_rng(sensor_seq)


def build_terrain(scenario: LoadedScenario, rng: np.random.Generator) -> Terrain:
    site = scenario.config.site
    if isinstance(site.terrain, DemTerrainConfig):
        return load_dem(site.terrain, scenario.base_dir)
    assert isinstance(site.terrain, ProceduralTerrainConfig)
    assert site.cell_size_m is not None
    return generate_terrain(site.terrain, scenario.site_size_m, site.cell_size_m, rng)


@dataclass
class RunRecord:
    """Everything a run produced, for the report. Arrays are per control tick."""

    scenario: LoadedScenario
    seed: int
    time_limit_s: float
    terrain: Terrain
    outcome: DriveToWaypoints | None = None
    result: ActionResult | None = None
    sim_time_s: float = 0.0
    wall_time_s: float = 0.0
    t_s: list[float] = field(default_factory=list)
    true_xyzyaw: list[tuple[float, float, float, float]] = field(default_factory=list)
    est_xyyaw: list[tuple[float, float, float]] = field(default_factory=list)
    cmd: list[tuple[float, float]] = field(default_factory=list)
    true_at_arrival: dict[int, tuple[float, float]] = field(default_factory=dict)
    rocks_touched: set[int] = field(default_factory=set)
    tipped_over: bool = False
    final_true: Pose2 | None = None
    final_estimate: Pose2 | None = None
    energy_used_wh: float = 0.0
    video_frames: int = 0


def run_scenario(
    scenario: LoadedScenario,
    *,
    seed: int | None = None,
    time_limit_s: float | None = None,
    gui: bool = False,
    video_path: Path | None = None,
    progress: Progress | None = None,
    render_camera: bool | None = None,
) -> RunRecord:
    """Run a waypoint scenario in simulation and return what happened."""
    cfg = scenario.config
    seed = cfg.seed if seed is None else seed
    limit = cfg.time_limit_s if time_limit_s is None else time_limit_s
    terrain_rng, sensor_rng = seed_streams(seed)
    terrain = build_terrain(scenario, terrain_rng)
    sim_cfg = cfg.sim
    if render_camera is not None:
        sim_cfg = sim_cfg.model_copy(update={"render_camera": render_camera})
    record = RunRecord(scenario=scenario, seed=seed, time_limit_s=limit, terrain=terrain)
    start = Pose2(cfg.rover.start.x_m, cfg.rover.start.y_m, cfg.rover.start.yaw_rad)
    waypoints = [(w.x_m, w.y_m) for w in cfg.mission.waypoints]
    wall0 = time.perf_counter()
    with LunarWorld(terrain, sim_cfg, gui=gui) as world:
        rover = world.add_rover(scenario.rover, start, rng=sensor_rng)
        rover.configure()
        rover.activate()
        params = FollowerParams.for_rover(
            scenario.rover,
            cruise_speed_mps=cfg.mission.cruise_speed_mps or scenario.rover.drive.max_speed_mps,
            arrival_tolerance_m=cfg.mission.arrival_tolerance_m,
        )
        action = DriveToWaypoints(
            params,
            DeadReckoning(scenario.rover, start),
            waypoints,
            control_hz=sim_cfg.control_hz,
        )
        recorder = TickRecorder(world, rover, record, len(waypoints), progress)
        recorder.action = action
        video = VideoRecorder(video_path, VIDEO_FPS, VIDEO_SIZE_PX) if video_path else None
        recorder.video = video
        loop = ControlLoop(
            [Agent(rover, action)],
            rate_hz=sim_cfg.control_hz,
            time_limit_s=limit,
            on_tick=recorder.observe,
            should_cancel=recorder.should_cancel,
        )
        try:
            ended = loop.run()
        finally:
            if video is not None:
                record.video_frames = video.frames_written
                video.close()
        record.outcome = action
        record.result = ended.results[0]
        record.sim_time_s = ended.elapsed_s
        for arrival in action.arrivals:
            record.true_at_arrival.setdefault(arrival.index, recorder.true_xy_at(arrival.stamp_s))
        if rover.lifecycle_state.value == "active":
            rover.deactivate()
        final = world.truth.rover_pose(rover)
        record.final_true = final.pose2
        record.final_estimate = action.pose
        record.energy_used_wh = world.truth.energy_used_wh(rover)
        record.tipped_over = record.tipped_over or world.truth.tipped_over(rover)
        if progress is not None:
            progress(ended.elapsed_s, limit, len(action.arrivals), len(waypoints))
    record.wall_time_s = time.perf_counter() - wall0
    return record


class TickRecorder:
    """Observes each control tick: ground truth for the record, progress, video frames."""

    def __init__(
        self,
        world: LunarWorld,
        rover: SimRover,
        record: RunRecord,
        n_waypoints: int,
        progress: Progress | None,
    ) -> None:
        self.world = world
        self.rover = rover
        self.record = record
        self.n_waypoints = n_waypoints
        self.progress = progress
        self.video: VideoRecorder | None = None
        self.action: DriveToWaypoints | None = None
        self._next_frame_s = 0.0
        self._last_progress_s = -math.inf

    def observe(self, tick: TickInfo) -> None:
        assert self.action is not None
        truth = self.world.truth.rover_pose(self.rover)
        rec = self.record
        rec.t_s.append(tick.stamp_s)
        rec.true_xyzyaw.append((truth.x_m, truth.y_m, truth.z_m, truth.yaw_rad))
        est = self.action.pose
        rec.est_xyyaw.append((est.x_m, est.y_m, est.yaw_rad))
        drive = tick.command.drive if tick.command is not None else STOP
        rec.cmd.append((drive.linear_mps, drive.angular_radps))
        rec.rocks_touched |= self.world.truth.rock_contacts(self.rover)
        if truth.tilt_rad > self.rover.config.limits.tip_over_rad:
            rec.tipped_over = True
        if self.video is not None and tick.stamp_s >= self._next_frame_s:
            self._next_frame_s = tick.stamp_s + VIDEO_FRAME_PERIOD_S
            size = self.rover.config.chassis.length_m
            frame = self.world.render_view(
                (truth.x_m, truth.y_m, truth.z_m),
                distance_m=6.0 * size + 2.0,
                yaw_rad=truth.yaw_rad - math.pi / 2,
                pitch_rad=math.radians(-30.0),
                width_px=VIDEO_SIZE_PX[0],
                height_px=VIDEO_SIZE_PX[1],
            )
            self.video.add_frame(frame)
        if self.progress is not None and tick.stamp_s - self._last_progress_s >= 1.0:
            self._last_progress_s = tick.stamp_s
            self.progress(
                tick.stamp_s, self.record.time_limit_s, len(self.action.arrivals), self.n_waypoints
            )

    def should_cancel(self) -> str | None:
        return "rover tipped over" if self.record.tipped_over else None

    def true_xy_at(self, stamp_s: float) -> tuple[float, float]:
        rec = self.record
        if not rec.t_s:
            return (math.nan, math.nan)
        i = int(np.searchsorted(np.asarray(rec.t_s), stamp_s))
        i = min(max(i, 0), len(rec.t_s) - 1)
        x, y, _, _ = rec.true_xyzyaw[i]
        return (x, y)
