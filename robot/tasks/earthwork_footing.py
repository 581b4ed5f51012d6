"""Where an earthwork rover's wheels may stand and drive while the ground is being dug.

:class:`Footing` keeps the masks the work changes: the cells where the designs cut deep (a
trench, dug or to be dug, and the modules standing on the site) and the fresh fill poured
since the first survey. From them it answers whether a chassis centre may stand somewhere
(every wheel within :data:`WHEEL_REACH_M` clear), whether the four wheels clear the
ground a bucket digs as the rover *straddles* a trench narrower than its track
(:meth:`Footing.wheels_clear`), and which way a route runs round the work.

A trench narrower than the bucket is dug along its line, as wide as the bucket (a bucket
cannot cut a trench narrower than itself); :meth:`Footing.channel` is that dug width, the
deep cut widened by the bucket's overhang, and the wheels straddle it.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from ..config import RoverConfig, ToolConfig
from ..perception.points import BodyBox
from ..planning.costmap import Costmap
from ..planning.planner import Path, Planner, PlannerParams, PlanningError
from ..site.grid import GridSpec
from ..types import Pose2

__all__ = [
    "ROUTE_MARGIN_M",
    "STRADDLE_MARGIN_M",
    "WHEEL_REACH_M",
    "Footing",
    "cut_width_m",
    "on_site",
]

BoolArray = npt.NDArray[np.bool_]

log = logging.getLogger(__name__)

WHEEL_REACH_M = 0.45
"""Half the wheelbase plus a wheel radius, about: how far from the chassis centre the
wheels touch the ground, in m (excavator_66kg: 0.3 + 0.15)."""
ROUTE_SWING_M = 0.3
"""Routes are planned this much further out again, in m, then straightened against
the :data:`ROUTE_MARGIN_M` berth (see :meth:`Footing.route`)."""
ROUTE_MARGIN_M = 0.2
"""Routes keep this much further from deep cuts than a standing wheel must, in m: a leg
ends by a wall fix a few centimetres off (0.08 m median correction on trench runs,
0.7 m at worst), and routes round a trench's end that grazed it left the rover with a
wheel in the end or on its spill, held fast (trench seeds 0 and 2, going round the west
end between dig stands on opposite sides)."""
STATION_MARGIN_M = 0.2
"""Gap kept between the site's edge and the farthest corner of a rover turning in place
at a station, in m."""
STRADDLE_MARGIN_M = 0.025
"""Gap a straddling wheel keeps from the dug channel's cells, in m. The channel's cells
reach up to half a cell past the bucket's edge, so on 5 cm cells a wheel keeps 5 cm
from the cut in all (excavator_66kg: inner wheel faces 0.315 m off the centre line, a
0.5 m bucket's edge 0.25 m, which leaves 6.5 cm for the pass to drift sideways)."""
PATCH_HALF_LENGTH_SHARE = 0.6
"""Half the length of a wheel's ground patch as a share of its radius (the patch of a
wheel sunk a few centimetres into loose soil, and some)."""


class Footing:
    """Where the wheels may go (see the module docstring).

    Args:
        config: the rover file (wheel layout, body).
        tool: the bucket (its width is the channel's).
        grid: the survey grid the masks are on.
        site_size_m: the site's size, or None (no edges to keep clear of).
    """

    def __init__(
        self,
        config: RoverConfig,
        tool: ToolConfig,
        grid: GridSpec,
        site_size_m: tuple[float, float] | None,
    ) -> None:
        self.config = config
        self.tool = tool
        self.grid = grid
        self.site_size_m = site_size_m
        # A turn in place sweeps the body's farthest corner (the bucket's): stations keep
        # that far from the site's edges, and a little more.
        body = BodyBox.for_rover(config)
        xs, ys = body.x_range_m, body.y_range_m
        self.clearance_m = STATION_MARGIN_M + max(math.hypot(x, y) for x in xs for y in ys)
        self._corners = np.array([(x, y) for x in xs for y in ys], dtype=np.float64)
        self._deep_cut: BoolArray | None = None
        self._channel: BoolArray | None = None
        self.fresh_fill: BoolArray | None = None
        """Cells the latest survey finds risen since the first (dumped soil)."""
        self._gx, self._gy = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
        self._planner = Planner(PlannerParams(escape_radius_m=1.0))
        self._costmaps: dict[float, Costmap] = {}
        self._costmap_of: tuple[BoolArray | None, BoolArray | None] = (None, None)
        w = config.wheels
        # Ground patch of each wheel in the chassis frame, its edges included, sampled at
        # half cells or finer.
        hl = PATCH_HALF_LENGTH_SHARE * w.radius_m
        hw = 0.5 * w.width_m + STRADDLE_MARGIN_M

        def span(half: float) -> npt.NDArray[np.float64]:
            n = math.ceil(2.0 * half / (0.5 * grid.cell_size_m)) + 1
            return np.linspace(-half, half, n)

        a, b = np.meshgrid(span(hl), span(hw))
        patch = np.stack([a.ravel(), b.ravel()], axis=1)
        self.wheel_centres_m = np.array(
            [(sx * 0.5 * w.wheelbase_m, sy * 0.5 * w.track_m) for sx in (-1, 1) for sy in (-1, 1)]
        )
        """Where the four wheels touch the ground, (ahead, left) of the chassis centre, m."""
        self._wheel_points = np.concatenate([patch + c for c in self.wheel_centres_m])

    # ------------------------------------------------------------------ masks
    @property
    def deep_cut(self) -> BoolArray | None:
        """Cells where the designs lie well below the first survey (a trench, dug or to be
        dug) or a module stands: no wheel stands there. Replaced, never changed in place."""
        return self._deep_cut

    @deep_cut.setter
    def deep_cut(self, mask: BoolArray | None) -> None:
        self._deep_cut = mask
        self._channel = None

    def channel(self) -> BoolArray | None:
        """The ground a bucket digs to make the deep cut: the deep cut itself, and round
        each part of it narrower than the bucket (:func:`cut_width_m`) the cells within
        the bucket's overhang, half their difference (and half a cell, for the cells'
        rounding): a 0.3 m trench's channel is a 0.5 m bucket's."""
        if self._deep_cut is None:
            return None
        if self._channel is None:
            cell = self.grid.cell_size_m
            out = self._deep_cut.copy()
            labels, n = ndimage.label(self._deep_cut, structure=np.ones((3, 3)))
            for k in range(1, n + 1):
                part = labels == k
                width = cut_width_m(part, cell)
                if width >= self.tool.width_m:
                    continue
                reach = 0.5 * (self.tool.width_m - width) + 0.5 * cell
                off = np.asarray(ndimage.distance_transform_edt(~part), dtype=np.float64) * cell
                out |= off <= reach + 1e-9
            self._channel = out
        return self._channel

    def mark_pile(self, x_m: float, y_m: float, radius_m: float) -> None:
        """A load was just poured at (x, y): the ground within ``radius_m`` is fresh fill
        from now on (a survey would show it; the wheels must not wait for one)."""
        pile = np.hypot(self._gx - x_m, self._gy - y_m) <= radius_m
        self.fresh_fill = pile if self.fresh_fill is None else (self.fresh_fill | pile)

    # ------------------------------------------------------------------ where to stand
    def clear(self, *points: tuple[float, float]) -> bool:
        """Whether the rover standing at each point keeps clear of the site's edges."""
        if self.site_size_m is None:
            return True
        c = self.clearance_m
        sx, sy = self.site_size_m
        return all(c <= x <= sx - c and c <= y <= sy - c for x, y in points)

    def clear_facing(self, point: tuple[float, float], heading: float) -> bool:
        """Whether the rover standing at ``point`` facing ``heading``, not turning, keeps
        its body :data:`STATION_MARGIN_M` inside the site's edges."""
        if self.site_size_m is None:
            return True
        px, py = on_site(self._corners, point[0], point[1], heading)
        m = STATION_MARGIN_M
        sx, sy = self.site_size_m
        return bool(np.all((px >= m) & (px <= sx - m) & (py >= m) & (py <= sy - m)))

    def standable(self, x_m: float, y_m: float, *, on_fill: bool = False) -> bool:
        """Whether the wheels may stand at (x, y) facing any way: not where the designs
        cut deep (a trench, dug or to be dug) nor (unless ``on_fill``) on fresh fill,
        within the wheels' reach of the centre."""
        g = self.grid
        r = max(1, round(WHEEL_REACH_M / g.cell_size_m))
        j, i = g.cell_of(x_m, y_m)
        ny, nx = g.shape
        window = (
            slice(max(0, j - r), min(ny, j + r + 1)),
            slice(max(0, i - r), min(nx, i + r + 1)),
        )
        return not any(
            mask is not None and bool(mask[window].any())
            for mask in (self.deep_cut, None if on_fill else self.fresh_fill)
        )

    def wheels_clear(self, x_m: float, y_m: float, heading_rad: float) -> bool:
        """Whether the four wheels' ground patches, the chassis centred at (x, y) and
        facing ``heading_rad``, keep :data:`STRADDLE_MARGIN_M` off the dug channel
        (:meth:`channel`) and off fresh fill: a rover straddling a trench."""
        px, py = on_site(self._wheel_points, x_m, y_m, heading_rad)
        j, i = self.grid.cells_of(px, py)
        ny, nx = self.grid.shape
        if not bool(((j >= 0) & (j < ny) & (i >= 0) & (i < nx)).all()):
            return False
        return not any(
            mask is not None and bool(mask[j, i].any())
            for mask in (self.channel(), self.fresh_fill)
        )

    def routable(self, x_m: float, y_m: float) -> bool:
        """Whether a route may start or end at (x, y) (free on :meth:`costmap`)."""
        costmap = self.costmap()
        if costmap is None:
            return True
        j, i = self.grid.cell_of(x_m, y_m)
        return not self.grid.in_bounds(j, i) or bool(np.isfinite(costmap.cost[j, i]))

    # ------------------------------------------------------------------ routes
    def costmap(self, swing_m: float = 0.0) -> Costmap | None:
        """Lethal where a wheel would stand on a deep cut or fresh fill (or within
        ``swing_m`` more of one), free elsewhere."""
        masks = [m for m in (self.deep_cut, self.fresh_fill) if m is not None]
        if not masks:
            return None
        # The masks are replaced, never changed in place: the same arrays, the same map.
        of = self._costmap_of
        if of[0] is not self.deep_cut or of[1] is not self.fresh_fill:
            self._costmaps.clear()
            self._costmap_of = (self.deep_cut, self.fresh_fill)
        if swing_m not in self._costmaps:
            self._costmaps[swing_m] = self._build_costmap(masks, swing_m)
        return self._costmaps[swing_m]

    def _build_costmap(self, masks: list[BoolArray], swing_m: float) -> Costmap:
        g = self.grid
        hazard = np.logical_or.reduce(masks)

        def grown(mask: BoolArray, reach_m: float) -> BoolArray:
            r = max(1, round(reach_m / g.cell_size_m))
            yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
            out: BoolArray = ndimage.binary_dilation(mask, structure=(xx * xx + yy * yy) <= r * r)
            return out

        lethal = np.zeros(g.shape, dtype=bool)
        if self.deep_cut is not None:
            lethal |= grown(self.deep_cut, WHEEL_REACH_M + ROUTE_MARGIN_M + swing_m)
        if self.fresh_fill is not None:
            lethal |= grown(self.fresh_fill, WHEEL_REACH_M + swing_m)
        cost = np.where(lethal, np.inf, 0.0)
        return Costmap(g, cost, hazard, np.ones(g.shape, dtype=bool))

    def route(self, start: Pose2, goal_xy_m: tuple[float, float]) -> list[tuple[float, float]]:
        """Corners of a path from ``start`` to ``goal_xy_m`` round deep cuts and fresh fill
        (:meth:`costmap`), the goal last; just the goal when the way is clear, when either
        end is off the survey grid, or when no path is found (then it goes straight)."""
        costmap = self.costmap()
        if costmap is None:
            return [goal_xy_m]
        # Planned with a wider berth, then straightened against the true one: a path
        # that hugs a trench's rounded end needs a corner every few decimetres (nine
        # round one end), each a turn in place; one swung wide cuts across in two or three.
        wide = self.costmap(ROUTE_SWING_M)
        assert wide is not None
        try:
            path = self._planner.plan(wide, start, goal_xy_m)
        except PlanningError:
            try:
                path = self._planner.plan(costmap, start, goal_xy_m)
            except PlanningError as exc:
                log.info("no way round the work from %s: %s; going straight", start, exc)
                return [goal_xy_m]
        xy = path.points_xy_m.copy()
        xy[-1] = goal_xy_m
        return [(float(x), float(y)) for x, y in _straightened(xy, costmap)[1:]]


def _straightened(xy: npt.NDArray[np.float64], costmap: Costmap) -> npt.NDArray[np.float64]:
    """The points of a path kept by greedy line of sight on ``costmap``: from each kept
    point, the farthest later one it reaches in a straight line over no lethal cell
    (the start and the goal always kept)."""

    def clear(a: int, b: int) -> bool:
        return not Path(xy[[a, b]], (False,), 0.0, 0.0).is_blocked(costmap)

    keep, k = [0], 0
    while k < len(xy) - 1:
        k = next((m for m in range(len(xy) - 1, k + 1, -1) if clear(k, m)), k + 1)
        keep.append(k)
    out: npt.NDArray[np.float64] = xy[keep]
    return out


def cut_width_m(mask: BoolArray, cell_m: float) -> float:
    """Width of a cut's cells taken as a straight strip: its area over its length along
    its principal axis (a uniform strip of length L has variance L²/12 along it), in m;
    a square's is its side."""
    jj, ii = np.nonzero(mask)
    if jj.size == 0:
        return 0.0
    if jj.size < 3:
        return cell_m
    var = np.linalg.eigvalsh(np.cov(np.stack([ii, jj]).astype(np.float64)))
    length = math.sqrt(12.0 * float(var[-1]) + 1.0) * cell_m
    return float(jj.size) * cell_m * cell_m / length


def on_site(
    points_m: npt.NDArray[np.float64], x_m: float, y_m: float, heading_rad: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Site x and y of chassis-frame points (N × 2: ahead, left) of a chassis centred at
    (x, y) and facing ``heading_rad``."""
    c, s = math.cos(heading_rad), math.sin(heading_rad)
    px = x_m + points_m[:, 0] * c - points_m[:, 1] * s
    py = y_m + points_m[:, 0] * s + points_m[:, 1] * c
    return px, py
