"""ArUco fiducials: detection in a camera frame, marker pose, fixes in the site frame.

OpenCV ≥ 4.7 API (reference/SIM.md, "ArUco"): :class:`cv2.aruco.ArucoDetector` finds the
markers, :func:`cv2.solvePnPGeneric` with ``SOLVEPNP_IPPE_SQUARE`` gives both poses of a
square (corner order TL, TR, BR, BL). A lone square is ambiguous about its tilt at a
distance; of the two solutions we keep the one whose "up" agrees with gravity as the IMU
sees it.

Frames. Marker: x right and y up on its face, z out of the face toward the viewer
(OpenCV's). Camera: OpenCV's optical frame (x right, y down, z forward), mounted at
``mount_xyz_m`` in the chassis frame, pitched down by ``mount_pitch_rad``. A surveyed
marker stands vertically at (x, y, z) facing the site heading ``yaw_rad`` (its z axis).
The rover's level frame is the chassis frame with roll and pitch taken out.

Camera intrinsics come from the frame: a pinhole with square pixels, vertical field of
view ``vertical_fov_rad`` and the principal point at the image centre, as PyBullet
renders (no distortion).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from .config import CameraConfig
from .localization import LandmarkFix
from .types import CameraFrame, Pose2, wrap_angle

__all__ = [
    "CameraMount",
    "FiducialDetector",
    "FiducialError",
    "MarkerDetection",
    "MarkerObservation",
    "SurveyedMarker",
    "camera_matrix",
    "landmark_fix",
    "marker_rotation_in_site",
    "markers_by_id",
    "pose_fix",
    "solve_marker",
]

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float64]

DEFAULT_DICTIONARY = "DICT_4X4_50"
RANGE_STD_FRACTION = 0.015
"""Range error of a 20 cm marker up to 4 m: 0.6–1.6% (reference/SIM.md, "ArUco")."""
BEARING_STD_RAD = 0.004
"""Bearing error of the marker centre: about one pixel at 320 px over 60° (design value)."""
CORNER_STD_PX = 0.5
"""Error of a detected marker corner after sub-pixel refinement, in px (design value;
half a pixel, correlated between the corners of one marker)."""
NORMAL_YAW_STD_RAD = 0.05
"""Error of the heading taken from a marker's face normal (design value, ~3°)."""


class FiducialError(ValueError):
    """A marker that cannot be used: unknown id, bad size, degenerate corners."""


@dataclass(frozen=True, slots=True)
class SurveyedMarker:
    """A marker's surveyed pose: centre (m) in the site frame and the heading its face looks
    (rad); side length of the black square in m."""

    marker_id: int
    x_m: float
    y_m: float
    z_m: float
    yaw_rad: float
    size_m: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.size_m) and self.size_m > 0.0):
            raise FiducialError(f"marker {self.marker_id}: size_m must be positive")


@dataclass(frozen=True, slots=True)
class CameraMount:
    """Where the camera sits on the chassis: position (m) and downward pitch (rad)."""

    xyz_m: tuple[float, float, float]
    pitch_rad: float

    @classmethod
    def from_config(cls, camera: CameraConfig) -> CameraMount:
        x, y, z = camera.mount_xyz_m
        return cls((float(x), float(y), float(z)), float(camera.mount_pitch_rad))

    def rotation_chassis_camera(self) -> Matrix:
        """Columns: the camera's x (right), y (down), z (forward) axes in the chassis frame."""
        c, s = math.cos(self.pitch_rad), math.sin(self.pitch_rad)
        return np.array([[0.0, -s, c], [-1.0, 0.0, 0.0], [0.0, -c, -s]])


@dataclass(frozen=True, slots=True, eq=False)
class MarkerDetection:
    marker_id: int
    corners_px: Matrix
    """(4, 2) pixel corners, TL, TR, BR, BL."""


