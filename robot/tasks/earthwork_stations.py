"""Where an earthwork rover stands to dig and to dump a load, and how it sets its bucket.

:class:`Stations` holds what the choice needs: the rover's geometry (how far the bucket
reaches, how wide a turn in place sweeps), the site's edges, the cells the plan cuts, and
where the designs cut deep (the wheels keep off them). The earthwork task
(:mod:`.earthwork`) asks it for each load's dig pass and dump stand.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from ..config import RoverConfig, ToolConfig
from ..control.bucket import BucketPoses, bucket_edge_m, dig_angles_rad, max_dig_depth_m
from ..perception.mapping import BodyBox
from ..planning.costmap import Costmap
from ..planning.earthwork import CutFill
from ..planning.hauls import Load
from ..planning.planner import Planner, PlannerParams, PlanningError
from ..site.grid import FloatArray
from ..types import Pose2, wrap_angle

if TYPE_CHECKING:
    from .earthwork_params import EarthworkTaskParams

__all__ = ["DEEP_CUT_M", "DIG_PITCHES_RAD", "LAYER_M", "Stations", "deepest_cut_m"]

BoolArray = npt.NDArray[np.bool_]

log = logging.getLogger(__name__)

LAYER_M = 0.05
"""Deepest slice one dig pass takes below the surveyed top, in m: about half a bucketful
over a half-metre pass, so a survey a few centimetres low does not overfill the bucket
(a full bucket still cutting plows, and on a 66 kg rover at lunar gravity the pull of a
deep, full pass tipped it over its front axle in trench runs with 8 cm slices). Deeper
is also more than it can pull: a second 7 cm slice across a trench, all in banked soil
under the loose top, stalled the rover after 7 cm of its 0.3 m pass (2.2 kg taken)."""
DEEP_CUT_M = 0.08
"""Where the designs lie this far below the first survey the wheels do not stand (a
trench, dug or to be dug), in m."""
WHEEL_REACH_M = 0.45
"""Half the wheelbase plus a wheel radius, about: how far from the chassis centre the
wheels touch the ground, in m (excavator_66kg: 0.3 + 0.15)."""
DIG_PITCHES_RAD = (-0.3, -0.5)
"""Bucket floor pitches (nose down) tried, in order, for cuts deeper than the usual dig
pitch reaches: tipping the bucket forward lowers its edge (excavator_66kg reaches 0.18 m
below its wheels at -0.15 rad, 0.25 m at -0.5 rad)."""
MIN_PASS_M = 0.2
"""Shortest dig pass, in m."""
PASS_SHIFTS = (0.0, -0.25, 0.25, -0.5, 0.5)
"""Sideways shifts of a dig pass off the load's cell tried, in bucket widths: at a
trench's end or a cut's edge a pass shifted in keeps the bucket's corners off ground the
plan does not cut."""
OFF_SIDE_PENALTY = 0.2
"""Share of its swept-area score a dig pass loses facing straight away from the dump's
side (a linear share of that for headings in between)."""
ROUTE_MARGIN_M = 0.2
"""Routes keep this much further from deep cuts than a standing wheel must, in m: a leg
ends by a wall fix a few centimetres off (0.08 m median correction on trench runs,
0.7 m at worst), and routes round a trench's end that grazed it left the rover with a
wheel in the end or on its spill, held fast (trench seeds 0 and 2, going round the west
end between dig stands on opposite sides)."""
PILE_RADIUS_M = 0.35
"""Radius of the ground a poured bucketful covers, in m (15 L at the 35° repose of loose
regolith is a cone of about 0.3 m radius)."""
STATION_MARGIN_M = 0.2
"""Gap kept between the site's edge and the farthest corner of a rover turning in place
at a station, in m."""


class Stations:
    """Dig and dump stations of an earthwork rover (see the module docstring).

    Args:
        config: the rover file.
        tool: its bucket on a boom.
        poses: the bucket's servo poses.
        params: the task's parameters (grid, planner, borrow cells, run-in, pass length).
        site_size_m: the site's size, or None (no edges to keep clear of).
        ground_under: the surveyed ground height at (x, y), in m.
    """

    def __init__(
        self,
        config: RoverConfig,
        tool: ToolConfig,
        poses: BucketPoses,
        params: EarthworkTaskParams,
        site_size_m: tuple[float, float] | None,
        ground_under: Callable[[float, float], float],
    ) -> None:
        self.config = config
        self.tool = tool
        self.poses = poses
        self.params = params
        self.site_size_m = site_size_m
        self.ground_under = ground_under
        # A turn in place sweeps the body's farthest corner (the bucket's): stations keep
        # that far from the site's edges, and a little more.
        body = BodyBox.for_rover(config)
        xs, ys = body.x_range_m, body.y_range_m
        self.clearance_m = STATION_MARGIN_M + max(math.hypot(x, y) for x in xs for y in ys)
        self.deep_cut: BoolArray | None = None
        """Cells where the designs lie :data:`DEEP_CUT_M` below the first survey."""
        self.fresh_fill: BoolArray | None = None
        """Cells the latest survey finds risen since the first (dumped soil)."""
        self._gx, self._gy = np.meshgrid(params.grid.x_coords_m, params.grid.y_coords_m)
        self._planner = Planner(PlannerParams(escape_radius_m=1.0))
        self._costmap: Costmap | None = None
        self._costmap_of: tuple[BoolArray | None, BoolArray | None] = (None, None)

    def can_stand(self, stand: tuple[float, float], approach: tuple[float, float]) -> bool:
        """Whether the rover may stand at a station and at its run-in: clear of the site's
        edges, the wheels off deep cuts and fresh fill."""
        return self.clear(stand, approach) and self.standable(*stand) and self.standable(*approach)

    def clear(self, *points: tuple[float, float]) -> bool:
        """Whether the rover standing at each point keeps clear of the site's edges."""
        if self.site_size_m is None:
            return True
        c = self.clearance_m
        sx, sy = self.site_size_m
        return all(c <= x <= sx - c and c <= y <= sy - c for x, y in points)

    def cut_at(self, cut: BoolArray, x_m: float, y_m: float) -> bool:
        """Whether the cell under (x, y) is one of ``cut`` (:meth:`cut_mask`); False off
        the grid."""
        g = self.params.grid
        j, i = g.cell_of(x_m, y_m)
        return g.in_bounds(j, i) and bool(cut[j, i])

    def pass_through(
        self, cut: BoolArray, x_m: float, y_m: float, heading: float, want_m: float
    ) -> tuple[float, float]:
        """How far a pass through (x, y) along ``heading`` can start behind it and run on
        ahead of it over cells of ``cut``, in whole cells, up to ``want_m`` in all."""
        step = self.params.grid.cell_size_m
        c, s = math.cos(heading), math.sin(heading)
        back = fwd = 0.0
        while back < want_m and self.cut_at(cut, x_m - (back + step) * c, y_m - (back + step) * s):
            back += step
        while back + fwd < want_m and self.cut_at(
            cut, x_m + (fwd + step) * c, y_m + (fwd + step) * s
        ):
            fwd += step
        return back, fwd

    def route(self, start: Pose2, goal_xy_m: tuple[float, float]) -> list[tuple[float, float]]:
        """Corners of a path from ``start`` to ``goal_xy_m`` round deep cuts and fresh fill
        (:meth:`costmap`), the goal last; just the goal when the way is clear, when either
        end is off the survey grid, or when no path is found (then it goes straight)."""
        costmap = self.costmap()
        if costmap is None:
            return [goal_xy_m]
        try:
            path = self._planner.plan(costmap, start, goal_xy_m)
        except PlanningError as exc:
            log.info("no way round the work from %s: %s; going straight", start, exc)
            return [goal_xy_m]
        pts = [(float(x), float(y)) for x, y in path.points_xy_m[1:]]
        pts[-1] = goal_xy_m
        return pts

    def mark_fill(self, x_m: float, y_m: float) -> None:
        """A load was just poured at (x, y): the ground within :data:`PILE_RADIUS_M` is
        fresh fill from now on (a survey would show it; the wheels must not wait for
        one)."""
        pile = np.hypot(self._gx - x_m, self._gy - y_m) <= PILE_RADIUS_M
        self.fresh_fill = pile if self.fresh_fill is None else (self.fresh_fill | pile)

    def costmap(self) -> Costmap | None:
        """Lethal where a wheel would stand on a deep cut or fresh fill, free elsewhere."""
        g = self.params.grid
        masks = [m for m in (self.deep_cut, self.fresh_fill) if m is not None]
        if not masks:
            return None
        # The masks are replaced, never changed in place: the same arrays, the same map.
        of = self._costmap_of
        if self._costmap is not None and of[0] is self.deep_cut and of[1] is self.fresh_fill:
            return self._costmap
        hazard = np.logical_or.reduce(masks)

        def grown(mask: BoolArray, reach_m: float) -> BoolArray:
            r = max(1, round(reach_m / g.cell_size_m))
            yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
            out: BoolArray = ndimage.binary_dilation(mask, structure=(xx * xx + yy * yy) <= r * r)
            return out

        lethal = np.zeros(g.shape, dtype=bool)
        if self.deep_cut is not None:
            lethal |= grown(self.deep_cut, WHEEL_REACH_M + ROUTE_MARGIN_M)
        if self.fresh_fill is not None:
            lethal |= grown(self.fresh_fill, WHEEL_REACH_M)
        cost = np.where(lethal, np.inf, 0.0)
        self._costmap = Costmap(g, cost, hazard, np.ones(g.shape, dtype=bool))
        self._costmap_of = (self.deep_cut, self.fresh_fill)
        return self._costmap

    def standable(self, x_m: float, y_m: float, *, on_fill: bool = False) -> bool:
        """Whether the wheels may stand at (x, y): not where the designs cut deep (a
        trench, dug or to be dug) nor (unless ``on_fill``) on fresh fill, within the
        wheels' reach of the centre."""
        g = self.params.grid
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

    def dig(
        self, load: Load, cf: CutFill, surface_m: FloatArray, yaw_now_rad: float
    ) -> tuple[float, float, float, float, float, tuple[float, float]] | None:
        """Heading, pass length, boom, curl, cut height and stand for a load's dig pass.

        The cut goes one layer (:data:`LAYER_M`) below the surveyed top at most, down to
        the design (or the borrow depth). Passes are tried at eight headings and along and
        across the cut's own axes (the dump's side favoured), each through the load's
        cell and shifted sideways by up to half a bucket (:data:`PASS_SHIFTS`); a pass
        runs through cells the plan cuts and stops where they end, so the bucket does not
        dig beyond the design along it. Of those whose stand and run-in keep clear of the
        site's edges and off deep cuts, the one whose swept strip (bucket width × length)
        takes the most cut cells less the cells it would cut wrongly (:meth:`swept_score`)
        is taken: across a trench narrower than the bucket, that is the pass straight
        across it, not a longer diagonal one.
        """
        p = self.params
        (dx, dy), (ux, uy) = load.dig_xy_m, load.dump_xy_m
        base = math.atan2(dy - uy, dx - ux) if load.carry_m > 1e-6 else yaw_now_rad
        j, i = p.grid.cell_of(dx, dy)
        if not p.grid.in_bounds(j, i) or not math.isfinite(float(surface_m[j, i])):
            return None
        z_top = float(surface_m[j, i])
        z_goal = float(cf.target_m[j, i])
        if not math.isfinite(z_goal):  # borrow: cut to the borrow depth
            z_goal = z_top - p.planner.borrow_depth_m
        if z_top - z_goal <= p.planner.deadband_m:
            return None  # passes of this round have already taken it down
        z_cut = max(z_goal, z_top - LAYER_M)
        thick = max(z_top - z_cut, 0.02)
        want = load.mass_kg / (p.planner.cut_density_kgpm3 * self.tool.width_m * thick)
        want = min(max(want, MIN_PASS_M), p.max_pass_m)
        cut = self.cut_mask(cf)
        step = p.grid.cell_size_m
        best: tuple[float, float, float, float, float, tuple[float, float]] | None = None
        best_score = 0.0
        headings = [base + k * 0.25 * math.pi for k in range(8)] + self.cut_axes(cut, dx, dy)
        headings.sort(key=lambda h: abs(wrap_angle(h - base)))
        for heading, shift in itertools.product(headings, PASS_SHIFTS):
            # Digging from the far side of the dump sends the rover round the work and
            # back each load: such a pass must sweep markedly more of the cut to be taken.
            favour = 1.0 - OFF_SIDE_PENALTY * abs(wrap_angle(heading - base)) / math.pi
            c, s = math.cos(heading), math.sin(heading)
            ox, oy = dx - shift * self.tool.width_m * s, dy + shift * self.tool.width_m * c
            if not self.cut_at(cut, ox, oy):
                continue
            back, fwd = self.pass_through(cut, ox, oy, heading, want)
            # From the far side of the first cut cell to the far side of the last.
            length = max(back + fwd + step, MIN_PASS_M)
            edge = (ox - (back + 0.5 * step) * c, oy - (back + 0.5 * step) * s)
            score = favour * self.swept_score(cut, edge, heading, length)
            if score <= best_score:
                continue
            angles = self.angles_for(edge, heading, z_cut)
            if angles is None:
                continue
            b, cu, reach = angles
            stand = (edge[0] - reach * c, edge[1] - reach * s)
            approach = (stand[0] - p.approach_m * c, stand[1] - p.approach_m * s)
            if not self.can_stand(stand, approach):
                continue
            # The chassis drives the pass's length too: where the pass would carry the
            # wheels onto a deep cut or fresh fill it is cut short (a pass along a trench
            # from beyond its end drove the front wheels into the end and held the rover
            # fast, trench seed 1).
            full = length
            while not (end_ok := self.standable(stand[0] + length * c, stand[1] + length * s)):
                if length <= MIN_PASS_M:
                    break
                length -= step
            if not end_ok:
                continue
            if length < full:
                score = favour * self.swept_score(cut, edge, heading, length)
                if score <= best_score:
                    continue
            best, best_score = (heading, length, b, cu, z_cut, stand), score
        return best

    def cut_axes(self, cut: BoolArray, x_m: float, y_m: float) -> list[float]:
        """The four headings along and across the cut cells within a metre of (x, y), by
        their principal axes (a trench's line and its normal); none where the cut around
        is round or too small to say."""
        near = cut & (np.hypot(self._gx - x_m, self._gy - y_m) <= 1.0)
        if int(near.sum()) < 3:
            return []
        xs, ys = self._gx[near], self._gy[near]
        cov = np.cov(np.stack([xs, ys]))
        w, v = np.linalg.eigh(cov)
        if w[1] < 2.0 * w[0]:
            return []
        along = math.atan2(float(v[1, 1]), float(v[0, 1]))
        return [along + k * 0.5 * math.pi for k in range(4)]

    def cut_mask(self, cf: CutFill) -> BoolArray:
        """Cells the plan cuts: design cells above their target, and borrow cells."""
        out: BoolArray = cf.cut_m > 0.0
        if self.params.borrow_mask is not None:
            out = out | self.params.borrow_mask
        return out

    def swept_score(
        self, cut: BoolArray, edge: tuple[float, float], heading: float, length: float
    ) -> float:
        """Area (m²) of the strip a pass sweeps (bucket width, from ``edge`` along
        ``heading`` for ``length``) on cells the plan cuts, less the area on cells it
        does not (a cut there is a hole the design did not ask for) or off the grid."""
        g = self.params.grid
        step = 0.5 * g.cell_size_m
        half = 0.5 * self.tool.width_m
        along = np.arange(0.5 * step, max(length, step), step)
        across = np.arange(-half + 0.5 * step, half, step)
        a, b = np.meshgrid(along, across)
        c, s = math.cos(heading), math.sin(heading)
        j, i = g.cells_of(edge[0] + a * c - b * s, edge[1] + a * s + b * c)
        ny, nx = g.shape
        inside = (j >= 0) & (j < ny) & (i >= 0) & (i < nx)
        hit = np.zeros(j.shape, dtype=bool)
        hit[inside] = cut[j[inside], i[inside]]
        n_hit = int(hit.sum())
        return (n_hit - (hit.size - n_hit)) * step * step

    def dump(self, load: Load, yaw_now_rad: float) -> tuple[float, tuple[float, float]] | None:
        """Heading and stand for a load's dump, facing away from the dig if possible."""
        p = self.params
        (dx, dy), (ux, uy) = load.dig_xy_m, load.dump_xy_m
        base = math.atan2(uy - dy, ux - dx) if load.carry_m > 1e-6 else yaw_now_rad
        reach, _ = bucket_edge_m(
            self.config, self.tool, self.poses.dump_boom_rad, self.poses.dump_curl_rad
        )
        for turn in (0.0, 0.5 * math.pi, -0.5 * math.pi, math.pi):
            heading = base + turn
            c, s = math.cos(heading), math.sin(heading)
            stand = (ux - reach * c, uy - reach * s)
            approach = (stand[0] - p.approach_m * c, stand[1] - p.approach_m * s)
            if self.can_stand(stand, approach):
                return heading, stand
        return None

    def pitch_compensated(
        self, boom: float, curl: float, z_cut: float, stand: tuple[float, float], pitch: float
    ) -> tuple[float, float]:
        """Boom and curl for the cut, standing at the stand now: the chassis' pitch at rest
        (accelerometer) moves the edge by ``reach·sin(pitch)``, which the depth takes back
        (as machine-control graders correct the blade for the machine's tilt)."""
        reach, _ = bucket_edge_m(self.config, self.tool, boom, curl)
        depth = self.ground_under(stand[0], stand[1]) - z_cut
        angles = self.reach_depth(depth - reach * math.sin(pitch))
        return angles if angles is not None else (boom, curl)

    def carved(
        self,
        expected_m: FloatArray,
        stand: tuple[float, float],
        heading: float,
        length: float,
        z_cut: float,
    ) -> FloatArray:
        """The expected surface after a pass from ``stand``: lowered to the cut's height
        where the bucket swept (its width, from the edge's start to its end), so the next
        load of the round at the same place takes the next layer, not the soil already
        in the bucket."""
        reach, _ = self.reach_at(z_cut, stand)
        dx, dy = self._gx - stand[0], self._gy - stand[1]
        c, s = math.cos(heading), math.sin(heading)
        along = dx * c + dy * s - reach
        across = -dx * s + dy * c
        swept = (along >= 0.0) & (along <= length) & (np.abs(across) <= 0.5 * self.tool.width_m)
        out: FloatArray = np.where(swept, np.fmin(expected_m, z_cut), expected_m)
        return out

    def reach_at(self, z_cut: float, stand: tuple[float, float]) -> tuple[float, float]:
        """How far ahead of the chassis centre and how high the edge is when set for a cut
        at ``z_cut`` from ``stand`` (level chassis), in m."""
        angles = self.reach_depth(self.ground_under(stand[0], stand[1]) - z_cut)
        if angles is None:
            return 1.0, 0.0
        return bucket_edge_m(self.config, self.tool, *angles)

    def reach_depth(self, depth_m: float) -> tuple[float, float] | None:
        """Boom and curl that put the edge ``depth_m`` below the wheels' ground: with the
        bucket floor at the dig pitch, or tipped further nose-down (:data:`DIG_PITCHES_RAD`)
        for a cut the usual pitch cannot reach; None when none reaches."""
        for floor in (self.poses.dig_pitch_rad, *DIG_PITCHES_RAD):
            poses = dataclasses.replace(self.poses, dig_pitch_rad=floor)
            angles = dig_angles_rad(self.config, self.tool, depth_m, poses)
            if angles is not None:
                return angles
        return None

    def angles_for(
        self, edge_xy: tuple[float, float], heading: float, z_cut: float
    ) -> tuple[float, float, float] | None:
        """Boom, curl and reach that put the edge at ``z_cut`` from where the rover will
        stand behind ``edge_xy`` (two passes: the stand depends on the reach)."""
        reach = 1.0
        angles = None
        for _ in range(2):
            sx = edge_xy[0] - reach * math.cos(heading)
            sy = edge_xy[1] - reach * math.sin(heading)
            ground = self.ground_under(sx, sy)
            depth = ground - z_cut
            angles = self.reach_depth(depth)
            if angles is None:
                return None
            reach, _ = bucket_edge_m(self.config, self.tool, *angles)
        assert angles is not None
        return angles[0], angles[1], reach


def deepest_cut_m(config: RoverConfig, tool: ToolConfig, poses: BucketPoses) -> float:
    """Deepest cut below the wheels' ground at any of the pitches a station may use, m."""
    return max(
        max_dig_depth_m(config, tool, dataclasses.replace(poses, dig_pitch_rad=floor))
        for floor in (poses.dig_pitch_rad, *DIG_PITCHES_RAD)
    )
