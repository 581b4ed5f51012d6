"""``earthwork``: the rover is given designs (a pad, a berm, a trench, a crater to fill),
surveys the ground itself, plans the hauls, carries them out and stops when its own
survey says the designs are met.

The task is :class:`~lunarsite.robot.tasks.earthwork.Earthwork`. The run is judged on the
true soil: the designs are laid on the true grid before the run by the same rules the
rover used on its survey (a balanced pad, a grade fitted round a footprint), and the true
grid after is scored against them. Simulation only: it needs deformable soil and a
bucket on a boom.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

from lunarsite.robot.config import Positive, StrictModel
from lunarsite.robot.control.bucket import BucketPoses, dig_bucket
from lunarsite.robot.planning.earthwork import EarthworkParams
from lunarsite.robot.site.design import Design, bounds_xy_m
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.site.survey import box_polygon, region_weights
from lunarsite.robot.tasks.earthwork import Earthwork, EarthworkTaskParams
from lunarsite.robot.tasks.earthwork_reach import deepest_cut_m

from ..fields import CommonAcceptance, speed_problem
from ..files import Finite, Problem
from .base import Judgement, MissionKind, RunRecord, RunSetup, ScenarioView
from .dig_and_dump import AreaBox, prepare_walls
from .earthwork_specs import BermSpec, ModuleSpec, ShieldSpec, TaskSpec, TrenchSpec
from .earthwork_specs import designs_of as _designs_of

if TYPE_CHECKING:
    from ..schema import LoadedScenario

__all__ = ["MISSION", "EarthworkMission", "task_params"]

MODULE_START_GAP_M = 0.6
"""The rover's start keeps this far from a module's walls (its wheels reach ~0.45 m from
the chassis centre), in m."""


class EarthworkMission(StrictModel):
    """Designs to build, where soil may be borrowed and spoiled, and how to work."""

    kind: Literal["earthwork"]
    tasks: Annotated[list[TaskSpec], Field(min_length=1)]
    modules: tuple[ModuleSpec, ...] = ()
    """Rigid modules standing on the site (a habitat mock-up a shield covers)."""
    borrow: tuple[AreaBox, ...] = ()
    """Boxes the rover may dig from to supply fill (down to ``borrow_depth_m``)."""
    spoil: tuple[AreaBox, ...] = ()
    """Boxes the rover may dump surplus in (up to ``spoil_height_m``)."""
    survey_cell_m: Annotated[float, Field(ge=0.02, le=0.05)] = 0.05
    """Cell of the rover's survey grid, in m (2–5 cm)."""
    survey_margin_m: Positive = 2.0
    """The survey grid reaches this far beyond the designs and zones, in m."""
    loads_per_round: Annotated[int, Field(ge=1)] = 8
    """Loads carried between two surveys."""
    done_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    """Share of each design's cells that must be within tolerance on the survey."""
    deadband_m: Positive = 0.02
    haul_cell_m: Positive = 0.5
    borrow_depth_m: Positive = 0.15
    spoil_height_m: Positive = 0.2
    bucket_fill_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    dig_speed_mps: Positive = 0.08
    cruise_speed_mps: Positive = 0.25
    survey_standoff_m: Positive = 1.6
    grade_pads: bool = False
    """Back-blade level pads after each round of hauls (experimental: it has not yet
    improved a pad in measured runs; see robot/tasks/earthwork_grading.py)."""
    wall_height_m: Positive | None = 1.0
    """The site is walled this high (m), as the KSC arena is; the rover fixes its position
    on the walls with a level range scan at every station. Null: dead reckoning alone."""
    scanner_mount_xyz_m: tuple[Finite, Finite, Finite] = (0.0, 0.0, 0.35)


class EarthworkAcceptance(CommonAcceptance):
    min_share_in_spec: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """Least share of each design's cells within ±3 cm on the true grid."""
    max_rms_m: Positive | None = None
    max_mean_abs_error_m: Positive | None = None
    max_conservation_error: Positive | None = 0.001


def designs_of(mission: EarthworkMission) -> tuple[Design, ...]:
    """The controller's designs for a checked mission block."""
    return _designs_of(mission.tasks, mission.modules)


def _bounds(mission: EarthworkMission) -> tuple[float, float, float, float]:
    """Bounds of every design's outline and every borrow and spoil box, in m."""
    pts = [pt for d in designs_of(mission) for pt in d.outline_xy_m()]
    for box in (*mission.borrow, *mission.spoil):
        x0, x1, y0, y1 = box.box().bounds_m
        pts += [(x0, y0), (x1, y1)]
    return bounds_xy_m(pts)


