"""``place_modules``: fetch units from a depot and set them down where the design wants.

The design is a list of placements (units of the module catalog at poses on the site,
resting on the ground, on a pad or on another placement) and a depot of units standing
ready. ``lunarsite validate`` checks every placement against the catalog, the site and
the rover's clamp, and plans the order (:func:`~lunarsite.robot.planning.assembly.plan_assembly`),
so a design no order can build is refused with the reason before a run. The task is
:class:`~lunarsite.robot.tasks.placement.PlacementTask`; the run is judged on the true
poses of the units at the end. Simulation only (the lab rover's firmware has no clamp).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

from lunarsite.robot.config import Positive, RoverConfig, StrictModel, ToolConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.planning.assembly import (
    AssemblyError,
    AssemblyParams,
    AssemblyPlan,
    DepotSlot,
    depot_access,
    plan_assembly,
)
from lunarsite.robot.planning.costmap import footprint_radius_m
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.site.modules import (
    Catalog,
    GraspEnvelope,
    Placement,
    PlacementError,
    check_placements,
)
from lunarsite.robot.site.unit_markers import MarkerLayoutError, UnitMarker, unit_markers
from lunarsite.robot.tasks.placement import JAW_MARGIN_M, PlacementTask, PlacementTaskParams
from lunarsite.robot.tasks.placement_checks import RESET_MARGIN_M, RESET_MARGIN_RAD

from ..fields import CommonAcceptance, speed_problem
from ..files import Finite, Problem, ScenarioError, load_catalog
from .base import Judgement, MissionKind, RunRecord, RunSetup, ScenarioView
from .dig_and_dump import prepare_walls

if TYPE_CHECKING:
    from ..schema import LoadedScenario

__all__ = ["MISSION", "PlaceModulesMission", "assembly_of"]

Id = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]


class UnitSpec(StrictModel):
    """A depot unit: its id, catalog type, centre and yaw (m, rad)."""

    id: Id
    type: str
    x_m: Finite
    y_m: Finite
    yaw_rad: Finite = 0.0


class PlacementSpec(UnitSpec):
    """A unit the design wants; ``on`` the id of the placement under it, ``pad`` the
    ``level_pad`` it stands on."""

    on: Id | None = None
    pad: str | None = None


class PlaceModulesMission(StrictModel):
    kind: Literal["place_modules"]
    catalog: str = "catalog"
    """A shipped module catalog by name, or a YAML path (relative to the scenario)."""
    depot: Annotated[list[UnitSpec], Field(min_length=1)]
    placements: Annotated[list[PlacementSpec], Field(min_length=1)]
    access_cell_m: Annotated[float, Field(ge=0.02, le=0.2)] = 0.1
    """Cell of the grid the access checks and routes use, in m."""
    cruise_speed_mps: Positive = 0.25
    approach_speed_mps: Positive = 0.1
    carry_height_m: Positive = 0.15
    clearance_m: Annotated[float, Field(ge=0.0)] = 0.05
    run_in_m: Positive = 0.3
    tolerance_m: Annotated[float, Field(gt=RESET_MARGIN_M)] = 0.02
    """How far off its design a unit may lie, by the rover's own camera, for the rover to
    call the design met (m); it sets a unit down again seen beyond this less its camera's
    error (``RESET_MARGIN_M``)."""
    tolerance_yaw_rad: Annotated[float, Field(gt=RESET_MARGIN_RAD)] = 0.0175
    """... and how far turned, in rad."""
    wall_height_m: Positive | None = 1.0
    """The site is walled this high (m); the rover fixes its position on the walls."""
    scanner_mount_xyz_m: tuple[Finite, Finite, Finite] = (0.0, 0.0, 0.35)


class PlaceModulesAcceptance(CommonAcceptance):
    all_placed: bool = True
    max_position_error_m: Positive | None = None
    max_yaw_error_rad: Positive | None = None
    max_collisions: Annotated[int, Field(ge=0)] | None = 0
    """Touches of a unit other than the one being handled (truth)."""


def clamp_of(rover: RoverConfig) -> ToolConfig | None:
    return next((t for t in rover.tools if t.kind == "clamp"), None)


def assembly_params(rover: RoverConfig, mission: PlaceModulesMission) -> AssemblyParams:
    clamp = clamp_of(rover)
    assert clamp is not None
    return AssemblyParams(
        rover_radius_m=footprint_radius_m(rover),
        grip_ahead_m=clamp.mount_xyz_m[0] + clamp.arm_length_m,
        clearance_m=mission.clearance_m,
        run_in_m=mission.run_in_m,
        jaw_pad_m=clamp.pad_thickness_m,
        jaw_depth_m=clamp.depth_m,
        jaw_margin_m=JAW_MARGIN_M,
    )


def _site_grid(size_m: tuple[float, float], cell_m: float) -> GridSpec:
    return GridSpec.covering(
        (0.5 * cell_m, 0.5 * cell_m), (size_m[0] - 0.5 * cell_m, size_m[1] - 0.5 * cell_m), cell_m
    )


def assembly_of(
    mission: PlaceModulesMission,
    rover: RoverConfig,
    site_size_m: tuple[float, float],
    catalog: Catalog,
    start_xy_m: tuple[float, float],
) -> tuple[AssemblyPlan, GridSpec]:
    """The checked mission's plan (raises :class:`AssemblyError`)."""
    grid = _site_grid(site_size_m, mission.access_cell_m)
    blocked = np.zeros(grid.shape, dtype=bool)
    plan = plan_assembly(
        _placements(mission),
        catalog,
        _slots(mission),
        grid,
        blocked,
        start_xy_m,
        assembly_params(rover, mission),
    )
    return plan, grid


