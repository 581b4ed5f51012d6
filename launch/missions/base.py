"""What a mission kind provides: its file schema, its checks, its task and its judgement.

A mission kind is one module of :mod:`lunarsite.launch.missions` that defines ``MISSION``,
an instance of a :class:`MissionKind` subclass. :mod:`lunarsite.launch.schema` validates a
scenario's ``mission`` and ``acceptance`` blocks with the kind's models and runs its
:meth:`MissionKind.check`; :mod:`lunarsite.launch.runner` builds its task
(:meth:`MissionKind.build`) on any backend, records every tick, and asks it to judge the
run (:meth:`MissionKind.judge`). Importing a mission module must not load PyBullet or
pyserial: whatever needs the simulator is imported inside the method that uses it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from lunarsite.robot.config import RoverConfig, StrictModel
from lunarsite.robot.executive import ActionResult, LoopResult, Skill
from lunarsite.robot.types import Pose2

from ..files import Problem

if TYPE_CHECKING:
    from lunarsite.robot.planning.costmap import Costmap
    from lunarsite.robot.site.grid import GridSpec

    from ..backends import Backend, SeedStreams, Truth
    from ..schema import LoadedScenario

__all__ = [
    "Belief",
    "HeightBelief",
    "Judgement",
    "KnowsItsError",
    "MissionKind",
    "RunRecord",
    "RunSetup",
    "ScenarioView",
    "Task",
]


class Task(Protocol):
    """A task the runner can run: a skill that says where it thinks it is and what it is
    doing (for the trajectory and the progress line)."""

    @property
    def pose(self) -> Pose2: ...

    @property
    def activity(self) -> str: ...


@runtime_checkable
class KnowsItsError(Protocol):
    """A task whose estimate comes with a covariance (a filter): the recorder keeps it,
    and the metrics judge it against the truth (NEES, :mod:`..consistency`)."""

    @property
    def pose_covariance(self) -> npt.NDArray[np.float64]:
        """Covariance of the estimate of (x_m, y_m, yaw_rad) behind ``pose``, 3×3."""
        ...


class HeightBelief(Protocol):
    """A height grid the controller believes in, as the run log reads it (the robot's
    :class:`~lunarsite.robot.perception.mapping.ElevationMap` is one)."""

    @property
    def grid(self) -> GridSpec: ...

    @property
    def version(self) -> int:
        """Changes whenever the heights changed."""
        ...

    @property
    def heights_m(self) -> npt.NDArray[np.float64]:
        """A copy of the heights, in m, NaN where unknown (layout of ``grid``)."""
        ...


@dataclass(frozen=True)
class Belief:
    """What a task believes now, for the run log (never truth): its own height map, the
    costmap it last planned on and the path it follows, each None where it has none.
    Views of the controller's objects, read and never changed; the run log copies what
    it writes, when it writes it."""

    elevation: HeightBelief | None = None
    costmap: Costmap | None = None
    path_xy_m: npt.NDArray[np.float64] | None = None
    """The path being followed, shape (N, 2), in the site frame, m."""


@dataclass(frozen=True)
class ScenarioView:
    """What a mission's checks see of a scenario being validated (no engine loaded)."""

    path: Path
    mission: Any
    """The mission block, validated against the kind's schema."""
    acceptance: Any
    rover: RoverConfig
    site_size_m: tuple[float, float] | None
    start_xy_m: tuple[float, float]
    start_yaw_rad: float
    soil: Any
    """The scenario's ``soil`` block (a ``SoilConfig``) or None."""


