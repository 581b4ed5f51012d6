"""Scenario files: the envelope every scenario shares, and loading one whole.

A scenario names its site, its rover (by shipped name or by a path relative to the
scenario file), simulator settings, a time limit, a ``mission`` and its ``acceptance``.
The ``mission`` and ``acceptance`` blocks belong to the mission's kind
(:mod:`lunarsite.launch.missions`): each kind validates its own.

Validation happens in passes, all before anything runs: the envelope's schema (types,
unknown keys, ranges), the mission kind's schema, then the checks that need several
fields at once (a start on the site edge, a waypoint outside the site, a dig deeper than
the soil). Every problem is collected and reported as ``file:line: field.path: reason``.
Loading a scenario imports neither PyBullet nor pyserial.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from lunarsite.robot.config import Positive, RoverConfig, StrictModel
from lunarsite.robot.types import Pose2
from lunarsite.sim.config import SimConfig
from lunarsite.sim.soil_config import SoilConfig
from lunarsite.sim.terrain_config import DemTerrainConfig, ProceduralTerrainConfig, TerrainConfig

from .fields import inside
from .files import (
    Finite,
    ScenarioError,
    apply_overrides,
    format_loc,
    line_of,
    list_rovers,
    list_scenarios,
    load_rover,
    read_yaml,
    resolve,
    validate,
)

if TYPE_CHECKING:
    from pathlib import Path

    from .missions.base import MissionKind

__all__ = [
    "BeaconConfig",
    "LoadedScenario",
    "ScenarioConfig",
    "ScenarioError",
    "SiteConfig",
    "list_rovers",
    "list_scenarios",
    "load_rover",
    "load_scenario",
]


# --------------------------------------------------------------------- schemas
class StartPose(StrictModel):
    x_m: Finite
    y_m: Finite
    yaw_rad: Finite = 0.0


class BeaconConfig(StrictModel):
    """An ArUco marker on a post at a surveyed place (DICT_4X4_50 ids)."""

    marker_id: Annotated[int, Field(ge=0, lt=50)]
    x_m: Finite
    y_m: Finite
    facing_yaw_rad: Finite
    """Direction the marker's face looks, in the site frame (0 = +x), in rad."""
    centre_height_m: Positive = 0.45
    """Height of the marker's centre above the ground under it, in m."""
    size_m: Positive = 0.4
    """Side of the black square, in m."""


class SiteConfig(StrictModel):
    """The ground. For a procedural site give its size and cell; a DEM brings its own."""

    size_m: tuple[Positive, Positive] | None = None
    cell_size_m: Positive | None = None
    terrain: TerrainConfig = ProceduralTerrainConfig()
    beacons: tuple[BeaconConfig, ...] = ()
    """Surveyed fiducial beacons the rover may use to localize."""


class RoverPlacement(StrictModel):
    file: Annotated[str, Field(min_length=1)]
    """A shipped rover name (``lab_rover``) or a path relative to the scenario file."""
    start: StartPose


class ScenarioConfig(StrictModel):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    site: SiteConfig
    rover: RoverPlacement
    sim: SimConfig = SimConfig()
    time_limit_s: Positive
    """Time allowed for the mission, in s (simulated, or on the rover's clock)."""
    mission: dict[str, Any]
    """The mission block: its ``kind`` names the schema that checks the rest."""
    acceptance: dict[str, Any] = Field(default_factory=dict)
    """What a run must achieve; the keys belong to the mission's kind."""
    soil: SoilConfig | None = None
    """Deformable regolith (lunarsite.sim.soil); null: rigid terrain."""


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with its rover resolved and its mission checked."""

    config: ScenarioConfig
    path: Path
    rover: RoverConfig
    rover_path: Path
    mission: Any
    """The mission block as its kind's model (``scenario.kind.schema``)."""
    acceptance: Any
    """The acceptance block as its kind's model."""

    @property
    def kind(self) -> MissionKind:
        from .missions import mission_kinds

        return mission_kinds()[self.mission.kind]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def site_size_m(self) -> tuple[float, float]:
        size = self.config.site.size_m
        assert size is not None, "sizes are filled in by load_scenario"
        return size

    @property
    def start(self) -> Pose2:
        s = self.config.rover.start
        return Pose2(s.x_m, s.y_m, s.yaw_rad)


