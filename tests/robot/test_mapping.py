"""Elevation mapping from points, scans and depth images, with known geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.perception.fiducials import CameraMount
from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.perception.points import (
    BodyBox,
    MappingError,
    RangeScan,
    camera_points,
    chassis_rotation,
    depth_to_points,
    points_to_site,
)
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import CameraFrame, Pose2

GRID = GridSpec((0.0, 0.0), 0.1, (51, 51))  # 5 m × 5 m


def _plane_points(rng: np.random.Generator, n: int, std: float) -> np.ndarray:
    xy = rng.uniform(1.0, 3.0, (n, 2))
    z = 0.1 * xy[:, 0] + rng.normal(0.0, std, n)
    return np.column_stack([xy, z])


def test_unknown_stays_unknown_and_seen_cells_converge() -> None:
    rng = np.random.default_rng(0)
    emap = ElevationMap(GRID)
    assert not emap.known.any()
    assert np.all(emap.confidence() == 0.0)
    emap.integrate(_plane_points(rng, 20000, 0.01), 0.01)
    known = emap.known
    xs = GRID.x_coords_m
    assert known[20, 20] and not known[5, 5] and not known[40, 45]
    err = emap.heights_m[known] - 0.1 * np.broadcast_to(xs, GRID.shape)[known]
    assert np.sqrt(np.mean(err**2)) < 0.01  # cell mean vs the plane at the cell centre
    var_once = emap.variance_m2[20, 20]
    emap.integrate(_plane_points(rng, 20000, 0.01), 0.01)
    assert emap.variance_m2[20, 20] < var_once
    assert 0.0 < emap.confidence()[20, 20] < 1.0
    assert np.isnan(emap.heights_for_planning()[5, 5])
    assert emap.version == 2


def test_a_new_observation_moves_an_old_estimate() -> None:
    emap = ElevationMap(GRID, drift_var_m2_per_update=1e-3)
    pts = np.array([[2.0, 2.0, 0.0]] * 10)
    emap.integrate(pts, 0.01)
    for _ in range(10):
        emap.integrate(pts + np.array([0.0, 0.0, 0.2]), 0.01)
    assert emap.height_at(2.0, 2.0) == pytest.approx(0.2, abs=0.02)


def test_points_on_the_rover_are_dropped() -> None:
    emap = ElevationMap(GRID, self_radius_m=0.5)
    # Two returns in the far cell: one alone would be held back as a possible false return.
    pts = np.array([[2.0, 2.0, 0.5], [2.2, 2.1, 0.5], [3.0, 2.0, 0.0], [3.01, 2.0, 0.0]])
    emap.integrate(pts, 0.01, rover_xy_m=(2.0, 2.0))
    assert math.isnan(emap.height_at(2.0, 2.0))
    assert emap.height_at(3.0, 2.0) == pytest.approx(0.0)


def test_chassis_rotation_is_zyx_euler() -> None:
    rot = chassis_rotation(0.3, 0.2, -0.1)
    assert np.allclose(rot @ rot.T, np.eye(3))
    # Nose down (positive pitch): the forward axis points below the horizon.
    assert chassis_rotation(0.0, 0.2, 0.0)[2, 0] == pytest.approx(-math.sin(0.2))
    site = points_to_site(np.array([[1.0, 0.0, 0.0]]), Pose2(1.0, 2.0, math.pi / 2), 0.5, 0, 0)
    assert np.allclose(site, [[1.0, 3.0, 0.5]])


def test_scan_into_the_map_with_the_chassis_pose() -> None:
    # Rays straight down from 1 m, on a rover at (2, 2) facing north, ground at z = 0.
    dirs = np.tile([0.0, 0.0, -1.0], (4, 1))
    scan = RangeScan(0.0, (0.5, 0.0, 1.0), dirs, np.array([1.2, 1.2, np.inf, 1.2]), 5.0, 0.001)
    emap = ElevationMap(GRID)
    n = emap.integrate_scan(scan, Pose2(2.0, 2.0, math.pi / 2), 0.2, 0.0, 0.0)
    assert n == 1
    assert emap.height_at(2.0, 2.5) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(MappingError, match="directions"):
        RangeScan(0.0, (0.0, 0.0, 0.0), np.zeros((3, 2)), np.zeros(3), 1.0)


def test_depth_image_of_a_wall_gives_its_points() -> None:
    h, w, fov = 48, 64, 0.8
    depth = np.full((h, w), 2.0, dtype=np.float32)
    cam = depth_to_points(depth, fov, max_depth_m=5.0)
    assert cam.shape == (h * w, 3)
    assert np.allclose(cam[:, 2], 2.0)
    top = 2.0 * math.tan(fov / 2) * (h - 1) / h
    assert cam[:, 1].min() == pytest.approx(-top, rel=1e-6)
    frame = CameraFrame(0.0, np.zeros((h, w, 3), np.uint8), depth, fov)
    pts = camera_points(frame, CameraMount((0.1, 0.0, 0.5), 0.0), max_depth_m=5.0, stride=1)
    assert np.allclose(pts[:, 0], 2.1)  # 2 m ahead of a level camera at x = 0.1
    assert np.abs(pts[:, 2] - 0.5).max() == pytest.approx(top, rel=1e-6)
    assert len(depth_to_points(depth, fov, max_depth_m=1.0)) == 0


def test_body_box_covers_the_tools(excavator: RoverConfig) -> None:
    box = BodyBox.for_rover(excavator)
    assert box.x_range_m[1] >= 0.5 + 0.45 + 0.25
    inside = box.contains(np.array([[1.1, 0.0, 0.2], [2.0, 0.0, 0.0], [0.0, 0.0, -0.3]]))
    assert inside.tolist() == [True, False, False]


def test_a_rock_across_four_cells_keeps_its_height_in_the_tops() -> None:
    # A 0.22 m dome 9 cm high centred on a cell corner, on flat ground, sampled as a
    # scanner does: every cell it touches holds crown and ground points. The cell means
    # halve its height; the tops keep it.
    rng = np.random.default_rng(3)
    xy = rng.uniform(1.8, 2.2, (4000, 2))
    centre = np.array([2.05, 2.05])  # cells are centred on multiples of 0.1 m
    r = np.hypot(*(xy - centre).T)
    z = np.where(r < 0.11, 0.09 * np.sqrt(np.clip(1.0 - (r / 0.11) ** 2, 0.0, 1.0)), 0.0)
    emap = ElevationMap(GRID)
    emap.integrate(np.column_stack([xy, z + rng.normal(0.0, 0.002, len(z))]), 0.002)
    block = (slice(19, 23), slice(19, 23))
    assert np.nanmax(emap.heights_m[block]) < 0.06
    assert np.nanmax(emap.top_m[block]) > 0.085
    assert np.nanmax(emap.tops_for_planning()[block]) == np.nanmax(emap.top_m[block])
    assert np.all(np.isnan(emap.tops_for_planning(max_std_m=1e-4)[block]))
    # Flat ground around it: its top is its height, within the points' noise.
    assert abs(emap.top_m[19, 19] - emap.heights_m[19, 19]) < 0.01
    # Scans from afar, a return or two per cell missing the crown, leave the top alone
    # (the mean they pull down).
    top_before, mean_before = emap.top_m[20, 20], emap.heights_m[20, 20]
    for k in range(50):
        emap.integrate(np.array([[2.01 + 0.001 * k, 2.01, 0.0]] * 2), 0.002)
    assert emap.top_m[20, 20] == top_before
    assert emap.heights_m[20, 20] < mean_before - 0.02


def test_a_beams_pointing_noise_weighs_its_return_by_its_range() -> None:
    # Four beams straight down onto one cell 5 m below the mount, then the same with a
    # scanner whose beams wander 4 mrad: at 5 m that is 2 cm on each return, so the
    # cell's variance is (hypot(5 mm, 2 cm) + 1 mm)² / 4 instead of (5 mm + 1 mm)² / 4.
    dirs = np.tile([0.0, 0.0, -1.0], (4, 1))
    ranges = np.full(4, 5.0)
    got = []
    for angle_std in (0.0, 0.004):
        emap = ElevationMap(GridSpec((-1.0, -1.0), 0.1, (20, 20)), min_var_m2=1e-9)
        scan = RangeScan(0.0, (0.0, 0.0, 5.0), dirs, ranges, 8.0, 0.005, angle_std)
        emap.integrate_scan(scan, Pose2(0.05, 0.05, 0.0), 0.0, 0.0, 0.0)
        got.append(emap.variance_at(0.05, 0.05))
    assert got[0] == pytest.approx(0.006**2 / 4, rel=1e-6)
    assert got[1] == pytest.approx((math.hypot(0.005, 0.02) + 0.001) ** 2 / 4, rel=1e-6)
