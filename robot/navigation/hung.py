"""A rover hung on something under it: its wheels turn, its body does not.

A skid-steer whose belly rests on a rock (high-centred) or whose frame is wedged spins
or stalls its wheels while the body stays put; every recovery the navigator knows (turn
to face a marker, back off, replan) then turns the wheels again and nothing happens, goal
after goal, until the run's time is gone (traverse seed 31 with the datasheet sensors:
eleven goals of 150 s each at one spot, the encoders counting turns in place, the gyro
reading nothing).

What the rover senses tells it: over a window of its own readings, the encoders' two
sides say how far the wheels have turned the body (the turn (dR − dL) / B on the
effective track B, chosen so that the two agree in a turn in place), the gyro how far
the body really turned. A skid-steer slips in a turn, and a stalled turn (one side
gripping) turns the body by less than its wheels ask, but by a share, not by nothing; a
body that turned by less than ``max_body_share`` of ``min_wheel_turn_rad`` or more of
wheel turning is hung.
Straight driving is not judged: the gyro cannot see a body that fails to move along.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ..types import SensedState

__all__ = ["HungParams", "HungWatch"]


@dataclass(frozen=True, slots=True)
class HungParams:
    """When wheels turning and a still body mean hung (module docstring; SI units)."""

    window_s: float = 20.0
    """The span of readings judged, in s."""
    min_wheel_turn_rad: float = 3.0
    """Least turn the wheels must have asked for in the window (the sum of its size
    each reading), in rad: six seconds of turning in place at 0.5 rad/s."""
    max_body_share: float = 0.1
    """The body turned by at most this share of it: hung."""


class HungWatch:
    """Watches one rover's readings for a hung body (module docstring).

    Args:
        track_m: the effective track of the skid-steer (its turning lever), in m.
        m_per_tick: wheel travel per encoder tick, in m.
    """

    def __init__(self, track_m: float, m_per_tick: float, params: HungParams | None = None) -> None:
        if not (track_m > 0.0 and m_per_tick > 0.0):
            raise ValueError(
                f"track_m and m_per_tick must be positive, got {track_m} and {m_per_tick}"
            )
        self.track_m = track_m
        self.m_per_tick = m_per_tick
        self.params = params or HungParams()
        self._last: SensedState | None = None
        self._steps: deque[tuple[float, float, float]] = deque()
        """(stamp, |wheel turn|, |body turn|) per reading, in s and rad."""
        self._wheel_rad = 0.0
        self._body_rad = 0.0

    def reading(self, sensed: SensedState) -> str | None:
        """Take a reading; returns why the rover is hung, or None."""
        last, self._last = self._last, sensed
        if last is None or sensed.stamp_s <= last.stamp_s:
            return None
        dt = sensed.stamp_s - last.stamp_s
        d_left = (sensed.left_ticks - last.left_ticks) * self.m_per_tick
        d_right = (sensed.right_ticks - last.right_ticks) * self.m_per_tick
        wheel = abs(d_right - d_left) / self.track_m
        body = abs(sensed.gyro_radps[2]) * dt
        self._steps.append((sensed.stamp_s, wheel, body))
        self._wheel_rad += wheel
        self._body_rad += body
        p = self.params
        while self._steps and self._steps[0][0] <= sensed.stamp_s - p.window_s:
            _, w, b = self._steps.popleft()
            self._wheel_rad -= w
            self._body_rad -= b
        span = sensed.stamp_s - self._steps[0][0]  # this reading is in it: never empty
        if span < 0.9 * p.window_s or self._wheel_rad < p.min_wheel_turn_rad:
            return None
        if self._body_rad > p.max_body_share * self._wheel_rad:
            return None
        return (
            f"hung: in the last {p.window_s:g} s the wheels turned as for "
            f"{self._wheel_rad:.1f} rad of turning and the body turned "
            f"{math.degrees(self._body_rad):.1f}° (gyro): something holds it under the belly "
            "or the frame"
        )
