"""Simulated time: sleeping advances the physics."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import LunarWorld

__all__ = ["SimClock"]


class SimClock:
    """A :class:`lunarsite.robot.hardware.Clock` whose sleep steps the world.

    A sleep must be a whole number of physics steps (within a microsecond): a control
    loop at a rate the physics rate does not divide is a configuration error, not
    something to round away silently.
    """

    def __init__(self, world: LunarWorld) -> None:
        self._world = world

    def now_s(self) -> float:
        return self._world.sim_time_s

    def sleep_s(self, duration_s: float) -> None:
        self._world.step(self._steps(duration_s, "sleep"))

    def check_period(self, period_s: float) -> None:
        """Refuse a control period that is not a whole number of physics steps (or none)."""
        if self._steps(period_s, "run a loop every") < 1:
            raise ValueError(f"a loop period of {period_s!r} s is shorter than a physics step")

    def _steps(self, duration_s: float, what: str) -> int:
        dt = self._world.physics_dt_s
        steps = round(duration_s / dt)
        if steps < 0 or abs(steps * dt - duration_s) > 1e-6:
            raise ValueError(
                f"cannot {what} {duration_s!r} s: not a whole number of {dt:.6f} s physics steps"
            )
        return steps
