"""Motion skills of scripted work: hold, move the tools, drive straight, turn in place.

(A dig pass, a straight run with a pitch guard on the bucket, is :class:`~.dig_cut.DigCut`.)
Each is a :class:`~lunarsite.robot.executive.skill.Skill` over a shared
:class:`~.pilot.Pilot` (the estimate, the held tool targets, the counters), which the
task updates once per tick before they decide. They drive in straight legs and turns in
place, closed-loop on the estimate:

- :class:`Hold` stands still for a number of ticks;
- :class:`ToolsTo` sets servo targets and waits, standing still, until the sensed
  positions arrive;
- :class:`Straight` drives a distance along a heading, forwards or backwards, holding
  the heading, then stands a moment;
- :class:`TurnTo` turns in place to a heading, backing up and trying again when a turn
  stalls;

Fixing the estimate on the arena's walls is :class:`~.wall_fix.WallFix`.

Motions that time out end ``execution_failed`` (and count in :attr:`Pilot.timeouts`);
a task may carry on regardless, as a human operator would.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from ..executive.compose import Do, Sequence
from ..executive.skill import ActionResult, ActionStatus, Running, Skill, Step
from ..types import STOP, DriveCommand, SensedState, wrap_angle
from .pilot import Pilot

__all__ = ["Hold", "Straight", "ToolsTo", "TurnTo"]

log = logging.getLogger(__name__)

STRAIGHT_TIMEOUT_S = 30.0
"""How long a :class:`Straight` may take unless told, in s."""
SETTLE_AFTER_MOTION_S = 0.25
"""Standing time at the end of every straight leg and turn, in s."""
TURN_DEADBAND_RAD = 0.08
"""A heading error this small is left to the heading hold of the next straight leg."""
STALL_WINDOW_S = 1.5
"""A turn in place is judged stalled over this much time, in s."""
STALL_SHIFT_M = 0.15
"""How far a stalled turn moves off its spot before it tries again, in m."""
STALL_RATE_STEP = 0.5
"""After each stall a turn's least rate grows by this share of ``min_rate_radps`` (up to
the rover's top yaw rate). On disturbed ground a 0.2 rad/s turn stalled where 0.5 rad/s
turned (landing_pad seed 2, 1242 s: +0.05 rad against +3.2 rad in 10 s, both after
backing 0.15 m)."""
LINE_LOOKAHEAD_M = 0.3
"""A straight leg given a line steers onto it at atan(offset / this), in m: the offset
closes to about a third over each such distance driven."""
LINE_MAX_STEER_RAD = 0.35
"""The most a leg on a line turns off the line's heading to close on it, in rad."""
_OK = ActionResult(ActionStatus.SUCCEEDED)


def _ticks(pilot: Pilot, seconds: float) -> int:
    return max(0, round(seconds / pilot.dt_s))


class Hold(Skill):
    """Stand still (tools keep their targets) for ``seconds``, rounded to whole ticks."""

    def __init__(self, pilot: Pilot, seconds: float) -> None:
        super().__init__(f"hold {seconds:g} s")
        self.pilot = pilot
        self.ticks = _ticks(pilot, seconds)
        self._done = 0

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if self._done >= self.ticks:
            return _OK
        self._done += 1
        return self.pilot.command(STOP)


class ToolsTo(Skill):
    """Set servo targets (rad, by joint name) and wait, standing still, until the sensed
    positions are within ``tolerance_rad``; fails after ``timeout_s``."""

    def __init__(
        self,
        pilot: Pilot,
        targets: dict[str, float],
        *,
        tolerance_rad: float = 0.03,
        timeout_s: float = 6.0,
    ) -> None:
        super().__init__(f"tools to {targets}")
        self.pilot = pilot
        self.targets = dict(targets)
        self.tolerance_rad = tolerance_rad
        self.timeout_s = timeout_s
        self._until_s = math.inf

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        self.pilot.tools.update(self.targets)
        self._until_s = now_s + self.timeout_s
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        pos = sensed.tool_positions_rad
        if all(
            abs(pos.get(k, math.inf) - v) <= self.tolerance_rad for k, v in self.targets.items()
        ):
            return _OK
        if now_s >= self._until_s:
            self.pilot.timed_out(self.name)
            return ActionResult(ActionStatus.EXECUTION_FAILED, f"{self.name}: timed out")
        return self.pilot.command(STOP)


