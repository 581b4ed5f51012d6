"""ArUco fiducials: detection in a camera frame and the marker's pose in the camera.

What a sighting says of the rover (range-bearing, heading and height fixes, their noise)
is :mod:`~lunarsite.robot.perception.marker_fixes`.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from ..config import CameraConfig
from ..types import CameraFrame

__all__ = [
    "CameraMount",
    "FiducialDetector",
    "FiducialError",
    "MarkerDetection",
    "MarkerObservation",
    "SurveyedMarker",
    "camera_matrix",
    "centre_from_depth",
    "depth_usable",
    "level_from_chassis",
    "marker_rotation_in_site",
    "markers_by_id",
    "solve_marker",
]

log = logging.getLogger(__name__)

CornerRefinement = Literal["subpix", "contour"]
CORNER_REFINEMENTS: dict[str, int] = {
    "subpix": cv2.aruco.CORNER_REFINE_SUBPIX,
    "contour": cv2.aruco.CORNER_REFINE_CONTOUR,
}

Matrix = npt.NDArray[np.float64]

DEFAULT_DICTIONARY = "DICT_4X4_50"
DEPTH_RANGE_FLOOR_M = 0.01
DEPTH_RANGE_STD_FRACTION = 0.002
"""Range error of a marker centre placed on the depth image: at least ``FLOOR + FRACTION
· range`` (design value, above the fitted plane's own noise; measured in the simulator
with 5 mm per-pixel depth noise: 0.2–0.8 cm at 4–11 m, where the corners alone give
0.08 m at 5.6 m and 0.6–1.2 m at 9.5–11 m at 320 × 240)."""
DEPTH_INLIER_M = 0.03
"""Depth points farther than this from the marker's fitted plane are dropped (an edge
pixel that sees the ground behind, a rock in front), in m."""
DEPTH_PLANE_MAX_STD_FRACTION = 0.1
"""A marker is placed on the depth image only where one pixel's depth error (the camera's
datasheet model) is at most this share of its side (design value: a 0.4 m marker on a
D435-class camera, out to about 2 m)."""
DEPTH_INLIER_SIGMAS = 3.0
"""Beyond ``DEPTH_INLIER_M``, points farther than this many robust sigmas from the plane
are dropped."""
MAD_TO_SIGMA = 1.4826
"""A normal distribution's sigma over its median absolute deviation."""
MIN_DEPTH_POINTS = 12
"""Fewer usable depth points inside a marker than this: range from the corners alone."""
DEPTH_NORMAL_YAW_FLOOR_RAD = 0.003
"""Least std of the heading taken from the face normal of the plane fitted to a marker's
depth points (design value; measured in the simulator with 5 mm per-pixel depth noise:
0.0007–0.0021 rad at 3.6–10 m, where the corners' IPPE normal errs by 0.04–0.8 rad)."""


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
    centre_from_depth_m: Matrix | None = None
    """Marker centre in the camera frame from the depth image (:func:`centre_from_depth`),
    in m; None without usable depth."""
    depth_range_std_m: float = math.nan
    """Std of that centre's range, in m."""
    normal_from_depth: Matrix | None = None
    """Unit normal of the marker's face from the depth image, camera frame, toward the
    camera; None without usable depth."""
    normal_std_rad: float = math.nan
    """Std of that normal's direction, in rad."""

    @property
    def range_m(self) -> float:
        """Distance to the marker centre (from depth when there is one), in m."""
        if self.centre_from_depth_m is not None:
            return float(np.linalg.norm(self.centre_from_depth_m))
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


