"""Weighing the bucket by its boom's effort: how much soil a dig took.

An earthmover's payload scale weighs the bucket from the boom's holding effort at a known
pose (on a hydraulic excavator, the boom cylinder's pressure): standing still, the boom
actuator's torque balances the weight of everything it carries, τ = g · Σ mᵢ · xᵢ, with
xᵢ each mass's horizontal distance ahead of the boom pivot. Soil added to the bucket adds
g · m · x_b, with x_b where the soil sits. Tared with the bucket empty at the same pose,

    m = τ / (g · x_b(θ)) − τ₀ / (g · x_b(θ₀)),

with θ the chassis' pitch (the lever shortens or lengthens as the rover tilts; the arm's
own moment scales with the pitch almost as the bucket's does, so one lever serves both).
Gravity and pitch come from the accelerometer averaged over the same still window (its
calibrated bias taken off), the torque from :attr:`SensedState.tool_efforts_nm`. A rover
whose boom does not sense its effort cannot weigh: :class:`Weigh` then reads nothing.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from ..config import RoverConfig, ToolConfig
from ..executive.skill import ActionResult, ActionStatus, Skill, Step
from ..perception.estimation import tilt_from_gravity
from ..types import STOP, SensedState
from .pilot import Pilot

__all__ = [
    "MAX_SETTLE_S",
    "SETTLE_S",
    "WINDOW_S",
    "BucketScale",
    "TaredScale",
    "Weigh",
    "Weighing",
    "soil_lever_m",
]

_OK = ActionResult(ActionStatus.SUCCEEDED)


@dataclass(frozen=True, slots=True)
class Weighing:
    """One still reading of the boom: mean torque, gravity, pitch and the joint angles."""

    torque_nm: float
    gravity_mps2: float
    pitch_rad: float
    """Chassis pitch, nose down positive (as :func:`tilt_from_gravity`), in rad."""
    boom_rad: float
    curl_rad: float


def soil_lever_m(tool: ToolConfig, boom_rad: float, curl_rad: float, pitch_rad: float) -> float:
    """Horizontal distance of the soil in a bucket ahead of the boom pivot, in m.

    The soil's centre is taken halfway into the bucket and a quarter of its height below
    the bucket's pivot (the lower half of the open box, where a load settles), in the
    geometry :class:`lunarsite.sim.rover.SimRover` builds: the arm pitches up by
    ``boom_rad``, the bucket by ``boom + curl``; a nose-down chassis pitch lowers both.
    """
    arm = boom_rad - pitch_rad
    bucket = boom_rad + curl_rad - pitch_rad
    return (
        tool.arm_length_m * math.cos(arm)
        + 0.5 * tool.depth_m * math.cos(bucket)
        + 0.25 * tool.height_m * math.sin(bucket)
    )


SETTLE_S = 1.0
"""Least standing time before a weighing's window opens, in s: swung up, the bucket's
deceleration first reads low (excavator_66kg: the first second's torque averaged ~40%
under the settled value)."""
MAX_SETTLE_S = 5.0
"""Most standing time before the window opens, calm or not, in s."""
CALM_PITCH_RATE_RADPS = 0.03
"""The window opens once the chassis' pitch rate (gyro y, RMS over the last
:data:`CALM_WINDOW_S`) is below this, in rad/s. A full bucket swung up sets the chassis
rocking on its springs for seconds (excavator_66kg, 21 kg: the boom torque swung between
−9 and +30 N·m, the pitch rate's RMS fell below 0.03 rad/s after ~6 s), and a window over
part of a rock reads up to 1.6 kg off."""
CALM_WINDOW_S = 0.5
"""Span over which the pitch rate is judged calm, in s."""
WINDOW_S = 3.0
"""Length of a weighing's averaging window, in s: a few periods of the chassis' rocking
on its springs (~1.3 s with a load in the bucket), so the oscillation averages out;
after a 1 s settle a 2.5–4 s window read within 0.25 kg of the true load (four digs of
2.6–18 kg, excavator_66kg on flat BP-1)."""


class Weigh(Skill):
    """Stand still at least ``settle_s`` and until the chassis has stopped rocking (at most
    ``max_settle_s``), then ``seconds`` more averaging the boom's sensed torque and the
    accelerometer (``accel_bias_mps2`` taken off); :attr:`reading` is the result, None when
    the rover does not sense the boom's effort."""

    def __init__(
        self,
        pilot: Pilot,
        boom: str,
        curl: str,
        seconds: float = WINDOW_S,
        accel_bias_mps2: tuple[float, float, float] = (0.0, 0.0, 0.0),
        *,
        settle_s: float = SETTLE_S,
        max_settle_s: float = MAX_SETTLE_S,
    ) -> None:
        super().__init__(f"weigh {seconds:g} s")
        self.pilot = pilot
        self.boom, self.curl = boom, curl
        self.settle_ticks = max(0, round(settle_s / pilot.dt_s))
        self.max_settle_ticks = max(self.settle_ticks, round(max_settle_s / pilot.dt_s))
        self._rates: deque[float] = deque(maxlen=max(1, round(CALM_WINDOW_S / pilot.dt_s)))
        self._settled: int | None = 0
        self.settle_s = 0.0
        """How long it stood before its window opened, in s."""
        self.ticks = max(1, round(seconds / pilot.dt_s))
        self.bias = accel_bias_mps2
        self.reading: Weighing | None = None
        self._torque: list[float] = []
        self._accel = [0.0, 0.0, 0.0]
        self._joints = [0.0, 0.0]
        self._n = 0

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if self._settled is not None:
            self._rates.append(sensed.gyro_radps[1])
            calm = len(self._rates) == self._rates.maxlen and (
                math.sqrt(sum(r * r for r in self._rates) / len(self._rates))
                < CALM_PITCH_RATE_RADPS
            )
            if self._settled < self.max_settle_ticks and (
                self._settled < self.settle_ticks or not calm
            ):
                self._settled += 1
                return self.pilot.command(STOP)
            self.settle_s = self._settled * self.pilot.dt_s
            self._settled = None
        if self._n >= self.ticks:
            self._conclude()
            return _OK
        self._n += 1
        effort = sensed.tool_efforts_nm.get(self.boom)
        if effort is not None and math.isfinite(effort):
            self._torque.append(effort)
        for k in range(3):
            self._accel[k] += sensed.accel_mps2[k] - self.bias[k]
        self._joints[0] += sensed.tool_positions_rad.get(self.boom, math.nan)
        self._joints[1] += sensed.tool_positions_rad.get(self.curl, math.nan)
        return self.pilot.command(STOP)

    def _conclude(self) -> None:
        if not self._torque:
            return
        a = (self._accel[0] / self._n, self._accel[1] / self._n, self._accel[2] / self._n)
        _, pitch = tilt_from_gravity(a)
        self.reading = Weighing(
            torque_nm=sum(self._torque) / len(self._torque),
            gravity_mps2=math.sqrt(a[0] ** 2 + a[1] ** 2 + a[2] ** 2),
            pitch_rad=pitch,
            boom_rad=self._joints[0] / self._n,
            curl_rad=self._joints[1] / self._n,
        )


class TaredScale(ABC):
    """A scale on a joint's sensed torque: tare it empty, then weigh what it carries.
    Subclasses turn a reading into the equivalent mass at their lever."""

    tare_kg: float | None
    """The empty tool's reading as an equivalent mass, in kg (None until tared)."""

    @abstractmethod
    def equivalent_kg(self, w: Weighing) -> float:
        """The reading as the payload mass that alone would make its torque, in kg."""

    def tare(self, w: Weighing | None) -> None:
        """Take an empty reading as zero (a None reading leaves the scale as it was)."""
        if w is not None:
            self.tare_kg = self.equivalent_kg(w)

    def payload_kg(self, w: Weighing | None) -> float | None:
        """What the tool carries, in kg; None before a tare or without a reading."""
        if w is None or self.tare_kg is None:
            return None
        kg = self.equivalent_kg(w) - self.tare_kg
        return kg if math.isfinite(kg) else None


@dataclass
class BucketScale(TaredScale):
    """A bucket's payload scale: tare it empty, then weigh loads (see the module text)."""

    config: RoverConfig
    tool: ToolConfig
    tare_kg: float | None = None
    """The empty bucket's weighing expressed as soil-equivalent mass, in kg (None until
    tared)."""

    def equivalent_kg(self, w: Weighing) -> float:
        """The reading as the soil mass that alone would make its torque, in kg."""
        lever = soil_lever_m(self.tool, w.boom_rad, w.curl_rad, w.pitch_rad)
        if w.gravity_mps2 <= 0.0 or lever <= 1e-3:
            return math.nan
        return w.torque_nm / (w.gravity_mps2 * lever)
