"""MockRover and ManualClock: commands mirrored into an ideal skid-steer and its sensors."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.hardware import CommandError, LifecycleError, LifecycleState
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand

RoverFactory = Callable[..., RoverConfig]
DT_S = 0.05


def drive(rover: MockRover, command: RoverCommand, duration_s: float) -> None:
    """Hold ``command`` for ``duration_s`` in 20 Hz clock steps."""
    rover.write(command)
    for _ in range(round(duration_s / DT_S)):
        rover.clock.sleep_s(DT_S)


def ticks_for(distance_m: float, config: RoverConfig) -> int:
    angle_rad = distance_m / config.wheels.radius_m
    return math.floor(angle_rad / (2.0 * math.pi) * config.encoders.ticks_per_rev)


# ------------------------------------------------------------------------ ManualClock
def test_manual_clock_moves_only_when_slept_and_runs_callbacks() -> None:
    clock = ManualClock(start_s=10.0)
    steps: list[tuple[float, float]] = []
    clock.add_step_callback(lambda dt: steps.append((dt, clock.now_s())))
    assert clock.now_s() == 10.0
    clock.sleep_s(0.25)
    clock.sleep_s(0.0)  # no time, no callback
    clock.sleep_s(0.5)
    assert clock.now_s() == pytest.approx(10.75)
    assert steps == [(0.25, 10.25), (0.5, pytest.approx(10.75))]


@pytest.mark.parametrize("duration_s", [-0.1, math.nan, math.inf])
def test_manual_clock_refuses_bad_durations(duration_s: float) -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="duration_s must be finite and non-negative"):
        clock.sleep_s(duration_s)
    assert clock.now_s() == 0.0


# ---------------------------------------------------------------------------- driving
def test_straight_drive_distance_and_ticks(active_rover: MockRover) -> None:
    config = active_rover.config
    drive(active_rover, RoverCommand(DriveCommand(0.2, 0.0)), 3.0)
    state = active_rover.read()
    pose = active_rover.true_pose
    assert state.stamp_s == pytest.approx(3.0)
    assert pose.x_m == pytest.approx(0.6, abs=1e-12)
    assert pose.y_m == pytest.approx(0.0, abs=1e-12)
    assert pose.yaw_rad == pytest.approx(0.0, abs=1e-12)
    # 0.6 m on r = 0.1 m is 6 rad = 954.93 ticks at 1000 per rev: floor gives 954.
    assert ticks_for(0.6, config) == 954
    assert (state.left_ticks, state.right_ticks) == (954, 954)
    assert state.gyro_radps == (0.0, 0.0, 0.0)
    assert state.accel_mps2 == (0.0, 0.0, LUNAR_GRAVITY_MPS2)


def test_drive_from_a_start_pose_follows_heading(rover_config: RoverConfig) -> None:
    clock = ManualClock()
    rover = MockRover(rover_config, clock, Pose2(1.0, 2.0, math.pi / 2))
    rover.configure()
    rover.activate()
    drive(rover, RoverCommand(DriveCommand(0.25, 0.0)), 2.0)
    assert rover.true_pose.x_m == pytest.approx(1.0, abs=1e-12)
    assert rover.true_pose.y_m == pytest.approx(2.5, abs=1e-12)


def test_reverse_drive_counts_down_with_floor(active_rover: MockRover) -> None:
    drive(active_rover, RoverCommand(DriveCommand(-0.1, 0.0)), 1.0)
    state = active_rover.read()
    assert active_rover.true_pose.x_m == pytest.approx(-0.1, abs=1e-12)
    # -1 rad = -159.15 ticks: floor gives -160, not -159.
    assert (state.left_ticks, state.right_ticks) == (-160, -160)


def test_turn_in_place_gives_gyro_heading_and_opposite_ticks(active_rover: MockRover) -> None:
    drive(active_rover, RoverCommand(DriveCommand(0.0, 0.5)), 2.0)
    state = active_rover.read()
    pose = active_rover.true_pose
    assert state.gyro_radps == (0.0, 0.0, pytest.approx(0.5))
    assert pose.yaw_rad == pytest.approx(1.0, abs=1e-12)
    assert math.hypot(pose.x_m, pose.y_m) < 1e-12
    # each side moves 0.5 rad/s × 0.2 m × 2 s = 0.2 m, i.e. 2 rad = 318.3 ticks
    assert (state.left_ticks, state.right_ticks) == (-319, 318)


def test_arc_is_integrated_exactly(active_rover: MockRover) -> None:
    v, w, t = 0.2, 0.4, 5.0
    drive(active_rover, RoverCommand(DriveCommand(v, w)), t)
    pose = active_rover.true_pose
    radius = v / w
    assert pose.x_m == pytest.approx(radius * math.sin(w * t), abs=1e-12)
    assert pose.y_m == pytest.approx(radius * (1.0 - math.cos(w * t)), abs=1e-12)
    assert pose.yaw_rad == pytest.approx(w * t, abs=1e-12)


def test_effective_track_factor_slows_the_turn(make_rover_config: RoverFactory) -> None:
    rover = MockRover(make_rover_config(effective_track_factor=2.0), ManualClock())
    rover.configure()
    rover.activate()
    drive(rover, RoverCommand(DriveCommand(0.0, 0.5)), 1.0)
    # sides at ∓0.5·0.4·2/2 = ∓0.2 m/s; yaw rate = 0.4 / (0.4·2) = 0.5 rad/s
    assert rover.wheel_speeds_mps == pytest.approx((-0.2, 0.2))
    assert rover.true_pose.yaw_rad == pytest.approx(0.5)


def test_wheel_speeds_saturate_keeping_the_curvature(active_rover: MockRover) -> None:
    active_rover.write(RoverCommand(DriveCommand(0.45, 1.0)))
    # 0.45 ∓ 0.2 → (0.25, 0.65) m/s; the top wheel speed is 5 rad/s × 0.1 m = 0.5 m/s, so
    # both sides are scaled by 0.5 / 0.65 (as the simulator and the firmware mix)
    assert active_rover.wheel_speeds_mps == pytest.approx((0.25 * 0.5 / 0.65, 0.5))
    twist = active_rover.true_twist
    assert twist.angular_radps / twist.linear_mps == pytest.approx(1.0 / 0.45)  # same path
    assert twist.linear_mps < 0.45
    active_rover.write(RoverCommand(DriveCommand(-3.0, 0.0)))
    assert active_rover.wheel_speeds_mps == pytest.approx((-0.5, -0.5))


def test_deactivate_stops_the_wheels(active_rover: MockRover) -> None:
    drive(active_rover, RoverCommand(DriveCommand(0.2, 0.1)), 1.0)
    active_rover.deactivate()
    before = active_rover.true_pose
    ticks = active_rover.read().left_ticks
    active_rover.clock.sleep_s(1.0)
    assert active_rover.true_pose == before
    assert active_rover.read().left_ticks == ticks
    assert active_rover.wheel_speeds_mps == (0.0, 0.0)


# ------------------------------------------------------------------------ tool joints
def test_joints_start_home_and_slew_at_max_speed(active_rover: MockRover) -> None:
    assert active_rover.read().tool_positions_rad == {"lift": 0.0, "curl": 0.0}
    active_rover.write(RoverCommand(tool_targets_rad={"lift": 1.0, "curl": -0.3}))
    active_rover.clock.sleep_s(1.0)
    positions = active_rover.read().tool_positions_rad
    assert positions["lift"] == pytest.approx(0.5)  # 0.5 rad/s for 1 s, still moving
    assert positions["curl"] == pytest.approx(-0.3)  # 1 rad/s: arrived, holds
    active_rover.clock.sleep_s(2.0)
    assert active_rover.read().tool_positions_rad["lift"] == pytest.approx(1.0)


def test_joint_targets_are_clamped_to_limits(active_rover: MockRover) -> None:
    active_rover.write(RoverCommand(tool_targets_rad={"lift": 5.0, "curl": -5.0}))
    active_rover.clock.sleep_s(10.0)
    assert active_rover.read().tool_positions_rad == {"lift": 1.2, "curl": -1.0}


def test_deactivate_holds_joints_where_they_are(active_rover: MockRover) -> None:
    active_rover.write(RoverCommand(tool_targets_rad={"lift": 1.0}))
    active_rover.clock.sleep_s(1.0)
    active_rover.deactivate()
    active_rover.clock.sleep_s(1.0)
    assert active_rover.read().tool_positions_rad["lift"] == pytest.approx(0.5)


# ------------------------------------------------------------------- lifecycle errors
def test_write_before_activate_is_refused(mock_rover: MockRover) -> None:
    mock_rover.configure()
    with pytest.raises(LifecycleError, match="cannot write: rover is inactive, not active"):
        mock_rover.write(RoverCommand(DriveCommand(0.1, 0.0)))
    mock_rover.clock.sleep_s(1.0)
    assert mock_rover.true_pose == Pose2(0.0, 0.0, 0.0)


def test_read_before_configure_is_refused(mock_rover: MockRover) -> None:
    assert mock_rover.lifecycle_state is LifecycleState.UNCONFIGURED
    with pytest.raises(LifecycleError, match="cannot read: rover is unconfigured"):
        mock_rover.read()


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (RoverCommand(tool_targets_rad={"wrist": 0.1}), "unknown tool joint 'wrist'"),
        (RoverCommand(DriveCommand(math.nan, 0.0)), "drive command is not finite"),
        (RoverCommand(DriveCommand(0.1, math.inf)), "drive command is not finite"),
        (
            RoverCommand(DriveCommand(0.1, 0.0), {"lift": 0.2, "curl": math.nan}),
            "tool target for 'curl' is not finite",
        ),
        (
            RoverCommand(DriveCommand(0.1, 0.0), {"lift": 0.2, "wrist": 0.0}),
            "this rover has: curl, lift",
        ),
    ],
)
def test_refused_command_changes_nothing(
    active_rover: MockRover, command: RoverCommand, fragment: str
) -> None:
    active_rover.write(RoverCommand(DriveCommand(0.05, 0.0), {"lift": -0.2}))
    with pytest.raises(CommandError, match=fragment):
        active_rover.write(command)
    active_rover.clock.sleep_s(1.0)
    assert active_rover.wheel_speeds_mps == pytest.approx((0.05, 0.05))
    assert active_rover.true_pose.x_m == pytest.approx(0.05)
    assert active_rover.read().tool_positions_rad == pytest.approx({"lift": -0.2, "curl": 0.0})


# ----------------------------------------------------------------------------- noise
def test_no_rng_means_exact_readings_even_with_noisy_config(
    make_rover_config: RoverFactory,
) -> None:
    config = make_rover_config(
        imu={"gyro_noise_std_radps": 0.1, "accel_noise_std_mps2": 0.1},
        encoder_noise_std_ticks=3.0,
    )
    rover = MockRover(config, ManualClock())
    rover.configure()
    state = rover.read()
    assert state.gyro_radps == (0.0, 0.0, 0.0)
    assert state.accel_mps2 == (0.0, 0.0, LUNAR_GRAVITY_MPS2)
    assert (state.left_ticks, state.right_ticks) == (0, 0)


def test_seeded_noise_is_repeatable_and_scaled(make_rover_config: RoverFactory) -> None:
    config = make_rover_config(imu={"gyro_noise_std_radps": 0.01, "accel_noise_std_mps2": 0.05})

    def gyro_samples(seed: int) -> np.ndarray:
        rover = MockRover(config, ManualClock(), rng=np.random.default_rng(seed))
        rover.configure()
        return np.array([rover.read().gyro_radps for _ in range(2000)])

    first, again, other = gyro_samples(7), gyro_samples(7), gyro_samples(8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.std(first, axis=0) == pytest.approx([0.01] * 3, rel=0.1)
    assert np.abs(np.mean(first, axis=0)).max() < 0.002
