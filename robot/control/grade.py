"""Back-blading: drag the bucket's lip backwards over the ground to a grade.

Excavator operators finish a grade by back-dragging: the bucket tipped forward so it holds
nothing, its lip just at the grade, the machine reversing so the lip shaves the high
ground and pushes the spoil ahead of it into the lows, leaving a windrow where the pass
ends. :class:`GradePass` is that pass on a skid-steer: a backwards :class:`~.motions.
Straight` whose guard re-aims the boom every tick, the way machine-control graders hold a
blade to a design: ``aim`` gets the estimated pose and the chassis pitch and answers the
boom and curl that put the lip on the grade there.

The pitch is the accelerometer's at rest when the pass starts (``pitch0_rad``) plus the
gyro's pitch rate integrated over the pass (as :class:`~.dig_cut.DigCut` does): on the
move the accelerometer's tilt shakes by a tenth of a radian, the gyro drifts by well
under a milliradian over a pass. A wheel climbing 3 cm over a 0.6 m wheelbase pitches the
chassis 0.05 rad, which moves a lip a metre ahead by 5 cm: the boom takes it back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..executive.skill import Skill, Step
from ..types import Pose2, SensedState
from .motions import Straight
from .pilot import Pilot

__all__ = ["Aim", "GradePass"]

Aim = Callable[[Pose2, float], "tuple[float, float] | None"]
"""(estimated pose, chassis pitch nose-down in rad) → (boom, curl) in rad, or None to
leave the bucket where it is."""


class GradePass(Skill):
    """Back-drag the bucket ``distance_m`` (> 0) while facing ``yaw_rad``, re-aiming the
    boom and curl every tick with ``aim`` (see the module docstring)."""

    def __init__(
        self,
        pilot: Pilot,
        distance_m: float,
        speed_mps: float,
        yaw_rad: float,
        *,
        boom: str,
        curl: str,
        aim: Aim,
        pitch0_rad: float,
    ) -> None:
        super().__init__(f"grade {distance_m:.2f} m")
        if not distance_m > 0.0:
            raise ValueError(f"a grade pass drags a positive distance, got {distance_m}")
        self.pilot = pilot
        self.boom, self.curl = boom, curl
        self.aim = aim
        self.pitch0_rad = pitch0_rad
        self.pitch_rad = 0.0
        """Pitch change over the pass so far, from the gyro (nose-down positive), rad."""
        self.aimed = 0
        """Ticks on which ``aim`` answered (the lip was held to the grade)."""
        timeout_s = distance_m / speed_mps + 30.0
        self._drag = Straight(
            pilot, -distance_m, speed_mps, yaw_rad, timeout_s=timeout_s, guard=self._guard
        )

    def _guard(self, sensed: SensedState) -> float:
        pilot = self.pilot
        self.pitch_rad += pilot.pitch_step_rad(sensed)
        angles = self.aim(pilot.pose, self.pitch0_rad + self.pitch_rad)
        if angles is not None and all(math.isfinite(a) for a in angles):
            pilot.tools[self.boom], pilot.tools[self.curl] = angles
            self.aimed += 1
        return 0.0

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        return self._drag.tick(sensed, now_s)

    def _on_cancel(self, reason: str) -> str:
        self._drag.cancel(reason)
        return reason
