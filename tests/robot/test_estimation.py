"""DeadReckoning on synthetic readings with known truth, and on the mock rover."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.perception.estimation import (
    DeadReckoning,
    EstimationError,
    HeadingSource,
    arc_step,
    tilt_from_gravity,
    world_yaw_rate,
)
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand, SensedState, wrap_angle

G = LUNAR_GRAVITY_MPS2
LEVEL = (0.0, 0.0, G)
DT_S = 0.05


def reading(
    stamp_s: float,
    left: int,
    right: int,
    gyro: tuple[float, float, float] = (0.0, 0.0, 0.0),
    accel: tuple[float, float, float] = LEVEL,
) -> SensedState:
    return SensedState(stamp_s, left, right, gyro, accel, {}, 14.8)


def metres_per_tick(config: RoverConfig) -> float:
    return 2.0 * math.pi * config.wheels.radius_m / config.encoders.ticks_per_rev


def exact_arcs(start: Pose2, arcs: Sequence[tuple[float, float]]) -> Pose2:
    """Closed-form end pose after (length_m, dyaw_rad) constant-curvature arcs."""
    x, y, yaw = start.x_m, start.y_m, start.yaw_rad
    for length_m, dyaw in arcs:
        if abs(dyaw) > 1e-6:
            radius = length_m / dyaw
            x += radius * (math.sin(yaw + dyaw) - math.sin(yaw))
            y -= radius * (math.cos(yaw + dyaw) - math.cos(yaw))
        else:
            x += length_m * math.cos(yaw + 0.5 * dyaw)
            y += length_m * math.sin(yaw + 0.5 * dyaw)
        yaw += dyaw
    return Pose2(x, y, yaw)


def run_mock(
    rover: MockRover, estimators: Sequence[DeadReckoning], legs: Sequence[tuple[float, float, int]]
) -> float:
    """Drive (v, ω, steps) legs at 20 Hz, updating the estimators; worst position error."""
    worst = 0.0
    for est in estimators:
        est.update(rover.read())
    for v, w, steps in legs:
        rover.write(RoverCommand(DriveCommand(v, w)))
        for _ in range(steps):
            rover.clock.sleep_s(DT_S)
            state = rover.read()
            truth = rover.true_pose
            for est in estimators:
                pose = est.update(state)
                worst = max(worst, math.hypot(pose.x_m - truth.x_m, pose.y_m - truth.y_m))
    return worst


# ------------------------------------------------------------------- pure functions
def test_arc_step_quarter_circle() -> None:
    pose = arc_step(Pose2(1.0, 0.0, math.pi / 2), math.pi / 2, math.pi / 2)
    assert (pose.x_m, pose.y_m, pose.yaw_rad) == pytest.approx((0.0, 1.0, math.pi))


@pytest.mark.parametrize(("roll", "pitch"), [(0.0, 0.2), (0.2, 0.0), (-0.15, 0.3), (0.0, 0.0)])
def test_tilt_from_gravity_inverts_zyx(roll: float, pitch: float) -> None:
    sp, cp, sr, cr = math.sin(pitch), math.cos(pitch), math.sin(roll), math.cos(roll)
    accel = (-G * sp, G * sr * cp, G * cr * cp)
    assert tilt_from_gravity(accel) == pytest.approx((roll, pitch))


def test_world_yaw_rate_on_level_ground_is_gyro_z() -> None:
    assert world_yaw_rate((0.3, -0.2, 0.7), 0.0, 0.0) == 0.7


# ------------------------------------------------------------------ on the mock rover
@pytest.fixture
def rover(rover_config: RoverConfig) -> MockRover:
    rover = MockRover(rover_config, ManualClock())
    rover.configure()
    rover.activate()
    return rover


def test_straight_line(rover: MockRover) -> None:
    est = DeadReckoning(rover.config, Pose2(0.0, 0.0, 0.0))
    worst = run_mock(rover, [est], [(0.2, 0.0, 100)])  # 1 m
    tick_m = metres_per_tick(rover.config)
    assert worst <= tick_m
    assert est.pose.x_m == pytest.approx(1.0, abs=tick_m)
    assert est.pose.y_m == 0.0
    assert est.distance_m == pytest.approx(1.0, abs=tick_m)


def test_circle_closes(rover: MockRover) -> None:
    w = 2.0 * math.pi / 32.0  # one turn in 32 s = 640 steps, radius 1 m
    start = Pose2(0.0, 0.0, 0.0)
    est = DeadReckoning(rover.config, start)
    worst = run_mock(rover, [est], [(w * 1.0, w, 640)])
    truth = rover.true_pose
    assert math.hypot(truth.x_m, truth.y_m) < 1e-9  # the mock closed the loop
    assert math.hypot(est.pose.x_m, est.pose.y_m) < 2e-3
    assert abs(wrap_angle(est.pose.yaw_rad)) < 1e-9
    assert worst < 2e-3
    assert est.distance_m == pytest.approx(2.0 * math.pi, abs=1e-3)


def test_reverse_driving(rover: MockRover) -> None:
    est = DeadReckoning(rover.config, Pose2(0.0, 0.0, 0.0))
    run_mock(rover, [est], [(0.2, 0.0, 100), (-0.2, 0.0, 50)])
    tick_m = metres_per_tick(rover.config)
    assert est.pose.x_m == pytest.approx(0.5, abs=2 * tick_m)
    assert est.distance_m == pytest.approx(1.5, abs=2 * tick_m)


def test_reversing_an_arc_retraces_it(rover: MockRover) -> None:
    start = Pose2(2.0, -1.0, 0.7)
    est = DeadReckoning(rover.config, start)
    run_mock(rover, [est], [(0.2, 0.3, 60), (-0.2, -0.3, 60)])
    assert est.pose.distance_to(start.x_m, start.y_m) < 2e-3
    assert est.pose.yaw_rad == pytest.approx(start.yaw_rad, abs=1e-9)


@pytest.mark.parametrize("source", ["gyro", "encoders"])
def test_heading_sources_agree_on_an_ideal_skid_steer(
    make_rover_config: Callable[..., RoverConfig], source: HeadingSource
) -> None:
    config = make_rover_config(effective_track_factor=1.6)
    rover = MockRover(config, ManualClock())
    rover.configure()
    rover.activate()
    est = DeadReckoning(config, Pose2(0.0, 0.0, 0.0), heading_source=source)
    worst = run_mock(rover, [est], [(0.2, 0.0, 40), (0.0, 0.8, 40), (0.3, -0.4, 80)])
    assert worst < 5e-3
    assert est.pose.yaw_rad == pytest.approx(rover.true_pose.yaw_rad, abs=5e-3)


# ------------------------------------------------------------------- synthetic data
def test_gyro_bias_drifts_gyro_heading_but_not_encoder_heading(
    rover_config: RoverConfig,
) -> None:
    gyro_est = DeadReckoning(rover_config, Pose2(0.0, 0.0, 0.0), "gyro")
    enc_est = DeadReckoning(rover_config, Pose2(0.0, 0.0, 0.0), "encoders")
    for k in range(101):  # 10 s straight, gyro biased by 0.01 rad/s
        state = reading(0.1 * k, 10 * k, 10 * k, gyro=(0.0, 0.0, 0.01))
        gyro_est.update(state)
        enc_est.update(state)
    assert gyro_est.pose.yaw_rad == pytest.approx(0.1)
    assert enc_est.pose.yaw_rad == 0.0
    assert enc_est.pose.x_m == pytest.approx(1000 * metres_per_tick(rover_config))


def test_encoder_heading_needs_no_imu(rover_config: RoverConfig) -> None:
    est = DeadReckoning(rover_config, Pose2(0.0, 0.0, 0.0), "encoders")
    nan3 = (math.nan, math.nan, math.nan)
    est.update(reading(0.0, 0, 0, gyro=nan3, accel=nan3))
    est.update(reading(1.0, -100, 100, gyro=nan3, accel=nan3))
    expected = 200 * metres_per_tick(rover_config) / rover_config.wheels.track_m
    assert est.pose.yaw_rad == pytest.approx(expected)


@pytest.mark.parametrize(
    ("roll_deg", "pitch_deg"), [(0.0, 10.0), (0.0, -10.0), (10.0, 0.0), (8.0, -6.0)]
)
def test_tilted_imu_maps_body_rates_to_world_yaw_rate(
    rover_config: RoverConfig, roll_deg: float, pitch_deg: float
) -> None:
    roll, pitch = math.radians(roll_deg), math.radians(pitch_deg)
    # world z in the body frame (ZYX): both the gravity reading and the yaw-rate axis
    up = (-math.sin(pitch), math.sin(roll) * math.cos(pitch), math.cos(roll) * math.cos(pitch))
    rate = 0.5  # rad/s about world z, turning in place for 2 s
    gyro = (rate * up[0], rate * up[1], rate * up[2])
    accel = (G * up[0], G * up[1], G * up[2])
    est = DeadReckoning(rover_config, Pose2(0.0, 0.0, 0.0))
    for k in range(41):
        est.update(reading(0.05 * k, 0, 0, gyro=gyro, accel=accel))
    assert est.tilt_rad == pytest.approx((roll, pitch))
    assert est.pose.yaw_rad == pytest.approx(1.0, abs=1e-9)
    naive = gyro[2] * 2.0  # integrating body z alone is wrong by cos(roll)·cos(pitch)
    assert abs(naive - 1.0) > 0.009


def test_driving_up_a_ramp_projects_distance_to_the_plane(rover_config: RoverConfig) -> None:
    pitch = math.radians(-10.0)  # nose up
    accel = (-G * math.sin(pitch), 0.0, G * math.cos(pitch))
    est = DeadReckoning(rover_config, Pose2(0.0, 0.0, math.pi / 2))
    ticks_per_m = 1.0 / metres_per_tick(rover_config)
    for k in range(11):
        n = round(0.1 * k * ticks_per_m)
        est.update(reading(0.5 * k, n, n, accel=accel))
    ground_m = round(ticks_per_m) * metres_per_tick(rover_config)
    assert est.pose.x_m == pytest.approx(0.0, abs=1e-12)
    assert est.pose.y_m == pytest.approx(ground_m * math.cos(pitch))
    assert est.distance_m == pytest.approx(ground_m)


def test_first_reading_only_initialises(rover_config: RoverConfig) -> None:
    start = Pose2(1.0, 2.0, 0.5)
    est = DeadReckoning(rover_config, start)
    assert not est.initialised
    assert est.update(reading(12.0, 5000, 5200, gyro=(0.0, 0.0, 0.3))) == start
    assert est.initialised
    assert est.distance_m == 0.0


def test_repeated_reading_is_ignored(rover_config: RoverConfig) -> None:
    est = DeadReckoning(rover_config, Pose2(0.0, 0.0, 0.0))
    est.update(reading(0.0, 0, 0))
    first = est.update(reading(1.0, 100, 100, gyro=(0.0, 0.0, 0.1)))
    assert est.update(reading(1.0, 100, 100, gyro=(0.0, 0.0, 0.1))) == first


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (reading(0.5, 10, 10), r"stamp 0\.5 s does not follow the previous one \(1\.0 s\)"),
        (reading(1.0, 11, 10), "stamps must increase"),
        (reading(math.nan, 10, 10), "non-finite stamp_s"),
        (reading(2.0, 10, 10, gyro=(0.0, 0.0, math.inf)), "non-finite gyro_radps"),
        (reading(2.0, 10, 10, accel=(math.nan, 0.0, G)), "non-finite accel_mps2"),
    ],
)
def test_bad_readings_raise_and_change_nothing(
    rover_config: RoverConfig, bad: SensedState, fragment: str
) -> None:
    est = DeadReckoning(rover_config, Pose2(0.0, 0.0, 0.0))
    est.update(reading(0.0, 0, 0))
    before = est.update(reading(1.0, 10, 10))
    with pytest.raises(EstimationError, match=fragment) as info:
        est.update(bad)
    assert isinstance(info.value, ValueError)
    assert est.pose == before
    after = est.update(reading(2.0, 20, 20))
    assert after.x_m == pytest.approx(2 * before.x_m)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"heading_source": "compass"}, "heading_source must be 'gyro' or 'encoders'"),
        ({"accel_time_constant_s": -1.0}, "accel_time_constant_s must be finite and >= 0"),
        ({"accel_time_constant_s": math.nan}, "accel_time_constant_s"),
    ],
)
def test_bad_construction(
    rover_config: RoverConfig, kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        DeadReckoning(rover_config, Pose2(0.0, 0.0, 0.0), **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- property
ARC = st.tuples(
    st.integers(-3000, 3000),  # left ticks in the arc
    st.integers(-3000, 3000),  # right ticks (== left for the gyro source)
    st.floats(-1.5, 1.5),  # yaw rate for the gyro source, rad/s
    st.floats(0.01, 2.0),  # duration, s
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the config is immutable
)
@given(
    arcs=st.lists(ARC, min_size=1, max_size=12),
    source=st.sampled_from(["gyro", "encoders"]),
    start_yaw=st.floats(-math.pi, math.pi),
)
def test_noise_free_arcs_are_exact(
    rover_config: RoverConfig,
    arcs: list[tuple[int, int, float, float]],
    source: HeadingSource,
    start_yaw: float,
) -> None:
    tick_m = metres_per_tick(rover_config)
    start = Pose2(3.0, -4.0, start_yaw)
    est = DeadReckoning(rover_config, start, heading_source=source)
    stamp, left, right = 100.0, 7, -3
    est.update(reading(stamp, left, right))
    truth_arcs = []
    for n_left, n_right, rate, dt in arcs:
        if source == "gyro":
            n_right = n_left
            dyaw = rate * dt
        else:
            dyaw = (n_right - n_left) * tick_m / rover_config.wheels.track_m
        stamp, left, right = stamp + dt, left + n_left, right + n_right
        truth_arcs.append((0.5 * (n_left + n_right) * tick_m, dyaw))
        est.update(reading(stamp, left, right, gyro=(0.0, 0.0, rate)))
    truth = exact_arcs(start, truth_arcs)
    scale = max(1.0, sum(abs(length) for length, _ in truth_arcs))
    assert est.pose.distance_to(truth.x_m, truth.y_m) <= 1e-6 * scale
    assert abs(wrap_angle(est.pose.yaw_rad - truth.yaw_rad)) <= 1e-6 * scale
    assert est.distance_m == pytest.approx(sum(abs(length) for length, _ in truth_arcs))
