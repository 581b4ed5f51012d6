"""The soil's collision surface in PyBullet: heightfield tiles sharing their border samples.

- :class:`TiledHeightfield` covers the soil grid with heightfield tiles that share their
  border samples; an update replaces in place only the tiles whose samples changed, and
  refreshes their resting contacts (collision mask 0, ``performCollisionDetection``, mask
  back; reference/SIM.md);
- each tile's height range is pinned at creation (one corner at the lowest, one at the
  highest height allowed), because Bullet keeps the centring offset of the first data
  (bullet3 issues #4200, #4236); soil outside the range is clipped in the collision
  surface only, with a warning;
- :func:`resample_terrain` brings the terrain's heights to the soil cell.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from .heightfield import heightfield_body
from .soil_config import SoilError

if TYPE_CHECKING:
    from pybullet_utils.bullet_client import BulletClient

    from .terrain import Terrain

__all__ = ["TiledHeightfield", "resample_terrain"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

_STATIC_GROUP = 2
_STATIC_MASK = -1 ^ 2
"""Collision filter group and mask PyBullet gives a fixed (mass 0) body: Bullet's
StaticFilter, colliding with everything but other static bodies. Restored after a contact
refresh; group 1 / mask -1 would make the tile collide with walls and beacons, adding
static-static contacts that the solver then works through on every step."""
_STILL_SPEED_MPS = 0.02
"""A body touching a replaced tile slower than this (m/s, its base speed plus its turn rate
times ``_STILL_REACH_M``) gets its contact points refreshed: at 2 cm/s it takes a second
to travel Bullet's 2 cm contact-breaking distance and shed stale points by itself."""
_STILL_REACH_M = 0.5
"""Lever arm (m) turning a body's angular speed into the speed of its contacts (a rover's
wheels sit about this far from its centre)."""


def resample_terrain(
    terrain: Terrain, cell_size_m: float
) -> tuple[FloatArray, tuple[float, float]]:
    """Terrain heights bilinearly resampled to ``cell_size_m`` over the same extent.

    Returns the grid and its origin. The grid keeps whole cells: its far edge may fall
    short of the terrain's by less than one cell.
    """
    sx, sy = terrain.size_xy_m
    nx = math.floor(sx / cell_size_m + 1e-9) + 1
    ny = math.floor(sy / cell_size_m + 1e-9) + 1
    if nx < 2 or ny < 2:
        raise SoilError(f"soil cell {cell_size_m} m is larger than the terrain ({sx} × {sy} m)")
    ox, oy = terrain.origin_xy_m
    fx = np.arange(nx) * cell_size_m / terrain.cell_size_m
    fy = np.arange(ny) * cell_size_m / terrain.cell_size_m
    tny, tnx = terrain.shape
    i = np.minimum(np.floor(fx).astype(np.intp), tnx - 2)
    j = np.minimum(np.floor(fy).astype(np.intp), tny - 2)
    tx = np.clip(fx - i, 0.0, 1.0)[None, :]
    ty = np.clip(fy - j, 0.0, 1.0)[:, None]
    h = terrain.heights_m
    south = (1 - tx) * h[j][:, i] + tx * h[j][:, i + 1]
    north = (1 - tx) * h[j + 1][:, i] + tx * h[j + 1][:, i + 1]
    return np.asarray((1 - ty) * south + ty * north, dtype=np.float64), (ox, oy)


@dataclass
class _Tile:
    j0: int
    j1: int  # inclusive last collision row
    i0: int
    i1: int  # inclusive last collision column
    shape_id: int
    body: int


