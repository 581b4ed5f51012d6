"""A position fix on the walls of a rectangular arena from one range scan.

The Lunabotics arena is walled and its walls are surveyed; a rover that sees them with its
scanner can pin its position and heading on them (:func:`fit_walls`). The scan is levelled
by the chassis' tilt first: a scanner on a mast moves ahead of the chassis centre as the
chassis pitches nose down, by the mount's height times the pitch. With a 10.8 kg paver
held at the carry height the placer's springs let its nose down 1.0° (0.0177 rad, by the
truth, on flat ground); taken as level, a scan from its 0.35 m mount put the estimate
5-7 mm ahead of the truth at every set-down, and every paver went down that much short.
"""

from __future__ import annotations

import math

import numpy as np

from ..types import Pose2, wrap_angle
from .points import RangeScan, chassis_rotation

__all__ = ["fit_walls"]


SEARCH_STEP_M = 0.2
"""Spacing of the candidate positions of the global search, in m."""
SEARCH_YAWS_RAD = (-0.1, -0.05, 0.0, 0.05, 0.1)
"""Heading offsets the global search tries about the estimate's (the gyro keeps the
heading within a few degrees where wheel slip has lost the position by metres)."""
SEARCH_INLIER_M = 0.1
"""A return within this of a wall counts for a candidate, in m."""
LOCAL_MAX_MOVE_M = 1.0
"""Most a fit from the estimate may move it, in m: its returns are matched to walls
within 0.6 m of where the estimate puts them, so a solution further off is the least
squares of a few returns on a pile, not the walls (a rover standing at (4.7, 5.2) was
fitted at (0.7, 5.6): landing_pad seed 0, 508 s)."""
LOCAL_MAX_TURN_RAD = 0.2
"""Most a fit from the estimate may turn it, in rad (the gyro holds the heading within a
few degrees between fixes)."""


def _search(
    local: np.ndarray,
    yaw: float,
    size_xy_m: tuple[float, float],
    margin_m: float,
    within: tuple[float, float, float] | None = None,
) -> tuple[float, float, float] | None:
    """The candidate (x, y, yaw) over the whole site (or the disc ``within``) that puts
    most returns on the walls, or None when the best puts under half of them there."""
    sx, sy = size_xy_m
    xs = np.arange(margin_m, sx - margin_m + 1e-9, SEARCH_STEP_M)
    ys = np.arange(margin_m, sy - margin_m + 1e-9, SEARCH_STEP_M)
    cx, cy = (a.ravel() for a in np.meshgrid(xs, ys))
    if within is not None:
        inside = np.hypot(cx - within[0], cy - within[1]) <= within[2]
        cx, cy = cx[inside], cy[inside]
        if cx.size == 0:
            return None
    best: tuple[int, float, float, float] | None = None
    for dyaw in SEARCH_YAWS_RAD:
        c, s = math.cos(yaw + dyaw), math.sin(yaw + dyaw)
        rx = c * local[:, 0] - s * local[:, 1]
        ry = s * local[:, 0] + c * local[:, 1]
        px = cx[:, None] + rx[None, :]
        py = cy[:, None] + ry[None, :]
        d = np.minimum(
            np.minimum(np.abs(px), np.abs(sx - px)), np.minimum(np.abs(py), np.abs(sy - py))
        )
        score = np.count_nonzero(d < SEARCH_INLIER_M, axis=1)
        k = int(np.argmax(score))
        if best is None or int(score[k]) > best[0]:
            best = (int(score[k]), float(cx[k]), float(cy[k]), yaw + dyaw)
    if best is None or best[0] < 0.5 * len(local):
        return None
    return best[1], best[2], best[3]


def fit_walls(
    pose: Pose2,
    scan: RangeScan,
    size_xy_m: tuple[float, float],
    *,
    min_points: int = 15,
    search: bool = False,
    tilt_rad: tuple[float, float] = (0.0, 0.0),
    within: tuple[float, float, float] | None = None,
) -> Pose2 | None:
    """The pose that puts a range scan's returns on the walls of a rectangular site
    ``[0, size_x] × [0, size_y]``, starting from ``pose``; None without enough returns on
    at least one wall of each direction. ``tilt_rad`` is the chassis' (roll, pitch) as
    the scan was taken: the returns are levelled by it, and those whose levelled ray is
    near horizontal are the ones that can lie on a wall.

    Each return is assigned to the wall nearest to where ``pose`` puts it, and returns far
    from every wall (the rover's own bucket, a pile) are dropped; the position and heading
    correction then solve a linear least-squares problem (three passes, tightening the
    gate from 0.6 m to 0.15 m).

    With ``search``, when the returns do not fit the walls near ``pose`` (wheel slip has
    moved the estimate further than the first gate), the whole site is searched on a
    grid of positions and a few headings about the estimate's for the pose that puts most
    returns on a wall, and the fit starts again from there. A fit from ``pose`` that
    moves it more than :data:`LOCAL_MAX_MOVE_M` or turns it more than
    :data:`LOCAL_MAX_TURN_RAD` is no fit. ``within`` (x, y, radius in m) is where the
    rover can be at all (:meth:`~lunarsite.robot.control.pilot.Pilot.fix_bound`): the
    search looks only there, and a pose fitted outside it is refused. A
    rectangle seen through piles and a berm can put most returns on walls from the
    wrong side of the site: a search from a rover turning in place at (2.6, 2.7) once
    fitted it at (11.4, 2.7), and the rover drove into the west wall on its way "west"
    (landing_pad seed 0).
    """
    level = chassis_rotation(0.0, tilt_rad[1], tilt_rad[0])
    d = np.asarray(scan.directions, dtype=np.float64) @ level.T
    r = np.asarray(scan.ranges_m, dtype=np.float64)
    ok = np.isfinite(r) & (np.abs(d[:, 2]) < 0.2)
    if np.count_nonzero(ok) < 2 * min_points:
        return None
    origin = level @ np.asarray(scan.origin_xyz_m, dtype=np.float64)
    local = origin[:2] + r[ok, None] * d[ok, :2]
    fixed = _fit(pose.x_m, pose.y_m, pose.yaw_rad, local, size_xy_m, min_points)
    if fixed is not None and (
        math.hypot(fixed.x_m - pose.x_m, fixed.y_m - pose.y_m) > LOCAL_MAX_MOVE_M
        or abs(wrap_angle(fixed.yaw_rad - pose.yaw_rad)) > LOCAL_MAX_TURN_RAD
    ):
        fixed = None
    if fixed is None and search:
        start = _search(local, pose.yaw_rad, size_xy_m, margin_m=0.3, within=within)
        fixed = None if start is None else _fit(*start, local, size_xy_m, min_points)
    if fixed is not None and within is not None:
        wx, wy, radius = within
        if math.hypot(fixed.x_m - wx, fixed.y_m - wy) > radius:
            return None
    return fixed


def _fit(
    x: float,
    y: float,
    yaw: float,
    local: np.ndarray,
    size_xy_m: tuple[float, float],
    min_points: int,
) -> Pose2 | None:
    sx, sy = size_xy_m
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
