"""Runs actions against a rover and says how they ended.

Every action returns an :class:`ActionResult` with a status and a reason, after
pyrobosim's ``ExecutionResult``: a caller can tell "the rover was not ready" from "the
plan failed" from "it tried and fell short" from "someone stopped it".

The control loop is the same in simulation and on hardware: read, estimate, decide,
write, sleep on the rover's clock.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .control.waypoints import FollowerParams, WaypointFollower
from .hardware import HardwareError, LifecycleState, LoopRate, RoverInterface
from .perception.estimation import DeadReckoning
from .types import STOP, DriveCommand, Pose2, RoverCommand, SensedState

__all__ = [
    "ActionResult",
    "ActionStatus",
    "ControlTick",
    "DriveToWaypoints",
    "WaypointArrival",
    "WaypointRunResult",
]

log = logging.getLogger(__name__)

STOP_WAIT_S = 3.0
"""Longest time to wait, after the last waypoint, for the wheels to come to rest, in s."""


class ActionStatus(enum.Enum):
    SUCCEEDED = "succeeded"
    PRECONDITION_FAILED = "precondition_failed"
    PLANNING_FAILED = "planning_failed"
    EXECUTION_FAILED = "execution_failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class ActionResult:
    status: ActionStatus
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is ActionStatus.SUCCEEDED


@dataclass(frozen=True, slots=True)
class ControlTick:
    """What the controller saw and did in one cycle (for observers: logging, recording)."""

    stamp_s: float
    sensed: SensedState
    estimate: Pose2
    command: DriveCommand
    waypoints_reached: int = 0


@dataclass(frozen=True, slots=True)
class WaypointArrival:
    """The controller's claim that it reached a waypoint, with its own estimate then."""

    index: int
    stamp_s: float
    estimate: Pose2


@dataclass(frozen=True, slots=True)
class WaypointRunResult:
    result: ActionResult
    arrivals: tuple[WaypointArrival, ...]
    final_estimate: Pose2
    elapsed_s: float
    turn_stalls: int = 0
    """Turns in place that stalled and were retried (see :class:`WaypointFollower`)."""


class DriveToWaypoints:
    """Drive through waypoints on dead reckoning (wheel odometry and gyro heading).

    Args:
        rover: an ACTIVE rover.
        params: follower settings (see :meth:`FollowerParams.for_rover`).
        estimator: dead reckoning, initialised at the surveyed start pose.
        waypoints: (x, y) in the site frame, in m.
        control_hz: loop rate, in Hz.
    """

    def __init__(
        self,
        rover: RoverInterface,
        params: FollowerParams,
        estimator: DeadReckoning,
        waypoints: Sequence[tuple[float, float]],
        *,
        control_hz: float,
    ) -> None:
        self.rover = rover
        self.params = params
        self.estimator = estimator
        self.waypoints = tuple((float(x), float(y)) for x, y in waypoints)
        self.control_hz = control_hz

    def run(
        self,
        *,
        time_limit_s: float,
        observer: Callable[[ControlTick], None] | None = None,
        should_cancel: Callable[[], str | None] | None = None,
    ) -> WaypointRunResult:
        """Run the loop until every waypoint is reached, time runs out, or a cancel."""
        rover = self.rover
        clock = rover.clock
        t0 = clock.now_s()
        arrivals: list[WaypointArrival] = []
        follower: WaypointFollower | None = None

        def finish(status: ActionStatus, reason: str) -> WaypointRunResult:
            log.info("drive to waypoints: %s (%s)", status.value, reason)
            return WaypointRunResult(
                ActionResult(status, reason),
                tuple(arrivals),
                self.estimator.pose,
                clock.now_s() - t0,
                follower.stalls if follower is not None else 0,
            )

        if rover.lifecycle_state is not LifecycleState.ACTIVE:
            return finish(
                ActionStatus.PRECONDITION_FAILED,
                f"rover is {rover.lifecycle_state.value}, not active",
            )
        if not self.waypoints:
            return finish(ActionStatus.PLANNING_FAILED, "no waypoints to drive to")
        if not (math.isfinite(time_limit_s) and time_limit_s > 0.0):
            return finish(ActionStatus.PRECONDITION_FAILED, f"bad time limit {time_limit_s}")

        follower = WaypointFollower(self.params, self.waypoints, self.estimator.pose)
        rate = LoopRate(clock, self.control_hz)
        dt = 1.0 / self.control_hz
        try:
            while True:
                sensed = rover.read()
                pose = self.estimator.update(sensed)
                command = follower.update(pose, dt)
                for index in follower.pop_arrivals():
                    arrivals.append(WaypointArrival(index, sensed.stamp_s, pose))
                    log.info(
                        "waypoint %d reached at t=%.1f s (estimate %.2f, %.2f)",
                        index,
                        sensed.stamp_s - t0,
                        pose.x_m,
                        pose.y_m,
                    )
                if follower.done:
                    rover.write(RoverCommand(drive=STOP))
                    self._wait_for_rest(observer, len(arrivals))
                    return finish(
                        ActionStatus.SUCCEEDED, f"reached all {len(self.waypoints)} waypoints"
                    )
                reason = should_cancel() if should_cancel is not None else None
                if reason:
                    rover.write(RoverCommand(drive=STOP))
                    return finish(ActionStatus.CANCELED, reason)
                if sensed.stamp_s - t0 >= time_limit_s:
                    rover.write(RoverCommand(drive=STOP))
                    return finish(
                        ActionStatus.EXECUTION_FAILED,
                        f"time limit of {time_limit_s:g} s reached with "
                        f"{len(arrivals)}/{len(self.waypoints)} waypoints",
                    )
                rover.write(RoverCommand(drive=command))
                if observer is not None:
                    observer(ControlTick(sensed.stamp_s, sensed, pose, command, len(arrivals)))
                rate.sleep()
        except HardwareError as exc:
            return finish(ActionStatus.EXECUTION_FAILED, f"hardware: {exc}")

    def _wait_for_rest(self, observer: Callable[[ControlTick], None] | None, reached: int) -> None:
        """Hold a stop until the encoders stop changing (or STOP_WAIT_S passes)."""
        rover = self.rover
        rate = LoopRate(rover.clock, self.control_hz)
        last: tuple[int, int] | None = None
        still = 0
        for _ in range(max(1, round(STOP_WAIT_S * self.control_hz))):
            sensed = rover.read()
            pose = self.estimator.update(sensed)
            if observer is not None:
                observer(ControlTick(sensed.stamp_s, sensed, pose, STOP, reached))
            ticks = (sensed.left_ticks, sensed.right_ticks)
            still = still + 1 if ticks == last else 0
            if still >= 3:
                return
            last = ticks
            rate.sleep()
