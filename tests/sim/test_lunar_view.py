"""Pictures that look like the Moon: black sky, plain grey regolith, a low sun's long
shadows; and the rover's own camera sees the world unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.types import Pose2
from lunarsite.sim import lunar_view
from lunarsite.sim.lunar_view import ShadowFocus, Sun, render_lunar_view
from lunarsite.sim.world import LunarWorld
from tests.sim.conftest import flat_terrain

WIDTH, HEIGHT = 320, 240
FOV_RAD = math.radians(50.0)
PILLAR_XY_M = (5.0, 5.0)
PILLAR_HALF_M = 0.3
PILLAR_HEIGHT_M = 0.3
SUN_FROM_WEST = Sun(elevation_rad=math.radians(10.0), azimuth_rad=math.radians(270.0))
EYE = (6.0, -1.0, 2.5)  # south of the pillar, looking north over the ground east of it
TARGET = (6.0, 5.0, 0.0)


def _pillar(world: LunarWorld) -> int:
    c = world.client
    half = [PILLAR_HALF_M, PILLAR_HALF_M, PILLAR_HEIGHT_M / 2]
    return int(
        c.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=c.createCollisionShape(3, halfExtents=half),  # GEOM_BOX
            baseVisualShapeIndex=c.createVisualShape(3, halfExtents=half, rgbaColor=[1, 1, 1, 1]),
            basePosition=[*PILLAR_XY_M, PILLAR_HEIGHT_M / 2],
        )
    )


def _pixel(world: LunarWorld, point: tuple[float, float, float]) -> tuple[int, int]:
    """(row, column) of a world point in the picture, by the pinhole model of the
    OpenGL matrices PyBullet makes for this eye, target and field of view."""
    c = world.client
    view = np.asarray(c.computeViewMatrix(EYE, TARGET, [0, 0, 1])).reshape(4, 4).T
    proj = (
        np.asarray(
            c.computeProjectionMatrixFOV(
                math.degrees(FOV_RAD), WIDTH / HEIGHT, lunar_view.NEAR_M, lunar_view.FAR_M
            )
        )
        .reshape(4, 4)
        .T
    )
    clip = proj @ view @ np.array([*point, 1.0])
    x, y = clip[0] / clip[3], clip[1] / clip[3]
    return int((1.0 - y) / 2.0 * HEIGHT), int((x + 1.0) / 2.0 * WIDTH)


@pytest.fixture
def pillar_world() -> LunarWorld:
    world = LunarWorld(flat_terrain(size_m=12.0))
    _pillar(world)
    return world


def test_black_sky_plain_grey_ground_and_a_long_shadow_away_from_the_sun(
    pillar_world: LunarWorld,
) -> None:
    with pillar_world as world:
        view = render_lunar_view(
            world,
            EYE,
            TARGET,
            width_px=WIDTH,
            height_px=HEIGHT,
            vertical_fov_rad=FOV_RAD,
            sun=SUN_FROM_WEST,
            shadows=ShadowFocus((*PILLAR_XY_M, 0.0), radius_m=4.0, height_m=0.5),
        )
        ground = world.terrain_body
        # A 0.3 m high box under a sun 10° up casts a shadow 0.3 / tan 10° = 1.7 m long, east.
        length_m = PILLAR_HEIGHT_M / math.tan(SUN_FROM_WEST.elevation_rad)
        east_edge = PILLAR_XY_M[0] + PILLAR_HALF_M
        in_shadow = _pixel(world, (east_edge + 0.5 * length_m, PILLAR_XY_M[1], 0.0))
        past_it = _pixel(world, (east_edge + 1.4 * length_m, PILLAR_XY_M[1], 0.0))
        sunward = _pixel(world, (PILLAR_XY_M[0] - 0.8, PILLAR_XY_M[1], 0.0))
    sky = view.body_ids < 0
    assert sky[0].all()  # the top row looks above the horizon
    assert (view.rgb[sky] == 0).all()
    for pixel in (in_shadow, past_it, sunward):
        assert view.body_ids[pixel] == ground
    assert view.shadowed[in_shadow]
    assert not view.shadowed[past_it]
    assert not view.shadowed[sunward]
    dark = float(view.rgb[in_shadow].mean())
    lit = float(view.rgb[past_it].mean())
    assert dark < 0.3 * lit  # a lunar shadow is nearly black
    # Lit ground is the regolith's own grey, not PyBullet's blue-and-grey checkerboard.
    lit_ground = view.rgb[(view.body_ids == ground) & ~view.shadowed].astype(float)
    blue_over_red = lit_ground[:, 2] / np.maximum(lit_ground[:, 0], 1.0)
    assert np.percentile(blue_over_red, 99) < 1.05


def test_pictures_leave_the_rover_camera_and_the_terrain_texture_as_they_were(
    excavator: RoverConfig,
) -> None:
    with LunarWorld(flat_terrain()) as world:
        rover = world.add_rover(excavator, Pose2(5.0, 5.0, 0.0), rng=np.random.default_rng(0))
        rover.configure()
        rover.activate()
        before = rover.read_camera().rgb
        render_lunar_view(
            world,
            (2.0, 5.0, 1.5),
            (5.0, 5.0, 0.3),
            width_px=WIDTH,
            height_px=HEIGHT,
            shadows=ShadowFocus((5.0, 5.0, 0.3), radius_m=5.0, height_m=1.0),
        )
        after = rover.read_camera().rgb
    np.testing.assert_array_equal(before, after)
