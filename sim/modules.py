"""Rigid modules standing in the soil: a habitat mock-up on a levelled spot.

A module is a box of footprint ``size_xy_m`` turned by ``yaw_rad`` about its centre and
``height_m`` tall. :func:`place_module` stands it on a :class:`SoilGrid`:

1. Levelling. Over the footprint grown by :data:`LEVEL_MARGIN_M` on every side (minus any
   module already standing there) the surface is set to the mean height of that region.
   The region's loose soil is kept in full and spread evenly over the ring around the
   footprint; the module stands on native soil (loose 0). Both the sum of heights and the
   sum of loose thickness over the region are unchanged, so the soil mass is too (to
   round-off).
2. The floor. In the footprint the surface becomes the level plus ``height_m`` and the
   bedrock (:attr:`SoilGrid.bedrock_m`) is raised to that top: cuts, wheel sinkage and
   slumping never go below it, soil dropped on it stays on it and slumps off its edges at
   the angle of repose like any soil. A grid without bedrock gets one
   :data:`NO_FLOOR_BELOW_DATUM_M` below its datum everywhere else (no floor within reach).
3. Mass. :attr:`SoilGrid.solid_m` holds ``height_m`` in the footprint: the grid's mass and
   volume leave it out, so the per-cell soil mass is regolith only.

Footprint cells are the samples whose centres, turned into the module's frame, lie inside
the box (edges included, to :data:`EDGE_TOLERANCE_M`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from .soil import SoilGrid
from .soil_boxes import Box
from .soil_config import SoilError

if TYPE_CHECKING:
    from pybullet_utils.bullet_client import BulletClient

__all__ = [
    "EDGE_TOLERANCE_M",
    "LEVEL_MARGIN_M",
    "NO_FLOOR_BELOW_DATUM_M",
    "PlacedModule",
    "add_module_visual",
    "footprint_mask",
    "place_module",
]

log = logging.getLogger(__name__)

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

LEVEL_MARGIN_M = 0.3
"""The levelled spot reaches this far past the footprint on every side, in m."""
EDGE_TOLERANCE_M = 1e-6
"""A sample this close to a footprint edge (m) counts as inside (grid-aligned boxes)."""
MODULE_COLOR_RGBA = (0.85, 0.85, 0.88, 1.0)
"""Colour of a module's visual box (GUI)."""
NO_FLOOR_BELOW_DATUM_M = 1000.0
"""A grid without bedrock gets a floor this far below its datum outside modules, in m:
finite, so bilinear reads of the floor never mix infinities."""


@dataclass(frozen=True, slots=True)
class PlacedModule:
    """A module standing in the soil (ground truth)."""

    centre_xy_m: tuple[float, float]
    size_xy_m: tuple[float, float]
    yaw_rad: float
    height_m: float
    level_m: float
    """Height of the levelled spot it stands on, in m."""
    footprint: IntArray
    """Flat indices of the soil samples under it."""
    box: Box
    """Bounding box of the samples that were levelled (footprint and ring)."""

    @property
    def top_m(self) -> float:
        """Height of its top, in m."""
        return self.level_m + self.height_m


def footprint_mask(
    grid: SoilGrid,
    centre_xy_m: tuple[float, float],
    size_xy_m: tuple[float, float],
    yaw_rad: float,
    grow_m: float = 0.0,
) -> BoolArray:
    """Samples inside a box turned by ``yaw_rad`` and grown by ``grow_m`` on every side."""
    ny, nx = grid.shape
    ox, oy = grid.origin_xy_m
    dx = ox + np.arange(nx) * grid.cell_size_m - centre_xy_m[0]
    dy = oy + np.arange(ny) * grid.cell_size_m - centre_xy_m[1]
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    # Site offsets turned into the box frame (rotation by -yaw).
    u = c * dx[None, :] + s * dy[:, None]
    v = -s * dx[None, :] + c * dy[:, None]
    half_u = 0.5 * size_xy_m[0] + grow_m + EDGE_TOLERANCE_M
    half_v = 0.5 * size_xy_m[1] + grow_m + EDGE_TOLERANCE_M
    return np.asarray((np.abs(u) <= half_u) & (np.abs(v) <= half_v), dtype=np.bool_)


def _corners(
    centre_xy_m: tuple[float, float], size_xy_m: tuple[float, float], yaw_rad: float
) -> list[tuple[float, float]]:
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    out = []
    for su in (-0.5, 0.5):
        for sv in (-0.5, 0.5):
            u, v = su * size_xy_m[0], sv * size_xy_m[1]
            out.append((centre_xy_m[0] + c * u - s * v, centre_xy_m[1] + s * u + c * v))
    return out


