"""Drive through waypoints on dead reckoning: the simplest task, and the reference one.

:class:`DriveToWaypoints` updates its :class:`~lunarsite.robot.perception.estimation.
DeadReckoning` with every reading, follows the waypoints with a
:class:`~lunarsite.robot.control.waypoints.WaypointFollower`, records when its own estimate
says each waypoint was reached, and once the last is reached holds a stop until the
encoders stop counting (the rover has come to rest).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..control.waypoints import FollowerParams, WaypointFollower
from ..executive.skill import ActionResult, ActionStatus, Running, Skill, Step
from ..perception.estimation import DeadReckoning
from ..types import STOP, Pose2, RoverCommand, SensedState

__all__ = ["STOP_WAIT_S", "DriveToWaypoints", "WaypointArrival"]

log = logging.getLogger(__name__)

STOP_WAIT_S = 3.0
"""Longest time to wait, after the last waypoint, for the wheels to come to rest, in s."""
_STILL_TICKS = 3
"""Ticks without an encoder count that mean the rover is at rest."""


@dataclass(frozen=True, slots=True)
class WaypointArrival:
    """The controller's claim that it reached a waypoint, with its own estimate then."""

    index: int
    stamp_s: float
    estimate: Pose2


class DriveToWaypoints(Skill):
    """Drive through ``waypoints`` ((x, y) in the site frame, in m) on dead reckoning.

    Args:
        params: follower settings (:meth:`FollowerParams.for_rover`).
        estimator: dead reckoning, initialised at the surveyed start pose.
        control_hz: the loop's rate, in Hz (the follower's time step).
    """

    def __init__(
        self,
        params: FollowerParams,
        estimator: DeadReckoning,
        waypoints: Sequence[tuple[float, float]],
        *,
        control_hz: float,
    ) -> None:
        super().__init__("drive to waypoints")
        self.params = params
        self.estimator = estimator
        self.waypoints = tuple((float(x), float(y)) for x, y in waypoints)
        self.dt_s = 1.0 / control_hz
        self.arrivals: list[WaypointArrival] = []
        self._follower: WaypointFollower | None = None
        self._settle_ticks = 0
        self._still = 0
        self._last_ticks: tuple[int, int] | None = None

    @property
    def pose(self) -> Pose2:
        """The rover's own estimate, in the site frame."""
        return self.estimator.pose

    @property
    def turn_stalls(self) -> int:
        """Turns in place that stalled and were retried (see :class:`WaypointFollower`)."""
        return self._follower.stalls if self._follower is not None else 0

    @property
    def activity(self) -> str:
        """What it is doing, for a progress line."""
        n = len(self.waypoints)
        if self.settling:
            return f"waypoints {n}/{n}, coming to rest"
        return f"waypoint {min(len(self.arrivals) + 1, n)}/{n}"

    @property
    def settling(self) -> bool:
        """All waypoints reached; holding a stop until the wheels rest."""
        return self._follower is not None and self._follower.done

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        if not self.waypoints:
            return ActionResult(ActionStatus.PLANNING_FAILED, "no waypoints to drive to")
        self._follower = WaypointFollower(self.params, self.waypoints, self.estimator.pose)
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        follower = self._follower
        assert follower is not None
        pose = self.estimator.update(sensed)
        if follower.done:
            return self._settle(sensed)
        command = follower.update(pose, self.dt_s)
        for index in follower.pop_arrivals():
            self.arrivals.append(WaypointArrival(index, sensed.stamp_s, pose))
            log.info(
                "waypoint %d reached at t=%.1f s (estimate %.2f, %.2f)",
                index,
                now_s - self.start_s,
                pose.x_m,
                pose.y_m,
            )
        if follower.done:
            self._last_ticks = (sensed.left_ticks, sensed.right_ticks)
            return Running(RoverCommand(STOP))
        return Running(RoverCommand(command))

    def _settle(self, sensed: SensedState) -> Step:
        """Hold a stop until the encoders stop changing, or :data:`STOP_WAIT_S` passes."""
        ticks = (sensed.left_ticks, sensed.right_ticks)
        self._still = self._still + 1 if ticks == self._last_ticks else 0
        self._last_ticks = ticks
        self._settle_ticks += 1
        if self._still >= _STILL_TICKS or self._settle_ticks >= max(
            1, math.ceil(STOP_WAIT_S / self.dt_s)
        ):
            return ActionResult(
                ActionStatus.SUCCEEDED, f"reached all {len(self.waypoints)} waypoints"
            )
        return Running(RoverCommand(STOP))

    def _on_cancel(self, reason: str) -> str:
        return f"{reason} with {len(self.arrivals)}/{len(self.waypoints)} waypoints"
