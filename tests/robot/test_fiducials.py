"""Fiducial geometry without a renderer: projected corners and a drawn marker."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest

from lunarsite.robot.perception import fiducials
from lunarsite.robot.perception.fiducials import (
    DEPTH_NORMAL_YAW_FLOOR_RAD,
    CameraMount,
    FiducialDetector,
    FiducialError,
    MarkerDetection,
    SurveyedMarker,
    camera_matrix,
    centre_from_depth,
    marker_rotation_in_site,
    markers_by_id,
    solve_marker,
)
from lunarsite.robot.perception.marker_fixes import (
    CORNER_STD_PX,
    chassis_height_fix,
    depth_yaw_fix,
    landmark_fix,
    pose_fix,
)
from lunarsite.robot.perception.points import chassis_rotation
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
    assert obs.centre_from_depth_m is None  # an all-zero depth image: corners only
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


def _depth_image(rover: Pose2, noise_m: float, rng: np.random.Generator) -> np.ndarray:
    """Depth (along the optical axis, m) of MARKER's plane seen by MOUNT, 20 m elsewhere."""
    r_site_chassis = chassis_rotation(rover.yaw_rad, 0.0, 0.0)
    r_site_cam = r_site_chassis @ MOUNT.rotation_chassis_camera()
    cam_pos = np.array([rover.x_m, rover.y_m, 0.0]) + r_site_chassis @ np.asarray(MOUNT.xyz_m)
    centre = (np.array([MARKER.x_m, MARKER.y_m, MARKER.z_m]) - cam_pos) @ r_site_cam
    normal = marker_rotation_in_site(MARKER)[:, 2] @ r_site_cam
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(K).T
    depth = float(normal @ centre) / (rays @ normal)
    depth = np.where(depth > 0.0, depth, 20.0)
    return (depth + rng.normal(0.0, noise_m, depth.shape)).astype(np.float32)


@pytest.mark.parametrize("rover", [Pose2(1.0, 2.0, 0.0), Pose2(1.5, 2.8, -0.2)])
def test_depth_places_the_marker_centre_and_its_face(rover: Pose2) -> None:
    rng = np.random.default_rng(3)
    corners = _project(rover, 0.0, 0.0)
    det = MarkerDetection(3, corners)
    depth = _depth_image(rover, 0.005, rng)
    found = centre_from_depth(det, depth, K)
    assert found is not None
    centre, std = found
    c, s = math.cos(rover.yaw_rad), math.sin(rover.yaw_rad)
    dx, dy = MARKER.x_m - rover.x_m, MARKER.y_m - rover.y_m
    true_offset = (c * dx + s * dy, -s * dx + c * dy)
    obs = solve_marker(det, MARKER.size_m, K)
    assert obs is not None
    obs = dataclasses.replace(obs, centre_from_depth_m=centre, depth_range_std_m=std)
    fix = landmark_fix(obs, MARKER, MOUNT, focal_px=float(K[1, 1]))
    assert fix.offset_xy_m == pytest.approx(true_offset, abs=0.005)
    assert 0.01 <= std < 0.03  # the design floor, not the corners' r² growth
    plane = fiducials._depth_plane(det, depth, K)
    assert plane is not None
    obs = dataclasses.replace(obs, normal_from_depth=plane[2], normal_std_rad=plane[3])
    yaw_fix = depth_yaw_fix(obs, MARKER, MOUNT)
    assert yaw_fix is not None
    assert wrap_angle(yaw_fix[0] - rover.yaw_rad) == pytest.approx(0.0, abs=0.005)
    assert DEPTH_NORMAL_YAW_FLOOR_RAD <= yaw_fix[1] < 0.01


def test_no_usable_depth_leaves_the_range_to_the_corners() -> None:
    det = MarkerDetection(3, _project(Pose2(1.0, 2.0, 0.0), 0.0, 0.0))
    assert centre_from_depth(det, np.zeros((H, W), np.float32), K) is None
    assert centre_from_depth(det, np.full((H, W), np.nan, np.float32), K) is None
    far = MarkerDetection(
        3, np.array([[300.0, 200.0], [302.0, 200.0], [302.0, 202.0], [300.0, 202.0]])
    )
    assert centre_from_depth(far, np.ones((H, W), np.float32), K) is None  # a few pixels


