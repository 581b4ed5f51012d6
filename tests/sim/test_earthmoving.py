"""Tools on the soil grid: fill, overflow, drag, blade windrow, pour, ruts; mass ledger."""

from __future__ import annotations

import numpy as np
import pytest

from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.sim.earthmoving import (
    CuttingEdge,
    ToolLoad,
    blade,
    edge_cells,
    edge_engagement,
    pour,
    scoop,
    wheel_rut,
)
from lunarsite.sim.soil import SoilGrid
from lunarsite.sim.soil_config import SoilConfig, SoilError

CELL_M = 0.02
FORWARD = (1.0, 0.0, 0.0)


def _grid(n: int = 101, loose_m: float = 0.05) -> SoilGrid:
    cfg = SoilConfig(material="bp1", initial_loose_depth_m=loose_m)
    return SoilGrid(np.zeros((n, n)), CELL_M, config=cfg, gravity_mps2=LUNAR_GRAVITY_MPS2)


def _edge(x: float, y: float, z: float, width: float = 0.4, fwd=FORWARD) -> CuttingEdge:
    return CuttingEdge((x, y - width / 2, z), (x, y + width / 2, z), fwd)


def _ledger(grid: SoilGrid, *tools: ToolLoad) -> float:
    return grid.mass_kg() + sum(t.load_kg for t in tools) + grid.outflow_kg