def _check(
    grid: SoilGrid,
    centre_xy_m: tuple[float, float],
    size_xy_m: tuple[float, float],
    yaw_rad: float,
    height_m: float,
) -> None:
    what = (
        f"module at ({centre_xy_m[0]:.3f}, {centre_xy_m[1]:.3f}) m, "
        f"{size_xy_m[0]:.3f} × {size_xy_m[1]:.3f} m"
    )
    values = (*centre_xy_m, *size_xy_m, yaw_rad, height_m)
    if not all(math.isfinite(float(x)) for x in values):
        raise SoilError(f"{what}: centre, size, yaw and height must be finite, got {values}")
    if not height_m > 0.0:
        raise SoilError(f"{what}: height_m must be positive, got {height_m}")
    if not (size_xy_m[0] > 0.0 and size_xy_m[1] > 0.0):
        raise SoilError(f"{what}: size_xy_m must be positive, got {size_xy_m}")
    ny, nx = grid.shape
    ox, oy = grid.origin_xy_m
    x1, y1 = ox + (nx - 1) * grid.cell_size_m, oy + (ny - 1) * grid.cell_size_m
    tol = EDGE_TOLERANCE_M
    for x, y in _corners(centre_xy_m, size_xy_m, yaw_rad):
        if not (ox - tol <= x <= x1 + tol and oy - tol <= y <= y1 + tol):
            raise SoilError(
                f"{what}, yaw {math.degrees(yaw_rad):.1f}°: footprint corner "
                f"({x:.3f}, {y:.3f}) m is off the soil grid "
                f"[{ox:.3f}, {x1:.3f}] × [{oy:.3f}, {y1:.3f}] m"
            )


def place_module(
    grid: SoilGrid,
    centre_xy_m: tuple[float, float],
    size_xy_m: tuple[float, float],
    yaw_rad: float,
    height_m: float,
    *,
    max_top_m: float = math.inf,
) -> PlacedModule:
    """Level a spot and stand a rigid module on it (see the module doc).

    Raises :class:`SoilError` when the footprint is not fully on the grid, covers no
    sample, overlaps a module already placed, when ``height_m`` is not positive, or when
    the module's top would be above ``max_top_m``. Marks the levelled region changed (the
    caller relaxes it and refreshes the collision surface).
    """
    centre = (float(centre_xy_m[0]), float(centre_xy_m[1]))
    size = (float(size_xy_m[0]), float(size_xy_m[1]))
    yaw, height = float(yaw_rad), float(height_m)
    _check(grid, centre, size, yaw, height)
    foot = footprint_mask(grid, centre, size, yaw)
    if not foot.any():
        raise SoilError(
            f"module footprint {size[0]:.3f} × {size[1]:.3f} m at ({centre[0]:.3f}, "
            f"{centre[1]:.3f}) m covers no soil sample (cell {grid.cell_size_m} m)"
        )
    taken = grid.solid_m > 0.0
    if np.any(foot & taken):
        raise SoilError(
            f"module footprint at ({centre[0]:.3f}, {centre[1]:.3f}) m overlaps a module "
            "placed before"
        )
    region = footprint_mask(grid, centre, size, yaw, LEVEL_MARGIN_M) & ~taken
    ring = region & ~foot
    if not ring.any():
        raise SoilError(
            f"module footprint at ({centre[0]:.3f}, {centre[1]:.3f}) m leaves no soil "
            "around it to level"
        )
    h, lz = grid.heights_m, grid.loose_m
    level = float(h[region].mean())
    top = level + height
    if top > max_top_m:
        raise SoilError(
            f"module top {top:.3f} m is above the collision surface's height range "
            f"(≤ {max_top_m:.3f} m); raise SoilConfig.height_margin_m"
        )
    loose_total = float(lz[region].sum())
    h[region] = level
    lz[foot] = 0.0
    lz[ring] = loose_total / int(ring.sum())
    grid.sunk_m[region] = 0.0
    if grid.bedrock_m is None:
        grid.bedrock_m = np.full_like(h, grid.datum_m - NO_FLOOR_BELOW_DATUM_M)
    floor = grid.bedrock_m
    # Levelling may lower a column's native soil below its old bedrock: lower the floor.
    below = ring & (h - lz < floor)
    if below.any():
        log.info("levelling for a module lowered the bedrock under %d samples", int(below.sum()))
        floor[below] = (h - lz)[below]
    h[foot] += height
    floor[foot] = h[foot]
    grid.solid_m[foot] = height
    j, i = np.nonzero(region)
    box = Box(int(j.min()), int(j.max()) + 1, int(i.min()), int(i.max()) + 1)
    grid.mark_changed(box.grown(1, grid.shape))
    log.info(
        "module %.3f × %.3f × %.3f m at (%.3f, %.3f) m, yaw %.1f°: %d samples on a spot "
        "levelled at %.4f m",
        size[0],
        size[1],
        height,
        centre[0],
        centre[1],
        math.degrees(yaw),
        int(foot.sum()),
        level,
    )
    return PlacedModule(
        centre_xy_m=centre,
        size_xy_m=size,
        yaw_rad=yaw,
        height_m=height,
        level_m=level,
        footprint=np.flatnonzero(foot),
        box=box,
    )


def add_module_visual(client: BulletClient, module: PlacedModule) -> int:
    """A visual-only box where a module stands, for the GUI; returns its body.

    It collides with nothing: the module's collision surface is the soil heightfield.
    """
    sx, sy = module.size_xy_m
    vis = client.createVisualShape(
        pb.GEOM_BOX,
        halfExtents=[0.5 * sx, 0.5 * sy, 0.5 * module.height_m],
        rgbaColor=list(MODULE_COLOR_RGBA),
    )
    return int(
        client.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=-1,
            baseVisualShapeIndex=vis,
            basePosition=[*module.centre_xy_m, module.level_m + 0.5 * module.height_m],
            baseOrientation=client.getQuaternionFromEuler([0.0, 0.0, module.yaw_rad]),
        )
    )