def level_from_chassis(roll_rad: float, pitch_rad: float) -> Matrix:
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
        use_depth: also place each marker's centre on the frame's depth image
            (:func:`centre_from_depth`), where it has one.
        depth_std_m: the camera's depth error (1σ, m) of one pixel at a range (m), from
            its datasheet (a stereo camera's grows as range squared); a marker whose
            pixels would err by more than ``DEPTH_PLANE_MAX_STD_FRACTION`` of its side is
            placed by its corners alone. None: a depth error small at every range.
        corner_refinement: how OpenCV refines the corners found: ``"subpix"`` (a
            gradient search round each corner) or ``"contour"`` (lines fitted to the
            square's edges, which uses every edge pixel: a better in-plane turn for a
            marker that spans tens of pixels; measured on a paver's 0.2 m top marker from
            the placer's mast at 1.75 m, 640 × 480: yaw error 0.08-0.11° rms against
            0.36° by ``"subpix"``, 36 views).
    """

    def __init__(
        self,
        marker_sizes_m: Mapping[int, float],
        dictionary: str = DEFAULT_DICTIONARY,
        *,
        use_depth: bool = True,
        depth_std_m: Callable[[float], float] | None = None,
        corner_refinement: CornerRefinement = "subpix",
    ) -> None:
        if not hasattr(cv2.aruco, dictionary):
            raise FiducialError(f"unknown ArUco dictionary {dictionary!r}")
        for marker_id, size in marker_sizes_m.items():
            if not (math.isfinite(size) and size > 0.0):
                raise FiducialError(f"marker {marker_id}: size must be positive, got {size}")
        self.marker_sizes_m = dict(marker_sizes_m)
        self.use_depth = use_depth
        self.depth_std_m = depth_std_m
        params = cv2.aruco.DetectorParameters()
        params.cornerRefinementMethod = CORNER_REFINEMENTS[corner_refinement]
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
            if obs is None:
                continue
            if self.use_depth and self._depth_usable(obs.range_m, size):
                plane = _depth_plane(det, frame.depth_m, K)
                if plane is not None:
                    obs = replace(
                        obs,
                        centre_from_depth_m=plane[0],
                        depth_range_std_m=plane[1],
                        normal_from_depth=plane[2],
                        normal_std_rad=plane[3],
                    )
            out.append(obs)
        return out

    def _depth_usable(self, range_m: float, size_m: float) -> bool:
        return depth_usable(range_m, size_m, self.depth_std_m)


def depth_usable(
    range_m: float, size_m: float, depth_std_m: Callable[[float], float] | None
) -> bool:
    """Whether depth at this range can place a marker of this side (``depth_std_m``:
    the camera's per-pixel depth std at a range; None: an ideal depth image): with a
    depth error near the marker's own size, the points spread more along the line of
    sight than across the face, and the fitted plane turns towards the line of sight."""
    if depth_std_m is None:
        return True
    return depth_std_m(range_m) <= DEPTH_PLANE_MAX_STD_FRACTION * size_m


def _diagonals_cross_px(corners_px: Matrix) -> Matrix | None:
    """Where the diagonals of the pixel quad (TL, TR, BR, BL) cross: the image of the
    square's centre (a projective invariant, unlike the mean of the corners)."""
    p0, p1, p2, p3 = corners_px
    a = np.array([p2 - p0, p1 - p3]).T
    if abs(float(np.linalg.det(a))) < 1e-9:
        return None
    t = np.linalg.solve(a, p1 - p0)
    out: Matrix = p0 + t[0] * (p2 - p0)
    return out


def centre_from_depth(
    det: MarkerDetection, depth_m: npt.NDArray[np.floating[Any]], K: Matrix
) -> tuple[Matrix, float] | None:
    """The marker centre in the camera frame from a depth image (z along the optical axis,
    m): a plane fitted to the depth points inside the black square (its corners pulled
    20% toward the middle; points farther than ``DEPTH_INLIER_M`` from a first fit
    dropped), cut by the ray through the square's projected centre. Bearing still comes
    from the pixels; range comes from many depth samples instead of a few pixels of
    corner spread, which is what limits a far marker's range (a 0.4 m marker at 10 m
    spans ~11 px at 320 × 240).

    Returns (centre in m, std of its range in m), or None with fewer than
    ``MIN_DEPTH_POINTS`` usable points (no depth image, a marker a few pixels wide).
    """
    plane = _depth_plane(det, depth_m, K)
    return None if plane is None else (plane[0], plane[1])


def _depth_plane(
    det: MarkerDetection, depth_m: npt.NDArray[np.floating[Any]], K: Matrix
) -> tuple[Matrix, float, Matrix, float] | None:
    """:func:`centre_from_depth`, plus the plane's unit normal (camera frame, toward the
    camera) and the std of its direction in rad: (centre, range std, normal, normal std)."""
    if depth_m.ndim != 2 or depth_m.size == 0:
        return None
    h, w = depth_m.shape
    centre_px = _diagonals_cross_px(det.corners_px)
    if centre_px is None:
        return None
    mid = det.corners_px.mean(axis=0)
    inner = mid + 0.8 * (det.corners_px - mid)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, np.round(inner).astype(np.int32), 1)
    vv, uu = np.nonzero(mask)
    z = np.asarray(depth_m[vv, uu], dtype=np.float64)
    ok = np.isfinite(z) & (z > 0.0)
    if int(ok.sum()) < MIN_DEPTH_POINTS:
        return None
    k_inv = np.linalg.inv(K)
    rays = k_inv @ np.vstack([uu[ok], vv[ok], np.ones(int(ok.sum()))])
    pts = (rays * z[ok]).T
    normal = np.zeros(3)
    centroid = pts.mean(axis=0)
    spread = np.zeros(3)
    for _ in range(2):
        centroid = pts.mean(axis=0)
        _, spread, vt = np.linalg.svd(pts - centroid, full_matrices=False)
        normal = vt[2]
        resid = (pts - centroid) @ normal
        # A stereo camera's depth error grows as range squared: the gate widens with the
        # spread the points themselves show (a robust sigma from the median absolute
        # deviation), never below the fixed gate.
        mad = float(np.median(np.abs(resid - np.median(resid))))
        gate = max(DEPTH_INLIER_M, DEPTH_INLIER_SIGMAS * MAD_TO_SIGMA * mad)
        keep = np.abs(resid) < gate
        if int(keep.sum()) < MIN_DEPTH_POINTS:
            return None
        if keep.all():
            break
        pts = pts[keep]
    resid = (pts - centroid) @ normal
    ray = k_inv @ np.array([centre_px[0], centre_px[1], 1.0])
    along = float(normal @ ray)
    if abs(along) < 1e-6 * float(np.linalg.norm(ray)):
        return None  # seen edge-on
    centre: Matrix = ray * (float(normal @ centroid) / along)
    if not (np.all(np.isfinite(centre)) and centre[2] > 0.0):
        return None
    rng = float(np.linalg.norm(centre))
    resid_std = float(np.std(resid))
    std = math.hypot(
        resid_std / math.sqrt(len(pts)), DEPTH_RANGE_FLOOR_M + DEPTH_RANGE_STD_FRACTION * rng
    )
    # The normal tilts by about the residual over the points' in-plane spread (the
    # smaller singular value is sqrt(N) times the spread across the narrower way).
    tilt_std = resid_std / max(float(spread[1]), 1e-9)
    facing: Matrix = normal if float(normal @ centre) < 0.0 else -normal
    return centre, std, facing, math.hypot(tilt_std, DEPTH_NORMAL_YAW_FLOOR_RAD)


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


def markers_by_id(markers: Sequence[SurveyedMarker]) -> dict[int, SurveyedMarker]:
    """Index surveyed markers by id; raises :class:`FiducialError` on a repeated id."""
    out: dict[int, SurveyedMarker] = {}
    for m in markers:
        if m.marker_id in out:
            raise FiducialError(f"marker id {m.marker_id} is surveyed twice")
        out[m.marker_id] = m
    return out
