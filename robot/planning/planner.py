"""Paths for a skid-steer rover over a :class:`~lunarsite.robot.planning.costmap.Costmap`.

A skid-steer body turns in place, so its travel needs no heading-aware search: the
planner finds the least-cost 8-connected grid path with a compiled Dijkstra
(:class:`skimage.graph.MCP_Geometric`; a pure-Python A* is ~25× slower, reference/SIM.md
"Path planning"), then shortens it by line-of-sight shortcuts that neither touch a lethal
cell nor cost more than ``1 + smoothing_tolerance`` times the grid stretch they replace.
The rover turns in place at the corners. Where ``allow_reverse`` is set, a short segment
that points behind the rover is driven backwards instead of turning round (the camera looks
forward, so only over short distances).

The cost of moving a metre over a cell is ``1 + cost_weight · cost``: with the default
weight 4 a detour up to 5× longer is taken to avoid a cell of cost 1.

:class:`Replanner` decides when to plan again: no path yet, the path crosses a cell that
has become lethal, the map changed and the last plan is older than ``replan_period_s``,
or the rover strayed from the path.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np
from skimage.graph import MCP_Geometric

from ..site.grid import FloatArray
from ..types import Pose2, wrap_angle
from .costmap import Costmap

__all__ = ["Path", "Planner", "PlannerParams", "PlanningError", "Replanner"]

log = logging.getLogger(__name__)

_REVERSE_COS = -0.5
"""A segment is behind the rover when its direction is more than 120° off the heading."""


class PlanningError(RuntimeError):
    """No acceptable path: the goal is lethal or unreachable, or the start is off the map."""


@dataclass(frozen=True, slots=True)
class PlannerParams:
    """Tuning of :class:`Planner`."""

    cost_weight: float = 4.0
    """Traversal cost per m over a cell is ``1 + cost_weight · cost``."""
    smoothing_tolerance: float = 0.05
    """A shortcut may cost this fraction more than the grid stretch it replaces."""
    goal_tolerance_m: float = 0.3
    """A lethal goal moves to the cheapest free cell within this distance, in m."""
    escape_radius_m: float = 1.0
    """Within this distance of the start, inflated (not hazard) cells are passable at a
    high cost, so a rover that finds itself too near an obstacle can back away, in m."""
    escape_cost: float = 10.0
    allow_reverse: bool = False
    max_reverse_m: float = 1.0
    """Longest segment driven backwards, in m."""

    def __post_init__(self) -> None:
        for name in ("cost_weight", "smoothing_tolerance", "goal_tolerance_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"PlannerParams.{name} must be finite and >= 0, got {value}")
        for name in ("escape_radius_m", "escape_cost", "max_reverse_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"PlannerParams.{name} must be finite and >= 0, got {value}")


@dataclass(frozen=True, eq=False)
class Path:
    """A polyline in the site frame, driven segment by segment with turns in place.

    ``points_xy_m`` has shape (N, 2), N ≥ 2, the start first and the goal last;
    ``reverse[k]`` says whether segment k (points k → k+1) is driven backwards.
    """

    points_xy_m: FloatArray
    reverse: tuple[bool, ...]
    cost: float
    """Summed traversal cost of the smoothed path (see :class:`PlannerParams`)."""
    grid_length_m: float
    """Length of the 8-connected grid path before smoothing, in m."""

    def __post_init__(self) -> None:
        pts = np.array(self.points_xy_m, dtype=np.float64, copy=True)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
            raise ValueError(f"Path.points_xy_m must have shape (N >= 2, 2), got {pts.shape}")
        if len(self.reverse) != len(pts) - 1:
            raise ValueError(f"Path.reverse has {len(self.reverse)} flags for {len(pts)} points")
        pts.flags.writeable = False
        object.__setattr__(self, "points_xy_m", pts)

    @property
    def length_m(self) -> float:
        return float(np.sum(np.hypot(*np.diff(self.points_xy_m, axis=0).T)))

    @property
    def goal_xy_m(self) -> tuple[float, float]:
        return (float(self.points_xy_m[-1, 0]), float(self.points_xy_m[-1, 1]))

    def densified(self, spacing_m: float) -> FloatArray:
        """Points along the path at most ``spacing_m`` apart, shape (M, 2)."""
        out = [self.points_xy_m[:1]]
        for a, b in itertools.pairwise(self.points_xy_m):
            n = max(1, math.ceil(float(np.hypot(*(b - a))) / spacing_m))
            t = np.linspace(0.0, 1.0, n + 1)[1:, None]
            out.append(a + t * (b - a))
        return np.concatenate(out)

    def is_blocked(
        self,
        costmap: Costmap,
        *,
        from_xy_m: tuple[float, float] | None = None,
        skip_m: float = 0.0,
    ) -> bool:
        """Whether the path crosses a lethal cell of ``costmap`` (or leaves it).

        With ``from_xy_m``, only the part after the point of the path nearest to it counts,
        less a further ``skip_m`` (where the rover already stands), in m.
        """
        pts = self.points_xy_m
        first = 0
        start = pts[0]
        if from_xy_m is not None:
            a, d = pts[:-1], np.diff(pts, axis=0)
            p = np.asarray(from_xy_m, dtype=np.float64)
            t = np.clip(
                np.sum((p - a) * d, axis=1) / np.maximum(np.sum(d * d, axis=1), 1e-18), 0, 1
            )
            near = a + t[:, None] * d
            first = int(np.argmin(np.hypot(*(near - p).T)))
            start = near[first]
        grid = costmap.grid
        ny, nx = grid.shape
        todo = skip_m
        for a_xy, b_xy in zip([start, *pts[first + 1 : -1]], pts[first + 1 :], strict=True):
            j, i, length = grid.segment_cells(
                (float(a_xy[0]), float(a_xy[1])), (float(b_xy[0]), float(b_xy[1]))
            )
            along = np.cumsum(length) - length
            check = along + length > todo
            todo = max(0.0, todo - float(length.sum()))
            j, i = j[check], i[check]
            if len(j) == 0:
                continue
            if j.min() < 0 or i.min() < 0 or j.max() >= ny or i.max() >= nx:
                return True
            if not np.all(np.isfinite(costmap.cost[j, i])):
                return True
        return False

    def distance_from(self, x_m: float, y_m: float) -> float:
        """Distance from a point to the nearest point of the polyline, in m."""
        a = self.points_xy_m[:-1]
        d = self.points_xy_m[1:] - a
        p = np.array([x_m, y_m])
        seg2 = np.maximum(np.sum(d * d, axis=1), 1e-18)
        t = np.clip(np.sum((p - a) * d, axis=1) / seg2, 0.0, 1.0)
        nearest = a + t[:, None] * d
        return float(np.min(np.hypot(*(nearest - p).T)))


class Planner:
    """Least-cost grid search plus line-of-sight smoothing; see the module docstring."""

    def __init__(self, params: PlannerParams | None = None) -> None:
        self.params = params or PlannerParams()

    def plan(self, costmap: Costmap, start: Pose2, goal_xy_m: tuple[float, float]) -> Path:
        """A path from ``start`` to ``goal_xy_m`` (site frame, m).

        Raises:
            PlanningError: the start or goal is off the map, the goal is lethal with no
                free cell within ``goal_tolerance_m``, or no path exists.
        """
        p = self.params
        grid = costmap.grid
        s_cell = grid.cell_of(start.x_m, start.y_m)
        if not grid.in_bounds(*s_cell):
            raise PlanningError(f"start ({start.x_m:.2f}, {start.y_m:.2f}) m is off the map")
        g_cell = grid.cell_of(*goal_xy_m)
        if not grid.in_bounds(*g_cell):
            raise PlanningError(f"goal ({goal_xy_m[0]:.2f}, {goal_xy_m[1]:.2f}) m is off the map")
        weights = 1.0 + p.cost_weight * costmap.cost
        weights = self._open_escape(weights, costmap, s_cell)
        goal_xy = (float(goal_xy_m[0]), float(goal_xy_m[1]))
        if not math.isfinite(weights[g_cell]):
            g_cell = self._snap_goal(weights, costmap, g_cell, goal_xy)
            goal_xy = grid.center_of(*g_cell)

        mcp = MCP_Geometric(weights, fully_connected=True)
        cum, _ = mcp.find_costs([s_cell], [g_cell])
        if not math.isfinite(float(cum[g_cell])):
            raise PlanningError(
                f"no path from ({start.x_m:.2f}, {start.y_m:.2f}) to "
                f"({goal_xy[0]:.2f}, {goal_xy[1]:.2f}) m: the goal is walled off"
            )
        cells = np.asarray(mcp.traceback(g_cell), dtype=np.intp)
        xy = np.column_stack(
            [
                grid.origin_xy_m[0] + cells[:, 1] * grid.cell_size_m,
                grid.origin_xy_m[1] + cells[:, 0] * grid.cell_size_m,
            ]
        )
        xy[0] = (start.x_m, start.y_m)
        xy[-1] = goal_xy
        if len(xy) == 1:
            xy = np.vstack([xy, xy])
        cell_w = weights[cells[:, 0], cells[:, 1]]
        step_len = np.hypot(*np.diff(xy, axis=0).T)
        cum_cost = np.concatenate([[0.0], np.cumsum(0.5 * (cell_w[:-1] + cell_w[1:]) * step_len)])
        grid_length = float(step_len.sum())
        keep = self._shortcut(xy, cum_cost, weights, costmap)
        pts = xy[keep]
        cost = float(
            sum(
                self._segment_cost(pts[k], pts[k + 1], weights, costmap)
                for k in range(len(pts) - 1)
            )
        )
        path = Path(pts, self._reverse_flags(pts, start.yaw_rad), cost, grid_length)
        log.debug(
            "planned %.2f m (grid %.2f m) in %d segments, cost %.1f",
            path.length_m,
            grid_length,
            len(pts) - 1,
            cost,
        )
        return path

    # ------------------------------------------------------------------ internals
    def _open_escape(
        self, weights: FloatArray, costmap: Costmap, s_cell: tuple[int, int]
    ) -> FloatArray:
        if math.isfinite(weights[s_cell]):
            return weights
        grid = costmap.grid
        r = max(1, math.ceil(self.params.escape_radius_m / grid.cell_size_m))
        j0, i0 = s_cell
        js = slice(max(j0 - r, 0), min(j0 + r + 1, grid.shape[0]))
        is_ = slice(max(i0 - r, 0), min(i0 + r + 1, grid.shape[1]))
        jj, ii = np.mgrid[js, is_]
        near = (jj - j0) ** 2 + (ii - i0) ** 2 <= r * r
        window = weights[js, is_]
        opened = near & ~np.isfinite(window) & ~costmap.hazard[js, is_]
        out = weights.copy()
        out[js, is_] = np.where(
            opened, 1.0 + self.params.cost_weight * self.params.escape_cost, window
        )
        if not math.isfinite(out[s_cell]):  # on a hazard cell itself: let it leave
            out[s_cell] = 1.0 + self.params.cost_weight * self.params.escape_cost
        log.info("start cell %s is lethal: opened %d cells to escape", s_cell, int(opened.sum()))
        return out

    def _snap_goal(
        self,
        weights: FloatArray,
        costmap: Costmap,
        g_cell: tuple[int, int],
        goal_xy: tuple[float, float],
    ) -> tuple[int, int]:
        grid = costmap.grid
        r = math.floor(self.params.goal_tolerance_m / grid.cell_size_m)
        j0, i0 = g_cell
        best: tuple[float, float, tuple[int, int]] | None = None
        for j in range(max(j0 - r, 0), min(j0 + r + 1, grid.shape[0])):
            for i in range(max(i0 - r, 0), min(i0 + r + 1, grid.shape[1])):
                d = math.hypot(j - j0, i - i0) * grid.cell_size_m
                if d <= self.params.goal_tolerance_m and math.isfinite(weights[j, i]):
                    key = (d, float(weights[j, i]), (j, i))
                    if best is None or key[:2] < best[:2]:
                        best = key
        if best is None:
            raise PlanningError(
                f"goal ({goal_xy[0]:.2f}, {goal_xy[1]:.2f}) m is lethal and no free cell lies "
                f"within {self.params.goal_tolerance_m} m of it"
            )
        log.info("goal cell %s is lethal: moved to %s", g_cell, best[2])
        return best[2]

    @staticmethod
    def _segment_cost(a: FloatArray, b: FloatArray, weights: FloatArray, costmap: Costmap) -> float:
        """Traversal cost of the straight segment a → b: the exact line integral over the
        cells it passes through (inf if it touches a lethal cell or leaves the map)."""
        grid = costmap.grid
        j, i, length = grid.segment_cells((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))
        ny, nx = grid.shape
        if j.min() < 0 or i.min() < 0 or j.max() >= ny or i.max() >= nx:
            return math.inf
        return float(np.dot(weights[j, i], length))

    def _shortcut(
        self, xy: FloatArray, cum_cost: FloatArray, weights: FloatArray, costmap: Costmap
    ) -> list[int]:
        """Indices of the grid path kept after greedy line-of-sight shortcuts."""
        n = len(xy)
        slack = 1.0 + self.params.smoothing_tolerance
        margin = 0.5 * costmap.grid.cell_size_m

        def ok(i: int, k: int) -> bool:
            c = self._segment_cost(xy[i], xy[k], weights, costmap)
            return bool(c <= slack * (cum_cost[k] - cum_cost[i]) + margin)

        keep = [0]
        i = 0
        while i < n - 1:
            lo, hi, step = i + 1, n, 1
            while True:  # gallop forward while shortcuts hold ...
                cand = min(lo + step, n - 1)
                if cand <= lo:
                    break
                if ok(i, cand):
                    lo = cand
                    step *= 2
                else:
                    hi = cand
                    break
            while hi - lo > 1:  # ... then bisect between the last good and first bad
                mid = (lo + hi) // 2
                if ok(i, mid):
                    lo = mid
                else:
                    hi = mid
            keep.append(lo)
            i = lo
        return keep

    def _reverse_flags(self, pts: FloatArray, start_yaw_rad: float) -> tuple[bool, ...]:
        p = self.params
        flags = []
        body_yaw = start_yaw_rad
        for a, b in itertools.pairwise(pts):
            d = b - a
            length = float(np.hypot(*d))
            travel = math.atan2(float(d[1]), float(d[0])) if length > 1e-9 else body_yaw
            backwards = (
                p.allow_reverse
                and length <= p.max_reverse_m
                and math.cos(wrap_angle(travel - body_yaw)) < _REVERSE_COS
            )
            flags.append(backwards)
            body_yaw = wrap_angle(travel + math.pi) if backwards else travel
        return tuple(flags)


class Replanner:
    """Keeps a path to one goal current as the map and the rover move.

    Call :meth:`update` every cycle (cheap unless a plan is due); it plans when there is
    no path, the remaining path crosses a lethal cell, the map version changed and the
    last plan is at least ``replan_period_s`` old, or the rover is more than
    ``max_deviation_m`` off the path.
    """

    def __init__(
        self,
        planner: Planner,
        goal_xy_m: tuple[float, float],
        *,
        replan_period_s: float = 2.0,
        max_deviation_m: float = 0.5,
        blocked_skip_m: float = 0.0,
    ) -> None:
        self.planner = planner
        self.goal_xy_m = (float(goal_xy_m[0]), float(goal_xy_m[1]))
        self.replan_period_s = replan_period_s
        self.max_deviation_m = max_deviation_m
        self.blocked_skip_m = blocked_skip_m
        self.path: Path | None = None
        self.plans = 0
        self.last_reason = ""
        self._planned_at_s = -math.inf
        self._planned_version: int | None = None

    def update(self, costmap: Costmap, pose: Pose2, now_s: float) -> bool:
        """Replan if due; returns whether the path changed. Raises :class:`PlanningError`."""
        reason = self._due(costmap, pose, now_s)
        if reason is None:
            return False
        self.path = self.planner.plan(costmap, pose, self.goal_xy_m)
        self.plans += 1
        self.last_reason = reason
        self._planned_at_s = now_s
        self._planned_version = costmap.version
        log.debug("replanned (%s): %.2f m", reason, self.path.length_m)
        return True

    def _due(self, costmap: Costmap, pose: Pose2, now_s: float) -> str | None:
        path = self.path
        if path is None:
            return "no path"
        if path.distance_from(pose.x_m, pose.y_m) > self.max_deviation_m:
            return "off the path"
        if costmap.version != self._planned_version:
            if path.is_blocked(costmap, from_xy_m=(pose.x_m, pose.y_m), skip_m=self.blocked_skip_m):
                return "path blocked"
            if now_s - self._planned_at_s >= self.replan_period_s:
                return "map changed"
        return None