@dataclass(frozen=True, slots=True, eq=False)
class MarkerObservation:
    """A marker's pose in the camera frame: the candidates of IPPE, best first."""

    marker_id: int
    rotations: tuple[Matrix, ...]
    """3×3 rotations camera ← marker."""
    translations_m: tuple[Matrix, ...]
    """Marker centre in the camera frame, in m."""
    reprojection_px: tuple[float, ...]
    stamp_s: float

    @property
    def range_m(self) -> float:
        return float(np.linalg.norm(self.translations_m[0]))


def camera_matrix(width_px: int, height_px: int, vertical_fov_rad: float) -> Matrix:
    """Pinhole intrinsics K for square pixels and a centred principal point."""
    f = 0.5 * height_px / math.tan(0.5 * vertical_fov_rad)
    return np.array(
        [[f, 0.0, 0.5 * (width_px - 1)], [0.0, f, 0.5 * (height_px - 1)], [0.0, 0.0, 1.0]]
    )


def marker_rotation_in_site(marker: SurveyedMarker) -> Matrix:
    """Columns: the marker's x, y, z axes in the site frame (vertical face)."""
    c, s = math.cos(marker.yaw_rad), math.sin(marker.yaw_rad)
    return np.array([[-s, 0.0, c], [c, 0.0, s], [0.0, 1.0, 0.0]])


def _level_from_chassis(roll_rad: float, pitch_rad: float) -> Matrix:
    """Ry(pitch) · Rx(roll): chassis vectors in the level frame (ZYX Euler)."""
    cr, sr = math.cos(roll_rad), math.sin(roll_rad)
    cp, sp = math.cos(pitch_rad), math.sin(pitch_rad)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    out: Matrix = ry @ rx
    return out


class FiducialDetector:
    """Finds ArUco markers in camera frames and estimates their poses.

    Args:
        marker_sizes_m: side length of each marker id this detector may use, in m; other
            ids are ignored (with a debug log).
        dictionary: an OpenCV predefined dictionary name, e.g. ``"DICT_4X4_50"``.
    """

    def __init__(
        self, marker_sizes_m: Mapping[int, float], dictionary: str = DEFAULT_DICTIONARY
    ) -> None:
        if not hasattr(cv2.aruco, dictionary):
            raise FiducialError(f"unknown ArUco dictionary {dictionary!r}")
        for marker_id, size in marker_sizes_m.items():
            if not (math.isfinite(size) and size > 0.0):
                raise FiducialError(f"marker {marker_id}: size must be positive, got {size}")
        self.marker_sizes_m = dict(marker_sizes_m)
        params = cv2.aruco.DetectorParameters()
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
        self._detector = cv2.aruco.ArucoDetector(
            cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary)), params
        )

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[MarkerDetection]:
        """Markers in an RGB image (H×W×3 uint8)."""
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        corners, ids, _ = self._detector.detectMarkers(gray)
        if ids is None:
            return []
        return [
            MarkerDetection(int(i), np.asarray(c, dtype=np.float64).reshape(4, 2))
            for c, i in zip(corners, ids.ravel(), strict=True)
        ]

    def observe(self, frame: CameraFrame) -> list[MarkerObservation]:
        """Poses of the known markers in a frame (camera frame, m)."""
        height, width = frame.rgb.shape[:2]
        K = camera_matrix(width, height, frame.vertical_fov_rad)
        out = []
        for det in self.detect(frame.rgb):
            size = self.marker_sizes_m.get(det.marker_id)
            if size is None:
                log.debug("marker %d is not surveyed: ignored", det.marker_id)
                continue
            obs = solve_marker(det, size, K, frame.stamp_s)
            if obs is not None:
                out.append(obs)
        return out