def survey_grid(mission: EarthworkMission, site_size_m: tuple[float, float] | None) -> GridSpec:
    x0, x1, y0, y1 = _bounds(mission)
    m = mission.survey_margin_m
    lo = (x0 - m, y0 - m)
    hi = (x1 + m, y1 + m)
    if site_size_m is not None:
        lo = (max(lo[0], 0.0), max(lo[1], 0.0))
        hi = (min(hi[0], site_size_m[0]), min(hi[1], site_size_m[1]))
    return GridSpec.covering(lo, hi, mission.survey_cell_m)


def _mask(grid: GridSpec, boxes: tuple[AreaBox, ...]) -> np.ndarray | None:
    if not boxes:
        return None
    out = np.zeros(grid.shape, dtype=bool)
    for b in boxes:
        poly = box_polygon((b.x_m, b.y_m), (b.size_x_m, b.size_y_m))
        out |= (
            region_weights(grid.shape, grid.cell_size_m, grid.origin_xy_m, poly, subsamples=1) > 0.5
        )
    return out


def task_params(mission: EarthworkMission, scenario: LoadedScenario) -> EarthworkTaskParams:
    """The controller's value type for a checked mission block."""
    rover = scenario.rover
    tool = dig_bucket(rover)
    assert tool is not None
    soil = scenario.config.soil
    grid = survey_grid(mission, scenario.site_size_m)
    planner = EarthworkParams(
        bucket_capacity_m3=tool.capacity_m3 or 0.01,
        cut_density_kgpm3=soil.compacted_density_kgpm3 if soil else 1500.0,
        fill_density_kgpm3=soil.loose_density_kgpm3 if soil else 1300.0,
        bucket_fill_share=mission.bucket_fill_share,
        deadband_m=mission.deadband_m,
        haul_cell_m=mission.haul_cell_m,
        borrow_depth_m=mission.borrow_depth_m,
        spoil_height_m=mission.spoil_height_m,
    )
    return EarthworkTaskParams(
        designs=designs_of(mission),
        modules=tuple(m.box() for m in mission.modules),
        grid=grid,
        planner=planner,
        borrow_mask=_mask(grid, mission.borrow),
        spoil_mask=_mask(grid, mission.spoil),
        loads_per_round=mission.loads_per_round,
        done_share=mission.done_share,
        dig_speed_mps=mission.dig_speed_mps,
        cruise_speed_mps=mission.cruise_speed_mps,
        survey_standoff_m=mission.survey_standoff_m,
        grade_pads=mission.grade_pads,
    )


class EarthworkKind(MissionKind):
    kind = "earthwork"
    schema = EarthworkMission
    acceptance = EarthworkAcceptance

    def check(self, view: ScenarioView) -> list[Problem]:
        return check_earthwork(view)

    def summary(self, mission: Any) -> str:
        names = ", ".join(f"{t.kind} {t.name!r}" for t in mission.tasks)
        return f"earthwork: {names}"

    def refuse(self, scenario: LoadedScenario, backend: str) -> str | None:
        if backend != "sim":
            return (
                f"scenario {scenario.config.name!r} has an 'earthwork' mission: it needs "
                "deformable soil and a bucket on a boom, which only the simulator has today"
            )
        return None

    def prepare_world(self, setup: RunSetup, world: Any) -> None:
        """Level a spot for each module and stand it there (part of the soil's floor)."""
        mission: EarthworkMission = setup.scenario.mission
        for m in mission.modules:
            size = (float(m.size_xy_m[0]), float(m.size_xy_m[1]))
            centre = (float(m.centre_xy_m[0]), float(m.centre_xy_m[1]))
            world.soil.place_module(centre, size, float(m.yaw_rad), float(m.height_m))

    def prepare(self, setup: RunSetup) -> None:
        mission: EarthworkMission = setup.scenario.mission
        prepare_walls(setup, mission.wall_height_m, mission.scanner_mount_xyz_m)

    def build(self, setup: RunSetup) -> Earthwork:
        scenario = setup.scenario
        scanner = setup.extra.get("scanner")
        return Earthwork(
            task_params(scenario.mission, scenario),
            scenario.rover,
            setup.start,
            control_hz=setup.control_hz,
            camera=setup.backend.camera(),
            scanner=scanner,
            site_size_m=scenario.site_size_m,
        )

    def channels(self, task: Any, truth: Any) -> dict[str, float]:
        st = task.progress
        load = truth.tool_load_kg(task.tool.name) if truth is not None else math.nan
        return {
            "loads": float(st.loads),
            "surveys": float(st.rounds),
            "haul_phase": float(st.haul_phase),
            "bucket_load_kg": load,
        }

    def judge(self, run: RunRecord) -> Judgement:
        from .earthwork_report import judge_earthwork

        return judge_earthwork(run)

    def write_files(self, run: RunRecord, out_dir: Path, judgement: Judgement) -> None:
        from .earthwork_report import write_earthwork_files

        write_earthwork_files(run, out_dir, judgement)


