"""Volumes from elevation grids: how much soil sits above or below a surface in a region.

The way the Lunabotics judges measure a berm: scan the arena before and after the run and
count the volume gained inside a box (2.2 m × 0.9 m around the 2.0 m × 0.7 m target;
reference/LUNAR.md). The same functions judge a design surface (a pad to level, a trench to
dig) from one grid, so ground truth and a robot's own survey are scored alike.

Grid layout (as everywhere in lunarsite): ``heights[j, i]`` is the height at
``x = origin_x + i·cell``, ``y = origin_y + j·cell``; each sample stands for the square
cell of side ``cell`` centred on it. A region is a polygon in the site frame; a cell on its
border counts for the fraction of it inside (estimated on ``subsamples``² points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "DesignVolumes",
    "SurveyError",
    "VolumeChange",
    "berm_volume_m3",
    "box_polygon",
    "points_in_polygon",
    "region_weights",
    "volume_change",
    "volume_vs_design",
]

FloatArray = npt.NDArray[np.float64]


class SurveyError(ValueError):
    """Grids or regions that cannot be compared (shapes, cell size, polygon)."""


@dataclass(frozen=True, slots=True)
class VolumeChange:
    """Soil gained and lost between two grids inside a region, in m³ (both ≥ 0)."""

    fill_m3: float
    cut_m3: float
    area_m2: float
    """Area of the region on the grid, in m²."""

    @property
    def net_m3(self) -> float:
        return self.fill_m3 - self.cut_m3


@dataclass(frozen=True, slots=True)
class DesignVolumes:
    """Soil above a design surface (to cut) and room below it (to fill), in m³ (both ≥ 0)."""

    above_m3: float
    below_m3: float
    area_m2: float
    rms_error_m: float
    """Area-weighted RMS of surface minus design inside the region, in m."""


def box_polygon(
    centre_xy_m: tuple[float, float], size_xy_m: tuple[float, float], yaw_rad: float = 0.0
) -> FloatArray:
    """Corners (4, 2) of a rectangle of ``size_xy_m`` centred at ``centre_xy_m``, turned by
    ``yaw_rad`` (its first side along +x at yaw 0), counter-clockwise, in m."""
    sx, sy = size_xy_m
    if not (sx > 0.0 and sy > 0.0 and math.isfinite(sx) and math.isfinite(sy)):
        raise SurveyError(f"box size must be positive and finite, got {size_xy_m}")
    local = np.array([[-sx, -sy], [sx, -sy], [sx, sy], [-sx, sy]], dtype=np.float64) * 0.5
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    rot = np.array([[c, -s], [s, c]], dtype=np.float64)
    out: FloatArray = local @ rot.T + np.asarray(centre_xy_m, dtype=np.float64)
    return out


def points_in_polygon(x: FloatArray, y: FloatArray, polygon: FloatArray) -> npt.NDArray[np.bool_]:
    """Even-odd rule, vectorised over points and edges."""
    inside = np.zeros(x.shape, dtype=bool)
    n = polygon.shape[0]
    for k in range(n):
        x1, y1 = polygon[k]
        x2, y2 = polygon[(k + 1) % n]
        if y1 == y2:
            continue
        crosses = (y1 > y) != (y2 > y)
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < x_cross)
    return inside


def region_weights(
    shape: tuple[int, int],
    cell_size_m: float,
    origin_xy_m: tuple[float, float],
    polygon_xy_m: npt.ArrayLike,
    *,
    subsamples: int = 4,
) -> FloatArray:
    """Fraction (0–1) of each cell inside the polygon, shape ``shape``.

    Args:
        shape: ``(ny, nx)`` of the grid.
        cell_size_m: sample spacing, in m.
        origin_xy_m: position of sample (0, 0), in m.
        polygon_xy_m: vertices (N ≥ 3, 2) in the site frame, in m, either winding.
        subsamples: points per cell side used to estimate the fraction.
    """
    poly = np.asarray(polygon_xy_m, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[0] < 3 or poly.shape[1] != 2:
        raise SurveyError(f"polygon_xy_m must have shape (N >= 3, 2), got {poly.shape}")
    if not np.all(np.isfinite(poly)):
        raise SurveyError("polygon_xy_m contains non-finite values")
    if subsamples < 1:
        raise SurveyError(f"subsamples must be at least 1, got {subsamples}")
    if not (cell_size_m > 0.0 and math.isfinite(cell_size_m)):
        raise SurveyError(f"cell_size_m must be positive and finite, got {cell_size_m}")
    ny, nx = shape
    weights = np.zeros((ny, nx), dtype=np.float64)
    # Only cells within the polygon's bounding box can have weight.
    lo = poly.min(axis=0)
    hi = poly.max(axis=0)
    i0 = max(0, math.floor((lo[0] - origin_xy_m[0]) / cell_size_m - 0.5))
    i1 = min(nx, math.ceil((hi[0] - origin_xy_m[0]) / cell_size_m + 0.5) + 1)
    j0 = max(0, math.floor((lo[1] - origin_xy_m[1]) / cell_size_m - 0.5))
    j1 = min(ny, math.ceil((hi[1] - origin_xy_m[1]) / cell_size_m + 0.5) + 1)
    if i1 <= i0 or j1 <= j0:
        return weights
    offsets = (np.arange(subsamples, dtype=np.float64) + 0.5) / subsamples - 0.5
    xs = origin_xy_m[0] + (np.arange(i0, i1)[:, None] + offsets[None, :]).ravel() * cell_size_m
    ys = origin_xy_m[1] + (np.arange(j0, j1)[:, None] + offsets[None, :]).ravel() * cell_size_m
    gx, gy = np.meshgrid(xs, ys)
    inside = points_in_polygon(gx, gy, poly).astype(np.float64)
    block = inside.reshape(j1 - j0, subsamples, i1 - i0, subsamples).mean(axis=(1, 3))
    weights[j0:j1, i0:i1] = block
    return weights


def _check_grid(name: str, grid: npt.ArrayLike, shape: tuple[int, int] | None) -> FloatArray:
    a = np.asarray(grid, dtype=np.float64)
    if a.ndim != 2:
        raise SurveyError(f"{name} must be a 2-D height grid, got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise SurveyError(f"{name} has shape {a.shape}, expected {shape}")
    return a


def _weights(
    shape: tuple[int, int],
    cell_size_m: float,
    origin_xy_m: tuple[float, float],
    region_xy_m: npt.ArrayLike | None,
    subsamples: int,
) -> FloatArray:
    if region_xy_m is None:
        return np.ones(shape, dtype=np.float64)
    return region_weights(shape, cell_size_m, origin_xy_m, region_xy_m, subsamples=subsamples)


def volume_change(
    before_m: npt.ArrayLike,
    after_m: npt.ArrayLike,
    cell_size_m: float,
    origin_xy_m: tuple[float, float] = (0.0, 0.0),
    region_xy_m: npt.ArrayLike | None = None,
    *,
    subsamples: int = 4,
) -> VolumeChange:
    """Volume gained (fill) and lost (cut) from ``before_m`` to ``after_m`` in a region.

    Both grids share the cell size and origin. ``region_xy_m`` is a polygon (N, 2) in m,
    or ``None`` for the whole grid. Cells with non-finite heights (no scan return) are
    ignored and do not count in the area.
    """
    before = _check_grid("before_m", before_m, None)
    after = _check_grid("after_m", after_m, (int(before.shape[0]), int(before.shape[1])))
    shape = (int(before.shape[0]), int(before.shape[1]))
    w = _weights(shape, cell_size_m, origin_xy_m, region_xy_m, subsamples)
    diff = after - before
    valid = np.isfinite(diff)
    w = np.where(valid, w, 0.0)
    d = np.where(valid, diff, 0.0)
    area = cell_size_m**2
    return VolumeChange(
        fill_m3=float(np.sum(w * np.maximum(d, 0.0)) * area),
        cut_m3=float(np.sum(w * np.maximum(-d, 0.0)) * area),
        area_m2=float(w.sum() * area),
    )


def berm_volume_m3(
    before_m: npt.ArrayLike,
    after_m: npt.ArrayLike,
    cell_size_m: float,
    origin_xy_m: tuple[float, float],
    box_centre_xy_m: tuple[float, float],
    box_size_xy_m: tuple[float, float],
    box_yaw_rad: float = 0.0,
) -> float:
    """Volume built inside a scoring box between two scans, in m³ (Lunabotics berm rule).

    Only soil above the pre-run surface counts; digging inside the box does not subtract.
    """
    box = box_polygon(box_centre_xy_m, box_size_xy_m, box_yaw_rad)
    return volume_change(before_m, after_m, cell_size_m, origin_xy_m, box).fill_m3


def volume_vs_design(
    surface_m: npt.ArrayLike,
    design_m: npt.ArrayLike | float,
    cell_size_m: float,
    origin_xy_m: tuple[float, float] = (0.0, 0.0),
    region_xy_m: npt.ArrayLike | None = None,
    *,
    subsamples: int = 4,
) -> DesignVolumes:
    """Soil above and room below a design surface (a grid or one level) in a region."""
    surface = _check_grid("surface_m", surface_m, None)
    shape = (int(surface.shape[0]), int(surface.shape[1]))
    design = np.broadcast_to(np.asarray(design_m, dtype=np.float64), shape)
    w = _weights(shape, cell_size_m, origin_xy_m, region_xy_m, subsamples)
    diff = surface - design
    valid = np.isfinite(diff)
    w = np.where(valid, w, 0.0)
    d = np.where(valid, diff, 0.0)
    area = cell_size_m**2
    total_w = float(w.sum())
    rms = math.sqrt(float(np.sum(w * d * d)) / total_w) if total_w > 0.0 else math.nan
    return DesignVolumes(
        above_m3=float(np.sum(w * np.maximum(d, 0.0)) * area),
        below_m3=float(np.sum(w * np.maximum(-d, 0.0)) * area),
        area_m2=total_w * area,
        rms_error_m=rms,
    )
