"""The half-turn accelerometer calibration on a mock rover standing on a slope."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.control.level import calibrate_accel_bias
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive import Agent, ControlLoop
from lunarsite.robot.executive.compose import Script
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.types import Pose2, SensedState
from tests.robot.conftest import Sensing

SLOPE = (0.05, -0.03)  # ground rising 5% to the east and falling 3% to the north
BIAS = (0.012, -0.007)  # m/s²


class _SlopeRover(MockRover):
    """A mock whose accelerometer reads gravity on a tilted plane, plus a bias."""

    def _on_read(self) -> SensedState:
        s = super()._on_read()
        yaw = self.true_pose.yaw_rad
        # Nose-up pitch along the heading and left-up roll across it, from the slope.
        along = SLOPE[0] * math.cos(yaw) + SLOPE[1] * math.sin(yaw)
        across = -SLOPE[0] * math.sin(yaw) + SLOPE[1] * math.cos(yaw)
        g = LUNAR_GRAVITY_MPS2
        ax = g * math.sin(math.atan(along)) + BIAS[0]
        ay = -g * math.sin(math.atan(across)) + BIAS[1]
        return dataclasses.replace(s, accel_mps2=(ax, ay, g))


@pytest.mark.parametrize("yaw", [0.0, 1.0, -2.5])
def test_a_half_turn_separates_the_bias_from_the_slope(excavator: RoverConfig, yaw: float) -> None:
    rover = _SlopeRover(excavator, ManualClock(), Pose2(3.0, 3.0, yaw))
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, Pose2(3.0, 3.0, yaw), control_hz=20.0)
    out: list[tuple[float, float, float]] = []
    task = Sensing(pilot, Script(calibrate_accel_bias(pilot, out)))
    result = ControlLoop([Agent(rover, task)], rate_hz=20.0, time_limit_s=120.0).run()
    assert result.results[0].succeeded
    assert len(out) == 1
    assert out[0][:2] == pytest.approx(BIAS, abs=1e-3)
    # Read at one heading only, the slope would have been taken for bias.
    one_sided = np.asarray(rover.read().accel_mps2[:2]) - np.asarray(BIAS)
    assert np.max(np.abs(one_sided)) > 0.03
    assert (
        abs(pilot.pose.yaw_rad - yaw) < 0.1
        or abs(abs(pilot.pose.yaw_rad - yaw) - 2 * math.pi) < 0.1
    )