class TiledHeightfield:
    """A collision surface made of heightfield tiles that share their border samples.

    Args:
        client: the world's PyBullet client.
        heights_m: collision samples, shape (ny, nx), in m.
        cell_size_m: collision sample spacing, in m.
        origin_xy_m: position of sample (0, 0), in m.
        z_range_m: (lowest, highest) height the tiles will ever hold, pinned at creation.
        tile_cells: cells per tile side (a tile has ``tile_cells + 1`` samples a side).
    """

    def __init__(
        self,
        client: BulletClient,
        heights_m: FloatArray,
        cell_size_m: float,
        origin_xy_m: tuple[float, float],
        z_range_m: tuple[float, float],
        tile_cells: int,
        *,
        rgba: tuple[float, float, float, float],
        friction: float,
    ) -> None:
        self._c = client
        self.heights_m = np.array(heights_m, dtype=np.float64, copy=True)
        self.cell_size_m = cell_size_m
        self.origin_xy_m = origin_xy_m
        self.z_lo, self.z_hi = z_range_m
        ny, nx = self.heights_m.shape
        self.tiles: list[_Tile] = []
        self._clip_warned = False
        starts_j = list(range(0, max(1, ny - 1), tile_cells))
        starts_i = list(range(0, max(1, nx - 1), tile_cells))
        for j0 in starts_j:
            for i0 in starts_i:
                j1 = min(j0 + tile_cells, ny - 1)
                i1 = min(i0 + tile_cells, nx - 1)
                self.tiles.append(self._create(j0, j1, i0, i1, rgba, friction))
        self.bodies = tuple(t.body for t in self.tiles)
        self._tile_rows = starts_j
        self._tile_cols = starts_i
        self._tile_cells = tile_cells
        self.contact_refreshes = 0
        """Tiles whose resting contacts were refreshed after a replacement."""

    def _data(self, t: _Tile) -> FloatArray:
        block = self.heights_m[t.j0 : t.j1 + 1, t.i0 : t.i1 + 1]
        clipped = np.clip(block, self.z_lo, self.z_hi)
        if not self._clip_warned and not np.array_equal(clipped, block):
            self._clip_warned = True
            log.warning(
                "soil heights outside the pinned collision range [%.3f, %.3f] m were clipped",
                self.z_lo,
                self.z_hi,
            )
        return np.ascontiguousarray(clipped)

    def _create(
        self, j0: int, j1: int, i0: int, i1: int, rgba: tuple[float, ...], friction: float
    ) -> _Tile:
        c = self._c
        tile = _Tile(j0, j1, i0, i1, -1, -1)
        data = self._data(tile)
        pinned = data.copy()
        pinned[0, 0] = self.z_lo
        pinned[-1, -1] = self.z_hi
        cell = self.cell_size_m
        # Pinned to the range the tile will ever hold: its centre height never moves.
        shape, body = heightfield_body(c, pinned, cell, self.origin_xy_m, (i0, j0))
        c.changeVisualShape(body, -1, rgbaColor=list(rgba))
        c.changeDynamics(body, -1, lateralFriction=friction, restitution=0.0)
        tile.shape_id, tile.body = shape, body
        self._replace(tile)
        return tile

    def _replace(self, tile: _Tile) -> None:
        data = self._data(tile)
        rows, cols = data.shape
        self._c.createCollisionShape(
            pb.GEOM_HEIGHTFIELD,
            meshScale=[self.cell_size_m, self.cell_size_m, 1.0],
            heightfieldData=data.ravel().tolist(),
            numHeightfieldRows=cols,
            numHeightfieldColumns=rows,
            replaceHeightfieldIndex=tile.shape_id,
        )

    def update(
        self, rows: slice, cols: slice, values_m: FloatArray, *, tolerance_m: float = 0.0
    ) -> int:
        """Write collision samples and replace the tiles where a sample moved by more than
        ``tolerance_m``; returns how many tiles were replaced."""
        old = self.heights_m[rows, cols]
        moved = np.abs(values_m - old) > tolerance_m
        if not moved.any():
            return 0
        self.heights_m[rows, cols] = np.where(moved, values_m, old)
        mj, mi = np.nonzero(moved)
        j0, j1 = rows.start + int(mj.min()), rows.start + int(mj.max())
        i0, i1 = cols.start + int(mi.min()), cols.start + int(mi.max())
        touched = [
            t
            for t in self.tiles
            if t.j0 <= j1
            and j0 <= t.j1
            and t.i0 <= i1
            and i0 <= t.i1
            and moved[
                max(t.j0, j0) - rows.start : min(t.j1, j1) + 1 - rows.start,
                max(t.i0, i0) - cols.start : min(t.i1, i1) + 1 - cols.start,
            ].any()
        ]
        for t in touched:
            self._replace(t)
        cell, (ox, oy) = self.cell_size_m, self.origin_xy_m
        # Contacts within a cell of a moved sample stand on changed ground.
        changed_xy = (
            ox + (i0 - 1) * cell,
            oy + (j0 - 1) * cell,
            ox + (i1 + 1) * cell,
            oy + (j1 + 1) * cell,
        )
        self._refresh_contacts(touched, changed_xy)
        return len(touched)

    def _refresh_contacts(
        self, tiles: list[_Tile], changed_xy: tuple[float, float, float, float]
    ) -> None:
        """Bodies standing still on a replaced tile keep stale contact points and float
        (reference/SIM.md): drop them (collision mask 0, collision detection, mask back).

        Only tiles where a body moving slower than ``_STILL_SPEED_MPS`` touches ground
        inside ``changed_xy`` (x0, y0, x1, y1, in m) are refreshed. A moving body sheds its
        old contact points by itself within a contact-breaking distance of travel, and the
        refresh is not free: it puts the tile back into the broadphase, which made the next
        physics steps cost ~60% more in dig_and_dump when every replaced tile was refreshed.
        """
        c = self._c
        still = [t for t in tiles if self._still_contact_in(t.body, changed_xy)]
        if not still:
            return
        for t in still:
            c.setCollisionFilterGroupMask(t.body, -1, _STATIC_GROUP, 0)
        c.performCollisionDetection()
        for t in still:
            c.setCollisionFilterGroupMask(t.body, -1, _STATIC_GROUP, _STATIC_MASK)
        self.contact_refreshes += len(still)

    def _still_contact_in(self, tile_body: int, xy: tuple[float, float, float, float]) -> bool:
        c = self._c
        x0, y0, x1, y1 = xy
        inside = {
            cp[2]
            for cp in c.getContactPoints(bodyA=tile_body)
            if x0 <= cp[5][0] <= x1 and y0 <= cp[5][1] <= y1
        }
        for other in inside:
            lin, ang = c.getBaseVelocity(other)
            speed = math.hypot(*lin) + _STILL_REACH_M * math.hypot(*ang)
            if speed < _STILL_SPEED_MPS:
                return True
        return False
