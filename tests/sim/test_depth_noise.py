"""The datasheet camera (issue 16): a stereo camera's depth error grows with the square of
range and is within its datasheet's bound; it gives no depth beyond its range or on
ground seen at a grazing angle; a frame arrives after its capture, stamped with it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from lunarsite.robot.config import CameraConfig, RoverConfig, StereoDepthConfig
from lunarsite.robot.types import Pose2
from lunarsite.sim.config import SimConfig
from lunarsite.sim.depth_noise import stereo_depth
from lunarsite.sim.world import LunarWorld

from ..conftest import shipped_rover
from .conftest import flat_terrain

H, W, FOV = 240, 320, 0.8


@pytest.fixture(scope="module")
def d435() -> RoverConfig:
    return shipped_rover("excavator_66kg_d435")


def _stereo(rover: RoverConfig) -> StereoDepthConfig:
    assert rover.camera is not None and rover.camera.stereo is not None
    return rover.camera.stereo


def _error_std(model: StereoDepthConfig, range_m: float, seed: int = 0) -> float:
    """Depth error (1σ) over a wall facing the camera at ``range_m``."""
    wall = np.full((H, W), range_m)
    seen = stereo_depth(wall, FOV, model, np.random.default_rng(seed))
    valid = seen > 0.0
    assert valid.mean() > 0.99
    return float(np.std(seen[valid] - range_m))


def test_depth_error_grows_with_the_square_of_range_within_the_datasheet(
    d435: RoverConfig,
) -> None:
    model = _stereo(d435)
    at_1, at_2, at_4 = (_error_std(model, r) for r in (1.0, 2.0, 4.0))
    assert at_2 / at_1 == pytest.approx(4.0, rel=0.05)
    assert at_4 / at_2 == pytest.approx(4.0, rel=0.08)
    # The D435 datasheet: depth RMS error within 2% at 2 m; several centimetres.
    assert 0.01 < at_2 <= 0.02 * 2.0 * 1.05


def test_no_depth_nearer_or_farther_than_its_range(d435: RoverConfig) -> None:
    model = _stereo(d435)
    rng = np.random.default_rng(1)
    assert not stereo_depth(np.full((H, W), 0.2), FOV, model, rng).any()  # min 0.28 m
    assert not stereo_depth(np.full((H, W), 12.0), FOV, model, rng).any()  # max 10 m


def test_ground_seen_at_a_grazing_angle_has_no_depth(d435: RoverConfig) -> None:
    """Flat ground under a camera 0.7 m up, tilted 0.25 rad down: a pixel's line of sight
    meets the ground at incidence arccos(n·r/|r|) from the ground's normal n; beyond the
    model's 1.4 rad the camera gives no depth. Computed from the rays, not the image."""
    model = _stereo(d435)
    height_m, pitch = 0.7, 0.25
    f = 0.5 * H / math.tan(0.5 * FOV)
    v, u = np.mgrid[0:H, 0:W]
    rays = np.stack([(u - 0.5 * (W - 1)) / f, (v - 0.5 * (H - 1)) / f, np.ones((H, W))], -1)
    down = np.array([0.0, math.cos(pitch), math.sin(pitch)])  # gravity in the camera frame
    along = rays @ down
    ground = along > 1e-6
    depth = np.where(ground, height_m / np.where(ground, along, 1.0), 50.0)
    incidence = np.arccos(np.clip(along / np.linalg.norm(rays, axis=-1), 0.0, 1.0))
    expect = ground & (incidence <= model.max_incidence_rad) & (depth <= model.max_range_m)
    seen = stereo_depth(depth, FOV, model, np.random.default_rng(2)) > 0.0
    inner = (slice(2, H - 2), slice(2, W - 2))  # the image's own border rows differ
    agree = float(np.mean(seen[inner] == expect[inner]))
    assert agree > 0.98
    assert expect.mean() > 0.2 and (~expect & ground).mean() > 0.05  # both kinds present


def test_a_camera_file_that_asks_for_two_depth_models_or_a_long_latency_is_refused() -> None:
    stereo = StereoDepthConfig(
        part="x", baseline_m=0.05, focal_px=400.0, disparity_std_px=0.1,
        min_range_m=0.3, max_range_m=10.0,
    )  # fmt: skip
    base = {"width_px": 320, "height_px": 240, "vertical_fov_rad": 0.8, "rate_hz": 5.0}
    with pytest.raises(ValidationError, match="either depth_noise_std_m or stereo"):
        CameraConfig(**base, stereo=stereo, depth_noise_std_m=0.005)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="ten frame periods"):
        CameraConfig(**base, latency_s=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="max_range_m"):
        StereoDepthConfig(
            part="x", baseline_m=0.05, focal_px=400.0, disparity_std_px=0.1,
            min_range_m=3.0, max_range_m=1.0,
        )  # fmt: skip


@pytest.mark.slow
def test_a_frame_arrives_latency_after_its_capture_stamped_with_it(d435: RoverConfig) -> None:
    cam = d435.camera
    assert cam is not None and cam.latency_s > 0.0
    period = 1.0 / cam.rate_hz
    world = LunarWorld(flat_terrain(8.0, 0.1), SimConfig(render_camera=True))
    ages = []
    stamps = set()
    with world:
        rover = world.add_rover(d435, Pose2(4.0, 4.0, 0.0), rng=np.random.default_rng(0))
        rover.configure()
        rover.activate()
        for _ in range(60):  # 3 s at 20 Hz
            world.clock.sleep_s(0.05)
            frame = rover.read_camera()
            ages.append(world.sim_time_s - frame.stamp_s)
            stamps.add(frame.stamp_s)
    steady = ages[10:]
    dt = 1.0 / world.config.physics_hz
    assert min(steady) >= cam.latency_s - 1e-9  # never newer than the latency allows
    assert max(steady) <= cam.latency_s + period + dt + 1e-9  # the newest one delivered
    assert len(stamps) >= 13  # a new frame every period
