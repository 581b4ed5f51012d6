"""The ``dig_and_dump`` demo: an excavator digs, carries and dumps regolith, scripted.

The rover stands between two marked areas of a flat arena, faces the dig area, lowers its
bucket and drives a short way into the soil, curls the bucket, backs out to where it
started, turns round (on its gyro), tips the bucket over the dump area, turns back, and
repeats. Nothing is planned: the motions are a fixed script, driven only through the rover
interface (``read`` / ``write`` with drive and ``tool_targets_rad``). The boom goes a
little lower each cycle, so the pit deepens as the pile grows.

The same script runs on rigid terrain (``soil=None``) to measure what the soil costs.
Ground truth for the report comes from :attr:`LunarWorld.soil` (the evaluation channel).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lunarsite.robot.config import RoverConfig, ToolConfig
from lunarsite.robot.hardware import RoverInterface
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand
from lunarsite.sim.soil import SoilConfig
from lunarsite.sim.terrain import Terrain
from lunarsite.sim.world import LunarWorld, SimConfig

from .schema import load_rover

__all__ = ["DigDumpResult", "DigDumpScript", "arena_terrain", "run_dig_and_dump"]

log = logging.getLogger(__name__)

ARENA_SIZE_M = (6.88, 5.0)
"""Lunabotics KSC arena interior (reference/LUNAR.md)."""


def arena_terrain(cell_size_m: float, size_m: tuple[float, float] = ARENA_SIZE_M) -> Terrain:
    """A flat arena of ``size_m`` (raked simulant) at ``cell_size_m``."""
    nx = math.floor(size_m[0] / cell_size_m + 1e-9) + 1
    ny = math.floor(size_m[1] / cell_size_m + 1e-9) + 1
    return Terrain(np.zeros((ny, nx)), cell_size_m)


@dataclass
class DigDumpScript:
    """Timings and servo targets of one cycle (rad, s, m/s). Tuned for excavator_66kg."""

    dig_speed_mps: float = 0.1
    dig_time_s: float = 3.0
    lower_time_s: float = 2.0
    curl_time_s: float = 2.0
    dump_time_s: float = 5.0
    turn_rate_radps: float = 0.5
    boom_dig_start_rad: float = -0.3
    boom_dig_step_rad: float = 0.02
    boom_dig_lowest_rad: float = -0.55
    curl_dig_rad: float = 0.2
    boom_carry_rad: float = 0.3
    curl_carry_rad: float = 1.1
    boom_dump_rad: float = 0.6
    curl_dump_rad: float = -1.5


@dataclass
class DigDumpResult:
    """What a run produced. ``soil`` is the ledger (:meth:`SoilSim.volume_report`) or None."""

    soil_on: bool
    sim_time_s: float
    wall_time_s: float
    cycles: int
    terrain_before_m: np.ndarray | None
    terrain_after_m: np.ndarray | None
    cell_size_m: float
    origin_xy_m: tuple[float, float]
    soil: dict[str, Any] | None
    dig_area_xy_m: tuple[float, float]
    dump_area_xy_m: tuple[float, float]
    energy_used_wh: float
    cycle_loads_kg: list[float] = field(default_factory=list)

    @property
    def real_time_factor(self) -> float:
        return self.sim_time_s / self.wall_time_s if self.wall_time_s > 0 else math.inf

    def metrics(self) -> dict[str, Any]:
        """JSON-ready figures for metrics.json (the ``soil`` section included)."""
        out: dict[str, Any] = {
            "soil_on": self.soil_on,
            "sim_time_s": round(self.sim_time_s, 3),
            "wall_time_s": round(self.wall_time_s, 3),
            "real_time_factor": round(self.real_time_factor, 2),
            "cycles": self.cycles,
            "energy_used_wh": round(self.energy_used_wh, 3),
            "dig_area_xy_m": list(self.dig_area_xy_m),
            "dump_area_xy_m": list(self.dump_area_xy_m),
        }
        if self.soil is not None:
            out["soil"] = self.soil
            if self.terrain_before_m is not None and self.terrain_after_m is not None:
                diff = self.terrain_after_m - self.terrain_before_m
                out["pile_centroid_xy_m"] = self._centroid(np.maximum(diff, 0.0))
                out["pit_centroid_xy_m"] = self._centroid(np.maximum(-diff, 0.0))
            out["cycle_loads_kg"] = [round(x, 3) for x in self.cycle_loads_kg]
        return out

    def _centroid(self, weights: np.ndarray) -> list[float] | None:
        total = float(weights.sum())
        if total <= 0.0:
            return None
        ny, nx = weights.shape
        x = self.origin_xy_m[0] + np.arange(nx) * self.cell_size_m
        y = self.origin_xy_m[1] + np.arange(ny) * self.cell_size_m
        return [
            round(float((weights.sum(axis=0) * x).sum()) / total, 3),
            round(float((weights.sum(axis=1) * y).sum()) / total, 3),
        ]


class _Driver:
    """Holds a command for a while, integrating the gyro for heading."""

    def __init__(self, rover: RoverInterface, control_hz: int, deadline_s: float) -> None:
        self.rover = rover
        self.dt = 1.0 / control_hz
        self.yaw_rad = 0.0
        self.deadline_s = deadline_s
        self.tools: dict[str, float] = {}

    def out_of_time(self) -> bool:
        return self.rover.clock.now_s() >= self.deadline_s

    def _tick(self, drive: DriveCommand) -> None:
        self.rover.write(RoverCommand(drive, dict(self.tools)))
        self.rover.clock.sleep_s(self.dt)
        self.yaw_rad += self.rover.read().gyro_radps[2] * self.dt

    def hold(self, drive: DriveCommand, seconds: float, **tools: float) -> None:
        self.tools.update(tools)
        for _ in range(round(seconds / self.dt)):
            if self.out_of_time():
                return
            self._tick(drive)

    def ticks(self) -> float:
        s = self.rover.read()
        return 0.5 * (s.left_ticks + s.right_ticks)

    def back_to(self, ticks: float, speed_mps: float, timeout_s: float = 15.0) -> None:
        """Reverse until the mean wheel count is back to ``ticks`` (wheel odometry)."""
        t_end = self.rover.clock.now_s() + timeout_s
        while not self.out_of_time() and self.rover.clock.now_s() < t_end and self.ticks() > ticks:
            self._tick(DriveCommand(-speed_mps, 0.0))
        self.hold(DriveCommand(0.0, 0.0), 0.5)

    def turn_to(self, yaw_rad: float, rate_radps: float, timeout_s: float = 20.0) -> None:
        t_end = self.rover.clock.now_s() + timeout_s
        while not self.out_of_time() and self.rover.clock.now_s() < t_end:
            err = math.remainder(yaw_rad - self.yaw_rad, 2.0 * math.pi)
            if abs(err) < 0.02:
                break
            w = math.copysign(min(rate_radps, max(0.1, 2.0 * abs(err))), err)
            self._tick(DriveCommand(0.0, w))
        self.hold(DriveCommand(0.0, 0.0), 0.5)


def _edge_reach_m(tool: ToolConfig, boom_rad: float, curl_rad: float) -> float:
    """Horizontal distance from the chassis centre to a bucket's cutting edge, in m
    (arm pitched up by ``boom_rad``, bucket by ``boom_rad + curl_rad``; level chassis)."""
    pitch = boom_rad + curl_rad
    return (
        tool.mount_xyz_m[0]
        + tool.arm_length_m * math.cos(boom_rad)
        + tool.depth_m * math.cos(pitch)
        + 0.5 * tool.height_m * math.sin(pitch)
    )


def run_dig_and_dump(
    *,
    sim_seconds: float = 1800.0,
    soil: SoilConfig | None = None,
    rover: RoverConfig | None = None,
    cell_size_m: float = 0.02,
    physics_hz: int = 120,
    control_hz: int = 20,
    seed: int = 0,
    script: DigDumpScript | None = None,
    progress: Callable[[float, int], None] | None = None,
) -> DigDumpResult:
    """Run the dig/carry/dump script headless for ``sim_seconds`` of simulated time.

    Args:
        soil: soil parameters; ``None`` runs the same script on rigid terrain. The soil grid
            has ``cell_size_m`` cells (``soil.cell_size_m`` is overridden); the rigid run
            uses the soil config's collision cell for its heightfield, so both step on the
            same collision resolution.
        rover: the rover (default ``excavator_66kg``).
        progress: called after each cycle with (sim time s, cycles done).
    """
    rover_cfg = rover or load_rover("excavator_66kg")[0]
    script = script or DigDumpScript()
    sim_cfg = SimConfig(physics_hz=physics_hz, control_hz=control_hz)
    if soil is not None:
        soil = soil.model_copy(update={"cell_size_m": cell_size_m})
        terrain = arena_terrain(cell_size_m)
    else:
        k = max(1, round(SoilConfig().collision_cell_size_m / cell_size_m))
        terrain = arena_terrain(k * cell_size_m)
    sx, sy = ARENA_SIZE_M
    start = Pose2(0.5 * sx, 0.5 * sy, 0.0)
    if not any(t.kind in ("scoop", "bucket") for t in rover_cfg.tools):
        raise ValueError(f"rover {rover_cfg.name!r} has no scoop or bucket to dig with")
    tool = next(t for t in rover_cfg.tools if t.kind in ("scoop", "bucket"))
    dig_xy = (
        start.x_m
        + _edge_reach_m(tool, script.boom_dig_start_rad, script.curl_dig_rad)
        + 0.5 * script.dig_speed_mps * script.dig_time_s,
        start.y_m,
    )
    dump_xy = (
        start.x_m - _edge_reach_m(tool, script.boom_dump_rad, script.curl_dump_rad),
        start.y_m,
    )
    rng = np.random.default_rng(seed)
    wall0 = time.perf_counter()
    with LunarWorld(terrain, sim_cfg, soil=soil) as world:
        sim_rover = world.add_rover(rover_cfg, start, rng=rng)
        sim_rover.configure()
        sim_rover.activate()
        t0 = world.sim_time_s
        drv = _Driver(sim_rover, control_hz, t0 + sim_seconds)
        before = world.soil.snapshot() if world.soil is not None else None
        stop = DriveCommand(0.0, 0.0)
        cycles = 0
        loads: list[float] = []
        s = script
        while not drv.out_of_time():
            boom = max(s.boom_dig_lowest_rad, s.boom_dig_start_rad - s.boom_dig_step_rad * cycles)
            drv.hold(stop, s.lower_time_s, boom_lift=boom, bucket_curl=s.curl_dig_rad)
            home_ticks = drv.ticks()
            drv.hold(DriveCommand(s.dig_speed_mps, 0.0), s.dig_time_s)
            drv.hold(stop, s.curl_time_s, boom_lift=s.boom_carry_rad, bucket_curl=s.curl_carry_rad)
            if world.soil is not None:
                loads.append(world.soil.tool_load_kg(sim_rover, tool.name))
            drv.back_to(home_ticks, s.dig_speed_mps)
            drv.turn_to(math.pi, s.turn_rate_radps)
            drv.hold(stop, s.dump_time_s, boom_lift=s.boom_dump_rad, bucket_curl=s.curl_dump_rad)
            drv.hold(stop, s.curl_time_s, boom_lift=s.boom_carry_rad, bucket_curl=s.curl_carry_rad)
            drv.turn_to(0.0, s.turn_rate_radps)
            if drv.out_of_time():
                break
            cycles += 1
            if progress is not None:
                progress(world.sim_time_s - t0, cycles)
        sim_time = world.sim_time_s - t0
        energy = world.truth.energy_used_wh(sim_rover)
        after = world.soil.snapshot() if world.soil is not None else None
        report = world.soil.volume_report() if world.soil is not None else None
        cell = world.soil.grid.cell_size_m if world.soil is not None else terrain.cell_size_m
        origin = world.soil.grid.origin_xy_m if world.soil is not None else terrain.origin_xy_m
    wall = time.perf_counter() - wall0
    log.info("dig_and_dump: %d cycles in %.0f s simulated, %.1f s wall", cycles, sim_time, wall)
    return DigDumpResult(
        soil_on=soil is not None,
        sim_time_s=sim_time,
        wall_time_s=wall,
        cycles=cycles,
        terrain_before_m=before,
        terrain_after_m=after,
        cell_size_m=cell,
        origin_xy_m=origin,
        soil=report,
        dig_area_xy_m=dig_xy,
        dump_area_xy_m=dump_xy,
        energy_used_wh=energy,
        cycle_loads_kg=loads,
    )
