"""Loads out of a trench go by its ends: the carry the haul plan minimises, the end a
pass runs in from, and where the rover turns onto the line near a wall.

The trench is test_earthwork_stations' (0.3 m wide along y = 5 from x = 4 to x = 7, on
5 cm cells, so its cells' outer edges are at x = 3.975 and 7.025); expected distances
are worked by hand from those numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.perception.points import BodyBox
from lunarsite.robot.planning.earthwork import CutFill, EarthworkParams, haul_flows
from lunarsite.robot.planning.hauls import Load
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.tasks.earthwork_exits import carry_via_ends, entry_heading, trench_ends
from tests.robot.test_earthwork_stations import TRENCH_Y, _trench_strip
from tests.robot.test_earthwork_task import GROUND_Z, SITE, _task

WEST_END_X, EAST_END_X = 3.975, 7.025


def test_a_trench_has_two_ends_on_its_middle_line(excavator: RoverConfig) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    _trench_strip(task)
    ends = trench_ends(task.stations, 5.2, TRENCH_Y)
    assert ends is not None
    xs = sorted(e[0] for e in ends)
    assert xs == pytest.approx([WEST_END_X, EAST_END_X], abs=0.01)
    assert all(e[1] == pytest.approx(TRENCH_Y, abs=0.01) for e in ends)
    assert trench_ends(task.stations, 5.2, TRENCH_Y + 1.0) is None  # beside it: no trench


def test_a_load_leaves_a_trench_by_the_end_nearer_its_sink(excavator: RoverConfig) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    _trench_strip(task)
    sources = np.array([[5.0, TRENCH_Y], [2.5, 2.5]])
    sinks = np.array([[5.0, 6.5], [8.0, 6.0]])
    carry = carry_via_ends(task.stations, sources, sinks)
    # From the middle to the heap straight beside it: 1.03 m along to the west end, then
    # 1.03 m east and 1.5 m north to the heap.
    west = (5.0 - WEST_END_X) + math.hypot(5.0 - WEST_END_X, 1.5)
    assert carry[0, 0] == pytest.approx(west, abs=0.02)
    assert carry[0, 0] > 1.5 + 1.0  # far more than the 1.5 m straight across
    # To a heap past the east end: by the east end.
    east = (EAST_END_X - 5.0) + math.hypot(8.0 - EAST_END_X, 1.0)
    assert carry[0, 1] == pytest.approx(east, abs=0.02)
    # A source off the trench carries straight.
    assert carry[1] == pytest.approx([math.hypot(2.5, 4.0), math.hypot(5.5, 3.5)])


def test_a_pass_runs_in_from_the_end_the_load_leaves_by(excavator: RoverConfig) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    _trench_strip(task)
    axis, _ = task.stations.narrow_axis(5.2, TRENCH_Y) or (math.nan, None)
    # Dug at x 5.2 for a heap north-west of the trench: in from the west end, heading east.
    east = entry_heading(task.stations, axis, (5.2, TRENCH_Y), (3.0, 6.5))
    assert math.cos(east) > 0.999
    # The same cell for a heap north-east of it: in from the east end, heading west.
    west = entry_heading(task.stations, axis, (5.2, TRENCH_Y), (7.5, 6.5))
    assert math.cos(west) < -0.999


def test_the_plan_minimises_the_carry_and_keeps_the_straight_line_bound() -> None:
    # One cut cell, room for it in two spoil cells equally far in straight lines; the
    # carry charges one of them 3 m more (the way round a trench's end).
    grid = GridSpec.covering((0.0, 0.0), (4.0, 4.0), 0.5)
    cut = np.zeros(grid.shape)
    cut[4, 4] = 0.1  # cell centre (2.25, 2.25)
    spoil = np.zeros(grid.shape, dtype=bool)
    spoil[4, 1] = spoil[4, 7] = True  # (0.75, 2.25) and (3.75, 2.25): 1.5 m either way
    cf = CutFill(grid, np.where(cut > 0, 0.0, np.nan), cut, np.zeros(grid.shape), 0)
    params = EarthworkParams(bucket_capacity_m3=0.015, haul_cell_m=0.5, spoil_height_m=0.2)

    def round_east(src: np.ndarray, snk: np.ndarray) -> np.ndarray:
        d = np.hypot(src[:, None, 0] - snk[None, :, 0], src[:, None, 1] - snk[None, :, 1])
        return d + 3.0 * (snk[None, :, 0] > 3.0)

    plain = haul_flows(cf, params, spoil_mask=spoil)
    routed = haul_flows(cf, params, spoil_mask=spoil, carry_m=round_east)
    kg = 0.1 * 0.25 * params.cut_density_kgpm3
    to_west = routed.flow_kg[0, int(np.argmin(routed.sink_xy_m[:, 0]))]
    assert to_west == pytest.approx(kg, rel=1e-6)
    # The bound is the straight-line optimum either way: 1.5 m for every kilogram.
    assert routed.bound_kg_m == pytest.approx(kg * 1.5, rel=1e-6)
    assert plain.bound_kg_m == pytest.approx(kg * 1.5, rel=1e-6)


def test_near_a_wall_the_rover_turns_onto_the_line_where_its_bucket_clears(
    excavator: RoverConfig,
) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    st = task.stations
    body = BodyBox.for_rover(excavator)
    sweep = max(math.hypot(x, y) for x in body.x_range_m for y in body.y_range_m)
    # A stand 0.3 m further from the west wall than a turn's sweep: turning 0.4 m back,
    # at the run-in's start, would sweep the bucket within 0.1 m of the wall.
    stand = (sweep + 0.3, 5.0)
    turn = st.turn_point(stand, 0.0, 0.4)
    assert turn is not None and turn < 0.4
    assert stand[0] - turn >= sweep + 0.1  # turning there keeps clear of the wall
    # Far from any wall it turns at the run-in's start.
    assert st.turn_point((6.0, 5.0), 0.0, 0.4) == pytest.approx(0.4)
    # A run-in whose start would put the rover's rear over the wall is no run-in.
    assert st.turn_point((0.9, 5.0), 0.0, 0.4) is None
    assert SITE[0] > 6.0


def test_a_dump_next_to_earlier_pours_finds_a_stand_at_a_slant(excavator: RoverConfig) -> None:
    # A heap's west end already poured on at its south and north sides; the rover comes
    # out of a trench's west end south-west of it. Straight on, and square to that, the
    # stands are on fresh fill or over the wall's margin; a slant between them is not.
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    st = task.stations
    for y in (5.8, 6.6):
        st.mark_fill(3.6, y)
    load = Load((4.5, TRENCH_Y), (3.6, 6.2), 10.0, "cut", "spoil")
    dump = st.dump(load, 0.0, (2.4, TRENCH_Y))
    assert dump is not None
    _heading, (sx, sy) = dump
    assert st.standable(sx, sy)
