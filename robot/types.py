"""Values that cross the hardware interface and the controller: frozen, SI, units in names.

Frames: the site frame has x east, y north, z up, origin at the south-west corner of the
site. The body frame has x forward, y left, z up, origin at the chassis centre.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

__all__ = [
    "CameraFrame",
    "DriveCommand",
    "Pose2",
    "RoverCommand",
    "SensedState",
    "Twist2",
    "wrap_angle",
]


def wrap_angle(angle_rad: float) -> float:
    """Wrap an angle to [-π, π), in rad."""
    return (angle_rad + math.pi) % (2.0 * math.pi) - math.pi


def _frozen_map(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in values.items()})


@dataclass(frozen=True, slots=True)
class Pose2:
    """A planar pose in the site frame: position in m, heading in rad (0 = +x, CCW)."""

    x_m: float
    y_m: float
    yaw_rad: float

    def distance_to(self, x_m: float, y_m: float) -> float:
        """Euclidean distance from this pose's position to a point, in m."""
        return math.hypot(x_m - self.x_m, y_m - self.y_m)

    def bearing_to(self, x_m: float, y_m: float) -> float:
        """Angle from the heading to the direction of a point, wrapped, in rad."""
        return wrap_angle(math.atan2(y_m - self.y_m, x_m - self.x_m) - self.yaw_rad)


@dataclass(frozen=True, slots=True)
class Twist2:
    """A planar body velocity: forward speed in m/s, yaw rate in rad/s."""

    linear_mps: float
    angular_radps: float


@dataclass(frozen=True, slots=True)
class DriveCommand:
    """Body velocity setpoint for a skid-steer rover. The hardware mixes it to the sides."""

    linear_mps: float = 0.0
    angular_radps: float = 0.0

    def is_finite(self) -> bool:
        return math.isfinite(self.linear_mps) and math.isfinite(self.angular_radps)


STOP = DriveCommand(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class RoverCommand:
    """One cycle's command: a drive setpoint and servo targets by joint name (rad)."""

    drive: DriveCommand = STOP
    tool_targets_rad: Mapping[str, float] = field(default_factory=lambda: _frozen_map({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool_targets_rad", _frozen_map(self.tool_targets_rad))


@dataclass(frozen=True, slots=True)
class SensedState:
    """Everything the rover senses in one read, as a real board would report it.

    There is no pose here: a real rover does not sense its pose, it estimates it.
    """

    stamp_s: float
    """Time of the reading on the rover's clock, in s."""
    left_ticks: int
    """Cumulative encoder count of the left side (positive when driving forward)."""
    right_ticks: int
    gyro_radps: tuple[float, float, float]
    """Body-frame angular rate (x, y, z), in rad/s."""
    accel_mps2: tuple[float, float, float]
    """Body-frame specific force (x, y, z), in m/s²; at rest on level ground z ≈ +g."""
    tool_positions_rad: Mapping[str, float]
    battery_v: float
    faults: tuple[str, ...] = ()
    """Conditions the rover reports (``estop``, ``link_disconnected``, ...)."""
    rejected: tuple[str, ...] = ()
    """Commands the rover refused since the last reading, one line each (a servo target
    it would not take); a reading reports each refusal once."""
    tool_efforts_nm: Mapping[str, float] = field(default_factory=lambda: _frozen_map({}))
    """Torque each tool joint's actuator applies (positive along the joint's positive
    direction), in N·m, averaged over the time since the last reading, as a current-
    sensing drive reports it; only joints that sense their effort are present."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool_positions_rad", _frozen_map(self.tool_positions_rad))
        object.__setattr__(self, "tool_efforts_nm", _frozen_map(self.tool_efforts_nm))


@dataclass(frozen=True, slots=True, eq=False)
class CameraFrame:
    """An RGB image (H×W×3 uint8) and a depth image (H×W float32, metres along the axis)."""

    stamp_s: float
    rgb: npt.NDArray[np.uint8]
    depth_m: npt.NDArray[np.float32]
    vertical_fov_rad: float
