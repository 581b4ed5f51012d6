"""Where a rover can still go as units are set down and taken from the depot.

The rover is a disc in the plane (its circumscribed radius: the swept circle of a turn
in place), grown further while it carries a unit ahead of it. :class:`AccessMap` keeps,
for each disc radius asked of it, a count per grid cell of the units (placed or waiting
in the depot) within that radius of the cell, and the connected free space from the
rover's home. An :class:`Approach` is the straight run-in a rover takes to a unit's
grasp: a pre-approach pose where it may turn, a lane it drives straight along, and the
strip the carried unit sweeps; its cells are computed once, so a check against the
map's state is a few array look-ups.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from lunarsite.robot.site.grid import GridSpec

__all__ = ["AccessMap", "Approach", "Rect"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle on the site: centre, half sides along its own axes, yaw (m, rad)."""

    x_m: float
    y_m: float
    half_x_m: float
    half_y_m: float
    yaw_rad: float

    def distance_m(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Distance of points to the rectangle (0 inside), in m."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        dx, dy = x - self.x_m, y - self.y_m
        u, v = dx * c + dy * s, -dx * s + dy * c
        du = np.maximum(np.abs(u) - self.half_x_m, 0.0)
        dv = np.maximum(np.abs(v) - self.half_y_m, 0.0)
        out: npt.NDArray[np.float64] = np.hypot(du, dv)
        return out

    @property
    def reach_m(self) -> float:
        return math.hypot(self.half_x_m, self.half_y_m)


@dataclass(frozen=True, slots=True)
class Approach:
    """A straight run-in to a grasp: the rover turns at ``pre`` (disc ``turn_radius_m``),
    drives straight to ``stand`` (disc ``body_radius_m`` along ``lane``), the unit in its
    grasp sweeping ``sweep``. Cell index arrays are (rows, cols) on the access grid."""

    stand_xy_m: Point
    pre_xy_m: Point
    heading_rad: float
    turn_radius_m: float
    body_radius_m: float
    lane: tuple[IntArray, IntArray]
    sweep: tuple[IntArray, IntArray]
    excluded: tuple[str, ...] = ()
    """Units the lane and sweep may overlap (what the unit rests on, or the unit itself
    when it is picked)."""


class AccessMap:
    """Free space for discs of given radii around static obstacles and present units."""

    def __init__(self, grid: GridSpec, blocked: BoolArray, radii_m: tuple[float, ...]) -> None:
        self.grid = grid
        gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
        self._gx, self._gy = gx, gy
        # Distance to the nearest blocked cell or off the grid (a border of blocked cells).
        padded = np.pad(~blocked.astype(bool), 1, constant_values=False)
        dist = ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * grid.cell_size_m
        self._static_dist = np.asarray(dist, dtype=np.float64)
        self.radii_m = tuple(sorted(set(radii_m) | {0.0}))
        self._count = {r: np.zeros(grid.shape, dtype=np.int32) for r in self.radii_m}
        self._units: dict[str, Rect] = {}
        self._labels: dict[float, IntArray] = {}

    # -- state ---------------------------------------------------------------------
    def add(self, uid: str, rect: Rect) -> None:
        if uid in self._units:
            raise ValueError(f"unit {uid!r} is already on the access map")
        self._units[uid] = rect
        self._paint(rect, 1)

    def remove(self, uid: str) -> None:
        self._paint(self._units.pop(uid), -1)

    def _paint(self, rect: Rect, step: int) -> None:
        for r, count in self._count.items():
            rows, cols = self.cells_near(rect, r)
            count[rows, cols] += step
        self._labels.clear()

    def cells_near(self, rect: Rect, grow_m: float) -> tuple[IntArray, IntArray]:
        """Cells whose centres lie within ``grow_m`` (>= 0) of ``rect``."""
        g = self.grid
        reach = rect.reach_m + max(grow_m, 0.0) + g.cell_size_m
        (j0, i0), (j1, i1) = (
            g.cell_of(rect.x_m - reach, rect.y_m - reach),
            g.cell_of(rect.x_m + reach, rect.y_m + reach),
        )
        ny, nx = g.shape
        j0, i0, j1, i1 = max(j0, 0), max(i0, 0), min(j1, ny - 1), min(i1, nx - 1)
        if j1 < j0 or i1 < i0:
            return np.zeros(0, np.intp), np.zeros(0, np.intp)
        sub_x, sub_y = self._gx[j0 : j1 + 1, i0 : i1 + 1], self._gy[j0 : j1 + 1, i0 : i1 + 1]
        near = rect.distance_m(sub_x, sub_y) <= grow_m
        rows, cols = np.nonzero(near)
        return (rows + j0).astype(np.intp), (cols + i0).astype(np.intp)

    def _labelled(self, radius_m: float) -> IntArray:
        labels = self._labels.get(radius_m)
        if labels is None:
            free = (self._static_dist > radius_m) & (self._count[radius_m] == 0)
            labels = np.asarray(ndimage.label(free)[0], dtype=np.intp)
            self._labels[radius_m] = labels
        return labels

    # -- queries -------------------------------------------------------------------
    def connected(self, a_xy_m: Point, b_xy_m: Point, radius_m: float) -> bool:
        """Whether a disc of ``radius_m`` can go from ``a`` to ``b`` round everything."""
        g = self.grid
        ja, ia = g.cell_of(*a_xy_m)
        jb, ib = g.cell_of(*b_xy_m)
        if not (g.in_bounds(ja, ia) and g.in_bounds(jb, ib)):
            return False
        labels = self._labelled(radius_m)
        return bool(labels[ja, ia] != 0 and labels[ja, ia] == labels[jb, ib])

    def line_clear(self, a_xy_m: Point, b_xy_m: Point, radius_m: float) -> bool:
        """Whether a disc of ``radius_m`` can drive straight from ``a`` to ``b``."""
        return self._sight(a_xy_m, b_xy_m, self._labelled(radius_m) != 0)

    def route(self, a_xy_m: Point, b_xy_m: Point, radius_m: float) -> list[Point] | None:
        """Corners of a way for a disc of ``radius_m`` from ``a`` to ``b`` (breadth-first
        over the free cells, eight neighbours, then kept by line of sight), ``b`` last;
        None when ``b`` cannot be reached. The start's own cell may be taken: a rover
        backed out of a grasp stands close to what it just set down."""
        g = self.grid
        free = self._labelled(radius_m) != 0
        start, goal = g.cell_of(*a_xy_m), g.cell_of(*b_xy_m)
        if not (g.in_bounds(*start) and g.in_bounds(*goal)) or not free[goal]:
            return None
        came = np.full(g.shape, -1, dtype=np.int64)
        ny, nx = g.shape
        came[start] = start[0] * nx + start[1]
        frontier = deque([start])
        steps = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
        while frontier and came[goal] < 0:
            j, i = frontier.popleft()
            for dj, di in steps:
                jj, ii = j + dj, i + di
                if 0 <= jj < ny and 0 <= ii < nx and came[jj, ii] < 0 and free[jj, ii]:
                    came[jj, ii] = j * nx + i
                    frontier.append((jj, ii))
        if came[goal] < 0:
            return None
        cells = [goal]
        while cells[-1] != start:
            k = int(came[cells[-1]])
            cells.append((k // nx, k % nx))
        cells.reverse()
        xy = [g.center_of(j, i) for j, i in cells]
        xy[0], xy[-1] = a_xy_m, b_xy_m
        keep, k = [0], 0
        while k < len(xy) - 1:
            k = next(
                (m for m in range(len(xy) - 1, k + 1, -1) if self._sight(xy[k], xy[m], free)), k + 1
            )
            keep.append(k)
        return [xy[k] for k in keep[1:]]

    def _sight(self, a: Point, b: Point, free: BoolArray) -> bool:
        n = max(2, int(math.dist(a, b) / (0.5 * self.grid.cell_size_m)) + 1)
        xs, ys = np.linspace(a[0], b[0], n), np.linspace(a[1], b[1], n)
        rows, cols = self.grid.cells_of(xs, ys)
        ny, nx = self.grid.shape
        inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
        if not inside.all():
            return False
        return bool(free[rows[1:], cols[1:]].all())

    def approach(
        self,
        stand_xy_m: Point,
        heading_rad: float,
        run_in_m: float,
        body_radius_m: float,
        turn_radius_m: float,
        carried: Rect | None,
        excluded: tuple[str, ...] = (),
        jaws: Rect | None = None,
    ) -> Approach:
        """The run-in to ``stand_xy_m`` facing ``heading_rad`` from ``run_in_m`` back,
        with ``carried`` (where the unit is when the rover stands there) and the tool's
        open ``jaws`` (where they are then) swept along."""
        c, s = math.cos(heading_rad), math.sin(heading_rad)
        pre = (stand_xy_m[0] - run_in_m * c, stand_xy_m[1] - run_in_m * s)
        lane_rect = Rect(
            0.5 * (stand_xy_m[0] + pre[0]),
            0.5 * (stand_xy_m[1] + pre[1]),
            0.5 * run_in_m,
            0.0,
            heading_rad,
        )
        # The cells the rover's centre crosses; each must have nothing within its body.
        lane = self.cells_near(lane_rect, 0.75 * self.grid.cell_size_m)
        sweep: tuple[IntArray, IntArray] = (np.zeros(0, np.intp), np.zeros(0, np.intp))
        # The unit (and the jaws round it) from where they are at the pre-approach pose
        # to the stand, a centimetre's give at the sides: units laid edge to edge touch.
        for rect in (carried, jaws):
            if rect is None:
                continue
            along, across = _extent_along(rect, heading_rad)
            swept = Rect(
                rect.x_m - 0.5 * run_in_m * c,
                rect.y_m - 0.5 * run_in_m * s,
                0.5 * run_in_m + along - 0.01,
                across - 0.01,
                heading_rad,
            )
            rows, cols = self.cells_near(swept, 0.0)
            sweep = (np.concatenate([sweep[0], rows]), np.concatenate([sweep[1], cols]))
        return Approach(
            stand_xy_m, pre, heading_rad, turn_radius_m, body_radius_m, lane, sweep, excluded
        )

    def clear(self, a: Approach, home_xy_m: Point) -> bool:
        """Whether the rover can reach ``a.pre`` from home turning with ``a.turn_radius_m``
        and drive its lane with the carried unit's sweep touching nothing present (the
        ``excluded`` units, when present, aside)."""
        if not self.connected(a.pre_xy_m, home_xy_m, a.turn_radius_m):
            return False
        if not self._free(a.lane, a.body_radius_m, a.excluded):
            return False
        return self._free(a.sweep, 0.0, a.excluded)

    def _free(
        self,
        cells: tuple[IntArray, IntArray],
        radius_m: float,
        excluded: tuple[str, ...],
    ) -> bool:
        rows, cols = cells
        if rows.size == 0:
            return True
        if bool((self._static_dist[rows, cols] <= radius_m).any()):
            return False
        count = self._count[radius_m][rows, cols]
        for uid in excluded:
            rect = self._units.get(uid)
            if rect is not None:
                x, y = self._gx[rows, cols], self._gy[rows, cols]
                count = count - (rect.distance_m(x, y) <= radius_m)
        return not bool(count.any())


def _extent_along(rect: Rect, heading_rad: float) -> tuple[float, float]:
    """Half extents of ``rect`` along and across ``heading_rad``, in m."""
    d = rect.yaw_rad - heading_rad
    c, s = abs(math.cos(d)), abs(math.sin(d))
    return (rect.half_x_m * c + rect.half_y_m * s, rect.half_x_m * s + rect.half_y_m * c)