def _placements(mission: PlaceModulesMission) -> list[Placement]:
    return [
        Placement(p.id, p.type, p.x_m, p.y_m, p.yaw_rad, p.on, p.pad) for p in mission.placements
    ]


def _slots(mission: PlaceModulesMission) -> list[DepotSlot]:
    return [DepotSlot(u.id, u.type, u.x_m, u.y_m, u.yaw_rad) for u in mission.depot]


def _catalog(mission: PlaceModulesMission, base_dir: Path) -> Catalog:
    return load_catalog(mission.catalog, base_dir)[0]


def depot_markers(
    mission: PlaceModulesMission, catalog: Catalog, beacon_ids: Sequence[int] = ()
) -> list[UnitMarker]:
    """The depot units' markers: ids handed out in depot order after the site beacons'."""
    units = []
    for u in mission.depot:
        module = catalog.get(u.type)
        assert module is not None
        units.append((u.id, module))
    return unit_markers(units, first_id=max(beacon_ids, default=-1) + 1)


def _beacon_ids(scenario: LoadedScenario) -> list[int]:
    return [b.marker_id for b in scenario.config.site.beacons]


class PlaceModulesKind(MissionKind):
    kind = "place_modules"
    schema = PlaceModulesMission
    acceptance = PlaceModulesAcceptance

    def summary(self, mission: Any) -> str:
        return (
            f"place_modules: {len(mission.placements)} units from a depot of {len(mission.depot)}"
        )

    def check(self, view: ScenarioView) -> list[Problem]:
        mission: PlaceModulesMission = view.mission
        clamp = clamp_of(view.rover)
        if clamp is None:
            return [
                (("rover", "file"), f"rover {view.rover.name!r} has no clamp to place modules with")
            ]
        try:
            catalog = _catalog(mission, view.path.parent)
        except ScenarioError as exc:
            return [(("mission", "catalog"), "; ".join(exc.problems))]
        if view.site_size_m is None:
            return [(("site",), "a place_modules mission needs a site with a size")]
        out: list[Problem] = []
        sx, sy = view.site_size_m
        # Lunar gravity: the clamp holds least where the weight is greatest, and the
        # scenario's sim block may not say (the rehearsal on Earth holds less).
        envelope = GraspEnvelope.of_clamp(clamp, LUNAR_GRAVITY_MPS2)
        depot = [Placement(u.id, u.type, u.x_m, u.y_m, u.yaw_rad) for u in mission.depot]
        for key, units in (("depot", depot), ("placements", _placements(mission))):
            try:
                check_placements(
                    units, catalog, site_bounds_m=(0.0, sx, 0.0, sy), tool=envelope, field=key
                )
            except PlacementError as exc:
                out.append((("mission", key), str(exc)))
        try:
            depot_markers(mission, catalog)
        except MarkerLayoutError as exc:
            out.append((("mission", "depot"), str(exc)))
        out += speed_problem(mission.cruise_speed_mps, view.rover, "cruise_speed_mps")
        out += speed_problem(mission.approach_speed_mps, view.rover, "approach_speed_mps")
        if out:
            return out
        try:
            assembly_of(mission, view.rover, view.site_size_m, catalog, view.start_xy_m)
        except AssemblyError as exc:
            out.append((("mission", "placements"), f"planning failed: {exc}"))
        return out

    def refuse(self, scenario: LoadedScenario, backend: str) -> str | None:
        if backend != "sim":
            return (
                f"scenario {scenario.config.name!r} places modules with a clamp, which only "
                "the simulated placer has today (the lab firmware drives a scoop and a gripper)"
            )
        return None

    def prepare_world(self, setup: RunSetup, world: Any) -> None:
        """Stand the depot's units on the ground; watch the rover's touches of them."""
        from lunarsite.sim.units import add_unit

        mission: PlaceModulesMission = setup.scenario.mission
        catalog = _catalog(mission, setup.scenario.base_dir)
        markers = depot_markers(mission, catalog, _beacon_ids(setup.scenario))
        for u in mission.depot:
            module = catalog.get(u.type)
            assert module is not None
            mine = [m for m in markers if m.unit_id == u.id]
            add_unit(world, u.id, module, u.x_m, u.y_m, u.yaw_rad, markers=mine)
        # Truth for the judge: which units the rover (or the unit in its jaws) touches,
        # at the control rate.
        contacts: list[tuple[float, tuple[str, ...], tuple[str, ...]]] = []
        setup.extra["unit_contacts"] = contacts
        every = max(1, round(world.config.physics_hz / setup.control_hz))
        steps = [0]

        def watch() -> None:
            steps[0] += 1
            if steps[0] % every or not world.rovers:
                return
            rover = world.rovers[0]
            touched = world.truth.unit_contacts(rover)
            # What the unit in the jaws strikes, apart: laid against its neighbours by
            # design, it touches them.
            held, struck = world.truth.held_unit_contacts(rover)
            struck = struck - {held} if held is not None else frozenset()
            if touched or struck:
                contacts.append((world.sim_time_s, tuple(sorted(touched)), tuple(sorted(struck))))

        world.add_step_hook(watch)

    def prepare(self, setup: RunSetup) -> None:
        mission: PlaceModulesMission = setup.scenario.mission
        prepare_walls(setup, mission.wall_height_m, mission.scanner_mount_xyz_m)

    def build(self, setup: RunSetup) -> PlacementTask:
        scenario = setup.scenario
        mission: PlaceModulesMission = scenario.mission
        catalog = _catalog(mission, scenario.base_dir)
        assert scenario.site_size_m is not None
        start = (setup.start.x_m, setup.start.y_m)
        plan, grid = assembly_of(mission, scenario.rover, scenario.site_size_m, catalog, start)
        params = assembly_params(scenario.rover, mission)
        modules = [m for m in catalog.types if any(p.type == m.name for p in mission.placements)]
        access = depot_access(
            _slots(mission), catalog, grid, np.zeros(grid.shape, dtype=bool), params, modules
        )
        task_params = PlacementTaskParams(
            plan=plan,
            catalog=catalog,
            access=access,
            geometry=params,
            cruise_speed_mps=mission.cruise_speed_mps,
            approach_speed_mps=mission.approach_speed_mps,
            carry_height_m=mission.carry_height_m,
            tolerance_m=mission.tolerance_m,
            tolerance_yaw_rad=mission.tolerance_yaw_rad,
            markers={
                m.marker_id: m for m in depot_markers(mission, catalog, _beacon_ids(scenario))
            },
        )
        setup.extra["plan"] = plan
        return PlacementTask(
            task_params,
            scenario.rover,
            setup.start,
            control_hz=setup.control_hz,
            scanner=setup.extra.get("scanner"),
            site_size_m=scenario.site_size_m,
            camera=setup.backend.camera() if scenario.rover.camera is not None else None,
        )

    def channels(self, task: Any, truth: Any) -> dict[str, float]:
        return {"placed": float(len(task.progress.placed))}

    def judge(self, run: RunRecord) -> Judgement:
        from .placement_report import judge_placement

        return judge_placement(run)

    def write_files(self, run: RunRecord, out_dir: Path, judgement: Judgement) -> None:
        from .placement_report import write_placement_files

        write_placement_files(run, out_dir, judgement)


MISSION = PlaceModulesKind()
