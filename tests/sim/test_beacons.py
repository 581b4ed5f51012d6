"""ArUco pose recovery from markers rendered at known poses in PyBullet."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.perception.fiducials import (
    CameraMount,
    FiducialDetector,
    SurveyedMarker,
    camera_matrix,
    marker_rotation_in_site,
)
from lunarsite.robot.perception.marker_fixes import landmark_fix, pose_fix
from lunarsite.robot.types import CameraFrame, Pose2, RoverCommand, wrap_angle
from lunarsite.sim.beacons import add_beacons
from lunarsite.sim.truth import TruePose
from lunarsite.sim.world import LunarWorld, SimError
from tests.sim.conftest import flat_terrain

MARKER = SurveyedMarker(marker_id=7, x_m=6.0, y_m=5.0, z_m=0.45, yaw_rad=math.pi, size_m=0.2)


def _render(
    world: LunarWorld, rover: Pose2, mount: CameraMount, width: int, height: int, fov: float
) -> CameraFrame:
    """What a camera on a level rover at ``rover`` sees (same conventions as SimRover)."""
    c, s = math.cos(rover.yaw_rad), math.sin(rover.yaw_rad)
    mx, my, mz = mount.xyz_m
    eye = np.array([rover.x_m + c * mx - s * my, rover.y_m + s * mx + c * my, mz])
    p = mount.pitch_rad
    fwd = np.array([c * math.cos(p), s * math.cos(p), -math.sin(p)])
    up = np.array([c * math.sin(p), s * math.sin(p), math.cos(p)])
    cl = world.client
    view = cl.computeViewMatrix(eye.tolist(), (eye + fwd).tolist(), up.tolist())
    proj = cl.computeProjectionMatrixFOV(
        fov=math.degrees(fov), aspect=width / height, nearVal=0.05, farVal=30.0
    )
    _, _, rgba, _, _ = cl.getCameraImage(
        width, height, viewMatrix=view, projectionMatrix=proj, renderer=pb.ER_TINY_RENDERER
    )
    rgb = np.reshape(np.asarray(rgba, dtype=np.uint8), (height, width, 4))[:, :, :3]
    return CameraFrame(0.0, np.ascontiguousarray(rgb), np.zeros((height, width), np.float32), fov)


@pytest.fixture(scope="module")
def world() -> LunarWorld:
    w = LunarWorld(flat_terrain(10.0, 0.1))
    add_beacons(w, [MARKER])
    yield w  # type: ignore[misc]
    w.close()


@pytest.mark.parametrize(
    "rover",
    [
        Pose2(4.5, 5.0, 0.0),  # 1.5 m straight ahead
        Pose2(3.5, 5.6, -0.3),  # 2.6 m, off to one side, marker off-centre
        Pose2(3.0, 4.0, 0.25),  # 3.2 m, oblique view of the face
    ],
)
def test_marker_pose_gives_the_camera_pose(world: LunarWorld, rover: Pose2) -> None:
    mount = CameraMount((0.3, 0.0, 0.5), 0.1)
    frame = _render(world, rover, mount, 640, 480, 0.8)
    det = FiducialDetector({MARKER.marker_id: MARKER.size_m})
    (obs,) = det.observe(frame)
    assert obs.marker_id == MARKER.marker_id
    true_range = math.dist(
        (rover.x_m + 0.3 * math.cos(rover.yaw_rad), rover.y_m + 0.3 * math.sin(rover.yaw_rad), 0.5),
        (MARKER.x_m, MARKER.y_m, MARKER.z_m),
    )
    assert obs.range_m == pytest.approx(true_range, rel=0.02)

    fix = landmark_fix(obs, MARKER, mount)
    dx, dy = MARKER.x_m - rover.x_m, MARKER.y_m - rover.y_m
    c, s = math.cos(rover.yaw_rad), math.sin(rover.yaw_rad)
    assert fix.offset_xy_m[0] == pytest.approx(c * dx + s * dy, abs=0.04)
    assert fix.offset_xy_m[1] == pytest.approx(-s * dx + c * dy, abs=0.04)

    pose, cov = pose_fix(obs, MARKER, mount)
    assert abs(wrap_angle(pose.yaw_rad - rover.yaw_rad)) < 0.08
    assert math.hypot(pose.x_m - rover.x_m, pose.y_m - rover.y_m) < 0.25
    assert cov.shape == (3, 3)


def test_unsurveyed_marker_is_ignored(world: LunarWorld) -> None:
    frame = _render(world, Pose2(4.5, 5.0, 0.0), CameraMount((0.3, 0.0, 0.5), 0.1), 640, 480, 0.8)
    assert FiducialDetector({99: 0.2}).observe(frame) == []
    assert [d.marker_id for d in FiducialDetector({99: 0.2}).detect(frame.rgb)] == [7]


def _excavator_view(
    excavator: RoverConfig, start: Pose2
) -> tuple[CameraFrame, TruePose, tuple[np.ndarray, np.ndarray]]:
    """The excavator's camera frame on flat ground with the beacon, boom lowered (at its
    home pose the raised bucket hides the view ahead), and where the rover truly is: its
    pose and its chassis frame (centre, rotation) as the camera is mounted on it."""
    world = LunarWorld(flat_terrain(10.0, 0.1))
    with world:
        add_beacons(world, [MARKER])
        rover = world.add_rover(excavator, start, rng=np.random.default_rng(0))
        rover.configure()
        rover.activate()
        rover.write(RoverCommand(tool_targets_rad={"boom_lift": -0.6}))
        world.clock.sleep_s(3.0)
        return rover.read_camera(), world.truth.rover_pose(rover), rover.chassis_frame()


def test_rover_camera_fixes_the_rover_on_its_start(excavator: RoverConfig) -> None:
    """End to end: the excavator's own camera sees the start beacon; the fix matches truth."""
    frame, truth, _ = _excavator_view(excavator, Pose2(4.0, 5.15, -0.1))
    assert excavator.camera is not None
    (obs,) = FiducialDetector({MARKER.marker_id: MARKER.size_m}).observe(frame)
    fix = landmark_fix(
        obs, MARKER, CameraMount.from_config(excavator.camera), truth.roll_rad, truth.pitch_rad
    )
    dx, dy = MARKER.x_m - truth.x_m, MARKER.y_m - truth.y_m
    c, s = math.cos(truth.yaw_rad), math.sin(truth.yaw_rad)
    # 320 × 240 px: the 20 cm marker spans ~30 px at 2 m, so ~2% in range.
    assert fix.offset_xy_m[0] == pytest.approx(c * dx + s * dy, rel=0.03)
    assert fix.offset_xy_m[1] == pytest.approx(-s * dx + c * dy, abs=0.03)


