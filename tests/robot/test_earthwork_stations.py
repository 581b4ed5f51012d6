"""Dig stations over a trench: where the bucket goes and where the wheels stand.

The geometry here is the excavator's (wheel centres 0.3 m ahead and behind the chassis
centre and 0.375 m to either side, wheels 0.12 m wide; a 0.5 m bucket), and the trench
a 0.3 m wide strip along y = 5 from x = 4 to x = 7 on 5 cm cells; the expected values
are worked from those numbers, not from the station code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.planning.earthwork import CutFill
from lunarsite.robot.planning.hauls import Load
from lunarsite.robot.tasks.earthwork import Earthwork
from lunarsite.robot.tasks.earthwork_footing import cut_width_m
from lunarsite.robot.tasks.earthwork_stations import DigStation
from tests.robot.test_earthwork_task import GROUND_Z, _task

TRENCH_Y = 5.0
TRENCH_X = (4.0, 7.0)
BUCKET_HALF_M = 0.25
WHEEL_HALF_WIDTH_M = 0.06


def _trench_strip(task: Earthwork, *, deep: bool = True) -> tuple[np.ndarray, CutFill]:
    """The trench, not yet dug, 0.25 m deep; with ``deep`` the stations know it as a deep
    cut (as the task does after its first survey)."""
    g = task.params.grid
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    strip = (gx >= TRENCH_X[0]) & (gx <= TRENCH_X[1]) & (np.abs(gy - TRENCH_Y) <= 0.15)
    if deep:
        task.stations.deep_cut = strip
    target = np.where(strip, GROUND_Z - 0.25, np.nan)
    cut = np.where(strip, 0.25, 0.0)
    return strip, CutFill(g, target, cut, np.zeros(g.shape), 0)


def _carved(task: Earthwork, dig: DigStation) -> np.ndarray:
    """Cells a pass carves out of a flat surface."""
    flat = np.zeros(task.params.grid.shape)
    out = task.stations.carved(
        flat, dig.stand_xy_m, dig.heading_rad, dig.length_m, -0.05, dig.ground_m
    )
    return out < 0.0


def _wheel_centres(x: float, y: float, yaw: float) -> list[tuple[float, float]]:
    c, s = math.cos(yaw), math.sin(yaw)
    return [(x + a * c - b * s, y + a * s + b * c) for a in (-0.3, 0.3) for b in (-0.375, 0.375)]


@pytest.mark.parametrize("line_y", [TRENCH_Y, TRENCH_Y + 0.025])
def test_the_channel_of_a_trench_narrower_than_the_bucket_is_the_bucket_wide(
    excavator: RoverConfig, line_y: float
) -> None:
    # On the cell centres (0.05 m apart) or between them: 5 or 6 cells of trench.
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    g = task.params.grid
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    strip = (gx >= TRENCH_X[0]) & (gx <= TRENCH_X[1]) & (np.abs(gy - line_y) <= 0.15)
    assert cut_width_m(strip, g.cell_size_m) == pytest.approx(
        int(strip[:, len(g.x_coords_m) // 2].sum()) * g.cell_size_m, rel=0.05
    )
    task.stations.deep_cut = strip
    channel = task.stations.channel()
    assert channel is not None
    # Across the middle of the trench the channel is the bucket's 0.5 m, give or take a
    # cell's rounding, centred on the trench.
    col = int(np.argmin(np.abs(g.x_coords_m - 5.5)))
    across = gy[channel[:, col], col]
    assert 0.45 <= len(across) * g.cell_size_m <= 0.55 + 1e-9
    assert float(np.mean(across)) == pytest.approx(line_y, abs=0.026)
    assert strip[:, col].sum() < channel[:, col].sum()
    # A rover centred on the trench's line clears it with its wheels.
    assert task.stations.wheels_clear(5.5, line_y, 0.0)
    # A cut wider than the bucket is its own channel.
    square = (np.abs(gx - 5.0) <= 1.0) & (np.abs(gy - 5.0) <= 1.0)
    task.stations.deep_cut = square
    wide = task.stations.channel()
    assert wide is not None and np.array_equal(wide, square)


def test_the_wheels_straddle_a_trench_only_along_it_and_centred(excavator: RoverConfig) -> None:
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    _trench_strip(task)
    st = task.stations
    assert st.wheels_clear(5.5, TRENCH_Y, 0.0)
    assert st.wheels_clear(5.5, TRENCH_Y, math.pi)
    # Inner wheel faces 0.315 m off the centre; the channel's cells reach 0.275 m (0.25 m
    # and half a 5 cm cell); a wheel keeps 2.5 cm from them: 1.5 cm of shift is allowed.
    assert st.wheels_clear(5.5, TRENCH_Y + 0.01, 0.0)
    assert not st.wheels_clear(5.5, TRENCH_Y + 0.03, 0.0)
    assert not st.wheels_clear(5.5, TRENCH_Y, 0.5 * math.pi)
    assert not st.wheels_clear(5.5, TRENCH_Y, 0.3)
    # Standing anywhere is not straddling: the chassis centre over the trench is no stand.
    assert not st.standable(5.5, TRENCH_Y)


@pytest.mark.parametrize("dump_xy", [(5.5, 6.5), (7.8, 6.2), (5.5, 3.5), (2.5, 5.0)])
@pytest.mark.parametrize("load_y", [TRENCH_Y, TRENCH_Y + 0.1])
def test_a_trench_narrower_than_the_bucket_is_dug_along_it_centred(
    excavator: RoverConfig, dump_xy: tuple[float, float], load_y: float
) -> None:
    # A 0.5 m bucket cannot cut a 0.3 m trench; along it, centred, it cuts a 0.5 m one
    # (across, a 0.3 m pass takes a bucket's width of the trench's length but only a
    # sliver of soil each time, and the rover cannot straddle).
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    strip, cf = _trench_strip(task)
    load = Load((5.5, load_y), dump_xy, 10.0, "cut", "spoil")
    dig = task.stations.dig(load, cf, np.zeros(strip.shape), 0.0)
    assert dig is not None
    assert abs(math.cos(dig.heading_rad)) > 0.999, math.degrees(dig.heading_rad)
    carved = _carved(task, dig)
    g = task.params.grid
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    assert carved.any()
    assert float(np.abs(gy[carved] - TRENCH_Y).max()) <= BUCKET_HALF_M + 0.01
    # The pass covers the load's place along the trench.
    assert float(gx[carved].min()) <= 5.5 <= float(gx[carved].max())


def _assert_wheels_off_the_channel(dig: DigStation) -> None:
    """Every wheel, from where the rover lines up to the pass's end, stands outside the
    bucket-wide channel (or beyond the trench's ends)."""
    c, s = math.cos(dig.heading_rad), math.sin(dig.heading_rad)
    sx, sy = dig.stand_xy_m
    for t in np.linspace(-dig.run_in_m, dig.length_m, 60):
        for wx, wy in _wheel_centres(sx + t * c, sy + t * s, dig.heading_rad):
            in_span = TRENCH_X[0] - BUCKET_HALF_M <= wx <= TRENCH_X[1] + BUCKET_HALF_M
            gap = abs(wy - TRENCH_Y) - WHEEL_HALF_WIDTH_M - BUCKET_HALF_M
            assert not in_span or gap > 0.0, (t, wx, wy)


@pytest.mark.parametrize(("load_x", "from_west"), [(4.3, True), (5.2, True), (6.6, False)])
def test_a_trench_pass_runs_in_from_the_nearer_end_straddling(
    excavator: RoverConfig, load_x: float, from_west: bool
) -> None:
    # The trench dug 0.21 m of its 0.25 m: the last layer, dumped north of it.
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    strip, cf = _trench_strip(task)
    load = Load((load_x, TRENCH_Y), (load_x, 6.5), 15.0, "cut", "spoil")
    dig = task.stations.dig(load, cf, np.where(strip, GROUND_Z - 0.21, GROUND_Z), 0.0)
    assert dig is not None
    assert math.cos(dig.heading_rad) > 0.999 if from_west else math.cos(dig.heading_rad) < -0.999
    _assert_wheels_off_the_channel(dig)
    # It lines up off the trench: the chassis centre there at least the wheels' reach
    # (0.45 m) from the trench's cells.
    c, s = math.cos(dig.heading_rad), math.sin(dig.heading_rad)
    ax = dig.stand_xy_m[0] - dig.run_in_m * c
    ay = dig.stand_xy_m[1] - dig.run_in_m * s
    dx = max(TRENCH_X[0] - ax, ax - TRENCH_X[1], 0.0)
    dy = max(abs(ay - TRENCH_Y) - 0.15, 0.0)
    assert math.hypot(dx, dy) >= 0.45
    # The wheels stand on the banks, so the edge is set 0.25 m below them (the ground),
    # not below the trench floor the chassis is over.
    assert dig.ground_m == pytest.approx(GROUND_Z, abs=1e-6)
    assert dig.z_cut_m == pytest.approx(GROUND_Z - 0.25, abs=1e-6)


def _shallow_pass(
    excavator: RoverConfig, load_xy: tuple[float, float], dump_xy: tuple[float, float]
) -> tuple[Earthwork, np.ndarray, DigStation, np.ndarray]:
    """A pass for a load on the strip taken as no deep cut (the wheels may cross it):
    the task, the strip, the station and the cells it carves."""
    _rover, task = _task(excavator, GROUND_Z, rounds=1)
    strip, cf = _trench_strip(task, deep=False)
    dig = task.stations.dig(
        Load(load_xy, dump_xy, 10.0, "cut", "spoil"), cf, np.zeros(strip.shape), 0.0
    )
    assert dig is not None
    return task, strip, dig, _carved(task, dig)


def test_a_shallow_narrow_strip_is_dug_straight_across(excavator: RoverConfig) -> None:
    # A strip narrower than the bucket but no deep cut: a diagonal pass runs longer
    # through its cells but spills over both sides; across it the strip is 0.5 m along it
    # by its 0.3 m width, most of it on the strip.
    _, strip, dig, carved = _shallow_pass(excavator, (5.5, TRENCH_Y), (5.5, 6.5))
    assert abs(math.sin(dig.heading_rad)) > 0.99, math.degrees(dig.heading_rad)
    assert float((carved & strip).sum()) / max(int(carved.sum()), 1) >= 0.8


def test_a_pass_at_a_strips_end_shifts_in_off_the_end(excavator: RoverConfig) -> None:
    # The load's cell 5 cm from the strip's west end: a pass centred on it would hang the
    # bucket's half-width (0.25 m) past the end; shifted in, it stays on the strip.
    task, strip, _dig, carved = _shallow_pass(excavator, (4.05, TRENCH_Y), (4.0, 6.5))
    g = task.params.grid
    gx, _gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    assert float(gx[carved].min()) >= TRENCH_X[0] - 0.06
    assert float((carved & strip).sum()) / max(int(carved.sum()), 1) >= 0.8
