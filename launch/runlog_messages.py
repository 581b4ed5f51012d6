"""Foxglove messages from the stack's values, for the run log (:mod:`~.runlog`).

Times are run time in s, written as ns; positions in m in the ``site`` frame unless a
frame is named; grids laid out as :class:`~lunarsite.robot.site.grid.GridSpec` (row 0 at
the south edge), which is Foxglove's: rows along +y from the grid's corner.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from foxglove.messages import (
    Grid,
    PackedElementField,
    PackedElementFieldNumericType,
    PointCloud,
    Pose,
    Quaternion,
    Timestamp,
    Vector2,
    Vector3,
)

from lunarsite.robot.site.grid import GridSpec

__all__ = [
    "QUANTUM_M",
    "coarsened",
    "grid_message",
    "log_time_ns",
    "planar_pose",
    "point_cloud",
    "position_rotation",
    "quantized",
    "same_array",
    "stamp_at",
]

NS_PER_S = 1_000_000_000
QUANTUM_M = 2.0**-10
"""Heights and scan points are written rounded to this (±0.5 mm: below the scanner's
noise and the grids' resolution), so that their float32 bits compress (by ~4 on a
height grid, ~2 on a scan); the .npy files of the run folder keep full precision."""


def log_time_ns(t_s: float) -> int:
    return max(0, round(t_s * NS_PER_S))


def stamp_at(t_s: float) -> Timestamp:
    ns = log_time_ns(t_s)
    return Timestamp(ns // NS_PER_S, ns % NS_PER_S)


def position_rotation(
    x: float, y: float, z: float, roll: float, pitch: float, yaw: float
) -> tuple[Vector3, Quaternion]:
    """A position in m and a rotation from Euler angles in rad (R = Rz·Ry·Rx, PyBullet's)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    q = Quaternion(
        x=sr * cp * cy - cr * sp * sy,
        y=cr * sp * cy + sr * cp * sy,
        z=cr * cp * sy - sr * sp * cy,
        w=cr * cp * cy + sr * sp * sy,
    )
    return Vector3(x=x, y=y, z=z), q


def planar_pose(x: float, y: float, yaw: float = 0.0) -> Pose:
    """A pose in the x-y plane: position in m, heading in rad."""
    position, rotation = position_rotation(x, y, 0.0, 0.0, 0.0, yaw)
    return Pose(position=position, orientation=rotation)


def grid_message(t_s: float, spec: GridSpec, layers: Mapping[str, npt.NDArray[Any]]) -> Grid:
    """A Foxglove grid of ``layers`` (arrays of ``spec.shape``, interleaved per cell in
    the given order), its corner at the south-west edge of cell [0, 0]."""
    types = {
        np.dtype(np.float32): PackedElementFieldNumericType.Float32,
        np.dtype(np.uint8): PackedElementFieldNumericType.Uint8,
    }
    dtype = np.dtype([(name, a.dtype.newbyteorder("<")) for name, a in layers.items()])
    cells = np.empty(spec.shape, dtype=dtype)
    for name, a in layers.items():
        if a.shape != spec.shape:
            raise ValueError(f"grid layer {name!r} has shape {a.shape}, the grid {spec.shape}")
        cells[name] = a
    offsets = {name: int(dtype.fields[name][1]) for name in layers} if dtype.fields else {}
    fields = [
        PackedElementField(name=name, offset=offsets[name], type=types[a.dtype])
        for name, a in layers.items()
    ]
    half = 0.5 * spec.cell_size_m
    corner = planar_pose(spec.origin_xy_m[0] - half, spec.origin_xy_m[1] - half)
    nx = spec.shape[1]
    return Grid(
        timestamp=stamp_at(t_s),
        frame_id="site",
        pose=corner,
        column_count=nx,
        cell_size=Vector2(x=spec.cell_size_m, y=spec.cell_size_m),
        row_stride=nx * dtype.itemsize,
        cell_stride=dtype.itemsize,
        fields=fields,
        data=cells.tobytes(),
    )


def coarsened(
    heights_m: npt.NDArray[np.float64], grid: GridSpec, max_cells: int
) -> tuple[npt.NDArray[np.float64], GridSpec]:
    """``heights_m`` as the means of k × k blocks of cells (the least k that leaves at most
    ``max_cells``; blocks cut by the north and east edges average the cells they hold),
    and the grid of the blocks."""
    ny, nx = grid.shape
    k = max(1, math.ceil(math.sqrt(ny * nx / max_cells)))
    if k == 1:
        return heights_m, grid
    padded = np.pad(heights_m, ((0, -ny % k), (0, -nx % k)), constant_values=np.nan)
    blocks = padded.reshape(padded.shape[0] // k, k, padded.shape[1] // k, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a block of NaN stays NaN
        means = np.nanmean(blocks, axis=(1, 3))
    shift = 0.5 * (k - 1) * grid.cell_size_m
    origin = (grid.origin_xy_m[0] + shift, grid.origin_xy_m[1] + shift)
    return means, GridSpec(origin, k * grid.cell_size_m, means.shape)


def quantized(values_m: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """``values_m`` rounded to :data:`QUANTUM_M`, as little-endian float32 (NaN kept)."""
    return (np.round(values_m / QUANTUM_M) * QUANTUM_M).astype("<f4")


def same_array(a: npt.NDArray[np.float64] | None, b: npt.NDArray[np.float64] | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b))


def point_cloud(t_s: float, frame_id: str, points_m: npt.NDArray[np.float64]) -> PointCloud:
    """Points (N, 3) in ``frame_id`` as x, y, z float32, rounded to :data:`QUANTUM_M`."""
    f32 = PackedElementFieldNumericType.Float32
    fields = [PackedElementField(name=n, offset=4 * k, type=f32) for k, n in enumerate("xyz")]
    return PointCloud(
        timestamp=stamp_at(t_s),
        frame_id=frame_id,
        pose=planar_pose(0.0, 0.0),
        point_stride=12,
        fields=fields,
        data=quantized(points_m).tobytes(),
    )
