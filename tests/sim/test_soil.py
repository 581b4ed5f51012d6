"""The soil grid: configuration, mass ledger, slumping to the angle of repose, cohesion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.sim.soil import SoilGrid
from lunarsite.sim.soil_boxes import Box
from lunarsite.sim.soil_config import MATERIAL_DEFAULTS, SoilConfig, SoilError

CELL_M = 0.02


def _grid(
    n: int = 81, *, material: str = "bp1", loose_m: float = 0.0, g: float = LUNAR_GRAVITY_MPS2
) -> SoilGrid:
    cfg = SoilConfig(material=material, initial_loose_depth_m=loose_m)  # type: ignore[arg-type]
    return SoilGrid(np.zeros((n, n)), CELL_M, (0.0, 0.0), config=cfg, gravity_mps2=g)


def _cone_angle_deg(grid: SoilGrid, centre_xy: tuple[float, float]) -> float:
    """Slope of the pile's flanks (20-80% of its height) fitted against radius, in degrees."""
    h = grid.heights_m
    ny, nx = h.shape
    x = np.arange(nx) * grid.cell_size_m - centre_xy[0]
    y = np.arange(ny) * grid.cell_size_m - centre_xy[1]
    r = np.hypot(*np.meshgrid(x, y))
    top = h.max()
    sel = (h > 0.2 * top) & (h < 0.8 * top)
    slope = np.polyfit(r[sel], h[sel], 1)[0]
    return math.degrees(math.atan(-slope))


