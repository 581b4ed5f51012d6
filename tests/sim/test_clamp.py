"""The placement rover's clamp picks, carries and sets down units by friction alone.

Truth is PyBullet's pose of the unit's body and the catalog's size and mass; the
controller's side is the skills (:class:`CloseOn`, :class:`Weigh` with
:class:`ClampScale`, :class:`Straight`) run on the simulated rover's sensed state.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.control.clamp import ClampScale, CloseOn
from lunarsite.robot.control.motions import Straight, ToolsTo
from lunarsite.robot.control.payload import Weigh
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive.skill import ActionResult, Skill
from lunarsite.robot.site.modules import ModuleType
from lunarsite.robot.types import STOP, Pose2, RoverCommand
from lunarsite.sim.config import SimConfig
from lunarsite.sim.units import SimUnit, add_unit, unit_pose
from lunarsite.sim.world import LunarWorld
from tests.conftest import shipped_rover
from tests.sim.conftest import flat_terrain

START = Pose2(1.5, 3.0, 0.0)
LIFT, JAWS = "clamp_lift", "clamp_jaws"


@pytest.fixture(scope="module")
def placer() -> RoverConfig:
    return shipped_rover("placer_66kg")


@pytest.fixture(scope="module")
def paver() -> ModuleType:
    from lunarsite.launch.files import load_catalog

    module = load_catalog()[0].get("paver_tile")
    assert module is not None
    return module


class Bench:
    """A flat site, the placer at START, one unit; runs skills on them."""

    def __init__(self, config: RoverConfig, unit: ModuleType, unit_xy: tuple[float, float]) -> None:
        self.world = LunarWorld(
            flat_terrain(6.0, 0.05), SimConfig(gravity_mps2=LUNAR_GRAVITY_MPS2, physics_hz=240)
        )
        self.rover = self.world.add_rover(config, START, rng=np.random.default_rng(0))
        self.unit: SimUnit = add_unit(self.world, "u", unit, *unit_xy)
        self.rover.configure()
        self.rover.activate()
        self.pilot = Pilot(config, START, control_hz=20.0)
        self.tool = config.tools[0]

    def run(self, skill: Skill) -> ActionResult:
        for _ in range(2000):
            sensed = self.rover.read()
            self.pilot.sense(sensed)
            step = skill.tick(sensed, self.world.sim_time_s)
            if isinstance(step, ActionResult):
                return step
            self.rover.write(step.command)
            self.world.clock.sleep_s(0.05)
        raise AssertionError(f"{skill.name} never finished")

    def weigh(self) -> Weigh:
        w = Weigh(self.pilot, LIFT, JAWS)
        assert self.run(w).succeeded
        return w

    def unit_xyz(self) -> np.ndarray:
        return np.asarray(unit_pose(self.world, self.unit)[:3])

    def rover_x(self) -> float:
        pos, _ = self.world.client.getBasePositionAndOrientation(self.rover.body)
        return float(pos[0])


def test_a_paver_is_gripped_weighed_carried_and_set_down(
    placer: RoverConfig, paver: ModuleType
) -> None:
    reach = placer.tools[0].mount_xyz_m[0] + placer.tools[0].arm_length_m
    b = Bench(placer, paver, (START.x_m + reach, START.y_m))
    with b.world:
        at_rest = b.unit_xyz()
        assert b.run(ToolsTo(b.pilot, {LIFT: 0.0, JAWS: 0.0})).succeeded
        scale = ClampScale(b.tool)
        scale.tare(b.weigh().reading)
        close = CloseOn(b.pilot, b.tool, paver.grasp_width_m)
        assert b.run(close).succeeded
        assert close.opening_m == pytest.approx(paver.size_m[1], abs=0.015)
        assert b.run(ToolsTo(b.pilot, {LIFT: 4.0})).succeeded  # 0.2 m up the mast
        lifted = b.unit_xyz()
        assert lifted[2] - at_rest[2] > 0.15
        held = scale.payload_kg(b.weigh().reading)
        assert held == pytest.approx(paver.mass_kg, abs=1.0)
        ahead = lifted[0] - b.rover_x()
        assert b.run(Straight(b.pilot, 1.0, 0.2, 0.0)).succeeded
        carried = b.unit_xyz()
        assert carried[0] - b.rover_x() == pytest.approx(ahead, abs=0.02)  # no slip in the jaws
        assert b.run(ToolsTo(b.pilot, {LIFT: 0.0})).succeeded
        assert b.run(ToolsTo(b.pilot, {JAWS: 0.0})).succeeded
        assert b.run(Straight(b.pilot, -0.5, 0.2, 0.0)).succeeded
        down = b.unit_xyz()
    moved = down[0] - at_rest[0]
    assert moved == pytest.approx(1.0, abs=0.08)
    assert down[2] == pytest.approx(at_rest[2], abs=0.005)  # on the ground, not on a jaw
    assert abs(down[1] - at_rest[1]) < 0.03


def test_jaws_closing_on_nothing_say_so_and_move_nothing(
    placer: RoverConfig, paver: ModuleType
) -> None:
    b = Bench(placer, paver, (START.x_m + 1.0, START.y_m + 1.2))  # beside, not between
    with b.world:
        before = b.unit_xyz()
        assert b.run(ToolsTo(b.pilot, {LIFT: 0.0, JAWS: 0.0})).succeeded
        result = b.run(CloseOn(b.pilot, b.tool, paver.grasp_width_m))
        assert not result.succeeded and "nothing between them" in result.reason
        assert b.run(ToolsTo(b.pilot, {LIFT: 4.0})).succeeded
        assert np.allclose(b.unit_xyz(), before, atol=1e-3)


def test_a_squeeze_too_weak_for_the_weight_lets_it_drop_and_the_scale_sees_it(
    placer: RoverConfig, paver: ModuleType
) -> None:
    # 0.3 N·m over a 5 cm pinion: 6 N a pad, 2 × 0.8 × 6 N holds 5.9 kg at lunar g.
    tool = placer.tools[0]
    weak_jaws = tool.joints[1].model_copy(update={"max_torque_nm": 0.3})
    weak = placer.model_copy(
        update={"tools": (tool.model_copy(update={"joints": (tool.joints[0], weak_jaws)}),)}
    )
    assert weak.tools[0].holds_kg(LUNAR_GRAVITY_MPS2) < paver.mass_kg
    reach = tool.mount_xyz_m[0] + tool.arm_length_m
    b = Bench(weak, paver, (START.x_m + reach, START.y_m))
    with b.world:
        at_rest = b.unit_xyz()
        assert b.run(ToolsTo(b.pilot, {LIFT: 0.0, JAWS: 0.0})).succeeded
        scale = ClampScale(b.tool)
        scale.tare(b.weigh().reading)
        assert b.run(CloseOn(b.pilot, b.tool, paver.grasp_width_m)).succeeded  # it touches
        b.run(ToolsTo(b.pilot, {LIFT: 4.0}))
        assert b.unit_xyz()[2] - at_rest[2] < 0.03
        held = scale.payload_kg(b.weigh().reading)
    assert held is not None and held < 0.3 * paver.mass_kg
    assert not math.isnan(held)


def _pad_contacts(b: Bench) -> int:
    c = b.world.client
    pads = b.rover._clamps[0][2]
    return sum(
        len(c.getContactPoints(bodyA=b.rover.body, linkIndexA=pad, bodyB=b.unit.body))
        for pad in pads
    )


def test_after_a_grasp_lets_go_the_pads_touch_and_grasp_the_unit_again(
    placer: RoverConfig, paver: ModuleType
) -> None:
    # When the latch lets go, the pads' contacts with the unit are dropped for one physics
    # step (PyBullet kept one with a reversed normal through a squeeze, and it dragged a
    # released paver 3.6 cm after its opening pad); after that step the pads must collide
    # with the unit again, or the next grasp would close through it.
    reach = placer.tools[0].mount_xyz_m[0] + placer.tools[0].arm_length_m
    b = Bench(placer, paver, (START.x_m + reach, START.y_m))
    grasp = b.rover.grasps[0]
    step_s = 1.0 / b.world.config.physics_hz
    with b.world:
        assert b.run(ToolsTo(b.pilot, {LIFT: 0.0, JAWS: 0.0})).succeeded
        assert b.run(CloseOn(b.pilot, b.tool, paver.grasp_width_m)).succeeded
        assert grasp.held == b.unit.body and _pad_contacts(b) > 0
        at = b.unit_xyz()
        # Ease the squeeze off with the pads left on the faces: the grasp ends (the pads
        # no longer press) while they still touch the unit.
        b.rover.write(RoverCommand(STOP, {JAWS: b.tool.squeeze_for_m(paver.grasp_width_m)}))
        for _ in range(480):
            b.world.clock.sleep_s(step_s)
            if grasp.held is None:
                break
        assert grasp.held is None
        b.world.clock.sleep_s(0.5)
        assert _pad_contacts(b) > 0  # the pads on its faces touch it again
        assert b.run(ToolsTo(b.pilot, {JAWS: 0.0})).succeeded
        assert np.allclose(b.unit_xyz(), at, atol=2e-3)  # let go where it stood
        # The jaws close on it and hold it again.
        assert b.run(CloseOn(b.pilot, b.tool, paver.grasp_width_m)).succeeded
        assert grasp.held == b.unit.body
        assert b.run(ToolsTo(b.pilot, {LIFT: 4.0})).succeeded
        assert b.unit_xyz()[2] - at[2] > 0.15
