"""What a fiducial sighting says of the rover: fixes for the filter, and their noise.

A :class:`~lunarsite.robot.perception.fiducials.MarkerObservation` (both IPPE poses of a
marker in the camera, its centre and face on the depth image where the detector placed
them there) becomes, with the camera mount and the rover's tilt, a range-bearing fix of
a surveyed marker's centre (:func:`landmark_fix`), a heading from its face
(:func:`depth_yaw_fix`, :func:`pose_fix`) or the chassis height (:func:`chassis_height_fix`).
:func:`expected_fix_std` predicts a fix's noise before the marker is seen, so the rover
can choose which marker to turn to.

Frames as in :mod:`~lunarsite.robot.perception.fiducials`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ..types import Pose2, wrap_angle
from .fiducials import (
    DEPTH_RANGE_FLOOR_M,
    DEPTH_RANGE_STD_FRACTION,
    CameraMount,
    MarkerObservation,
    SurveyedMarker,
    depth_usable,
    level_from_chassis,
)
from .localization import LandmarkFix

__all__ = [
    "BEARING_STD_RAD",
    "CORNER_STD_PX",
    "NORMAL_YAW_STD_RAD",
    "RANGE_STD_FRACTION",
    "chassis_height_fix",
    "choose_solution",
    "corner_fix_std",
    "depth_yaw_fix",
    "expected_fix_std",
    "landmark_fix",
    "marker_in_level",
    "pose_fix",
    "range_bearing_covariance",
]

Matrix = npt.NDArray[np.float64]

RANGE_STD_FRACTION = 0.015
"""Range error of a 20 cm marker up to 4 m: 0.6–1.6% (reference/SIM.md, "ArUco")."""
BEARING_STD_RAD = 0.004
"""Bearing error of the marker centre: about one pixel at 320 px over 60° (design value)."""
CORNER_STD_PX = 0.5
"""Error of a detected marker corner after sub-pixel refinement, in px (design value;
half a pixel, correlated between the corners of one marker)."""
NORMAL_YAW_STD_RAD = 0.05
"""Error of the heading taken from a marker's face normal (design value, ~3°)."""


def choose_solution(
    obs: MarkerObservation,
    mount: CameraMount,
    roll_rad: float,
    pitch_rad: float,
    up_axis: int = 1,
) -> tuple[Matrix, Matrix, Matrix]:
    """The IPPE solution whose marker axis ``up_axis`` (1: its y, standing; 2: its
    normal, lying face up) is nearest gravity-up; in the level frame: (rotation level ←
    marker, marker centre from the chassis centre in m, R level←camera)."""
    level_cam = level_from_chassis(roll_rad, pitch_rad) @ mount.rotation_chassis_camera()
    best = max(
        range(len(obs.rotations)),
        key=lambda k: float((level_cam @ obs.rotations[k])[2, up_axis]),
    )
    rot = level_cam @ obs.rotations[best]
    centre = obs.centre_from_depth_m
    offset = level_from_chassis(roll_rad, pitch_rad) @ np.asarray(mount.xyz_m) + (
        level_cam @ (obs.translations_m[best] if centre is None else centre)
    )
    return rot, offset, level_cam


def marker_in_level(
    obs: MarkerObservation,
    mount: CameraMount,
    roll_rad: float = 0.0,
    pitch_rad: float = 0.0,
    *,
    lying: bool = False,
) -> tuple[Matrix, Matrix]:
    """A marker's pose in the rover's level frame: (rotation level ← marker, its centre
    from the chassis centre in m). Of IPPE's two solutions, the one whose up (``lying``:
    whose face normal) is nearest gravity-up."""
    rot, offset, _ = choose_solution(obs, mount, roll_rad, pitch_rad, 2 if lying else 1)
    return rot, offset


def corner_fix_std(
    range_m: float, size_m: float, focal_px: float | None = None
) -> tuple[float, float]:
    """Range and bearing std (m, rad) of a marker fix from its corners alone.

    Range ``RANGE_STD_FRACTION`` of the range (at least 1 cm), bearing
    ``BEARING_STD_RAD``; given the focal length (px), neither below what a corner error
    of ``CORNER_STD_PX`` gives: range ``σ · r² / (f · side)`` (the marker's image shrinks
    as 1/r, so a far marker's range is poor: a 0.4 m marker at 10 m spans ~11 px at
    320 × 240) and bearing ``σ / f``.
    """
    std_r = max(RANGE_STD_FRACTION * range_m, 0.01)
    std_b = BEARING_STD_RAD
    if focal_px is not None and focal_px > 0.0:
        std_r = max(std_r, CORNER_STD_PX * range_m * range_m / (focal_px * size_m))
        std_b = max(std_b, CORNER_STD_PX / focal_px)
    return std_r, std_b


def expected_fix_std(
    range_m: float,
    size_m: float,
    focal_px: float | None,
    depth_std_m: Callable[[float], float] | None = None,
) -> tuple[float, float]:
    """Range and bearing std (m, rad) a fix on a marker at ``range_m`` is expected to
    have, before it is seen: from its corners, or from the depth image where the
    detector would place it there (see :meth:`FiducialDetector.depth_usable`), at the
    depth fix's floor ``DEPTH_RANGE_FLOOR_M + DEPTH_RANGE_STD_FRACTION · range``."""
    std_r, std_b = corner_fix_std(range_m, size_m, focal_px)
    if depth_usable(range_m, size_m, depth_std_m):
        std_r = min(std_r, DEPTH_RANGE_FLOOR_M + DEPTH_RANGE_STD_FRACTION * range_m)
    return std_r, std_b


