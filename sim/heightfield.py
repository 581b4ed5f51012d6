"""One PyBullet heightfield body from a grid of heights (the terrain, the soil's tiles, the
camera's render tiles share it).

PyBullet's heightfield wants ``numHeightfieldRows`` = samples along x and
``numHeightfieldColumns`` = samples along y, its data row-major with y outer (the grid
convention of :mod:`.terrain`), and centres the field on the body's origin in x and y and
on (min + max) / 2 in z.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .quiet import c_stdout_silenced

with c_stdout_silenced():
    import pybullet as pb

if TYPE_CHECKING:
    from pybullet_utils.bullet_client import BulletClient

__all__ = ["heightfield_body"]


def heightfield_body(
    client: BulletClient,
    heights_m: npt.NDArray[np.float64],
    cell_size_m: float,
    origin_xy_m: tuple[float, float],
    first_index: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """A static heightfield body of ``heights_m`` (shape (ny, nx)), the block of a larger
    grid whose sample (0, 0) lies at ``origin_xy_m`` that starts at its sample
    ``first_index`` (column, row); returns (collision shape id, body id)."""
    rows, cols = heights_m.shape
    shape = int(
        client.createCollisionShape(
            pb.GEOM_HEIGHTFIELD,
            meshScale=[cell_size_m, cell_size_m, 1.0],
            heightfieldData=np.ascontiguousarray(heights_m, dtype=np.float64).ravel().tolist(),
            numHeightfieldRows=cols,
            numHeightfieldColumns=rows,
        )
    )
    x0, y0 = origin_xy_m
    i0, j0 = first_index
    body = int(
        client.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=shape,
            basePosition=[
                x0 + (i0 + 0.5 * (cols - 1)) * cell_size_m,
                y0 + (j0 + 0.5 * (rows - 1)) * cell_size_m,
                0.5 * (float(heights_m.min()) + float(heights_m.max())),
            ],
        )
    )
    return shape, body
