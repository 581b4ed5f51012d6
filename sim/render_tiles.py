"""The terrain the rover's own camera renders: only the tiles in its view, coarser far off.

PyBullet's TinyRenderer transforms and clips every triangle of every visible shape on
each picture, whether or not it lands in the image: on a 20 × 20 m site at 5 cm cells
(320,000 triangles) that alone is ~55 ms a frame on this machine, against ~11 ms to fill
a 320 × 240 image with ground. A shape whose colour has zero alpha is skipped outright.
So for the rover's camera the terrain is drawn as tiles, and before each frame:

- a tile whose box lies wholly outside the camera's view frustum (behind it, beside it,
  beyond its far plane) is hidden;
- on rigid ground, a tile more than ``fine_radius_m`` from the camera is drawn from every
  ``coarse_stride``-th sample instead (20 cm cells at 5 m and beyond: the ground there
  spans a few pixels a cell, and a stereo camera's own depth error at that range is
  over 10 cm (σz = z²·σd / (f·B))).

After the frame every tile is put back as it was, so other pictures (the chase camera,
the lunar view, the GUI) see the whole terrain. Measured here (2 cores), 320 × 240: on a
401 × 401 random heightfield, 80 ms a frame drawn whole, 47 ms culled, 23–27 ms culled
and coarse beyond 4 m; in ``lunarsite bench sim``'s traverse (201 × 201 samples, 10 cm),
30 ms a frame whole against 17.5 ms culled. What is left is filling the image (~8–11 ms
for ground from edge to edge) and the rover's own body.

On rigid ground the tiles are extra bodies that collide with nothing (collision group and
mask 0: contacts and ray casts never see them) and the single collision heightfield is
drawn transparent. On deformable soil the collision tiles themselves are culled (they
always show the soil as it is now) and none is drawn coarse.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from .heightfield import heightfield_body

if TYPE_CHECKING:
    from pybullet_utils.bullet_client import BulletClient

    from .soil_heightfield import TiledHeightfield

__all__ = ["RenderTiles"]

FloatArray = npt.NDArray[np.float64]

TILE_CELLS: Final = 40
"""Cells per side of a rigid-ground render tile (2 m at 5 cm)."""
FINE_RADIUS_M: Final = 5.0
"""Tiles nearer the camera than this (in x-y, to the tile's nearest edge) are drawn at
full resolution, in m."""
COARSE_STRIDE: Final = 4
"""A far tile is drawn from every this-many-th sample."""


RGBA = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class _Tile:
    fine: int
    coarse: int | None
    x0_m: float
    x1_m: float
    y0_m: float
    y1_m: float
    z0_m: float
    z1_m: float

    def corners(self) -> FloatArray:
        return np.array(
            [
                [x, y, z, 1.0]
                for x in (self.x0_m, self.x1_m)
                for y in (self.y0_m, self.y1_m)
                for z in (self.z0_m, self.z1_m)
            ]
        )


def _heightfield(
    client: BulletClient, data: FloatArray, cell_m: float, x0_m: float, y0_m: float, rgba: RGBA
) -> int:
    """A plain heightfield body of ``data`` in ``rgba``, drawn only: it collides with
    nothing."""
    _, body = heightfield_body(client, data, cell_m, (x0_m, y0_m))
    client.setCollisionFilterGroupMask(body, -1, 0, 0)
    client.changeVisualShape(body, -1, rgbaColor=list(rgba), textureUniqueId=-1)
    return body


def frustum_planes(view: Sequence[float], projection: Sequence[float]) -> FloatArray:
    """The six planes (a, b, c, d) of a camera's view frustum, inside where a·x + b·y +
    c·z + d ≥ 0, from PyBullet's column-major view and projection matrices (Gribb and
    Hartmann's extraction from the clip matrix)."""
    m = (
        np.asarray(projection, dtype=np.float64).reshape(4, 4).T
        @ np.asarray(view, dtype=np.float64).reshape(4, 4).T
    )
    return np.array([m[3] + m[0], m[3] - m[0], m[3] + m[1], m[3] - m[1], m[3] + m[2], m[3] - m[2]])


class RenderTiles:
    """The terrain as tiles for the rover's camera (module docstring); build with
    :meth:`rigid` or :meth:`soil`."""

    def __init__(
        self,
        client: BulletClient,
        tiles: list[_Tile],
        rgba: RGBA,
        hidden_bodies: Sequence[int] = (),
        *,
        fine_radius_m: float = FINE_RADIUS_M,
    ) -> None:
        self._c = client
        self.tiles = tiles
        self._shown = list(rgba)
        self._hidden = [rgba[0], rgba[1], rgba[2], 0.0]
        self.fine_radius_m = fine_radius_m
        self._corners = np.stack([t.corners() for t in tiles]) if tiles else np.zeros((0, 8, 4))
        for body in hidden_bodies:
            client.changeVisualShape(body, -1, rgbaColor=[1.0, 1.0, 1.0, 0.0])
        for t in tiles:
            if t.coarse is not None:
                self._set(t.coarse, False)
        self.drawn_last = 0
        """Tiles drawn in the last culled frame (fine or coarse)."""

    @classmethod
    def rigid(
        cls,
        client: BulletClient,
        heights_m: FloatArray,
        cell_size_m: float,
        origin_xy_m: tuple[float, float],
        collision_body: int,
        rgba: RGBA,
        *,
        tile_cells: int = TILE_CELLS,
        coarse_stride: int = COARSE_STRIDE,
    ) -> RenderTiles:
        """Render tiles over a rigid heightfield, the collision body drawn transparent."""
        ny, nx = heights_m.shape
        tiles: list[_Tile] = []
        for j0 in range(0, max(1, ny - 1), tile_cells):
            for i0 in range(0, max(1, nx - 1), tile_cells):
                block = heights_m[j0 : j0 + tile_cells + 1, i0 : i0 + tile_cells + 1]
                x0 = origin_xy_m[0] + i0 * cell_size_m
                y0 = origin_xy_m[1] + j0 * cell_size_m
                fine = _heightfield(client, block, cell_size_m, x0, y0, rgba)
                coarse = None
                rows, cols = block.shape
                if (rows - 1) % coarse_stride == 0 and (cols - 1) % coarse_stride == 0:
                    sparse = block[::coarse_stride, ::coarse_stride]
                    coarse_cell = cell_size_m * coarse_stride
                    coarse = _heightfield(client, sparse, coarse_cell, x0, y0, rgba)
                tiles.append(
                    _Tile(
                        fine,
                        coarse,
                        x0,
                        x0 + (cols - 1) * cell_size_m,
                        y0,
                        y0 + (rows - 1) * cell_size_m,
                        float(block.min()),
                        float(block.max()),
                    )
                )
        return cls(client, tiles, rgba, (collision_body,))

    @classmethod
    def soil(cls, client: BulletClient, field: TiledHeightfield, rgba: RGBA) -> RenderTiles:
        """The soil's own collision tiles, culled, never coarse (they follow the soil)."""
        ox, oy = field.origin_xy_m
        cell = field.cell_size_m
        tiles = [
            _Tile(
                t.body,
                None,
                ox + t.i0 * cell,
                ox + t.i1 * cell,
                oy + t.j0 * cell,
                oy + t.j1 * cell,
                field.z_lo,
                field.z_hi,
            )
            for t in field.tiles
        ]
        return cls(client, tiles, rgba)

    def _set(self, body: int, shown: bool) -> None:
        self._c.changeVisualShape(body, -1, rgbaColor=self._shown if shown else self._hidden)

    @contextmanager
    def culled(
        self, view: Sequence[float], projection: Sequence[float], eye_xy_m: tuple[float, float]
    ) -> Iterator[None]:
        """Within the block, only the tiles the camera can see are drawn, far ones coarse;
        afterwards every tile is drawn whole again."""
        planes = frustum_planes(view, projection)
        signed = self._corners @ planes.T  # (tiles, corners, planes)
        outside = np.all(signed < 0.0, axis=1).any(axis=1)
        changed: list[_Tile] = []
        drawn = 0
        ex, ey = eye_xy_m
        try:
            for t, out in zip(self.tiles, outside, strict=True):
                if out:
                    self._set(t.fine, False)
                    changed.append(t)
                    continue
                drawn += 1
                far = math.hypot(
                    max(t.x0_m - ex, 0.0, ex - t.x1_m), max(t.y0_m - ey, 0.0, ey - t.y1_m)
                )
                if t.coarse is not None and far > self.fine_radius_m:
                    self._set(t.fine, False)
                    self._set(t.coarse, True)
                    changed.append(t)
            self.drawn_last = drawn
            yield
        finally:
            for t in changed:
                self._set(t.fine, True)
                if t.coarse is not None:
                    self._set(t.coarse, False)
