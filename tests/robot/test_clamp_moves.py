"""Standing so that a unit held off the jaws' middle goes down on its target."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive.compose import Script
from lunarsite.robot.hardware.mock import ManualClock
from lunarsite.robot.planning.assembly import AssemblyParams, AssemblyPlan
from lunarsite.robot.planning.assembly_access import AccessMap
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.site.modules import Catalog, Placement
from lunarsite.robot.tasks.clamp_moves import ClampMoves, stand_for
from lunarsite.robot.tasks.placement import PlacementTaskParams
from lunarsite.robot.types import Pose2, wrap_angle
from tests.conftest import shipped_rover
from tests.robot.conftest import Sensing, walls_seen_by
from tests.robot.test_assembly import PAVER
from tests.robot.test_dig_dump import HZ, _run
from tests.robot.test_travel import _TurnCountingMock

SITE = (10.0, 7.0)


@pytest.mark.parametrize(
    ("held", "heading"),
    [
        ((1.0, 0.0, 0.0), 0.0),
        ((1.012, -0.008, 0.02), 0.0),
        ((0.985, 0.015, -0.03), 0.5 * math.pi),
        ((1.003, 0.004, 0.01), -2.5),
    ],
)
def test_the_unit_in_the_jaws_lands_on_its_target(
    held: tuple[float, float, float], heading: float
) -> None:
    target = Placement("a", "paver_tile", 6.0, 3.0, heading)
    stand, h, pre = stand_for(held, target, heading, 0.76)
    # Carry the unit from that stand: it sits ``ahead`` along and ``left`` across the
    # rover's heading, turned ``turn`` from it.
    ahead, left, turn = held
    x = stand[0] + ahead * math.cos(h) + left * math.cos(h + 0.5 * math.pi)
    y = stand[1] + ahead * math.sin(h) + left * math.sin(h + 0.5 * math.pi)
    assert (x, y) == pytest.approx((6.0, 3.0), abs=1e-9)
    assert wrap_angle(h + turn - heading) == pytest.approx(0.0, abs=1e-9)
    # The pre-approach pose is the run-in behind the stand, on the line of approach.
    assert math.dist(pre, stand) == pytest.approx(0.76)
    assert math.atan2(stand[1] - pre[1], stand[0] - pre[0]) == pytest.approx(
        wrap_angle(h), abs=1e-9
    )


@pytest.fixture(scope="module")
def placer() -> RoverConfig:
    return shipped_rover("placer_66kg")


def _params() -> PlacementTaskParams:
    grid = GridSpec((0.025, 0.025), 0.05, (140, 200))
    return PlacementTaskParams(
        plan=AssemblyPlan((), (), (1.0, 1.0)),
        catalog=Catalog(types=(PAVER,)),
        access=AccessMap(grid, np.zeros(grid.shape, dtype=bool), (0.8,)),
        geometry=AssemblyParams(rover_radius_m=0.7, grip_ahead_m=1.0),
    )


@pytest.mark.parametrize("past_m", [0.06, 0.5, -0.3])
def test_a_pre_approach_pose_a_little_off_is_reached_without_turning_to_face_it(
    placer: RoverConfig, past_m: float
) -> None:
    # Facing the pose's heading, ``past_m`` beyond it and 5 cm to its left. Turning to
    # face a point that near is a turn of up to π there and back (and, round the placer's
    # real pivot, a swing of the chassis that moves the point's bearing again).
    target, heading = (4.0, 3.0), math.pi
    start = Pose2(target[0] - past_m, target[1] - 0.05, heading)
    rover = _TurnCountingMock(placer, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(placer, start, control_hz=HZ)
    pilot.apply_fix(start)
    moves = ClampMoves(
        pilot, placer, placer.tools[0], _params(),
        scanner=walls_seen_by(rover, SITE), site_size_m=SITE, camera=None,
    )  # fmt: skip
    body = moves.go(target, heading, 0.8)
    assert _run(rover, Sensing(pilot, Script(body)), limit_s=120.0).results[0].succeeded
    end = rover.true_pose
    assert math.dist((end.x_m, end.y_m), target) <= 0.04
    assert rover.turned_in_place_rad < 0.2


def test_turns_pivot_behind_empty_and_ahead_with_a_paver_never_past_the_front_axle(
    placer: RoverConfig,
) -> None:
    params = _params()
    half_wheelbase = 0.5 * placer.wheels.wheelbase_m
    # Empty, the batteries load the rear axle; a paver 1 m ahead loads the front one.
    assert -half_wheelbase < params.pivot_ahead_m(0.0) < 0.0
    assert 0.0 < params.pivot_ahead_m(10.8) <= half_wheelbase
    assert params.pivot_ahead_m(200.0) == pytest.approx(half_wheelbase)
