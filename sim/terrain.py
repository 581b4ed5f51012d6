"""Ground truth terrain: the height grid with the craters and rigid rocks it was made with.

Site frame: x east, y north, z up, in m. The origin is the south-west corner of the site,
so a :class:`Terrain` from :func:`~.terrain_generation.generate_terrain` or
:func:`~.dem.load_dem` has ``origin_xy_m == (0.0, 0.0)``. Heights are stored as an
array of shape ``(ny, nx)``: ``heights_m[j, i]`` is the height at
``x = origin_x + i * cell``, ``y = origin_y + j * cell``; row ``j = 0`` is the south edge.
This is also the layout PyBullet's heightfield wants (see reference/SIM.md).

The rest of the terrain lives beside this module:

- :mod:`.terrain_config`: the scenario file's terrain section (procedural or DEM);
- :mod:`.terrain_statistics`: the published crater and rock size-frequency
  distributions, crater depth/diameter ratios and the crater profile, with their sources;
- :mod:`.rock_shapes`: the convex mesh of a rigid rock;
- :mod:`.terrain_generation`: procedural lunar terrain (craters, rocks, roughness);
- :mod:`.dem`: DEM files (``.npy``, 16-bit ``.png``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_HEIGHTFIELD_SAMPLES",
    "Crater",
    "Rock",
    "Terrain",
    "TerrainError",
]

FloatArray = NDArray[np.float64]

MAX_HEIGHTFIELD_SAMPLES = 2**21
"""Largest heightfield PyBullet handles on Linux (an 8 MiB shared-memory chunk); larger
fields are created without an error but rays and contacts find nothing (reference/SIM.md)."""


class TerrainError(ValueError):
    """A terrain could not be built: bad DEM file, bad grid, too many samples.

    The message names the file or field and the reason.
    """


@dataclass(frozen=True, slots=True)
class Crater:
    """A crater stamped into the terrain; centre in the site frame, sizes in m."""

    x_m: float
    y_m: float
    diameter_m: float
    depth_m: float
    """Rim crest to floor, in m."""


def _readonly(array: FloatArray) -> FloatArray:
    out = np.array(array, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Rock:
    """A rigid rock: an irregular convex body resting partly buried in the surface.

    ``vertices_m`` (shape (N, 3), read-only) are the points of a convex hull centred on the
    solid's centroid, in the rock's own frame (z up), for a PyBullet convex mesh. Its
    largest horizontal extent is ``diameter_m``. The lowest vertex lies ``embed_depth_m``
    below the local surface, so the centroid sits at
    ``surface_z - embed_depth_m - vertices_m[:, 2].min()``.
    """

    x_m: float
    y_m: float
    diameter_m: float
    embed_depth_m: float
    vertices_m: FloatArray

    def __post_init__(self) -> None:
        v = np.asarray(self.vertices_m, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 4:
            raise ValueError(f"vertices_m must have shape (N >= 4, 3), got {v.shape}")
        object.__setattr__(self, "vertices_m", _readonly(v))

    @property
    def height_m(self) -> float:
        """Vertical extent of the rock, in m."""
        z = self.vertices_m[:, 2]
        return float(z.max() - z.min())


@dataclass(frozen=True, eq=False)
class Terrain:
    """A height grid with the craters and rigid rocks it was made with.

    ``heights_m`` (read-only, float64, shape (ny, nx)): ``heights_m[j, i]`` is the height
    at ``x = origin_x + i * cell_size_m``, ``y = origin_y + j * cell_size_m``; row 0 is the
    south edge. ``rocks`` holds only the rigid rocks; smaller ones are part of the heights.
    """

    heights_m: FloatArray
    cell_size_m: float
    origin_xy_m: tuple[float, float] = (0.0, 0.0)
    craters: tuple[Crater, ...] = ()
    rocks: tuple[Rock, ...] = ()

    def __post_init__(self) -> None:
        h = np.asarray(self.heights_m)
        if h.ndim != 2 or h.shape[0] < 2 or h.shape[1] < 2:
            raise ValueError(f"heights_m must be 2-D with at least 2x2 samples, got {h.shape}")
        if not np.all(np.isfinite(h)):
            raise ValueError("heights_m contains non-finite values")
        if not (math.isfinite(self.cell_size_m) and self.cell_size_m > 0.0):
            raise ValueError(f"cell_size_m must be positive and finite, got {self.cell_size_m}")
        object.__setattr__(self, "heights_m", _readonly(h))
        object.__setattr__(
            self, "origin_xy_m", (float(self.origin_xy_m[0]), float(self.origin_xy_m[1]))
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``, the number of samples along y and x."""
        ny, nx = self.heights_m.shape
        return (int(ny), int(nx))

    @property
    def size_xy_m(self) -> tuple[float, float]:
        """Extent of the grid from the first to the last sample, ``((nx-1)·cell, (ny-1)·cell)``."""
        ny, nx = self.shape
        return ((nx - 1) * self.cell_size_m, (ny - 1) * self.cell_size_m)

    @property
    def x_coords_m(self) -> FloatArray:
        """x of each column, in m."""
        return self.origin_xy_m[0] + np.arange(self.shape[1], dtype=np.float64) * self.cell_size_m

    @property
    def y_coords_m(self) -> FloatArray:
        """y of each row, in m (row 0 is the south edge)."""
        return self.origin_xy_m[1] + np.arange(self.shape[0], dtype=np.float64) * self.cell_size_m

    def contains(self, x_m: float, y_m: float) -> bool:
        """Whether (x, y) lies on the grid (edges included)."""
        sx, sy = self.size_xy_m
        ox, oy = self.origin_xy_m
        eps = 1e-9 * max(1.0, sx, sy)
        return bool(ox - eps <= x_m <= ox + sx + eps and oy - eps <= y_m <= oy + sy + eps)

    def height_at(self, x_m: float, y_m: float) -> float:
        """Bilinearly interpolated height at (x, y), in m.

        Raises:
            ValueError: (x, y) is outside the grid.
        """
        if not self.contains(x_m, y_m):
            sx, sy = self.size_xy_m
            ox, oy = self.origin_xy_m
            raise ValueError(
                f"point ({x_m}, {y_m}) m is outside the terrain "
                f"[{ox}, {ox + sx}] x [{oy}, {oy + sy}] m"
            )
        ny, nx = self.shape
        fx = (x_m - self.origin_xy_m[0]) / self.cell_size_m
        fy = (y_m - self.origin_xy_m[1]) / self.cell_size_m
        i = min(max(math.floor(fx), 0), nx - 2)
        j = min(max(math.floor(fy), 0), ny - 2)
        tx = min(max(fx - i, 0.0), 1.0)
        ty = min(max(fy - j, 0.0), 1.0)
        h = self.heights_m
        south = (1.0 - tx) * h[j, i] + tx * h[j, i + 1]
        north = (1.0 - tx) * h[j + 1, i] + tx * h[j + 1, i + 1]
        return float((1.0 - ty) * south + ty * north)
