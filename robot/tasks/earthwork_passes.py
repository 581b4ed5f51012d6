"""Geometry of a dig pass over the cells a plan cuts: pure functions of a grid and masks.

A pass is a straight strip a bucket wide, from where its edge first bites along a
heading. These functions say whether a point is on the cut, how far a pass through a
point can run on cut cells, which way the cut around a point runs (its principal axes),
and how much of a pass's strip lies on the cut (:func:`swept_score`), which the dig
stations (:mod:`.earthwork_stations`) maximise.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..site.grid import FloatArray, GridSpec

__all__ = ["cut_at", "cut_axes", "pass_through", "swept_score"]

BoolArray = npt.NDArray[np.bool_]


def cut_at(grid: GridSpec, cut: BoolArray, x_m: float, y_m: float) -> bool:
    """Whether the cell under (x, y) is one of ``cut``; False off the grid."""
    j, i = grid.cell_of(x_m, y_m)
    return grid.in_bounds(j, i) and bool(cut[j, i])


def pass_through(
    grid: GridSpec, cut: BoolArray, x_m: float, y_m: float, heading: float, want_m: float
) -> tuple[float, float]:
    """How far a pass through (x, y) along ``heading`` can start behind it and run on
    ahead of it over cells of ``cut``, in whole cells, up to ``want_m`` in all."""
    step = grid.cell_size_m
    c, s = math.cos(heading), math.sin(heading)
    back = fwd = 0.0
    while back < want_m and cut_at(grid, cut, x_m - (back + step) * c, y_m - (back + step) * s):
        back += step
    while back + fwd < want_m and cut_at(grid, cut, x_m + (fwd + step) * c, y_m + (fwd + step) * s):
        fwd += step
    return back, fwd


def cut_axes(cut: BoolArray, gx: FloatArray, gy: FloatArray, x_m: float, y_m: float) -> list[float]:
    """The four headings along and across the cut cells within a metre of (x, y), by
    their principal axes (a trench's line and its normal), the first along; none where
    the cut around is round or too small to say. ``gx``, ``gy``: the cells' centres."""
    near = cut & (np.hypot(gx - x_m, gy - y_m) <= 1.0)
    if int(near.sum()) < 3:
        return []
    cov = np.cov(np.stack([gx[near], gy[near]]))
    w, v = np.linalg.eigh(cov)
    if w[1] < 2.0 * w[0]:
        return []
    along = math.atan2(float(v[1, 1]), float(v[0, 1]))
    return [along + k * 0.5 * math.pi for k in range(4)]


def swept_score(
    grid: GridSpec,
    cut: BoolArray,
    edge: tuple[float, float],
    heading: float,
    length: float,
    width_m: float,
) -> float:
    """Area (m²) of the strip a pass sweeps (``width_m`` wide, from ``edge`` along
    ``heading`` for ``length``) on cells of ``cut``, less the area on other cells (a cut
    there is a hole the design did not ask for) or off the grid."""
    step = 0.5 * grid.cell_size_m
    half = 0.5 * width_m
    along = np.arange(0.5 * step, max(length, step), step)
    across = np.arange(-half + 0.5 * step, half, step)
    a, b = np.meshgrid(along, across)
    c, s = math.cos(heading), math.sin(heading)
    j, i = grid.cells_of(edge[0] + a * c - b * s, edge[1] + a * s + b * c)
    ny, nx = grid.shape
    inside = (j >= 0) & (j < ny) & (i >= 0) & (i < nx)
    hit = np.zeros(j.shape, dtype=bool)
    hit[inside] = cut[j[inside], i[inside]]
    n_hit = int(hit.sum())
    return (n_hit - (hit.size - n_hit)) * step * step
