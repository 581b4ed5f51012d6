"""Sensor data as points: a range scan in the sensor's own terms, the rover's own body to
drop from it, and the frames points pass through on their way into a map (chassis,
camera, site).

Sensor data comes in the sensor's own frame, as a real sensor gives it:

- :class:`RangeScan` (a mast lidar or a simulated ``rayTestBatch``): unit ray directions
  in the chassis frame from a mount point, and ranges;
- a depth image (:class:`~lunarsite.robot.types.CameraFrame`) through
  :func:`depth_to_points` and the camera mount.

:func:`points_to_site` places them with the estimated 3-D pose of the chassis. The map
they go into: :mod:`~lunarsite.robot.perception.mapping`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..config import RoverConfig
from ..site.grid import FloatArray
from ..types import CameraFrame, Pose2
from .fiducials import CameraMount

__all__ = [
    "BodyBox",
    "MappingError",
    "RangeScan",
    "camera_points",
    "chassis_rotation",
    "depth_to_points",
    "points_to_site",
    "scan_points",
]


class MappingError(ValueError):
    """Sensor data that does not fit (shapes, non-finite poses)."""


@dataclass(frozen=True, slots=True, eq=False)
class RangeScan:
    """One scan of a range sensor on the chassis.

    ``directions`` (N, 3): unit ray directions in the chassis frame (x forward, y left,
    z up); ``ranges_m`` (N,): distance to the first return, ``inf`` for none within
    ``max_range_m``; ``origin_xyz_m``: where the rays start, in the chassis frame, m.
    """

    stamp_s: float
    origin_xyz_m: tuple[float, float, float]
    directions: FloatArray
    ranges_m: FloatArray
    max_range_m: float
    range_std_m: float = 0.0
    """Random error of one range (1σ), m."""
    angle_std_rad: float = 0.0
    """Random pointing error of one beam (1σ), rad: a return at range r lies about
    r·σ off its reported ray."""

    def __post_init__(self) -> None:
        d = np.asarray(self.directions, dtype=np.float64)
        r = np.asarray(self.ranges_m, dtype=np.float64)
        if d.ndim != 2 or d.shape[1] != 3 or r.shape != (d.shape[0],):
            raise MappingError(
                f"RangeScan needs directions (N, 3) and ranges (N,), got {d.shape} and {r.shape}"
            )


@dataclass(frozen=True, slots=True)
class BodyBox:
    """A box in the chassis frame that holds the rover's own body and tools, in m.

    Returns inside it are the rover seeing itself and are dropped before mapping.
    """

    x_range_m: tuple[float, float]
    y_range_m: tuple[float, float]
    z_range_m: tuple[float, float]

    @classmethod
    def for_rover(cls, config: RoverConfig, margin_m: float = 0.05) -> BodyBox:
        """Chassis, wheels and every tool at full reach (arm plus tool depth)."""
        ch, wh = config.chassis, config.wheels
        x_lo = -0.5 * max(ch.length_m, wh.wheelbase_m + 2.0 * wh.radius_m)
        x_hi = -x_lo
        y_hi = 0.5 * max(ch.width_m, wh.track_m + wh.width_m)
        z_hi = 0.5 * ch.height_m
        for tool in config.tools:
            reach = tool.arm_length_m + tool.depth_m
            mx, my, mz = tool.mount_xyz_m
            c, s = math.cos(tool.mount_yaw_rad), math.sin(tool.mount_yaw_rad)
            x_lo = min(x_lo, mx + min(0.0, c * reach))
            x_hi = max(x_hi, mx + max(0.0, c * reach))
            y_hi = max(y_hi, abs(my) + abs(s) * reach + 0.5 * tool.width_m)
            z_hi = max(z_hi, mz + reach)
        z_lo = -(ch.axle_drop_m + wh.radius_m) - margin_m
        return cls(
            (x_lo - margin_m, x_hi + margin_m),
            (-y_hi - margin_m, y_hi + margin_m),
            (z_lo, z_hi + margin_m),
        )

    def contains(self, points_chassis: FloatArray) -> npt.NDArray[np.bool_]:
        p = np.asarray(points_chassis, dtype=np.float64).reshape(-1, 3)
        out = np.ones(len(p), dtype=bool)
        for axis, (lo, hi) in enumerate((self.x_range_m, self.y_range_m, self.z_range_m)):
            out &= (p[:, axis] >= lo) & (p[:, axis] <= hi)
        return out


def chassis_rotation(yaw_rad: float, pitch_rad: float, roll_rad: float) -> FloatArray:
    """Rz(yaw)·Ry(pitch)·Rx(roll): chassis vectors in the site frame (ZYX Euler)."""
    cy, sy = math.cos(yaw_rad), math.sin(yaw_rad)
    cp, sp = math.cos(pitch_rad), math.sin(pitch_rad)
    cr, sr = math.cos(roll_rad), math.sin(roll_rad)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def scan_points(scan: RangeScan) -> tuple[FloatArray, FloatArray]:
    """The returns of a scan as chassis-frame points (M, 3) and their ranges (M,)."""
    r = np.asarray(scan.ranges_m, dtype=np.float64)
    hit = np.isfinite(r) & (r > 0.0) & (r < scan.max_range_m)
    pts = np.asarray(scan.origin_xyz_m) + scan.directions[hit] * r[hit, None]
    return pts, r[hit]


def depth_to_points(
    depth_m: npt.NDArray[np.floating],
    vertical_fov_rad: float,
    *,
    max_depth_m: float,
    stride: int = 1,
) -> FloatArray:
    """Camera-frame points (OpenCV: x right, y down, z forward) of a depth image whose
    values are metres along the optical axis; pixels beyond ``max_depth_m`` are dropped;
    every ``stride``-th pixel in each direction."""
    d = np.asarray(depth_m, dtype=np.float64)[::stride, ::stride]
    h_full, w_full = np.asarray(depth_m).shape
    f = 0.5 * h_full / math.tan(0.5 * vertical_fov_rad)
    v, u = np.mgrid[0:h_full:stride, 0:w_full:stride]
    ok = np.isfinite(d) & (d > 0.0) & (d < max_depth_m)
    z = d[ok]
    x = (u[ok] - 0.5 * (w_full - 1)) / f * z
    y = (v[ok] - 0.5 * (h_full - 1)) / f * z
    return np.column_stack([x, y, z])


def camera_points(
    frame: CameraFrame, mount: CameraMount, *, max_depth_m: float, stride: int = 2
) -> FloatArray:
    """Chassis-frame points (N, 3) from a camera frame's depth image."""
    cam = depth_to_points(
        frame.depth_m, frame.vertical_fov_rad, max_depth_m=max_depth_m, stride=stride
    )
    out: FloatArray = cam @ mount.rotation_chassis_camera().T + np.asarray(mount.xyz_m)
    return out


def points_to_site(
    points_chassis: FloatArray, pose: Pose2, z_m: float, roll_rad: float, pitch_rad: float
) -> FloatArray:
    """Chassis-frame points (N, 3) to the site frame, given the chassis pose."""
    rot = chassis_rotation(pose.yaw_rad, pitch_rad, roll_rad)
    out: FloatArray = np.asarray(points_chassis) @ rot.T + np.array([pose.x_m, pose.y_m, z_m])
    return out
