"""The accelerometer's bias, found the way a surveyor levels an instrument: read the
tilt, turn half a revolution on the spot, read again.

Standing on a slope, an accelerometer's x and y read gravity along the slope plus their
bias. Turned by 180°, the slope's part changes sign and the bias does not, so the mean
of the two readings is the bias (two-position "indexing" calibration). At lunar gravity a
0.01 m/s² bias tilts every tilt-at-rest by 6 mrad, which a survey taken with it turns
into 2 cm of error 3 m away.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, ActionStatus, Skill, Step
from ..types import STOP, SensedState, wrap_angle
from .motions import TurnTo
from .pilot import Pilot

__all__ = ["MeanAccel", "calibrate_accel_bias", "level_pilot"]

log = logging.getLogger(__name__)

_OK = ActionResult(ActionStatus.SUCCEEDED)


class MeanAccel(Skill):
    """Stand still for ``seconds`` after ``settle_s`` and average the accelerometer."""

    def __init__(self, pilot: Pilot, seconds: float, settle_s: float = 1.0) -> None:
        super().__init__(f"mean accel {seconds:g} s")
        self.pilot = pilot
        self.settle_ticks = round(settle_s / pilot.dt_s)
        self.ticks = max(1, round(seconds / pilot.dt_s))
        self._seen: list[tuple[float, float, float]] = []
        self._waited = 0
        self.mean_mps2: tuple[float, float, float] | None = None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if self._waited < self.settle_ticks:
            self._waited += 1
            return self.pilot.command(STOP)
        self._seen.append(sensed.accel_mps2)
        if len(self._seen) >= self.ticks:
            m = np.mean(np.asarray(self._seen), axis=0)
            self.mean_mps2 = (float(m[0]), float(m[1]), float(m[2]))
            return _OK
        return self.pilot.command(STOP)


def calibrate_accel_bias(pilot: Pilot, out: list[tuple[float, float, float]]) -> ScriptBody:
    """Read, turn 180°, read, turn back: appends the (x, y, 0) bias, m/s², to ``out``.

    Nothing is appended when a turn fails (the slope's part would not cancel)."""
    start = pilot.pose.yaw_rad
    first = MeanAccel(pilot, 2.0)
    yield first
    turned = yield TurnTo(pilot, wrap_angle(start + math.pi))
    second = MeanAccel(pilot, 2.0)
    yield second
    back = yield TurnTo(pilot, start)
    a, b = first.mean_mps2, second.mean_mps2
    if a is None or b is None or not (turned.succeeded and back.succeeded):
        return None
    out.append((0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1]), 0.0))
    return None


def level_pilot(pilot: Pilot) -> ScriptBody:
    """:func:`calibrate_accel_bias`, the bias kept where every skill reads it
    (:attr:`Pilot.accel_bias_mps2`); left unknown when a turn fails."""
    out: list[tuple[float, float, float]] = []
    yield from calibrate_accel_bias(pilot, out)
    if out:
        pilot.accel_bias_mps2 = out[0]
        log.info("accelerometer bias %.4f, %.4f m/s²", out[0][0], out[0][1])
    return None
