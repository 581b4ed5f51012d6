"""What the localizer takes and gives: its noise model (:class:`LocalizationParams`), a
landmark sighting (:class:`LandmarkFix`, :func:`shift_fix`) and its slip status
(:class:`SlipStatus`). The filter itself is :mod:`~lunarsite.robot.perception.localization`,
which exports these too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import RoverConfig
from ..constants import LUNAR_GRAVITY_MPS2
from ..types import Pose2, wrap_angle

__all__ = [
    "TURN_SLIDE_FLAT_RAD",
    "LandmarkFix",
    "LocalizationParams",
    "SlipStatus",
    "shift_fix",
]

TURN_SLIDE_FLAT_RAD = 0.025
"""Tilt up to which a turn in place slides as on flat ground (``turn_slide_frac``), rad."""


@dataclass(frozen=True, slots=True)
class LandmarkFix:
    """A surveyed point seen from the rover.

    ``offset_xy_m`` is where the point lies from the chassis centre in the rover's level
    frame (x along the heading, y to its left, both horizontal), in m; ``covariance_m2``
    its 2×2 covariance. ``landmark_xy_m`` is the point's surveyed site position.
    """

    landmark_xy_m: tuple[float, float]
    offset_xy_m: tuple[float, float]
    covariance_m2: tuple[tuple[float, float], tuple[float, float]]
    stamp_s: float = math.nan
    label: str = ""


def shift_fix(fix: LandmarkFix, then: Pose2, now: Pose2) -> LandmarkFix:
    """A sighting taken at pose ``then`` re-expressed from pose ``now`` (both estimates).

    A camera frame is older than the cycle that reads it (5 Hz rendering: up to 0.2 s, or
    6 cm at 0.3 m/s); the motion since, by the filter's own short-term estimate, is taken
    out so the fix does not pull the rover back to where it was.
    """
    ct, st = math.cos(then.yaw_rad), math.sin(then.yaw_rad)
    ox, oy = fix.offset_xy_m
    sx = then.x_m + ct * ox - st * oy - now.x_m
    sy = then.y_m + st * ox + ct * oy - now.y_m
    cn, sn = math.cos(now.yaw_rad), math.sin(now.yaw_rad)
    d = wrap_angle(then.yaw_rad - now.yaw_rad)
    rot = np.array([[math.cos(d), -math.sin(d)], [math.sin(d), math.cos(d)]])
    cov = rot @ np.asarray(fix.covariance_m2, dtype=np.float64) @ rot.T
    return LandmarkFix(
        fix.landmark_xy_m,
        (cn * sx + sn * sy, -sn * sx + cn * sy),
        ((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        fix.stamp_s,
        fix.label,
    )


@dataclass(frozen=True, slots=True)
class SlipStatus:
    """What the slip detector sees now."""

    yaw_rate_residual_radps: float
    """Encoder yaw rate minus gyro yaw rate, low-passed, in rad/s."""
    turning_slip: bool
    """The residual exceeds its threshold: the wheels slide in the turn."""
    odometry_scale: float
    """Estimated ground distance per encoder distance (1: no slip)."""
    scale_slip: bool
    """The scale is below ``1 - slip_scale_threshold``: the fixes say the wheels spin."""

    @property
    def slipping(self) -> bool:
        return self.turning_slip or self.scale_slip


@dataclass(frozen=True, slots=True)
class LocalizationParams:
    """Noise model and thresholds; :meth:`for_rover` fills them from a rover file."""

    distance_noise_frac: float = 0.08
    """Std of distance error per sqrt(m) driven (encoders, uneven ground), in sqrt(m)."""
    lateral_noise_frac: float = 0.06
    """Std of sideways slip per sqrt(m) driven, in sqrt(m)."""
    gyro_noise_radps: float = 0.002
    """Std of one gyro reading, in rad/s."""
    gyro_bias_std_radps: float = 0.001
    """Prior std of the gyro bias, in rad/s."""
    gyro_bias_walk_radps_per_sqrt_s: float = 1e-5
    scale_std: float = 0.05
    """Prior std of the odometry scale (dimensionless)."""
    scale_walk_per_sqrt_m: float = 0.01
    slip_yaw_threshold_radps: float = 0.15
    slip_yaw_fraction: float = 0.5
    """Turning slip when |residual| > threshold + fraction · |gyro rate|."""
    slip_scale_threshold: float = 0.15
    slip_noise_factor: float = 5.0
    slip_filter_time_s: float = 0.5
    accel_time_constant_s: float = 10.0
    """Time constant of the accelerometer's pull on the gyro-carried tilt, in s."""
    accel_gate_fraction: float = 0.05
    """The accelerometer corrects tilt only while its reading (less the body's motion)
    is within this fraction of g ..."""
    accel_tilt_gate_rad: float = 0.05
    """... and only while the tilt it implies is within this of the estimate (the gyro
    carries real tilt changes; the accelerometer only trims slow drift)."""
    gravity_mps2: float = LUNAR_GRAVITY_MPS2
    steady_yaw_rate_radps: float = 0.15
    tilt_settle_s: float = 0.5
    max_rejections: int = 5
    lost_position_var_m2: float = 0.25
    """Position variance added when a run of rejected fixes is finally accepted, in m²."""
    lost_yaw_var_rad2: float = 0.0025
    """Heading variance added when a run of rejected heading fixes is finally accepted,
    in rad²: a heading sure of itself to a few mrad and off by a few centirad (gyro bias,
    tilt on rough ground) would otherwise turn every bearing into a position error."""
    height_walk_m_per_sqrt_m: float = 0.03
    """Growth of the height channel's std with distance driven, m per √m: the chassis
    height is carried along the pitch, and an accelerometer bias of a few mg tilts the
    pitch by ~0.01–0.02 rad at lunar g (a 0.023 m/s² bias is 0.014 rad), which climbs
    or sinks 1–2 cm per m driven. Marker heights (:meth:`Localizer.update_height`) pin
    it down."""
    height_gate_sigmas: float = 4.0
    gyro_scale_std: float = 0.005
    """Std of the heading error per rad turned (gyro scale factor; the world yaw rate
    from a tilt estimate shaken by a turn), dimensionless."""
    turn_slide_frac: float = 0.15
    """Std of the body's unseen shift per m of wheel scrub over one turn in place
    (dimensionless). The shift builds up one way through a turn (the body pivots about a
    point off its centre), so its std grows with the turn's whole scrub, not with the
    square root of it: with the sprung excavator, pivot turns drift a median 0.13 m for
    ~1 m of scrub (a quarter turn), p90 about twice that."""
    turn_slide_per_rad_tilt: float = 14.0
    """Growth of ``turn_slide_frac`` with the tilt beyond ``TURN_SLIDE_FLAT_RAD``: the
    std is multiplied by ``1 + this × (tilt − flat)``. Fitted to the excavator's turns in
    place on traverse (1,668 turns, D435 runs): the chassis moved a median 8.0, 12.4,
    18.7 and 25.7 cm per rad turned on ground of 0–3°, 3–6°, 6–9° and 9–12°."""
    track_m: float = 0.0
    """Effective track (geometric track × effective_track_factor), in m; 0 disables the
    encoder-versus-gyro slip check."""
    m_per_tick: float = 0.0
    zero_rate_settle_s: float = 0.5
    """Standing still (no encoder tick on either side) this long, the gyro's yaw rate is
    its bias: each further reading updates the bias estimate (a zero-rate update), in s;
    0 turns this off. Heading drift from an unestimated bias is what turns a marker's
    bearing, good to a few mm per metre, into a position error of decimetres."""
    zero_rate_max_radps: float = 0.02
    """A still rover reading more than this yaw rate is not trusted to be still, rad/s."""

    @classmethod
    def for_rover(cls, config: RoverConfig, **overrides: float) -> LocalizationParams:
        imu = config.imu
        base = cls(
            gyro_noise_radps=max(imu.gyro_noise_std_radps, 1e-4),
            gyro_bias_std_radps=max(imu.gyro_bias_std_radps, 1e-4),
            track_m=config.wheels.track_m * config.drive.effective_track_factor,
            m_per_tick=2.0 * math.pi * config.wheels.radius_m / config.encoders.ticks_per_rev,
        )
        values = {name: getattr(base, name) for name in cls.__dataclass_fields__}
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"LocalizationParams has no field(s) {sorted(unknown)}")
        values.update(overrides)
        return cls(**values)
