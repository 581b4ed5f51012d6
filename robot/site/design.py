"""Design surfaces: what the ground should look like when the earthwork is done.

A design is a value (a pad, a berm, a trench, a crater to fill, a module to cover) in the
site frame. :meth:`Design.resolve` lays it on a height grid: the design height of every
cell it speaks for, NaN elsewhere. Designs relative to the ground around them (a berm
on the grade, a trench below it, a crater brought up to it) fit that grade once, from the
first survey, so a later survey of half-finished work does not move the target. The same
resolved design judges any height grid (:meth:`ResolvedDesign.judge`): the rover's survey
during the run, the true grid for metrics.

Grid layout as in :mod:`.grid`. Units SI, in the field names; angles in rad.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from .grid import FloatArray, GridSpec
from .survey import box_polygon, region_weights

__all__ = [
    "IN_SPEC_M",
    "Berm",
    "Design",
    "DesignError",
    "DesignScore",
    "FillCrater",
    "LevelPad",
    "ModuleBox",
    "ResolvedDesign",
    "ShieldModule",
    "Trench",
    "bounding_box",
    "bounds_xy_m",
    "fit_plane",
    "polyline_distance_m",
]

IN_SPEC_M = 0.03
"""A cell is out of spec when more than 3 cm off its design (CraterGrader, CMU 2023;
reference/CONSTRUCTION.md)."""
GRADE_RING_M = (0.3, 1.0)
"""The grade around a footprint is fitted between these distances outside it, in m."""

Point = tuple[float, float]
BoolArray = npt.NDArray[np.bool_]


class DesignError(ValueError):
    """A design that cannot be laid on the ground (no grade to fit, bad geometry)."""


def polyline_distance_m(
    x_m: FloatArray, y_m: FloatArray, polyline: tuple[Point, ...]
) -> FloatArray:
    """Distance from each point to the polyline (segments with round ends), in m."""
    out = np.full(np.shape(x_m), np.inf)
    pts = np.asarray(polyline, dtype=np.float64)
    for (ax, ay), (bx, by) in itertools.pairwise(pts):
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy
        t = np.zeros(np.shape(x_m)) if ll == 0.0 else ((x_m - ax) * dx + (y_m - ay) * dy) / ll
        t = np.clip(t, 0.0, 1.0)
        out = np.minimum(out, np.hypot(x_m - (ax + t * dx), y_m - (ay + t * dy)))
    return out


def fit_plane(grid: GridSpec, heights_m: FloatArray, mask: BoolArray) -> tuple[float, float, float]:
    """Least-squares plane ``z = a + b·x + c·y`` over the masked cells with a height.

    Raises:
        DesignError: fewer than 3 such cells, or all on one line.
    """
    ok = mask & np.isfinite(heights_m)
    if int(ok.sum()) < 3:
        raise DesignError(f"{int(ok.sum())} surveyed cells to fit the grade on; need 3")
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    a = np.column_stack([np.ones(int(ok.sum())), gx[ok], gy[ok]])
    coef, _, rank, _ = np.linalg.lstsq(a, heights_m[ok], rcond=None)
    if rank < 3:
        raise DesignError("the grade cells lie on one line; cannot fit a plane")
    return float(coef[0]), float(coef[1]), float(coef[2])


@dataclass(frozen=True, slots=True)
class DesignScore:
    """How a height grid meets a design, over the cells the design speaks for."""

    cells: int
    rms_error_m: float
    max_abs_error_m: float
    mean_abs_error_m: float
    share_in_spec: float
    """Share of cells within ±3 cm (:data:`IN_SPEC_M`)."""
    share_in_tolerance: float
    """Share of cells within the design's own tolerance."""
    coverage: float
    """Share of the design's cells the grid has a height for."""
    above_m3: float
    """Soil above the design (still to cut), in m³."""
    below_m3: float
    """Room below the design (still to fill), in m³."""


