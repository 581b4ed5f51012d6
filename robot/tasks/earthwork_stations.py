"""Where an earthwork rover stands to dig and to dump a load, and how it sets its bucket.

:class:`Stations` is a :class:`~.earthwork_reach.BucketReach` (where the wheels may
stand: off deep cuts and fresh fill, or straddling a trench; how far the bucket reaches
at a depth) that picks which pass through a load's cell sweeps the most of the cut, where
the rover lines up for it, and where it stands to dump. The earthwork task
(:mod:`.earthwork`) asks it for each load's :class:`DigStation` and dump stand.

A deep cut narrower than the bucket (a trench) is dug along its line, the bucket centred
on it and the wheels straddling the channel it digs, run in from beyond the trench's
nearer end; the trench comes out as wide as the bucket. Everywhere else a pass may run
any way through the cut that keeps the bucket on it.
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

from ..config import RoverConfig, ToolConfig
from ..control.bucket import BucketPoses, bucket_edge_m
from ..planning.earthwork import CutFill
from ..planning.hauls import Load
from ..site.grid import FloatArray
from ..types import wrap_angle
from .earthwork_footing import cut_width_m
from .earthwork_passes import cut_at, cut_axes, pass_through, swept_score
from .earthwork_reach import BucketReach

if TYPE_CHECKING:
    from .earthwork_params import EarthworkTaskParams

__all__ = ["DEEP_CUT_M", "LAYER_M", "DigStation", "Stations"]

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
MIN_PASS_M = 0.2
"""Shortest dig pass, in m."""
PASS_SHIFTS = (0.0, -0.25, 0.25, -0.5, 0.5)
"""Sideways shifts of a dig pass off the load's cell tried, in bucket widths: at a
trench's end or a cut's edge a pass shifted in keeps the bucket's corners off ground the
plan does not cut."""
OFF_SIDE_PENALTY = 0.2
"""Share of its swept-area score a dig pass loses facing straight away from the dump's
side (a linear share of that for headings in between)."""
PILE_RADIUS_M = 0.35
"""Radius of the ground a poured bucketful covers, in m (15 L at the 35° repose of loose
regolith is a cone of about 0.3 m radius)."""
DUMP_HEADINGS = 16
"""Headings tried for a dump stand, evenly round, the nearest the way the rover comes
first. With four (straight on, either side, back), a heap's end crowded by its own
earlier pours left none: seven loads of a trench's west end skipped in a row."""
MAX_RUN_IN_M = 4.0
"""Longest run in over a trench to a straddling dig stand, in m."""
RUN_IN_SHARE_PER_M = 0.1
"""Share of its swept-area score a dig pass loses per metre its run-in is longer than
the usual approach: of two passes along a trench, the one from the nearer end."""
NARROW_WINDOW_M = 0.5
"""Radius round a load's cell within which a deep cut's width is taken, in m."""


@dataclasses.dataclass(frozen=True, slots=True)
class DigStation:
    """Where and how one dig pass goes."""

    heading_rad: float
    length_m: float
    """The pass's length, in m."""
    boom_rad: float
    curl_rad: float
    z_cut_m: float
    """Height of the edge's cut, in m (survey datum)."""
    stand_xy_m: tuple[float, float]
    """The chassis centre where the pass begins."""
    run_in_m: float
    """How far straight back from the stand, along the heading, the rover lines up (the
    usual approach, or longer to run in over a trench it straddles), in m."""
    ground_m: float
    """The surveyed ground under the wheels at the stand, in m."""
    turn_m: float
    """How far back from the stand the rover turns onto the pass's line and off it again,
    in m: the run-in's start, or nearer the stand where turning there would sweep the
    bucket over the site's edge (it then backs along the line to the run-in's start)."""

    @property
    def turn_xy_m(self) -> tuple[float, float]:
        """Where the rover turns onto the pass's line and off it (:attr:`turn_m` back)."""
        c, s = math.cos(self.heading_rad), math.sin(self.heading_rad)
        return self.stand_xy_m[0] - self.turn_m * c, self.stand_xy_m[1] - self.turn_m * s


