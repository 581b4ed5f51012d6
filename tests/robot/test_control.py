"""WaypointFollower: parameters, single-step behaviour, and closed loop on the mock rover."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.waypoints import FollowerParams, WaypointFollower
from lunarsite.robot.hardware import LoopRate
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.types import STOP, DriveCommand, Pose2, RoverCommand

RATE_HZ = 20.0
DT_S = 1.0 / RATE_HZ
SQUARE = [(2.0, 0.0), (2.0, 2.0), (0.0, 2.0), (0.0, 0.0)]


@dataclass
class Run:
    commands: list[DriveCommand] = field(default_factory=list)
    arrivals: list[int] = field(default_factory=list)
    arrival_truth: list[Pose2] = field(default_factory=list)
    truth: list[Pose2] = field(default_factory=list)
    estimates: list[Pose2] = field(default_factory=list)
    elapsed_s: float = 0.0
    done: bool = False


def run_closed_loop(
    config: RoverConfig,
    start: Pose2,
    waypoints: list[tuple[float, float]],
    params: FollowerParams,
    time_limit_s: float = 120.0,
    rng: np.random.Generator | None = None,
) -> Run:
    """Read, estimate, follow, write, sleep at 20 Hz until done or out of time."""
    clock = ManualClock()
    rover = MockRover(config, clock, start, rng)
    rover.configure()
    rover.activate()
    estimator = DeadReckoning(config, start)
    follower = WaypointFollower(params, waypoints, start)
    rate = LoopRate(clock, RATE_HZ)
    run = Run()
    estimates: list[Pose2] = []
    while clock.now_s() < time_limit_s:
        pose = estimator.update(rover.read())
        estimates.append(pose)
        command = follower.update(pose, DT_S)
        for index in follower.pop_arrivals():
            run.arrivals.append(index)
            run.arrival_truth.append(rover.true_pose)
        run.commands.append(command)
        rover.write(RoverCommand(command))
        run.truth.append(rover.true_pose)
        if follower.done:
            run.done = True
            break
        rate.sleep()
    run.elapsed_s = clock.now_s()
    run.estimates = estimates
    return run


def assert_within_limits(run: Run, params: FollowerParams, config: RoverConfig) -> None:
    top_wheel = config.drive.max_wheel_speed_radps * config.wheels.radius_m
    half_track = 0.5 * config.wheels.track_m * config.drive.effective_track_factor
    previous = 0.0
    for k, c in enumerate(run.commands):
        assert c.is_finite(), k
        assert 0.0 <= c.linear_mps <= config.drive.max_speed_mps + 1e-12, (k, c)
        assert c.linear_mps <= params.cruise_speed_mps + 1e-12, (k, c)
        assert abs(c.angular_radps) <= config.drive.max_yaw_rate_radps + 1e-12, (k, c)
        assert abs(c.linear_mps - previous) <= config.drive.max_accel_mps2 * DT_S + 1e-12, k
        assert c.linear_mps + abs(c.angular_radps) * half_track <= top_wheel + 1e-12, (k, c)
        previous = c.linear_mps


# --------------------------------------------------------------------------- params
def test_for_rover_respects_drive_limits(rover_config: RoverConfig) -> None:
    params = FollowerParams.for_rover(rover_config)
    drive = rover_config.drive
    assert params.cruise_speed_mps == drive.max_speed_mps
    assert params.max_yaw_rate_radps == drive.max_yaw_rate_radps
    assert params.max_accel_mps2 == drive.max_accel_mps2
    assert params.max_wheel_speed_mps == pytest.approx(0.5)
    assert params.half_track_m == pytest.approx(0.2)
    assert params.lookahead_m > params.arrival_tolerance_m
    slower = FollowerParams.for_rover(rover_config, cruise_speed_mps=0.2, arrival_tolerance_m=0.05)
    assert (slower.cruise_speed_mps, slower.arrival_tolerance_m) == (0.2, 0.05)


def test_for_rover_refuses_a_cruise_above_the_rover_limit(rover_config: RoverConfig) -> None:
    with pytest.raises(ValueError, match=r"cruise_speed_mps \(0\.6\) exceeds .*max_speed_mps"):
        FollowerParams.for_rover(rover_config, cruise_speed_mps=0.6)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"lookahead_m": 0.0}, "lookahead_m must be positive, got 0.0"),
        ({"arrival_tolerance_m": -0.1}, "arrival_tolerance_m must be positive"),
        ({"cruise_speed_mps": math.nan}, "cruise_speed_mps must be positive, got nan"),
        ({"max_accel_mps2": math.inf}, "max_accel_mps2 must be finite"),
        ({"turn_in_place_rad": 4.0}, "turn_in_place_rad must be at most π"),
        ({"half_track_m": -0.2}, "half_track_m must be positive"),
    ],
)
def test_params_validation(
    rover_config: RoverConfig, change: dict[str, float], fragment: str
) -> None:
    params = FollowerParams.for_rover(rover_config)
    with pytest.raises(ValueError, match=fragment):
        replace(params, **change)


@pytest.mark.parametrize(
    ("waypoints", "dt_s", "pose", "fragment"),
    [
        ([], DT_S, Pose2(0, 0, 0), "at least one waypoint"),
        ([(1.0, 0.0), (math.nan, 1.0)], DT_S, Pose2(0, 0, 0), r"waypoint 1 is not finite"),
        ([(1.0, 0.0)], 0.0, Pose2(0, 0, 0), "dt_s must be positive and finite, got 0.0"),
        ([(1.0, 0.0)], DT_S, Pose2(math.nan, 0, 0), "pose is not finite"),
    ],
)
def test_follower_refuses_bad_input(
    rover_config: RoverConfig,
    waypoints: list[tuple[float, float]],
    dt_s: float,
    pose: Pose2,
    fragment: str,
) -> None:
    params = FollowerParams.for_rover(rover_config)
    with pytest.raises(ValueError, match=fragment):
        WaypointFollower(params, waypoints).update(pose, dt_s)


# ----------------------------------------------------------------------- single steps
def test_ramps_up_from_rest_at_max_accel(rover_config: RoverConfig) -> None:
    params = FollowerParams.for_rover(rover_config)
    follower = WaypointFollower(params, [(5.0, 0.0)])
    speeds = [follower.update(Pose2(0.0, 0.0, 0.0), DT_S).linear_mps for _ in range(20)]
    step = params.max_accel_mps2 * DT_S
    assert speeds[:4] == pytest.approx([step, 2 * step, 3 * step, 4 * step])
    assert max(speeds) == pytest.approx(params.cruise_speed_mps)


def test_steers_toward_a_waypoint_on_the_left(rover_config: RoverConfig) -> None:
    follower = WaypointFollower(FollowerParams.for_rover(rover_config), [(1.0, 0.5)])
    command = follower.update(Pose2(0.0, 0.0, 0.0), DT_S)
    assert command.linear_mps > 0.0
    assert command.angular_radps > 0.0


@pytest.mark.parametrize("wheel_limited", [False, True])
def test_curvature_caps_speed(rover_config: RoverConfig, wheel_limited: bool) -> None:
    params = replace(FollowerParams.for_rover(rover_config), turn_in_place_rad=math.pi / 2)
    if not wheel_limited:
        params = replace(params, half_track_m=0.0, max_wheel_speed_mps=math.inf)
    heading = 1.2  # rad to the left of the rover's heading, 3 m away
    goal = (3.0 * math.cos(heading), 3.0 * math.sin(heading))
    follower = WaypointFollower(params, [goal], Pose2(0.0, 0.0, 0.0))
    pose = Pose2(0.0, 0.0, 0.0)
    for _ in range(40):  # hold the pose: the ramp would reach cruise if nothing capped it
        command = follower.update(pose, DT_S)
    curvature = 2.0 * math.sin(heading) / params.lookahead_m
    if wheel_limited:
        expected = params.max_wheel_speed_mps / (1.0 + curvature * params.half_track_m)
    else:
        expected = params.max_yaw_rate_radps / curvature
    assert expected < params.cruise_speed_mps
    assert command.linear_mps == pytest.approx(expected)
    assert command.angular_radps == pytest.approx(expected * curvature)
    assert command.angular_radps <= params.max_yaw_rate_radps + 1e-12


def test_waypoint_behind_turns_in_place(rover_config: RoverConfig) -> None:
    params = FollowerParams.for_rover(rover_config)
    run = run_closed_loop(rover_config, Pose2(0.0, 0.0, 0.0), [(-2.0, 0.3)], params)
    first = run.commands[0]
    assert first.linear_mps == 0.0
    assert abs(first.angular_radps) > 0.0
    # it stays in place until it faces the waypoint, then drives there
    turning = [k for k, c in enumerate(run.commands) if c.linear_mps == 0.0]
    first_move = next(k for k, c in enumerate(run.commands) if c.linear_mps > 0.0)
    assert turning[:first_move] == list(range(first_move))
    assert math.hypot(run.truth[first_move].x_m, run.truth[first_move].y_m) < 1e-9
    facing = run.truth[first_move].bearing_to(-2.0, 0.3)
    assert abs(facing) < params.turn_in_place_rad / 2
    assert run.done
    assert run.arrivals == [0]
    assert_within_limits(run, params, rover_config)


# ------------------------------------------------------------------------ closed loop
@pytest.mark.parametrize("cruise_mps", [0.2, 0.4])
def test_drives_a_square(rover_config: RoverConfig, cruise_mps: float) -> None:
    params = FollowerParams.for_rover(
        rover_config, cruise_speed_mps=cruise_mps, arrival_tolerance_m=0.1
    )
    run = run_closed_loop(rover_config, Pose2(0.0, 0.0, 0.0), SQUARE, params)
    assert run.done, f"not done after {run.elapsed_s:.1f} s; arrivals {run.arrivals}"
    assert run.arrivals == [0, 1, 2, 3]
    for (x, y), truth in zip(SQUARE, run.arrival_truth, strict=True):
        assert truth.distance_to(x, y) < params.arrival_tolerance_m + 0.01
    final = run.truth[-1]
    assert final.distance_to(*SQUARE[-1]) < params.arrival_tolerance_m
    assert run.commands[-1] == STOP
    assert_within_limits(run, params, rover_config)
    # the square is 8 m; allow for four turns in place and the ramps
    assert run.elapsed_s < 8.0 / cruise_mps + 30.0


@pytest.mark.parametrize("seed", [0, 1])
def test_drives_a_square_with_sensor_noise(
    make_rover_config: Callable[..., RoverConfig], seed: int
) -> None:
    config = make_rover_config(
        imu={"gyro_noise_std_radps": 0.01, "gyro_bias_std_radps": 0.002},
        encoder_noise_std_ticks=1.0,
    )
    params = FollowerParams.for_rover(config, cruise_speed_mps=0.3)
    rng = np.random.default_rng(seed)
    run = run_closed_loop(config, Pose2(0.0, 0.0, 0.0), SQUARE, params, rng=rng)
    assert run.done
    assert run.arrivals == [0, 1, 2, 3]
    # the follower's own claim holds on its estimate; the truth drifts with the gyro bias
    assert run.estimates[-1].distance_to(*SQUARE[-1]) < params.arrival_tolerance_m
    assert run.truth[-1].distance_to(*SQUARE[-1]) < 0.5
    assert_within_limits(run, params, config)


def test_gentle_path_does_not_stop_at_corners(rover_config: RoverConfig) -> None:
    params = FollowerParams.for_rover(rover_config, cruise_speed_mps=0.3)
    waypoints = [(2.0, 0.0), (4.0, 0.5), (6.0, 0.0)]
    run = run_closed_loop(rover_config, Pose2(0.0, 0.0, 0.0), waypoints, params)
    assert run.done
    assert run.arrivals == [0, 1, 2]
    around_corners = [c for c, t in zip(run.commands, run.truth, strict=True) if 1.0 < t.x_m < 5.0]
    assert min(c.linear_mps for c in around_corners) == pytest.approx(params.cruise_speed_mps)
    assert_within_limits(run, params, rover_config)


def test_pop_arrivals_clears(rover_config: RoverConfig) -> None:
    params = FollowerParams.for_rover(rover_config)
    follower = WaypointFollower(params, [(0.05, 0.0), (0.0, 0.05), (3.0, 0.0)])
    follower.update(Pose2(0.0, 0.0, 0.0), DT_S)  # the first two are within tolerance
    assert follower.current_index == 2
    assert follower.pop_arrivals() == [0, 1]
    assert follower.pop_arrivals() == []
    assert not follower.done


def test_a_stalled_turn_in_place_stops_backs_up_and_tries_again(
    rover_config: RoverConfig,
) -> None:
    params = FollowerParams.for_rover(rover_config)
    follower = WaypointFollower(params, [(-2.0, 0.3)], Pose2(0.0, 0.0, 0.0))
    stuck = Pose2(0.0, 0.0, 0.0)  # the heading never moves: the turn has stalled
    window = round(params.stall_window_s / DT_S)
    commands = [follower.update(stuck, DT_S) for _ in range(window + 2)]
    assert all(c.linear_mps == 0.0 and c.angular_radps != 0.0 for c in commands[: window - 1])
    assert STOP in commands
    assert follower.stalls == 1
    # it backs straight along its heading while the estimate moves back ...
    x_m = 0.0
    backing = []
    for _ in range(400):
        command = follower.update(Pose2(x_m, 0.0, 0.0), DT_S)
        if command.angular_radps != 0.0:
            break
        backing.append(command)
        x_m += command.linear_mps * DT_S
    assert min(c.linear_mps for c in backing) < 0.0
    assert all(c.linear_mps <= 0.0 for c in backing)
    # ... by the recovery distance, then turns in place again from rest
    assert -x_m == pytest.approx(params.recovery_distance_m, abs=0.05)
    assert backing[-1] == STOP
    assert command.linear_mps == 0.0 and command.angular_radps > 0.0


def test_a_turn_that_follows_the_command_is_not_a_stall(rover_config: RoverConfig) -> None:
    params = FollowerParams.for_rover(rover_config)
    follower = WaypointFollower(params, [(-2.0, 0.3)], Pose2(0.0, 0.0, 0.0))
    yaw = 0.0
    for _ in range(round(3 * params.stall_window_s / DT_S)):
        command = follower.update(Pose2(0.0, 0.0, yaw), DT_S)
        yaw += 0.5 * command.angular_radps * DT_S  # half the commanded rate: slow, not stalled
    assert follower.stalls == 0
