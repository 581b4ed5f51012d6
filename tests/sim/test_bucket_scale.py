"""The simulated boom senses its torque, and the controller's scale weighs real soil by it.

The soil a bucket holds is added to its link's mass (:mod:`lunarsite.sim.soil_tools`);
the boom's servo then holds more. Truth here is the soil ledger's own count of what the
bucket holds, and PyBullet's own kinematics of where the bucket's centre of mass is.
"""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.control.payload import BucketScale, Weigh, soil_lever_m
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive.skill import ActionResult
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand, SensedState
from lunarsite.sim.rover import SimRover
from lunarsite.sim.world import LunarWorld
from tests.sim.test_soil_coupling import STOP, _excavator

CARRY = {"boom_lift": 0.9, "bucket_curl": 0.5}


def _hold(
    world: LunarWorld, rover: SimRover, drive: DriveCommand, tools: dict[str, float], s: float
) -> list[SensedState]:
    out = []
    for _ in range(round(s * 20)):
        rover.write(RoverCommand(drive, tools))
        world.clock.sleep_s(0.05)
        out.append(rover.read())
    return out


def _weigh(world: LunarWorld, rover: SimRover, config: RoverConfig) -> Weigh:
    """Run the controller's weighing skill on the simulated rover until it answers."""
    pilot = Pilot(config, Pose2(1.0, 2.0, 0.0), control_hz=20.0)
    pilot.tools.update(CARRY)
    w = Weigh(pilot, "boom_lift", "bucket_curl")
    while True:
        step = w.tick(rover.read(), world.sim_time_s)
        if isinstance(step, ActionResult):
            return w
        rover.write(step.command)
        world.clock.sleep_s(0.05)


def test_only_joints_with_an_effort_sensor_report_it(
    excavator: RoverConfig, lab_rover: RoverConfig
) -> None:
    world, rover = _excavator(excavator, LUNAR_GRAVITY_MPS2)
    with world:
        sensed = _hold(world, rover, STOP, CARRY, 0.5)[-1]
    assert set(sensed.tool_efforts_nm) == {"boom_lift"}  # the curl servo senses nothing
    world, lab = _excavator(lab_rover, LUNAR_GRAVITY_MPS2)
    with world:
        assert _hold(world, lab, STOP, {}, 0.2)[-1].tool_efforts_nm == {}


@pytest.mark.parametrize(("boom", "curl"), [(0.9, 0.5), (0.3, 1.1), (-0.2, -0.1)])
def test_the_soil_lever_is_where_pybullet_holds_the_bucket_mass(
    excavator: RoverConfig, boom: float, curl: float
) -> None:
    world, rover = _excavator(excavator, LUNAR_GRAVITY_MPS2)
    c = world.client
    spec = rover.tool_links["bucket"]
    with world:
        _hold(world, rover, STOP, {"boom_lift": boom, "bucket_curl": curl}, 3.0)
        com = np.asarray(c.getLinkState(rover.body, spec.link)[0])
        arm = rover.tool_links["bucket"].link - 1  # the bucket hangs off the arm's link
        pivot = np.asarray(c.getLinkState(rover.body, arm)[4])
        _, orn = c.getBasePositionAndOrientation(rover.body)
        yaw = pb.getEulerFromQuaternion(orn)[2]
        pitch = pb.getEulerFromQuaternion(orn)[1]  # PyBullet: nose down positive
        state = rover.read()
    ahead = float((com - pivot)[:2] @ np.array([math.cos(yaw), math.sin(yaw)]))
    b, k = state.tool_positions_rad["boom_lift"], state.tool_positions_rad["bucket_curl"]
    assert soil_lever_m(excavator.tools[0], b, k, pitch) == pytest.approx(ahead, abs=0.005)


@pytest.mark.slow
@pytest.mark.parametrize(("depth", "drive_s"), [(-0.2, 2.0), (-0.1, 3.0)])
def test_the_controllers_weighing_reads_a_dug_load_within_half_a_kilogram(
    excavator: RoverConfig, depth: float, drive_s: float
) -> None:
    world, rover = _excavator(excavator, LUNAR_GRAVITY_MPS2)
    soil = world.soil
    assert soil is not None
    scale = BucketScale(excavator, excavator.tools[0])
    with world:
        _hold(world, rover, STOP, CARRY, 1.0)
        scale.tare(_weigh(world, rover, excavator).reading)
        dig = {"boom_lift": depth, "bucket_curl": -0.3 - depth}
        _hold(world, rover, STOP, dig, 3.0)
        _hold(world, rover, DriveCommand(0.1, 0.0), dig, drive_s)
        _hold(world, rover, STOP, {"boom_lift": depth + 0.35, "bucket_curl": 0.2}, 1.5)
        _hold(world, rover, STOP, CARRY, 1.0)  # swing up (the scale waits for the rest)
        weighing = _weigh(world, rover, excavator)
        kg = scale.payload_kg(weighing.reading)
        truth = soil.tool_load_kg(rover, "bucket")
    assert truth > 2.0
    assert kg == pytest.approx(truth, abs=0.5)
    assert weighing.settle_s >= 1.0


def test_raising_the_boom_draws_at_least_its_lift_from_the_battery(
    excavator: RoverConfig,
) -> None:
    # The tool servos draw on the battery too: lifting the boom and bucket raises their
    # centres of mass, work no motor at 70% efficiency can deliver for less than
    # ΔPE / 0.7. Truth: PyBullet's link masses and centres of mass.
    world, rover = _excavator(excavator, LUNAR_GRAVITY_MPS2)
    c = world.client
    bucket = rover.tool_links["bucket"].link
    tool_links = [bucket - 1, bucket]  # the boom's arm, and the bucket hung off it

    def potential_j() -> float:
        return sum(
            c.getDynamicsInfo(rover.body, i)[0]
            * LUNAR_GRAVITY_MPS2
            * c.getLinkState(rover.body, i)[0][2]
            for i in tool_links
        )

    with world:
        _hold(world, rover, STOP, {"boom_lift": -0.2, "bucket_curl": 0.5}, 3.0)
        still = rover.energy_used_j
        _hold(world, rover, STOP, {"boom_lift": -0.2, "bucket_curl": 0.5}, 2.0)
        standing_j = rover.energy_used_j - still
        before_j, used_j = potential_j(), rover.energy_used_j
        _hold(world, rover, STOP, {"boom_lift": 0.9, "bucket_curl": 0.5}, 4.0)
        lift_j = potential_j() - before_j
        drawn_j = rover.energy_used_j - used_j
    assert lift_j > 5.0  # the boom really rose (12 kg of arm and bucket)
    assert drawn_j >= lift_j / 0.7
    assert drawn_j < 3.0 * lift_j / 0.7  # and not wildly more: a servo that slews once
    assert standing_j < 0.05 * lift_j  # standing still with the boom held draws ~nothing
