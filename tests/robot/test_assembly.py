"""Assembly planning: orders checked against geometry worked out by hand.

Sites are built from free rectangles; the expected orders follow from where the units
and the corridors are, and every step of a plan is replayed with a sampled geometry of
its own (points over each unit's top, their nearest distance to the rover's centre)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.planning.assembly import (
    AssemblyError,
    AssemblyParams,
    AssemblyPlan,
    DepotSlot,
    plan_assembly,
    unit_rect,
)
from lunarsite.robot.planning.assembly_access import AccessMap
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.site.modules import Catalog, Grasp, ModuleType, Placement

PAVER = ModuleType(
    name="paver",
    kind="paver",
    size_m=(0.3, 0.3, 0.06),
    mass_kg=10.0,
    grasp=Grasp(axis="y", height_m=0.03),
    max_slope_rad=0.1,
    rests_on=("ground", "paver"),
)
HAB = ModuleType(
    name="hab",
    kind="habitat",
    size_m=(0.8, 0.6, 0.5),
    mass_kg=30.0,
    grasp=Grasp(axis="y", height_m=0.25),
    max_slope_rad=0.05,
    needs_pad=True,
)
CATALOG = Catalog(types=(PAVER, HAB))
PARAMS = AssemblyParams(rover_radius_m=0.7, grip_ahead_m=0.95)
CELL = 0.1


def site(
    size_m: float, free: list[tuple[float, float, float, float]]
) -> tuple[GridSpec, np.ndarray]:
    """A square site blocked everywhere but the (x0, x1, y0, y1) rectangles."""
    grid = GridSpec.covering((0.0, 0.0), (size_m, size_m), CELL)
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    open_ = np.zeros(grid.shape, dtype=bool)
    for x0, x1, y0, y1 in free:
        open_ |= (gx >= x0) & (gx <= x1) & (gy >= y0) & (gy <= y1)
    return grid, ~open_


def depot(n: int, x_m: float = 1.5, y0_m: float = 1.5, type_: str = "paver") -> list[DepotSlot]:
    return [DepotSlot(f"d{k}", type_, x_m, y0_m + 0.6 * k) for k in range(n)]


def nearest_m(x: float, y: float, q: Placement, m: ModuleType) -> float:
    """Nearest distance from (x, y) to a unit's top, sampled on a 2 cm lattice."""
    c, s = math.cos(q.yaw_rad), math.sin(q.yaw_rad)
    u = np.linspace(-0.5 * m.size_m[0], 0.5 * m.size_m[0], 41)
    v = np.linspace(-0.5 * m.size_m[1], 0.5 * m.size_m[1], 41)
    uu, vv = np.meshgrid(u, v)
    px, py = q.x_m + uu * c - vv * s, q.y_m + uu * s + vv * c
    return float(np.hypot(px - x, py - y).min())


def replay(plan: AssemblyPlan, catalog: Catalog) -> None:
    """Each unit's supports are down before it, and where the rover stands to set it
    down (and where it stands to pick it) it keeps its radius off every unit in place
    but those under the one it holds."""
    placed: list[Placement] = []
    for step in plan.steps:
        q, m = step.placement, catalog.get(step.placement.type)
        assert m is not None
        if q.on is not None:
            assert q.on in {p.id for p in placed}
        under = set()
        s = q
        while s.on is not None:
            under.add(s.on)
            s = next(p for p in placed if p.id == s.on)
        # The rover faces the unit, its grasp centre on the unit's centre.
        reach = math.hypot(q.x_m - step.place.x_m, q.y_m - step.place.y_m)
        assert reach == pytest.approx(PARAMS.grip_ahead_m, abs=1e-9)
        bearing = math.atan2(q.y_m - step.place.y_m, q.x_m - step.place.x_m)
        assert math.cos(bearing - step.place.yaw_rad) == pytest.approx(1.0)
        for other in placed:
            if other.id in under:
                continue
            om = catalog.get(other.type)
            assert om is not None
            gap = nearest_m(step.place.x_m, step.place.y_m, other, om)
            assert gap > PARAMS.rover_radius_m, (q.id, other.id, gap)
        placed.append(q)


def test_a_dead_end_corridor_is_built_from_its_far_end_back() -> None:
    # A 3 m wide corridor running east from an open yard; six pavers end to end along
    # its middle. Set down nearest first, each would wall off the next.
    grid, blocked = site(14.0, [(0.0, 5.0, 0.0, 9.0), (0.0, 14.0, 3.0, 6.0)])
    road = [Placement(f"r{k}", "paver", 7.0 + 0.3 * k, 4.5) for k in range(6)]
    plan = plan_assembly(road, CATALOG, depot(6), grid, blocked, (2.5, 7.0), PARAMS)
    assert plan.order == ("r5", "r4", "r3", "r2", "r1", "r0")
    # Each from the west (heading east), the only side the rover can come from.
    assert all(math.cos(s.place.yaw_rad) == pytest.approx(1.0) for s in plan.steps)
    replay(plan, CATALOG)
    assert len({s.slot.id for s in plan.steps}) == 6


