"""Scenario and rover files: strict schemas, and errors that name the file, line and field.

A scenario or rover can be named without a path (``drive_test``, ``lab_rover``): the
shipped files in this package are searched. Anything that looks like a path (has a
suffix or a separator, or exists) is read as a user's file.

Validation happens in two passes, both before anything runs: the pydantic schema (types,
unknown keys, ranges) and the scenario checks that need several fields at once (a
waypoint outside the site, a start on the edge). Every problem is collected and reported
as ``file:line: field.path: reason``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Discriminator, Field, Tag, ValidationError

from lunarsite.robot.config import Positive, RoverConfig, StrictModel
from lunarsite.sim.config import SimConfig
from lunarsite.sim.soil import SoilConfig
from lunarsite.sim.terrain import DemTerrainConfig, ProceduralTerrainConfig, TerrainConfig

__all__ = [
    "AcceptanceConfig",
    "AreaBox",
    "DigAndDumpMission",
    "LoadedScenario",
    "Point2",
    "ScenarioConfig",
    "ScenarioError",
    "StepsMission",
    "WaypointMission",
    "list_rovers",
    "list_scenarios",
    "load_rover",
    "load_scenario",
]

Finite = Annotated[float, Field(allow_inf_nan=False)]


class ScenarioError(ValueError):
    """A scenario or rover file that cannot be used. ``problems`` holds one line each."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(problems))


# --------------------------------------------------------------------- schemas
class Point2(StrictModel):
    x_m: Finite
    y_m: Finite


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


class WaypointMission(StrictModel):
    kind: Literal["waypoints"]
    waypoints: Annotated[tuple[Point2, ...], Field(min_length=1)]
    cruise_speed_mps: Positive | None = None
    """Defaults to the rover's max_speed_mps."""
    arrival_tolerance_m: Positive = 0.25
    """Distance at which the controller counts a waypoint reached (by its own estimate)."""

    def summary(self) -> str:
        return f"{len(self.waypoints)} waypoints on dead reckoning"


class RandomGoals(StrictModel):
    """Goals drawn from the scenario seed on ground the rover can reach.

    Drawn by the scenario runner from the true terrain (as a scenario author would pick
    them), never shown to the controller except as the goal list.
    """

    count: Annotated[int, Field(ge=1, le=200)]
    min_step_m: Positive = 4.0
    """Least distance from the previous goal (or the start), in m."""
    margin_m: Annotated[float, Field(ge=0.0)] = 1.5
    """Keep goals this far inside the site edge, in m."""


class NavigateMission(StrictModel):
    """Reach goals in turn by the rover's own sensing: map, plan, follow, localize."""

    kind: Literal["navigate"]
    goals: tuple[Point2, ...] = ()
    random_goals: RandomGoals | None = None
    goal_tolerance_m: Positive = 0.3
    """A goal counts as reached when the rover's true position ends this close, in m."""
    goal_time_limit_s: Positive = 150.0
    """Time allowed per goal before the rover gives it up, in s."""
    tool_pose_rad: dict[str, Finite] = Field(default_factory=dict)
    """Servo targets held while driving (a travel pose), by joint name, in rad."""
    scanner_mount_xyz_m: tuple[Finite, Finite, Finite] = (0.0, 0.0, 0.8)
    """Where the range scanner sits in the chassis frame, in m."""

    def summary(self) -> str:
        if self.random_goals is not None:
            return f"{self.random_goals.count} random goals, navigating"
        return f"{len(self.goals)} goals, navigating"


