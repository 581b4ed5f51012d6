"""A wall fix from a tilted chassis: the scan is levelled by the tilt before the fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.motions import Straight, TurnTo
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive import Agent, ControlLoop, Sequence
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.perception.walls import fit_walls
from lunarsite.robot.types import Pose2
from tests.robot.conftest import Sensing

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


# ------------------------------------------------------------ where a search may look
BIG_SITE = (12.0, 10.0)
BERM_X_M = 8.4


def _scan_with_a_berm(x: float, y: float) -> RangeScan:
    """A level fan of 200 rays ±1.2 rad about east from (x, y) facing east, in a
    ``BIG_SITE`` with a north-south berm standing across the view at ``BERM_X_M`` (returns
    off its face where the ray would reach the east wall), and the west wall behind out of
    view: the berm's face is the most wall-like thing in the scan."""
    az = np.linspace(-1.2, 1.2, 200)
    dirs = np.column_stack([np.cos(az), np.sin(az), np.zeros_like(az)])
    with np.errstate(divide="ignore"):
        tx = (BERM_X_M - x) / np.cos(az)
        ty = np.where(az > 0, (BIG_SITE[1] - y) / np.sin(az), -y / np.sin(az))
    return RangeScan(0.0, (0.0, 0.0, 0.4), dirs, np.minimum(np.abs(tx), np.abs(ty)), 20.0)


def test_a_site_search_takes_a_berm_for_a_wall_unless_told_where_the_rover_can_be() -> None:
    truth = (2.6, 2.7)
    guess = Pose2(3.6, 2.7, 0.0)  # a metre of slip: beyond the local fit's first gate
    scan = _scan_with_a_berm(*truth)
    assert fit_walls(guess, scan, BIG_SITE) is None
    # Unbounded, the berm's face is fitted as the east wall: the rover "is" where the
    # berm stands as far from the east wall as it stands from the berm.
    lost = fit_walls(guess, scan, BIG_SITE, search=True)
    assert lost is not None
    assert lost.x_m == pytest.approx(BIG_SITE[0] - (BERM_X_M - truth[0]), abs=0.05)
    # Bounded by where the wheels could have carried it (1.5 m round its last fix at
    # x 2.3), that pose is out of reach: the search refuses rather than jump 3.6 m.
    assert fit_walls(guess, scan, BIG_SITE, search=True, within=(2.3, 2.7, 1.5)) is None


def test_the_pilot_bounds_where_it_can_be_by_how_far_its_wheels_took_it(
    excavator: RoverConfig,
) -> None:
    start = Pose2(2.0, 2.0, 0.0)
    rover = MockRover(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, start, control_hz=20.0)
    x0, y0, slack = pilot.fix_bound()
    assert (x0, y0) == (2.0, 2.0) and 0.0 < slack < 1.0
    legs = Sequence([Straight(pilot, 1.0, 0.25, 0.0), TurnTo(pilot, math.pi / 2)])
    ControlLoop([Agent(rover, Sensing(pilot, legs))], rate_hz=20.0, time_limit_s=60.0).run()
    x, y, radius = pilot.fix_bound()
    assert (x, y) == (2.0, 2.0)
    # A metre driven and a quarter turn: the bound grows by the metre and by something
    # for the turn (a turn in place can swing the chassis), but not by metres more.
    assert slack + 0.95 + 0.2 < radius < slack + 1.05 + 0.5 * math.pi / 2
    pilot.apply_fix(Pose2(3.0, 2.0, math.pi / 2))
    assert pilot.fix_bound() == (3.0, 2.0, slack)


def test_a_fit_from_the_estimate_that_flies_off_is_no_fit() -> None:
    # A narrow view south-south-west, a pile cutting short a third of it: the returns on
    # the walls within 0.6 m of where the estimate puts them are few and one-sided, and
    # their least squares swings the pose 1.3 m and 0.17 rad (found by a random search
    # over such scenes; 1 in 20,000).
    x, y, yaw = 4.0873, 3.5626, -1.7710
    az = np.linspace(-0.821, 0.821, 200)
    wx, wy = np.cos(az + yaw), np.sin(az + yaw)
    with np.errstate(divide="ignore"):
        tx = np.where(wx > 0, (BIG_SITE[0] - x) / wx, -x / wx)
        ty = np.where(wy > 0, (BIG_SITE[1] - y) / wy, -y / wy)
    ranges = np.minimum(tx, ty)
    ranges = np.where(np.abs(az - 0.545) < 0.8105, np.minimum(ranges, 2.8633), ranges)
    dirs = np.column_stack([np.cos(az), np.sin(az), np.zeros_like(az)])
    scan = RangeScan(0.0, (0.0, 0.0, 0.0), dirs, ranges, 20.0)
    guess = Pose2(3.9562, 3.8134, -1.8467)
    fixed = fit_walls(guess, scan, BIG_SITE)
    assert fixed is None or math.hypot(fixed.x_m - x, fixed.y_m - y) < 0.1
