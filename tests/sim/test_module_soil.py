"""A rigid module standing in the soil: a levelled spot, a floor nothing goes below, mass
that counts regolith only, and a collision surface that shows the module."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pybullet as pb
import pytest

from lunarsite.robot.constants import LUNAR_GRAVITY_MPS2
from lunarsite.sim.modules import add_module_visual
from lunarsite.sim.soil_boxes import Box
from lunarsite.sim.soil_config import SoilConfig, SoilError
from lunarsite.sim.soil_coupling import SoilSim
from lunarsite.sim.world import LunarWorld, SimConfig
from tests.sim.conftest import flat_terrain

CELL_M = 0.02
HEIGHT_M = 0.15
# A 0.6 × 0.4 m module centred at (1, 1) m: samples i 35..65 (x 0.70..1.30 m) and
# j 40..60 (y 0.80..1.20 m); grown by 0.3 m: i 20..80, j 25..75.
CENTRE = (1.0, 1.0)
SIZE = (0.6, 0.4)
FOOT = (slice(40, 61), slice(35, 66))
SPOT = (slice(25, 76), slice(20, 81))


def _world(depth_m: float | None = None) -> LunarWorld:
    cfg = SoilConfig(material="lunar_regolith", cell_size_m=CELL_M, depth_m=depth_m)
    return LunarWorld(
        flat_terrain(2.0, CELL_M), SimConfig(gravity_mps2=LUNAR_GRAVITY_MPS2), soil=cfg
    )


def _soil(world: LunarWorld) -> SoilSim:
    assert world.soil is not None
    return world.soil


def _bumpy(soil: SoilSim) -> None:
    """A gentle undulation (±4 mm: every step stays below the repose slope)."""
    g = soil.grid
    ny, nx = g.shape
    j, i = np.mgrid[0:ny, 0:nx]
    g.heights_m += 0.004 * np.sin(i / 7.0) * np.cos(j / 5.0)
    g.mark_changed(Box(0, ny, 0, nx))
    soil.update()
    # An edit from outside the ledger: this is the ground the run starts from.
    g.initial_mass_kg = g.mass_kg()


@pytest.fixture
def world() -> Iterator[LunarWorld]:
    w = _world()
    yield w
    w.close()


def _ray_z(world: LunarWorld, x: float, y: float) -> float:
    x, y = x + 1e-4, y + 1e-4
    hit = world.client.rayTest([x, y, 5.0], [x, y, -5.0])[0]
    assert hit[0] in world.terrain_bodies
    return float(hit[3][2])


def test_the_spot_is_levelled_to_its_mean_and_the_footprint_raised(world: LunarWorld) -> None:
    soil = _soil(world)
    _bumpy(soil)
    g = soil.grid
    before = g.snapshot()
    loose_before = g.loose_m.copy()
    mass_before = g.mass_kg()
    level = float(before[SPOT].mean())
    assert float(before[SPOT].std()) > 1e-3  # there was something to level

    soil.place_module(CENTRE, SIZE, 0.0, HEIGHT_M)

    h = g.heights_m
    ring = np.ones(h.shape, dtype=bool)[SPOT]
    ring[15:36, 15:46] = False  # the footprint inside the spot
    np.testing.assert_allclose(h[FOOT], level + HEIGHT_M, atol=1e-12)
    np.testing.assert_allclose(h[SPOT][ring], level, atol=1e-12)
    # Outside the spot nothing moved.
    outside = np.ones(h.shape, dtype=bool)
    outside[SPOT] = False
    np.testing.assert_array_equal(h[outside], before[outside])
    # The module stands on native soil; the spot's loose soil is all in the ring.
    assert np.all(g.loose_m[FOOT] == 0.0)
    assert g.loose_m[SPOT].sum() == pytest.approx(loose_before[SPOT].sum(), rel=1e-12)
    # Mass: unchanged, and the module is no soil. Under the module, a column holds native
    # soil from the datum up to the level.
    assert g.mass_kg() == pytest.approx(mass_before, rel=1e-9)
    exported = world.truth.soil_mass_kg()
    assert exported is not None
    assert float(exported.sum()) == pytest.approx(g.mass_kg(), rel=1e-12)
    under = g.rho_compact * (level - g.datum_m) * CELL_M**2
    np.testing.assert_allclose(exported[FOOT], under, rtol=1e-12)
    report = soil.volume_report()
    assert abs(report["conservation_error_kg"]) < 1e-9 * mass_before
    assert report["grid_volume_before_m3"] == pytest.approx(
        report["grid_volume_after_m3"], rel=1e-12
    )
    assert report["fill_m3"] == report["cut_m3"] == 0.0  # the run starts after placement
    # The collision surface shows the module and the levelled ring.
    top = level + HEIGHT_M
    assert _ray_z(world, 1.0, 1.0) == pytest.approx(top, abs=1e-4)
    assert _ray_z(world, 0.76, 1.12) == pytest.approx(top, abs=1e-4)
    assert _ray_z(world, 0.5, 1.0) == pytest.approx(level, abs=1e-4)


def test_nothing_cuts_presses_or_slumps_below_the_top(world: LunarWorld) -> None:
    soil = _soil(world)
    soil.place_module(CENTRE, SIZE, 0.0, HEIGHT_M)
    g = soil.grid
    top = float(g.heights_m[50, 50])
    assert top == pytest.approx(HEIGHT_M, abs=1e-12)  # flat ground: level 0
    nx = g.shape[1]
    foot = (np.arange(40, 61)[:, None] * nx + np.arange(35, 66)[None, :]).ravel()
    m0 = g.mass_kg()
    assert g.cut_to(foot, np.full(foot.shape, top - 0.1)) == 0.0
    assert g.press(foot, 0.05) == 0.0
    np.testing.assert_array_equal(g.heights_m[FOOT], top)
    # Soil put on the top can be taken off again, down to the top and no further.
    cell = np.array([50 * nx + 50])
    g.deposit(cell, np.array([0.1]))
    assert g.cut_to(cell, np.array([top - 1.0])) == pytest.approx(0.1, rel=1e-12)
    assert g.heights_m[50, 50] == pytest.approx(top, abs=1e-15)
    # A trench dug along the wall, right beside it: the wall stands, mass is accounted.
    trench = (np.arange(30, 71)[:, None] * nx + np.arange(30, 34)[None, :]).ravel()
    kg = g.cut_to(trench, np.full(trench.shape, -0.2))
    assert kg > 0.0
    g.settle()
    np.testing.assert_array_equal(g.heights_m[FOOT], top)
    assert g.mass_kg() + kg == pytest.approx(m0, rel=1e-12)
    # Far from the module a grid without bedrock still has no floor within reach.
    far = np.array([10 * nx + 10])
    assert g.cut_to(far, np.array([-3.0])) > 0.0
    assert g.heights_m[10, 10] == -3.0


def _flank_slope_deg(h: np.ndarray, top: float, centre_ij: tuple[int, int]) -> float:
    """Slope of a heap on the top along x (20-80% of its height), in degrees: heights of
    the centre row against the distance from the centre, fitted by a line."""
    j, i0 = centre_ij
    row = h[j, :] - top
    peak = float(row[i0])
    i = np.arange(row.size)
    sel = (row > 0.2 * peak) & (row < 0.8 * peak)
    slope = np.polyfit(np.abs(i[sel] - i0) * CELL_M, row[sel], 1)[0]
    return math.degrees(math.atan(-slope))


def test_a_heap_on_the_top_settles_on_it_and_slumps_off_its_edges(world: LunarWorld) -> None:
    soil = _soil(world)
    soil.place_module(CENTRE, SIZE, 0.0, HEIGHT_M)
    g = soil.grid
    top = HEIGHT_M
    m_before = g.mass_kg()
    flat, _ = g.flat_index(np.array([1.0]), np.array([1.0]))
    g.deposit(flat, np.array([20.0]))
    assert g.mass_kg() == pytest.approx(m_before + 20.0, rel=1e-12)
    off_before = g.heights_m.copy()
    for _ in range(2000):
        if not g.relax(1):
            break
        assert float(g.heights_m[FOOT].min()) >= top - 1e-12
    assert not g.settling
    assert g.mass_kg() == pytest.approx(m_before + 20.0, rel=1e-12)
    report = soil.volume_report()
    assert abs(report["conservation_error_kg"] - 20.0) < 1e-9 * m_before  # 20 kg poured in
    # Some soil went over the edges, onto the levelled ring beside the walls.
    gained = g.heights_m - off_before
    outside = np.ones(g.shape, dtype=bool)
    outside[FOOT] = False
    assert float(gained[outside].max()) > 0.01
    spilled_kg = float(g.rho_loose * gained[outside].sum() * CELL_M**2)
    assert 0.5 < spilled_kg < 19.0
    # The heap's flank along the 0.6 m side stands at the angle of repose.
    repose = math.degrees(g.config.repose_angle_rad)
    assert float(g.heights_m[50, 50]) - top > 0.1
    assert _flank_slope_deg(g.heights_m, top, (50, 50)) == pytest.approx(repose, abs=3.0)
    # No slope anywhere on the soil is steeper than the repose between neighbours (the
    # module's wall aside): the wall is where the footprint meets the ring.
    dx = np.abs(np.diff(g.heights_m, axis=1)) / CELL_M
    wall = np.zeros(dx.shape, dtype=bool)
    wall[40:61, 33:35] = wall[40:61, 65:67] = True
    assert float(dx[~wall].max()) < math.tan(g.config.repose_angle_rad) * 1.2


def test_a_box_dropped_on_the_module_rests_on_its_top(world: LunarWorld) -> None:
    soil = _soil(world)
    soil.place_module(CENTRE, SIZE, 0.0, HEIGHT_M)
    c = world.client
    shape = c.createCollisionShape(pb.GEOM_BOX, halfExtents=[0.05, 0.05, 0.02])
    box = c.createMultiBody(baseMass=2.0, baseCollisionShapeIndex=shape, basePosition=[1, 1, 0.4])
    world.step(480)
    z = c.getBasePositionAndOrientation(box)[0][2]
    assert z == pytest.approx(HEIGHT_M + 0.02, abs=0.005)
    # Soil poured on the top and settled: the collision surface follows it there too.
    g = soil.grid
    flat, _ = g.flat_index(np.array([0.8]), np.array([1.0]))
    g.deposit(flat, np.array([1.0]))
    g.settle()
    soil.update()
    # Collision samples are the soil box-averaged over a collision cell (3 × 3 samples).
    expected = float(g.heights_m[49:52, 39:42].mean())
    assert _ray_z(world, 0.8, 1.0) == pytest.approx(expected, abs=1e-3)
    assert _ray_z(world, 0.8, 1.0) > HEIGHT_M + 0.02


@pytest.mark.parametrize("yaw_deg", [90.0, 45.0])
def test_a_turned_module_covers_the_turned_footprint(yaw_deg: float) -> None:
    with _world() as world:
        soil = _soil(world)
        g = soil.grid
        m0 = g.mass_kg()
        soil.place_module(CENTRE, SIZE, math.radians(yaw_deg), HEIGHT_M)
        raised = g.heights_m > 0.5 * HEIGHT_M
        if yaw_deg == 90.0:
            # Turned a quarter: 0.4 m along x and 0.6 m along y.
            expected = np.zeros(g.shape, dtype=bool)
            expected[35:66, 40:61] = True
            np.testing.assert_array_equal(raised, expected)
        else:
            # Area within a perimeter's worth of cells of 0.24 m².
            cells = 0.6 * 0.4 / CELL_M**2
            assert abs(int(raised.sum()) - cells) < 2.0 * (0.6 + 0.4) / CELL_M
            # Points 2 cm inside each corner are on the module, 3 cm past an edge are not
            # (the nearest sample is at most 1.4 cm away).
            s = math.sqrt(0.5)
            for u, v, on in [(0.28, 0.18, True), (0.33, 0.0, False), (0.0, 0.23, False)]:
                for su, sv in [(1, 1), (1, -1), (-1, 1), (-1, -1)]:
                    x = 1.0 + s * su * u - s * sv * v
                    y = 1.0 + s * su * u + s * sv * v
                    assert raised[round(y / CELL_M), round(x / CELL_M)] == on
        assert g.mass_kg() == pytest.approx(m0, rel=1e-9)
        assert g.bedrock_m is not None
        np.testing.assert_array_equal(g.bedrock_m[raised], g.heights_m[raised])


def test_on_bedrock_the_footprint_floor_is_the_top_and_elsewhere_unchanged() -> None:
    with _world(depth_m=0.3) as world:
        soil = _soil(world)
        g = soil.grid
        assert g.bedrock_m is not None
        rock = g.bedrock_m.copy()
        m0 = g.mass_kg()
        soil.place_module(CENTRE, SIZE, 0.0, HEIGHT_M)
        np.testing.assert_array_equal(g.bedrock_m[FOOT], HEIGHT_M)
        outside = np.ones(g.shape, dtype=bool)
        outside[FOOT] = False
        np.testing.assert_array_equal(g.bedrock_m[outside], rock[outside])
        assert g.mass_kg() == pytest.approx(m0, rel=1e-9)


def test_bad_modules_raise_soil_error_and_leave_the_soil_alone(world: LunarWorld) -> None:
    soil = _soil(world)
    g = soil.grid
    before = g.snapshot()
    with pytest.raises(SoilError, match="off the soil grid"):
        soil.place_module((1.8, 1.0), SIZE, 0.0, HEIGHT_M)
    with pytest.raises(SoilError, match="off the soil grid"):
        soil.place_module((1.0, 1.0), (2.2, 0.4), math.radians(30.0), HEIGHT_M)
    with pytest.raises(SoilError, match="height_m must be positive"):
        soil.place_module(CENTRE, SIZE, 0.0, 0.0)
    with pytest.raises(SoilError, match="height_m must be positive"):
        soil.place_module(CENTRE, SIZE, 0.0, -0.1)
    with pytest.raises(SoilError, match="size_xy_m must be positive"):
        soil.place_module(CENTRE, (0.0, 0.4), 0.0, HEIGHT_M)
    with pytest.raises(SoilError, match="finite"):
        soil.place_module((math.nan, 1.0), SIZE, 0.0, HEIGHT_M)
    with pytest.raises(SoilError, match="covers no soil sample"):
        soil.place_module((1.01, 1.01), (0.005, 0.005), 0.0, HEIGHT_M)
    with pytest.raises(SoilError, match="height range"):
        soil.place_module(CENTRE, SIZE, 0.0, 5.0)
    np.testing.assert_array_equal(g.heights_m, before)
    assert g.bedrock_m is None and soil.modules == []
    soil.place_module(CENTRE, SIZE, 0.0, HEIGHT_M)
    with pytest.raises(SoilError, match="overlaps a module"):
        soil.place_module((1.2, 1.1), SIZE, 0.0, HEIGHT_M)
    assert len(soil.modules) == 1


def test_the_gui_box_is_visual_only(world: LunarWorld) -> None:
    soil = _soil(world)
    soil.place_module(CENTRE, SIZE, 0.0, HEIGHT_M)
    body = add_module_visual(world.client, soil.modules[0])
    assert world.client.getCollisionShapeData(body, -1) == ()
    assert _ray_z(world, 1.0, 1.0) == pytest.approx(HEIGHT_M, abs=1e-4)


def test_a_wall_taller_than_a_cut_can_stand_stays_and_slumping_ends(world: LunarWorld) -> None:
    soil = _soil(world)
    g = soil.grid
    height = 0.8
    assert height > g.standing_height_m + g.config.initial_loose_depth_m
    soil.place_module(CENTRE, SIZE, 0.3, height)
    assert not g.settling
    top = g.heights_m.max()
    flat, _ = g.flat_index(np.array([1.0]), np.array([1.0]))
    g.deposit(flat, np.array([5.0]))
    g.settle(5000)
    assert not g.settling  # the wall is no slope that keeps flowing
    raised = g.solid_m > 0.0
    assert float(g.heights_m[raised].min()) >= top - 1e-12
    assert soil.volume_report()["conservation_error_kg"] == pytest.approx(5.0, abs=1e-8)
