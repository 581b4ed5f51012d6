"""``dig_and_dump``: an excavator digs, carries and dumps regolith by a fixed layout.

The task is :class:`~lunarsite.robot.tasks.dig_and_dump.DigAndDump` (no earthwork
planning: lanes and strips taken in order; closed-loop on wheel odometry and the gyro,
with position fixes on the walls of the arena from a level range scan when the mission
has walls). The run is judged on the true soil grids before and after, as the Lunabotics
judges measure from two scans (:mod:`lunarsite.robot.site.survey`), with the soil
model's mass ledger; see :mod:`.dig_report`.

Simulation only: it needs deformable soil, a bucket on a boom (two servo channels; the
reference firmware drives one tool servo) and, with walls, a range scanner.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from lunarsite.robot.config import Positive, RoverConfig, StrictModel
from lunarsite.robot.control.bucket import dig_bucket, max_dig_depth_m
from lunarsite.robot.planning.dig_dump import DigDumpParams, DigDumpPlan
from lunarsite.robot.site.zones import Box
from lunarsite.robot.tasks.dig_and_dump import DigAndDump

from ..fields import CommonAcceptance, speed_problem
from ..files import Finite, Problem
from .base import Judgement, MissionKind, RunRecord, RunSetup, ScenarioView
from .dig_report import judge_dig, write_soil_pictures

if TYPE_CHECKING:
    from ..schema import LoadedScenario

__all__ = [
    "MISSION",
    "AreaBox",
    "DigAndDumpMission",
    "DigDumpAcceptance",
    "dig_params",
    "prepare_walls",
]

WALL_THICKNESS_M = 0.1
WALL_RGBA = (0.45, 0.45, 0.5, 1.0)

Facing = Literal["east", "north", "west", "south"]


class AreaBox(StrictModel):
    """An axis-aligned box on the site: centre (``x_m``, ``y_m``), sides ``size_x_m`` ×
    ``size_y_m``, all in m."""

    x_m: Finite
    y_m: Finite
    size_x_m: Positive
    size_y_m: Positive

    def box(self) -> Box:
        return Box(self.x_m, self.y_m, self.size_x_m, self.size_y_m)


class DigAndDumpMission(StrictModel):
    """Dig, carry and dump cycles between a dig area and a dump area, scripted (no
    planning) and closed-loop on the rover's own wheel odometry and gyro.

    The dig area is skimmed in layers: lanes a bucket-width apart across it, strips of
    ``pass_length_m`` along it, each layer ``layer_depth_m`` deeper down to
    ``max_depth_m``. The loads go to lanes across the dump area, where a berm grows.
    """

    kind: Literal["dig_and_dump"]
    dig_area: AreaBox
    dump_area: AreaBox
    dig_facing: Facing = "east"
    """Direction the rover faces while digging (x is east, y north)."""
    dump_facing: Facing = "north"
    """Direction the rover faces while dumping."""
    cycles: Annotated[int, Field(ge=1)] | None = None
    """Dig-carry-dump cycles to run; null: until the time limit."""
    layer_depth_m: Positive = 0.06
    """Depth each layer of the pit adds below the previous one, in m."""
    max_depth_m: Positive = 0.2
    """Deepest cut planned below the initial surface, in m."""
    pass_length_m: Positive = 0.3
    """Distance the bucket's edge travels through the soil on one dig, in m."""
    dig_speed_mps: Positive = 0.08
    """Forward speed while digging, in m/s."""
    cruise_speed_mps: Positive | None = None
    """Speed between the areas; defaults to the rover's max_speed_mps."""
    approach_m: Positive = 0.4
    """Straight run-in before each dig and each dump, in m."""
    wall_height_m: Positive | None = 1.0
    """The site is walled, as the KSC arena is, this high (m); the rover fixes its position
    on the walls with a level range scan before each dig and dump. Null: no walls, dead
    reckoning alone."""
    scanner_mount_xyz_m: tuple[Finite, Finite, Finite] = (0.0, 0.0, 0.35)
    """Where the range scanner sits in the chassis frame, in m."""


class DigDumpAcceptance(CommonAcceptance):
    min_dump_fill_m3: Positive
    """Soil gained inside the dump area from the scan before to the scan after, in m³."""
    max_conservation_error: Positive | None = None
    """Soil mass gained or lost by the soil model (grid + tools + outflow against the
    start) as a share of the mass cut; null to not judge."""


