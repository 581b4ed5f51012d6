"""The run folder draws what the rover believed (issue 16: a failure read from a picture):
the costmap's lethal cells land where they are on the site, and a navigate run draws
its belief at the end and at the goal that failed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from lunarsite.launch.belief_pictures import write_belief_picture
from lunarsite.launch.runner import run_sim
from lunarsite.launch.schema import load_scenario
from lunarsite.robot.planning.costmap import Costmap
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.tasks.navigate import MapSnapshot, NavigateGoals
from lunarsite.robot.types import Pose2

from .test_sensor_stops import SCENARIO

CELL_M = 0.05
SIDE = 80  # a 4 m square
LETHAL_BOX_M = (3.0, 3.5, 3.0, 3.5)  # x0, x1, y0, y1: in the north-east corner


def _red(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., k].astype(int) for k in range(3))
    return np.asarray((r > 180) & (g < 80) & (b < 80))


def _grey(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(np.all(np.abs(rgb.astype(int) - 128) <= 2, axis=-1))


def test_the_costmaps_lethal_cells_are_drawn_where_they_are_on_the_site(tmp_path: Path) -> None:
    grid = GridSpec((0.0, 0.0), CELL_M, (SIDE, SIDE))
    x_m, y_m = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    x0, x1, y0, y1 = LETHAL_BOX_M
    lethal = (x_m >= x0) & (x_m < x1) & (y_m >= y0) & (y_m < y1)
    cost = np.where(lethal, np.inf, 0.0)
    known = lethal.copy()  # every other cell unknown: drawn grey
    costmap = Costmap(grid, cost, lethal, known)
    heights = np.where(y_m > 2.0, 0.05 * x_m, np.nan)
    view = MapSnapshot(None, "test", grid, heights, costmap, Pose2(0.5, 0.5, 0.0), None)
    path = tmp_path / "belief.png"
    write_belief_picture(
        path, view, truth=None, true_xy_m=None, goal_xy_m=None, tolerance_m=0.1, title="test"
    )
    bgr = cv2.imread(str(path))
    assert bgr is not None
    rgb = bgr[..., ::-1]
    right = rgb[:, rgb.shape[1] // 2 :]  # two panels: the map, then the costmap
    panel = _grey(right) | _red(right)
    # The panel's rows and columns are the long runs of its colours (anti-aliased text
    # has a few grey pixels too).
    rows = np.nonzero(panel.sum(axis=1) > 100)[0]
    cols = np.nonzero(panel.sum(axis=0) > 100)[0]
    top, bottom, west, east = rows.min(), rows.max(), cols.min(), cols.max()
    red_rows, red_cols = np.nonzero(_red(right))
    # Where the box's centre is on a 4 m square drawn north up, as fractions of the panel
    # (cells x0 <= centre < x1 reach from x0 - cell/2 to x1 - cell/2, the panel from
    # -cell/2: the half cells cancel).
    span_m = SIDE * CELL_M
    expect_east = 0.5 * (x0 + x1) / span_m
    expect_down = 1.0 - 0.5 * (y0 + y1) / span_m
    assert (red_cols.mean() - west) / (east - west) == pytest.approx(expect_east, abs=0.03)
    assert (red_rows.mean() - top) / (bottom - top) == pytest.approx(expect_down, abs=0.03)
    red_share = len(red_rows) / ((bottom - top + 1) * (east - west + 1))
    assert red_share == pytest.approx(lethal.mean(), rel=0.25)
    # The map panel: the unknown south half grey, the known north half not.
    left = rgb[:, : rgb.shape[1] // 2]
    map_rows = np.nonzero(_grey(left))[0]
    assert np.median(map_rows) > 0.5 * (top + bottom)  # grey below the panel's middle


@pytest.mark.slow
def test_a_navigate_run_draws_its_belief_at_the_end_and_at_the_failed_goal(
    tmp_path: Path,
) -> None:
    spec = json.loads(json.dumps(SCENARIO))
    # 7 cm inside the north edge: the site's edge is lethal on the rover's costmap, so
    # the rover stops short of this goal.
    spec["mission"]["goals"] = [{"x_m": 2.5, "y_m": 3.93}]
    path = tmp_path / "belief.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "run"
    outcome = run_sim(load_scenario(str(path)), out, seed=0, time_limit_s=60.0)
    task = outcome.record.task
    assert isinstance(task, NavigateGoals)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [g["status"] for g in metrics["goals"]] == ["execution_failed"]
    assert [s.goal_index for s in task.failure_maps] == [0]
    snap = task.failure_maps[0]
    assert snap.reason == metrics["goals"][0]["reason"]
    assert snap.costmap is not None and np.isfinite(snap.heights_m).sum() > 100
    drawn = sorted(p.name for p in out.glob("belief_*.png"))
    assert drawn == ["belief_end.png", "belief_goal_00.png"]
    for name in drawn:
        image = cv2.imread(str(out / name))
        assert image is not None
        assert image.shape[1] > 2.5 * image.shape[0]  # three panels: truth, map, costmap
        assert _red(image[..., ::-1]).any()  # the lethal site edge on the costmap
