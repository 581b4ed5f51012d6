"""The lunar world: gravity, rates, one client per world, terrain matches the data."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest
from pydantic import ValidationError

from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.executive import Agent, ControlLoop, Do
from lunarsite.robot.types import Pose2
from lunarsite.sim.terrain_config import ProceduralTerrainConfig
from lunarsite.sim.terrain_generation import generate_terrain
from lunarsite.sim.world import LunarWorld, SimConfig
from tests.conftest import shipped_rover
from tests.sim.conftest import flat_terrain


def _drop_ball(world: LunarWorld, seconds: float) -> float:
    c = world.client
    shape = c.createCollisionShape(pb.GEOM_SPHERE, radius=0.05)
    ball = c.createMultiBody(baseMass=1.0, baseCollisionShapeIndex=shape, basePosition=[5, 5, 20])
    c.changeDynamics(ball, -1, linearDamping=0.0, angularDamping=0.0)  # vacuum
    world.step(round(seconds * world.config.physics_hz))
    return 20.0 - c.getBasePositionAndOrientation(ball)[0][2]


def test_free_fall_follows_lunar_gravity() -> None:
    with LunarWorld(flat_terrain()) as world:
        fallen = _drop_ball(world, 2.0)
    assert fallen == pytest.approx(0.5 * LUNAR_GRAVITY_MPS2 * 2.0**2, rel=0.01)


def test_two_worlds_in_one_process_are_independent() -> None:
    moon = LunarWorld(flat_terrain())
    earth = LunarWorld(flat_terrain(), SimConfig(gravity_mps2=9.81))
    try:
        assert moon.client._client != earth.client._client
        assert _drop_ball(earth, 1.0) == pytest.approx(0.5 * 9.81, rel=0.01)
        assert _drop_ball(moon, 1.0) == pytest.approx(0.5 * LUNAR_GRAVITY_MPS2, rel=0.01)
    finally:
        moon.close()
        earth.close()


@pytest.mark.parametrize(("physics_hz", "control_hz"), [(240, 7), (100, 30), (250, 100)])
def test_physics_rate_must_be_a_multiple_of_the_control_rate(
    physics_hz: int, control_hz: int
) -> None:
    with pytest.raises(ValidationError, match="must be an integer multiple of control_hz"):
        SimConfig(physics_hz=physics_hz, control_hz=control_hz)


def test_sim_clock_advances_whole_steps_and_refuses_fractions() -> None:
    with LunarWorld(flat_terrain(), SimConfig(physics_hz=240, control_hz=20)) as world:
        world.clock.sleep_s(0.05)
        assert world.step_count == 12
        assert world.clock.now_s() == pytest.approx(0.05)
        with pytest.raises(ValueError, match="not a whole number"):
            world.clock.sleep_s(0.001)
        assert world.step_count == 12
        # A control loop at a rate the physics rate does not divide is refused up front.
        rover = world.add_rover(
            shipped_rover("lab_rover"), Pose2(5.0, 5.0, 0.0), rng=np.random.default_rng(0)
        )
        rover.configure()
        rover.activate()
        steps = world.step_count
        with pytest.raises(ValueError, match=r"not a whole number of 0\.004167 s physics steps"):
            ControlLoop([Agent(rover, Do(lambda: None))], rate_hz=7.0)
        ControlLoop([Agent(rover, Do(lambda: None))], rate_hz=20.0).run()
        assert world.step_count == steps  # a skill that ended at once: no wait


def test_heightfield_surface_matches_the_terrain_data() -> None:
    terrain = generate_terrain(
        ProceduralTerrainConfig(), (10.0, 8.0), 0.1, np.random.default_rng(3)
    )
    rng = np.random.default_rng(0)
    with LunarWorld(terrain) as world:
        c = world.client
        rock_free = []
        for x, y in rng.uniform((0.5, 0.5), (9.5, 7.5), size=(200, 2)):
            hit = c.rayTest([x, y, 50.0], [x, y, -50.0])[0]
            if hit[0] == world.terrain_body:
                rock_free.append((hit[3][2], terrain.height_at(x, y)))
    got, want = np.array(rock_free).T
    assert len(got) > 150
    # Bullet splits each cell into two triangles; bilinear interpolation differs by less
    # than the roughness within a cell.
    assert np.max(np.abs(got - want)) < 0.01
    assert np.median(np.abs(got - want)) < 0.002


def test_rocks_stand_on_the_terrain_partly_buried() -> None:
    terrain = generate_terrain(
        ProceduralTerrainConfig(), (20.0, 20.0), 0.1, np.random.default_rng(11)
    )
    assert terrain.rocks, "seed 11 should give rigid rocks"
    with LunarWorld(terrain) as world:
        assert len(world.rock_bodies) == len(terrain.rocks)
        for rock, body in zip(terrain.rocks, world.rock_bodies, strict=True):
            lo, hi = world.client.getAABB(body)
            ground = terrain.height_at(rock.x_m, rock.y_m)
            assert lo[2] < ground < hi[2]
            assert hi[2] - ground == pytest.approx(rock.height_m - rock.embed_depth_m, abs=0.02)
