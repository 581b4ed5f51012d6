"""Scripted steps for a lab rover: drive, turn, move a joint, wait; in order.

:class:`Steps` runs each step closed-loop on the rover's own dead reckoning (encoders
and gyro), and records how far each step's end lies from the plan
(:func:`expected_poses`), which is how a physical rover on a bench, with no ground truth,
is judged. A drive follows the planned segment (speed from the distance left along it,
yaw rate from the heading and cross-track errors); a turn turns by its angle plus the
heading error left over; a joint move waits for the servo to arrive (and fails if the
rover refuses the target, or it does not arrive in time); each motion ends standing
still for :data:`SETTLE_S`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import RoverConfig
from ..executive.compose import Script, ScriptBody
from ..executive.skill import ActionResult, ActionStatus, Running, Skill, Step
from ..perception.estimation import DeadReckoning
from ..types import STOP, DriveCommand, Pose2, RoverCommand, SensedState, wrap_angle

__all__ = [
    "DriveStep",
    "JointStep",
    "StepResult",
    "Steps",
    "TurnStep",
    "WaitStep",
    "expected_poses",
]

log = logging.getLogger(__name__)

SETTLE_S = 0.3
"""Standing time after each drive and turn, in s."""
TURN_FLOOR_SHARE = 0.6
"""A turn in place slows toward its end to no less than this share of the step's yaw
rate: a skid-steer asked to turn slowly stalls, one side gripping while the other slips
(the navigator's facing turns keep the same floor)."""
ARRIVED_M = 0.003
ARRIVED_RAD = 0.003
JOINT_TOLERANCE_RAD = 0.01


@dataclass(frozen=True, slots=True)
class DriveStep:
    """Drive straight ``distance_m`` (negative: backwards) at ``speed_mps``."""

    distance_m: float
    speed_mps: float
    kind: str = "drive"


@dataclass(frozen=True, slots=True)
class TurnStep:
    """Turn in place by ``angle_rad`` (positive: counter-clockwise) at ``yaw_rate_radps``."""

    angle_rad: float
    yaw_rate_radps: float
    kind: str = "turn"


@dataclass(frozen=True, slots=True)
class JointStep:
    """Move servo ``joint`` to ``position_rad``."""

    joint: str
    position_rad: float
    kind: str = "tool"


@dataclass(frozen=True, slots=True)
class WaitStep:
    """Hold still for ``duration_s``."""

    duration_s: float
    kind: str = "wait"


AnyStep = DriveStep | TurnStep | JointStep | WaitStep


@dataclass(frozen=True, slots=True)
class StepResult:
    index: int
    kind: str
    result: ActionResult
    duration_s: float
    error_m: float
    """Distance from the planned position to the rover's own estimate after the step (NaN
    for a step that did not finish)."""


def expected_poses(steps: Sequence[AnyStep], start: Pose2) -> list[Pose2]:
    """The planned pose after each step, from ``start``, in the site frame."""
    out = []
    x, y, yaw = start.x_m, start.y_m, start.yaw_rad
    for step in steps:
        if isinstance(step, DriveStep):
            x += step.distance_m * math.cos(yaw)
            y += step.distance_m * math.sin(yaw)
        elif isinstance(step, TurnStep):
            yaw += step.angle_rad
        out.append(Pose2(x, y, wrap_angle(yaw)))
    return out


class _Odometry:
    """Dead reckoning plus the heading turned in all (unwrapped), for the turn steps."""

    def __init__(self, config: RoverConfig, start: Pose2) -> None:
        self.dr = DeadReckoning(config, start)
        self.yaw_travel_rad = 0.0
        self._last_yaw = start.yaw_rad
        self.targets: dict[str, float] = {}
        self.sensed: SensedState | None = None

    def update(self, sensed: SensedState) -> None:
        self.dr.update(sensed)
        self.sensed = sensed
        yaw = self.dr.pose.yaw_rad
        self.yaw_travel_rad += wrap_angle(yaw - self._last_yaw)
        self._last_yaw = yaw

    def command(self, drive: DriveCommand) -> Running:
        return Running(RoverCommand(drive, dict(self.targets)))


class _Settle(Skill):
    """Stand still until ``seconds`` have passed since the first tick."""

    def __init__(self, odo: _Odometry, seconds: float = SETTLE_S) -> None:
        super().__init__("settle")
        self.odo = odo
        self.seconds = seconds

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if now_s >= self.start_s + self.seconds:
            return ActionResult(ActionStatus.SUCCEEDED)
        return self.odo.command(STOP)


class _Drive(Skill):
    def __init__(
        self, odo: _Odometry, config: RoverConfig, before: Pose2, after: Pose2, step: DriveStep
    ) -> None:
        super().__init__("drive")
        self.odo, self.before, self.after, self.step = odo, before, after, step
        self.accel_mps2 = 0.5 * config.drive.max_accel_mps2
        self._first = True

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if self._first:  # one standing tick: the estimate takes the rover at rest
            self._first = False
            return self.odo.command(STOP)
        pose, before, after = self.odo.dr.pose, self.before, self.after
        ux, uy = math.cos(before.yaw_rad), math.sin(before.yaw_rad)
        direction = math.copysign(1.0, self.step.distance_m)
        remaining = ((after.x_m - pose.x_m) * ux + (after.y_m - pose.y_m) * uy) * direction
        if remaining < ARRIVED_M:
            return ActionResult(ActionStatus.SUCCEEDED)
        cross = -(pose.x_m - after.x_m) * uy + (pose.y_m - after.y_m) * ux
        v = min(self.step.speed_mps, max(0.03, math.sqrt(2.0 * self.accel_mps2 * remaining)))
        w = 2.0 * wrap_angle(before.yaw_rad - pose.yaw_rad) - 4.0 * cross * direction
        return self.odo.command(DriveCommand(direction * v, max(-0.5, min(0.5, w))))


class _Turn(Skill):
    def __init__(self, odo: _Odometry, before: Pose2, step: TurnStep) -> None:
        super().__init__("turn")
        self.odo, self.before, self.step = odo, before, step
        self._start_travel = 0.0
        self._goal: float | None = None
        self._first = True

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        odo = self.odo
        if self._first:  # one standing tick, then turn by the angle and what is left over
            self._first = False
            return odo.command(STOP)
        if self._goal is None:
            self._start_travel = odo.yaw_travel_rad
            self._goal = self.step.angle_rad + wrap_angle(self.before.yaw_rad - odo.dr.pose.yaw_rad)
        remaining = self._goal - (odo.yaw_travel_rad - self._start_travel)
        if abs(remaining) < ARRIVED_RAD or remaining * self._goal < 0.0:
            return ActionResult(ActionStatus.SUCCEEDED)
        rate = self.step.yaw_rate_radps
        w = min(rate, max(TURN_FLOOR_SHARE * rate, math.sqrt(4.0 * abs(remaining))))
        return odo.command(DriveCommand(0.0, math.copysign(w, remaining)))


class _Joint(Skill):
    def __init__(self, odo: _Odometry, config: RoverConfig, step: JointStep) -> None:
        super().__init__(f"joint {step.joint}")
        self.odo, self.step = odo, step
        self.joint = config.joint(step.joint)
        self._give_up_s = math.inf

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        j, target = self.joint, self.step.position_rad
        self.odo.targets[j.name] = target
        start = sensed.tool_positions_rad.get(j.name, j.home_rad)
        self._give_up_s = now_s + abs(target - start) / j.max_speed_radps + 2.0
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        name, target = self.joint.name, self.step.position_rad
        refused = [line for line in sensed.rejected if name in line]
        if refused:
            return ActionResult(ActionStatus.EXECUTION_FAILED, "; ".join(refused))
        if now_s > self.start_s:
            if abs(sensed.tool_positions_rad.get(name, math.inf) - target) < JOINT_TOLERANCE_RAD:
                return ActionResult(ActionStatus.SUCCEEDED)
            if now_s > self._give_up_s:
                return ActionResult(
                    ActionStatus.EXECUTION_FAILED,
                    f"joint {name} did not reach {target:g} rad in time",
                )
        return self.odo.command(STOP)


class Steps(Script):
    """Runs ``steps`` in order from the surveyed ``start`` (see the module docstring); the
    first step that fails ends the task."""

    def __init__(self, config: RoverConfig, steps: Sequence[AnyStep], start: Pose2) -> None:
        self.config = config
        self.steps = tuple(steps)
        self.odo = _Odometry(config, start)
        self.planned = expected_poses(self.steps, start)
        self.origin = start
        self.results: list[StepResult] = []
        self.index = 0
        self._now_s = 0.0
        super().__init__(self._run(), "steps")

    @property
    def pose(self) -> Pose2:
        """The rover's own estimate, in the site frame."""
        return self.odo.dr.pose

    @property
    def activity(self) -> str:
        n = len(self.steps)
        if self.index >= n:
            return f"steps {n}/{n}"
        return f"step {self.index + 1}/{n} ({self.steps[self.index].kind})"

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        self.odo.update(sensed)
        self._now_s = now_s
        return super()._on_tick(sensed, now_s)

    def _on_cancel(self, reason: str) -> str:
        super()._on_cancel(reason)
        if self.index < len(self.steps) and len(self.results) == self.index:
            result = ActionResult(ActionStatus.CANCELED, reason)
            self.results.append(
                StepResult(self.index, self.steps[self.index].kind, result, math.nan, math.nan)
            )
        return f"{reason} at step {self.index + 1}/{len(self.steps)}"

    def _skill(self, i: int) -> Skill:
        step, odo = self.steps[i], self.odo
        before = self.planned[i - 1] if i > 0 else self.origin
        if isinstance(step, DriveStep):
            return _Drive(odo, self.config, before, self.planned[i], step)
        if isinstance(step, TurnStep):
            return _Turn(odo, before, step)
        if isinstance(step, JointStep):
            return _Joint(odo, self.config, step)
        return _Settle(odo, step.duration_s)

    def _run(self) -> ScriptBody:
        for i, step in enumerate(self.steps):
            self.index = i
            t0 = self._now_s
            result = yield self._skill(i)
            if result.succeeded and isinstance(step, DriveStep | TurnStep):
                result = yield _Settle(self.odo)
            if not result.succeeded:
                self.results.append(StepResult(i, step.kind, result, self._now_s - t0, math.nan))
                return ActionResult(
                    result.status, f"step {i + 1} ({step.kind}) failed: {result.reason}"
                )
            pose, plan = self.pose, self.planned[i]
            error = math.hypot(pose.x_m - plan.x_m, pose.y_m - plan.y_m)
            self.results.append(StepResult(i, step.kind, result, self._now_s - t0, error))
        self.index = len(self.steps)
        return ActionResult(ActionStatus.SUCCEEDED, "all steps done")