def test_the_access_check_overrides_far_first_when_a_unit_would_wall_off_a_pocket() -> None:
    # A corridor east, a riser north at its end, and a pocket back west along y 9–12.
    # A (in the pocket's throat) is farther from home than B (at the pocket's end), so
    # far-first would set A down first, and A then blocks the only way to B.
    grid, blocked = site(
        13.0,
        [
            (0.0, 6.0, 0.0, 8.0),
            (0.0, 12.0, 4.5, 7.5),
            (9.0, 12.0, 4.5, 12.0),
            (4.0, 12.0, 9.0, 12.0),
        ],
    )
    a = Placement("a", "paver", 8.0, 10.5)
    b = Placement("b", "paver", 5.0, 10.5)
    home = (1.5, 6.0)
    assert math.dist(a.xy_m, home) > math.dist(b.xy_m, home)
    plan = plan_assembly([a, b], CATALOG, depot(2), grid, blocked, home, PARAMS)
    assert plan.order == ("b", "a")
    replay(plan, CATALOG)


def test_a_unit_in_a_walled_pocket_fails_with_its_name_and_why() -> None:
    # The pocket is 1.2 m wide: the rover (1.5 m across) cannot drive into it.
    grid, blocked = site(12.0, [(0.0, 12.0, 0.0, 6.0), (5.0, 6.2, 6.0, 11.0)])
    inside = Placement("tucked", "paver", 5.6, 10.0)
    outside = Placement("open", "paver", 8.0, 3.0)
    with pytest.raises(AssemblyError, match=r"'tucked': no straight run-in"):
        plan_assembly([outside, inside], CATALOG, depot(2), grid, blocked, (3.0, 3.0), PARAMS)


def test_stacked_pavers_go_bottom_first_and_pads_are_listed_first() -> None:
    grid, blocked = site(12.0, [(0.0, 12.0, 0.0, 12.0)])
    low = Placement("low", "paver", 8.0, 6.0)
    top = Placement("top", "paver", 8.0, 6.0, on="low")
    hab = Placement("hab1", "hab", 8.0, 9.5, pad="pad_a")
    slots = [*depot(2), DepotSlot("h0", "hab", 3.0, 9.0)]
    # The top paver is listed first: the order comes from the supports, not the list.
    plan = plan_assembly([top, low, hab], CATALOG, slots, grid, blocked, (3.0, 6.0), PARAMS)
    assert plan.order.index("low") < plan.order.index("top")
    step = plan.steps[plan.order.index("top")]
    assert step.after == ("low",)
    assert plan.pads == ("pad_a",)
    assert plan.steps[plan.order.index("hab1")].slot.id == "h0"
    replay(plan, CATALOG)


def test_the_depot_must_hold_a_unit_for_every_placement() -> None:
    grid, blocked = site(12.0, [(0.0, 12.0, 0.0, 12.0)])
    road = [Placement(f"r{k}", "paver", 8.0, 3.0 + 0.3 * k) for k in range(3)]
    with pytest.raises(AssemblyError, match="the depot holds 2 paver for 3 placements"):
        plan_assembly(road, CATALOG, depot(2), grid, blocked, (3.0, 6.0), PARAMS)


def test_depot_units_behind_others_are_taken_front_first() -> None:
    # Three pavers in a row along x in a depot against the site's west edge: only the
    # east one has a run-in; it must go first, then the middle, then the west one.
    grid, blocked = site(12.0, [(0.0, 12.0, 0.0, 12.0)])
    slots = [DepotSlot(f"d{k}", "paver", 0.3 + 0.4 * k, 6.0) for k in range(3)]
    road = [Placement(f"r{k}", "paver", 9.0, 3.0 + 2.0 * k) for k in range(3)]
    plan = plan_assembly(road, CATALOG, slots, grid, blocked, (5.0, 6.0), PARAMS)
    assert [s.slot.id for s in plan.steps] == ["d2", "d1", "d0"]
    for s in plan.steps:  # picked from the east, facing west
        assert math.cos(s.pick.yaw_rad) == pytest.approx(-1.0)


def test_home_without_room_to_turn_is_refused() -> None:
    grid, blocked = site(12.0, [(0.0, 12.0, 0.0, 12.0)])
    with pytest.raises(AssemblyError, match="home"):
        plan_assembly(
            [Placement("r", "paver", 8.0, 6.0)],
            CATALOG,
            depot(1, x_m=5.0),
            grid,
            blocked,
            (0.3, 0.3),
            PARAMS,
        )


def test_a_straight_line_is_clear_only_where_the_disc_misses_every_unit() -> None:
    grid = GridSpec((0.025, 0.025), 0.05, (80, 120))  # 6 × 4 m
    access = AccessMap(grid, np.zeros(grid.shape, dtype=bool), (0.5,))
    access.add("u", unit_rect(3.0, 2.0, 0.0, PAVER))  # its near edge at y = 1.85
    # A 0.5 m disc along y = 1.3 passes 5 cm clear of it; along y = 1.4 it would strike.
    assert access.line_clear((1.0, 1.3), (5.0, 1.3), 0.5)
    assert not access.line_clear((1.0, 1.4), (5.0, 1.4), 0.5)
    assert access.line_clear((1.0, 1.4), (2.3, 1.4), 0.5)  # stops short of it
