"""Fixtures of the simulator tests: small flat terrains."""

from __future__ import annotations

import numpy as np
import pytest

from lunarsite.sim.terrain import Terrain


def flat_terrain(size_m: float = 10.0, cell_m: float = 0.1, height_m: float = 0.0) -> Terrain:
    n = round(size_m / cell_m) + 1
    return Terrain(
        heights_m=np.full((n, n), height_m),
        cell_size_m=cell_m,
        origin_xy_m=(0.0, 0.0),
        craters=(),
        rocks=(),
    )


@pytest.fixture
def flat() -> Terrain:
    return flat_terrain()
