"""Where a rover lines up for a pass near a wall, and where it stands to dump beside a
crowded heap. The trench and task are test_earthwork_stations'."""

from __future__ import annotations

import math

import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.perception.points import BodyBox
from lunarsite.robot.planning.hauls import Load
from tests.robot.test_earthwork_stations import TRENCH_Y
from tests.robot.test_earthwork_task import GROUND_Z, SITE, _task


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
