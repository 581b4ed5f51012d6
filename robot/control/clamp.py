"""Closing a clamp on a unit and weighing what it holds, from what the rover senses.

A clamp's jaws are driven to a little less than the unit's width: with a unit between
them they stop at its faces and push with the squeeze servo's torque, so the sensed jaw
angle stops short of its target, at the unit's width. :class:`CloseOn` reads the grasp
from that alone: jaws that close past the unit's width met nothing; jaws that stop wide
of it met something else (a neighbour, a unit turned on the ground).

The lift servo senses its torque (its drive's current): standing still, it balances the
weight of the carriage, jaws and what they hold along the mast, τ = r · g · cos θ · m
with r the pinion's radius and θ the chassis' tilt. :class:`ClampScale` tares it with
the jaws empty and weighs a held unit against the catalog's mass; a unit that slipped or
dropped weighs short. The weighing itself is :class:`~.payload.Weigh`, with the lift
for its boom.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ..config import ToolConfig
from ..executive.skill import ActionResult, ActionStatus, Skill, Step
from ..types import STOP, SensedState
from .payload import TaredScale, Weighing
from .pilot import Pilot

__all__ = ["SQUEEZE_MARGIN_M", "ClampScale", "CloseOn"]

SQUEEZE_MARGIN_M = 0.03
"""The jaws are commanded this much narrower than the unit, so they push on it, in m."""
STILL_WINDOW_S = 0.5
"""The jaws count as stopped when their angle has changed less than :data:`STILL_RAD`
over this long, in s."""
STILL_RAD = 0.01
WIDTH_TOLERANCE_M = 0.015
"""A grasp is the unit's when the jaws stop within this of its width, in m."""


class CloseOn(Skill):
    """Close ``tool``'s jaws on a unit ``width_m`` across (see the module text); stands
    still meanwhile. Succeeds with the jaws stopped on it; fails ``execution_failed``
    when they close on nothing or stop at another width, or after ``timeout_s``.
    :attr:`opening_m` is where they stopped."""

    def __init__(
        self, pilot: Pilot, tool: ToolConfig, width_m: float, *, timeout_s: float = 10.0
    ) -> None:
        super().__init__(f"close {tool.name} on {width_m:.3f} m")
        if tool.kind != "clamp":
            raise ValueError(f"tool {tool.name!r} is a {tool.kind}, not a clamp")
        self.pilot, self.tool, self.width_m = pilot, tool, width_m
        self.jaws = tool.joints[1].name
        target = tool.squeeze_for_m(width_m - SQUEEZE_MARGIN_M)
        self.target_rad = min(target, tool.joints[1].upper_rad)
        self.timeout_s = timeout_s
        self.opening_m: float | None = None
        self._angles: deque[float] = deque(maxlen=max(2, round(STILL_WINDOW_S / pilot.dt_s)))
        self._until_s = math.inf

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        self.pilot.tools[self.jaws] = self.target_rad
        self._until_s = now_s + self.timeout_s
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        angle = sensed.tool_positions_rad.get(self.jaws)
        if angle is None or not math.isfinite(angle):
            return ActionResult(ActionStatus.EXECUTION_FAILED, f"{self.name}: no jaw angle sensed")
        self._angles.append(angle)
        opening = self.tool.opening_m(angle)
        if opening < self.width_m - WIDTH_TOLERANCE_M:
            self.opening_m = opening
            return ActionResult(
                ActionStatus.EXECUTION_FAILED,
                f"{self.name}: the jaws closed to {opening:.3f} m: nothing between them",
            )
        still = len(self._angles) == self._angles.maxlen and (
            max(self._angles) - min(self._angles) < STILL_RAD
        )
        if still:
            self.opening_m = opening
            if abs(opening - self.width_m) <= WIDTH_TOLERANCE_M:
                return ActionResult(ActionStatus.SUCCEEDED)
            return ActionResult(
                ActionStatus.EXECUTION_FAILED,
                f"{self.name}: the jaws stopped at {opening:.3f} m: something else is between them",
            )
        if now_s >= self._until_s:
            self.pilot.timed_out(self.name)
            return ActionResult(ActionStatus.EXECUTION_FAILED, f"{self.name}: timed out")
        return self.pilot.command(STOP)


@dataclass
class ClampScale(TaredScale):
    """A clamp's scale on its lift's torque (see the module text)."""

    tool: ToolConfig
    tare_kg: float | None = None
    """The empty carriage and jaws as an equivalent held mass, in kg (None until tared)."""

    def equivalent_kg(self, w: Weighing) -> float:
        assert self.tool.pinion_radius_m is not None
        along_mast = w.gravity_mps2 * math.cos(w.pitch_rad)
        if along_mast <= 0.0:
            return math.nan
        return w.torque_nm / (self.tool.pinion_radius_m * along_mast)
