"""A skill: one behaviour, advanced one control tick at a time.

Every behaviour of the rover (drive to waypoints, navigate to a goal, a dig pass, a tool
move, a scripted step) is a :class:`Skill`. The control loop
(:class:`~lunarsite.robot.executive.loop.ControlLoop`) hands it the latest sensed state
and the time, once per tick; it answers either :class:`Running` with the command to
write now, or a finished :class:`ActionResult` with a status and a reason (after
pyrobosim's ``ExecutionResult``): a caller can tell "the rover was not ready" from "the
plan failed" from "it tried and fell short" from "someone stopped it".

A skill never sleeps, never reads a clock and never steps a world: time is the argument
of :meth:`Skill.tick`. That is what lets one loop own time (the limit, cancellation,
hardware faults), lets two rovers share one simulated world, and lets the same skill run
on a simulated and a physical rover.

A finished skill takes no time: when a child of a composite finishes, the composite moves
on to the next child within the same tick, so a sequence of skills issues exactly the
commands its children would one after another.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..types import RoverCommand, SensedState

__all__ = ["ActionResult", "ActionStatus", "Running", "Skill", "Step"]

log = logging.getLogger(__name__)


class ActionStatus(enum.Enum):
    SUCCEEDED = "succeeded"
    PRECONDITION_FAILED = "precondition_failed"
    """The rover or the world was not in a state to start (not active, no bucket)."""
    PLANNING_FAILED = "planning_failed"
    """No plan: no path, no waypoints, an unreachable design."""
    EXECUTION_FAILED = "execution_failed"
    """It tried and fell short: a timeout, a stall, a hardware fault."""
    CANCELED = "canceled"
    """Stopped from outside: the time limit, Ctrl-C, a tip-over, a caller."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """How a skill ended: a status and a reason a person can read."""

    status: ActionStatus
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is ActionStatus.SUCCEEDED


@dataclass(frozen=True, slots=True)
class Running:
    """A skill that is not finished: the command to write this tick."""

    command: RoverCommand


Step = Running | ActionResult
"""What one tick of a skill returns."""


class Skill(ABC):
    """A behaviour that ticks (see the module docstring).

    Subclasses implement :meth:`_on_tick`, and may implement :meth:`_on_start` (checks and
    set-up on the first tick, which may refuse with a result) and :meth:`_on_cancel`. This
    base class keeps the result once there is one: a finished skill answers it again, and
    is never ticked into motion by mistake.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self._result: ActionResult | None = None
        self._started = False
        self.start_s = float("nan")
        """Time of the first tick, in s (NaN before)."""

    @property
    def result(self) -> ActionResult | None:
        """How the skill ended, or None while it has not."""
        return self._result

    @property
    def done(self) -> bool:
        return self._result is not None

    @property
    def started(self) -> bool:
        return self._started

    def tick(self, sensed: SensedState, now_s: float) -> Step:
        """Advance by one control tick: the command to write, or how the skill ended."""
        if self._result is not None:
            return self._result
        if not self._started:
            self._started = True
            self.start_s = now_s
            refused = self._on_start(sensed, now_s)
            if refused is not None:
                return self._finish(refused)
        step = self._on_tick(sensed, now_s)
        if isinstance(step, ActionResult):
            return self._finish(step)
        return step

    def cancel(self, reason: str) -> ActionResult:
        """Stop now (the time limit, a caller); the loop writes the stop. Returns the
        result, which a skill may fill in with what it had done (see :meth:`_on_cancel`)."""
        if self._result is not None:
            return self._result
        return self._finish(ActionResult(ActionStatus.CANCELED, self._on_cancel(reason)))

    # ----------------------------------------------------------------- the hooks
    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        """Called once before the first :meth:`_on_tick`; a result refuses to start."""
        return None

    @abstractmethod
    def _on_tick(self, sensed: SensedState, now_s: float) -> Step: ...

    def _on_cancel(self, reason: str) -> str:
        """Called when canceled; returns the reason to report (it may add progress)."""
        return reason

    def _finish(self, result: ActionResult) -> ActionResult:
        self._result = result
        log.debug("%s: %s (%s)", self.name, result.status.value, result.reason)
        return result
