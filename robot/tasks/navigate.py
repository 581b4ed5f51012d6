"""Visit goals in turn by the rover's own sensing.

:class:`NavigateGoals` runs a :class:`~lunarsite.robot.navigation.goal.NavigateToGoal`
for each goal, one after another on one :class:`~lunarsite.robot.navigation.navigator.
Navigator` (the map, the localizer and the kept-out zones carry over). A goal that fails
does not stop the next; a goal canceled, refused, or ended by the hardware stops the
task.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..executive.skill import ActionResult, ActionStatus, Running, Skill, Step
from ..navigation.goal import NavigateToGoal
from ..navigation.hung import HungWatch
from ..navigation.navigator import Navigator
from ..navigation.phases import GoalResult
from ..planning.costmap import Costmap
from ..site.grid import GridSpec
from ..types import Pose2, SensedState

__all__ = ["MapSnapshot", "NavigateGoals", "NavigationResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MapSnapshot:
    """What the rover believed at one moment (copies), for the pictures that let a failure
    be read beside the truth."""

    goal_index: int | None
    """The goal it was driving to, or last drove to; None before any."""
    reason: str
    """Why the moment was kept (how the goal ended)."""
    grid: GridSpec
    heights_m: npt.NDArray[np.float64]
    """The elevation map: each cell's height raised to its top where it has one (what the
    costmap sees), NaN where unknown."""
    costmap: Costmap | None
    """The costmap it last planned on (immutable)."""
    estimate: Pose2
    path_xy_m: npt.NDArray[np.float64] | None
    """The path it was following, (N, 2) in m, or None."""


@dataclass(frozen=True, slots=True)
class NavigationResult:
    result: ActionResult
    goals: tuple[GoalResult, ...]

    @property
    def reached(self) -> int:
        return sum(1 for g in self.goals if g.result.succeeded)


class NavigateGoals(Skill):
    """Drive to each of ``goals`` ((x, y) in the site frame, in m) in order."""

    def __init__(self, navigator: Navigator, goals: Sequence[tuple[float, float]]) -> None:
        super().__init__("navigate")
        self.nav = navigator
        self.goals = tuple((float(x), float(y)) for x, y in goals)
        self.goal_results: list[GoalResult] = []
        self.current: NavigateToGoal | None = None
        self.events: tuple[str, ...] = ()
        """What happened in the last tick, over every goal it touched."""
        self.failure_maps: list[MapSnapshot] = []
        """The rover's belief at each goal that ended short of success."""
        lp = navigator.localizer.params
        known = lp.track_m > 0.0 and lp.m_per_tick > 0.0
        self.hung = HungWatch(lp.track_m, lp.m_per_tick) if known else None
        """Wheels turning, body still: the task ends, reported (:mod:`..navigation.hung`)."""

    @property
    def pose(self) -> Pose2:
        """The rover's own estimate, in the site frame."""
        return self.nav.localizer.pose

    @property
    def pose_covariance(self) -> npt.NDArray[np.float64]:
        """The filter's covariance of (x_m, y_m, yaw_rad), 3×3 (a copy)."""
        return self.nav.localizer.P[:3, :3].copy()

    @property
    def goal_index(self) -> int:
        """The goal being driven to (``len(goals)`` once all are done)."""
        return len(self.goal_results)

    @property
    def reached(self) -> int:
        """Goals reached so far (by the rover's own estimate)."""
        return sum(1 for g in self.goal_results if g.result.succeeded)

    @property
    def activity(self) -> str:
        """What it is doing, for a progress line."""
        n, reached = len(self.goals), self.reached
        if self.current is None:
            return f"goals {reached}/{n} reached"
        return f"goal {self.goal_index + 1}/{n} ({self.current.phase.value}), {reached} reached"

    @property
    def outcome(self) -> NavigationResult:
        """The goals so far and how the task ended (or is going)."""
        result = self.result or ActionResult(ActionStatus.EXECUTION_FAILED, "not finished")
        return NavigationResult(result, tuple(self.goal_results))

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        if not self.goals:
            return ActionResult(ActionStatus.PLANNING_FAILED, "no goals")
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if self.hung is not None and (why := self.hung.reading(sensed)) is not None:
            return self._hung(why)
        events: list[str] = []
        while self.goal_index < len(self.goals):
            if self.current is None:
                index = self.goal_index
                self.current = NavigateToGoal(self.nav, index, self.goals[index])
            step = self.current.tick(sensed, now_s)
            events += self.current.events
            if isinstance(step, Running):
                self.events = tuple(events)
                return step
            assert self.current.goal_result is not None
            self.goal_results.append(self.current.goal_result)
            if not step.succeeded:
                self.failure_maps.append(self.snapshot(step.reason, self.current))
            self.current = None
            if step.status in (ActionStatus.CANCELED, ActionStatus.PRECONDITION_FAILED):
                break
        self.events = tuple(events)
        n = len(self.goals)
        status = ActionStatus.SUCCEEDED if self.reached == n else ActionStatus.EXECUTION_FAILED
        return ActionResult(status, f"reached {self.reached}/{n} goals")

    def _hung(self, why: str) -> ActionResult:
        """End the task where the rover hangs: no recovery it knows moves it, and every
        goal after would spend its time limit turning the wheels on the spot."""
        log.warning("%s", why)
        self.events = (why,)
        if self.current is not None:
            self.failure_maps.append(self.snapshot(why, self.current))
        return ActionResult(ActionStatus.EXECUTION_FAILED, self._on_cancel(why))

    def snapshot(self, reason: str, goal: NavigateToGoal | None = None) -> MapSnapshot:
        """What the rover believes now; ``goal``: the goal just ended (its path is drawn),
        else the last one driven to."""
        elevation = self.nav.elevation
        path = goal.path if goal is not None else None
        if goal is not None:
            index: int | None = goal.index
        else:
            index = self.goal_results[-1].index if self.goal_results else None
        return MapSnapshot(
            index,
            reason,
            elevation.grid,
            np.fmax(elevation.top_m, elevation.heights_m),
            self.nav.last_costmap,
            self.nav.localizer.pose,
            None if path is None else np.array(path.points_xy_m, dtype=np.float64),
        )

    def _on_cancel(self, reason: str) -> str:
        if self.current is not None:
            self.current.cancel(reason)
            assert self.current.goal_result is not None
            self.goal_results.append(self.current.goal_result)
            self.current = None
        return f"{reason}; reached {self.reached}/{len(self.goals)} goals"