class Straight(Skill):
    """Drive ``distance_m`` along ``yaw_rad`` (negative: backwards), holding the heading;
    the distance is the estimated progress along the heading. The speed ramps at the
    rover's ``max_accel_mps2`` to ``speed_mps`` and down to stop on the mark; then the
    rover stands :data:`SETTLE_AFTER_MOTION_S`. Fails (after standing) at ``timeout_s``.

    ``guard``, if given, is called with the reading after every driving tick and answers
    the seconds to stand still before driving on (0: drive on), or None to end the run
    where it is (it then settles and succeeds); it may change the held tool targets.

    ``line_through_m``, if given, is a point of the line along ``yaw_rad`` the leg should
    run on: the leg steers towards that line (:data:`LINE_LOOKAHEAD_M`) instead of only
    holding the heading, so a rover a few centimetres beside it closes on it while it
    drives, where a turn in place would slip. ``line_lookahead_m`` sets how gently: a
    rover with a tool far ahead steers with the tool's reach, so the tool stays on the
    line while the body closes on it.
    """

    def __init__(
        self,
        pilot: Pilot,
        distance_m: float,
        speed_mps: float,
        yaw_rad: float,
        *,
        timeout_s: float = STRAIGHT_TIMEOUT_S,
        guard: Callable[[SensedState], float | None] | None = None,
        line_through_m: tuple[float, float] | None = None,
        line_lookahead_m: float = LINE_LOOKAHEAD_M,
    ) -> None:
        super().__init__(f"straight {distance_m:+.2f} m")
        self.line_lookahead_m = line_lookahead_m
        self.pilot = pilot
        self.distance_m = distance_m
        self.speed_mps = speed_mps
        self.yaw_rad = yaw_rad
        self.timeout_s = timeout_s
        self.guard = guard
        self.line_through_m = line_through_m
        self._start = pilot.pose
        self._until_s = math.inf
        self._v = 0.0
        self._drove = False
        self._pause: Hold | None = None
        self._settle: Hold | None = None
        self._timed_out = False
        self._stopped = False

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        self._start = self.pilot.pose
        self._until_s = now_s + self.timeout_s
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        pilot = self.pilot
        if self._settle is None:
            if self._drove and self.guard is not None:
                pause_s = self.guard(sensed)
                if pause_s is None:
                    self._stopped = True
                elif pause_s > 0.0:
                    self._pause = Hold(pilot, pause_s)
            self._drove = False
            if self._pause is not None:
                step = self._pause.tick(sensed, now_s)
                if isinstance(step, Running):
                    return step
                self._pause = None
            command = None if self._stopped else self._drive(now_s)
            if command is not None:
                self._drove = True
                return pilot.command(command)
            self._settle = Hold(pilot, SETTLE_AFTER_MOTION_S)
        step = self._settle.tick(sensed, now_s)
        if isinstance(step, Running):
            return step
        if self._timed_out:
            return ActionResult(ActionStatus.EXECUTION_FAILED, f"{self.name}: timed out")
        return _OK

    def _drive(self, now_s: float) -> DriveCommand | None:
        """The next driving command, or None at the mark (or the timeout)."""
        if now_s >= self._until_s:
            self._timed_out = True
            self.pilot.timed_out(self.name)
            return None
        p = self.pilot.pose
        start = self._start
        ux, uy = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        sign = 1.0 if self.distance_m >= 0.0 else -1.0
        done = sign * ((p.x_m - start.x_m) * ux + (p.y_m - start.y_m) * uy)
        left = abs(self.distance_m) - done
        if left <= 0.0:
            return None
        drive = self.pilot.config.drive
        target = min(self.speed_mps, max(0.02, math.sqrt(2.0 * drive.max_accel_mps2 * left)))
        step = drive.max_accel_mps2 * self.pilot.dt_s
        self._v = min(max(target, self._v - step), self._v + step)
        aim = self.yaw_rad
        if self.line_through_m is not None:
            lx, ly = self.line_through_m
            off = (p.y_m - ly) * ux - (p.x_m - lx) * uy  # left of the line, m
            steer = math.atan2(off, self.line_lookahead_m)
            # Forwards, left of the line: turn right; backwards, the other way.
            aim -= sign * max(-LINE_MAX_STEER_RAD, min(LINE_MAX_STEER_RAD, steer))
        err = wrap_angle(aim - p.yaw_rad)
        w = max(-drive.max_yaw_rate_radps, min(drive.max_yaw_rate_radps, 2.0 * err))
        return DriveCommand(sign * self._v, w)


