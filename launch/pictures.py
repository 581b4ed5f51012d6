"""Shared helpers for a run folder's pictures: input checks, elevation limits, grid
extents, hill shading, figures and PNGs, site axes (maps: :mod:`.terrain_maps`; belief:
:mod:`.belief_pictures`; video: :mod:`.video`).

Maps are drawn with matplotlib's object API (``Figure`` + ``FigureCanvasAgg``), never
``pyplot``, so they work headless and share no global state.

Grid convention (the same as the rest of lunarsite): ``heights_m[j, i]`` is the height
of the cell centred at ``x = origin_x + i * cell``, ``y = origin_y + j * cell``; row 0
is the SOUTH edge. Every picture drawn with these helpers shows north up, east right.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, LightSource, Normalize
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "NO_DATA_RGB",
    "TERRAIN_CMAP",
    "PictureError",
    "check_cell_size",
    "check_heights",
    "elevation_limits",
    "figure_to_rgb",
    "grid_extent",
    "hillshade_rgb",
    "label_site_axes",
    "new_figure",
    "save_png",
    "shade",
]

_log = logging.getLogger(__name__)

DPI: Final = 100
"""Resolution of written PNGs, in dots per inch (a terrain map is 10 in = 1000 px wide)."""

TERRAIN_CMAP: Final = "cividis"
"""Elevation colormap: lightness rises monotonically with height (dark = low)."""

NO_DATA_RGB: Final = (128, 128, 128)
"""Colour of cells with no height (unknown), in every picture."""


class PictureError(RuntimeError):
    """A picture or video could not be written; the message names the file."""


# --------------------------------------------------------------------------- checks


def check_heights(name: str, heights_m: np.ndarray) -> np.ndarray:
    arr = np.asarray(heights_m, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(
            f"{name} must be a 2-D array of at least 2 x 2 cells, got shape {arr.shape}"
        )
    return arr


def check_cell_size(cell_size_m: float) -> float:
    cell = float(cell_size_m)
    if not np.isfinite(cell) or cell <= 0.0:
        raise ValueError(f"cell_size_m must be a finite positive number, got {cell_size_m!r}")
    return cell


def elevation_limits(*grids: np.ndarray) -> tuple[float, float]:
    """The lowest and highest finite height over the grids, in m (a millimetre apart at
    least; (0, 1) with none)."""
    finite = [g[np.isfinite(g)] for g in grids]
    finite = [f for f in finite if f.size]
    if not finite:
        return 0.0, 1.0
    lo = float(min(f.min() for f in finite))
    hi = float(max(f.max() for f in finite))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5e-3, hi + 0.5e-3
    return lo, hi


def grid_extent(
    shape: tuple[int, ...], cell: float, origin: tuple[float, float]
) -> tuple[float, float, float, float]:
    """(west, east, south, north) edges of the grid, in m, for ``imshow(extent=...)``."""
    ny, nx = shape[0], shape[1]
    x0, y0 = origin
    half = 0.5 * cell
    return (x0 - half, x0 + (nx - 0.5) * cell, y0 - half, y0 + (ny - 0.5) * cell)


# ------------------------------------------------------------------------ hillshade


def shade(
    heights_m: np.ndarray,
    cell: float,
    azimuth_deg: float,
    altitude_deg: float,
    vmin: float,
    vmax: float,
) -> np.ndarray:
    """North-up uint8 RGB of a south-first height grid, coloured on [vmin, vmax]."""
    north_up = heights_m[::-1, :]
    no_data = ~np.isfinite(north_up)
    if no_data.any():
        fill = float(np.nanmean(north_up)) if (~no_data).any() else 0.0
        north_up = np.where(no_data, fill, north_up)
    cmap: Colormap = colormaps[TERRAIN_CMAP]
    # LightSource takes row 0 as the top (north) of the image, as we now have it.
    light = LightSource(azdeg=azimuth_deg, altdeg=altitude_deg)
    rgba = light.shade(
        north_up,
        cmap=cmap,
        norm=Normalize(vmin=vmin, vmax=vmax),
        blend_mode="soft",
        dx=cell,
        dy=cell,
    )
    rgb = np.clip(np.rint(rgba[..., :3] * 255.0), 0, 255).astype(np.uint8)
    rgb[no_data] = NO_DATA_RGB
    return rgb


def hillshade_rgb(
    heights_m: np.ndarray,
    cell_size_m: float,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 20.0,
    limits_m: tuple[float, float] | None = None,
) -> np.ndarray:
    """Colour-by-elevation image of a height grid, shaded by a low sun as on the Moon.

    Args:
        heights_m: (ny, nx) heights in m, row 0 = south (see the module docstring).
            Non-finite cells are drawn grey.
        cell_size_m: grid spacing in m (the same in x and y).
        azimuth_deg: direction the sun shines from, in degrees clockwise from north.
        altitude_deg: sun elevation above the horizon, in degrees.
        limits_m: the heights at the two ends of the colour scale, in m (to compare two
            grids on one scale); None: the grid's own min..max.

    Returns:
        uint8 (ny, nx, 3) RGB image with NORTH UP: image row 0 is ``heights_m[-1]``.
        Colours come from ``TERRAIN_CMAP`` over ``limits_m``.
    """
    heights = check_heights("heights_m", heights_m)
    cell = check_cell_size(cell_size_m)
    vmin, vmax = elevation_limits(heights) if limits_m is None else limits_m
    return shade(heights, cell, azimuth_deg, altitude_deg, vmin, vmax)


# ----------------------------------------------------------------------- rendering


def new_figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path, what: str) -> None:
    path = Path(path)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    except OSError as exc:
        raise PictureError(f"cannot write {what} {path}: {exc}") from exc
    _log.debug("wrote %s %s", what, path)


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Render a figure made by this module to a uint8 (h, w, 3) RGB array (e.g. a video frame)."""
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    return rgba[..., :3].copy()


def label_site_axes(ax: Axes) -> None:
    ax.set_xlabel("x east (m)")
    ax.set_ylabel("y north (m)")
    ax.set_aspect("equal")
