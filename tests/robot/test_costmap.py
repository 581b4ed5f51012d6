"""Costmap layers on hand-made elevation grids with known answers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.planning.costmap import CostmapParams, build_costmap, footprint_radius_m
from lunarsite.robot.site.grid import GridError, GridSpec
from lunarsite.robot.site.zones import KeepOutCircle, KeepOutPolygon

CELL = 0.1
GRID = GridSpec((0.0, 0.0), CELL, (81, 81))  # 8 m × 8 m
PARAMS = CostmapParams(
    max_slope_rad=math.radians(15.0),
    max_step_m=0.05,
    robot_radius_m=0.4,
    slope_window_m=0.5,
    step_window_m=0.2,
)


def _xy() -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(GRID.x_coords_m, GRID.y_coords_m)


def test_flat_ground_is_free_everywhere() -> None:
    cm = build_costmap(np.zeros(GRID.shape), GRID, PARAMS)
    assert np.all(cm.cost == 0.0)
    assert not cm.hazard.any()
    assert cm.known.all()


@pytest.mark.parametrize(("slope_deg", "lethal"), [(5.0, False), (10.0, False), (20.0, True)])
def test_slope_layer_matches_plane_tilt(slope_deg: float, lethal: bool) -> None:
    x, _ = _xy()
    cm = build_costmap(math.tan(math.radians(slope_deg)) * x, GRID, PARAMS)
    inner = cm.cost[10:-10, 10:-10]
    if lethal:
        assert np.all(np.isinf(inner))
    else:
        expected = PARAMS.slope_weight * (slope_deg / 15.0) ** 2
        assert np.allclose(inner, expected, atol=1e-6)


def test_rock_is_lethal_and_inflated_by_the_footprint() -> None:
    h = np.zeros(GRID.shape)
    h[39:42, 39:42] = 0.15  # a 0.3 m rock 15 cm high at (4, 4)
    cm = build_costmap(h, GRID, PARAMS)
    assert cm.hazard[38:43, 38:43].any()
    assert math.isinf(cm.cost_at(4.0, 4.0))
    assert math.isinf(cm.cost_at(4.0 + 0.1 + 0.35, 4.0))  # within robot radius of its edge
    beyond = cm.cost_at(4.0 + 0.1 + 0.6, 4.0)
    assert 0.0 < beyond < 1.0  # in the decay band
    assert cm.cost_at(1.0, 1.0) == 0.0


def test_low_pebble_is_only_a_cost() -> None:
    h = np.zeros(GRID.shape)
    h[40, 40] = 0.03  # below the 5 cm step limit
    cm = build_costmap(h, GRID, PARAMS)
    assert not cm.hazard.any()
    assert 0.0 < cm.cost[40, 40] < 1.0


def _bowl(depth_m: float, diameter_m: float) -> np.ndarray:
    x, y = _xy()
    r = np.hypot(x - 4.0, y - 4.0)
    inside = r < diameter_m / 2
    return np.where(inside, -0.5 * depth_m * (1.0 + np.cos(2.0 * math.pi * r / diameter_m)), 0.0)


def test_deep_crater_is_lethal_only_with_a_depth_limit() -> None:
    h = _bowl(0.25, 3.0)  # steepest wall ~14.7° (below the 15° limit)
    plain = build_costmap(h, GRID, PARAMS)
    assert not plain.hazard.any()
    limited = build_costmap(
        h, GRID, CostmapParams(**{**_fields(PARAMS), "max_crater_depth_m": 0.15})
    )
    assert math.isinf(limited.cost_at(4.0, 4.0))
    assert limited.cost_at(0.5, 0.5) < 1.0
    shallow = build_costmap(
        _bowl(0.1, 3.0), GRID, CostmapParams(**{**_fields(PARAMS), "max_crater_depth_m": 0.15})
    )
    assert not shallow.hazard.any()


def _fields(params: CostmapParams) -> dict[str, object]:
    return {name: getattr(params, name) for name in params.__dataclass_fields__}


def test_unknown_cells_cost_unknown_cost_or_are_lethal() -> None:
    h = np.zeros(GRID.shape)
    h[:, 60:] = np.nan
    cm = build_costmap(h, GRID, PARAMS)
    assert not cm.known[:, 60:].any()
    assert np.all(cm.cost[:, 60:] == PARAMS.unknown_cost)
    assert np.all(cm.cost[:, :50] == 0.0)  # unknown does not inflate
    strict = build_costmap(h, GRID, CostmapParams(**{**_fields(PARAMS), "unknown_lethal": True}))
    assert np.all(np.isinf(strict.cost[:, 60:]))


def test_keep_out_zones_are_lethal() -> None:
    zones = [
        KeepOutCircle(2.0, 2.0, 0.5),
        KeepOutPolygon(((5.0, 5.0), (7.0, 5.0), (7.0, 7.0), (5.0, 7.0))),
    ]
    cm = build_costmap(np.zeros(GRID.shape), GRID, PARAMS, keep_out=zones)
    assert cm.hazard[20, 20]
    assert not cm.hazard[20, 26]
    assert cm.hazard[60, 60]
    assert not cm.hazard[40, 60]
    assert math.isinf(cm.cost_at(6.0, 6.0))
    assert cm.cost_at(4.0, 1.0) == 0.0


def test_params_for_rover_take_the_limits(rover_config: RoverConfig) -> None:
    p = CostmapParams.for_rover(rover_config)
    assert p.max_slope_rad == rover_config.limits.max_slope_rad
    assert p.max_step_m == rover_config.limits.max_step_m
    assert p.robot_radius_m == pytest.approx(footprint_radius_m(rover_config))
    assert p.robot_radius_m >= 0.5 * math.hypot(0.5, 0.3)
    assert CostmapParams.for_rover(rover_config, unknown_cost=0.9).unknown_cost == 0.9


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(GridError, match="heights_m has shape"):
        build_costmap(np.zeros((3, 3)), GRID, PARAMS)
    with pytest.raises(ValueError, match="max_step_m must be positive"):
        CostmapParams(**{**_fields(PARAMS), "max_step_m": 0.0})
    with pytest.raises(ValueError, match="at least 3 vertices"):
        KeepOutPolygon(((0.0, 0.0), (1.0, 1.0)))


def test_site_edge_is_a_hazard_when_asked() -> None:
    flat = np.zeros(GRID.shape)
    assert np.isfinite(build_costmap(flat, GRID, PARAMS).cost).all()
    cm = build_costmap(flat, GRID, replace(PARAMS, edge_is_hazard=True))
    j, i = GRID.cell_of(4.0, 4.0)
    assert cm.cost[j, i] == 0.0  # the middle: farther than radius + inflation
    assert not np.isfinite(cm.cost_at(0.25, 4.0))  # the footprint would hang off
    assert not np.isfinite(cm.cost_at(4.0, 7.8))
    assert 0.0 < cm.cost_at(0.7, 4.0) < 1.0  # then the decay band
    assert not cm.hazard.any()  # the edge itself is not a cell of the map


def test_a_step_rises_to_the_cells_tops_when_given() -> None:
    # A narrow rock averaged into its cells (4 cm mean) but 8 cm at its crown.
    h = np.zeros(GRID.shape)
    h[40, 40] = 0.04
    top = h.copy()
    top[40, 40] = 0.08
    assert not build_costmap(h, GRID, PARAMS).hazard.any()
    with_tops = build_costmap(h, GRID, PARAMS, top_m=top)
    assert with_tops.hazard[40, 40] and math.isinf(with_tops.cost_at(4.0, 4.0))
    # A top below its cell's mean (an older scan) never lowers the step.
    low = np.full(GRID.shape, -1.0)
    assert not build_costmap(h, GRID, PARAMS, top_m=low).hazard.any()
    with pytest.raises(GridError):
        build_costmap(h, GRID, PARAMS, top_m=np.zeros((3, 3)))


def test_a_body_slid_along_a_line_clears_only_hazards_outside_its_sweep() -> None:
    h = np.zeros(GRID.shape)
    h[40, 50] = 0.2  # a rock at (5.0, 4.0)
    cm = build_costmap(h, GRID, PARAMS)
    line = np.column_stack([np.linspace(2.0, 6.0, 41), np.full(41, 4.6)])
    body = ((-0.3, 0.5), (-0.3, 0.3))  # longer ahead than behind
    assert cm.body_clear_along(line, 0.0, *body)  # passes 0.6 m beside it
    assert not cm.body_clear_along(line - [0.0, 0.3], 0.0, *body)  # 0.3 m: the side hits
    # Driving up to it, the front reaches it first; backing up to it, the back does.
    up_to = np.column_stack([np.linspace(3.0, 4.4, 15), np.full(15, 4.0)])
    assert not cm.body_clear_along(up_to, 0.0, *body)  # front 4.97 m, hazard from 4.9 m
    assert cm.body_clear_along(up_to, math.pi, *body)  # back 4.77 m
    assert not cm.body_clear_along(np.array([[0.1, 4.0]]), 0.0, *body)  # off the grid