class TurnTo(Skill):
    """Turn in place to ``yaw_rad`` on the estimated heading.

    The rate falls with the remaining angle down to ``min_rate_radps`` (a skid-steer
    barely turns when asked for less). A turn that stalls (the heading turned less than a
    quarter of the command over :data:`STALL_WINDOW_S`, as when the wheels sit in their
    own ruts) stops, moves :data:`STALL_SHIFT_M` off the spot, backwards after an odd
    stall (the ground it came over) and forwards after an even one (back where it
    stood), and tries again at a higher least rate (:data:`STALL_RATE_STEP`: a slow
    skid-steer turn is the one that stalls, one side gripping while the other slips).
    After a stall a heading error under :data:`TURN_DEADBAND_RAD` is good enough: the
    heading hold of the next straight leg takes the rest. A heading error under
    ``deadband_rad`` (:data:`TURN_DEADBAND_RAD`) at the start is left alone.
    """

    def __init__(
        self,
        pilot: Pilot,
        yaw_rad: float,
        *,
        tolerance_rad: float = 0.015,
        min_rate_radps: float = 0.2,
        timeout_s: float = 30.0,
        deadband_rad: float = TURN_DEADBAND_RAD,
    ) -> None:
        super().__init__(f"turn to {yaw_rad:+.2f} rad")
        self.deadband_rad = deadband_rad
        """A heading error under this at the start is left alone, in rad."""
        self.pilot = pilot
        self.yaw_rad = yaw_rad
        self.tolerance_rad = tolerance_rad
        self.min_rate_radps = min_rate_radps
        self.timeout_s = timeout_s
        self._until_s = math.inf
        self._window: list[tuple[float, float]] = []
        self._n = max(2, round(STALL_WINDOW_S / pilot.dt_s))
        self._pivot_from = pilot.pose
        self._last: tuple[float, float, float] | None = None  # (rate, yaw before, error)
        self._child: Skill | None = None
        self._ending = False
        self._timed_out = False
        self._stalls = 0
        """Stalls of this turn."""

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        if abs(wrap_angle(self.yaw_rad - self.pilot.pose.yaw_rad)) < self.deadband_rad:
            return _OK
        self._until_s = now_s + self.timeout_s
        self._pivot_from = self.pilot.pose
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        pilot = self.pilot
        if self._last is not None:
            self._judge_stall()
        if self._child is not None:
            step = self._child.tick(sensed, now_s)
            if isinstance(step, Running):
                return step
            self._child = None
            if self._ending:
                return (
                    ActionResult(ActionStatus.EXECUTION_FAILED, f"{self.name}: timed out")
                    if self._timed_out
                    else _OK
                )
        if now_s >= self._until_s:
            self._timed_out = True
            pilot.timed_out(self.name)
            return self._end(sensed, now_s)
        err = wrap_angle(self.yaw_rad - pilot.pose.yaw_rad)
        good_enough = TURN_DEADBAND_RAD if self._stalls else self.tolerance_rad
        if abs(err) < good_enough:
            return self._end(sensed, now_s)
        max_rate = pilot.config.drive.max_yaw_rate_radps
        least = self.min_rate_radps * (1.0 + STALL_RATE_STEP * self._stalls)
        w = math.copysign(min(max_rate, max(least, 1.5 * abs(err))), err)
        self._last = (w, pilot.pose.yaw_rad, err)
        return pilot.command(DriveCommand(0.0, w))

    def _judge_stall(self) -> None:
        """After a turning tick: record it, and back up when the turn has stalled."""
        assert self._last is not None
        pilot = self.pilot
        w, before, _ = self._last
        self._last = None
        self._window.append((w * pilot.dt_s, wrap_angle(pilot.pose.yaw_rad - before)))
        if len(self._window) < self._n:
            return
        asked = sum(a for a, _ in self._window[-self._n :])
        turned = sum(t for _, t in self._window[-self._n :])
        if turned * math.copysign(1.0, asked) < 0.25 * abs(asked):
            pilot.turn_stalls += 1
            self._stalls += 1
            shift = self._shift_m(-STALL_SHIFT_M if self._stalls % 2 else STALL_SHIFT_M)
            log.info("turn stalled at %s: moving %+.2f m off the spot", pilot.pose, shift)
            self._window.clear()
            self._child = Sequence(
                [
                    Hold(pilot, SETTLE_AFTER_MOTION_S),
                    Do(lambda: pilot.pivot_shift(self._pivot_from)),
                    lambda: Straight(pilot, shift, 0.1, pilot.pose.yaw_rad, timeout_s=5.0),
                    Do(self._restart_pivot),
                ],
                "move off a stalled turn",
                stop_on_failure=False,
            )

    def _shift_m(self, preferred_m: float) -> float:
        """The move off a stalled spot along the heading: ``preferred_m``, else the other
        way, else none, whichever keeps the chassis centre out of :attr:`Pilot.keep_out`."""
        keep_out = self.pilot.keep_out
        if keep_out is None:
            return preferred_m
        p = self.pilot.pose
        c, s = math.cos(p.yaw_rad), math.sin(p.yaw_rad)
        for shift in (preferred_m, -preferred_m):
            if not keep_out(p.x_m + shift * c, p.y_m + shift * s):
                return shift
        return 0.0

    def _restart_pivot(self) -> None:
        self._pivot_from = self.pilot.pose

    def _end(self, sensed: SensedState, now_s: float) -> Step:
        """Stand a moment, then move the estimate round the pivot; ends on a later tick."""
        pilot = self.pilot
        self._ending = True
        self._child = Sequence(
            [
                Hold(pilot, SETTLE_AFTER_MOTION_S),
                Do(lambda: pilot.pivot_shift(self._pivot_from)),
            ],
            "end of turn",
        )
        step = self._child.tick(sensed, now_s)
        assert isinstance(step, Running)
        return step

    def _on_cancel(self, reason: str) -> str:
        if self._child is not None:
            self._child.cancel(reason)
        return reason
