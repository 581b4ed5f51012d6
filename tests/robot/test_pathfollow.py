"""Path following on the mock rover: it stays on the path and respects its limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.control.pathfollow import PathFollower, PathFollowParams, traction_accel_mps2
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.planning.planner import Path
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand

DT = 0.05


def _run(
    config: RoverConfig, path: Path, start: Pose2, *, seconds: float = 120.0, pitch: float = 0.0
) -> tuple[MockRover, list[DriveCommand], list[Pose2], PathFollower]:
    clock = ManualClock()
    rover = MockRover(config, clock, start)
    rover.configure()
    rover.activate()
    follower = PathFollower(PathFollowParams.for_rover(config), path)
    cmds, poses = [], []
    for _ in range(round(seconds / DT)):
        cmd = follower.update(rover.true_pose, DT, pitch_rad=pitch)
        cmds.append(cmd)
        poses.append(rover.true_pose)
        if follower.done:
            break
        rover.write(RoverCommand(cmd))
        clock.sleep_s(DT)
    return rover, cmds, poses, follower


def _path(points: list[tuple[float, float]], reverse: tuple[bool, ...] | None = None) -> Path:
    n = len(points) - 1
    return Path(np.array(points, dtype=float), reverse or (False,) * n, 0.0, 0.0)


def test_follows_a_dogleg_with_a_turn_in_place(rover_config: RoverConfig) -> None:
    path = _path([(0.0, 0.0), (3.0, 0.0), (3.0, 2.0), (5.0, 3.0)])
    rover, cmds, poses, follower = _run(rover_config, path, Pose2(0.0, 0.0, 0.0))
    assert follower.done
    end = rover.true_pose
    assert math.hypot(end.x_m - 5.0, end.y_m - 3.0) < 0.15
    worst = max(path.distance_from(p.x_m, p.y_m) for p in poses)
    assert worst < 0.1  # turns in place at the sharp corner, no cutting
    d = rover_config.drive
    assert max(abs(c.linear_mps) for c in cmds) <= d.max_speed_mps + 1e-9
    assert max(abs(c.angular_radps) for c in cmds) <= d.max_yaw_rate_radps + 1e-9
    assert min(c.linear_mps for c in cmds) >= 0.0


def test_reverse_segment_is_driven_backwards(rover_config: RoverConfig) -> None:
    path = _path([(2.0, 1.0), (1.3, 1.0)], (True,))
    rover, cmds, _, follower = _run(rover_config, path, Pose2(2.0, 1.0, 0.0))
    assert follower.done
    assert rover.true_pose.x_m == pytest.approx(1.3, abs=0.15)
    assert abs(rover.true_pose.yaw_rad) < 0.05  # never turned round
    assert min(c.linear_mps for c in cmds) < -0.05


def test_speed_drops_on_a_slope_and_braking_is_traction_limited(
    rover_config: RoverConfig,
) -> None:
    path = _path([(0.0, 0.0), (6.0, 0.0)])
    _, level, _, _ = _run(rover_config, path, Pose2(0.0, 0.0, 0.0))
    _, sloped, _, _ = _run(rover_config, path, Pose2(0.0, 0.0, 0.0), pitch=0.3)
    assert max(c.linear_mps for c in sloped) < max(c.linear_mps for c in level) - 0.05
    # Deceleration on the slope stays within half of what lunar traction gives there.
    v = np.array([c.linear_mps for c in sloped])
    decel = np.max(-np.diff(v)) / DT
    assert decel <= 0.5 * traction_accel_mps2(0.8, 0.3, LUNAR_GRAVITY_MPS2) + 1e-9


def test_traction_limit_at_lunar_gravity() -> None:
    assert traction_accel_mps2(0.8, 0.0, LUNAR_GRAVITY_MPS2) == pytest.approx(1.296)
    assert traction_accel_mps2(0.8, 0.3, 1.62) == pytest.approx(
        1.62 * (0.8 * math.cos(0.3) - math.sin(0.3))
    )
    assert traction_accel_mps2(0.5, 1.0, 1.62) == 0.0  # steeper than friction holds


def test_bad_params_are_refused(rover_config: RoverConfig) -> None:
    with pytest.raises(ValueError, match=r"exceeds drive\.max_speed_mps"):
        PathFollowParams.for_rover(rover_config, cruise_speed_mps=10.0)
    p = PathFollowParams.for_rover(rover_config)
    with pytest.raises(ValueError, match="dt_s"):
        PathFollower(p, _path([(0.0, 0.0), (1.0, 0.0)])).update(Pose2(0.0, 0.0, 0.0), 0.0)


def test_stalled_turn_backs_up_then_turns_again(rover_config: RoverConfig) -> None:
    path = _path([(0.0, 0.0), (0.0, 3.0)])  # 90° to the left of the rover's heading
    follower = PathFollower(PathFollowParams.for_rover(rover_config), path)
    stuck = Pose2(0.0, 0.0, 0.0)
    cmds = [follower.update(stuck, DT) for _ in range(round(1.5 / DT))]
    assert cmds[0].angular_radps > 0.0 and cmds[0].linear_mps == 0.0
    assert follower.stalls == 1  # the heading never moved
    # Backing up: negative speed, no turn, until 0.25 m behind the stall point.
    backing = [follower.update(Pose2(-0.1, 0.0, 0.0), DT) for _ in range(10)]
    assert all(c.linear_mps <= 0.0 and c.angular_radps == 0.0 for c in backing)
    assert min(c.linear_mps for c in backing) < 0.0
    later = [follower.update(Pose2(-0.3, 0.0, 0.0), DT) for _ in range(15)]
    assert later[-1].linear_mps == 0.0 and later[-1].angular_radps > 0.0  # turning again
    assert follower.stalls == 1


def test_replanned_path_is_taken_up_at_speed(rover_config: RoverConfig) -> None:
    path = _path([(0.0, 0.0), (5.0, 0.0)])
    params = PathFollowParams.for_rover(rover_config)
    cmd = PathFollower(params, path, initial_speed_mps=0.3).update(Pose2(0.0, 0.0, 0.0), DT)
    assert cmd.linear_mps >= 0.3 - params.max_accel_mps2 * DT - 1e-9
    fresh = PathFollower(params, path).update(Pose2(0.0, 0.0, 0.0), DT)
    assert fresh.linear_mps <= params.max_accel_mps2 * DT + 1e-9


def test_a_rover_still_rolling_brakes_straight_before_it_turns(rover_config: RoverConfig) -> None:
    # A replan at speed whose path starts off to the side (a sharp first corner).
    params = PathFollowParams.for_rover(rover_config)
    follower = PathFollower(
        params, _path([(0.0, 0.0), (0.0, 3.0)]), initial_speed_mps=params.cruise_speed_mps
    )
    cmds = [follower.update(Pose2(0.0, 0.0, 0.0), DT) for _ in range(40)]
    rolling = [c for c in cmds if c.linear_mps > 0.0]
    assert rolling, "it should still be braking at first"
    assert all(c.angular_radps == 0.0 for c in rolling)
    assert any(c.linear_mps == 0.0 and c.angular_radps > 0.0 for c in cmds)  # then turns left