def solve_marker(
    det: MarkerDetection, size_m: float, K: Matrix, stamp_s: float = math.nan
) -> MarkerObservation | None:
    """Both IPPE poses of a square marker of side ``size_m``; None if OpenCV fails."""
    h = 0.5 * size_m
    obj = np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])
    # IPPE_SQUARE returns NaN for some exactly symmetric views; general IPPE, then the
    # iterative solver, take over there.
    for flags in (cv2.SOLVEPNP_IPPE_SQUARE, cv2.SOLVEPNP_IPPE, cv2.SOLVEPNP_ITERATIVE):
        ok, rvecs, tvecs, errors = cv2.solvePnPGeneric(obj, det.corners_px, K, None, flags=flags)
        if ok and len(rvecs) > 0 and all(np.all(np.isfinite(t)) for t in (*rvecs, *tvecs)):
            break
    else:
        log.debug("marker %d: no pose from its corners", det.marker_id)
        return None
    rotations = tuple(np.asarray(cv2.Rodrigues(r)[0], dtype=np.float64) for r in rvecs)
    translations = tuple(np.asarray(t, dtype=np.float64).reshape(3) for t in tvecs)
    errs = tuple(float(e) for e in np.asarray(errors).ravel())
    return MarkerObservation(det.marker_id, rotations, translations, errs, stamp_s)


def _choose(
    obs: MarkerObservation, mount: CameraMount, roll_rad: float, pitch_rad: float
) -> tuple[Matrix, Matrix, Matrix]:
    """The IPPE solution whose marker-up is nearest gravity-up; in the level frame:
    (rotation level ← marker, marker centre from the chassis centre in m, R level←camera)."""
    level_cam = _level_from_chassis(roll_rad, pitch_rad) @ mount.rotation_chassis_camera()
    best = max(range(len(obs.rotations)), key=lambda k: float((level_cam @ obs.rotations[k])[2, 1]))
    rot = level_cam @ obs.rotations[best]
    offset = _level_from_chassis(roll_rad, pitch_rad) @ np.asarray(mount.xyz_m) + (
        level_cam @ obs.translations_m[best]
    )
    return rot, offset, level_cam


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

    The covariance: range std ``RANGE_STD_FRACTION`` of the range (at least 1 cm),
    bearing std ``BEARING_STD_RAD``. Given the camera's focal length ``focal_px`` (px),
    neither is taken below what a corner error of ``CORNER_STD_PX`` gives: range
    ``σ · r² / (f · side)`` (the marker's image shrinks as 1/r, so a far marker's range
    is poor: a 0.4 m marker at 10 m spans ~11 px at 320 × 240) and bearing ``σ / f``.
    """
    _, offset, _ = _choose(obs, mount, roll_rad, pitch_rad)
    dx, dy = float(offset[0]), float(offset[1])
    rng = max(math.hypot(dx, dy), 1e-6)
    ux, uy = dx / rng, dy / rng
    std_r = max(RANGE_STD_FRACTION * rng, 0.01)
    std_b = BEARING_STD_RAD
    if focal_px is not None and focal_px > 0.0:
        std_r = max(std_r, CORNER_STD_PX * rng * rng / (focal_px * marker.size_m))
        std_b = max(std_b, CORNER_STD_PX / focal_px)
    var_r = std_r**2
    var_b = (std_b * rng) ** 2
    cov = (
        (var_r * ux * ux + var_b * uy * uy, (var_r - var_b) * ux * uy),
        ((var_r - var_b) * ux * uy, var_r * uy * uy + var_b * ux * ux),
    )
    return LandmarkFix(
        (marker.x_m, marker.y_m), (dx, dy), cov, obs.stamp_s, f"marker {marker.marker_id}"
    )


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
    rot, offset, _ = _choose(obs, mount, roll_rad, pitch_rad)
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


def markers_by_id(markers: Sequence[SurveyedMarker]) -> dict[int, SurveyedMarker]:
    """Index surveyed markers by id; raises :class:`FiducialError` on a repeated id."""
    out: dict[int, SurveyedMarker] = {}
    for m in markers:
        if m.marker_id in out:
            raise FiducialError(f"marker id {m.marker_id} is surveyed twice")
        out[m.marker_id] = m
    return out
