"""Soil in the PyBullet world: tiles follow the grid, bodies rest on the new surface, the
bucket fills and gains mass, cutting resistance stalls a light rover, mass is conserved."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.robot.types import DriveCommand, Pose2, RoverCommand
from lunarsite.sim.rover import SimRover
from lunarsite.sim.soil_boxes import Box
from lunarsite.sim.soil_config import SoilConfig
from lunarsite.sim.soil_heightfield import resample_terrain
from lunarsite.sim.soil_tools import cutting_share
from lunarsite.sim.terrain_config import ProceduralTerrainConfig
from lunarsite.sim.terrain_generation import generate_terrain
from lunarsite.sim.world import LunarWorld, SimConfig
from tests.sim.conftest import flat_terrain

STOP = DriveCommand(0.0, 0.0)


def _ray_z(world: LunarWorld, x: float, y: float) -> float:
    # A hair off the sample, so the ray does not run down a triangle vertex or tile seam.
    x, y = x + 1e-4, y + 1e-4
    hit = world.client.rayTest([x, y, 5.0], [x, y, -5.0])[0]
    assert hit[0] in world.terrain_bodies
    return float(hit[3][2])


def test_without_soil_the_world_keeps_one_rigid_heightfield() -> None:
    with LunarWorld(flat_terrain()) as world:
        assert world.soil is None
        assert world.terrain_bodies == (world.terrain_body,)


def test_tiles_match_the_soil_grid_and_follow_edits() -> None:
    terrain = generate_terrain(
        ProceduralTerrainConfig(), (4.0, 3.0), 0.02, np.random.default_rng(2)
    )
    cfg = SoilConfig(collision_cell_size_m=0.02, tile_cells=32)
    with LunarWorld(terrain, soil=cfg) as world:
        soil = world.soil
        assert soil is not None
        assert len(world.terrain_bodies) == 7 * 5  # 200 × 150 cells in 32-cell tiles
        rng = np.random.default_rng(0)
        pts = rng.uniform((0.1, 0.1), (3.9, 2.9), size=(60, 2))
        # Sample points on the grid: Bullet's two triangles per cell agree there exactly.
        pts = np.round(pts / 0.02) * 0.02
        for x, y in pts:
            assert _ray_z(world, x, y) == pytest.approx(float(soil.grid.height_at(x, y)), abs=1e-4)
        # Dig a pit across a tile border and pile the soil up: only those tiles change.
        grid = soil.grid
        flat = np.flatnonzero(
            (np.abs(np.arange(grid.heights_m.size) % 201 - 64) < 5)
            & (np.abs(np.arange(grid.heights_m.size) // 201 - 64) < 5)
        )
        kg = grid.cut_to(flat, grid.heights_m.reshape(-1)[flat] - 0.1)
        grid.deposit_at(np.array([3.0]), np.array([2.0]), np.array([kg]))
        before = soil.tiles_replaced
        soil.update()
        assert 0 < soil.tiles_replaced - before < len(world.terrain_bodies)
        for x, y in [(1.28, 1.28), (1.2, 1.3), (3.0, 2.0), (2.9, 2.1)]:
            # The pile is steep: 0.1 mm off the sample moves the surface by a fraction of a mm.
            assert _ray_z(world, x, y) == pytest.approx(float(grid.height_at(x, y)), abs=1e-3)
        assert _ray_z(world, 1.28, 1.28) < float(soil.initial_heights_m[64, 64]) - 0.05


def test_resample_terrain_keeps_heights_at_shared_points() -> None:
    terrain = generate_terrain(ProceduralTerrainConfig(), (2.0, 2.0), 0.1, np.random.default_rng(4))
    fine, origin = resample_terrain(terrain, 0.02)
    assert origin == terrain.origin_xy_m
    assert fine.shape == (101, 101)
    assert np.allclose(fine[::5, ::5], terrain.heights_m)


@pytest.mark.parametrize("step_m", [0.005, -0.005])
def test_a_resting_box_follows_the_ground_raised_or_lowered_under_it(step_m: float) -> None:
    with LunarWorld(flat_terrain(4.0, 0.02), soil=SoilConfig(wheel_sinkage=False)) as world:
        soil = world.soil
        assert soil is not None
        c = world.client
        shape = c.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.1, 0.1, 0.05])
        box = c.createMultiBody(
            baseMass=5.0, baseCollisionShapeIndex=shape, basePosition=[2, 2, 0.06]
        )
        world.step(240)
        z0 = c.getBasePositionAndOrientation(box)[0][2]
        grid = soil.grid
        # Soil changed away from the box: its contacts need no refresh.
        grid.heights_m[10:30, 10:30] += 0.01
        grid.mark_changed(Box(10, 30, 10, 30))
        world.step(24)
        assert soil.field.contact_refreshes == 0
        # Move the ground under the box by 3 cm in small steps (SIM.md: raise gradually).
        for _ in range(6):
            grid.heights_m[80:121, 80:121] += step_m
            grid.mark_changed(Box(80, 121, 80, 121))
            world.step(24)
        world.step(240)
        z1 = c.getBasePositionAndOrientation(box)[0][2]
        # The refreshed tiles are still fixed bodies: a wall sunk into them touches nothing.
        wall_shape = c.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.05, 1.0, 0.3])
        wall = c.createMultiBody(
            baseMass=0.0, baseCollisionShapeIndex=wall_shape, basePosition=[1.5, 2.0, 0.0]
        )
        world.step(2)
        assert c.getContactPoints(bodyA=wall) == ()
    assert soil.field.contact_refreshes > 0
    assert z1 - z0 == pytest.approx(6 * step_m, abs=0.004)


def _excavator(
    excavator: RoverConfig, gravity: float, soil: SoilConfig | None = None
) -> tuple[LunarWorld, SimRover]:
    world = LunarWorld(
        flat_terrain(4.0, 0.02),
        SimConfig(gravity_mps2=gravity, physics_hz=120),
        soil=soil or SoilConfig(material="bp1"),
    )
    rover = world.add_rover(excavator, Pose2(1.0, 2.0, 0.0), rng=np.random.default_rng(0))
    rover.configure()
    rover.activate()
    return world, rover


def _hold(
    world: LunarWorld, rover: SimRover, drive: DriveCommand, tools: dict[str, float], s: float
) -> None:
    for _ in range(round(s * 20)):
        rover.write(RoverCommand(drive, tools))
        world.clock.sleep_s(0.05)


def _ledger_error(world: LunarWorld) -> float:
    report = world.soil.volume_report()  # type: ignore[union-attr]
    return abs(report["conservation_error_kg"]) / max(report["cut_kg"], 1e-9)


@pytest.mark.slow
def test_bucket_digs_carries_with_added_mass_and_dumps(excavator: RoverConfig) -> None:
    world, rover = _excavator(excavator, LUNAR_GRAVITY_MPS2)
    with world:
        soil = world.soil
        assert soil is not None
        spec = rover.tool_links["bucket"]
        dig = {"boom_lift": -0.3, "bucket_curl": 0.2}
        _hold(world, rover, STOP, dig, 3.0)
        _hold(world, rover, DriveCommand(0.1, 0.0), dig, 3.0)
        load = soil.tool_load_kg(rover, "bucket")
        assert load > 5.0
        mass = world.client.getDynamicsInfo(rover.body, spec.link)[0]
        assert mass == pytest.approx(spec.link_mass_kg + load, abs=0.05)
        pit = soil.snapshot() - soil.initial_heights_m
        assert pit.min() < -0.03
        carry = {"boom_lift": 0.3, "bucket_curl": 1.1}
        _hold(world, rover, STOP, carry, 2.0)
        carried = soil.tool_load_kg(rover, "bucket")
        assert carried >= load  # curling out of the cut scoops a little more
        _hold(world, rover, DriveCommand(-0.2, 0.0), carry, 3.0)
        assert soil.tool_load_kg(rover, "bucket") == carried  # nothing spills on the way
        _hold(world, rover, STOP, {"boom_lift": 0.3, "bucket_curl": -1.5}, 6.0)
        assert soil.tool_load_kg(rover, "bucket") < 0.1 * carried
        rep = soil.volume_report()
        assert rep["poured_kg"] > 0.9 * carried
        assert rep["fill_m3"] > 0.005
        assert _ledger_error(world) < 1e-9


@pytest.mark.slow
def test_lunar_rover_stalls_at_a_shallower_cut_than_on_earth(excavator: RoverConfig) -> None:
    """Drive forward with the bucket edge set ever deeper; record the depth of cut at which
    the rover stops making headway. Cohesion does not scale with g, traction does."""

    def stall_depth(g: float) -> float:
        world, rover = _excavator(excavator, g, SoilConfig(material="bp1", wheel_sinkage=False))
        with world:
            track = world.soil._tools[0]  # type: ignore[union-attr]
            _hold(world, rover, STOP, {"boom_lift": 0.0, "bucket_curl": 0.3}, 2.0)
            for boom in np.arange(0.0, -0.6, -0.05):
                x0 = world.truth.rover_pose(rover).x_m
                _hold(
                    world,
                    rover,
                    DriveCommand(0.1, 0.0),
                    {"boom_lift": float(boom), "bucket_curl": 0.3},
                    2.0,
                )
                if world.truth.rover_pose(rover).x_m - x0 < 0.05:  # under 25% of 0.2 m
                    return -float(track.edge.centre_m[2])
        return 1.0

    moon = stall_depth(LUNAR_GRAVITY_MPS2)
    earth = stall_depth(9.81)
    assert 0.0 < moon < earth


@pytest.mark.parametrize(
    ("velocity", "share"),
    [
        ((0.1, 0.0, 0.0), 1.0),  # pushed the way it faces: a full cut
        ((0.1, 0.0, -0.1), math.sqrt(0.5)),  # forward and down at 45°
        ((0.0, 0.0, -0.1), 0.0),  # lowered into the soil
        ((0.0, 0.0, 0.1), 0.0),  # lifted out of it
        ((-0.1, 0.0, 0.0), 0.0),  # dragged backwards
        ((0.0, 0.1, 0.0), 0.0),  # slid sideways along its edge
    ],
)
def test_only_an_edge_pushed_forward_cuts(velocity: tuple[float, ...], share: float) -> None:
    forward = np.array([math.cos(0.3), 0.0, -math.sin(0.3)])  # bucket lip pitched down
    assert cutting_share(np.array(velocity), forward) == pytest.approx(share)