@dataclass
class RunSetup:
    """What a mission's task is built from, on whichever backend runs it."""

    scenario: LoadedScenario
    backend: Backend
    seed: int
    start: Pose2
    control_hz: float
    streams: SeedStreams | None = None
    """Random streams of a simulated run (terrain, sensors, goals, scanner)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """What a mission prepared for its task and its judgement (goals drawn, a plan)."""


@dataclass
class RunRecord:
    """Everything a run produced: per tick and at the end. Truth only from a simulator."""

    setup: RunSetup
    task: Skill
    time_limit_s: float
    t_s: list[float] = field(default_factory=list)
    est_xyyaw: list[tuple[float, float, float]] = field(default_factory=list)
    est_cov: list[tuple[float, float, float, float]] = field(default_factory=list)
    """Per tick, for a task that :class:`KnowsItsError`: the estimate's (var_x m², cov_xy
    m², var_y m², var_yaw rad²)."""
    cmd: list[tuple[float, float]] = field(default_factory=list)
    true_xyzyaw: list[tuple[float, float, float, float]] = field(default_factory=list)
    channels: dict[str, list[float]] = field(default_factory=dict)
    """Mission-specific columns per tick (bucket load, goal index...)."""
    events: list[tuple[float, str]] = field(default_factory=list)
    """(time in s, text): the task's activity each time it changes, then how the run
    ended; written to ``events.csv`` (the task timeline)."""
    energy_wh: list[float] = field(default_factory=list)
    """Energy drawn from the battery since the start, per tick, in Wh (simulation)."""
    loop: LoopResult | None = None
    result: ActionResult | None = None
    wall_time_s: float = 0.0
    sim_time_s: float = 0.0
    error: str | None = None
    """Set when the run ended on an exception (a bug): what it was."""
    # ground truth, from the evaluation channel of a simulated run
    rocks_touched: set[int] = field(default_factory=set)
    tipped_over: bool = False
    left_site: bool = False
    """The rover's centre went past the site's edge (off the terrain: it falls), which
    ends the run."""
    min_edge_clearance_m: float = math.inf
    energy_used_wh: float | None = None
    final_true: Pose2 | None = None
    terrain_before_m: npt.NDArray[np.float64] | None = None
    terrain_after_m: npt.NDArray[np.float64] | None = None
    soil_mass_before_kg: npt.NDArray[np.float64] | None = None
    """Soil mass per cell of the true soil grid at the start, in kg (deformable soil)."""
    soil_mass_after_kg: npt.NDArray[np.float64] | None = None
    unit_poses_after: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    """Each free unit's true centre (x, y, z) and yaw at the end, by id (m, rad)."""
    video_frames: int = 0

    @property
    def has_truth(self) -> bool:
        return bool(self.true_xyzyaw)

    def true_xy(self) -> npt.NDArray[np.float64]:
        return np.asarray([(x, y) for x, y, _, _ in self.true_xyzyaw], dtype=np.float64).reshape(
            -1, 2
        )

    def est_xy(self) -> npt.NDArray[np.float64]:
        return np.asarray([(x, y) for x, y, _ in self.est_xyyaw], dtype=np.float64).reshape(-1, 2)


@dataclass
class Judgement:
    """A mission's verdict on a run: acceptance checks, figures for ``metrics.json``, lines
    for the terminal, and what to draw on the map."""

    checks: dict[str, bool]
    data: dict[str, Any]
    lines: tuple[str, ...] = ()
    points_xy_m: npt.NDArray[np.float64] | None = None
    """Numbered points (waypoints, goals) for ``map.png``."""
    tolerance_m: float | None = None
    """Circle drawn round each point, in m."""
    areas: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    """Boxes (x0, x1, y0, y1 in m) drawn on the maps, by label."""


class MissionKind(ABC):
    """One kind of mission (see the module docstring). Subclasses set the class
    attributes and implement :meth:`build` and :meth:`judge`."""

    kind: ClassVar[str]
    """The ``mission.kind`` of scenario files."""
    schema: ClassVar[type[StrictModel]]
    """The ``mission`` block."""
    acceptance: ClassVar[type[StrictModel]]
    """The ``acceptance`` block: what a run must achieve."""

    # --------------------------------------------------------------- validating
    def check(self, view: ScenarioView) -> list[Problem]:
        """Problems that need several fields at once (the rover, the site), as
        (location in the file, reason) pairs."""
        return []

    def summary(self, mission: Any) -> str:
        """One line for ``lunarsite validate``: what the mission does."""
        return f"a {self.kind} mission"

    def refuse(self, scenario: LoadedScenario, backend: str) -> str | None:
        """Why this scenario cannot run on ``backend`` (``sim``, ``serial``), or None."""
        return None

    # ------------------------------------------------------------------ running
    def sim_options(self, scenario: LoadedScenario) -> Mapping[str, Any]:
        """Changes to the scenario's ``sim`` settings for this mission (camera rendering)."""
        return {}

    def prepare_world(self, setup: RunSetup, world: Any) -> None:  # noqa: B027
        """Put the mission's things in a simulated world before the rover (beacons)."""

    def prepare(self, setup: RunSetup) -> None:  # noqa: B027
        """Ready the rover once it is active (a travel pose, walls, a scanner)."""

    @abstractmethod
    def build(self, setup: RunSetup) -> Skill:
        """The task to run (a :class:`Task`)."""

    def channels(self, task: Skill, truth: Truth | None) -> Mapping[str, float]:
        """Mission-specific figures recorded every tick (CSV columns)."""
        return {}

    def belief(self, task: Skill) -> Belief | None:
        """The task's map, costmap and path for the run log (``run.mcap``), or None when
        it has none. Called every tick: return views, not copies."""
        return None

    @abstractmethod
    def judge(self, run: RunRecord) -> Judgement:
        """The verdict on a finished run (on ground truth where the backend has it)."""

    def write_files(  # noqa: B027 (no files beyond the common ones by default)
        self, run: RunRecord, out_dir: Path, judgement: Judgement
    ) -> None:
        """Files of the run folder beyond the common ones (pictures of the soil)."""