# --------------------------------------------------------------------- loading
def load_scenario(ref: str, overrides: Mapping[str, Any] | None = None) -> LoadedScenario:
    """Read and validate a scenario and its rover, by shipped name or by path;
    ``overrides`` sets dotted keys of the file before validation (a campaign's sweep, see
    :func:`~.files.apply_overrides`).

    Raises :class:`ScenarioError` listing every problem found.
    """
    from .missions import mission_kinds
    from .missions.base import ScenarioView

    path = resolve(ref, "scenarios", None)
    data, node = read_yaml(path)
    if overrides:
        data = apply_overrides(path, data, overrides)
    config = validate(path, ScenarioConfig, data, node)
    try:
        rover, rover_path = load_rover(config.rover.file, base_dir=path.parent)
    except ScenarioError as exc:
        line = line_of(node, ("rover", "file"))
        raise ScenarioError(
            path,
            [f"{path}:{line}: rover.file: cannot use rover {config.rover.file!r}:"]
            + [f"  {p}" for p in exc.problems],
        ) from None

    kinds = mission_kinds()
    kind_name = config.mission.get("kind")
    kind = kinds.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        at: tuple[int | str, ...] = (
            ("mission", "kind") if "kind" in config.mission else ("mission",)
        )
        what = "kind" if "kind" in config.mission else "kind: required field is missing;"
        raise ScenarioError(
            path,
            [f"{path}:{line_of(node, at)}: mission.{what} must be one of: {', '.join(kinds)}"],
        )
    problems: list[str] = []
    mission = acceptance = None
    for block, model, prefix in (
        (config.mission, kind.schema, ("mission",)),
        (config.acceptance, kind.acceptance, ("acceptance",)),
    ):
        try:
            value = validate(path, model, block, node, prefix)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        if prefix == ("mission",):
            mission = value
        else:
            acceptance = value
    if problems:
        raise ScenarioError(path, problems)

    def problem(loc: tuple[int | str, ...], msg: str) -> None:
        problems.append(f"{path}:{line_of(node, loc)}: {format_loc(loc)}: {msg}")

    config, size = _site_checks(config, path, problem)
    if size is not None:
        start = config.rover.start
        reach = 0.5 * math.hypot(rover.chassis.length_m, rover.chassis.width_m)
        if not inside(start.x_m, start.y_m, size, reach):
            problem(
                ("rover", "start"),
                f"start ({start.x_m:g}, {start.y_m:g}) m puts the rover outside the site "
                f"(0..{size[0]:g} × 0..{size[1]:g} m, keeping {reach:.2f} m from the edge)",
            )
    view = ScenarioView(
        path=path,
        mission=mission,
        acceptance=acceptance,
        rover=rover,
        site_size_m=size,
        start_xy_m=(config.rover.start.x_m, config.rover.start.y_m),
        start_yaw_rad=config.rover.start.yaw_rad,
        soil=config.soil,
    )
    for loc, msg in kind.check(view):
        problem(loc, msg)
    if problems:
        raise ScenarioError(path, problems)
    return LoadedScenario(config, path, rover, rover_path, mission, acceptance)


def _site_checks(
    config: ScenarioConfig, path: Path, problem: Any
) -> tuple[ScenarioConfig, tuple[float, float] | None]:
    """Check the site (and fill in a DEM's size); returns the config and the site size."""
    site = config.site
    size = site.size_m
    terrain = site.terrain
    if isinstance(terrain, ProceduralTerrainConfig):
        if size is None:
            problem(("site", "size_m"), "a procedural site needs size_m: [x, y] in m")
        if site.cell_size_m is None:
            problem(("site", "cell_size_m"), "a procedural site needs cell_size_m")
    elif isinstance(terrain, DemTerrainConfig):
        from lunarsite.sim.dem import load_dem
        from lunarsite.sim.terrain import TerrainError

        try:
            dem = load_dem(terrain, path.parent)
        except TerrainError as exc:
            problem(("site", "terrain", "path"), str(exc))
        else:
            dem_size = dem.size_xy_m
            if size is not None and any(
                abs(a - b) > 1e-6 for a, b in zip(size, dem_size, strict=True)
            ):
                problem(
                    ("site", "size_m"),
                    f"size_m {list(size)} does not match the DEM "
                    f"({dem_size[0]:g} × {dem_size[1]:g} m)",
                )
            size = dem_size
            if site.cell_size_m is not None and not math.isclose(
                site.cell_size_m, terrain.cell_size_m
            ):
                problem(("site", "cell_size_m"), "differs from the DEM's terrain.cell_size_m")
            config = config.model_copy(
                update={
                    "site": site.model_copy(
                        update={"size_m": size, "cell_size_m": terrain.cell_size_m}
                    )
                }
            )
    if size is not None:
        for i, beacon in enumerate(site.beacons):
            if not inside(beacon.x_m, beacon.y_m, size):
                problem(
                    ("site", "beacons", i),
                    f"beacon ({beacon.x_m:g}, {beacon.y_m:g}) m is outside the site "
                    f"(0..{size[0]:g} × 0..{size[1]:g} m)",
                )
    ids = [b.marker_id for b in site.beacons]
    for i, beacon in enumerate(site.beacons):
        if ids.count(beacon.marker_id) > 1:
            problem(("site", "beacons", i, "marker_id"), f"id {beacon.marker_id} is used twice")
    return config, size