@pytest.mark.parametrize("rover", [Pose2(1.0, 2.0, 0.0), Pose2(1.5, 2.8, -0.2)])
def test_a_marker_in_depth_gives_the_chassis_height(rover: Pose2) -> None:
    # The chassis centre sits at z = 0 in _project and _depth_image.
    rng = np.random.default_rng(4)
    det = MarkerDetection(3, _project(rover, 0.0, 0.0))
    obs = solve_marker(det, MARKER.size_m, K)
    assert obs is not None
    assert chassis_height_fix(obs, MARKER, MOUNT) is None  # corners alone: too poor
    found = centre_from_depth(det, _depth_image(rover, 0.005, rng), K)
    assert found is not None
    obs = dataclasses.replace(obs, centre_from_depth_m=found[0], depth_range_std_m=found[1])
    height = chassis_height_fix(obs, MARKER, MOUNT)
    assert height is not None
    z, std = height
    assert z == pytest.approx(0.0, abs=0.01)
    rng_m = math.hypot(MARKER.x_m - rover.x_m, MARKER.y_m - rover.y_m)
    assert std == pytest.approx(0.01 + 0.01 * rng_m, rel=0.1)
    # A pitch the filter has wrong by 0.02 rad moves the height by range × 0.02.
    z_tilted, _ = chassis_height_fix(obs, MARKER, MOUNT, 0.0, 0.02) or (math.nan, 0.0)
    assert abs(z_tilted - z) == pytest.approx(0.02 * rng_m, rel=0.25)


def test_a_camera_whose_depth_errs_near_the_markers_size_places_it_by_corners() -> None:
    """With the camera's depth error model, depth is used only where one pixel errs by at
    most a tenth of the marker's side (here 2 cm for the 0.2 m marker)."""
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    img = np.full((H, W), 255, np.uint8)
    img[150:270, 250:370] = cv2.aruco.generateImageMarker(dictionary, 3, 120)
    rgb = np.repeat(img[:, :, None], 3, axis=2)
    # 120 px across at f = 240 / tan(0.4) px: the marker is 0.2 · f / 120 m away.
    range_m = 0.2 * (0.5 * H / math.tan(0.5 * FOV)) / 120.0
    frame = CameraFrame(0.0, rgb, np.full((H, W), range_m, np.float32), FOV)
    seen_ranges: list[float] = []

    def model(error_m: float):  # type: ignore[no-untyped-def]
        def depth_std_m(r: float) -> float:
            seen_ranges.append(r)
            return error_m

        return depth_std_m

    (near,) = FiducialDetector({3: 0.2}, depth_std_m=model(0.019)).observe(frame)
    assert near.centre_from_depth_m is not None
    assert float(near.centre_from_depth_m[2]) == pytest.approx(range_m, abs=0.005)
    (far,) = FiducialDetector({3: 0.2}, depth_std_m=model(0.021)).observe(frame)
    assert far.centre_from_depth_m is None and far.normal_from_depth is None
    assert seen_ranges == pytest.approx([range_m, range_m], rel=0.03)  # asked at its range


@pytest.mark.parametrize(("x_m", "turned"), [(-1.0, True), (1.0, True), (3.0, False)])
def test_stereo_noise_far_off_turns_the_fitted_face_towards_the_line_of_sight(
    x_m: float, turned: bool
) -> None:
    """Why the gate: a D435-class camera (f·B = 447 px · 0.05 m, 0.22 px of disparity
    error) errs by 0.36 m a pixel at 6 m and 0.16 m at 4 m, more than the 0.2 m marker is
    wide: the plane fitted to its points holds the line of sight, not the marker's face.
    At 2 m (4 cm) the face is found."""
    rover = Pose2(x_m, 2.0, 0.0)  # 6, 4 and 2 m in front of MARKER, facing it
    exact = _depth_image(rover, 0.0, np.random.default_rng(0)).astype(np.float64)
    det = MarkerDetection(3, _project(rover, 0.0, 0.0))
    exact_plane = fiducials._depth_plane(det, exact.astype(np.float32), K)
    assert exact_plane is not None
    for seed in range(5):
        rng = np.random.default_rng(seed)
        noisy = 22.35 / (22.35 / exact + rng.normal(0.0, 0.22, exact.shape))
        plane = fiducials._depth_plane(det, noisy.astype(np.float32), K)
        assert plane is not None
        angle = math.acos(min(1.0, abs(float(plane[2] @ exact_plane[2]))))
        assert (angle > 1.0) if turned else (angle < 0.15)