# Dig and dump (issue 3): scripted earthmoving between two marked areas, in simulation
# (launch/dig_and_dump.py).
class AreaBox(StrictModel):
    """An axis-aligned box on the site: centre (``x_m``, ``y_m``), sides ``size_x_m`` ×
    ``size_y_m``, all in m."""

    x_m: Finite
    y_m: Finite
    size_x_m: Positive
    size_y_m: Positive

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max), in m."""
        hx, hy = 0.5 * self.size_x_m, 0.5 * self.size_y_m
        return (self.x_m - hx, self.x_m + hx, self.y_m - hy, self.y_m + hy)


Facing = Literal["east", "north", "west", "south"]


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

    def summary(self) -> str:
        cycles = "until the time limit" if self.cycles is None else f"{self.cycles} cycles"
        return f"dig and dump, {cycles}"


# Steps missions (issue 5): a scripted sequence for a physical rover, run by
# ``lunarsite rover`` (launch/rover_cli.py). Tags carry brackets so that error locations
# read ``mission.steps[2].speed_mps`` (``_clean_loc`` drops bracketed parts).
class DriveStep(StrictModel):
    """Drive straight ``distance_m`` (negative: backwards) at ``speed_mps``."""

    kind: Literal["drive"]
    distance_m: Annotated[float, Field(allow_inf_nan=False)]
    speed_mps: Positive


class TurnStep(StrictModel):
    """Turn in place by ``angle_rad`` (positive: counter-clockwise) at ``yaw_rate_radps``."""

    kind: Literal["turn"]
    angle_rad: Annotated[float, Field(allow_inf_nan=False)]
    yaw_rate_radps: Positive


class ToolStep(StrictModel):
    """Move a tool joint to ``position_rad``; ``joint`` defaults to the first tool joint."""

    kind: Literal["tool"]
    position_rad: Annotated[float, Field(allow_inf_nan=False)]
    joint: str | None = None


class GripperStep(StrictModel):
    """Move the gripper jaw to ``position_rad``."""

    kind: Literal["gripper"]
    position_rad: Annotated[float, Field(allow_inf_nan=False)]


class WaitStep(StrictModel):
    """Hold still for ``duration_s``."""

    kind: Literal["wait"]
    duration_s: Positive


def _kind_tag(kinds: tuple[str, ...]) -> Any:
    def tag(value: Any) -> str | None:
        kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
        return f"[{kind}]" if kind in kinds else None

    return tag


_STEP_KINDS = ("drive", "turn", "tool", "gripper", "wait")
Step = Annotated[
    Annotated[DriveStep, Tag("[drive]")]
    | Annotated[TurnStep, Tag("[turn]")]
    | Annotated[ToolStep, Tag("[tool]")]
    | Annotated[GripperStep, Tag("[gripper]")]
    | Annotated[WaitStep, Tag("[wait]")],
    Discriminator(
        _kind_tag(_STEP_KINDS),
        custom_error_type="step_kind",
        custom_error_message="kind must be one of: " + ", ".join(_STEP_KINDS),
    ),
]


class StepsMission(StrictModel):
    """Drive, turn, tool, gripper and wait steps in order, on a physical rover."""

    kind: Literal["steps"]
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]
    control_hz: Positive = 20.0
    """Rate of the control loop that runs the steps, in Hz."""

    def summary(self) -> str:
        return f"{len(self.steps)} steps (a physical rover: lunarsite rover --port PORT)"


_MISSION_KINDS = ("waypoints", "steps", "navigate", "dig_and_dump")
Mission = Annotated[
    Annotated[WaypointMission, Tag("[waypoints]")]
    | Annotated[StepsMission, Tag("[steps]")]
    | Annotated[NavigateMission, Tag("[navigate]")]
    | Annotated[DigAndDumpMission, Tag("[dig_and_dump]")],
    Discriminator(
        _kind_tag(_MISSION_KINDS),
        custom_error_type="mission_kind",
        custom_error_message="kind must be one of: " + ", ".join(_MISSION_KINDS),
    ),
]


class AcceptanceConfig(StrictModel):
    """What a run must achieve, judged on ground truth."""

    max_waypoint_error_m: Positive | None = None
    """True distance to each waypoint when the controller declared it reached
    (waypoints missions: required)."""
    max_final_error_m: Positive | None = None
    """True distance from the final position to the last waypoint (waypoints missions:
    required)."""
    max_rock_contacts: Annotated[int, Field(ge=0)] | None = None
    """Rocks touched during the run; null to not judge."""
    min_goal_share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """Share of goals truly reached (navigate missions); null to not judge."""
    max_median_localization_error_m: Positive | None = None
    """Median distance between estimate and truth at the goals (navigate missions)."""
    max_tip_overs: Annotated[int, Field(ge=0)] | None = None
    """Tip-overs allowed during the run (navigate missions); null to not judge."""
    min_dump_fill_m3: Positive | None = None
    """Soil gained inside the dump area from the scan before to the scan after, in m³
    (dig_and_dump missions: required)."""
    max_conservation_error: Positive | None = None
    """Soil mass gained or lost by the soil model (grid + tools + outflow against the
    start) as a share of the mass cut (dig_and_dump missions); null to not judge."""


class ScenarioConfig(StrictModel):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    site: SiteConfig
    rover: RoverPlacement
    sim: SimConfig = SimConfig()
    time_limit_s: Positive
    """Simulated time allowed for the mission, in s."""
    mission: Mission
    acceptance: AcceptanceConfig
    soil: SoilConfig | None = None
    """Deformable regolith (lunarsite.sim.soil); null: rigid terrain."""


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with its rover resolved."""

    config: ScenarioConfig
    path: Path
    rover: RoverConfig
    rover_path: Path

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def site_size_m(self) -> tuple[float, float]:
        size = self.config.site.size_m
        assert size is not None, "sizes are filled in by load_scenario"
        return size


