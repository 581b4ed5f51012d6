"""One behaviour on every plant: the mock rover, the simulated rover, and the serial rover
talking to the virtual rover (the firmware core on a pseudo-terminal).

The same checks run against each, through the one control loop and the hardware
interface only: refusals of the lifecycle and of bad commands, what the encoders and the
gyro report for a straight drive and a turn, that saturation keeps the path's curvature
(the one skid-steer mixer), that a stop stops, and that a servo reaches its target. The
expected values come from the rover file's geometry (wheel radius, track, ticks per
revolution), not from any plant's code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.executive import (
    ActionResult,
    ActionStatus,
    Agent,
    ControlLoop,
    Running,
    Skill,
    Step,
)
from lunarsite.robot.hardware import CommandError, LifecycleError, RoverInterface
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand, SensedState

HZ = 20.0
PLANTS = ("mock", "sim", "serial")


@dataclass
class Plant:
    name: str
    rover: RoverInterface
    config: RoverConfig
    log: list[SensedState] = field(default_factory=list)

    def hold(self, command: RoverCommand, seconds: float) -> list[SensedState]:
        """Write ``command`` every tick for ``seconds`` through the loop; the readings."""
        readings: list[SensedState] = []
        ControlLoop(
            [Agent(self.rover, _Constant(command, seconds))],
            rate_hz=HZ,
            on_tick=lambda t: readings.append(t.sensed),
        ).run()
        return readings


class _Constant(Skill):
    """Commands the same thing for a while."""

    def __init__(self, command: RoverCommand, seconds: float) -> None:
        super().__init__("constant")
        self.command, self.seconds = command, seconds

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if now_s - self.start_s >= self.seconds:
            return ActionResult(ActionStatus.SUCCEEDED)
        return Running(self.command)


@pytest.fixture(params=PLANTS)
def plant(
    request: pytest.FixtureRequest, lab_rover: RoverConfig, tmp_path: Path
) -> Iterator[Plant]:
    if request.param == "mock":
        rover = MockRover(lab_rover, ManualClock(), Pose2(1.0, 1.0, 0.0))
        rover.configure()
        rover.activate()
        yield Plant("mock", rover, lab_rover)
    elif request.param == "sim":
        from lunarsite.sim.world import LunarWorld, SimConfig
        from tests.sim.conftest import flat_terrain

        with LunarWorld(flat_terrain(4.0, 0.05), SimConfig(control_hz=20)) as world:
            sim_rover = world.add_rover(
                lab_rover, Pose2(2.0, 2.0, 0.0), rng=np.random.default_rng(3)
            )
            sim_rover.configure()
            sim_rover.activate()
            yield Plant("sim", sim_rover, lab_rover)
    else:
        from lunarsite.firmware_bridge.build import build_virtual_rover
        from lunarsite.firmware_bridge.link import LinkConfig, SerialLink
        from lunarsite.firmware_bridge.serial_rover import SerialRover
        from lunarsite.firmware_bridge.virtual_rover import VirtualRover

        with VirtualRover(executable=build_virtual_rover()) as vr:
            link = SerialLink(LinkConfig(port=vr.port, seed=5))
            with SerialRover(lab_rover, link) as serial:
                serial.configure()
                serial.activate()
                yield Plant("serial", serial, lab_rover)


def _ticks_per_m(cfg: RoverConfig) -> float:
    return cfg.encoders.ticks_per_rev / (2.0 * math.pi * cfg.wheels.radius_m)


def _rates(readings: list[SensedState], after_s: float) -> tuple[float, float, float]:
    """Left and right counts per second and the mean gyro z over the readings later than
    ``after_s`` from the first (the motors have reached their speed)."""
    t0 = readings[0].stamp_s
    late = [s for s in readings if s.stamp_s - t0 >= after_s]
    a, b = late[0], late[-1]
    dt = b.stamp_s - a.stamp_s
    gyro = float(np.mean([s.gyro_radps[2] for s in late]))
    return (b.left_ticks - a.left_ticks) / dt, (b.right_ticks - a.right_ticks) / dt, gyro


@pytest.mark.slow
def test_lifecycle_and_bad_commands_are_refused_alike(plant: Plant) -> None:
    rover = plant.rover
    before = rover.read()
    with pytest.raises(CommandError, match="not finite"):
        rover.write(RoverCommand(DriveCommand(math.nan, 0.0)))
    with pytest.raises(CommandError, match="unknown tool joint"):
        rover.write(RoverCommand(tool_targets_rad={"no_such_joint": 0.1}))
    still = plant.hold(RoverCommand(), 0.5)  # nothing was applied: it stands still
    assert (still[-1].left_ticks, still[-1].right_ticks) == pytest.approx(
        (before.left_ticks, before.right_ticks), abs=3
    )
    rover.deactivate()
    with pytest.raises(LifecycleError, match="not active"):
        rover.write(RoverCommand(DriveCommand(0.1, 0.0)))
    rover.read()  # reads stay allowed while inactive
    rover.activate()
    rover.write(RoverCommand())


@pytest.mark.slow
def test_straight_drive_counts_forward_on_both_sides(plant: Plant) -> None:
    v = 0.15
    readings = plant.hold(RoverCommand(DriveCommand(v, 0.0)), 2.5)
    left, right, gyro = _rates(readings, 1.0)
    expected = v * _ticks_per_m(plant.config)  # counts per second at 0.15 m/s
    assert left == pytest.approx(expected, rel=0.15)
    assert right == pytest.approx(expected, rel=0.15)
    assert abs(gyro) < 0.05


@pytest.mark.slow
def test_a_positive_yaw_rate_turns_left(plant: Plant) -> None:
    w = 0.8
    readings = plant.hold(RoverCommand(DriveCommand(0.0, w)), 2.5)
    left, right, gyro = _rates(readings, 1.0)
    cfg = plant.config
    side = 0.5 * w * cfg.wheels.track_m * cfg.drive.effective_track_factor  # m/s per side
    assert left == pytest.approx(-side * _ticks_per_m(cfg), rel=0.2)
    assert right == pytest.approx(side * _ticks_per_m(cfg), rel=0.2)
    assert gyro > 0.3 * w  # the body turns the way it was told (slip takes some of it)


@pytest.mark.slow
def test_saturation_keeps_the_curvature(plant: Plant) -> None:
    # 0.35 m/s and 1.2 rad/s ask the right side for 16.5 rad/s, beyond the lab rover's
    # 13.6: both sides scale down together, so right/left stays (v + ωB/2)/(v - ωB/2);
    # clipping the right side alone would give 13.6 / 4.7 instead.
    cfg = plant.config
    v, w = 0.35, 1.2
    half = 0.5 * w * cfg.wheels.track_m * cfg.drive.effective_track_factor
    want = (v + half) / (v - half)
    clipped = cfg.drive.max_wheel_speed_radps / ((v - half) / cfg.wheels.radius_m)
    assert abs(clipped - want) / want > 0.15  # the check can tell the two apart
    readings = plant.hold(RoverCommand(DriveCommand(v, w)), 3.0)
    left, right, _ = _rates(readings, 1.5)
    assert right / left == pytest.approx(want, rel=0.07)
    top = cfg.drive.max_wheel_speed_radps * cfg.encoders.ticks_per_rev / (2.0 * math.pi)
    assert right <= 1.05 * top


@pytest.mark.slow
def test_a_stop_stops(plant: Plant) -> None:
    plant.hold(RoverCommand(DriveCommand(0.15, 0.3)), 1.5)
    settled = plant.hold(RoverCommand(), 1.5)
    a, b = settled[len(settled) // 2], settled[-1]
    assert abs(b.left_ticks - a.left_ticks) <= 3
    assert abs(b.right_ticks - a.right_ticks) <= 3


@pytest.mark.slow
def test_the_scoop_servo_reaches_its_target(plant: Plant) -> None:
    joint = plant.config.joint("scoop_lift")
    target = 1.0
    travel_s = abs(target - joint.home_rad) / joint.max_speed_radps
    readings = plant.hold(RoverCommand(tool_targets_rad={"scoop_lift": target}), travel_s + 1.5)
    assert readings[-1].tool_positions_rad["scoop_lift"] == pytest.approx(target, abs=0.05)
    # It went there at no more than its rated speed.
    first = readings[0].tool_positions_rad["scoop_lift"]
    moved = [
        s.stamp_s - readings[0].stamp_s
        for s in readings
        if abs(s.tool_positions_rad["scoop_lift"] - first) > 0.5 * abs(target - first)
    ]
    assert moved and moved[0] >= 0.4 * travel_s
