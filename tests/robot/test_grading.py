"""Back-blading: lanes over a pad, the direction chosen, and the pass on the mock."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.control.bucket import BucketPoses, bucket_edge_m, dig_bucket
from lunarsite.robot.control.grade import GradePass
from lunarsite.robot.control.pilot import Pilot
from lunarsite.robot.executive import Agent, ControlLoop
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.site.design import LevelPad
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.tasks.earthwork_grading import (
    GRADE_FLOOR_PITCH_RAD,
    OVERRUN_M,
    choose_lanes,
    grade_angles,
    grade_lanes,
    lane_segments,
)
from lunarsite.robot.types import Pose2
from tests.robot.conftest import Sensing

GRID = GridSpec.covering((1.0, 1.0), (9.0, 9.0), 0.05)
PAD = LevelPad("pad", ((3.0, 3.0), (7.0, 3.0), (7.0, 7.0), (3.0, 7.0)), 0.0)
WIDTH = 0.5


def _cells(design_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(GRID.x_coords_m, GRID.y_coords_m)
    return gx[design_mask], gy[design_mask]


@pytest.mark.parametrize("drag", [0.0, 0.5 * math.pi, math.pi, -0.5 * math.pi])
def test_lanes_cover_every_pad_cell_and_overrun_both_edges(drag: float) -> None:
    design = PAD.resolve(GRID, np.zeros(GRID.shape))
    lanes = grade_lanes(design, drag, WIDTH)
    # 3.95 m of cell centres across, lanes 0.4 m apart and 0.5 m wide: 10 lanes.
    assert len(lanes) == 10
    x, y = _cells(design.mask)
    covered = np.zeros(x.shape, dtype=bool)
    for lane in lanes:
        assert math.isclose(math.cos(lane.facing_rad), -math.cos(drag), abs_tol=1e-9)
        (x0, y0), (x1, y1) = lane.point(0.0), lane.point(lane.length_m)
        # The lip moves along the drag direction from one edge to the other, and beyond.
        assert (x1 - x0) * math.cos(drag) + (y1 - y0) * math.sin(drag) == pytest.approx(
            3.95 + 2 * OVERRUN_M
        )
        ux, uy = (x1 - x0) / lane.length_m, (y1 - y0) / lane.length_m
        t = (x - x0) * ux + (y - y0) * uy
        off = np.abs(-(x - x0) * uy + (y - y0) * ux)
        covered |= (t >= 0) & (t <= lane.length_m) & (off <= 0.5 * WIDTH)
    assert covered.all()


def test_the_direction_is_one_the_rover_can_stand_at_both_ends_of() -> None:
    design = PAD.resolve(GRID, np.zeros(GRID.shape))
    rough = np.where(design.mask, 0.1, 0.0)  # every cell 10 cm high: every lane is due
    reach = 1.0
    # A berm 1 m east of the pad: a chassis may not stand beyond x = 7.6.
    lanes = choose_lanes(design, rough, WIDTH, reach, lambda xy: xy[0] <= 7.6, (8.4, 5.0))
    assert len(lanes) == 10
    # Dragging east would leave the chassis at x = 7 + 0.15 + 1 at the end: not chosen.
    # Of the three that fit, none points at the berm; the lanes run north or south or west.
    for lane in lanes:
        end = lane.chassis(lane.length_m, reach)
        start = lane.chassis(0.0, reach)
        assert end[0] <= 7.6 and start[0] <= 7.6
    # With nothing in the way, the surplus is dragged towards the fill: east.
    east = choose_lanes(design, rough, WIDTH, reach, lambda xy: True, (8.4, 5.0))
    assert all(math.cos(lane.facing_rad) == pytest.approx(-1.0) for lane in east)
    # Lanes already within tolerance are left out.
    assert choose_lanes(design, np.zeros(GRID.shape), WIDTH, reach, lambda xy: True, None) == []


def test_a_lane_is_cut_where_its_windrow_would_fill_half_a_bucket() -> None:
    design = PAD.resolve(GRID, np.zeros(GRID.shape))
    high = np.where(design.mask, 0.02, 0.0)  # the whole pad 2 cm high
    lane = grade_lanes(design, 0.0, WIDTH)[4]  # a middle lane, dragged east
    pieces = lane_segments(lane, design, high, WIDTH, 0.0075)
    # 2 cm over a 0.5 m swath: 10 L a metre, so a piece every 0.75 m of pad, the first
    # after the 0.15 m run-in; the last takes the rest and what is left of the pad.
    lengths = [t1 - t0 for t0, t1, _ in pieces]
    assert lengths[0] == pytest.approx(OVERRUN_M + 0.75, abs=0.06)
    assert all(ln == pytest.approx(0.75, abs=0.06) for ln in lengths[1:-1])
    assert pieces[0][0] == 0.0 and pieces[-1][1] == pytest.approx(lane.length_m)
    assert all(b[0] == a[1] for a, b in itertools.pairwise(pieces))
    total = sum(v for _, _, v in pieces)
    assert total == pytest.approx(0.02 * WIDTH * 4.0, rel=0.1)
    # A pad with lows as deep as its highs are high drops the shavings on the way.
    wavy = np.where(design.mask, 0.02 * np.sign(np.sin(np.arange(GRID.shape[1]) * 0.5)), 0.0)
    assert all(v < 0.0075 for _, _, v in lane_segments(lane, design, wavy, WIDTH, 0.0075))


def test_grade_angles_tip_the_bucket_and_put_the_lip_at_the_depth(
    excavator: RoverConfig,
) -> None:
    tool = dig_bucket(excavator)
    assert tool is not None
    poses = BucketPoses()
    level = grade_angles(excavator, tool, poses, 0.0)
    deeper = grade_angles(excavator, tool, poses, 0.03)
    assert level is not None and deeper is not None
    assert sum(level) == pytest.approx(GRADE_FLOOR_PITCH_RAD)  # floor pitch = boom + curl
    _, z0 = bucket_edge_m(excavator, tool, *level)
    _, z1 = bucket_edge_m(excavator, tool, *deeper)
    assert z0 - z1 == pytest.approx(0.03, abs=1e-6)  # 3 cm lower, by the arm's geometry


def test_a_grade_pass_backs_its_length_and_re_aims_every_tick(excavator: RoverConfig) -> None:
    start = Pose2(5.0, 5.0, math.pi)  # facing west: the lip drags east
    rover = MockRover(excavator, ManualClock(), start)
    rover.configure()
    rover.activate()
    pilot = Pilot(excavator, start, control_hz=20.0)
    asked: list[float] = []

    def aim(pose: Pose2, pitch: float) -> tuple[float, float]:
        asked.append(pose.x_m)
        return (0.1 + 0.01 * (pose.x_m - 5.0), -1.1)  # a boom that follows the ground

    grade = GradePass(
        pilot, 1.0, 0.06, math.pi, boom="boom_lift", curl="bucket_curl", aim=aim, pitch0_rad=0.0
    )
    result = ControlLoop([Agent(rover, Sensing(pilot, grade))], rate_hz=20.0).run()
    assert result.results[0].succeeded
    assert rover.true_pose.x_m == pytest.approx(6.0, abs=0.02)  # backed east, 1 m
    assert grade.aimed == len(asked) > 0.9 / 0.06 * 20  # every driving tick
    assert pilot.tools["boom_lift"] == pytest.approx(0.1 + 0.01 * (asked[-1] - 5.0))
    with pytest.raises(ValueError, match="positive distance"):
        GradePass(pilot, 0.0, 0.06, 0.0, boom="b", curl="c", aim=aim, pitch0_rad=0.0)
