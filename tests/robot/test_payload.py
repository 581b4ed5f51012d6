"""The bucket scale: a still window of boom torque and accelerometer becomes kilograms of
soil; a rover that does not sense its boom's effort reads nothing."""

from __future__ import annotations

import math

import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.payload import BucketScale, Weigh, Weighing, soil_lever_m
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive.skill import ActionResult, Running
from lunarsite.robot.types import Pose2, SensedState

G = 1.62


def _reading(
    stamp_s: float,
    torque_nm: float | None,
    pitch_rad: float = 0.0,
    boom: float = 0.9,
    pitch_rate_radps: float = 0.0,
) -> SensedState:
    # At rest, nose down by pitch: the accelerometer sees gravity tipped forward.
    accel = (-G * math.sin(pitch_rad), 0.0, G * math.cos(pitch_rad))
    return SensedState(
        stamp_s=stamp_s,
        left_ticks=0,
        right_ticks=0,
        gyro_radps=(0.0, pitch_rate_radps, 0.0),
        accel_mps2=accel,
        tool_positions_rad={"boom_lift": boom, "bucket_curl": 0.5},
        battery_v=24.0,
        tool_efforts_nm={} if torque_nm is None else {"boom_lift": torque_nm},
    )


def _run(
    skill: Weigh, torques: list[float | None], pitch_rad: float = 0.0, rocking_ticks: int = 0
) -> int:
    """Tick ``skill`` over the torques (one per tick, the last repeated), the chassis
    rocking at 0.1 rad/s for the first ``rocking_ticks``; ticks used."""
    for k in range(1000):
        rate = 0.1 * (-1) ** (k // 10) if k < rocking_ticks else 0.0
        torque = torques[min(k, len(torques) - 1)]
        step = skill.tick(_reading(0.05 * k, torque, pitch_rad, pitch_rate_radps=rate), k)
        if isinstance(step, ActionResult):
            assert step.succeeded
            return k
        assert isinstance(step, Running)
        assert step.command.drive.linear_mps == 0.0  # it stands still throughout
    raise AssertionError("the weighing never ended")


def test_a_weighing_skips_the_settle_and_averages_its_window(excavator: RoverConfig) -> None:
    pilot = Pilot(excavator, Pose2(0.0, 0.0, 0.0), control_hz=20.0)
    # 1 s of swing-up transient (20 ticks at 20 Hz), then 2 s alternating 9 and 11 N·m.
    torques: list[float | None] = [0.0] * 20 + [9.0, 11.0] * 20
    w = Weigh(pilot, "boom_lift", "bucket_curl", 2.0, settle_s=1.0)
    ticks = _run(w, torques, pitch_rad=0.02)
    assert ticks == 60  # 20 settling, 40 weighing, then it answers
    assert w.reading is not None
    assert w.reading.torque_nm == pytest.approx(10.0)
    assert w.reading.gravity_mps2 == pytest.approx(G)
    assert w.reading.pitch_rad == pytest.approx(0.02)
    assert w.reading.boom_rad == pytest.approx(0.9)


def test_a_weighing_waits_for_the_chassis_to_stop_rocking(excavator: RoverConfig) -> None:
    pilot = Pilot(excavator, Pose2(0.0, 0.0, 0.0), control_hz=20.0)
    # Rocking (and the torque swinging with it) for 3 s, then calm at 12 N·m.
    torques: list[float | None] = [12.0 + 10.0 * (-1) ** (k // 10) for k in range(60)] + [12.0]
    w = Weigh(pilot, "boom_lift", "bucket_curl", 2.0, settle_s=1.0, max_settle_s=5.0)
    ticks = _run(w, torques, rocking_ticks=60)
    # Calm once the last 0.5 s (10 ticks) of pitch rate is quiet: tick 69 ends the settle.
    assert w.settle_s == pytest.approx(3.45)
    assert ticks == 69 + 40
    assert w.reading is not None
    assert w.reading.torque_nm == pytest.approx(12.0)
    # Never calm: the window opens at the most settling allowed, and reads what it gets.
    w = Weigh(pilot, "boom_lift", "bucket_curl", 1.0, settle_s=1.0, max_settle_s=2.0)
    _run(w, torques, rocking_ticks=1000)
    assert w.settle_s == pytest.approx(2.0)


def test_a_rover_without_an_effort_sensor_reads_nothing(excavator: RoverConfig) -> None:
    pilot = Pilot(excavator, Pose2(0.0, 0.0, 0.0), control_hz=20.0)
    w = Weigh(pilot, "boom_lift", "bucket_curl", 1.0, settle_s=0.0)
    _run(w, [None])
    assert w.reading is None
    scale = BucketScale(excavator, excavator.tools[0])
    scale.tare(w.reading)
    assert scale.tare_kg is None
    assert scale.payload_kg(w.reading) is None


def test_the_scale_recovers_a_mass_added_at_the_bucket(excavator: RoverConfig) -> None:
    """Build the torques from masses placed by hand (the arm's centre at half its length,
    the bucket's and the soil's where the geometry puts them) and weigh them back."""
    tool = excavator.tools[0]
    boom, curl = 0.9, 0.5
    arm_kg, bucket_kg, soil_kg = 7.2, 4.8, 13.0

    def torque(pitch: float, soil: float) -> float:
        arm_x = 0.5 * tool.arm_length_m * math.cos(boom - pitch)
        # Soil centre: 0.125 m into the bucket, 0.05 m below its pivot, bucket pitched up
        # by boom + curl - pitch (trigonometry of the point, not the function under test).
        b = boom + curl - pitch
        pivot_x = tool.arm_length_m * math.cos(boom - pitch)
        soil_x = pivot_x + 0.125 * math.cos(b) + 0.05 * math.sin(b)
        return G * (arm_kg * arm_x + (bucket_kg + soil) * soil_x)

    scale = BucketScale(excavator, tool)
    scale.tare(Weighing(torque(0.0, 0.0), G, 0.0, boom, curl))
    level = scale.payload_kg(Weighing(torque(0.0, soil_kg), G, 0.0, boom, curl))
    assert level == pytest.approx(soil_kg, rel=1e-9)
    # Weighed on a 3° nose-down slope after taring on the level: the arm's moment is
    # scaled as the bucket's, which costs well under a kilogram.
    tilted = scale.payload_kg(Weighing(torque(0.05, soil_kg), G, 0.05, boom, curl))
    assert tilted == pytest.approx(soil_kg, abs=0.3)
    # An empty bucket reads zero within the same margin anywhere on the slope.
    empty = scale.payload_kg(Weighing(torque(0.05, 0.0), G, 0.05, boom, curl))
    assert empty == pytest.approx(0.0, abs=0.3)


def test_the_soil_lever_shrinks_as_the_boom_rises(excavator: RoverConfig) -> None:
    tool = excavator.tools[0]
    levers = [soil_lever_m(tool, b, 0.5, 0.0) for b in (0.0, 0.5, 0.9, 1.2)]
    assert levers == sorted(levers, reverse=True)
    # Straight out and level (boom 0, bucket floor level): arm plus half the bucket.
    flat = soil_lever_m(tool, 0.0, 0.0, 0.0)
    assert flat == pytest.approx(tool.arm_length_m + 0.5 * tool.depth_m)
