"""Earthwork planning: cut and fill fields, the transport problem, bucket loads.

Expected values come from hand-built cases: blocks of soil a known distance apart, and
an assignment problem solved by scipy's Hungarian method instead of POT."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from lunarsite.robot.planning.earthwork import (
    EarthworkParams,
    PlanningError,
    cut_fill,
    haul_flows,
)
from lunarsite.robot.planning.hauls import plan_loads
from lunarsite.robot.site.design import LevelPad, ResolvedDesign
from lunarsite.robot.site.grid import GridSpec

GRID = GridSpec((0.0, 0.0), 0.05, (80, 160))  # 8 m × 4 m
GX, GY = np.meshgrid(GRID.x_coords_m, GRID.y_coords_m)
# One density for cut and fill, so mass and volume are proportional.
PARAMS = EarthworkParams(
    bucket_capacity_m3=0.015, cut_density_kgpm3=1500.0, fill_density_kgpm3=1500.0
)


def flat_design(level: float = 0.0) -> ResolvedDesign:
    return LevelPad("site", ((-1.0, -1.0), (9.0, -1.0), (9.0, 5.0), (-1.0, 5.0)), level).resolve(
        GRID, np.zeros(GRID.shape)
    )


def block(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return (x0 <= GX) & (x1 > GX) & (y0 <= GY) & (y1 > GY)


def test_cut_fill_leaves_cells_inside_the_deadband() -> None:
    surface = np.where(GX < 4.0, 0.01, 0.05)
    cf = cut_fill(surface, (flat_design(),), GRID, 0.02)
    assert cf.cut_m[GRID.cell_of(1.0, 1.0)] == 0.0
    assert cf.cut_m[GRID.cell_of(6.0, 1.0)] == pytest.approx(0.05)
    assert cf.fill_m.max() == 0.0
    assert cf.cut_m3 == pytest.approx(0.05 * 4.0 * 4.0, rel=0.02)


def test_unknown_cells_are_counted_and_left_out() -> None:
    surface = np.where(GX < 2.0, np.nan, 0.1)
    cf = cut_fill(surface, (flat_design(),), GRID, 0.02)
    assert cf.unknown_cells == int(np.sum(GX < 2.0))
    assert np.all(cf.cut_m[GX < 2.0] == 0.0)


def test_a_mound_goes_to_the_hole_and_the_bound_is_mass_times_distance() -> None:
    surface = np.zeros(GRID.shape)
    surface[block(1.0, 1.5, 1.0, 1.5)] = 0.1
    surface[block(5.0, 5.5, 1.0, 1.5)] = -0.1
    cf = cut_fill(surface, (flat_design(),), GRID, 0.02)
    flows = haul_flows(cf, PARAMS)
    mass = 0.1 * 0.5 * 0.5 * 1500.0
    assert flows.moved_kg == pytest.approx(mass)
    assert flows.bound_kg_m == pytest.approx(mass * 4.0, rel=1e-6)
    plan = plan_loads(flows, PARAMS, (0.0, 1.25))
    assert plan.moved_kg == pytest.approx(mass, rel=1e-6)
    assert plan.trips == math.ceil(mass / PARAMS.bucket_load_kg)
    assert all(ld.mass_kg <= PARAMS.bucket_load_kg + 1e-9 for ld in plan.loads)
    assert plan.work_kg_m == pytest.approx(flows.bound_kg_m, rel=0.02)


def test_transport_matches_the_assignment_problem() -> None:
    # Equal unit masses: the optimal transport is an optimal assignment.
    rng = np.random.default_rng(3)
    surface = np.zeros(GRID.shape)
    cells = rng.choice(GRID.shape[0] * GRID.shape[1] // 100, size=12, replace=False)
    coarse = [(int(c) // 16, int(c) % 16) for c in cells]  # 0.5 m blocks on an 8 × 16 lattice
    for n, (bj, bi) in enumerate(coarse):
        sl = (slice(bj * 10, bj * 10 + 10), slice(bi * 10, bi * 10 + 10))
        surface[sl] = 0.1 if n < 6 else -0.1
    cf = cut_fill(surface, (flat_design(),), GRID, 0.02)
    flows = haul_flows(cf, PARAMS)
    centre = np.array([[(bi * 10 + 4.5) * 0.05, (bj * 10 + 4.5) * 0.05] for bj, bi in coarse])
    d = np.hypot(*(centre[:6, None, :] - centre[None, 6:, :]).transpose(2, 0, 1))
    r, c = linear_sum_assignment(d)
    mass = 0.1 * 0.5 * 0.5 * 1500.0
    assert flows.bound_kg_m == pytest.approx(mass * float(d[r, c].sum()), rel=1e-6)


def test_borrow_and_spoil_balance_the_designs() -> None:
    surface = np.zeros(GRID.shape)
    surface[block(3.0, 4.0, 1.0, 2.0)] = -0.1  # a hole, no cut anywhere
    cf = cut_fill(surface, (flat_design(),), GRID, 0.02)
    with pytest.raises(PlanningError, match="not enough borrow"):
        haul_flows(cf, PARAMS)
    # Borrow outside the design: a narrow design so that free cells exist.
    pad = LevelPad("pad", ((2.5, 0.5), (4.5, 0.5), (4.5, 2.5), (2.5, 2.5)), 0.0).resolve(
        GRID, surface
    )
    cf = cut_fill(surface, (pad,), GRID, 0.02)
    near = block(5.0, 6.0, 0.5, 2.5)
    far = block(7.0, 8.0, 0.5, 2.5)
    flows = haul_flows(cf, PARAMS, borrow_mask=near | far)
    need = 0.1 * 1.0 * 1500.0
    assert flows.moved_kg == pytest.approx(need)
    from_near = sum(kg for s, _, kg in flows.pairs(1e-9) if flows.source_xy_m[s][0] < 6.0)
    assert from_near == pytest.approx(need)  # the nearer borrow holds enough (0.15 m deep)
    # Too much cut and no spoil room.
    mound = np.where(block(3.0, 4.0, 1.0, 2.0), 0.1, 0.0)
    cf = cut_fill(mound, (pad,), GRID, 0.02)
    with pytest.raises(PlanningError, match="no room for the spoil"):
        haul_flows(cf, PARAMS)
    flows = haul_flows(cf, PARAMS, spoil_mask=near)
    assert flows.moved_kg == pytest.approx(need)
    assert set(flows.sink_kind) == {"spoil"}
    # Spoil already heaped to its full height on the near strip's western half: what is
    # left goes to its eastern half (and the far strip), never onto the full cells.
    full = near & (GX < 5.5)
    risen = np.where(full, PARAMS.spoil_height_m, np.nan)
    flows = haul_flows(cf, PARAMS, spoil_mask=near | far, risen_m=risen)
    assert flows.moved_kg == pytest.approx(need)
    onto_full = sum(kg for _, k, kg in flows.pairs(1e-9) if flows.sink_xy_m[k][0] < 5.5)
    assert onto_full == pytest.approx(0.0, abs=1e-6)
    # Borrow already dug to its depth gives nothing more: with only that borrow, the
    # hole cannot be filled.
    cf_hole = cut_fill(surface, (pad,), GRID, 0.02)
    dug = np.where(near, -PARAMS.borrow_depth_m, np.nan)
    with pytest.raises(PlanningError, match="not enough borrow"):
        haul_flows(cf_hole, PARAMS, borrow_mask=near, risen_m=dug)


def test_loads_start_nearest_and_keep_to_the_bucket() -> None:
    surface = np.zeros(GRID.shape)
    surface[block(0.5, 1.5, 0.5, 3.5)] = 0.06
    surface[block(6.5, 7.5, 0.5, 3.5)] = 0.06
    surface[block(3.0, 5.0, 0.5, 3.5)] = -0.06
    cf = cut_fill(surface, (flat_design(),), GRID, 0.02)
    flows = haul_flows(cf, PARAMS)
    plan = plan_loads(flows, PARAMS, (8.0, 2.0))
    assert plan.loads[0].dig_xy_m[0] > 6.0  # the east mound is nearer the start
    assert plan.moved_kg == pytest.approx(flows.moved_kg, rel=0.01)
    assert plan.trips >= math.ceil(plan.moved_kg / PARAMS.bucket_load_kg - 1e-9)
    assert max(ld.mass_kg for ld in plan.loads) <= PARAMS.bucket_load_kg + 1e-9
    assert plan.work_kg_m <= flows.bound_kg_m * 1.15


def test_transport_bound_between_two_mass_fields() -> None:
    removed = np.where(block(1.0, 1.5, 1.0, 1.5), 2.0, 0.0)
    added = np.where(block(4.0, 4.5, 1.0, 1.5), 1.0, 0.0)  # half of it arrived
    from lunarsite.robot.planning.earthwork import transport_bound_kg_m

    kg = float(added.sum())
    assert transport_bound_kg_m(GRID, removed, added, 0.5) == pytest.approx(kg * 3.0, rel=1e-6)
    assert transport_bound_kg_m(GRID, removed, np.zeros(GRID.shape), 0.5) == 0.0


def test_cut_over_the_fill_by_less_than_a_bucketful_stays_in_the_ground() -> None:
    # A 0.3 m square mound 0.1 m high (13.5 kg at 1500 kg/m³) beside a 0.2 m square hole
    # 0.1 m deep (6 kg), no spoil box: the hole takes 6 kg from the mound and the other
    # 7.5 kg, under one 18 kg load, stays; a mound of three loads is still refused.
    pad = flat_design()
    surface = np.where(block(2.0, 2.3, 1.0, 1.3), 0.1, 0.0)
    surface = np.where(block(3.0, 3.2, 1.0, 1.2), -0.1, surface)
    cf = cut_fill(surface, (pad,), GRID, 0.02)
    flows = haul_flows(cf, PARAMS)
    assert flows.moved_kg == pytest.approx(0.2 * 0.2 * 0.1 * 1500.0, rel=0.01)
    assert set(flows.sink_kind) == {"fill"}
    big = np.where(block(2.0, 2.6, 1.0, 1.6), 0.1, 0.0)  # 54 kg, three loads
    with pytest.raises(PlanningError, match="no room for the spoil"):
        haul_flows(cut_fill(big, (pad,), GRID, 0.02), PARAMS)


def test_a_replan_may_leave_cut_it_has_no_room_for_in_the_ground() -> None:
    # The three-load mound beside the 6 kg hole, no spoil box: refused at a bucketful's
    # leeway (the first plan), planned when any amount may stay (a replan): the hole is
    # filled from the mound and the rest of the mound, 0.6 × 0.6 × 0.1 m at 1500 kg/m³
    # less the hole's 0.2 × 0.2 × 0.1 m, stays.
    pad = flat_design()
    big = np.where(block(2.0, 2.6, 1.0, 1.6), 0.1, 0.0)
    big = np.where(block(3.0, 3.2, 1.0, 1.2), -0.1, big)
    cf = cut_fill(big, (pad,), GRID, 0.02)
    with pytest.raises(PlanningError, match="no room for the spoil"):
        haul_flows(cf, PARAMS)
    flows = haul_flows(cf, PARAMS, may_leave_kg=math.inf)
    hole_kg = 0.2 * 0.2 * 0.1 * 1500.0
    assert flows.moved_kg == pytest.approx(hole_kg, rel=0.02)
    assert flows.cut_left_kg == pytest.approx(0.6 * 0.6 * 0.1 * 1500.0 - hole_kg, rel=0.02)
    assert set(flows.sink_kind) == {"fill"}
