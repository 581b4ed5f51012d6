"""As-built measures of finished work, from two height grids (before and after).

:func:`trench_width_m` is how wide a trench came out: the design judges the floor under
its footprint (:mod:`.design`), but a bucket wider than the design digs wider, and a
report should say so. It reads any pair of grids on the same :class:`~.grid.GridSpec`:
the simulator's true soil for metrics, or a real rover's surveys.
"""

from __future__ import annotations

import math

import numpy as np

from .grid import FloatArray, GridSpec

__all__ = ["MIN_DUG_M", "trench_width_m"]

MIN_DUG_M = 0.02
"""A cross-section dug less than this at its deepest counts as not dug (width 0), in m."""
END_SHARE = 0.1
"""Share of the line's length at each end left out (the ends are dug round)."""


def trench_width_m(
    polyline_xy_m: tuple[tuple[float, float], ...],
    search_half_width_m: float,
    grid: GridSpec,
    before_m: FloatArray,
    after_m: FloatArray,
) -> float:
    """Median width, in m, at half its depth, of the ground lowered along a trench's line.

    At stations a cell apart along the line (its first and last :data:`END_SHARE` left
    out), the lowering ``before - after`` is sampled across the line out to
    ``search_half_width_m``; the width is the run of samples round the deepest one (within
    the search) lowered at least half as much as it. A cross-section lowered less than
    :data:`MIN_DUG_M` has width 0.
    """
    pts = np.asarray(polyline_xy_m, dtype=np.float64)
    seg = np.diff(pts, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    total = float(lengths.sum())
    if total <= 0.0:
        return 0.0
    step = grid.cell_size_m
    offsets = np.arange(-search_half_width_m, search_half_width_m + 1e-9, step)
    ny, nx = grid.shape
    widths: list[float] = []
    start = np.concatenate([[0.0], np.cumsum(lengths)])
    for t in np.arange(END_SHARE * total, (1.0 - END_SHARE) * total + 1e-9, step):
        k = min(int(np.searchsorted(start, t, side="right")) - 1, len(lengths) - 1)
        ux, uy = seg[k] / lengths[k]
        cx, cy = pts[k] + (t - start[k]) * seg[k] / lengths[k]
        j, i = grid.cells_of(cx - offsets * uy, cy + offsets * ux)
        inside = (j >= 0) & (j < ny) & (i >= 0) & (i < nx)
        low = np.full(offsets.shape, np.nan)
        low[inside] = before_m[j[inside], i[inside]] - after_m[j[inside], i[inside]]
        if not np.isfinite(low).any():
            continue
        deepest = int(np.nanargmax(low))
        depth = float(low[deepest])
        if not depth >= MIN_DUG_M:
            widths.append(0.0)
            continue
        half = 0.5 * depth
        lo = hi = deepest
        while lo > 0 and low[lo - 1] >= half:
            lo -= 1
        while hi < len(low) - 1 and low[hi + 1] >= half:
            hi += 1
        widths.append((hi - lo + 1) * step)
    return float(np.median(widths)) if widths else math.nan