@dataclass(frozen=True, slots=True, eq=False)
class ResolvedDesign:
    """A design laid on a grid: the target height per cell (NaN: no say) and a tolerance."""

    name: str
    kind: str
    grid: GridSpec
    heights_m: FloatArray
    tolerance_m: float

    @property
    def mask(self) -> BoolArray:
        """Cells the design speaks for."""
        out: BoolArray = np.isfinite(self.heights_m)
        return out

    def judge(self, surface_m: FloatArray) -> DesignScore:
        """Errors of ``surface_m`` (same grid; NaN where unknown) against the design."""
        self.grid.check(surface_m, "surface_m")
        mask = self.mask
        total = int(mask.sum())
        err = (surface_m - self.heights_m)[mask]
        err = err[np.isfinite(err)]
        if err.size == 0:
            nan = math.nan
            return DesignScore(0, nan, nan, nan, 0.0, 0.0, 0.0, 0.0, 0.0)
        area = self.grid.cell_size_m**2
        return DesignScore(
            cells=int(err.size),
            rms_error_m=float(np.sqrt(np.mean(err * err))),
            max_abs_error_m=float(np.max(np.abs(err))),
            mean_abs_error_m=float(np.mean(np.abs(err))),
            share_in_spec=float(np.mean(np.abs(err) <= IN_SPEC_M)),
            share_in_tolerance=float(np.mean(np.abs(err) <= self.tolerance_m)),
            coverage=err.size / total if total else 0.0,
            above_m3=float(np.sum(np.maximum(err, 0.0)) * area),
            below_m3=float(np.sum(np.maximum(-err, 0.0)) * area),
        )

    def met(self, surface_m: FloatArray, share: float) -> bool:
        """Whether at least ``share`` of the design's cells are known and within tolerance."""
        s = self.judge(surface_m)
        return s.coverage >= share and s.share_in_tolerance * s.coverage >= share


def _centres(grid: GridSpec) -> tuple[FloatArray, FloatArray]:
    gx, gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    return gx, gy


def _grade(
    grid: GridSpec, ground_m: FloatArray, distance_m: FloatArray, inner_m: float
) -> FloatArray:
    """The plane fitted to the ground in a ring outside a footprint, on every cell."""
    lo, hi = GRADE_RING_M
    ring = (distance_m > inner_m + lo) & (distance_m <= inner_m + hi)
    a, b, c = fit_plane(grid, ground_m, ring)
    gx, gy = _centres(grid)
    out: FloatArray = a + b * gx + c * gy
    return out


def _polygon_distance(grid: GridSpec, polygon: tuple[Point, ...]) -> FloatArray:
    """0 inside the polygon, distance to its boundary outside, in m."""
    gx, gy = _centres(grid)
    closed = (*polygon, polygon[0])
    d = polyline_distance_m(gx, gy, closed)
    inside = region_weights(grid.shape, grid.cell_size_m, grid.origin_xy_m, polygon, subsamples=1)
    out: FloatArray = np.where(inside > 0.5, 0.0, d)
    return out


@dataclass(frozen=True, slots=True)
class LevelPad:
    """A level pad over a polygon, at ``elevation_m`` or (None) at the level that balances
    cut and fill inside it (the mean of the surveyed ground) less ``below_balance_m``."""

    name: str
    polygon_xy_m: tuple[Point, ...]
    elevation_m: float | None = None
    tolerance_m: float = IN_SPEC_M
    below_balance_m: float = 0.0
    """With no elevation: how far below the balancing level the pad is set, in m (its
    surplus of cut goes to a berm or a spoil area)."""
    kind: Literal["level_pad"] = "level_pad"

    def outline_xy_m(self) -> tuple[Point, ...]:
        return self.polygon_xy_m

    def resolve(self, grid: GridSpec, ground_m: FloatArray) -> ResolvedDesign:
        inside = (
            region_weights(
                grid.shape, grid.cell_size_m, grid.origin_xy_m, self.polygon_xy_m, subsamples=1
            )
            > 0.5
        )
        level = self.elevation_m
        if level is None:
            known = inside & np.isfinite(ground_m)
            if not known.any():
                raise DesignError(f"pad {self.name!r}: no surveyed cell inside it")
            level = float(np.mean(ground_m[known])) - self.below_balance_m
        h = np.where(inside, level, np.nan)
        return ResolvedDesign(self.name, self.kind, grid, h, self.tolerance_m)


@dataclass(frozen=True, slots=True)
class Berm:
    """A berm along a centreline on the grade: a trapezoid across, ``height_m`` tall with a
    ``crest_width_m`` crest and sides at ``side_slope_rad``."""

    name: str
    polyline_xy_m: tuple[Point, ...]
    height_m: float
    crest_width_m: float
    side_slope_rad: float
    tolerance_m: float = 0.05
    kind: Literal["build_berm"] = "build_berm"

    @property
    def half_base_m(self) -> float:
        return 0.5 * self.crest_width_m + self.height_m / math.tan(self.side_slope_rad)

    def outline_xy_m(self) -> tuple[Point, ...]:
        return bounding_box(self.polyline_xy_m, self.half_base_m)

    def resolve(self, grid: GridSpec, ground_m: FloatArray) -> ResolvedDesign:
        gx, gy = _centres(grid)
        d = polyline_distance_m(gx, gy, self.polyline_xy_m)
        grade = _grade(grid, ground_m, d, self.half_base_m)
        rise = np.clip((self.half_base_m - d) * math.tan(self.side_slope_rad), 0.0, self.height_m)
        h = np.where(d <= self.half_base_m, grade + rise, np.nan)
        return ResolvedDesign(self.name, self.kind, grid, h, self.tolerance_m)


