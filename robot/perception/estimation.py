"""Pose estimation from what the rover senses: wheel odometry and the IMU.

:class:`DeadReckoning` turns a sequence of :class:`~lunarsite.robot.types.SensedState`
readings into a planar pose in the site frame. Distance comes from the encoders, heading
from the gyro (mapped to a world yaw rate with the tilt seen in a low-passed gravity
vector) or, on a rover without a gyro, from the encoder difference. It drifts without
bound; a localisation filter corrects it with absolute fixes.
"""

from __future__ import annotations

import logging
import math
from typing import Literal, get_args

from ..config import RoverConfig
from ..types import Pose2, SensedState, wrap_angle

__all__ = [
    "DeadReckoning",
    "EstimationError",
    "HeadingSource",
    "arc_step",
    "tilt_from_gravity",
    "world_yaw_rate",
]

log = logging.getLogger(__name__)

HeadingSource = Literal["gyro", "encoders"]

_MIN_COS_PITCH = 1e-3
"""Below this |cos(pitch)| the yaw-rate mapping is singular (the rover is on its nose)."""


class EstimationError(ValueError):
    """A reading the estimator cannot use (time going backwards, non-finite values)."""


def _sinc(h: float) -> float:
    """sin(h)/h, accurate near 0."""
    return 1.0 - h * h / 6.0 if abs(h) < 1e-4 else math.sin(h) / h


def arc_step(pose: Pose2, distance_m: float, dyaw_rad: float) -> Pose2:
    """The pose after moving ``distance_m`` along a circular arc turning by ``dyaw_rad``.

    Midpoint heading with the chord length ``distance · sinc(dyaw/2)``: exact for a
    constant-curvature step (a straight line when ``dyaw_rad`` is 0), in m and rad.
    """
    half = 0.5 * dyaw_rad
    chord_m = distance_m * _sinc(half)
    heading = pose.yaw_rad + half
    return Pose2(
        pose.x_m + chord_m * math.cos(heading),
        pose.y_m + chord_m * math.sin(heading),
        pose.yaw_rad + dyaw_rad,
    )


def tilt_from_gravity(accel_mps2: tuple[float, float, float]) -> tuple[float, float]:
    """Roll and pitch (ZYX Euler, rad) of a body at rest from its specific force.

    On level ground the accelerometer reads (0, 0, +g); nose down is positive pitch.
    """
    ax, ay, az = accel_mps2
    return (math.atan2(ay, az), math.atan2(-ax, math.hypot(ay, az)))


def world_yaw_rate(
    gyro_radps: tuple[float, float, float], roll_rad: float, pitch_rad: float
) -> float:
    """ZYX yaw rate from body rates: ``(q·sinφ + r·cosφ) / cosθ``, in rad/s."""
    _, q, r = gyro_radps
    cos_pitch = math.cos(pitch_rad)
    if abs(cos_pitch) < _MIN_COS_PITCH:
        cos_pitch = math.copysign(_MIN_COS_PITCH, cos_pitch)
    return (q * math.sin(roll_rad) + r * math.cos(roll_rad)) / cos_pitch


