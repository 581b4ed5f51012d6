"""Time as the control loop sees it: a clock that sleeps on hardware and steps the world
in simulation, and a rate keeper that works on either.

Only the control loop (:mod:`lunarsite.robot.executive.loop`) waits on a clock; skills are
handed the time and never read it.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

__all__ = ["Clock", "LoopRate", "WallClock"]

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Time as the control loop sees it."""

    def now_s(self) -> float:
        """Current time, in s (monotonic)."""
        ...

    def sleep_s(self, duration_s: float) -> None:
        """Let ``duration_s`` pass: advance the simulation, or sleep."""
        ...

    def check_period(self, period_s: float) -> None:
        """Raise :class:`ValueError` when this clock cannot wait exactly ``period_s``
        (a simulated clock waits whole physics steps)."""
        ...


class WallClock:
    """Real time: a monotonic clock that sleeps."""

    def now_s(self) -> float:
        return time.monotonic()

    def sleep_s(self, duration_s: float) -> None:
        if duration_s > 0.0:
            time.sleep(duration_s)

    def check_period(self, period_s: float) -> None:
        if not (math.isfinite(period_s) and period_s > 0.0):
            raise ValueError(f"a loop period must be positive and finite, got {period_s}")


class LoopRate:
    """Keeps a loop at ``rate_hz`` on any clock, without drift.

    Each :meth:`sleep` waits until the next tick ``start + k / rate_hz``. When the loop
    overran a tick on a wall clock, the schedule restarts from now (and the overrun is
    counted) rather than bursting to catch up.
    """

    def __init__(self, clock: Clock, rate_hz: float) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0.0):
            raise ValueError(f"rate_hz must be positive and finite, got {rate_hz}")
        self.clock = clock
        self.period_s = 1.0 / rate_hz
        self._start_s = clock.now_s()
        self._tick = 0
        self.overruns = 0

    def sleep(self) -> None:
        self._tick += 1
        deadline = self._start_s + self._tick * self.period_s
        remaining = deadline - self.clock.now_s()
        if remaining < -0.5 * self.period_s:
            self.overruns += 1
            self._start_s = self.clock.now_s()
            self._tick = 0
            return
        # On a simulated clock ``remaining`` is one period up to a few ulp of rounding,
        # which the clock's whole-step check tolerates.
        self.clock.sleep_s(max(remaining, 0.0))
