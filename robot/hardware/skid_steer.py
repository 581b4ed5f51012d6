"""The skid-steer mixer: a body velocity command into left and right wheel speeds.

One rule for every plant: the simulated rover (``lunarsite.sim.rover``), the mock rover
(:mod:`.mock`) and the reference firmware (``ls_mix_skid_steer`` in
``firmware_bridge/firmware/ls_firmware.c``, checked against this function by a test)
all mix this way, so a controller tested on one meets the same plant on the others.

Ground speeds are ``v ∓ ω·B/2`` with B the effective track: the geometric track times the
skid-steer slip factor (``drive.effective_track_factor``; the yaw rate of a skid-steer
is (v_r − v_l) / B). When a side would exceed the motors' top speed, both sides are
scaled down together: the rover keeps the commanded curvature (the path) and slows
down, rather than clipping one side, which would bend the path.
"""

from __future__ import annotations

from ..config import RoverConfig
from ..types import DriveCommand

__all__ = ["body_twist", "mix_skid_steer"]


def mix_skid_steer(command: DriveCommand, config: RoverConfig) -> tuple[float, float]:
    """Left and right wheel speeds for ``command``, in rad/s (see the module docstring)."""
    track_m = config.wheels.track_m * config.drive.effective_track_factor
    radius_m = config.wheels.radius_m
    left = (command.linear_mps - 0.5 * command.angular_radps * track_m) / radius_m
    right = (command.linear_mps + 0.5 * command.angular_radps * track_m) / radius_m
    top = config.drive.max_wheel_speed_radps
    peak = max(abs(left), abs(right))
    if peak > top:
        left, right = left * top / peak, right * top / peak
    return left, right


def body_twist(left_radps: float, right_radps: float, config: RoverConfig) -> tuple[float, float]:
    """The body's forward speed (m/s) and yaw rate (rad/s) from wheel speeds (rad/s), on
    the effective track: the inverse of :func:`mix_skid_steer` below saturation."""
    radius_m = config.wheels.radius_m
    track_m = config.wheels.track_m * config.drive.effective_track_factor
    left_mps, right_mps = left_radps * radius_m, right_radps * radius_m
    return 0.5 * (left_mps + right_mps), (right_mps - left_mps) / track_m