class DeadReckoning:
    """Planar dead reckoning from encoder counts and the IMU.

    Each step between two readings is integrated as a constant-curvature arc (heading at
    the middle of the step, chord length corrected): the distance is the mean of the
    left and right tick deltas (ticks → m via ``2π·radius_m / ticks_per_rev``; negative
    when reversing), projected to the plane with the estimated pitch; the heading change
    is the world yaw rate from the gyro reading at the end of the step times the step
    length, or ``(Δright − Δleft) / (track · effective_track_factor)`` with
    ``heading_source="encoders"`` (which ignores tilt). Roll and pitch come from the
    accelerometer through a first-order low-pass of ``accel_time_constant_s`` (0: none).

    The first reading only initialises. Stamps must increase; a repeated reading (same
    stamp and counts) is ignored. With ``heading_source="encoders"`` the IMU may be
    absent: non-finite gyro and accelerometer values are then ignored (tilt stays as
    last seen, level at first).
    """

    def __init__(
        self,
        config: RoverConfig,
        start: Pose2,
        heading_source: HeadingSource = "gyro",
        *,
        accel_time_constant_s: float = 1.0,
    ) -> None:
        if heading_source not in get_args(HeadingSource):
            raise ValueError(f"heading_source must be 'gyro' or 'encoders', got {heading_source!r}")
        if not (math.isfinite(accel_time_constant_s) and accel_time_constant_s >= 0.0):
            raise ValueError(
                f"accel_time_constant_s must be finite and >= 0, got {accel_time_constant_s}"
            )
        self.heading_source: HeadingSource = heading_source
        self.accel_time_constant_s = accel_time_constant_s
        self._m_per_tick = 2.0 * math.pi * config.wheels.radius_m / config.encoders.ticks_per_rev
        self._track_m = config.wheels.track_m * config.drive.effective_track_factor
        self._pose = start
        self._distance_m = 0.0
        self._last: SensedState | None = None
        self._gravity = (0.0, 0.0, 1.0)

    @property
    def pose(self) -> Pose2:
        """The current estimate, yaw wrapped to [-π, π)."""
        return Pose2(self._pose.x_m, self._pose.y_m, wrap_angle(self._pose.yaw_rad))

    @property
    def distance_m(self) -> float:
        """Path length driven along the ground since the first reading, in m (always >= 0)."""
        return self._distance_m

    @property
    def tilt_rad(self) -> tuple[float, float]:
        """Estimated (roll, pitch) from the low-passed gravity vector, in rad."""
        return tilt_from_gravity(self._gravity)

    @property
    def initialised(self) -> bool:
        """Whether a first reading has been taken."""
        return self._last is not None

    def reset(self, pose: Pose2) -> None:
        """Replace the estimate (for example after an absolute fix); counters carry on."""
        self._pose = pose

    def update(self, state: SensedState) -> Pose2:
        """Fold in one reading and return the new estimate."""
        self._check_finite(state)
        last = self._last
        if last is None:
            self._last = state
            if _finite(state.accel_mps2):
                self._gravity = state.accel_mps2
            return self.pose
        dt_s = state.stamp_s - last.stamp_s
        ticks = (state.left_ticks - last.left_ticks, state.right_ticks - last.right_ticks)
        if dt_s <= 0.0:
            if dt_s == 0.0 and ticks == (0, 0):
                return self.pose
            raise EstimationError(
                f"reading stamp {state.stamp_s!r} s does not follow the previous one "
                f"({last.stamp_s!r} s): stamps must increase"
            )
        if _finite(state.accel_mps2):
            self._filter_gravity(state.accel_mps2, dt_s)
        roll_rad, pitch_rad = self.tilt_rad
        d_left_m = ticks[0] * self._m_per_tick
        d_right_m = ticks[1] * self._m_per_tick
        ground_m = 0.5 * (d_left_m + d_right_m)
        if self.heading_source == "gyro":
            dyaw_rad = world_yaw_rate(state.gyro_radps, roll_rad, pitch_rad) * dt_s
        else:
            dyaw_rad = (d_right_m - d_left_m) / self._track_m
        self._pose = arc_step(self._pose, ground_m * math.cos(pitch_rad), dyaw_rad)
        self._distance_m += abs(ground_m)
        self._last = state
        return self.pose

    def _filter_gravity(self, accel_mps2: tuple[float, float, float], dt_s: float) -> None:
        alpha = dt_s / (self.accel_time_constant_s + dt_s)
        gx, gy, gz = self._gravity
        ax, ay, az = accel_mps2
        self._gravity = (gx + alpha * (ax - gx), gy + alpha * (ay - gy), gz + alpha * (az - gz))

    def _check_finite(self, state: SensedState) -> None:
        """Stamp always; gyro and accelerometer only where the heading depends on them."""
        fields: dict[str, tuple[float, ...]] = {"stamp_s": (state.stamp_s,)}
        if self.heading_source == "gyro":
            fields["gyro_radps"] = state.gyro_radps
            fields["accel_mps2"] = state.accel_mps2
        for name, values in fields.items():
            if not _finite(values):
                raise EstimationError(f"reading has a non-finite {name}: {values}")


def _finite(values: tuple[float, ...]) -> bool:
    return all(math.isfinite(v) for v in values)
