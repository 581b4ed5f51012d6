"""What the rover believed, beside the truth: ``belief_end.png`` and ``belief_goal_NN.png``.

Three panels, north up, on the site's axes: the true ground (hill-shaded, rocks stamped
on it), the rover's own elevation map on the same colour scale (grey where it knows
nothing) and the costmap it last planned on (cost from pale to dark, lethal cells red,
unknown grey). Each panel marks where the rover truly was, where it believed it was
(with its heading), the goal with its tolerance, and the path it was following. A goal
that ended "walled off" on open ground shows here as a wall in the middle panel that the
left one does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.patches import Circle

from lunarsite.robot.planning.costmap import Costmap
from lunarsite.robot.tasks.navigate import MapSnapshot

from .pictures import (
    NO_DATA_RGB,
    elevation_limits,
    grid_extent,
    hillshade_rgb,
    label_site_axes,
    new_figure,
    save_png,
)

__all__ = ["TrueGround", "write_belief_picture"]

_LETHAL_RGB: Final = np.array([214, 39, 40], dtype=np.uint8)
_COST_CMAP: Final = "Greys"
_TRUE_COLOUR: Final = "#00e5ff"
_EST_COLOUR: Final = "#ff7f00"
_GOAL_COLOUR: Final = "#39ff14"
_PATH_COLOUR: Final = "#f781bf"

FloatArray = npt.NDArray[np.float64]

MIN_COLOUR_SPAN_M: Final = 0.1
"""The shared height scale spans at least this, in m: on ground flat to a few millimetres
a map's centimetre of scan noise would otherwise fill the whole scale."""


@dataclass(frozen=True)
class TrueGround:
    """The simulator's ground (for the picture only: the controller never sees it)."""

    heights_m: FloatArray
    cell_size_m: float
    origin_xy_m: tuple[float, float]


def _costmap_rgb(costmap: Costmap) -> npt.NDArray[np.uint8]:
    """North-up RGB of a costmap: cost 0..1 on a grey ramp, lethal red, unknown grey."""
    cost = np.asarray(costmap.cost, dtype=np.float64)
    finite = np.isfinite(cost)
    ramp = colormaps[_COST_CMAP](np.clip(np.where(finite, cost, 0.0), 0.0, 1.0) * 0.85)
    rgb = np.rint(ramp[..., :3] * 255.0).astype(np.uint8)
    rgb[~finite] = _LETHAL_RGB
    rgb[~np.asarray(costmap.known) & finite] = NO_DATA_RGB
    return rgb[::-1]


def _mark(
    ax: Axes,
    true_xy_m: tuple[float, float] | None,
    belief: MapSnapshot,
    goal_xy_m: tuple[float, float] | None,
    tolerance_m: float,
) -> None:
    path = belief.path_xy_m
    if path is not None and len(path):
        ax.plot(path[:, 0], path[:, 1], color=_PATH_COLOUR, lw=1.5, zorder=5)
    if goal_xy_m is not None:
        ax.add_patch(Circle(goal_xy_m, tolerance_m, fill=False, ec=_GOAL_COLOUR, lw=1.5, zorder=6))
        ax.plot(*goal_xy_m, marker="*", ms=12, color=_GOAL_COLOUR, mec="black", zorder=6)
    est = belief.estimate
    ax.plot(est.x_m, est.y_m, "o", ms=7, color=_EST_COLOUR, mec="black", zorder=7)
    ax.annotate(
        "",
        xy=(est.x_m + 0.8 * math.cos(est.yaw_rad), est.y_m + 0.8 * math.sin(est.yaw_rad)),
        xytext=(est.x_m, est.y_m),
        arrowprops={"arrowstyle": "->", "color": _EST_COLOUR, "lw": 2.0},
        zorder=7,
    )
    if true_xy_m is not None:
        ax.plot(*true_xy_m, "x", ms=9, mew=2.5, color=_TRUE_COLOUR, zorder=8)


def write_belief_picture(
    path: Path,
    belief: MapSnapshot,
    *,
    truth: TrueGround | None,
    true_xy_m: tuple[float, float] | None,
    goal_xy_m: tuple[float, float] | None,
    tolerance_m: float,
    title: str,
) -> None:
    """Draw the truth (when the backend has it), the rover's map and its costmap side by
    side (module docstring). Raises :class:`~.pictures.PictureError` if the file cannot
    be written."""
    grid = belief.grid
    belief_extent = grid_extent(belief.heights_m.shape, grid.cell_size_m, grid.origin_xy_m)
    panels: list[tuple[str, npt.NDArray[np.uint8], tuple[float, float, float, float]]] = []
    limits: tuple[float, float] | None = None
    if truth is not None:
        low, high = elevation_limits(truth.heights_m)
        widen = max(0.0, MIN_COLOUR_SPAN_M - (high - low)) / 2.0
        limits = (low - widen, high + widen)
        panels.append(
            (
                "true ground (simulator)",
                hillshade_rgb(truth.heights_m, truth.cell_size_m),
                grid_extent(truth.heights_m.shape, truth.cell_size_m, truth.origin_xy_m),
            )
        )
    panels.append(
        (
            "rover's elevation map",
            hillshade_rgb(belief.heights_m, grid.cell_size_m, limits_m=limits),
            belief_extent,
        )
    )
    if belief.costmap is not None:
        cm = belief.costmap
        panels.append(
            (
                "rover's costmap (red lethal, grey unknown)",
                _costmap_rgb(cm),
                grid_extent(cm.grid.shape, cm.grid.cell_size_m, cm.grid.origin_xy_m),
            )
        )
    width = 5.5
    west, east, south, north = belief_extent
    height = float(np.clip(width * (north - south) / (east - west), 2.5, 8.0)) + 0.8
    fig = new_figure(width * len(panels), height)
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True, squeeze=False)[0]
    for ax, (name, rgb, extent) in zip(axes, panels, strict=True):
        ax.imshow(rgb, extent=extent, origin="upper", interpolation="nearest")
        _mark(ax, true_xy_m, belief, goal_xy_m, tolerance_m)
        ax.set_title(name, fontsize=10)
        label_site_axes(ax)
        ax.set_xlim(west, east)
        ax.set_ylim(south, north)
    fig.suptitle(f"{title}  (x truth, o estimate, * goal)", fontsize=11)
    save_png(fig, path, "belief picture")
