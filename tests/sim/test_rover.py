"""The simulated rover: built from its file, senses like a real board, obeys the lifecycle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.hardware import CommandError, LifecycleError, LifecycleState
from lunarsite.robot.hardware.skid_steer import mix_skid_steer
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand, wrap_angle
from lunarsite.sim.rover import SimRover
from lunarsite.sim.world import LunarWorld, SimConfig
from tests.sim.conftest import flat_terrain


def _active(config: RoverConfig, **sim: object) -> tuple[LunarWorld, SimRover]:
    world = LunarWorld(flat_terrain(), SimConfig(**sim))  # type: ignore[arg-type]
    rover = world.add_rover(config, Pose2(5.0, 5.0, 0.0), rng=np.random.default_rng(0))
    rover.configure()
    rover.activate()
    return world, rover


def _drive(world: LunarWorld, rover: SimRover, cmd: DriveCommand, seconds: float) -> None:
    for _ in range(round(seconds * 20)):
        rover.write(RoverCommand(cmd))
        world.clock.sleep_s(0.05)


@pytest.mark.parametrize("name", ["excavator", "lab_rover"])
def test_rover_rests_level_and_its_imu_reads_lunar_gravity(
    name: str, request: pytest.FixtureRequest
) -> None:
    config: RoverConfig = request.getfixturevalue(name)
    world, rover = _active(config)
    with world:
        world.clock.sleep_s(0.5)
        s = rover.read()
        pose = world.truth.rover_pose(rover)
        assert pose.tilt_rad < 0.01
        assert s.accel_mps2[2] == pytest.approx(LUNAR_GRAVITY_MPS2, abs=0.1)
        assert max(abs(g) for g in s.gyro_radps) < 0.01
        # The wheels carry the rover's whole weight at lunar gravity.
        normal = sum(cp[9] for cp in world.client.getContactPoints(bodyA=rover.body))
        assert normal == pytest.approx(config.total_mass_kg * LUNAR_GRAVITY_MPS2, rel=0.05)


@pytest.mark.parametrize("name", ["excavator", "lab_rover"])
def test_straight_drive_matches_encoders(name: str, request: pytest.FixtureRequest) -> None:
    config: RoverConfig = request.getfixturevalue(name)
    world, rover = _active(config)
    with world:
        before, p0 = rover.read(), world.truth.rover_pose(rover)
        _drive(world, rover, DriveCommand(config.drive.max_speed_mps, 0.0), 8.0)
        after, p1 = rover.read(), world.truth.rover_pose(rover)
    true_m = math.hypot(p1.x_m - p0.x_m, p1.y_m - p0.y_m)
    ticks = 0.5 * (after.left_ticks - before.left_ticks + after.right_ticks - before.right_ticks)
    encoder_m = ticks / config.encoders.ticks_per_rev * 2 * math.pi * config.wheels.radius_m
    assert true_m == pytest.approx(8.0 * config.drive.max_speed_mps, rel=0.05)
    assert encoder_m == pytest.approx(true_m, rel=0.02)
    assert abs(wrap_angle(p1.yaw_rad - p0.yaw_rad)) < 0.05


def test_gyro_integrates_to_the_true_turn(excavator: RoverConfig) -> None:
    world, rover = _active(excavator)
    with world:
        p0 = world.truth.rover_pose(rover)
        integrated = 0.0
        true_total = 0.0
        last = p0.yaw_rad
        for _ in range(120):
            rover.write(RoverCommand(DriveCommand(0.0, excavator.drive.max_yaw_rate_radps)))
            world.clock.sleep_s(0.05)
            integrated += rover.read().gyro_radps[2] * 0.05
            yaw = world.truth.rover_pose(rover).yaw_rad
            true_total += wrap_angle(yaw - last)
            last = yaw
    assert true_total > 0.5, "a turn-in-place command must turn the rover the right way"
    assert integrated == pytest.approx(true_total, rel=0.05)


def test_each_gyro_reading_is_the_mean_rate_since_the_last(excavator: RoverConfig) -> None:
    """A turn started, stopped and reversed: each reading of a noise- and bias-free gyro
    is the turn since the last reading over the time between (what an IMU's delta angle
    gives), not the rate at the instant of reading, which leads a turn's changes."""
    quiet = excavator.model_copy(
        update={"imu": excavator.imu.model_copy(update={"gyro_noise_std_radps": 0.0})}
    )
    world = LunarWorld(flat_terrain(), SimConfig())
    with world:
        rover = world.add_rover(quiet, Pose2(5.0, 5.0, 0.0), rng=np.random.default_rng(0))
        rover.imu_errors.gyro_turn_on_radps = np.zeros(3)  # the per-run bias: none here
        rover.configure()
        rover.activate()
        world.clock.sleep_s(0.5)
        rover.read()
        last = world.truth.rover_pose(rover).yaw_rad
        worst_mean = worst_now = 0.0
        for k in range(60):
            rate = (0.5, 0.0, -0.5)[k // 20]
            rover.write(RoverCommand(DriveCommand(0.0, rate)))
            world.clock.sleep_s(0.05)
            gyro_z = rover.read().gyro_radps[2]
            yaw = world.truth.rover_pose(rover).yaw_rad
            mean_rate = wrap_angle(yaw - last) / 0.05
            last = yaw
            now_rate = world.client.getBaseVelocity(rover.body)[1][2]
            worst_mean = max(worst_mean, abs(gyro_z - mean_rate))
            worst_now = max(worst_now, abs(now_rate - mean_rate))
    # Measured: the instantaneous rate is up to 0.018 rad/s off the interval's mean (the
    # drive ramps the turn over a few periods); the reading, within 1e-6 rad/s.
    assert worst_now > 0.01  # the turn's rate changes within a reading's interval...
    assert worst_mean < 1e-4  # ...and each reading is its mean


def test_servos_reach_targets_within_their_limits(lab_rover: RoverConfig) -> None:
    world, rover = _active(lab_rover)
    with world:
        rover.write(RoverCommand(tool_targets_rad={"scoop_lift": 1.2, "gripper_jaw": 5.0}))
        world.clock.sleep_s(2.0)
        tools = rover.read().tool_positions_rad
    assert tools["scoop_lift"] == pytest.approx(1.2, abs=0.02)
    # Beyond its limit the jaw stops at the limit.
    assert tools["gripper_jaw"] == pytest.approx(lab_rover.joint("gripper_jaw").upper_rad, abs=0.02)


def test_refused_commands_move_nothing(lab_rover: RoverConfig) -> None:
    world = LunarWorld(flat_terrain())
    rover = world.add_rover(lab_rover, Pose2(5.0, 5.0, 0.0), rng=np.random.default_rng(0))
    with world:
        with pytest.raises(LifecycleError, match="cannot read: rover is unconfigured"):
            rover.read()
        rover.configure()
        p0 = world.truth.rover_pose(rover)
        with pytest.raises(LifecycleError, match="inactive, not active"):
            rover.write(RoverCommand(DriveCommand(0.3, 0.0)))
        rover.activate()
        for bad, message in [
            (RoverCommand(DriveCommand(math.nan, 0.0)), "not finite"),
            (RoverCommand(DriveCommand(0.0, math.inf)), "not finite"),
            (RoverCommand(tool_targets_rad={"boom_lift": 0.1}), "unknown tool joint 'boom_lift'"),
            (RoverCommand(tool_targets_rad={"scoop_lift": math.nan}), "not finite"),
        ]:
            with pytest.raises(CommandError, match=message):
                rover.write(bad)
        world.clock.sleep_s(2.0)
        p1 = world.truth.rover_pose(rover)
        assert rover.lifecycle_state is LifecycleState.ACTIVE
    assert math.hypot(p1.x_m - p0.x_m, p1.y_m - p0.y_m) < 1e-3


def test_deactivate_stops_the_wheels(excavator: RoverConfig) -> None:
    world, rover = _active(excavator)
    with world:
        _drive(world, rover, DriveCommand(0.3, 0.0), 3.0)
        assert world.truth.rover_speed_mps(rover) > 0.25
        rover.deactivate()
        world.clock.sleep_s(1.0)
        assert world.truth.rover_speed_mps(rover) < 0.01


def test_mixing_keeps_curvature_when_a_side_saturates(excavator: RoverConfig) -> None:
    left, right = mix_skid_steer(DriveCommand(1.0, 1.0), excavator)
    top = excavator.drive.max_wheel_speed_radps
    assert max(abs(left), abs(right)) == pytest.approx(top)
    b = excavator.wheels.track_m * excavator.drive.effective_track_factor
    r = excavator.wheels.radius_m
    v, w = 0.5 * (left + right) * r, (right - left) * r / b
    assert w / v == pytest.approx(1.0)


def test_camera_sees_the_ground_at_the_expected_range(lab_rover: RoverConfig) -> None:
    world, rover = _active(lab_rover, render_camera=True)
    cam = lab_rover.camera
    assert cam is not None
    with world:
        world.clock.sleep_s(0.5)
        frame = rover.read_camera()
        centre, _ = rover.chassis_frame()
    assert frame.rgb.shape == (cam.height_px, cam.width_px, 3)
    assert frame.depth_m.shape == (cam.height_px, cam.width_px)
    # The optical axis hits flat ground at height h / sin(pitch) along the axis.
    height = centre[2] + cam.mount_xyz_m[2]
    expected = height / math.sin(cam.mount_pitch_rad)
    mid = float(
        np.median(
            frame.depth_m[
                cam.height_px // 2 - 2 : cam.height_px // 2 + 2,
                cam.width_px // 2 - 2 : cam.width_px // 2 + 2,
            ]
        )
    )
    assert mid == pytest.approx(expected, rel=0.05)


def _pivot_turn_rad(config: RoverConfig, seconds: float) -> tuple[float, float]:
    """Command a turn in place on flat ground; the true yaw turned and the drift, in rad, m."""
    world, rover = _active(config)
    with world:
        p0 = world.truth.rover_pose(rover)
        turned, last = 0.0, p0.yaw_rad
        for _ in range(round(seconds * 20)):
            rover.write(RoverCommand(DriveCommand(0.0, config.drive.max_yaw_rate_radps)))
            world.clock.sleep_s(0.05)
            yaw = world.truth.rover_pose(rover).yaw_rad
            turned += wrap_angle(yaw - last)
            last = yaw
        p1 = world.truth.rover_pose(rover)
    return turned, math.hypot(p1.x_m - p0.x_m, p1.y_m - p0.y_m)


def test_lower_sideways_friction_lets_a_skid_steer_pivot(excavator: RoverConfig) -> None:
    assert excavator.wheels.lateral_friction_ratio < 1.0
    isotropic = excavator.model_copy(
        update={"wheels": excavator.wheels.model_copy(update={"lateral_friction_ratio": 1.0})}
    )
    turned, drift_m = _pivot_turn_rad(excavator, 3.0)
    turned_iso, _ = _pivot_turn_rad(isotropic, 3.0)
    # 3 s at 0.5 rad/s asks for 1.5 rad: the shipped wheels get most of it, in place
    assert turned > 0.6 * 1.5
    assert turned > 1.2 * turned_iso
    assert drift_m < 0.2  # the chassis swings a little about its rear-heavy centre of mass


def _wheel_loads_n(world: LunarWorld, rover: SimRover) -> list[float]:
    c = world.client
    return [
        sum(cp[9] for cp in c.getContactPoints(bodyA=rover.body, linkIndexA=w))
        for w in rover._left_wheels + rover._right_wheels
    ]


def test_suspension_rides_level_at_design_height_on_flat_ground(excavator: RoverConfig) -> None:
    assert excavator.wheels.suspension_stiffness_npm is not None
    world, rover = _active(excavator)
    with world:
        world.clock.sleep_s(2.0)
        struts = world.client.getJointStates(rover.body, rover._struts)
        pose = world.truth.rover_pose(rover)
        loads = _wheel_loads_n(world, rover)
    # Each strut's preload carries its share of the weight: no sag, no pitch
    assert max(abs(s[0]) for s in struts) < 0.002
    assert pose.tilt_rad < 0.005
    weight = excavator.total_mass_kg * LUNAR_GRAVITY_MPS2
    assert sum(loads) == pytest.approx(weight, rel=0.03)
    assert min(loads) > 0.2 * weight


def _loads_with_front_left_on_a_block(config: RoverConfig, block_m: float) -> list[float]:
    terrain = flat_terrain(cell_m=0.05)
    heights = np.array(terrain.heights_m)
    # A block under the front-left wheel (hub at x + wheelbase/2, y + track/2).
    wx, wy = 5.0 + config.wheels.wheelbase_m / 2, 5.0 + config.wheels.track_m / 2
    i0, i1 = round((wx - 0.15) / 0.05), round((wx + 0.15) / 0.05)
    j0, j1 = round((wy - 0.15) / 0.05), round((wy + 0.15) / 0.05)
    heights[j0 : j1 + 1, i0 : i1 + 1] = block_m
    bumpy = type(terrain)(heights, 0.05, (0.0, 0.0), craters=(), rocks=())
    world = LunarWorld(bumpy, SimConfig())
    rover = world.add_rover(config, Pose2(5.0, 5.0, 0.0), rng=np.random.default_rng(0))
    rover.configure()
    rover.activate()
    with world:
        world.clock.sleep_s(3.0)
        return _wheel_loads_n(world, rover)


def test_suspension_keeps_all_four_wheels_loaded_over_a_block(excavator: RoverConfig) -> None:
    rigid = excavator.model_copy(
        update={"wheels": excavator.wheels.model_copy(update={"suspension_stiffness_npm": None})}
    )
    weight = excavator.total_mass_kg * LUNAR_GRAVITY_MPS2
    sprung = _loads_with_front_left_on_a_block(excavator, 0.01)
    fixed = _loads_with_front_left_on_a_block(rigid, 0.01)
    # A rigid chassis with one wheel up 1 cm rocks onto the diagonal pair through the
    # block; one of the other two carries next to nothing. The springs share the twist.
    assert min(fixed) < 0.02 * weight
    assert min(sprung) > 0.08 * weight


def test_without_a_stream_each_camera_read_takes_a_fresh_picture(lab_rover: RoverConfig) -> None:
    # An earthwork survey asks for a frame when it stands at a survey pose: the frame
    # must show the world then, not the first frame ever taken.
    world, rover = _active(lab_rover, render_camera=False)
    with world:
        first = rover.read_camera()
        _drive(world, rover, DriveCommand(0.2, 0.0), 2.0)
        second = rover.read_camera()
    assert second.stamp_s > first.stamp_s + 1.5
    assert not np.array_equal(first.depth_m, second.depth_m)
