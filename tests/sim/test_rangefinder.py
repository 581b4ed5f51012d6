"""The mast range scanner: ranges match the geometry; its scans map rocks."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.perception.mapping import BodyBox, ElevationMap, points_to_site, scan_points
from lunarsite.robot.planning.costmap import CostmapParams, build_costmap
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2
from lunarsite.sim.rangefinder import Rangefinder, RangefinderConfig, ray_directions
from lunarsite.sim.world import LunarWorld
from tests.sim.conftest import flat_terrain

MOUNT = (0.0, 0.0, 0.6)


@pytest.fixture(scope="module")
def scene(excavator: RoverConfig) -> tuple[LunarWorld, Rangefinder]:
    world = LunarWorld(flat_terrain(12.0, 0.1))
    c = world.client
    half = [0.2, 0.2, 0.15]  # a 40 cm boulder, 30 cm high, 3 m ahead
    c.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=c.createCollisionShape(pb.GEOM_BOX, halfExtents=half),
        basePosition=[6.0, 3.0, 0.15],
    )
    rover = world.add_rover(excavator, Pose2(3.0, 3.0, 0.0), rng=np.random.default_rng(0))
    rover.configure()
    rf = Rangefinder(
        world,
        rover,
        RangefinderConfig(MOUNT, range_std_m=0.003, max_range_m=6.0),
        rng=np.random.default_rng(1),
    )
    yield world, rf  # type: ignore[misc]
    world.close()


def test_ray_fan_is_unit_and_spans_the_field() -> None:
    cfg = RangefinderConfig(MOUNT, azimuth_count=5, elevation_count=3)
    d = ray_directions(cfg)
    assert d.shape == (15, 3)
    assert np.allclose(np.linalg.norm(d, axis=1), 1.0)
    az = np.arctan2(d[:, 1], d[:, 0])
    assert az.min() == pytest.approx(-cfg.azimuth_fov_rad / 2)
    assert np.arcsin(d[:, 2]).min() == pytest.approx(cfg.elevation_min_rad)


def test_ranges_to_flat_ground_match_the_mount_height(
    scene: tuple[LunarWorld, Rangefinder],
) -> None:
    _, rf = scene
    scan = rf.scan()
    centre, rot = rf.rover.chassis_frame()
    origin_z = float((centre + rot @ np.asarray(MOUNT))[2])
    world_dirs = scan.directions @ rot.T  # the chassis may sit a little nose-down
    sin_el = -world_dirs[:, 2]
    reach = origin_z / sin_el * np.hypot(world_dirs[:, 0], world_dirs[:, 1])
    # Rays well to the side (clear of the rock and the bucket) landing beyond the wheels.
    ground = (np.abs(scan.directions[:, 1]) > 0.5) & (reach > 1.2)
    expected = origin_z / sin_el[ground]
    ok = np.isfinite(scan.ranges_m[ground]) & (expected < scan.max_range_m * 0.95)
    assert ok.sum() > 100
    assert np.allclose(scan.ranges_m[ground][ok], expected[ok], atol=0.02)


def test_scan_maps_the_boulder_as_a_hazard(
    scene: tuple[LunarWorld, Rangefinder], excavator: RoverConfig
) -> None:
    world, rf = scene
    truth = world.truth.rover_pose(rf.rover)
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (121, 121)))
    body = BodyBox.for_rover(excavator)
    for _ in range(3):
        emap.integrate_scan(
            rf.scan(), truth.pose2, truth.z_m, truth.roll_rad, truth.pitch_rad, body=body
        )
    assert emap.height_at(5.8, 3.0) > 0.15  # the boulder's face
    assert emap.height_at(5.0, 4.0) == pytest.approx(0.0, abs=0.02)
    near = emap.heights_m[20:41, 20:50]  # 1 m about the rover and ahead to the boulder
    assert np.nanmax(near) < 0.03  # its own bucket and wheels are not mapped
    assert math.isnan(emap.height_at(1.0, 11.0))  # behind the scanner's field: unknown
    cm = build_costmap(emap.heights_m, emap.grid, CostmapParams.for_rover(excavator))
    assert math.isinf(cm.cost_at(6.0, 3.0))
    assert math.isfinite(cm.cost_at(4.5, 5.0))


def test_points_in_site_frame_lie_on_the_ground(scene: tuple[LunarWorld, Rangefinder]) -> None:
    world, rf = scene
    truth = world.truth.rover_pose(rf.rover)
    pts, _ = scan_points(rf.scan())
    site = points_to_site(pts, truth.pose2, truth.z_m, truth.roll_rad, truth.pitch_rad)
    off_rock = np.hypot(site[:, 0] - 6.0, site[:, 1] - 3.0) > 0.6
    assert np.median(np.abs(site[off_rock, 2])) < 0.01