# ---------------------------------------------------------------- YAML reading
class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, [f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, [f"{path}: cannot read: {exc}"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(path, [f"{where}: not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(path, [f"{path}: expected a mapping of keys at the top level"])
    return data, node


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest YAML node along ``loc`` that exists."""
    line = None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
            if node is None:
                # Unknown keys are reported at the key itself.
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if key < len(node.value) else None
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            # Union members show up as tags ("procedural", "function-after[...]"): skip.
            if item in ("procedural", "dem") or "[" in str(item):
                continue
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    return tuple(k for k in loc if not (k in ("procedural", "dem") or "[" in str(k)))


def _validate(path: Path, model: type[StrictModel], data: Any, node: yaml.Node | None) -> Any:
    try:
        payload = json.dumps(data, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(path, [f"{path}: unsupported value in file: {exc}"]) from None
    try:
        return model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = _clean_loc(tuple(err["loc"]))
            line = _line_of(node, loc)
            where = f"{path}:{line}" if line is not None else str(path)
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (not part of the schema; check the spelling)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            msg = msg.removeprefix("Value error, ")
            problems.append(f"{where}: {_format_loc(loc)}: {msg}")
        raise ScenarioError(path, problems) from None


# ------------------------------------------------------------ name resolution
def _shipped(kind: Literal["scenarios", "rovers"]) -> dict[str, Path]:
    folder = resources.files("lunarsite.launch") / kind
    out: dict[str, Path] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            out[entry.name.removesuffix(".yaml")] = Path(str(entry))
    return dict(sorted(out.items()))


def _resolve(ref: str, kind: Literal["scenarios", "rovers"], base_dir: Path | None) -> Path:
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref
    if looks_like_path:
        path = Path(ref).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path
    shipped = _shipped(kind)
    if ref in shipped:
        return shipped[ref]
    if Path(ref).is_file():
        return Path(ref)
    known = ", ".join(shipped) or "none"
    noun = "scenario" if kind == "scenarios" else "rover"
    raise ScenarioError(ref, [f"{ref}: no shipped {noun} of that name (shipped: {known})"])


def list_scenarios() -> list[tuple[str, str]]:
    """Shipped scenarios as (name, description)."""
    out = []
    for name, path in _shipped("scenarios").items():
        data, _ = _read_yaml(path)
        out.append((name, str(data.get("description", "")).strip()))
    return out


def list_rovers() -> list[tuple[str, str]]:
    """Shipped rovers as (name, description)."""
    out = []
    for name, path in _shipped("rovers").items():
        data, _ = _read_yaml(path)
        out.append((name, str(data.get("description", "")).strip()))
    return out


def load_rover(ref: str, base_dir: Path | None = None) -> tuple[RoverConfig, Path]:
    """Read and validate a rover file, by shipped name or by path."""
    path = _resolve(ref, "rovers", base_dir)
    data, node = _read_yaml(path)
    return _validate(path, RoverConfig, data, node), path


def _inside(x: float, y: float, size: tuple[float, float], margin: float = 0.0) -> bool:
    return margin <= x <= size[0] - margin and margin <= y <= size[1] - margin


def load_scenario(ref: str) -> LoadedScenario:
    """Read and validate a scenario and its rover, by shipped name or by path.

    Raises :class:`ScenarioError` listing every problem found.
    """
    path = _resolve(ref, "scenarios", None)
    data, node = _read_yaml(path)
    config: ScenarioConfig = _validate(path, ScenarioConfig, data, node)
    try:
        rover, rover_path = load_rover(config.rover.file, base_dir=path.parent)
    except ScenarioError as exc:
        line = _line_of(node, ("rover", "file"))
        raise ScenarioError(
            path,
            [f"{path}:{line}: rover.file: cannot use rover {config.rover.file!r}:"]
            + [f"  {p}" for p in exc.problems],
        ) from None

    problems: list[str] = []

    def problem(loc: tuple[int | str, ...], msg: str) -> None:
        line = _line_of(node, loc)
        problems.append(f"{path}:{line}: {_format_loc(loc)}: {msg}")

    site = config.site
    size = site.size_m
    terrain = site.terrain
    if isinstance(terrain, ProceduralTerrainConfig):
        if size is None:
            problem(("site", "size_m"), "a procedural site needs size_m: [x, y] in m")
        if site.cell_size_m is None:
            problem(("site", "cell_size_m"), "a procedural site needs cell_size_m")
    elif isinstance(terrain, DemTerrainConfig):
        from lunarsite.sim.terrain import TerrainError, load_dem

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
        start = config.rover.start
        reach = 0.5 * math.hypot(rover.chassis.length_m, rover.chassis.width_m)
        if not _inside(start.x_m, start.y_m, size, reach):
            problem(
                ("rover", "start"),
                f"start ({start.x_m:g}, {start.y_m:g}) m puts the rover outside the site "
                f"(0..{size[0]:g} × 0..{size[1]:g} m, keeping {reach:.2f} m from the edge)",
            )
        points: tuple[Point2, ...] = ()
        field = "waypoints"
        if isinstance(config.mission, WaypointMission):
            points = config.mission.waypoints
        elif isinstance(config.mission, NavigateMission):
            points, field = config.mission.goals, "goals"
        for i, wp in enumerate(points):
            if not _inside(wp.x_m, wp.y_m, size):
                problem(
                    ("mission", field, i),
                    f"{field[:-1]} ({wp.x_m:g}, {wp.y_m:g}) m is outside the site "
                    f"(0..{size[0]:g} × 0..{size[1]:g} m)",
                )
        for i, beacon in enumerate(site.beacons):
            if not _inside(beacon.x_m, beacon.y_m, size):
                problem(
                    ("site", "beacons", i),
                    f"beacon ({beacon.x_m:g}, {beacon.y_m:g}) m is outside the site "
                    f"(0..{size[0]:g} × 0..{size[1]:g} m)",
                )
    ids = [b.marker_id for b in site.beacons]
    for i, beacon in enumerate(site.beacons):
        if ids.count(beacon.marker_id) > 1:
            problem(("site", "beacons", i, "marker_id"), f"id {beacon.marker_id} is used twice")
    mission = config.mission
    if isinstance(mission, WaypointMission):
        for key in ("max_waypoint_error_m", "max_final_error_m"):
            if getattr(config.acceptance, key) is None:
                problem(("acceptance",), f"a waypoints mission needs acceptance.{key}")
    if isinstance(mission, NavigateMission):
        if bool(mission.goals) == (mission.random_goals is not None):
            problem(("mission",), "give either goals (a list) or random_goals, not both")
        for joint in mission.tool_pose_rad:
            if joint not in rover.joint_names:
                problem(
                    ("mission", "tool_pose_rad", joint),
                    f"rover {rover.name!r} has no joint {joint!r} "
                    f"(joints: {', '.join(rover.joint_names) or 'none'})",
                )
    if isinstance(mission, DigAndDumpMission):
        from .dig_and_dump import check_mission  # the dig_and_dump runner owns its rules

        if config.acceptance.min_dump_fill_m3 is None:
            problem(("acceptance",), "a dig_and_dump mission needs acceptance.min_dump_fill_m3")
        for loc, msg in check_mission(mission, rover, config.soil, size):
            problem(loc, msg)
    if isinstance(config.mission, StepsMission):
        from .rover_cli import check_steps  # the steps runner owns their rules

        for loc, msg in check_steps(config.mission, rover, config.rover.start, size):
            problem(("mission", "steps", *loc), msg)
    cruise = getattr(config.mission, "cruise_speed_mps", None)
    if cruise is not None and cruise > rover.drive.max_speed_mps:
        problem(
            ("mission", "cruise_speed_mps"),
            f"{cruise:g} m/s exceeds the rover's drive.max_speed_mps "
            f"({rover.drive.max_speed_mps:g})",
        )
    if problems:
        raise ScenarioError(path, problems)
    return LoadedScenario(config=config, path=path, rover=rover, rover_path=rover_path)