def range_bearing_covariance(
    offset_xy_m: tuple[float, float], std_r_m: float, std_b_rad: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The 2 × 2 covariance, in the frame of ``offset_xy_m``, of a point seen at that
    offset with a range std and a bearing std."""
    dx, dy = offset_xy_m
    rng = max(math.hypot(dx, dy), 1e-6)
    ux, uy = dx / rng, dy / rng
    var_r = std_r_m**2
    var_b = (std_b_rad * rng) ** 2
    return (
        (var_r * ux * ux + var_b * uy * uy, (var_r - var_b) * ux * uy),
        ((var_r - var_b) * ux * uy, var_r * uy * uy + var_b * ux * ux),
    )


def landmark_fix(
    obs: MarkerObservation,
    marker: SurveyedMarker,
    mount: CameraMount,
    roll_rad: float = 0.0,
    pitch_rad: float = 0.0,
    *,
    focal_px: float | None = None,
) -> LandmarkFix:
    """The marker centre as a range-bearing fix for :meth:`Localizer.update_landmark`.

    The covariance: range and bearing std by :func:`corner_fix_std` (with the camera's
    focal length ``focal_px``, px). A centre placed on the depth image
    (``obs.centre_from_depth_m``) gives the offset instead, with its own range std
    (``obs.depth_range_std_m``).
    """
    _, offset, _ = choose_solution(obs, mount, roll_rad, pitch_rad)
    dx, dy = float(offset[0]), float(offset[1])
    std_r, std_b = corner_fix_std(math.hypot(dx, dy), marker.size_m, focal_px)
    if obs.centre_from_depth_m is not None and math.isfinite(obs.depth_range_std_m):
        std_r = obs.depth_range_std_m
    cov = range_bearing_covariance((dx, dy), std_r, std_b)
    return LandmarkFix(
        (marker.x_m, marker.y_m), (dx, dy), cov, obs.stamp_s, f"marker {marker.marker_id}"
    )


def chassis_height_fix(
    obs: MarkerObservation,
    marker: SurveyedMarker,
    mount: CameraMount,
    roll_rad: float = 0.0,
    pitch_rad: float = 0.0,
    *,
    tilt_std_rad: float = 0.01,
) -> tuple[float, float] | None:
    """The chassis centre's height in the site frame from a marker placed on the depth
    image: the surveyed centre's height less its height above the chassis, and its std
    (tilt error times range, plus a centimetre), in m; None without depth (a range from
    the marker's corners is too poor for it)."""
    if obs.centre_from_depth_m is None:
        return None
    _, offset, _ = choose_solution(obs, mount, roll_rad, pitch_rad)
    rng = float(np.linalg.norm(offset))
    return marker.z_m - float(offset[2]), 0.01 + tilt_std_rad * rng


def depth_yaw_fix(
    obs: MarkerObservation,
    marker: SurveyedMarker,
    mount: CameraMount,
    roll_rad: float = 0.0,
    pitch_rad: float = 0.0,
) -> tuple[float, float] | None:
    """The rover's heading from the face normal of a marker's depth plane, and its std,
    in rad; None without one. The marker stands vertically, so the normal's horizontal
    direction in the rover's level frame is the marker's surveyed heading less the
    rover's (roll and pitch errors barely move it)."""
    if obs.normal_from_depth is None:
        return None
    level_cam = level_from_chassis(roll_rad, pitch_rad) @ mount.rotation_chassis_camera()
    n = level_cam @ obs.normal_from_depth
    if math.hypot(float(n[0]), float(n[1])) < 0.5:
        return None  # a face seen as lying flat: not a standing marker
    yaw = wrap_angle(marker.yaw_rad - math.atan2(float(n[1]), float(n[0])))
    return yaw, obs.normal_std_rad


def pose_fix(
    obs: MarkerObservation,
    marker: SurveyedMarker,
    mount: CameraMount,
    roll_rad: float = 0.0,
    pitch_rad: float = 0.0,
) -> tuple[Pose2, Matrix]:
    """The rover's pose from one marker alone, and its 3×3 covariance (x, y, yaw).

    Heading from the marker's face normal (std ``NORMAL_YAW_STD_RAD``), then position
    from the marker centre. Good for a first fix; the filter does better with
    :func:`landmark_fix` as the rover moves.
    """
    rot, offset, _ = choose_solution(obs, mount, roll_rad, pitch_rad)
    normal = rot[:, 2]
    yaw = wrap_angle(marker.yaw_rad - math.atan2(float(normal[1]), float(normal[0])))
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = float(offset[0]), float(offset[1])
    x = marker.x_m - (c * dx - s * dy)
    y = marker.y_m - (s * dx + c * dy)
    rng = math.hypot(dx, dy)
    pos_var = max(RANGE_STD_FRACTION * rng, 0.01) ** 2 + (NORMAL_YAW_STD_RAD * rng) ** 2
    cov = np.diag([pos_var, pos_var, NORMAL_YAW_STD_RAD**2])
    return Pose2(x, y, yaw), cov
