"""How far a load really travels out of a trench: by its ends, not across its wall.

A trench narrower than the bucket is dug *along* its line, the rover straddling the
channel (:meth:`~.earthwork_stations.Stations.narrow_axis`), and every load leaves it the
way the rover came in, past one of the trench's ends. The straight line from a cell in
the middle of a 3 m trench to the spoil heap 1.2 m beside it is not a way the rover can
go: planned on straight lines, the loads went to the spoil straight across from where
they were dug, and the rover backed out to the trench's end and drove round the heap to
dump from its far side, about 13 m a load (trench seed 0, 2026-12-07: 128 m of travel at
cruise speed in the first 1800 s, a third of the run). :func:`carry_via_ends` is the
carry the haul assignment minimises instead (:func:`~lunarsite.robot.planning.
earthwork.haul_flows`' ``carry_m``): from such a cell along the trench to its nearer
useful end, then straight to the sink, so the spoil of a trench goes to the heap's ends.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from ..site.grid import FloatArray

if TYPE_CHECKING:
    from .earthwork_stations import Stations

__all__ = ["carry_via_ends", "entry_heading", "trench_ends"]


def trench_ends(
    stations: Stations, x_m: float, y_m: float
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The two ends of the trench (a deep cut narrower than the bucket) through (x, y),
    on its middle line, in site m; None where (x, y) is in no such cut."""
    narrow = stations.narrow_axis(x_m, y_m)
    deep = stations.deep_cut
    if narrow is None or deep is None:
        return None
    axis, (ox, oy) = narrow
    grid = stations.grid
    j, i = grid.cell_of(ox, oy)
    labels, _ = ndimage.label(deep, structure=np.ones((3, 3)))
    if not grid.in_bounds(j, i) or labels[j, i] == 0:
        return None
    rows, cols = np.nonzero(labels == labels[j, i])
    px = np.asarray(grid.x_coords_m)[cols]
    py = np.asarray(grid.y_coords_m)[rows]
    c, s = math.cos(axis), math.sin(axis)
    along = (px - ox) * c + (py - oy) * s
    half = 0.5 * grid.cell_size_m
    lo, hi = float(along.min()) - half, float(along.max()) + half
    return (ox + lo * c, oy + lo * s), (ox + hi * c, oy + hi * s)


def carry_via_ends(stations: Stations, sources: FloatArray, sinks: FloatArray) -> FloatArray:
    """N × M carry distances (m): from a source in a trench along it to whichever end
    makes the shorter way, then straight to the sink; straight lines from any other
    source."""
    diff = sources[:, None, :] - sinks[None, :, :]
    out: FloatArray = np.hypot(diff[..., 0], diff[..., 1])
    for n, (x, y) in enumerate(sources):
        ends = trench_ends(stations, float(x), float(y))
        if ends is None:
            continue
        ways = [
            math.hypot(ex - x, ey - y) + np.hypot(sinks[:, 0] - ex, sinks[:, 1] - ey)
            for ex, ey in ends
        ]
        out[n] = np.minimum(*ways)
    return out


def entry_heading(
    stations: Stations,
    axis_rad: float,
    dig_xy_m: tuple[float, float],
    dump_xy_m: tuple[float, float],
) -> float:
    """The heading to dig along a trench (``axis_rad`` or its reverse) so that the end the
    rover runs in from, and leaves by, is the one with the shorter way from the dig to the
    dump. Chosen by the dump's side alone, a load dumped beside the trench's middle was
    dug from the far end: the rover drove round to it and back out along the whole
    trench (trench seed 0)."""
    ends = trench_ends(stations, *dig_xy_m)
    if ends is None:
        return axis_rad
    (dx, dy), (ux, uy) = dig_xy_m, dump_xy_m
    via = [math.hypot(dx - ex, dy - ey) + math.hypot(ux - ex, uy - ey) for ex, ey in ends]
    return axis_rad if via[0] <= via[1] else axis_rad + math.pi
