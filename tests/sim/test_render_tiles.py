"""The rover camera draws the terrain as tiles culled to its view (sim/render_tiles.py):
the picture it gives is the one the whole terrain gives, near ground to the millimetre;
the tiles never touch physics or the scanner; every tile is drawn again afterwards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.types import CameraFrame, DriveCommand, Pose2, RoverCommand
from lunarsite.sim.config import SimConfig
from lunarsite.sim.rangefinder import Rangefinder, RangefinderConfig
from lunarsite.sim.render_tiles import frustum_planes
from lunarsite.sim.terrain import Terrain
from lunarsite.sim.world import LunarWorld

SIZE_M = 16.0
CELL_M = 0.1


def _wavy() -> Terrain:
    """Gentle waves (0.15 m, 3 m long): every part of the view has its own depth."""
    n = round(SIZE_M / CELL_M) + 1
    x = np.arange(n) * CELL_M
    xx, yy = np.meshgrid(x, x)
    heights = 0.15 * np.sin(2 * math.pi * xx / 3.0) * np.cos(2 * math.pi * yy / 3.7)
    return Terrain(heights, CELL_M)


def _frames(excavator: RoverConfig, cull: bool) -> list[CameraFrame]:
    world = LunarWorld(_wavy(), SimConfig(camera_culls_terrain=cull))
    frames = []
    with world:
        rover = world.add_rover(excavator, Pose2(8.0, 8.0, 0.3), rng=np.random.default_rng(0))
        rover.configure()
        rover.activate()
        for _ in range(3):  # three headings, the boom lowered out of the view
            rover.write(RoverCommand(DriveCommand(0.0, 0.4), {"boom_lift": -0.6}))
            world.clock.sleep_s(1.5)
            frames.append(rover.camera.render())
    return frames


def test_frustum_planes_keep_what_the_camera_sees() -> None:
    """A camera at the origin looking along +x, 60° wide, 0.1–10 m: points inside and
    outside its view, by geometry."""
    import pybullet as pb

    view = pb.computeViewMatrix([0, 0, 0], [1, 0, 0], [0, 0, 1])
    proj = pb.computeProjectionMatrixFOV(fov=60.0, aspect=1.0, nearVal=0.1, farVal=10.0)
    planes = frustum_planes(view, proj)

    def inside(x: float, y: float, z: float) -> bool:
        return bool(np.all(planes @ np.array([x, y, z, 1.0]) >= 0.0))

    assert inside(5.0, 0.0, 0.0)
    assert inside(5.0, 5.0 * math.tan(math.radians(29.0)), 0.0)  # just inside the 30° edge
    assert not inside(5.0, 5.0 * math.tan(math.radians(31.0)), 0.0)
    assert not inside(-1.0, 0.0, 0.0)  # behind
    assert not inside(11.0, 0.0, 0.0)  # beyond the far plane
    assert not inside(0.05, 0.0, 0.0)  # before the near plane


@pytest.mark.slow
def test_the_culled_picture_is_the_whole_terrains_picture(excavator: RoverConfig) -> None:
    whole = _frames(excavator, cull=False)
    culled = _frames(excavator, cull=True)
    for a, b in zip(whole, culled, strict=True):
        near = a.depth_m < 4.0  # fine tiles reach 5 m from the camera (4 m ahead of it)
        assert near.mean() > 0.1
        np.testing.assert_allclose(b.depth_m[near], a.depth_m[near], atol=1e-3)
        # Beyond, the ground is drawn from every fourth sample: 0.4 m cells on 3 m waves.
        far = ~near & (a.depth_m < 14.0)
        assert far.any()
        rel = np.abs(b.depth_m[far] - a.depth_m[far]) / a.depth_m[far]
        assert float(np.percentile(rel, 95)) < 0.02


def test_the_tiles_touch_neither_physics_nor_the_scanner(excavator: RoverConfig) -> None:
    world = LunarWorld(_wavy(), SimConfig())
    with world:
        rover = world.add_rover(excavator, Pose2(8.0, 8.0, 0.3), rng=np.random.default_rng(0))
        rover.configure()
        rover.activate()
        world.clock.sleep_s(0.5)
        scanner = Rangefinder(
            world,
            rover,
            RangefinderConfig((0.0, 0.0, 0.8), range_std_m=0.0),
            rng=np.random.default_rng(0),
        )
        before = scanner.scan().ranges_m
        tiles = world.render_tiles()
        assert tiles is not None and len(tiles.tiles) > 1
        after = scanner.scan().ranges_m
        np.testing.assert_array_equal(after, before)
        c = world.client
        assert not c.getContactPoints(bodyA=rover.body, bodyB=tiles.tiles[0].fine)
        assert all(not c.getContactPoints(bodyA=rover.body, bodyB=t.fine) for t in tiles.tiles)
        assert c.getContactPoints(bodyA=rover.body, bodyB=world.terrain_body)
        rover.camera.render()
        assert 0 < tiles.drawn_last < len(tiles.tiles)  # some were culled for the frame...
        for t in tiles.tiles:  # ...and all drawn whole again after it
            assert c.getVisualShapeData(t.fine)[0][7][3] == 1.0
            if t.coarse is not None:
                assert c.getVisualShapeData(t.coarse)[0][7][3] == 0.0
