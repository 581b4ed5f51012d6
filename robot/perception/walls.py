"""A position fix on the walls of a rectangular arena from one level range scan.

The Lunabotics arena is walled and its walls are surveyed; a rover that sees them with a
level scanner can pin its position and heading on them (:func:`fit_walls`).
"""

from __future__ import annotations

import math

import numpy as np

from ..types import Pose2, wrap_angle
from .mapping import RangeScan

__all__ = ["fit_walls"]


def fit_walls(
    pose: Pose2,
    scan: RangeScan,
    size_xy_m: tuple[float, float],
    *,
    min_points: int = 15,
) -> Pose2 | None:
    """The pose that puts a level range scan's returns on the walls of a rectangular site
    ``[0, size_x] × [0, size_y]``, starting from ``pose``; None without enough returns on
    at least one wall of each direction.

    Each return is assigned to the wall nearest to where ``pose`` puts it, and returns far
    from every wall (the rover's own bucket, a pile) are dropped; the position and heading
    correction then solve a linear least-squares problem (three passes, tightening the
    gate from 0.6 m to 0.15 m).
    """
    d = np.asarray(scan.directions, dtype=np.float64)
    r = np.asarray(scan.ranges_m, dtype=np.float64)
    ok = np.isfinite(r) & (np.abs(d[:, 2]) < 0.2)
    if np.count_nonzero(ok) < 2 * min_points:
        return None
    ox, oy, _ = scan.origin_xyz_m
    local = np.column_stack([ox + r[ok] * d[ok, 0], oy + r[ok] * d[ok, 1]])
    sx, sy = size_xy_m
    x, y, yaw = pose.x_m, pose.y_m, pose.yaw_rad
    for gate in (0.6, 0.3, 0.15):
        c, s = math.cos(yaw), math.sin(yaw)
        px = x + c * local[:, 0] - s * local[:, 1]
        py = y + s * local[:, 0] + c * local[:, 1]
        walls = np.column_stack([px, sx - px, py, sy - py])
        near = np.argmin(np.abs(walls), axis=1)
        resid = walls[np.arange(len(near)), near]
        keep = np.abs(resid) < gate
        on_x = keep & (near < 2)
        on_y = keep & (near >= 2)
        if np.count_nonzero(on_x) < min_points or np.count_nonzero(on_y) < min_points:
            return None
        # Residuals: x-walls px - wall_x, y-walls py - wall_y; unknowns dx, dy, dyaw.
        rows = []
        rhs = []
        for i in np.flatnonzero(keep):
            wall = near[i]
            if wall < 2:
                target = 0.0 if wall == 0 else sx
                rows.append((1.0, 0.0, -(py[i] - y)))
                rhs.append(target - px[i])
            else:
                target = 0.0 if wall == 2 else sy
                rows.append((0.0, 1.0, px[i] - x))
                rhs.append(target - py[i])
        sol, *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(rhs), rcond=None)
        x, y, yaw = x + float(sol[0]), y + float(sol[1]), yaw + float(sol[2])
    return Pose2(x, y, wrap_angle(yaw))