def _inside(outline: tuple[tuple[float, float], ...], size: tuple[float, float]) -> bool:
    return all(0.0 <= x <= size[0] and 0.0 <= y <= size[1] for x, y in outline)


def check_earthwork(view: ScenarioView) -> list[Problem]:
    """Designs the site cannot hold, with the field named."""
    mission: EarthworkMission = view.mission
    out: list[Problem] = []
    if view.soil is None:
        out.append((("mission", "kind"), "an earthwork mission needs soil: {...}"))
    if dig_bucket(view.rover) is None:
        out.append((("rover", "file"), f"rover {view.rover.name!r} has no bucket on a boom"))
    if view.rover.camera is None:
        out.append((("rover", "file"), f"rover {view.rover.name!r} has no camera to survey"))
    out += _module_problems(view)
    if any(where[-1] == "module" for where, _ in out):
        return out  # a shield over no module: no design to check further
    repose = view.soil.repose_angle_rad if view.soil is not None else None
    tool = dig_bucket(view.rover)
    reach = deepest_cut_m(view.rover, tool, BucketPoses()) if tool is not None else 0.0
    for k, (spec, design) in enumerate(zip(mission.tasks, designs_of(mission), strict=True)):
        where = ("mission", "tasks", k)
        if view.site_size_m is not None and not _inside(design.outline_xy_m(), view.site_size_m):
            sx, sy = view.site_size_m
            out.append(
                (
                    where,
                    f"{spec.kind} {spec.name!r} reaches outside the site (0..{sx:g} × 0..{sy:g} m)",
                )
            )
        if (
            isinstance(spec, BermSpec | ShieldSpec)
            and repose is not None
            and (spec.side_slope_rad > repose)
        ):
            out.append(
                (
                    (*where, "side_slope_rad"),
                    f"{math.degrees(spec.side_slope_rad):.1f}° is steeper than the soil's angle "
                    f"of repose ({math.degrees(repose):.1f}°): the side would slump",
                )
            )
        if isinstance(spec, TrenchSpec) and tool is not None and spec.depth_m > reach:
            out.append(
                (
                    (*where, "depth_m"),
                    f"{spec.depth_m:g} m is deeper than rover {view.rover.name!r}'s bucket "
                    f"reaches below its wheels ({math.floor(reach * 1000) / 1000:g} m)",
                )
            )
        soil_depth = view.soil.depth_m if view.soil is not None else None
        if isinstance(spec, TrenchSpec) and soil_depth is not None and spec.depth_m > soil_depth:
            out.append(
                (
                    (*where, "depth_m"),
                    f"{spec.depth_m:g} m is deeper than the soil ({soil_depth:g} m)",
                )
            )
    if view.site_size_m is not None:
        for key in ("borrow", "spoil"):
            for k, box in enumerate(getattr(mission, key)):
                if not box.box().inside(view.site_size_m):
                    out.append((("mission", key, k), "box is not inside the site"))
    out += speed_problem(mission.dig_speed_mps, view.rover, "dig_speed_mps")
    out += speed_problem(mission.cruise_speed_mps, view.rover, "cruise_speed_mps")
    return out


MISSION = EarthworkKind()


def _module_problems(view: ScenarioView) -> list[Problem]:
    """Shields over no module, modules off the site or where the rover starts."""
    mission: EarthworkMission = view.mission
    out: list[Problem] = []
    names = [m.name for m in mission.modules]
    for k, spec in enumerate(mission.tasks):
        if isinstance(spec, ShieldSpec) and spec.module not in names:
            known = ", ".join(repr(n) for n in names) or "none"
            out.append(
                (
                    ("mission", "tasks", k, "module"),
                    f"shield {spec.name!r} covers module {spec.module!r}, which is not in "
                    f"mission.modules (modules: {known})",
                )
            )
    for k, m in enumerate(mission.modules):
        if names.index(m.name) != k:
            out.append((("mission", "modules", k, "name"), f"a second module named {m.name!r}"))
        outline = m.box().outline_xy_m()
        if view.site_size_m is not None and not _inside(outline, view.site_size_m):
            out.append((("mission", "modules", k), "module is not inside the site"))
        x0, x1, y0, y1 = bounds_xy_m(outline)
        sx, sy = view.start_xy_m
        gap = MODULE_START_GAP_M
        if x0 - gap <= sx <= x1 + gap and y0 - gap <= sy <= y1 + gap:
            out.append(
                (
                    ("rover", "start"),
                    f"the rover starts within {gap:g} m of module {m.name!r}: it would stand on it",
                )
            )
    return out