class Stations(BucketReach):
    """Dig and dump stations of an earthwork rover (see the module docstring). Its
    arguments are :class:`~.earthwork_reach.BucketReach`'s, with the task's ``params``
    (grid, planner, borrow cells, run-in, pass length) in place of the grid."""

    def __init__(
        self,
        config: RoverConfig,
        tool: ToolConfig,
        poses: BucketPoses,
        params: EarthworkTaskParams,
        site_size_m: tuple[float, float] | None,
        ground_under: Callable[[float, float], float],
    ) -> None:
        super().__init__(config, tool, poses, params.grid, site_size_m, ground_under)
        self.params = params

    def can_stand(self, stand: tuple[float, float], approach: tuple[float, float]) -> bool:
        """Whether the rover may stand at a station and at its run-in: clear of the site's
        edges, the wheels off deep cuts and fresh fill."""
        return self.clear(stand, approach) and self.standable(*stand) and self.standable(*approach)

    def mark_fill(self, x_m: float, y_m: float) -> None:
        """A load was just poured at (x, y): the ground within :data:`PILE_RADIUS_M` is
        fresh fill from now on."""
        self.mark_pile(x_m, y_m, PILE_RADIUS_M)

    def run_in(self, stand: tuple[float, float], heading: float) -> float | None:
        """How far back along ``heading`` from ``stand`` the rover lines up for a pass:
        the usual approach where the wheels stand clear there and at the stand; else,
        straddling a trench, back to where a route can reach (:meth:`routable`), every
        point on the way with the wheels clear of the channel; None where neither."""
        a = self.params.approach_m
        c, s = math.cos(heading), math.sin(heading)
        if self.standable(*stand) and self.standable(stand[0] - a * c, stand[1] - a * s):
            return a
        step = self.params.grid.cell_size_m
        d = 0.0
        while d <= MAX_RUN_IN_M:
            x, y = stand[0] - d * c, stand[1] - d * s
            free = self.standable(x, y)
            if not (free or self.wheels_clear(x, y, heading)):
                return None
            if d >= a and free and self.routable(x, y):
                return d
            d += step
        return None

    def turn_point(self, stand: tuple[float, float], heading: float, run_in: float) -> float | None:
        """Where on a pass's line (m back from ``stand``) the rover turns onto it: the
        run-in's start where a turn there keeps clear of the site's edges, else the
        farthest point back towards the stand that does, the run-in's start still inside
        the site for a rover backing to it; None where neither. A trench 3 m from a wall
        could not be entered from that end at all (its end cells were dug from the far
        end, the rover driving round and backing out along the whole trench each load)."""
        c, s = math.cos(heading), math.sin(heading)
        start = (stand[0] - run_in * c, stand[1] - run_in * s)
        if not (self.clear(stand) and self.clear_facing(start, heading)):
            return None
        d = run_in
        while d >= 0.0:
            if self.clear((stand[0] - d * c, stand[1] - d * s)):
                return d
            d -= self.params.grid.cell_size_m
        return None

    def narrow_axis(self, x_m: float, y_m: float) -> tuple[float, tuple[float, float]] | None:
        """For a load in a deep cut narrower than the bucket (a trench): the cut's line
        (a heading along it) and the point on its middle line abreast of (x, y); None
        elsewhere."""
        deep = self.deep_cut
        if deep is None or not cut_at(self.grid, deep, x_m, y_m):
            return None
        near = deep & (np.hypot(self._gx - x_m, self._gy - y_m) <= NARROW_WINDOW_M)
        if cut_width_m(near, self.grid.cell_size_m) >= self.tool.width_m:
            return None
        axes = cut_axes(deep, self._gx, self._gy, x_m, y_m)
        if not axes:
            return None
        nx, ny = -math.sin(axes[0]), math.cos(axes[0])
        off = float(np.mean((self._gx[near] - x_m) * nx + (self._gy[near] - y_m) * ny))
        return axes[0], (x_m + off * nx, y_m + off * ny)

    def dig(
        self, load: Load, cf: CutFill, surface_m: FloatArray, yaw_now_rad: float
    ) -> DigStation | None:
        """The dig pass for a load, or None where no station reaches it.

        The cut goes one layer (:data:`LAYER_M`) below the surveyed top at most, down to
        the design (or the borrow depth). In a deep cut narrower than the bucket
        (:meth:`narrow_axis`) the pass runs along the cut's line both ways, the bucket
        centred on it; elsewhere passes are tried at eight headings and along and across
        the cut's own axes (the dump's side favoured), each through the load's cell and
        shifted sideways by up to half a bucket (:data:`PASS_SHIFTS`). A pass runs
        through cells the plan cuts and stops where they end, so the bucket does not dig
        beyond the design along it. Of those whose stand and run-in keep clear of the
        site's edges with the wheels off the work (:meth:`run_in`), the one whose swept
        strip (bucket width × length) takes the most cut cells less the cells it would
        cut wrongly (:func:`~.earthwork_passes.swept_score`) is taken, a longer run-in
        counting against it (:data:`RUN_IN_SHARE_PER_M`). Along a trench narrower than the
        bucket the bucket's overhang is no fault (the channel, :meth:`channel`, is its
        width).
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
        g, width = self.grid, self.tool.width_m
        scored, origin = cut, (dx, dy)
        headings = [base + k * 0.25 * math.pi for k in range(8)] + cut_axes(
            cut, self._gx, self._gy, dx, dy
        )
        shifts: tuple[float, ...] = PASS_SHIFTS
        narrow = self.narrow_axis(dx, dy)
        if narrow is not None:
            axis, origin = narrow
            channel = self.channel()
            assert channel is not None
            headings, shifts, scored = [axis, axis + math.pi], (0.0,), cut | channel
        headings.sort(key=lambda h: abs(wrap_angle(h - base)))
        step = g.cell_size_m
        best: DigStation | None = None
        best_score = 0.0
        for heading, shift in itertools.product(headings, shifts):
            # Digging from the far side of the dump sends the rover round the work and
            # back each load: such a pass must sweep markedly more of the cut to be taken.
            favour = 1.0 - OFF_SIDE_PENALTY * abs(wrap_angle(heading - base)) / math.pi
            c, s = math.cos(heading), math.sin(heading)
            ox, oy = origin[0] - shift * width * s, origin[1] + shift * width * c
            if not cut_at(g, cut, ox, oy):
                continue
            back, fwd = pass_through(g, cut, ox, oy, heading, want)
            # From the far side of the first cut cell to the far side of the last.
            length = max(back + fwd + step, MIN_PASS_M)
            edge = (ox - (back + 0.5 * step) * c, oy - (back + 0.5 * step) * s)
            score = favour * swept_score(g, scored, edge, heading, length, width)
            if score <= best_score:
                continue
            angles = self.angles_for(edge, heading, z_cut)
            if angles is None:
                continue
            b, cu, reach, ground = angles
            stand = (edge[0] - reach * c, edge[1] - reach * s)
            run_in = self.run_in(stand, heading)
            if run_in is None:
                continue
            turn = self.turn_point(stand, heading, run_in)
            if turn is None:
                continue
            favour *= 1.0 - RUN_IN_SHARE_PER_M * max(run_in - p.approach_m, 0.0)
            # The chassis drives the pass's length too: where the pass would carry the
            # wheels onto a deep cut or fresh fill it is cut short (a pass along a trench
            # from beyond its end drove the front wheels into the end and held the rover
            # fast, trench seed 1).
            while not (end_ok := self.footing(stand, heading, length)):
                if length <= MIN_PASS_M:
                    break
                length -= step
            if not end_ok:
                continue
            score = favour * swept_score(g, scored, edge, heading, length, width)
            if score <= best_score:
                continue
            best_score = score
            best = DigStation(heading, length, b, cu, z_cut, stand, run_in, ground, turn)
        return best

    def footing(self, stand: tuple[float, float], heading: float, ahead_m: float) -> bool:
        """Whether the wheels stand clear ``ahead_m`` along ``heading`` from ``stand``:
        off the work all round, or straddling the channel."""
        x = stand[0] + ahead_m * math.cos(heading)
        y = stand[1] + ahead_m * math.sin(heading)
        return self.standable(x, y) or self.wheels_clear(x, y, heading)

    def cut_mask(self, cf: CutFill) -> BoolArray:
        """Cells the plan cuts: design cells above their target, and borrow cells."""
        out: BoolArray = cf.cut_m > 0.0
        if self.params.borrow_mask is not None:
            out = out | self.params.borrow_mask
        return out

    def dump(
        self, load: Load, yaw_now_rad: float, from_xy_m: tuple[float, float] | None = None
    ) -> tuple[float, tuple[float, float]] | None:
        """Heading and stand for a load's dump, facing away from the dig (or from
        ``from_xy_m``, where the rover leaves the dig: a trench's end) if possible."""
        p = self.params
        (dx, dy), (ux, uy) = from_xy_m or load.dig_xy_m, load.dump_xy_m
        base = math.atan2(uy - dy, ux - dx) if load.carry_m > 1e-6 else yaw_now_rad
        reach, _ = bucket_edge_m(
            self.config, self.tool, self.poses.dump_boom_rad, self.poses.dump_curl_rad
        )
        for k in sorted(range(-DUMP_HEADINGS // 2 + 1, DUMP_HEADINGS // 2 + 1), key=abs):
            heading = base + 2.0 * math.pi * k / DUMP_HEADINGS
            c, s = math.cos(heading), math.sin(heading)
            stand = (ux - reach * c, uy - reach * s)
            approach = (stand[0] - p.approach_m * c, stand[1] - p.approach_m * s)
            if self.can_stand(stand, approach):
                return heading, stand
        return None