def test_cutting_edge_validates() -> None:
    with pytest.raises(SoilError, match="p0_m"):
        CuttingEdge((0.0, 0.0), (1.0, 0.0, 0.0), FORWARD)
    with pytest.raises(SoilError, match="forward"):
        CuttingEdge((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    with pytest.raises(SoilError, match="capacity"):
        ToolLoad(-1.0, 1500.0)


def test_scoop_forward_fills_the_tool_with_the_soil_above_its_edge() -> None:
    g = _grid()
    tool = ToolLoad(0.02, g.rho_loose)
    before = _ledger(g, tool)
    r = scoop(g, tool, _edge(0.5, 1.0, -0.03), _edge(0.7, 1.0, -0.03))
    assert r.cut_kg > 0.0 and r.pushed_kg == 0.0
    assert tool.load_kg == pytest.approx(r.cut_kg)
    # 0.2 m × 0.4 m × 3 cm, of which 3 cm loose: the swept cells (rounded to the grid).
    approx = 0.2 * 0.4 * 0.03 * g.rho_loose
    assert r.cut_kg == pytest.approx(approx, rel=0.35)
    assert np.all(g.heights_m[40:61, 26:35] == pytest.approx(-0.03))
    assert _ledger(g, tool) == pytest.approx(before, rel=1e-12)


def test_scoop_overflow_piles_in_front() -> None:
    g = _grid()
    tool = ToolLoad(0.001, g.rho_loose)  # 1 L
    before = _ledger(g, tool)
    r = scoop(g, tool, _edge(0.5, 1.0, -0.05), _edge(0.8, 1.0, -0.05))
    assert tool.load_kg == pytest.approx(tool.capacity_kg)
    assert r.pushed_kg == pytest.approx(r.cut_kg - tool.capacity_kg)
    ahead = g.heights_m[40:61, 41:43]  # 1.5 cells ahead of x = 0.8 m
    assert ahead.max() > 0.01
    assert g.heights_m[40:61, 45:].max() == 0.0
    assert _ledger(g, tool) == pytest.approx(before, rel=1e-12)


def test_scoop_dragged_backwards_pushes_soil_behind_it() -> None:
    g = _grid()
    tool = ToolLoad(0.02, g.rho_loose)
    r = scoop(g, tool, _edge(0.8, 1.0, -0.02), _edge(0.6, 1.0, -0.02))
    assert tool.load_kg == 0.0
    assert r.pushed_kg == pytest.approx(r.cut_kg) and r.cut_kg > 0.0
    assert g.heights_m[40:61, 28:30].max() > 0.0  # ahead of the backward motion (x < 0.6)


def test_blade_pushes_a_windrow_that_spills_round_its_ends() -> None:
    g = _grid(151)
    before = _ledger(g)
    x = 0.6
    prev = _edge(x, 1.5, -0.04, width=0.5)
    pushed = 0.0
    while x < 1.6:
        curr = _edge(x + 0.02, 1.5, -0.04, width=0.5)
        pushed += blade(g, prev, curr).pushed_kg
        g.set_obstacles(edge_cells(g, curr))
        g.relax(20)
        prev, x = curr, x + 0.02
    g.set_obstacles(edge_cells(g, prev))
    g.settle()
    assert pushed > 0.0
    # The windrow ahead of the final blade position stands above the original surface...
    assert g.heights_m[60:91, 82:95].max() > 0.03
    # ...spilled past the blade's ends (|y - 1.5| > 0.25 m) along the cut...
    side = np.concatenate([g.heights_m[50:60, 35:80], g.heights_m[91:101, 35:80]])
    assert side.max() > 0.005
    # ...and the cut behind it is at the blade's level.
    assert np.median(g.heights_m[65:86, 40:70]) == pytest.approx(-0.04, abs=0.005)
    assert _ledger(g) == pytest.approx(before, rel=1e-12)


def test_pour_drops_the_load_under_the_lip() -> None:
    g = _grid()
    tool = ToolLoad(0.02, g.rho_loose)
    scoop(g, tool, _edge(0.3, 0.5, -0.05), _edge(0.6, 0.5, -0.05))
    load = tool.load_kg
    assert load > 5.0
    before = _ledger(g, tool)
    lip = _edge(1.5, 1.5, 0.2, width=0.4, fwd=(0.0, 0.0, -1.0))
    assert pour(g, tool, lip, 0.25 * load) == pytest.approx(0.25 * load)
    assert pour(g, tool, lip, 10 * load) == pytest.approx(0.75 * load)
    assert tool.load_kg == 0.0 and tool.poured_kg == pytest.approx(load)
    assert g.heights_m[65:86, 75].min() > 0.0  # under the lip
    assert _ledger(g, tool) == pytest.approx(before, rel=1e-12)
    assert pour(g, tool, lip, 1.0) == 0.0


def test_edge_engagement() -> None:
    g = _grid()
    assert edge_engagement(g, _edge(1.0, 1.0, 0.05)) == (0.0, 0.0)
    width, depth = edge_engagement(g, _edge(1.0, 1.0, -0.03))
    assert width == pytest.approx(0.4)
    assert depth == pytest.approx(0.03)
    half = CuttingEdge((1.0, 0.8, -0.04), (1.0, 1.2, 0.04), FORWARD)
    width, depth = edge_engagement(g, half)
    assert width == pytest.approx(0.2, abs=0.02)
    assert depth == pytest.approx(0.02, abs=0.003)


def test_wheel_rut_sinks_the_patch_and_berms_its_sides() -> None:
    g = _grid(loose_m=0.02)  # 2 cm loose compacts by ≈ 0.3 cm; the rest goes aside
    before = _ledger(g)
    displaced = wheel_rut(g, (1.0, 1.0), 0.0, width_m=0.12, length_m=0.06, sinkage_m=0.01)
    assert displaced > 0.0
    assert g.heights_m[50, 50] == pytest.approx(-0.01)
    assert g.heights_m[50 + 4, 50] > 0.0 and g.heights_m[50 - 4, 50] > 0.0
    assert _ledger(g) == pytest.approx(before, rel=1e-12)
    # Rolling over the same cells again does not dig deeper.
    assert wheel_rut(g, (1.0, 1.0), 0.0, width_m=0.12, length_m=0.06, sinkage_m=0.01) == 0.0


def test_a_swept_rut_has_no_gaps_between_its_ends() -> None:
    g = _grid(loose_m=0.02)
    before = _ledger(g)
    # 6 cm patch, wheel rolled 0.3 m since its last rut: pressed the whole way.
    wheel_rut(
        g, (1.3, 1.0), 0.0, width_m=0.12, length_m=0.06, sinkage_m=0.01, swept_from_xy_m=(1.0, 1.0)
    )
    track = g.heights_m[50, 50:66]  # x = 1.00 ... 1.30 m along the centre line
    assert np.allclose(track, -0.01)
    assert _ledger(g) == pytest.approx(before, rel=1e-12)
    # Without the sweep only the patch at the end is pressed.
    g2 = _grid(loose_m=0.02)
    wheel_rut(g2, (1.3, 1.0), 0.0, width_m=0.12, length_m=0.06, sinkage_m=0.01)
    assert g2.heights_m[50, 57] > -0.001


def test_mass_is_conserved_over_many_random_operations() -> None:
    rng = np.random.default_rng(7)
    g = _grid(121, loose_m=0.03)
    tools = [ToolLoad(0.01, g.rho_loose), ToolLoad(0.003, g.rho_loose)]
    total0 = _ledger(g, *tools)
    moved = 0.0
    for _ in range(400):
        op = rng.integers(4)
        x, y = rng.uniform(-0.2, 2.6, 2)  # sometimes off the grid: outflow
        yaw = rng.uniform(0, 2 * np.pi)
        fwd = (np.cos(yaw), np.sin(yaw), 0.0)
        z = rng.uniform(-0.08, 0.05)
        prev = _edge(x, y, z, width=rng.uniform(0.1, 0.5), fwd=fwd)
        step = rng.uniform(-0.05, 0.08)
        curr = CuttingEdge(prev.p0_m + step * np.array(fwd), prev.p1_m + step * np.array(fwd), fwd)
        tool = tools[int(rng.integers(2))]
        if op == 0:
            moved += scoop(g, tool, prev, curr).cut_kg
        elif op == 1:
            moved += blade(g, prev, curr).cut_kg
        elif op == 2:
            moved += pour(g, tool, curr, rng.uniform(0, 3.0))
        else:
            moved += wheel_rut(
                g, (x, y), yaw, width_m=0.12, length_m=0.06, sinkage_m=rng.uniform(0, 0.02)
            )
        g.relax(10)
    g.settle()
    assert moved > 50.0
    assert g.outflow_kg > 0.0
    error = abs(_ledger(g, *tools) - total0)
    assert error < 1e-3 * moved  # the issue asks for 0.1%
    assert error < 1e-9 * total0  # float precision in practice