def test_the_rover_camera_draws_the_pinhole_the_controller_assumes(excavator: RoverConfig) -> None:
    """The marker's surveyed corners, put through the rover file's pinhole
    (``camera_matrix``) from where the camera truly is, land where the detector finds
    them: TinyRenderer's half-pixel offset is taken out (it was (+0.5, -0.5) px)."""
    assert excavator.camera is not None
    cam = excavator.camera
    frame, _, (pos, rot) = _excavator_view(excavator, Pose2(3.6, 5.2, -0.05))
    (det,) = FiducialDetector({MARKER.marker_id: MARKER.size_m}).detect(frame.rgb)
    mount = CameraMount.from_config(cam)
    eye = pos + rot @ np.asarray(mount.xyz_m)
    site_from_camera = rot @ mount.rotation_chassis_camera()
    h = 0.5 * MARKER.size_m
    corners_marker = np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])
    centre = np.array([MARKER.x_m, MARKER.y_m, MARKER.z_m])
    corners_site = centre + corners_marker @ marker_rotation_in_site(MARKER).T
    in_camera = (corners_site - eye) @ site_from_camera  # rows: camera-frame points
    K = camera_matrix(cam.width_px, cam.height_px, cam.vertical_fov_rad)
    projected = (in_camera / in_camera[:, 2:3]) @ K.T
    offset = det.corners_px - projected[:, :2]
    # Corner noise averages out over the four; a half-pixel offset would not.
    assert np.all(np.abs(offset.mean(axis=0)) < 0.2), offset


def test_bad_beacons_are_refused() -> None:
    world = LunarWorld(flat_terrain(4.0, 0.1))
    with world:
        with pytest.raises(SimError, match="off site"):
            add_beacons(world, [SurveyedMarker(1, 9.0, 1.0, 0.4, 0.0, 0.2)])
        with pytest.raises(SimError, match="below the ground"):
            add_beacons(world, [SurveyedMarker(1, 1.0, 1.0, 0.05, 0.0, 0.2)])
        with pytest.raises(SimError, match="not in DICT_4X4_50"):
            add_beacons(world, [SurveyedMarker(500, 1.0, 1.0, 0.4, 0.0, 0.2)])