def dig_params(mission: DigAndDumpMission) -> DigDumpParams:
    """The controller's value type for a checked mission block."""
    return DigDumpParams(
        dig_area=mission.dig_area.box(),
        dump_area=mission.dump_area.box(),
        dig_facing=mission.dig_facing,
        dump_facing=mission.dump_facing,
        cycles=mission.cycles,
        layer_depth_m=mission.layer_depth_m,
        max_depth_m=mission.max_depth_m,
        pass_length_m=mission.pass_length_m,
        dig_speed_mps=mission.dig_speed_mps,
        cruise_speed_mps=mission.cruise_speed_mps,
        approach_m=mission.approach_m,
    )


class DigAndDumpKind(MissionKind):
    kind = "dig_and_dump"
    schema = DigAndDumpMission
    acceptance = DigDumpAcceptance

    def check(self, view: ScenarioView) -> list[Problem]:
        return check_dig(view.mission, view.rover, view.soil, view.site_size_m)

    def summary(self, mission: Any) -> str:
        cycles = "until the time limit" if mission.cycles is None else f"{mission.cycles} cycles"
        return f"dig and dump, {cycles}"

    def refuse(self, scenario: LoadedScenario, backend: str) -> str | None:
        if backend != "sim":
            return (
                f"scenario {scenario.config.name!r} has a 'dig_and_dump' mission: it needs "
                "deformable soil and a bucket on a boom (two servo channels; the reference "
                "firmware drives one tool servo), which only the simulator has today"
            )
        return None

    def prepare(self, setup: RunSetup) -> None:
        mission: DigAndDumpMission = setup.scenario.mission
        prepare_walls(setup, mission.wall_height_m, mission.scanner_mount_xyz_m)

    def build(self, setup: RunSetup) -> DigAndDump:
        scanner = setup.extra.get("scanner")
        return DigAndDump(
            dig_params(setup.scenario.mission),
            setup.scenario.rover,
            setup.start,
            control_hz=setup.control_hz,
            scanner=scanner,
            site_size_m=setup.scenario.site_size_m if scanner is not None else None,
        )

    def channels(self, task: Any, truth: Any) -> dict[str, float]:
        load = truth.tool_load_kg(task.plan.tool.name) if truth is not None else math.nan
        return {"bucket_load_kg": load, "dumps": float(task.progress.dumps)}

    def judge(self, run: RunRecord) -> Judgement:
        return judge_dig(run)

    def write_files(self, run: RunRecord, out_dir: Path, judgement: Judgement) -> None:
        write_soil_pictures(run, out_dir, judgement)


def prepare_walls(
    setup: RunSetup, wall_height_m: float | None, mount_xyz_m: tuple[float, float, float]
) -> None:
    """Walls round the site and a level range scanner for wall fixes
    (``setup.extra["scanner"]``); nothing when ``wall_height_m`` is None."""
    if wall_height_m is None:
        return
    from lunarsite.sim.rangefinder import RangefinderConfig

    assert setup.streams is not None
    world = setup.backend.world  # type: ignore[attr-defined]
    _add_walls(world, setup.scenario.site_size_m, wall_height_m)
    setup.extra["scanner"] = setup.backend.range_scanner(
        RangefinderConfig(
            mount_xyz_m=mount_xyz_m,
            azimuth_fov_rad=2.0 * math.pi,
            azimuth_count=360,
            elevation_min_rad=0.0,
            elevation_max_rad=0.0,
            elevation_count=1,
            max_range_m=10.0,
        ).with_part(setup.scenario.rover.scanner),
        rng=setup.streams.sensors,
    )


def _add_walls(world: Any, size_m: tuple[float, float], height_m: float) -> None:
    """Four walls round the site ``[0, size_x] × [0, size_y]``, their inner faces on its
    edges (the KSC arena is walled), standing on the lowest ground."""
    import pybullet as pb

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


def check_dig(
    mission: DigAndDumpMission,
    rover: RoverConfig,
    soil: Any,
    size_m: tuple[float, float] | None,
) -> list[Problem]:
    """Problems with a dig_and_dump mission that need several fields at once."""
    out: list[Problem] = []
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
    out += speed_problem(mission.dig_speed_mps, rover, "dig_speed_mps")
    out += speed_problem(mission.cruise_speed_mps, rover, "cruise_speed_mps")
    if mission.dig_area.box().overlaps(mission.dump_area.box()):
        out.append((("mission", "dump_area"), "overlaps the dig_area"))
    if size_m is not None:
        for key in ("dig_area", "dump_area"):
            area: AreaBox = getattr(mission, key)
            if not area.box().inside(size_m):
                x0, x1, y0, y1 = area.box().bounds_m
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
        plan = DigDumpPlan(dig_params(mission), rover)
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


MISSION = DigAndDumpKind()
