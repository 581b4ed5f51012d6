"""Terrain maps for a run folder: the site map (hill-shaded heights with paths,
waypoints, rocks and named areas) and the before / after / difference map of the soil.
Shared helpers (checks, hill shading, figures, PNGs): :mod:`.pictures`, whose grid
convention these maps follow: row 0 of a height grid is south; maps show north up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

import numpy as np
from matplotlib import colormaps
from matplotlib import patheffects as pe
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Rectangle
from matplotlib.ticker import MaxNLocator

from .pictures import (
    TERRAIN_CMAP,
    check_cell_size,
    check_heights,
    elevation_limits,
    grid_extent,
    label_site_axes,
    new_figure,
    save_png,
    shade,
)

__all__ = [
    "DIFFERENCE_CMAP",
    "terrain_map_figure",
    "write_difference_map",
    "write_terrain_map",
]

_log = logging.getLogger(__name__)

DIFFERENCE_CMAP: Final = "RdBu_r"
"""Diverging colormap for after − before: blue = cut (lower), red = fill (higher)."""

_PATH_COLOURS: Final = ("#e41a1c", "#ffffff", "#ff7f00", "#f781bf", "#00e5ff", "#4daf4a")
_ROCK_COLOUR: Final = "#ff6f00"
_WAYPOINT_COLOUR: Final = "#ffffff"
_EMPTY_PATHS: Final[Mapping[str, np.ndarray]] = MappingProxyType({})
_EMPTY_AREAS: Final[Mapping[str, tuple[float, float, float, float]]] = MappingProxyType({})
_AREA_COLOURS: Final = ("#ff3df5", "#39ff14", "#00e5ff", "#ffd700")
_OUTLINE = (pe.withStroke(linewidth=3.0, foreground="black"),)


# --------------------------------------------------------------------------- checks


def _check_origin(origin_xy_m: tuple[float, float]) -> tuple[float, float]:
    if len(origin_xy_m) != 2 or not all(np.isfinite(v) for v in origin_xy_m):
        raise ValueError(f"origin_xy_m must be two finite numbers (x, y), got {origin_xy_m!r}")
    return float(origin_xy_m[0]), float(origin_xy_m[1])


def _check_points(name: str, points: np.ndarray) -> np.ndarray:
    """An (N, >=2) array of positions; returns the (N, 2) x, y columns."""
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{name} must be an (N, 2) array of x, y in m, got shape {arr.shape}")
    return arr[:, :2]


def _panel_height_in(panel_width_in: float, extent: tuple[float, float, float, float]) -> float:
    aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])
    return float(np.clip(panel_width_in * aspect, 2.0, 14.0))


def _check_areas(
    areas: Mapping[str, tuple[float, float, float, float]],
) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for name, bounds in areas.items():
        b = tuple(float(v) for v in bounds)
        if len(b) != 4 or not all(np.isfinite(b)) or not (b[0] < b[1] and b[2] < b[3]):
            raise ValueError(
                f"areas[{name!r}] must be (x_min, x_max, y_min, y_max) in m with min < max, "
                f"got {bounds!r}"
            )
        out[name] = (b[0], b[1], b[2], b[3])
    return out


def _draw_areas(
    ax: Axes, areas: Mapping[str, tuple[float, float, float, float]], *, labels: bool = True
) -> list[Line2D]:
    """Outline named boxes (dashed, labelled); returns legend handles."""
    handles: list[Line2D] = []
    for k, (name, (x0, x1, y0, y1)) in enumerate(areas.items()):
        colour = _AREA_COLOURS[k % len(_AREA_COLOURS)]
        ax.add_patch(
            Rectangle(
                (x0, y0),
                x1 - x0,
                y1 - y0,
                fill=False,
                edgecolor=colour,
                linestyle="--",
                linewidth=2.0,
                zorder=4,
                path_effects=list(_OUTLINE),
            )
        )
        if labels:
            ax.annotate(
                name,
                (x0, y1),
                xytext=(3, 4),
                textcoords="offset points",
                color=colour,
                fontsize=10,
                fontweight="bold",
                path_effects=list(_OUTLINE),
                zorder=7,
            )
        handles.append(Line2D([], [], color=colour, ls="--", lw=2.0, label=name))
    return handles


def terrain_map_figure(
    heights_m: np.ndarray,
    cell_size_m: float,
    origin_xy_m: tuple[float, float],
    *,
    paths: Mapping[str, np.ndarray] = _EMPTY_PATHS,
    waypoints_xy_m: np.ndarray | None = None,
    rocks: Sequence[tuple[float, float, float]] = (),
    title: str = "",
    waypoint_tolerance_m: float | None = None,
    areas: Mapping[str, tuple[float, float, float, float]] = _EMPTY_AREAS,
) -> Figure:
    """The figure that ``write_terrain_map`` saves (see there); ``fig.axes[0]`` is the map."""
    heights = check_heights("heights_m", heights_m)
    cell = check_cell_size(cell_size_m)
    origin = _check_origin(origin_xy_m)
    if waypoint_tolerance_m is not None and not waypoint_tolerance_m > 0.0:
        raise ValueError(f"waypoint_tolerance_m must be positive, got {waypoint_tolerance_m!r}")
    checked_paths = {name: _check_points(f"paths[{name!r}]", p) for name, p in paths.items()}
    checked_areas = _check_areas(areas)
    waypoints = None if waypoints_xy_m is None else _check_points("waypoints_xy_m", waypoints_xy_m)
    rock_arr = np.asarray(rocks, dtype=float).reshape(-1, 3) if len(rocks) else np.empty((0, 3))
    if (rock_arr[:, 2] <= 0.0).any():
        raise ValueError("rocks must be (x, y, diameter) with diameter > 0 m")

    extent = grid_extent(heights.shape, cell, origin)
    vmin, vmax = elevation_limits(heights)
    rgb = shade(heights, cell, 315.0, 20.0, vmin, vmax)

    fig = new_figure(10.0, _panel_height_in(8.3, extent) + (0.9 if title else 0.6))
    ax = fig.add_subplot()
    ax.imshow(rgb, origin="upper", extent=extent, interpolation="nearest")
    fig.colorbar(
        ScalarMappable(norm=Normalize(vmin, vmax), cmap=colormaps[TERRAIN_CMAP]),
        ax=ax,
        label="elevation (m)",
        shrink=0.9,
    )

    handles: list[Line2D] = _draw_areas(ax, checked_areas)
    for k, (name, xy) in enumerate(checked_paths.items()):
        if xy.shape[0] == 0:
            _log.debug("path %r is empty; not drawn", name)
            continue
        colour = _PATH_COLOURS[k % len(_PATH_COLOURS)]
        (line,) = ax.plot(
            xy[:, 0], xy[:, 1], color=colour, lw=1.8, label=name, path_effects=list(_OUTLINE)
        )
        handles.append(line)
        ax.plot(xy[0, 0], xy[0, 1], "o", ms=9, mfc=colour, mec="black", mew=1.5, zorder=5)
    if any(xy.shape[0] for xy in checked_paths.values()):
        handles.append(
            Line2D([], [], ls="none", marker="o", ms=9, mfc="white", mec="black", label="start")
        )

    if waypoints is not None and waypoints.shape[0]:
        ax.plot(
            waypoints[:, 0],
            waypoints[:, 1],
            "D",
            ms=6,
            mfc=_WAYPOINT_COLOUR,
            mec="black",
            zorder=6,
        )
        for n, (x, y) in enumerate(waypoints, start=1):
            ax.annotate(
                str(n),
                (x, y),
                xytext=(6, 6),
                textcoords="offset points",
                color="white",
                fontsize=10,
                fontweight="bold",
                path_effects=list(_OUTLINE),
                zorder=7,
            )
        if waypoint_tolerance_m is not None:
            ax.add_collection(
                PatchCollection(
                    [Circle((x, y), waypoint_tolerance_m) for x, y in waypoints],
                    facecolor="none",
                    edgecolor=_WAYPOINT_COLOUR,
                    linestyle="--",
                    linewidth=1.2,
                    zorder=4,
                )
            )
        label = "waypoint" + (
            f" (± {waypoint_tolerance_m:g} m)" if waypoint_tolerance_m is not None else ""
        )
        handles.append(
            Line2D(
                [], [], ls="none", marker="D", ms=6, mfc=_WAYPOINT_COLOUR, mec="black", label=label
            )
        )

    if rock_arr.shape[0]:
        ax.add_collection(
            PatchCollection(
                [Circle((x, y), d / 2.0) for x, y, d in rock_arr],
                facecolor="none",
                edgecolor=_ROCK_COLOUR,
                linewidth=1.5,
                zorder=3,
            )
        )
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                ms=9,
                mfc="none",
                mec=_ROCK_COLOUR,
                mew=1.5,
                label="rock",
            )
        )

    # Show the whole site, and anything drawn outside it.
    west, east, south, north = extent
    drawn = [xy for xy in checked_paths.values() if xy.shape[0]]
    if waypoints is not None and waypoints.shape[0]:
        drawn.append(waypoints)
    if rock_arr.shape[0]:
        r = rock_arr[:, 2:3] / 2.0
        drawn += [rock_arr[:, :2] - r, rock_arr[:, :2] + r]
    if drawn:
        pts = np.vstack(drawn)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if pts.size:
            west, south = min(west, pts[:, 0].min()), min(south, pts[:, 1].min())
            east, north = max(east, pts[:, 0].max()), max(north, pts[:, 1].max())
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    label_site_axes(ax)
    if handles:
        ax.legend(handles=handles, loc="upper right", framealpha=0.8, fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def write_terrain_map(
    path: Path,
    heights_m: np.ndarray,
    cell_size_m: float,
    origin_xy_m: tuple[float, float],
    *,
    paths: Mapping[str, np.ndarray] = _EMPTY_PATHS,
    waypoints_xy_m: np.ndarray | None = None,
    rocks: Sequence[tuple[float, float, float]] = (),
    title: str = "",
    waypoint_tolerance_m: float | None = None,
    areas: Mapping[str, tuple[float, float, float, float]] = _EMPTY_AREAS,
) -> None:
    """Write a PNG map of the site, north up, 1000 px wide.

    Args:
        path: the PNG to write (its folder must exist).
        heights_m: (ny, nx) heights in m, row 0 = south.
        cell_size_m: grid spacing in m.
        origin_xy_m: site-frame (x, y) in m of the centre of cell ``[0, 0]``.
        paths: name -> (N, >=2) array whose first two columns are x, y in m (e.g.
            ``{"true": ..., "estimated": ...}``); each drawn as a line with its start.
        waypoints_xy_m: (M, >=2) waypoints, numbered from 1 in order.
        rocks: (x, y, diameter) in m, outlined to scale.
        title: drawn above the map when not empty.
        waypoint_tolerance_m: radius of a dashed circle around each waypoint, in m.
        areas: name -> (x_min, x_max, y_min, y_max) in m: boxes outlined and labelled
            (e.g. a dig area and a dump area).

    Raises:
        ValueError: an argument has the wrong shape or value (the message names it).
        PictureError: the file cannot be written.
    """
    fig = terrain_map_figure(
        heights_m,
        cell_size_m,
        origin_xy_m,
        paths=paths,
        waypoints_xy_m=waypoints_xy_m,
        rocks=rocks,
        title=title,
        waypoint_tolerance_m=waypoint_tolerance_m,
        areas=areas,
    )
    save_png(fig, path, "terrain map")


def write_difference_map(
    path: Path,
    before_m: np.ndarray,
    after_m: np.ndarray,
    cell_size_m: float,
    origin_xy_m: tuple[float, float],
    *,
    title: str = "",
    areas: Mapping[str, tuple[float, float, float, float]] = _EMPTY_AREAS,
) -> None:
    """Write a PNG of three panels: before, after (hill-shaded) and after − before.

    Before and after share one elevation colour scale. The difference uses
    ``DIFFERENCE_CMAP`` with limits symmetric about 0 (red = higher after). ``areas``
    (name -> (x_min, x_max, y_min, y_max) in m) are outlined on every panel.

    Raises:
        ValueError: the grids differ in shape, or an argument is invalid.
        PictureError: the file cannot be written.
    """
    before = check_heights("before_m", before_m)
    after = check_heights("after_m", after_m)
    if before.shape != after.shape:
        raise ValueError(f"before_m shape {before.shape} and after_m shape {after.shape} differ")
    cell = check_cell_size(cell_size_m)
    origin = _check_origin(origin_xy_m)
    checked_areas = _check_areas(areas)
    extent = grid_extent(before.shape, cell, origin)
    vmin, vmax = elevation_limits(before, after)

    diff = after - before
    finite = np.abs(diff[np.isfinite(diff)])
    limit = float(finite.max()) if finite.size else 0.0
    limit = max(limit, 1e-3)

    panel_w = 4.6
    fig = new_figure(3 * panel_w + 1.2, _panel_height_in(panel_w, extent) + 1.4)
    axes = fig.subplots(1, 3, sharex=True, sharey=True)
    for ax, grid, name in ((axes[0], before, "before"), (axes[1], after, "after")):
        ax.imshow(
            shade(grid, cell, 315.0, 20.0, vmin, vmax),
            origin="upper",
            extent=extent,
            interpolation="nearest",
        )
        ax.set_title(name)
        label_site_axes(ax)
    fig.colorbar(
        ScalarMappable(norm=Normalize(vmin, vmax), cmap=colormaps[TERRAIN_CMAP]),
        ax=[axes[0], axes[1]],
        label="elevation (m)",
        location="bottom",
        shrink=0.6,
    )
    image = axes[2].imshow(
        diff[::-1, :],
        origin="upper",
        extent=extent,
        interpolation="nearest",
        cmap=DIFFERENCE_CMAP,
        vmin=-limit,
        vmax=limit,
    )
    axes[2].set_title("after − before")
    label_site_axes(axes[2])
    for ax in axes:
        _draw_areas(ax, checked_areas, labels=ax is axes[0])
    diff_bar = fig.colorbar(
        image, ax=axes[2], label="after − before (m)", location="bottom", shrink=0.9
    )
    diff_bar.locator = MaxNLocator(nbins=5, symmetric=True)
    if title:
        fig.suptitle(title)
    save_png(fig, path, "difference map")
