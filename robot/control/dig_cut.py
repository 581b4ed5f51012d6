"""A dig pass: a straight run with the bucket down, guarded by the chassis' pitch.

:class:`DigCut` drives a :class:`~.motions.Straight` while it integrates the gyro's pitch
rate: the boom follows the pitch to hold the edge's height (``hold_gain``), rises when the
chassis noses down past a margin (the cut shallows before it can tip a light rover over
its front axle), and with ``max_reliefs`` the pass ends where the guard trips again.
"""

from __future__ import annotations

import logging

from ..executive.compose import Sequence
from ..executive.skill import Skill, Step
from ..types import SensedState
from .motions import Hold, Straight
from .pilot import Pilot

__all__ = [
    "DIG_BOOM_RELIEF_RAD",
    "DIG_HOLD_MAX_RAD",
    "DIG_PITCH_MARGIN_RAD",
    "DIG_RELIEF_INTERVAL_S",
    "DIG_SETTLE_S",
    "DigCut",
]

log = logging.getLogger(__name__)

DIG_PITCH_MARGIN_RAD = 0.08
"""Nose-down pitch, beyond the chassis' pitch when the cut began, at which a dig pass
raises its boom (rad, ~3°). The FEE pulls a bucket edge down as well as back: on a light
rover a cut that bites too deep lifts the rear wheels and can tip the rover over its
front axle. Operators and auto-dig controllers shallow the cut on pitch or load."""
DIG_BOOM_RELIEF_RAD = 0.15
"""How far the boom is raised each time the pitch guard trips, in rad."""
DIG_RELIEF_INTERVAL_S = 0.5
"""How long a dig pass stands still after each boom raise of the pitch guard, in s (the
chassis settles back once the edge stops cutting)."""
DIG_HOLD_MAX_RAD = 0.1
"""Most chassis pitch (either way) a dig pass's edge-height hold answers, in rad; beyond
it the pitch guard's reliefs act."""
DIG_SETTLE_S = 1.5
"""Standing time after a dig pass that ended pitched nose-down, before the boom lifts, s."""


class DigCut(Skill):
    """A dig pass: a :class:`Straight` with a pitch guard that raises ``boom`` (towards
    ``carry_rad``) when the chassis noses down by :data:`DIG_PITCH_MARGIN_RAD`, and again
    for every further half margin: the cut shallows before it can tip the rover. Each
    relief stands still a moment; a pass that ended pitched waits for the chassis to
    settle. With a ``hold_gain`` (rad of boom per rad of pitch,
    :func:`~.bucket.edge_hold_gain`) the boom also follows the pitch all along the pass,
    so the edge keeps its height while the filling bucket pulls the nose down (as
    machine control holds a blade's cut against the machine's tilt). With
    ``max_reliefs`` the pass ends where the guard would trip once more: a bucket that
    keeps pitching the chassis after that many raises is full and plowing, or the cut is
    more than the rover can pull.

    The pitch is the gyro's pitch rate (body y: positive noses down) integrated over the
    pass, less the bias estimated at rest; over a pass of seconds that drifts by well
    under a milliradian, where the accelerometer's tilt shakes by a tenth of a radian on a
    chassis that is digging.
    """

    def __init__(
        self,
        pilot: Pilot,
        distance_m: float,
        speed_mps: float,
        yaw_rad: float,
        *,
        boom: str,
        carry_rad: float,
        hold_gain: float = 0.0,
        max_reliefs: int | None = None,
    ) -> None:
        super().__init__(f"dig {distance_m:.2f} m")
        self.pilot = pilot
        self.boom = boom
        self.carry_rad = carry_rad
        self.hold_gain = hold_gain
        self.max_reliefs = max_reliefs
        self.reliefs = 0
        self.ended_early = False
        self.pitch_rad = 0.0
        self._boom0: float | None = None
        self._relief_rad = 0.0
        self._trip_rad = DIG_PITCH_MARGIN_RAD
        self._seq = Sequence(
            [
                Straight(pilot, distance_m, speed_mps, yaw_rad, guard=self._guard),
                lambda: Hold(pilot, DIG_SETTLE_S if self.pitch_rad > DIG_PITCH_MARGIN_RAD else 0),
            ],
            self.name,
            stop_on_failure=False,
        )

    def _guard(self, sensed: SensedState) -> float | None:
        pilot = self.pilot
        self.pitch_rad += pilot.pitch_step_rad(sensed)
        if self._boom0 is None:
            self._boom0 = pilot.tools[self.boom]
        up_sign = 1.0 if self.carry_rad >= self._boom0 else -1.0
        if self.hold_gain > 0.0:
            # Hold the edge's height: as a loaded bucket pulls the nose down, the boom
            # rises by the pitch times the gain (and drops back as the chassis levels).
            hold = self.hold_gain * max(-DIG_HOLD_MAX_RAD, min(DIG_HOLD_MAX_RAD, self.pitch_rad))
            self._set_boom(self._boom0 + up_sign * (hold + self._relief_rad))
        if self.pitch_rad <= self._trip_rad:
            return 0.0
        # The next relief needs half a margin more: a chassis that settles pitched (its
        # front wheels in a dug lane) is not shallowed twice for the same pitch.
        self._trip_rad = self.pitch_rad + 0.5 * DIG_PITCH_MARGIN_RAD
        if self.max_reliefs is not None and self.reliefs >= self.max_reliefs:
            self.ended_early = True
            log.info(
                "dig pitched %.3f rad nose-down after %d reliefs: pass ended",
                self.pitch_rad,
                self.reliefs,
            )
            return None
        self.reliefs += 1
        now = pilot.tools[self.boom]
        raised = self._set_boom(now + up_sign * DIG_BOOM_RELIEF_RAD)
        if raised == now:
            return 0.0  # the boom is up already: nothing more to shallow
        self._relief_rad += abs(raised - now)
        pilot.pitch_reliefs += 1
        log.info("dig pitched %.3f rad nose-down: boom up to %.2f rad", self.pitch_rad, raised)
        return DIG_RELIEF_INTERVAL_S

    def _set_boom(self, target_rad: float) -> float:
        """Command the boom to ``target_rad``, never past the carry pose nor below where
        the pass began; returns what was commanded."""
        assert self._boom0 is not None
        lo, hi = sorted((self._boom0, self.carry_rad))
        out = max(lo, min(hi, target_rad))
        self.pilot.tools[self.boom] = out
        return out

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        return self._seq.tick(sensed, now_s)

    def _on_cancel(self, reason: str) -> str:
        self._seq.cancel(reason)
        return reason
