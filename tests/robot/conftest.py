"""Shared fixtures for the controller tests: a small rover built in Python, a mock of it,
and a range scan of a walled site."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive import Skill
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.types import Pose2, SensedState

RoverFactory = Callable[..., RoverConfig]


def _small_rover(
    *,
    effective_track_factor: float = 1.0,
    ticks_per_rev: int = 1000,
    imu: dict[str, Any] | None = None,
    encoder_noise_std_ticks: float = 0.0,
) -> RoverConfig:
    """A lab-sized 4-wheel skid steer: r = 0.1 m, track 0.4 m, top wheel speed 0.5 m/s."""
    return RoverConfig(
        name="test_rover",
        chassis={"length_m": 0.5, "width_m": 0.3, "height_m": 0.15, "mass_kg": 12.0},
        wheels={
            "radius_m": 0.1,
            "width_m": 0.06,
            "mass_kg": 0.4,
            "wheelbase_m": 0.35,
            "track_m": 0.4,
        },
        drive={
            "max_wheel_torque_nm": 3.0,
            "max_wheel_speed_radps": 5.0,
            "max_speed_mps": 0.4,
            "max_yaw_rate_radps": 1.0,
            "max_accel_mps2": 0.5,
            "effective_track_factor": effective_track_factor,
        },
        encoders={"ticks_per_rev": ticks_per_rev, "noise_std_ticks": encoder_noise_std_ticks},
        imu=imu or {},
        tools=(
            {
                "name": "scoop",
                "kind": "scoop",
                "mount_xyz_m": (0.25, 0.0, 0.0),
                "arm_length_m": 0.3,
                "width_m": 0.2,
                "depth_m": 0.1,
                "height_m": 0.08,
                "mass_kg": 1.0,
                "capacity_m3": 0.001,
                "joints": (
                    {
                        "name": "lift",
                        "lower_rad": -0.5,
                        "upper_rad": 1.2,
                        "max_speed_radps": 0.5,
                        "max_torque_nm": 10.0,
                    },
                    {
                        "name": "curl",
                        "lower_rad": -1.0,
                        "upper_rad": 1.0,
                        "max_speed_radps": 1.0,
                        "max_torque_nm": 5.0,
                    },
                ),
            },
        ),
        limits={"max_slope_rad": 0.35, "max_step_m": 0.05},
        battery={"nominal_v": 14.8, "capacity_wh": 60.0},
    )


@pytest.fixture
def make_rover_config() -> RoverFactory:
    """Build the small test rover with overrides (see ``_small_rover``)."""
    return _small_rover


@pytest.fixture
def rover_config() -> RoverConfig:
    return _small_rover()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mock_rover(rover_config: RoverConfig, clock: ManualClock) -> MockRover:
    """An unconfigured mock rover at the origin, facing +x."""
    return MockRover(rover_config, clock, Pose2(0.0, 0.0, 0.0))


@pytest.fixture
def active_rover(mock_rover: MockRover) -> MockRover:
    """The mock rover, configured and active."""
    mock_rover.configure()
    mock_rover.activate()
    return mock_rover


def scan_of_walls(truth: tuple[float, float, float], size: tuple[float, float]) -> RangeScan:
    """A level 360-ray scan from a chassis at ``truth`` inside walls round ``size``, with
    a few returns off something nearer (a bucket) and no return behind it."""
    x, y, yaw = truth
    az = np.linspace(-math.pi, math.pi, 360, endpoint=False)
    dirs = np.column_stack([np.cos(az), np.sin(az), np.zeros_like(az)])
    wx, wy = np.cos(az + yaw), np.sin(az + yaw)
    with np.errstate(divide="ignore"):
        tx = np.where(wx > 0, (size[0] - x) / wx, np.where(wx < 0, -x / wx, np.inf))
        ty = np.where(wy > 0, (size[1] - y) / wy, np.where(wy < 0, -y / wy, np.inf))
    ranges = np.minimum(tx, ty)
    ranges[np.abs(az) < 0.15] = 0.9  # the bucket in front
    return RangeScan(0.0, (0.0, 0.0, 0.35), dirs, ranges, 10.0)


def walls_seen_by(rover: MockRover, size: tuple[float, float]) -> Callable[[], RangeScan]:
    """A level scanner on ``rover``'s true pose inside walls round ``size``
    (:func:`scan_of_walls`)."""

    def scan() -> RangeScan:
        p = rover.true_pose
        return scan_of_walls((p.x_m, p.y_m, p.yaw_rad), size)

    return scan


class Sensing(Skill):
    """Updates the pilot every tick, then runs ``inner`` (as a task does)."""

    def __init__(self, pilot: Pilot, inner: Skill) -> None:
        super().__init__("sensing")
        self.pilot, self.inner = pilot, inner

    def _on_tick(self, sensed: SensedState, now_s: float) -> Any:
        self.pilot.sense(sensed)
        return self.inner.tick(sensed, now_s)
