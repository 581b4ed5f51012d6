"""The planner on hand-made costmaps with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.planning.costmap import Costmap
from lunarsite.robot.planning.planner import Path, Planner, PlannerParams, PlanningError, Replanner
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2

CELL = 0.1
GRID = GridSpec((0.0, 0.0), CELL, (101, 101))  # 10 m × 10 m


def _costmap(cost: np.ndarray, hazard: np.ndarray | None = None, version: int = 0) -> Costmap:
    hz = np.isinf(cost) if hazard is None else hazard
    return Costmap(GRID, cost, hz, np.ones(GRID.shape, dtype=bool), version)


def _free() -> np.ndarray:
    return np.zeros(GRID.shape)


def _assert_clear(path: Path, cm: Costmap) -> None:
    assert not path.is_blocked(cm)
    assert np.all(np.isfinite(cm.costs_along(path.densified(0.01))))


def test_open_ground_gives_the_straight_line() -> None:
    path = Planner().plan(_costmap(_free()), Pose2(1.0, 1.0, 0.0), (8.0, 5.0))
    assert len(path.points_xy_m) == 2
    assert path.length_m == pytest.approx(math.hypot(7.0, 4.0))
    assert path.grid_length_m >= path.length_m
    assert path.reverse == (False,)


def test_wall_with_a_gap_goes_through_the_gap() -> None:
    cost = _free()
    cost[:, 50] = np.inf  # a wall at x = 5 m ...
    cost[70:73, 50] = 0.0  # ... with a gap at y = 7.0-7.2 m
    cm = _costmap(cost)
    path = Planner().plan(cm, Pose2(2.0, 2.0, 0.0), (8.0, 2.0))
    _assert_clear(path, cm)
    # Shortest route: to the gap and back down, two straight legs of ~hypot(3, 5.1).
    expected = 2.0 * math.hypot(3.0, 5.0)
    assert expected - 0.1 < path.length_m < expected + 0.3
    crossing = path.densified(0.05)
    at_wall = crossing[np.abs(crossing[:, 0] - 5.0) < 0.05]
    assert np.all((at_wall[:, 1] > 6.9) & (at_wall[:, 1] < 7.3))


def test_walled_off_goal_fails() -> None:
    cost = _free()
    cost[:, 50] = np.inf
    with pytest.raises(PlanningError, match="walled off"):
        Planner().plan(_costmap(cost), Pose2(2.0, 2.0, 0.0), (8.0, 2.0))


def test_goal_off_the_map_fails() -> None:
    with pytest.raises(PlanningError, match=r"goal .* off the map"):
        Planner().plan(_costmap(_free()), Pose2(2.0, 2.0, 0.0), (20.0, 2.0))


def test_lethal_goal_moves_to_the_nearest_free_cell_within_tolerance() -> None:
    cost = _free()
    cost[48:53, 78:83] = np.inf  # a 0.5 m lethal square around (8, 5)
    cm = _costmap(cost)
    path = Planner(PlannerParams(goal_tolerance_m=0.4)).plan(cm, Pose2(1.0, 5.0, 0.0), (8.0, 5.0))
    gx, gy = path.goal_xy_m
    assert math.hypot(gx - 8.0, gy - 5.0) == pytest.approx(0.3, abs=1e-9)
    _assert_clear(path, cm)
    with pytest.raises(PlanningError, match="no free cell"):
        Planner(PlannerParams(goal_tolerance_m=0.1)).plan(cm, Pose2(1.0, 5.0, 0.0), (8.0, 5.0))


def test_expensive_band_is_crossed_or_avoided_by_its_weight() -> None:
    cost = _free()
    cost[:, 45:55] = 1.0  # a 1 m band of cost 1 across the whole map (no way round)
    cost[:, 45:55][:5, :] = 0.0  # ... except a free corridor along the south edge
    cm = _costmap(cost)
    start, goal = Pose2(2.0, 8.0, 0.0), (8.0, 8.0)
    cheap = Planner(PlannerParams(cost_weight=1.0)).plan(cm, start, goal)
    assert cheap.length_m == pytest.approx(6.0, abs=0.05)  # straight across: +1 m of cost
    dear = Planner(PlannerParams(cost_weight=50.0)).plan(cm, start, goal)
    assert np.min(dear.points_xy_m[:, 1]) < 0.5  # goes round by the corridor
    assert dear.length_m > 14.0


def test_smoothed_path_is_never_longer_than_the_grid_path() -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        cost = rng.random(GRID.shape) * 0.3
        for _ in range(25):
            j, i = rng.integers(5, 96, 2)
            cost[j - 3 : j + 4, i - 3 : i + 4] = np.inf
        cost[:12, :12] = 0.0
        cost[-12:, -12:] = 0.0
        cm = _costmap(cost)
        path = Planner().plan(cm, Pose2(0.5, 0.5, 0.0), (9.5, 9.5))
        assert path.length_m <= path.grid_length_m + 1e-9
        assert path.length_m >= math.hypot(9.0, 9.0) - 1e-9
        _assert_clear(path, cm)


def test_reverse_only_where_allowed() -> None:
    cm = _costmap(_free())
    start = Pose2(5.0, 5.0, 0.0)  # facing +x, goal 0.6 m behind
    forward = Planner().plan(cm, start, (4.4, 5.0))
    assert forward.reverse == (False,)
    backing = Planner(PlannerParams(allow_reverse=True, max_reverse_m=1.0)).plan(
        cm, start, (4.4, 5.0)
    )
    assert backing.reverse == (True,)
    far = Planner(PlannerParams(allow_reverse=True, max_reverse_m=1.0)).plan(cm, start, (2.0, 5.0))
    assert far.reverse == (False,)


def test_start_inside_inflation_escapes_but_never_through_a_hazard() -> None:
    cost = _free()
    hazard = np.zeros(GRID.shape, dtype=bool)
    hazard[50, 50] = True
    yy, xx = np.mgrid[:101, :101]
    cost[(yy - 50) ** 2 + (xx - 50) ** 2 <= 25] = np.inf  # inflated by 0.5 m
    cm = _costmap(cost, hazard)
    path = Planner().plan(cm, Pose2(5.3, 5.0, 0.0), (9.0, 5.0))
    pts = path.densified(0.02)
    j, i = GRID.cells_of(pts[:, 0], pts[:, 1])
    assert not hazard[j, i].any()
    assert path.goal_xy_m == (9.0, 5.0)


def test_replanner_replans_when_blocked_not_when_unchanged() -> None:
    cm0 = _costmap(_free(), version=0)
    rp = Replanner(Planner(), (9.0, 5.0), replan_period_s=100.0)
    pose = Pose2(1.0, 5.0, 0.0)
    assert rp.update(cm0, pose, 0.0)
    assert rp.last_reason == "no path"
    assert not rp.update(cm0, pose, 1.0)
    assert not rp.update(_costmap(_free(), version=1), pose, 2.0)  # changed, still clear
    cost = _free()
    cost[40:60, 50] = np.inf  # a wall across the straight line
    blocked = _costmap(cost, version=2)
    assert rp.update(blocked, pose, 3.0)
    assert rp.last_reason == "path blocked"
    assert rp.path is not None
    _assert_clear(rp.path, blocked)
    assert rp.update(blocked, Pose2(3.0, 8.0, 0.0), 4.0)
    assert rp.last_reason == "off the path"
    assert rp.plans == 3
