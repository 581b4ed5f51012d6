"""The elevation map's gate against false returns: what it believes, what it holds back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.site.grid import GridSpec

GRID = GridSpec((0.0, 0.0), 0.1, (40, 40))  # 4 m × 4 m
STD = 0.01


def _ground_scan(rng: np.random.Generator, per_cell: int = 3) -> np.ndarray:
    """A scan of flat ground at z = 0 that puts ``per_cell`` returns in every cell."""
    xs, ys = np.meshgrid(GRID.x_coords_m, GRID.y_coords_m)
    x = np.repeat(xs.ravel(), per_cell) + rng.uniform(-0.04, 0.04, xs.size * per_cell)
    y = np.repeat(ys.ravel(), per_cell) + rng.uniform(-0.04, 0.04, xs.size * per_cell)
    return np.column_stack([x, y, rng.normal(0.0, STD, x.size)])


def _false_returns(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` returns anywhere on the grid, 0.1-0.6 m above the ground (short of it)."""
    xy = rng.uniform(0.0, 3.9, (n, 2))
    return np.column_stack([xy, rng.uniform(0.1, 0.6, n)])


@pytest.mark.parametrize("gate", [4.0, None])
def test_false_returns_make_no_phantom_steps(gate: float | None) -> None:
    rng = np.random.default_rng(3)
    emap = ElevationMap(GRID, gate_sigmas=gate)
    for _ in range(5):
        emap.integrate(np.vstack([_ground_scan(rng), _false_returns(rng, 2)]), STD)
    # The ground is at 0. A cell's top is the highest of its three 1 cm returns a scan,
    # fused over five scans: about 0.85σ up, and nowhere near 4σ. A false return
    # becomes its cell's top at the variance of one good return: standing 10-60 cm up,
    # it lifts the top by a fifth of that.
    worst_top = float(np.nanmax(emap.top_m))
    if gate is None:
        assert worst_top > 0.05
    else:
        assert worst_top < 4 * STD
        assert np.nanmax(np.abs(emap.heights_m)) < 4 * STD
        assert emap.known.all()  # every cell of the ground is still mapped
        assert emap.gate is not None and emap.gate.held_back >= 10


def test_a_lone_return_waits_for_a_second_that_agrees() -> None:
    emap = ElevationMap(GRID)
    rock = np.array([[2.0, 2.0, 0.15]])
    emap.integrate(rock, STD)
    assert not emap.known.any()  # once: it may be a false return
    emap.integrate(rock + np.array([0.0, 0.0, 0.3]), STD)  # a second that does not agree
    assert not emap.known.any()
    emap.integrate(rock + np.array([0.0, 0.0, 0.305]), STD)  # and one that agrees with it
    assert emap.height_at(2.0, 2.0) == pytest.approx(0.455, abs=0.001)


def test_a_held_back_return_is_forgotten_after_its_scans() -> None:
    emap = ElevationMap(GRID)
    assert emap.gate is not None
    keep = emap.gate.keep_updates
    rock = np.array([[1.0, 1.0, 0.15]])
    emap.integrate(rock, STD)
    far = np.array([[3.0, 3.0, 0.0], [3.01, 3.0, 0.0]])  # other scans: another cell
    for _ in range(keep):
        emap.integrate(far, STD)
    emap.integrate(rock, STD)  # keep + 1 scans later: no longer vouched for
    assert math.isnan(emap.height_at(1.0, 1.0))
    assert emap.gate.held_back == 2


def test_a_rock_hit_by_two_beams_of_one_scan_is_believed_at_once() -> None:
    emap = ElevationMap(GRID)
    ground = np.array([[2.0, 2.0, 0.0], [2.01, 2.0, 0.0]])
    for _ in range(5):
        emap.integrate(ground[:1] if _ else ground, STD)
    emap.integrate(np.array([[2.0, 2.0, 0.2], [2.01, 1.99, 0.21]]), STD)
    # The cell held ground at 0 from six 1 cm returns (variance about 1e-4 / 6); the two
    # rock returns measure 0.205 with variance 1e-4 / 2 + (0.005² / 2) = 6.25e-5. The
    # Kalman gain is v / (v + 6.25e-5).
    v = 1e-4 / 6
    assert emap.height_at(2.0, 2.0) == pytest.approx(0.205 * v / (v + 6.25e-5), abs=0.003)


def test_a_false_return_among_ground_returns_leaves_the_cell_alone() -> None:
    emap = ElevationMap(GRID)
    ground = np.column_stack([np.full(8, 1.5), np.full(8, 1.5), np.linspace(-0.01, 0.01, 8)])
    emap.integrate(np.vstack([ground, [[1.5, 1.5, 0.4]]]), STD)
    assert emap.height_at(1.5, 1.5) == pytest.approx(0.0, abs=0.002)
    assert emap.top_m[15, 15] == pytest.approx(0.01, abs=0.002)


def test_forgotten_cells_drop_what_they_held_back() -> None:
    emap = ElevationMap(GRID)
    rock = np.array([[1.0, 1.0, 0.15]])
    emap.integrate(rock, STD)
    emap.forget(1.0, 1.0, 0.2)
    emap.integrate(rock, STD)
    assert math.isnan(emap.height_at(1.0, 1.0))
