"""Design surfaces laid on a grid, and judged: expected heights worked out by hand from
the geometry (planes, trapezoids, paraboloids), not from the code's own formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.site.design import (
    Berm,
    DesignError,
    FillCrater,
    LevelPad,
    ModuleBox,
    ShieldModule,
    Trench,
    fit_plane,
)
from lunarsite.robot.site.grid import GridSpec

GRID = GridSpec((0.0, 0.0), 0.05, (161, 201))  # 10 m × 8 m at 5 cm
GX, GY = np.meshgrid(GRID.x_coords_m, GRID.y_coords_m)


def at(a: np.ndarray, x: float, y: float) -> float:
    return float(a[GRID.cell_of(x, y)])


def test_plane_fit_recovers_a_tilted_plane() -> None:
    ground = 0.3 + 0.02 * GX - 0.01 * GY
    a, b, c = fit_plane(GRID, ground, np.ones(GRID.shape, dtype=bool))
    assert (a, b, c) == pytest.approx((0.3, 0.02, -0.01), abs=1e-9)
    with pytest.raises(DesignError, match="need 3"):
        fit_plane(GRID, ground, np.zeros(GRID.shape, dtype=bool))


def test_level_pad_balances_at_the_mean_or_takes_its_elevation() -> None:
    ground = 0.1 + 0.02 * GX
    square = ((2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0))
    pad = LevelPad("pad", square).resolve(GRID, ground)
    # A plane rising along x over a square centred on x = 3: its mean is the centre's.
    assert at(pad.heights_m, 3.0, 3.0) == pytest.approx(0.1 + 0.02 * 3.0, abs=1e-3)
    assert math.isnan(at(pad.heights_m, 5.0, 3.0))
    assert int(pad.mask.sum()) == pytest.approx((2.0 / 0.05) ** 2, rel=0.06)
    fixed = LevelPad("pad", square, elevation_m=0.5).resolve(GRID, ground)
    assert np.nanmax(fixed.heights_m) == np.nanmin(fixed.heights_m) == 0.5


def test_berm_is_a_trapezoid_on_the_grade() -> None:
    ground = np.full(GRID.shape, 0.2)
    berm = Berm("berm", ((5.0, 2.0), (5.0, 6.0)), 0.3, 0.2, math.radians(30.0))
    d = berm.resolve(GRID, ground)
    assert at(d.heights_m, 5.0, 4.0) == pytest.approx(0.5)
    # Half way down the side: 0.1 m crest half-width, then 0.15 m of rise at tan 30°.
    x_half = 5.0 + 0.1 + 0.15 / math.tan(math.radians(30.0))
    assert at(d.heights_m, x_half, 4.0) == pytest.approx(
        0.35, abs=0.05 * math.tan(math.radians(30))
    )
    toe = 0.1 + 0.3 / math.tan(math.radians(30.0))
    assert math.isnan(at(d.heights_m, 5.0 + toe + 0.1, 4.0))
    assert berm.half_base_m == pytest.approx(toe)


def test_trench_floor_follows_a_tilted_grade() -> None:
    ground = 0.05 * GX
    d = Trench("t", ((5.0, 2.0), (5.0, 5.0)), 0.3, 0.25).resolve(GRID, ground)
    assert at(d.heights_m, 5.0, 3.0) == pytest.approx(0.25 - 0.25, abs=1e-9)
    assert math.isnan(at(d.heights_m, 5.3, 3.0))


def test_crater_fill_volume_is_the_paraboloid() -> None:
    r, depth = 1.0, 0.2
    rr = np.hypot(GX - 5.0, GY - 4.0)
    ground = np.where(rr < r, -depth * (1.0 - (rr / r) ** 2), 0.0)
    d = FillCrater("c", (5.0, 4.0), r).resolve(GRID, ground)
    score = d.judge(ground)
    assert score.below_m3 == pytest.approx(math.pi * r * r * depth / 2.0, rel=0.03)
    assert score.above_m3 == pytest.approx(0.0, abs=1e-9)


def test_shield_caps_the_module_and_slopes_to_the_grade() -> None:
    ground = np.zeros(GRID.shape)
    module = ModuleBox("hab", (5.0, 4.0), (1.0, 1.0), 0.0, 0.5)
    slope = math.radians(30.0)
    d = ShieldModule("shield", module, 0.3, slope).resolve(GRID, ground)
    assert at(d.heights_m, 5.0, 4.0) == pytest.approx(0.8)
    assert at(d.heights_m, 5.5 + 0.3, 4.0) == pytest.approx(0.8, abs=0.03)
    x = 5.5 + 0.3 + 0.4
    assert at(d.heights_m, x, 4.0) == pytest.approx(0.8 - 0.4 * math.tan(slope), abs=0.03)


def test_judge_counts_cells_in_spec_and_the_rms() -> None:
    ground = np.zeros(GRID.shape)
    pad = LevelPad("pad", ((2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0)), 0.0).resolve(
        GRID, ground
    )
    surface = np.where(GX < 3.0, 0.02, 0.05)
    s = pad.judge(surface)
    share_low = float(np.mean(GX[pad.mask] < 3.0))
    assert s.share_in_spec == pytest.approx(share_low)
    assert s.rms_error_m == pytest.approx(
        math.sqrt(share_low * 0.02**2 + (1 - share_low) * 0.05**2)
    )
    assert s.max_abs_error_m == pytest.approx(0.05)
    assert s.coverage == 1.0
    assert not pad.met(surface, 0.95)
    assert pad.met(np.full(GRID.shape, 0.01), 0.95)
    # Unknown cells count against coverage, and an unseen pad is not met.
    half_seen = np.where(GY < 3.0, 0.0, np.nan)
    assert pad.judge(half_seen).coverage == pytest.approx(0.5, abs=0.03)
    assert not pad.met(half_seen, 0.95)