# ----------------------------------------------------------------------- config
def test_material_defaults_and_overrides() -> None:
    lunar = SoilConfig()
    assert lunar.material == "lunar_regolith"
    assert lunar.loose_density_kgpm3 == 1300.0
    assert lunar.cohesion_pa == 170.0
    bp1 = SoilConfig(material="bp1")
    assert bp1.loose_density_kgpm3 == MATERIAL_DEFAULTS["bp1"]["loose_density_kgpm3"]
    assert bp1.repose_angle_rad == pytest.approx(math.radians(38.0))
    custom = SoilConfig(material="bp1", repose_angle_rad=0.6)
    assert custom.repose_angle_rad == 0.6
    assert custom.cohesion_pa == bp1.cohesion_pa


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"material": "mars"}, "material"),
        ({"repose_angle_rad": 1.7}, "repose_angle_rad"),
        ({"loose_density_kgpm3": 2000.0}, "must not be below"),
        ({"cohesion_pa": -5.0}, "cohesion_pa"),
        ({"tile_cells": 2}, "tile_cells"),
        ({"grain": 1}, "grain"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        SoilConfig(**kwargs)  # type: ignore[arg-type]


def test_grid_rejects_bad_input() -> None:
    cfg = SoilConfig()
    with pytest.raises(SoilError, match="2-D"):
        SoilGrid(np.zeros(5), 0.1, config=cfg, gravity_mps2=1.62)
    with pytest.raises(SoilError, match="non-finite"):
        SoilGrid(np.full((3, 3), np.nan), 0.1, config=cfg, gravity_mps2=1.62)
    with pytest.raises(SoilError, match="cell_size_m"):
        SoilGrid(np.zeros((3, 3)), 0.0, config=cfg, gravity_mps2=1.62)
    with pytest.raises(SoilError, match="gravity"):
        SoilGrid(np.zeros((3, 3)), 0.1, config=cfg, gravity_mps2=0.0)


# ---------------------------------------------------------------------- ledger
def test_cut_takes_loose_then_native_soil_and_deposit_adds_loose() -> None:
    g = _grid(11, loose_m=0.01)
    m0 = g.mass_kg()
    area = CELL_M**2
    got = g.cut_to(np.array([5 * 11 + 5]), np.array([-0.03]))
    want = (g.rho_loose * 0.01 + g.rho_compact * 0.02) * area
    assert got == pytest.approx(want)
    assert g.heights_m[5, 5] == pytest.approx(-0.03)
    assert g.loose_m[5, 5] == 0.0
    assert g.mass_kg() == pytest.approx(m0 - got, abs=1e-9)
    # Put the same mass back: it comes back loose, so it stands taller (it swelled).
    g.deposit(np.array([5 * 11 + 5]), np.array([got]))
    assert g.mass_kg() == pytest.approx(m0, abs=1e-9)
    assert g.heights_m[5, 5] == pytest.approx(-0.03 + got / (g.rho_loose * area))
    assert g.heights_m[5, 5] > 0.0


def test_deposit_off_the_grid_is_counted_as_outflow() -> None:
    g = _grid(11)
    m0 = g.mass_kg()
    g.deposit_at(np.array([0.1, -1.0, 5.0]), np.array([0.1, 0.1, 0.1]), np.array([1.0, 2.0, 3.0]))
    assert g.outflow_kg == pytest.approx(5.0)
    assert g.mass_kg() - m0 == pytest.approx(1.0)
    with pytest.raises(SoilError, match="non-negative"):
        g.deposit(np.array([0]), np.array([-1.0]))


def test_press_compacts_loose_soil_before_pushing_any_aside() -> None:
    g = _grid(11, loose_m=0.05)
    cells = np.array([60, 61])
    m0 = g.column_mass_kg().reshape(-1)[cells].copy()
    assert g.press(cells, 0.004) == 0.0  # 5 cm loose can compact by 5·(1 - ρl/ρc) ≈ 0.8 cm
    assert np.allclose(g.heights_m.reshape(-1)[cells], -0.004)
    assert np.allclose(g.column_mass_kg().reshape(-1)[cells], m0)
    # The same load again does nothing; a heavier one sinks only the difference.
    assert g.press(cells, 0.004) == 0.0
    assert np.allclose(g.heights_m.reshape(-1)[cells], -0.004)
    displaced = g.press(cells, 0.02)
    assert displaced > 0.0
    assert np.allclose(g.heights_m.reshape(-1)[cells], -0.02)
    assert g.column_mass_kg().reshape(-1)[cells].sum() == pytest.approx(m0.sum() - displaced)


# -------------------------------------------------------------------- slumping
@pytest.mark.parametrize("material", ["bp1", "lunar_regolith"])
def test_poured_pile_stands_at_the_angle_of_repose(material: str) -> None:
    g = _grid(121, material=material)
    m0 = g.mass_kg()
    centre = (1.2, 1.2)
    for _ in range(40):
        g.deposit_at(np.array([centre[0]]), np.array([centre[1]]), np.array([0.5]))
        g.relax(200)
    g.settle()
    assert not g.settling
    assert g.mass_kg() - m0 == pytest.approx(20.0, abs=1e-9)
    repose = math.degrees(g.config.repose_angle_rad)
    assert _cone_angle_deg(g, centre) == pytest.approx(repose, abs=2.0)
    assert g.heights_m.max() > 0.1  # a real pile, not a smear


def test_relaxation_conserves_mass_with_native_soil_failing() -> None:
    """A cohesionless native step fails; the failed native soil swells as it goes loose."""
    cfg = SoilConfig(material="bp1", cohesion_pa=0.0, initial_loose_depth_m=0.0)
    h = np.zeros((40, 40))
    h[:, 20:] = 0.3
    g = SoilGrid(h, CELL_M, config=cfg, gravity_mps2=LUNAR_GRAVITY_MPS2)
    g.mark_changed(Box(0, 40, 18, 22))
    m0, v0 = g.mass_kg(), g.volume_m3()
    g.settle()
    assert g.mass_kg() == pytest.approx(m0, rel=1e-12)
    assert g.volume_m3() > v0  # swelling
    step = np.abs(np.diff(g.heights_m[20])).max()
    assert step <= math.tan(cfg.repose_angle_rad) * CELL_M * 1.05


def test_cohesion_lets_a_small_native_face_stand_but_not_a_loose_one() -> None:
    for loose in (0.0, 0.12):
        cfg = SoilConfig(material="lunar_regolith", initial_loose_depth_m=loose)
        h = np.zeros((30, 30))
        h[:, 15:] = 0.1  # a 10 cm vertical face, well below the ~0.5 m lunar standing height
        g = SoilGrid(h, CELL_M, config=cfg, gravity_mps2=LUNAR_GRAVITY_MPS2)
        g.mark_changed(Box(0, 30, 13, 17))
        g.settle()
        step = np.abs(np.diff(g.heights_m[15])).max()
        if loose == 0.0:
            assert step == pytest.approx(0.1)  # native, cohesive: stands
        else:
            assert step < 0.02  # all loose: slumps to the angle of repose


def test_standing_height_depends_on_gravity() -> None:
    moon = _grid(5, material="lunar_regolith", g=LUNAR_GRAVITY_MPS2)
    earth = _grid(5, material="lunar_regolith", g=9.81)
    assert moon.standing_height_m == pytest.approx(earth.standing_height_m * 9.81 / 1.62)


def test_relax_budget_and_dirty_box() -> None:
    g = _grid(61)
    g.pop_dirty()
    g.deposit_at(np.array([0.6]), np.array([0.6]), np.array([5.0]))
    assert g.relax(3) == 3
    assert g.settling
    box = g.pop_dirty()
    assert box is not None
    assert box.j0 <= 30 < box.j1 and box.i0 <= 30 < box.i1
    assert g.pop_dirty() is None
    g.settle()
    assert not g.settling
    assert g.relax() == 0


def test_nothing_leaves_through_the_edges_when_a_pile_slumps_against_them() -> None:
    g = _grid(31)
    m0 = g.mass_kg()
    g.deposit_at(np.array([0.0]), np.array([0.0]), np.array([3.0]))  # corner sample
    g.settle()
    assert g.outflow_kg == 0.0
    assert g.mass_kg() == pytest.approx(m0 + 3.0, abs=1e-9)


# ---------------------------------------------------------------------- bedrock
def _bedrock_grid(depth_m: float = 0.1, loose_m: float = 0.02) -> SoilGrid:
    cfg = SoilConfig(material="bp1", initial_loose_depth_m=loose_m, depth_m=depth_m)
    return SoilGrid(np.zeros((41, 41)), CELL_M, (0.0, 0.0), config=cfg, gravity_mps2=1.62)


def test_bedrock_config_is_checked() -> None:
    assert SoilConfig().depth_m is None
    assert SoilConfig(depth_m=0.45).depth_m == 0.45
    with pytest.raises(ValidationError, match="must not be below initial_loose_depth_m"):
        SoilConfig(depth_m=0.01, initial_loose_depth_m=0.05)
    with pytest.raises(ValidationError):
        SoilConfig(depth_m=0.0)


def test_nothing_is_cut_or_pressed_below_the_bedrock() -> None:
    g = _bedrock_grid(depth_m=0.1)
    assert g.bedrock_m is not None
    flat = np.arange(41 * 5, 41 * 6)  # one row
    m0 = g.mass_kg()
    kg = g.cut_to(flat, np.full(flat.shape, -4.0))  # a bucket 4 m down
    row = g.heights_m.reshape(-1)[flat]
    np.testing.assert_allclose(row, -0.1)
    # 2 cm loose at 1430 kg/m³ and 8 cm native at 1700 kg/m³ per 2 cm cell.
    expected = (0.02 * 1430.0 + 0.08 * 1700.0) * CELL_M**2 * flat.size
    assert kg == pytest.approx(expected)
    assert g.mass_kg() + kg == pytest.approx(m0)
    assert g.cut_to(flat, np.full(flat.shape, -1.0)) == 0.0
    # A wheel on the bare floor does not sink into it.
    assert g.press(flat, 0.05) == 0.0
    np.testing.assert_allclose(g.heights_m.reshape(-1)[flat], -0.1)
    edge = g.bedrock_at(np.array([0.3]), np.array([0.1]))
    assert edge is not None and edge[0] == pytest.approx(-0.1)


def test_slumping_never_digs_into_the_bedrock() -> None:
    # A tall loose pile next to a column cut to the floor: the pile flows down onto the
    # floor; no column ends below the bedrock and mass is kept.
    g = _bedrock_grid(depth_m=0.05, loose_m=0.02)
    g.cut_to(np.arange(g.heights_m.size), np.full(g.heights_m.size, -1.0))
    flat, _ = g.flat_index(np.array([0.4]), np.array([0.4]))
    g.deposit(flat, np.array([3.0]))
    m0 = g.mass_kg()
    g.settle()
    assert g.mass_kg() == pytest.approx(m0, rel=1e-12)
    assert g.bedrock_m is not None
    assert np.all(g.heights_m >= g.bedrock_m - 1e-12)
    assert g.heights_m.max() < 0.3


def test_cut_depth_for_the_fee_counts_only_soil_above_the_bedrock() -> None:
    from lunarsite.sim.earthmoving import CuttingEdge, edge_engagement

    g = _bedrock_grid(depth_m=0.1)
    deep = CuttingEdge((0.2, 0.2, -0.5), (0.2, 0.6, -0.5), (1.0, 0.0, 0.0))
    width, depth = edge_engagement(g, deep)
    assert width == pytest.approx(0.4)
    assert depth == pytest.approx(0.1)
