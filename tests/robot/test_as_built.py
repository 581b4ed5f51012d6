"""As-built trench width from before and after grids, on channels drawn by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lunarsite.robot.site.as_built import trench_width_m
from lunarsite.robot.site.grid import GridSpec

GRID = GridSpec((0.0, 0.0), 0.02, (400, 500))
LINE = ((1.0, 4.0), (9.0, 4.0))


def _lowered(depth_of_offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    before = np.zeros(GRID.shape)
    after = before - depth_of_offset
    return before, after


def _offsets() -> np.ndarray:
    _gx, gy = np.meshgrid(GRID.x_coords_m, GRID.y_coords_m)
    return np.abs(gy - 4.0)


@pytest.mark.parametrize("width", [0.3, 0.5, 0.8])
def test_a_square_channel_is_as_wide_as_it_was_cut(width: float) -> None:
    before, after = _lowered(np.where(_offsets() <= 0.5 * width, 0.2, 0.0))
    got = trench_width_m(LINE, 1.0, GRID, before, after)
    assert got == pytest.approx(width, abs=GRID.cell_size_m + 1e-9)


def test_a_v_shaped_channel_is_measured_at_half_its_depth() -> None:
    # 0.2 m deep on the line, rising to the grade 0.4 m off it: 0.1 m deep 0.2 m off it.
    before, after = _lowered(np.clip(0.2 * (1.0 - _offsets() / 0.4), 0.0, None))
    assert trench_width_m(LINE, 1.0, GRID, before, after) == pytest.approx(0.4, abs=0.03)


def test_an_undug_line_has_no_width_and_a_heap_beside_it_is_not_a_trench() -> None:
    off = _offsets()
    before, after = _lowered(np.where(off <= 0.005, 0.01, 0.0))  # a 1 cm scratch
    assert trench_width_m(LINE, 1.0, GRID, before, after) == 0.0
    # A spoil heap beside a 0.4 m channel: raised ground is not counted.
    depth = np.where(off <= 0.2, 0.15, 0.0) - np.where((off > 0.5) & (off < 0.9), 0.1, 0.0)
    before, after = _lowered(depth)
    assert trench_width_m(LINE, 1.0, GRID, before, after) == pytest.approx(0.4, abs=0.03)
