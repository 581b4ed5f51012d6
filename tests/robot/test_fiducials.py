"""Fiducial geometry without a renderer: projected corners and a drawn marker."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from lunarsite.robot.fiducials import (
    CORNER_STD_PX,
    CameraMount,
    FiducialDetector,
    FiducialError,
    MarkerDetection,
    SurveyedMarker,
    camera_matrix,
    landmark_fix,
    marker_rotation_in_site,
    markers_by_id,
    pose_fix,
    solve_marker,
)
from lunarsite.robot.mapping import chassis_rotation
from lunarsite.robot.types import CameraFrame, Pose2, wrap_angle

W, H, FOV = 640, 480, 0.8
K = camera_matrix(W, H, FOV)
MARKER = SurveyedMarker(3, 5.0, 2.0, 0.4, math.pi, 0.2)
MOUNT = CameraMount((0.3, 0.0, 0.5), 0.1)


def _project(rover: Pose2, roll: float, pitch: float, z_m: float = 0.0) -> np.ndarray:
    """Pixel corners (TL, TR, BR, BL) of MARKER seen by MOUNT on a rover at this pose."""
    h = 0.5 * MARKER.size_m
    local = np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])
    corners_site = local @ marker_rotation_in_site(MARKER).T + [MARKER.x_m, MARKER.y_m, MARKER.z_m]
    r_site_chassis = chassis_rotation(rover.yaw_rad, pitch, roll)
    r_site_cam = r_site_chassis @ MOUNT.rotation_chassis_camera()
    cam_pos = np.array([rover.x_m, rover.y_m, z_m]) + r_site_chassis @ np.asarray(MOUNT.xyz_m)
    in_cam = (corners_site - cam_pos) @ r_site_cam
    px = in_cam @ K.T
    return px[:, :2] / px[:, 2:3]


@pytest.mark.parametrize(
    ("rover", "roll", "pitch"),
    [
        (Pose2(2.0, 2.0, 0.0), 0.0, 0.0),
        (Pose2(1.5, 2.8, -0.2), 0.05, -0.08),
        (Pose2(3.2, 1.4, 0.3), -0.06, 0.1),
    ],
)
def test_fixes_from_exact_corners_recover_the_pose(rover: Pose2, roll: float, pitch: float) -> None:
    obs = solve_marker(MarkerDetection(3, _project(rover, roll, pitch)), MARKER.size_m, K)
    assert obs is not None
    fix = landmark_fix(obs, MARKER, MOUNT, roll, pitch)
    c, s = math.cos(rover.yaw_rad), math.sin(rover.yaw_rad)
    dx, dy = MARKER.x_m - rover.x_m, MARKER.y_m - rover.y_m
    assert fix.offset_xy_m == pytest.approx((c * dx + s * dy, -s * dx + c * dy), abs=1e-6)
    assert fix.landmark_xy_m == (MARKER.x_m, MARKER.y_m)
    cov = np.asarray(fix.covariance_m2)
    assert np.allclose(cov, cov.T) and np.all(np.linalg.eigvalsh(cov) > 0)
    pose, _ = pose_fix(obs, MARKER, MOUNT, roll, pitch)
    assert pose.x_m == pytest.approx(rover.x_m, abs=1e-6)
    assert pose.y_m == pytest.approx(rover.y_m, abs=1e-6)
    assert wrap_angle(pose.yaw_rad - rover.yaw_rad) == pytest.approx(0.0, abs=1e-6)


def test_detector_reads_a_drawn_marker() -> None:
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    img = np.full((H, W), 255, np.uint8)
    img[150:270, 250:370] = cv2.aruco.generateImageMarker(dictionary, 3, 120)
    rgb = np.repeat(img[:, :, None], 3, axis=2)
    (det,) = FiducialDetector({3: 0.2}).detect(rgb)
    assert det.marker_id == 3
    assert det.corners_px[0] == pytest.approx((249.5, 149.5), abs=1.0)  # top-left first
    frame = CameraFrame(1.5, rgb, np.zeros((H, W), np.float32), FOV)
    (obs,) = FiducialDetector({3: 0.2}).observe(frame)
    assert obs.stamp_s == 1.5
    assert obs.translations_m[0][2] > 0.0  # in front of the camera
    assert FiducialDetector({3: 0.2}).detect(np.flip(rgb, axis=1)) == []  # mirrored: no


def test_bad_markers_are_refused() -> None:
    with pytest.raises(FiducialError, match="size"):
        SurveyedMarker(1, 0.0, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(FiducialError, match="twice"):
        markers_by_id([MARKER, MARKER])
    with pytest.raises(FiducialError, match="dictionary"):
        FiducialDetector({1: 0.2}, dictionary="DICT_NOPE")


def test_far_marker_range_variance_grows_with_the_square_of_range() -> None:
    focal = float(K[1, 1])
    stds = []
    for dist in (1.5, 4.0):  # the rover straight in front of MARKER (it faces -x)
        rover = Pose2(MARKER.x_m - dist, MARKER.y_m, 0.0)
        obs = solve_marker(MarkerDetection(3, _project(rover, 0.0, 0.0)), MARKER.size_m, K)
        assert obs is not None
        plain = landmark_fix(obs, MARKER, MOUNT)
        fix = landmark_fix(obs, MARKER, MOUNT, focal_px=focal)
        assert fix.offset_xy_m == plain.offset_xy_m
        var_along = fix.covariance_m2[0][0]  # the offset lies along the rover's x
        assert var_along >= plain.covariance_m2[0][0]
        stds.append(math.sqrt(var_along))
        r = fix.offset_xy_m[0]
        assert math.sqrt(var_along) >= CORNER_STD_PX * r * r / (focal * MARKER.size_m) - 1e-12
    # 0.2 m at 480 px: 1.5% of range up close, the pixel limit (∝ r²) farther out.
    assert stds[1] / stds[0] > 1.1 * (4.0 / 1.5)  # faster than in proportion to range
