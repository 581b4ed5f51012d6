"""Dead reckoning whose gyro bias is re-estimated every time the rover stands still.

A MEMS gyro's bias (~1e-4–1e-3 rad/s) integrates into a heading error that grows without
bound. A rover that stops often (a digger between passes) can measure it: wheels
commanded to stop, no encoder counts for a second, readings near zero on every axis: what
the gyro reads then is its bias (a zero-velocity update). :class:`ZuptDeadReckoning` keeps
the running mean of such readings and feeds dead reckoning the corrected rates.
"""

from __future__ import annotations

import dataclasses
import logging

from ..config import RoverConfig
from ..types import Pose2, SensedState
from .estimation import DeadReckoning

__all__ = ["GyroBias", "ZuptDeadReckoning"]

log = logging.getLogger(__name__)

ZUPT_SETTLE_S = 1.0
"""Standing time before gyro readings count toward the bias estimate, in s (a chassis that
has just stopped can still rock or slide)."""
ZUPT_MAX_RATE_RADPS = 0.01
"""Readings above this (any axis) are motion, not bias, in rad/s."""


class GyroBias:
    """Running mean of the gyro while the rover stands still, over the last ``window``
    readings at most, in rad/s."""

    def __init__(self, window: int = 4000) -> None:
        self.window = window
        self.n = 0
        self.bias = (0.0, 0.0, 0.0)

    def add(self, gyro: tuple[float, float, float]) -> None:
        self.n += 1
        w = 1.0 / min(self.n, self.window)
        bx, by, bz = self.bias
        self.bias = (bx + w * (gyro[0] - bx), by + w * (gyro[1] - by), bz + w * (gyro[2] - bz))


class ZuptDeadReckoning:
    """:class:`DeadReckoning` on gyro rates less a bias estimated at standstill.

    Args:
        config: the rover file (wheel geometry, encoders).
        start: the surveyed start pose.
        dt_s: the control period, in s (standing time is counted in readings).
    """

    def __init__(self, config: RoverConfig, start: Pose2, *, dt_s: float) -> None:
        self.dr = DeadReckoning(config, start)
        self.dt_s = dt_s
        self.gyro = GyroBias()
        self._last: SensedState | None = None
        self._still_ticks = 0

    @property
    def pose(self) -> Pose2:
        return self.dr.pose

    @property
    def bias_radps(self) -> tuple[float, float, float]:
        return self.gyro.bias

    @property
    def last(self) -> SensedState | None:
        """The latest reading."""
        return self._last

    def reset(self, pose: Pose2) -> None:
        """Set the pose (a fix); the bias is kept."""
        self.dr.reset(pose)

    def update(self, sensed: SensedState, *, stopped: bool) -> Pose2:
        """Fold in a reading; ``stopped``: the wheels were commanded to stop since the last."""
        last = self._last
        if last is not None:
            still = (
                stopped
                and sensed.left_ticks == last.left_ticks
                and sensed.right_ticks == last.right_ticks
            )
            self._still_ticks = self._still_ticks + 1 if still else 0
            if self._still_ticks * self.dt_s >= ZUPT_SETTLE_S and all(
                abs(g) < ZUPT_MAX_RATE_RADPS for g in sensed.gyro_radps
            ):
                self.gyro.add(sensed.gyro_radps)
            b = self.gyro.bias
            g = sensed.gyro_radps
            sensed_for_dr = dataclasses.replace(
                sensed, gyro_radps=(g[0] - b[0], g[1] - b[1], g[2] - b[2])
            )
        else:
            sensed_for_dr = sensed
        self.dr.update(sensed_for_dr)
        self._last = sensed
        return self.dr.pose
