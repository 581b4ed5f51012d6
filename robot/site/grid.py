"""The geometry of a regular grid over the site: which cell holds which point.

Layout as in :class:`lunarsite.sim.terrain.Terrain`: an array of shape ``(ny, nx)`` whose
element ``[j, i]`` is the cell centred at ``x = origin_x + i·cell``, ``y = origin_y + j·cell``
(row 0 is the south edge). Site frame: x east, y north, in m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "GridError", "GridSpec"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class GridError(ValueError):
    """A grid or an array that does not match its grid."""


@dataclass(frozen=True, slots=True)
class GridSpec:
    """Origin (centre of cell ``[0, 0]``, in m), cell size (m) and shape ``(ny, nx)``."""

    origin_xy_m: tuple[float, float]
    cell_size_m: float
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cell_size_m) and self.cell_size_m > 0.0):
            raise GridError(f"GridSpec.cell_size_m must be positive, got {self.cell_size_m}")
        ny, nx = self.shape
        if ny < 1 or nx < 1:
            raise GridError(f"GridSpec.shape must be at least (1, 1), got {self.shape}")
        ox, oy = self.origin_xy_m
        if not (math.isfinite(ox) and math.isfinite(oy)):
            raise GridError(f"GridSpec.origin_xy_m must be finite, got {self.origin_xy_m}")
        object.__setattr__(self, "origin_xy_m", (float(ox), float(oy)))
        object.__setattr__(self, "shape", (int(ny), int(nx)))

    @classmethod
    def covering(
        cls, min_xy_m: tuple[float, float], max_xy_m: tuple[float, float], cell_size_m: float
    ) -> GridSpec:
        """The smallest grid with cell centres from ``min_xy_m`` that reaches ``max_xy_m``."""
        nx = math.floor((max_xy_m[0] - min_xy_m[0]) / cell_size_m + 1e-9) + 1
        ny = math.floor((max_xy_m[1] - min_xy_m[1]) / cell_size_m + 1e-9) + 1
        return cls(min_xy_m, cell_size_m, (ny, nx))

    @property
    def x_coords_m(self) -> FloatArray:
        """x of each column's centre, in m."""
        return self.origin_xy_m[0] + np.arange(self.shape[1], dtype=np.float64) * self.cell_size_m

    @property
    def y_coords_m(self) -> FloatArray:
        """y of each row's centre, in m."""
        return self.origin_xy_m[1] + np.arange(self.shape[0], dtype=np.float64) * self.cell_size_m

    def cell_of(self, x_m: float, y_m: float) -> tuple[int, int]:
        """``(j, i)`` of the cell holding (x, y) (may lie outside the grid)."""
        return (
            round((y_m - self.origin_xy_m[1]) / self.cell_size_m),
            round((x_m - self.origin_xy_m[0]) / self.cell_size_m),
        )

    def cells_of(self, x_m: FloatArray, y_m: FloatArray) -> tuple[IntArray, IntArray]:
        """Vectorised :meth:`cell_of`: rows ``j`` and columns ``i`` (may lie outside)."""
        j = np.rint((np.asarray(y_m) - self.origin_xy_m[1]) / self.cell_size_m).astype(np.intp)
        i = np.rint((np.asarray(x_m) - self.origin_xy_m[0]) / self.cell_size_m).astype(np.intp)
        return j, i

    def center_of(self, j: int, i: int) -> tuple[float, float]:
        """Site (x, y) of the centre of cell ``[j, i]``, in m."""
        return (
            self.origin_xy_m[0] + i * self.cell_size_m,
            self.origin_xy_m[1] + j * self.cell_size_m,
        )

    def in_bounds(self, j: int, i: int) -> bool:
        return 0 <= j < self.shape[0] and 0 <= i < self.shape[1]

    def contains(self, x_m: float, y_m: float) -> bool:
        """Whether (x, y) falls in a cell of the grid."""
        return self.in_bounds(*self.cell_of(x_m, y_m))

    def segment_cells(
        self, a_xy_m: tuple[float, float], b_xy_m: tuple[float, float]
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Every cell the segment a → b passes through, in order, with the length in each.

        Returns rows ``j``, columns ``i`` (may lie outside the grid) and lengths in m: the
        exact supercover, found from the crossings of the cell borders.
        """
        ax, ay = (
            (a_xy_m[0] - self.origin_xy_m[0]) / self.cell_size_m,
            (a_xy_m[1] - self.origin_xy_m[1]) / self.cell_size_m,
        )
        bx, by = (
            (b_xy_m[0] - self.origin_xy_m[0]) / self.cell_size_m,
            (b_xy_m[1] - self.origin_xy_m[1]) / self.cell_size_m,
        )
        ts = [np.array([0.0, 1.0])]
        for a, b in ((ax, bx), (ay, by)):
            if a != b:
                lo, hi = min(a, b), max(a, b)
                borders = np.arange(math.ceil(lo - 0.5), math.floor(hi - 0.5) + 1) + 0.5
                ts.append((borders - a) / (b - a))
        t = np.unique(np.clip(np.concatenate(ts), 0.0, 1.0))
        if len(t) < 2:
            t = np.array([0.0, 1.0])
        mid = 0.5 * (t[:-1] + t[1:])
        i = np.rint(ax + mid * (bx - ax)).astype(np.intp)
        j = np.rint(ay + mid * (by - ay)).astype(np.intp)
        length = np.diff(t) * math.hypot(b_xy_m[0] - a_xy_m[0], b_xy_m[1] - a_xy_m[1])
        return j, i, length

    def check(self, array: npt.NDArray[np.generic], name: str) -> None:
        """Raise :class:`GridError` unless ``array`` has this grid's shape."""
        if array.shape != self.shape:
            raise GridError(f"{name} has shape {array.shape}, the grid is {self.shape}")
