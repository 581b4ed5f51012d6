"""The rover's survey: frames placed with a wrong height and tilt are registered to the
first round's datum on ground the work does not touch."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lunarsite.robot.perception.site_survey import (
    SiteSurvey,
    end_on_poses,
    insert_poses,
    survey_poses,
)
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2

GRID = GridSpec((0.0, 0.0), 0.05, (81, 101))  # 5 m × 4 m
GX, GY = np.meshgrid(GRID.x_coords_m, GRID.y_coords_m)


def ground(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 0.04 * np.sin(1.7 * x) + 0.03 * np.cos(2.3 * y)


def frame(
    rng: np.random.Generator,
    n: int,
    lo: tuple[float, float],
    hi: tuple[float, float],
    surface=ground,
    dz: float = 0.0,
    tilt: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    x = rng.uniform(lo[0], hi[0], n)
    y = rng.uniform(lo[1], hi[1], n)
    z = surface(x, y) + rng.normal(0.0, 0.005, n) + dz + tilt[0] * (x - 2.5) + tilt[1] * (y - 2.0)
    return np.column_stack([x, y, z])


def test_a_frame_with_height_and_tilt_errors_lands_on_the_datum() -> None:
    rng = np.random.default_rng(1)
    work = (GX > 1.5) & (GX < 3.5) & (GY > 1.0) & (GY < 3.0)
    survey = SiteSurvey(GRID, ~work)
    survey.begin()
    assert survey.add_points(frame(rng, 200_000, (0, 0), (5, 4)), (0.0, 0.0))
    first, _ = survey.finish()
    assert np.nanmax(np.abs(first - ground(GX, GY))) < 0.01

    # The work area is dug 10 cm down; the frame is placed 6 cm high and tilted 6 mrad.
    def dug(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        inside = (x > 1.5) & (x < 3.5) & (y > 1.0) & (y < 3.0)
        return ground(x, y) - 0.1 * inside

    survey.begin()
    assert survey.add_points(
        frame(rng, 200_000, (0, 0), (5, 4), dug, 0.06, (0.006, -0.004)), (0.0, 0.0)
    )
    second, var = survey.finish()
    err = second - dug(GX, GY)
    inner = (GX > 1.6) & (GX < 3.4) & (GY > 1.1) & (GY < 2.9)
    assert float(np.sqrt(np.nanmean(err[inner] ** 2))) < 0.004
    assert survey.registrations[-1].offset_m == pytest.approx(0.06, abs=0.003)
    assert np.all(var[np.isfinite(second)] > 0.0)
    # Without registration the same frame would be 6 cm off in the work area.
    assert float(np.nanmean(second[inner] - dug(GX, GY)[inner])) == pytest.approx(0.0, abs=0.003)


def test_the_first_round_registers_its_frames_to_each_other() -> None:
    rng = np.random.default_rng(2)
    survey = SiteSurvey(GRID, np.ones(GRID.shape, dtype=bool))
    survey.begin()
    survey.add_points(frame(rng, 100_000, (0, 0), (3, 4)), (0.0, 0.0))
    survey.add_points(frame(rng, 100_000, (2, 0), (5, 4), dz=-0.05), (5.0, 2.0))
    heights, _ = survey.finish()
    # The datum's level is arbitrary (the frames' mean): the two frames agree about the
    # ground, to within the noise, once that offset is taken off.
    err = heights - ground(GX, GY)
    assert float(np.nanmax(np.abs(err - np.nanmedian(err)))) < 0.012


def test_a_frame_that_shares_no_ground_is_refused() -> None:
    rng = np.random.default_rng(3)
    survey = SiteSurvey(GRID, GX < 1.0)
    survey.begin()
    survey.add_points(frame(rng, 50_000, (0, 0), (5, 4)), (0.0, 0.0))
    survey.finish()
    survey.begin()
    assert not survey.add_points(frame(rng, 50_000, (3, 0), (5, 4)), (0.0, 0.0))
    assert survey.refused == 1


def test_survey_poses_ring_the_work_area_clear_of_the_walls() -> None:
    # A 4 × 2 m area in an 8 × 6 m site: two poses on each long side, one on each short.
    poses = survey_poses((2.0, 6.0, 2.0, 4.0), 1.5, (8.0, 6.0), 1.4, spacing_m=2.0)
    assert len(poses) == 6
    for p in poses:
        assert 1.4 <= p.x_m <= 6.6 and 1.4 <= p.y_m <= 4.6
        assert not (2.0 < p.x_m < 6.0 and 2.0 < p.y_m < 4.0)
        # Facing into the area: the work area's centre is within 90° of the heading.
        bearing = math.atan2(3.0 - p.y_m, 4.0 - p.x_m)
        assert math.cos(bearing - p.yaw_rad) > 0.0
    # A site so tight that a side's poses would stand in the work area drops them.
    tight = survey_poses((1.0, 7.0, 1.0, 5.0), 1.5, (8.0, 6.0), 1.4)
    assert all(not (1.0 < p.x_m < 7.0 and 1.0 < p.y_m < 5.0) for p in tight)
    assert len(tight) < len(survey_poses((1.0, 7.0, 1.0, 5.0), 1.5, None, 1.4))
    # A camera that sees 4.5 m reaches 3 m past a 1.5 m standoff: a 4 m deep area is seen
    # whole from its south and north sides, a 7 m deep one needs all four.
    two = survey_poses((2.0, 6.0, 2.0, 6.0), 1.5, None, 1.4, view_m=4.5)
    assert {round(p.yaw_rad, 3) for p in two} == {round(math.pi / 2, 3), round(-math.pi / 2, 3)}
    four = survey_poses((2.0, 9.0, 2.0, 9.0), 1.5, None, 1.4, view_m=4.5)
    assert len({round(p.yaw_rad, 3) for p in four}) == 4


def test_opposite_tilt_errors_cancel_in_the_datum_round() -> None:
    # A pitch bias tilts a frame taken facing north one way and a frame facing south the
    # other way (in the site frame). Chained to the first frame, the datum would inherit
    # its tilt; adjusted jointly, the two cancel.
    rng = np.random.default_rng(4)
    survey = SiteSurvey(GRID, np.ones(GRID.shape, dtype=bool))
    survey.begin()
    survey.add_points(frame(rng, 150_000, (0, 0), (5, 2.8), tilt=(0.0, 0.012)), (2.5, -1.0))
    survey.add_points(frame(rng, 150_000, (0, 1.2), (5, 4), tilt=(0.0, -0.012)), (2.5, 5.0))
    heights, _ = survey.finish()
    err = heights - ground(GX, GY)
    ok = np.isfinite(err)
    a = np.column_stack([np.ones(int(ok.sum())), GX[ok], GY[ok]])
    _, slope_x, slope_y = np.linalg.lstsq(a, err[ok], rcond=None)[0]
    assert abs(slope_y) < 0.002 and abs(slope_x) < 0.002
    assert float(np.sqrt(np.mean(err[ok] ** 2))) < 0.006


def test_end_on_poses_stand_beyond_a_trench_s_ends_looking_along_it() -> None:
    # An L-shaped trench: (1, 1) -> (4, 1) -> (4, 3).
    poses = end_on_poses(((1.0, 1.0), (4.0, 1.0), (4.0, 3.0)), 1.5)
    assert len(poses) == 2
    first, last = poses
    assert (first.x_m, first.y_m) == pytest.approx((-0.5, 1.0))
    assert first.yaw_rad == pytest.approx(0.0)  # facing east, along the first leg
    assert (last.x_m, last.y_m) == pytest.approx((4.0, 4.5))
    assert last.yaw_rad == pytest.approx(-math.pi / 2)  # facing south, into the last leg
    assert end_on_poses(((1.0, 1.0),), 1.5) == []


def test_insert_poses_puts_each_pose_where_the_tour_grows_least() -> None:
    route = [Pose2(0.0, 0.0, 0.0), Pose2(4.0, 0.0, 0.0), Pose2(4.0, 4.0, 0.0)]
    extra = [Pose2(2.0, 0.5, 0.0), Pose2(5.0, 5.0, 0.0)]
    out = insert_poses(route, extra)

    def length(tour: list[Pose2]) -> float:
        return sum(math.dist((a.x_m, a.y_m), (b.x_m, b.y_m)) for a, b in itertools.pairwise(tour))

    # Brute force over every place for the first pose, then every place for the second.
    best = math.inf
    for i in range(len(route) + 1):
        one = [*route[:i], extra[0], *route[i:]]
        for k in range(len(one) + 1):
            best = min(best, length([*one[:k], extra[1], *one[k:]]))
    assert length(out) == pytest.approx(best)
    assert [p for p in out if p in route] == route  # the ring's own order is kept
    assert out[1] == extra[0] and out[-1] == extra[1]
