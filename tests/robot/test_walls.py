"""A wall fix from a tilted chassis: the scan is levelled by the tilt before the fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.perception.walls import fit_walls
from lunarsite.robot.types import Pose2

SITE = (10.0, 7.0)
MAST = (0.0, 0.0, 0.8)


def _tilted_scan(x: float, y: float, yaw: float, roll: float, pitch: float) -> RangeScan:
    """Rays from a mast 0.8 m up, fanned round the chassis at three elevations in its own
    frame, cast from the tilted chassis to the site's vertical walls (ground ignored)."""
    az, el = np.meshgrid(np.linspace(-math.pi, math.pi, 240, endpoint=False), [-0.03, 0.0, 0.03])
    az, el = az.ravel(), el.ravel()
    dirs = np.column_stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    # Chassis to site: yaw about z, then pitch about y (nose down positive), roll about x,
    # written out here rather than taken from the code under test.
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    rot = rz @ ry @ rx
    origin = np.array([x, y, 0.4]) + rot @ np.asarray(MAST)
    world = dirs @ rot.T
    with np.errstate(divide="ignore"):
        tx = np.where(
            world[:, 0] > 0, (SITE[0] - origin[0]) / world[:, 0], -origin[0] / world[:, 0]
        )
        ty = np.where(
            world[:, 1] > 0, (SITE[1] - origin[1]) / world[:, 1], -origin[1] / world[:, 1]
        )
    ranges = np.minimum(np.abs(tx), np.abs(ty))
    return RangeScan(0.0, MAST, dirs, ranges, 20.0)


@pytest.mark.parametrize("yaw", [0.0, 1.2, -2.5])
def test_a_pitched_chassis_is_fixed_where_it_stands(yaw: float) -> None:
    truth = Pose2(4.0, 3.0, yaw)
    roll, pitch = 0.004, 0.008  # the nose let down by a load in the jaws
    scan = _tilted_scan(truth.x_m, truth.y_m, yaw, roll, pitch)
    guess = Pose2(4.05, 2.96, yaw + 0.01)
    level = fit_walls(guess, scan, SITE)
    levelled = fit_walls(guess, scan, SITE, tilt_rad=(roll, pitch))
    assert level is not None and levelled is not None
    # Taken as level, the fix is off by the mast's height times the tilt: 6.4 mm ahead
    # for the pitch (and 3.2 mm aside for the roll).
    ahead = (level.x_m - truth.x_m) * math.cos(yaw) + (level.y_m - truth.y_m) * math.sin(yaw)
    assert ahead == pytest.approx(0.8 * math.sin(pitch), abs=1e-3)
    err = math.hypot(levelled.x_m - truth.x_m, levelled.y_m - truth.y_m)
    assert err < 5e-4
    assert levelled.yaw_rad == pytest.approx(yaw, abs=1e-3)


def test_the_tilt_at_rest_needs_the_accelerometer_bias(excavator: RoverConfig) -> None:
    pilot = Pilot(excavator, Pose2(0.0, 0.0, 0.0), control_hz=20.0)
    g = 1.62
    pitch = 0.01  # nose down: gravity reads along -x of the body
    reading = (-g * math.sin(pitch) + 0.01, 0.0, g * math.cos(pitch))
    assert pilot.tilt_at_rest_rad(reading) is None
    pilot.accel_bias_mps2 = (0.01, 0.0, 0.0)
    tilt = pilot.tilt_at_rest_rad(reading)
    assert tilt is not None
    assert tilt[1] == pytest.approx(pitch, abs=1e-6) and tilt[0] == pytest.approx(0.0, abs=1e-9)
