"""Grid geometry: cells of points, and the exact cells a segment crosses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunarsite.robot.site.grid import GridError, GridSpec

GRID = GridSpec((1.0, -2.0), 0.25, (40, 60))
coord = st.floats(-5.0, 20.0, allow_nan=False)


def test_cell_and_centre_round_trip() -> None:
    assert GRID.cell_of(1.0, -2.0) == (0, 0)
    assert GRID.center_of(3, 7) == (1.0 + 7 * 0.25, -2.0 + 3 * 0.25)
    assert GRID.cell_of(*GRID.center_of(3, 7)) == (3, 7)
    assert GRID.contains(1.1, -1.9) and not GRID.contains(0.0, -2.0)
    assert GridSpec.covering((0.0, 0.0), (10.0, 5.0), 0.1).shape == (51, 101)
    with pytest.raises(GridError, match="cell_size_m"):
        GridSpec((0.0, 0.0), 0.0, (2, 2))


@given(coord, coord, coord, coord)
def test_segment_cells_cover_the_segment_exactly(
    ax: float, ay: float, bx: float, by: float
) -> None:
    j, i, length = GRID.segment_cells((ax, ay), (bx, by))
    assert length.sum() == pytest.approx(math.hypot(bx - ax, by - ay), abs=1e-9)
    assert np.all(length >= -1e-12)
    steps = np.abs(np.diff(np.column_stack([j, i]), axis=0))
    assert np.all(steps.max(axis=1, initial=0) <= 1)  # neighbouring cells, in order
    assert (j[0], i[0]) == GRID.cell_of(ax, ay) or length[0] < 1e-9
