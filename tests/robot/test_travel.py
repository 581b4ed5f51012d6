"""Travel between stations: legs on a line, corrections without turning in place, and
the push that gets a held rover off (:mod:`lunarsite.robot.control.travel`)."""

from __future__ import annotations

import math

import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.motions import Straight
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.control.travel import travel_direct
from lunarsite.robot.executive.compose import Script, ScriptBody
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.types import Pose2, wrap_angle
from tests.robot.conftest import Sensing, walls_seen_by
from tests.robot.test_dig_dump import ARENA, HZ, _excavator_on_mock, _run, _SpinningMock


@pytest.mark.parametrize("distance_m", [1.0, -1.0])
def test_a_leg_on_a_line_closes_on_it_forwards_and_backwards(
    excavator: RoverConfig, distance_m: float
) -> None:
    start = Pose2(2.0, 2.1, 0.05)  # 0.1 m left of the line y = 2, nosing further left
    rover, pilot = _excavator_on_mock(excavator, start)
    leg = Straight(pilot, distance_m, 0.15, 0.0, line_through_m=(0.0, 2.0))
    result = _run(rover, Sensing(pilot, leg))
    assert result.results[0].succeeded
    end = rover.true_pose
    # Over 1 m, a 0.3 m look-ahead closes the offset to e^(-1/0.3) ≈ 4% of it (and the
    # heading's own lag adds a little): well under 2 cm of the 10 cm left.
    assert abs(end.y_m - 2.0) < 0.02
    assert end.x_m == pytest.approx(2.0 + distance_m, abs=0.03)
    plain = _excavator_on_mock(excavator, start)
    _run(plain[0], Sensing(plain[1], Straight(plain[1], distance_m, 0.15, 0.0)))
    assert abs(plain[0].true_pose.y_m - 2.0) > 0.09  # holding the heading alone does not


class _TurnCountingMock(MockRover):
    """Adds up how far the chassis turned in place (its centre standing), in rad."""

    turned_in_place_rad = 0.0

    def _step(self, dt_s: float) -> None:
        x, y, yaw = self._x_m, self._y_m, self._yaw_rad
        super()._step(dt_s)
        if math.hypot(self._x_m - x, self._y_m - y) < 1e-5:
            self.turned_in_place_rad += abs(wrap_angle(self._yaw_rad - yaw))


@pytest.mark.parametrize(
    ("along_m", "reverse_within_m"), [(0.04, 1.0), (-0.06, 1.0), (0.6, 1.0), (-1.9, math.inf)]
)
def test_a_miss_beside_the_target_is_closed_on_the_line_without_turning(
    excavator: RoverConfig, along_m: float, reverse_within_m: float
) -> None:
    # Facing the stand's heading, 8 cm to its left and a little short of it, past it or
    # well short: a turn in place towards it would be ~1.1 rad there and back (on worked
    # ground each slips ~0.1 m); backing off and driving in on the line turns while it
    # drives, and not in place. The haul's way back out of a trench it straddles allows
    # any distance backwards (held 1.9 m short of it on a ridge, trench seed 1 turned
    # round over the trench and dropped a wheel in).
    target = (3.0, 2.0)
    start = Pose2(target[0] - along_m, 2.08, 0.0)
    rover = _TurnCountingMock(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, start, control_hz=HZ)

    scan = walls_seen_by(rover, ARENA)
    body = travel_direct(
        pilot,
        target,
        0.0,
        0.2,
        0.1,
        scan,
        ARENA,
        tolerance_m=0.02,
        reverse_within_m=reverse_within_m,
    )
    result = _run(rover, Sensing(pilot, Script(body)), limit_s=120.0)
    assert result.results[0].succeeded
    end = rover.true_pose
    assert math.hypot(end.x_m - target[0], end.y_m - target[1]) <= 0.02
    assert rover.turned_in_place_rad < 0.05
    assert abs(wrap_angle(end.yaw_rad)) < 0.1


def test_a_leg_the_fix_finds_slipped_runs_the_unstick_then_goes_on(
    excavator: RoverConfig,
) -> None:
    start = Pose2(2.0, 2.0, 0.0)
    rover = _SpinningMock(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, start, control_hz=HZ)
    pilot.apply_fix(start)
    pushes: list[Pose2] = []

    scan = walls_seen_by(rover, ARENA)

    def unstick() -> ScriptBody:  # the push frees the wheels
        pushes.append(rover.true_pose)
        rover.held = False
        yield Straight(pilot, -0.2, 0.1, pilot.pose.yaw_rad)
        return None

    body = travel_direct(pilot, (3.5, 2.0), 0.0, 0.2, 0.1, scan, ARENA, unstick=unstick)
    result = _run(rover, Sensing(pilot, Script(body)), limit_s=300.0)
    assert result.results[0].succeeded
    # The first leg spun in place; the fix saw it, the push ran once, there, and the
    # next leg went where it was sent.
    assert len(pushes) == 1 and math.hypot(pushes[0].x_m - 2.0, pushes[0].y_m - 2.0) < 1e-9
    assert pilot.slips == 1 and pilot.slips_in_a_row == 0
    end = rover.true_pose
    assert math.hypot(end.x_m - 3.5, end.y_m - 2.0) <= 0.05


@pytest.mark.parametrize("min_leg_speed_mps", [None, 0.1])
def test_a_long_leg_runs_to_its_end_when_given_the_time(
    excavator: RoverConfig, min_leg_speed_mps: float | None
) -> None:
    # 8.5 m at 0.25 m/s is 34 s of driving, plus its ramps: past the 30 s a leg gets by
    # default, so that leg stops short of the target (and counts a timeout).
    site = (12.0, 4.0)
    start = Pose2(1.5, 2.0, 0.0)
    rover, pilot = _excavator_on_mock(excavator, start)
    pilot.apply_fix(start)
    body = travel_direct(
        pilot, (10.0, 2.0), 0.0, 0.25, 0.1, walls_seen_by(rover, site), site,
        tries=1, min_leg_speed_mps=min_leg_speed_mps,
    )  # fmt: skip
    _run(rover, Sensing(pilot, Script(body)), limit_s=120.0)
    # The leg drives the whole way at a steady 0.25 m/s, or stops on the 30 s mark:
    # no farther than 30 s at that speed from the start.
    reached = rover.true_pose.x_m
    if min_leg_speed_mps is None:
        assert pilot.timeouts == 1 and reached < start.x_m + 30.0 * 0.25 + 0.01
    else:
        assert pilot.timeouts == 0 and reached == pytest.approx(10.0, abs=0.05)