@dataclass(frozen=True, slots=True)
class Trench:
    """A trench along a polyline: ``width_m`` wide, its floor ``depth_m`` below the grade."""

    name: str
    polyline_xy_m: tuple[Point, ...]
    width_m: float
    depth_m: float
    tolerance_m: float = 0.05
    kind: Literal["dig_trench"] = "dig_trench"

    def outline_xy_m(self) -> tuple[Point, ...]:
        return bounding_box(self.polyline_xy_m, 0.5 * self.width_m)

    def resolve(self, grid: GridSpec, ground_m: FloatArray) -> ResolvedDesign:
        gx, gy = _centres(grid)
        d = polyline_distance_m(gx, gy, self.polyline_xy_m)
        grade = _grade(grid, ground_m, d, 0.5 * self.width_m)
        h = np.where(d <= 0.5 * self.width_m, grade - self.depth_m, np.nan)
        return ResolvedDesign(self.name, self.kind, grid, h, self.tolerance_m)


@dataclass(frozen=True, slots=True)
class FillCrater:
    """A crater (centre, rim radius) to bring up to the surrounding grade."""

    name: str
    centre_xy_m: Point
    radius_m: float
    tolerance_m: float = IN_SPEC_M
    kind: Literal["fill_crater"] = "fill_crater"

    def outline_xy_m(self) -> tuple[Point, ...]:
        cx, cy = self.centre_xy_m
        r = self.radius_m
        return tuple(
            (cx + r * math.cos(a), cy + r * math.sin(a))
            for a in np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False)
        )

    def resolve(self, grid: GridSpec, ground_m: FloatArray) -> ResolvedDesign:
        gx, gy = _centres(grid)
        d = np.maximum(
            np.hypot(gx - self.centre_xy_m[0], gy - self.centre_xy_m[1]) - self.radius_m, 0.0
        )
        grade = _grade(grid, ground_m, d, 0.0)
        h = np.where(d <= 0.0, grade, np.nan)
        return ResolvedDesign(self.name, self.kind, grid, h, self.tolerance_m)


@dataclass(frozen=True, slots=True)
class ModuleBox:
    """A rigid module standing on the site: centre, sides, yaw and height, in m and rad."""

    name: str
    centre_xy_m: Point
    size_xy_m: Point
    yaw_rad: float
    height_m: float

    def outline_xy_m(self) -> tuple[Point, ...]:
        corners = box_polygon(self.centre_xy_m, self.size_xy_m, self.yaw_rad)
        return tuple((float(x), float(y)) for x, y in corners)


@dataclass(frozen=True, slots=True)
class ShieldModule:
    """Regolith over a module: ``thickness_m`` on top and on every side, then sides down
    to the grade at ``side_slope_rad``."""

    name: str
    module: ModuleBox
    thickness_m: float
    side_slope_rad: float
    tolerance_m: float = 0.05
    kind: Literal["shield_module"] = "shield_module"

    @property
    def reach_m(self) -> float:
        """How far the cover reaches outside the module's walls, in m."""
        top = self.module.height_m + self.thickness_m
        return self.thickness_m + top / math.tan(self.side_slope_rad)

    def outline_xy_m(self) -> tuple[Point, ...]:
        return bounding_box(self.module.outline_xy_m(), self.reach_m)

    def resolve(self, grid: GridSpec, ground_m: FloatArray) -> ResolvedDesign:
        body = self.module.outline_xy_m()
        d = _polygon_distance(grid, body)
        grade = _grade(grid, ground_m, d, self.reach_m)
        base = float(np.nanmean(np.where(d <= 0.0, grade, np.nan)))
        cap = base + self.module.height_m + self.thickness_m
        side = cap - np.maximum(d - self.thickness_m, 0.0) * math.tan(self.side_slope_rad)
        h = np.where(d <= self.reach_m, np.maximum(side, grade), np.nan)
        return ResolvedDesign(self.name, self.kind, grid, h, self.tolerance_m)


Design = LevelPad | Berm | Trench | FillCrater | ShieldModule
"""Any design surface."""


def bounds_xy_m(points: Iterable[Point]) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max) of some points, in m."""
    pts = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def bounding_box(points: Iterable[Point], grow_m: float = 0.0) -> tuple[Point, ...]:
    """Corners (counter-clockwise) of the points' bounding rectangle grown by ``grow_m``
    on every side, in m (for site checks and masks)."""
    x0, x1, y0, y1 = bounds_xy_m(points)
    x0, x1, y0, y1 = x0 - grow_m, x1 + grow_m, y0 - grow_m, y1 + grow_m
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
