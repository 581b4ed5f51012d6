"""The dig-and-dump controller: bucket kinematics, the layout, wall fixes, the motion
skills and the whole task, on the mock rover (no simulator)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.bucket import (
    BucketPoses,
    bucket_edge_m,
    dig_angles_rad,
    edge_hold_gain,
    max_dig_depth_m,
)
from lunarsite.robot.control.dig_cut import DigCut
from lunarsite.robot.control.motions import Straight, ToolsTo, TurnTo
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.control.travel import travel_direct
from lunarsite.robot.control.wall_fix import WallFix
from lunarsite.robot.executive import Agent, ControlLoop, Sequence, Skill
from lunarsite.robot.executive.compose import Script
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.perception.walls import fit_walls
from lunarsite.robot.planning.dig_dump import DigDumpParams, DigDumpPlan
from lunarsite.robot.site.zones import Box
from lunarsite.robot.tasks.dig_and_dump import DigAndDump
from lunarsite.robot.types import Pose2, SensedState, wrap_angle
from tests.robot.conftest import Sensing, scan_of_walls

ARENA = (6.88, 5.0)
# The shipped dig_and_dump scenario's layout (launch/scenarios/dig_and_dump.yaml).
PARAMS = DigDumpParams(
    dig_area=Box(6.0, 1.7, 0.6, 1.7),
    dump_area=Box(5.5, 3.55, 0.6, 1.0),
    dig_facing="east",
    dump_facing="east",
    layer_depth_m=0.06,
    max_depth_m=0.18,
    cruise_speed_mps=0.25,
)
HZ = 20.0


def _run(rover: MockRover, skill: Skill, limit_s: float = 120.0) -> Any:
    return ControlLoop([Agent(rover, skill)], rate_hz=HZ, time_limit_s=limit_s).run()


# ----------------------------------------------------------------- kinematics
def test_dig_angles_put_the_edge_at_the_planned_depth(excavator: RoverConfig) -> None:
    plan = DigDumpPlan(PARAMS, excavator)
    deepest = max_dig_depth_m(excavator, plan.tool, plan.poses)
    assert 0.15 < deepest < 0.25
    for depth in (0.02, 0.1, deepest - 1e-6):
        angles = dig_angles_rad(excavator, plan.tool, depth, plan.poses)
        assert angles is not None
        _, up = bucket_edge_m(excavator, plan.tool, *angles)
        assert up == pytest.approx(-depth, abs=1e-9)
        assert sum(angles) == pytest.approx(plan.poses.dig_pitch_rad)
    assert dig_angles_rad(excavator, plan.tool, deepest + 0.01, plan.poses) is None


def test_edge_position_by_hand_for_a_flat_arm(excavator: RoverConfig) -> None:
    # Boom and curl at zero: the arm and the bucket floor lie level, so the edge is the
    # mount, plus the arm, plus the bucket's depth ahead, half its height below the pivot.
    tool = next(t for t in excavator.tools if t.kind == "bucket")
    ahead, up = bucket_edge_m(excavator, tool, 0.0, 0.0)
    mx, _, mz = tool.mount_xyz_m
    assert ahead == pytest.approx(mx + tool.arm_length_m + tool.depth_m)
    ride = excavator.chassis.axle_drop_m + excavator.wheels.radius_m
    assert up == pytest.approx(ride + mz - 0.5 * tool.height_m)


def test_the_hold_gain_raises_the_edge_back_to_its_height(excavator: RoverConfig) -> None:
    # Pitch the chassis nose-down by δ about its centre (rotate the edge's point), then
    # find by bisection the boom raise that brings the edge back to its height.
    tool = next(t for t in excavator.tools if t.kind == "bucket")
    boom, curl = -0.4, 0.3
    _x0, z0 = bucket_edge_m(excavator, tool, boom, curl)
    delta = 0.02

    def height_pitched(b: float) -> float:
        x, z = bucket_edge_m(excavator, tool, b, curl)
        return -x * math.sin(delta) + z * math.cos(delta)

    lo, hi = boom, boom + 0.5
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if height_pitched(mid) < z0 else (lo, mid)
    raise_rad = 0.5 * (lo + hi) - boom
    assert edge_hold_gain(excavator, tool, boom, curl) * delta == pytest.approx(raise_rad, rel=0.1)
    assert raise_rad > delta  # the edge sits further ahead than the boom's own reach


# ---------------------------------------------------------------------- layout
def test_plan_skims_the_dig_area_in_layers_far_strip_first(excavator: RoverConfig) -> None:
    plan = DigDumpPlan(PARAMS, excavator)
    x0, x1, y0, y1 = PARAMS.dig_area.bounds_m
    per = plan.passes_per_layer
    passes = [plan.dig_pass(i) for i in range(3 * per + 2)]
    assert [p.depth_m for p in passes[:per]] == [PARAMS.layer_depth_m] * per
    assert passes[per].depth_m == pytest.approx(2 * PARAMS.layer_depth_m)
    assert passes[-1].depth_m == pytest.approx(plan.reachable_depth_m)  # the last repeats
    for p in passes:
        reach, _ = bucket_edge_m(excavator, plan.tool, p.boom_rad, p.curl_rad)
        edge_start = p.start_xy_m[0] + reach
        assert x0 - 1e-9 <= edge_start and edge_start + p.length_m <= x1 + 1e-9
        assert y0 <= p.start_xy_m[1] <= y1
        # The front wheels stay out of the dig area.
        front = p.start_xy_m[0] + p.length_m + 0.5 * excavator.wheels.wheelbase_m
        assert front + excavator.wheels.radius_m <= x0
    assert passes[0].start_xy_m[0] > passes[1].start_xy_m[0]  # far strip first
    lanes = {p.lane for p in passes[:per]}
    assert lanes == set(range(len(plan.dig_lanes_m)))
    spots = [plan.dump_spot(i) for i in range(len(plan.dump_lanes_m))]
    assert len({s.lane for s in spots}) == len(spots)


def test_a_rover_without_a_boom_bucket_cannot_plan(lab_rover: RoverConfig) -> None:
    with pytest.raises(ValueError, match="no bucket on a boom"):
        DigDumpPlan(PARAMS, lab_rover)


# ------------------------------------------------------------------- wall fixes
@pytest.mark.parametrize(
    ("truth", "guess"),
    [
        ((3.0, 2.0, 0.3), (3.3, 1.7, 0.25)),
        ((1.2, 4.1, -2.0), (1.0, 4.3, -1.95)),
    ],
)
def test_a_level_scan_of_the_walls_recovers_the_pose(
    truth: tuple[float, float, float], guess: tuple[float, float, float]
) -> None:
    fixed = fit_walls(Pose2(*guess), scan_of_walls(truth, ARENA), ARENA)
    assert fixed is not None
    assert fixed.x_m == pytest.approx(truth[0], abs=1e-3)
    assert fixed.y_m == pytest.approx(truth[1], abs=1e-3)
    assert fixed.yaw_rad == pytest.approx(truth[2], abs=1e-3)


def test_a_pose_lost_by_metres_is_found_by_the_site_search() -> None:
    # Wheel slip has put the estimate 2.5 m and 0.06 rad off: too far for the local fit.
    truth = (2.2, 1.3, 0.4)
    guess = Pose2(4.6, 2.0, 0.46)
    scan = scan_of_walls(truth, ARENA)
    assert fit_walls(guess, scan, ARENA) is None
    fixed = fit_walls(guess, scan, ARENA, search=True)
    assert fixed is not None
    assert (fixed.x_m, fixed.y_m, fixed.yaw_rad) == pytest.approx(truth, abs=1e-3)


def test_a_scan_that_sees_no_walls_gives_no_fix() -> None:
    dirs = np.column_stack([np.ones(100), np.zeros(100), np.zeros(100)])
    scan = RangeScan(0.0, (0.0, 0.0, 0.35), dirs, np.full(100, np.inf), 10.0)
    assert fit_walls(Pose2(3.0, 2.0, 0.0), scan, ARENA) is None
    assert fit_walls(Pose2(3.0, 2.0, 0.0), scan, ARENA, search=True) is None


# --------------------------------------------------------------- motion skills
def _excavator_on_mock(config: RoverConfig, start: Pose2) -> tuple[MockRover, Pilot]:
    rover = MockRover(config, ManualClock(), start)
    rover.configure()
    rover.activate()
    return rover, Pilot(config, start, control_hz=HZ)


def test_straight_legs_and_turns_land_where_asked(excavator: RoverConfig) -> None:
    start = Pose2(2.0, 2.0, 0.0)
    rover, pilot = _excavator_on_mock(excavator, start)
    legs = Sequence(
        [
            Straight(pilot, 1.0, 0.25, 0.0),
            TurnTo(pilot, math.pi / 2),
            Straight(pilot, -0.5, 0.15, math.pi / 2),
        ]
    )
    result = _run(rover, Sensing(pilot, legs))
    assert result.results[0].succeeded
    end = rover.true_pose
    # 1 m east, a quarter turn, then 0.5 m backwards: south of the turn point.
    assert (end.x_m, end.y_m) == pytest.approx((3.0, 1.5), abs=0.01)
    assert wrap_angle(end.yaw_rad - math.pi / 2) == pytest.approx(0.0, abs=0.02)
    assert pilot.timeouts == 0 and pilot.turn_stalls == 0


class _RuttedMock(MockRover):
    """A mock on ground that holds a slow turn: asked for less than ``grip_radps`` of yaw,
    the wheels spin and the chassis does not turn (the gyro sees it)."""

    grip_radps = 0.28

    def _yaw_rate_radps(self) -> float:
        rate = super()._yaw_rate_radps()
        return rate if abs(rate) >= self.grip_radps else 0.0


def test_a_slow_turn_that_stalls_moves_off_the_spot_and_turns_faster(
    excavator: RoverConfig,
) -> None:
    start = Pose2(2.0, 2.0, 0.0)
    rover = _RuttedMock(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, start, control_hz=HZ)
    # 0.25 rad: the rate law asks 1.5·error, down to 0.2 rad/s below 0.13 rad of error,
    # which this ground holds: the turn stalls near its goal, where a stall used to be
    # left to time out.
    result = _run(rover, Sensing(pilot, TurnTo(pilot, 0.25)), limit_s=60.0)
    assert result.results[0].succeeded
    assert pilot.turn_stalls >= 1 and pilot.timeouts == 0
    end = rover.true_pose
    assert abs(wrap_angle(end.yaw_rad - 0.25)) < 0.09  # the dead band after a stall
    # It moved off the spot by 0.15 m at most per stall, back and forth.
    assert math.hypot(end.x_m - start.x_m, end.y_m - start.y_m) <= 0.16
    assert result.elapsed_s < 20.0


def test_a_stalled_turn_does_not_move_into_the_keep_out(excavator: RoverConfig) -> None:
    start = Pose2(2.0, 2.0, 0.0)
    rover = _RuttedMock(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, start, control_hz=HZ)
    pilot.keep_out = lambda x, y: x < 1.95  # a trench just behind the rover
    result = _run(rover, Sensing(pilot, TurnTo(pilot, 0.25)), limit_s=60.0)
    assert result.results[0].succeeded and pilot.turn_stalls >= 1
    # The first move off a stalled spot would back up 0.15 m: it went forward instead.
    assert rover.true_pose.x_m > 2.1


class _SpinningMock(MockRover):
    """Wheels that turn and a chassis that stays put (high-centred)."""

    held = True

    def _step(self, dt_s: float) -> None:
        x, y, yaw = self._x_m, self._y_m, self._yaw_rad
        super()._step(dt_s)
        if self.held:
            self._x_m, self._y_m, self._yaw_rad = x, y, yaw


def test_legs_the_fixes_find_undriven_make_the_pilot_stuck(excavator: RoverConfig) -> None:
    start = Pose2(2.0, 2.0, 0.0)
    rover = _SpinningMock(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, start, control_hz=HZ)
    pilot.apply_fix(start)  # the first fix judges nothing

    def leg_then_fix(distance_m: float) -> None:
        _run(rover, Sensing(pilot, Straight(pilot, distance_m, 0.2, 0.0)))
        pilot.apply_fix(rover.true_pose)  # a perfect fix: where the chassis really is

    leg_then_fix(0.3)  # too short to judge
    assert pilot.slips == 0
    for k in range(1, 4):
        leg_then_fix(1.0 if k % 2 else -1.0)
        assert pilot.slips == k and pilot.stuck == (k >= 3)
    rover.held = False  # free again: a leg that goes where it was sent clears it
    leg_then_fix(1.0)
    assert pilot.slips == 3 and pilot.slips_in_a_row == 0 and not pilot.stuck
    assert rover.true_pose.x_m == pytest.approx(3.0, abs=0.05)


def test_tools_to_waits_for_the_servos_and_times_out_when_they_cannot(
    excavator: RoverConfig,
) -> None:
    rover, pilot = _excavator_on_mock(excavator, Pose2(2.0, 2.0, 0.0))
    boom = excavator.joint("boom_lift")
    move = ToolsTo(pilot, {"boom_lift": 0.5})
    result = _run(rover, Sensing(pilot, move))
    assert result.results[0].succeeded
    took = result.elapsed_s
    expect = abs(0.5 - boom.home_rad) / boom.max_speed_radps  # the servo's slew time
    assert took == pytest.approx(expect, abs=0.1)
    beyond = ToolsTo(pilot, {"boom_lift": boom.upper_rad + 1.0}, timeout_s=2.0)
    result = _run(rover, Sensing(pilot, beyond))
    assert not result.results[0].succeeded and pilot.timeouts == 1


def test_wall_fix_without_a_scanner_is_refused(excavator: RoverConfig) -> None:
    rover, pilot = _excavator_on_mock(excavator, Pose2(2.0, 2.0, 0.0))
    result = _run(rover, Sensing(pilot, WallFix(pilot, None, ARENA)))
    assert result.results[0].status.value == "precondition_failed"
    assert result.ticks == 1  # it took no time


class _PitchingRover(MockRover):
    """A mock excavator whose chassis noses down at ``rate`` while it drives forward with
    its boom below ``bite_rad`` (the FEE pulling a deep cut down), as its gyro reports."""

    def __init__(self, config: RoverConfig, clock: ManualClock, rate: float, bite_rad: float):
        super().__init__(config, clock, Pose2(1.0, 1.0, 0.0))
        self.rate, self.bite_rad = rate, bite_rad

    def _on_read(self) -> SensedState:
        s = super()._on_read()
        cutting = (
            self.true_twist.linear_mps > 0.0 and s.tool_positions_rad["boom_lift"] < self.bite_rad
        )
        g = s.gyro_radps
        return dataclasses.replace(
            s, gyro_radps=(g[0], g[1] + (self.rate if cutting else 0.0), g[2])
        )


@pytest.mark.parametrize("rate", [0.0, 0.1])
def test_a_dig_pass_raises_its_boom_when_the_chassis_noses_down(
    excavator: RoverConfig, rate: float
) -> None:
    rover = _PitchingRover(excavator, ManualClock(), rate=rate, bite_rad=-0.1)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, Pose2(1.0, 1.0, 0.0), control_hz=HZ)
    cut = Sequence(
        [
            ToolsTo(pilot, {"boom_lift": -0.4, "bucket_curl": 0.3}),
            DigCut(pilot, 0.3, 0.08, 0.0, boom="boom_lift", carry_rad=0.4),
        ]
    )
    assert _run(rover, Sensing(pilot, cut), 60.0).results[0].succeeded
    if rate == 0.0:
        assert pilot.pitch_reliefs == 0
        assert pilot.tools["boom_lift"] == -0.4
    else:
        # 0.8 s of pitching at 0.1 rad/s trips the guard; each trip raises the boom 0.15
        # rad and stands still, until the boom is above the biting depth.
        assert pilot.pitch_reliefs == 2
        assert pilot.tools["boom_lift"] == pytest.approx(-0.1)
    assert rover.true_pose.x_m == pytest.approx(1.3, abs=0.03)  # the pass still ends


def test_a_dig_pass_with_a_hold_gain_follows_the_pitch_with_its_boom(
    excavator: RoverConfig,
) -> None:
    # A slow nose-down pitch, never enough to trip the guard: the boom rises by the gain
    # times the pitch the gyro integrates (0.02 rad/s while cutting, about 3.75 s).
    rover = _PitchingRover(excavator, ManualClock(), rate=0.02, bite_rad=0.0)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, Pose2(1.0, 1.0, 0.0), control_hz=HZ)
    cut = Sequence(
        [
            ToolsTo(pilot, {"boom_lift": -0.4, "bucket_curl": 0.3}),
            DigCut(pilot, 0.3, 0.08, 0.0, boom="boom_lift", carry_rad=0.4, hold_gain=1.5),
        ]
    )
    assert _run(rover, Sensing(pilot, cut), 60.0).results[0].succeeded
    assert pilot.pitch_reliefs == 0
    pitch = 0.02 * 0.3 / 0.08  # rate × the time spent cutting, about
    assert pilot.tools["boom_lift"] == pytest.approx(-0.4 + 1.5 * pitch, rel=0.25)


@pytest.mark.parametrize("max_reliefs", [None, 1])
def test_a_dig_pass_that_keeps_pitching_ends_after_its_reliefs(
    excavator: RoverConfig, max_reliefs: int | None
) -> None:
    # A bucket that bites at any boom angle (full and plowing): the chassis noses down
    # at 0.1 rad/s whenever it drives. The guard trips at 0.08 rad (about 0.8 s and
    # 5 cm in), raises the boom once, and trips again 0.04 rad later (0.4 s, 3 cm on).
    rover = _PitchingRover(excavator, ManualClock(), rate=0.1, bite_rad=2.0)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, Pose2(1.0, 1.0, 0.0), control_hz=HZ)
    dig = DigCut(pilot, 0.3, 0.08, 0.0, boom="boom_lift", carry_rad=0.4, max_reliefs=max_reliefs)
    cut = Sequence([ToolsTo(pilot, {"boom_lift": -0.4, "bucket_curl": 0.3}), dig])
    assert _run(rover, Sensing(pilot, cut), 60.0).results[0].succeeded
    if max_reliefs is None:
        assert not dig.ended_early
        assert rover.true_pose.x_m == pytest.approx(1.3, abs=0.03)
    else:
        assert dig.ended_early and pilot.pitch_reliefs == 1
        assert 1.03 <= rover.true_pose.x_m <= 1.15


# -------------------------------------------------------------------- the task
def test_the_task_digs_carries_and_dumps_on_a_mock(excavator: RoverConfig) -> None:
    """Two cycles on an exact plant (no soil: the mock has none): the chassis visits each
    dig approach and dump stand, the bucket goes down to dig and tips to dump."""
    start = Pose2(3.6, 2.5, 0.0)
    rover = MockRover(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    task = DigAndDump(dataclasses.replace(PARAMS, cycles=2), excavator, start, control_hz=HZ)
    trail: list[tuple[float, float, float]] = []
    poses = BucketPoses()
    loop = ControlLoop(
        [Agent(rover, task)],
        rate_hz=HZ,
        time_limit_s=900.0,
        on_tick=lambda _: trail.append(
            (
                rover.true_pose.x_m,
                rover.true_pose.y_m,
                rover.read().tool_positions_rad["bucket_curl"],
            )
        ),
    )
    result = loop.run()
    assert result.results[0].succeeded, result
    assert (task.progress.digs, task.progress.dumps) == (2, 2)
    xy = np.array([(x, y) for x, y, _ in trail])
    plan = task.plan
    for i in range(2):
        dig, spot = plan.dig_pass(i), plan.dump_spot(i)
        for target in (dig.start_xy_m, spot.stand_xy_m):
            assert np.min(np.hypot(*(xy - np.asarray(target)).T)) < 0.05
    curls = np.array([c for _, _, c in trail])
    assert curls.min() <= poses.dump_curl_rad + 0.05  # tipped past the pour angle
    assert task.pilot.timeouts == 0


def test_travel_direct_goes_in_one_leg_and_reverses_to_a_target_just_behind(
    excavator: RoverConfig,
) -> None:

    start = Pose2(2.0, 2.0, 0.0)
    rover, pilot = _excavator_on_mock(excavator, start)

    def scan() -> RangeScan:
        p = rover.true_pose
        return scan_of_walls((p.x_m, p.y_m, p.yaw_rad), ARENA)

    far = Script(travel_direct(pilot, (4.5, 3.0), math.pi / 2, 0.25, 0.15, scan, ARENA))
    result = _run(rover, Sensing(pilot, far))
    assert result.results[0].succeeded
    end = rover.true_pose
    assert math.hypot(end.x_m - 4.5, end.y_m - 3.0) < 0.05
    assert wrap_angle(end.yaw_rad - math.pi / 2) == pytest.approx(0.0, abs=0.05)
    assert pilot.fixes >= 1
    # 0.6 m straight behind: it backs up instead of turning round twice.
    yaws: list[float] = []

    class _Watch(Sensing):
        def _on_tick(self, sensed: SensedState, now_s: float) -> Any:
            yaws.append(rover.true_pose.yaw_rad)
            return super()._on_tick(sensed, now_s)

    back = Script(travel_direct(pilot, (4.5, 2.4), math.pi / 2, 0.25, 0.15, scan, ARENA))
    result = _run(rover, _Watch(pilot, back))
    end = rover.true_pose
    assert math.hypot(end.x_m - 4.5, end.y_m - 2.4) < 0.05
    assert max(abs(wrap_angle(y - math.pi / 2)) for y in yaws) < 0.1
