"""The mast range scanner: ranges match the geometry; its scans map rocks."""

from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pytest

from lunarsite.robot.config import RoverConfig, ScannerConfig
from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.perception.points import BodyBox, points_to_site, scan_points
from lunarsite.robot.planning.costmap import CostmapParams, build_costmap
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2
from lunarsite.sim.rangefinder import Rangefinder, RangefinderConfig, ray_directions
from lunarsite.sim.world import LunarWorld
from tests.conftest import shipped_rover
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


def _hap(**changes: object) -> ScannerConfig:
    """The shipped D435 rover's Livox HAP figures, with ``changes``."""
    part = shipped_rover("excavator_66kg_d435").scanner
    assert part is not None
    return part.model_copy(update=changes)


def _ground_scan(
    scene: tuple[LunarWorld, Rangefinder], part: ScannerConfig, seed: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A scan of the scene by ``part`` on the default fan; (ranges, the ranges flat
    ground at the mount's height puts along each nominal ray, whether that ray lands on
    open ground clear of the boulder, the rover's own bucket and the site's edge)."""
    _, rf = scene
    cfg = RangefinderConfig(MOUNT, max_range_m=6.0).with_part(part)
    scan = Rangefinder(rf.world, rf.rover, cfg, rng=np.random.default_rng(seed)).scan()
    centre, rot = rf.rover.chassis_frame()
    origin_z = float((centre + rot @ np.asarray(MOUNT))[2])
    world_dirs = scan.directions @ rot.T
    expected = origin_z / -world_dirs[:, 2]
    reach = expected * np.hypot(world_dirs[:, 0], world_dirs[:, 1])
    # To the left: the site ends 3 m to the rover's right.
    ground = (scan.directions[:, 1] > 0.5) & (reach > 1.2) & (expected < 5.5)
    return scan.ranges_m, expected, ground


def test_a_datasheet_fan_keeps_the_rays_its_vertical_field_holds() -> None:
    fan = RangefinderConfig(MOUNT)  # -50° to -3° in 32 rows: 1.52° apart
    hap = fan.with_part(_hap())
    spacing = (fan.elevation_max_rad - fan.elevation_min_rad) / (fan.elevation_count - 1)
    assert hap.elevation_max_rad == fan.elevation_max_rad
    assert hap.elevation_count == 17  # 16 steps of 1.52° fit in 25°, 17 do not
    assert hap.elevation_min_rad == pytest.approx(fan.elevation_max_rad - 16 * spacing)
    assert hap.range_std_m == 0.02
    assert fan.with_part(None) is fan


def test_range_noise_and_blind_zone_are_the_datasheets(
    scene: tuple[LunarWorld, Rangefinder],
) -> None:
    ranges, expected, ground = _ground_scan(scene, _hap(angle_std_rad=0.0, min_range_m=1.2))
    ok = ground & (expected > 1.3)
    err = ranges[ok] - expected[ok]
    assert np.isfinite(err).all()
    assert np.std(err) == pytest.approx(0.02, rel=0.2)
    assert abs(float(np.mean(err))) < 0.005
    # Nothing returns from nearer than the blind zone, however near the ground is.
    assert np.all(~np.isfinite(ranges[ground & (expected < 1.15)]))
    assert np.all(ranges[np.isfinite(ranges)] >= 1.2)


def test_returns_are_lost_where_too_little_light_comes_back(
    scene: tuple[LunarWorld, Rangefinder],
) -> None:
    # A scanner rated to 3 m on the surface's own reflectivity: flat ground seen at an
    # elevation e from a height h is at range h / sin e and incidence cos = sin e, so it
    # returns while sin e · 3² ≥ range².
    ranges, expected, ground = _ground_scan(
        scene, _hap(range_std_m=0.0, angle_std_rad=0.0, rated_range_m=3.0, surface_reflectivity=0.1)
    )
    _, rf = scene
    centre, rot = rf.rover.chassis_frame()
    origin_z = float((centre + rot @ np.asarray(MOUNT))[2])
    sin_e = origin_z / expected
    margin = np.abs(sin_e * 9.0 - expected**2) > 0.05  # clear of the edge
    kept = np.isfinite(ranges)
    sel = ground & margin
    assert np.array_equal(kept[sel], (sin_e * 9.0 >= expected**2)[sel])
    assert kept[sel].any() and (~kept[sel]).any()


def test_a_share_of_beams_return_falsely_anywhere_in_range(
    scene: tuple[LunarWorld, Rangefinder],
) -> None:
    clean = _hap(range_std_m=0.0, angle_std_rad=0.0)
    truth, expected, ground = _ground_scan(scene, clean)
    ranges, *_ = _ground_scan(scene, clean.model_copy(update={"false_return_share": 0.2}))
    assert np.isfinite(truth[ground]).all()
    off = np.abs(ranges[ground] - expected[ground]) > 0.05
    n = int(ground.sum())
    # A false return lands near the true range by chance 0.1 m / 5.5 m of the time.
    assert off.mean() == pytest.approx(0.2 * (1 - 0.1 / 5.5), abs=3 * math.sqrt(0.2 * 0.8 / n))
    assert np.all((ranges[np.isfinite(ranges)] >= 0.5) & (ranges[np.isfinite(ranges)] <= 6.0))
