"""Volumes from two grids inside a polygon or box (the Lunabotics berm measure)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.site.survey import (
    SurveyError,
    berm_volume_m3,
    box_polygon,
    region_weights,
    volume_change,
    volume_vs_design,
)

CELL = 0.02
ORIGIN = (1.0, -0.5)


def _arena(nx: int = 345, ny: int = 251) -> np.ndarray:
    return np.zeros((ny, nx))


def _xy(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape
    x = ORIGIN[0] + np.arange(nx) * CELL
    y = ORIGIN[1] + np.arange(ny) * CELL
    return np.meshgrid(x, y)


def test_box_polygon_corners_and_rotation() -> None:
    p = box_polygon((1.0, 2.0), (2.0, 0.5))
    assert np.allclose(p, [[0.0, 1.75], [2.0, 1.75], [2.0, 2.25], [0.0, 2.25]])
    q = box_polygon((0.0, 0.0), (2.0, 0.5), math.pi / 2)
    assert np.allclose(q[0], [0.25, -1.0])
    with pytest.raises(SurveyError, match="positive"):
        box_polygon((0.0, 0.0), (0.0, 1.0))


@pytest.mark.parametrize("yaw", [0.0, 0.3, math.pi / 4])
def test_region_weights_integrate_to_the_polygon_area(yaw: float) -> None:
    shape = (251, 345)
    box = box_polygon((4.0, 2.0), (2.2, 0.9), yaw)
    w = region_weights(shape, CELL, ORIGIN, box)
    assert w.min() >= 0.0 and w.max() <= 1.0
    assert w.sum() * CELL**2 == pytest.approx(2.2 * 0.9, rel=0.01)
    tri = np.array([[2.0, 0.0], [5.0, 0.0], [2.0, 3.0]])
    assert region_weights(shape, CELL, ORIGIN, tri).sum() * CELL**2 == pytest.approx(4.5, rel=0.01)


def test_berm_volume_counts_only_what_lies_inside_the_box() -> None:
    before = _arena()
    x, y = _xy(before.shape)
    # A 2.0 × 0.7 m flat-topped berm 0.2 m high centred at (5, 2), plus a stray pile outside.
    after = before + np.where((np.abs(x - 5.0) <= 1.0) & (np.abs(y - 2.0) <= 0.35), 0.2, 0.0)
    after += np.where(np.hypot(x - 2.0, y - 3.5) < 0.2, 0.1, 0.0)
    # A pit dug inside the box does not subtract.
    after -= np.where(np.hypot(x - 5.9, y - 2.3) < 0.05, 0.3, 0.0)
    got = berm_volume_m3(before, after, CELL, ORIGIN, (5.0, 2.0), (2.2, 0.9))
    cells = int(np.sum((np.abs(x - 5.0) <= 1.0) & (np.abs(y - 2.0) <= 0.35)))
    assert got == pytest.approx(cells * CELL**2 * 0.2, rel=0.02)
    whole = volume_change(before, after, CELL, ORIGIN)
    assert whole.fill_m3 > got
    assert whole.cut_m3 > 0.0
    assert whole.area_m2 == pytest.approx(before.size * CELL**2)


def test_cut_and_fill_and_missing_scan_cells() -> None:
    before = np.zeros((50, 50))
    after = before.copy()
    after[10:20, 10:20] = 0.1
    after[30:35, 30:40] = -0.05
    after[0, 0] = np.nan  # no return
    ch = volume_change(before, after, 0.1)
    assert ch.fill_m3 == pytest.approx(100 * 0.01 * 0.1)
    assert ch.cut_m3 == pytest.approx(50 * 0.01 * 0.05)
    assert ch.net_m3 == pytest.approx(ch.fill_m3 - ch.cut_m3)
    assert ch.area_m2 == pytest.approx((2500 - 1) * 0.01)


def test_volume_vs_design_surface() -> None:
    surface = np.zeros((40, 40))
    surface[:, :20] = 0.1
    d = volume_vs_design(surface, 0.05, 0.1)
    assert d.above_m3 == pytest.approx(800 * 0.01 * 0.05)
    assert d.below_m3 == pytest.approx(800 * 0.01 * 0.05)
    assert d.rms_error_m == pytest.approx(0.05)
    pad = volume_vs_design(
        surface, np.zeros_like(surface), 0.1, (0.0, 0.0), box_polygon((2.0, 2.0), (1.0, 1.0))
    )
    assert pad.area_m2 == pytest.approx(1.0, rel=0.01)
    # Cells up to x = 1.95 m stand 0.1 m high: 0.45 of the 1 m² pad.
    assert pad.above_m3 == pytest.approx(0.045, rel=0.02)


@pytest.mark.parametrize(
    ("before", "after", "region", "match"),
    [
        (np.zeros((5, 5)), np.zeros((5, 6)), None, "shape"),
        (np.zeros(5), np.zeros(5), None, "2-D"),
        (np.zeros((5, 5)), np.zeros((5, 5)), [[0.0, 0.0], [1.0, 1.0]], "polygon"),
    ],
)
def test_bad_inputs_are_named(before, after, region, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SurveyError, match=match):
        volume_change(before, after, 0.1, (0.0, 0.0), region)
