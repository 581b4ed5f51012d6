"""The rover's own survey of a work area: a fine height grid from its depth camera.

An earthwork task judges itself from this survey, never from the simulator's truth. A
survey *round* is a fresh :class:`~.mapping.ElevationMap` on the work grid (2–5 cm cells),
filled from depth frames the rover takes standing still at survey poses
(:func:`survey_poses`); soil moved since the last round is therefore measured, not
averaged with what was there before.

**One datum for every round.** Each frame is placed with the dead-reckoned pose, the
tilt from the accelerometer at rest and a guessed chassis height, so a frame can sit a
few centimetres high or low and tilted by the accelerometer's bias (at lunar gravity a
0.01 m/s² bias tilts a frame by 6 mrad: 2 cm at 3 m). The first round sets the datum;
afterwards each frame is registered to it before it is fused: the per-cell differences
to the first round's heights on *reference* cells (ground the work does not touch) are
fitted with a plane by least squares, with outliers (ruts, spilled soil) clipped, and
that plane is taken off the frame. The first round's own frames are registered to what
the round already holds, where they overlap it enough; one that does not is taken as
placed. When the first round ends its frames are adjusted jointly: each gets the
plane that makes it agree with every frame it overlaps, the planes' mean held at zero,
so that the tilt bias of frames taken facing opposite ways cancels instead of the first
frame's error becoming the datum's.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..site.grid import FloatArray, GridSpec
from ..types import Pose2
from .mapping import ElevationMap

__all__ = [
    "Registration",
    "SiteSurvey",
    "SurveyParams",
    "clear_of_edges",
    "end_on_poses",
    "insert_poses",
    "survey_poses",
]

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class SurveyParams:
    """How a survey is taken and fused (SI units)."""

    point_std_m: float = 0.005
    """Random error of one depth pixel's height, in m (the camera's depth noise)."""
    max_range_m: float = 4.5
    """Depth beyond this is not used, in m (errors grow with range)."""
    min_reference_cells: int = 40
    """Least reference cells a frame must share with the datum to be registered."""
    clip_m: float = 0.03
    """Differences further than this from the fitted plane are outliers, in m."""
    max_correction_m: float = 0.15
    """A registration that moves the frame's centre more than this is refused, in m."""


@dataclass(frozen=True, slots=True)
class Registration:
    """The plane taken off a frame: ``dz = offset + slope_x·(x - x0) + slope_y·(y - y0)``."""

    offset_m: float
    slope_x: float
    slope_y: float
    centre_xy_m: tuple[float, float]
    cells: int
    """Reference cells the fit used (0: not registered)."""

    def correction(self, x_m: FloatArray, y_m: FloatArray) -> FloatArray:
        cx, cy = self.centre_xy_m
        out: FloatArray = self.offset_m + self.slope_x * (x_m - cx) + self.slope_y * (y_m - cy)
        return out


_NONE = Registration(0.0, 0.0, 0.0, (0.0, 0.0), 0)


def _cell_means(grid: GridSpec, points: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Flat cell index and mean height of every cell the points fall in (inside the grid)."""
    j, i = grid.cells_of(points[:, 0], points[:, 1])
    ny, nx = grid.shape
    ok = (j >= 0) & (j < ny) & (i >= 0) & (i < nx)
    flat = j[ok] * nx + i[ok]
    n = np.bincount(flat, minlength=ny * nx)
    s = np.bincount(flat, weights=points[ok, 2], minlength=ny * nx)
    cells = np.flatnonzero(n >= 2)
    return cells, s[cells] / n[cells]


class SiteSurvey:
    """Survey rounds on a work grid, all on one datum (see the module docstring).

    Args:
        grid: the survey grid (site frame), 2–5 cm cells over the work area and a margin.
        reference_mask: cells the work will not touch, on which frames are registered.
        params: noise and registration settings.
    """

    def __init__(
        self, grid: GridSpec, reference_mask: BoolArray, params: SurveyParams | None = None
    ) -> None:
        grid.check(reference_mask, "reference_mask")
        self.grid = grid
        self.reference_mask = np.asarray(reference_mask, dtype=bool)
        self.params = params or SurveyParams()
        self.datum: FloatArray | None = None
        """Heights of the first round on the reference cells (NaN elsewhere)."""
        self.rounds = 0
        self.registrations: list[Registration] = []
        self.refused = 0
        self._map: ElevationMap | None = None
        self._frames: list[tuple[FloatArray, tuple[float, float]]] = []

    def begin(self) -> None:
        """Start a round: a fresh map, nothing measured yet."""
        self._map = self._fresh_map()
        self._frames = []

    def _fresh_map(self) -> ElevationMap:
        # No false-return gate: a stereo camera's bad pixels come back invalid, not as
        # lone points, and each frame puts tens of points in every 5 cm cell it sees.
        return ElevationMap(
            self.grid, min_var_m2=1e-6, drift_var_m2_per_update=0.0, gate_sigmas=None
        )

    @property
    def in_round(self) -> bool:
        """Whether a round is open (between :meth:`begin` and :meth:`finish`)."""
        return self._map is not None

    @property
    def current(self) -> ElevationMap:
        if self._map is None:
            raise RuntimeError("SiteSurvey.begin() was not called")
        return self._map

    def add_points(self, points_site: FloatArray, rover_xy_m: tuple[float, float]) -> bool:
        """Register and fuse one frame's site-frame points (N, 3) into the round.

        Returns False when the frame could not be registered and was left out.
        """
        pts = np.asarray(points_site, dtype=np.float64).reshape(-1, 3)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) == 0:
            return False
        target = self.datum
        mask = self.reference_mask
        if target is None:  # first round: register to what this round has already
            m = self.current
            target = m.heights_m if m.version > 0 else None
            mask = np.ones(self.grid.shape, dtype=bool)
        reg = _NONE if target is None else self._register(pts, target, mask)
        if reg is None and self.datum is None:
            reg = _NONE  # the datum round: a frame that overlaps nothing yet is taken as placed
        if reg is None:
            self.refused += 1
            return False
        if self.datum is None:
            self._frames.append((pts, rover_xy_m))
        if reg.cells:
            pts = pts.copy()
            pts[:, 2] -= reg.correction(pts[:, 0], pts[:, 1])
        self.registrations.append(reg)
        self.current.integrate(pts, self.params.point_std_m, rover_xy_m=rover_xy_m)
        return True

    def _register(
        self, pts: FloatArray, target: FloatArray, mask: BoolArray
    ) -> Registration | None:
        cells, z = _cell_means(self.grid, pts)
        ref = target.reshape(-1)[cells]
        use = mask.reshape(-1)[cells] & np.isfinite(ref)
        if int(use.sum()) < self.params.min_reference_cells:
            log.info("survey frame shares %d reference cells; refused", int(use.sum()))
            return None
        nx = self.grid.shape[1]
        x = self.grid.x_coords_m[cells[use] % nx]
        y = self.grid.y_coords_m[cells[use] // nx]
        d = z[use] - ref[use]
        cx, cy = float(x.mean()), float(y.mean())
        a = np.column_stack([np.ones(len(d)), x - cx, y - cy])
        keep = np.ones(len(d), dtype=bool)
        coef: FloatArray = np.zeros(3)
        for _ in range(4):
            coef = np.asarray(np.linalg.lstsq(a[keep], d[keep], rcond=None)[0], dtype=np.float64)
            new_keep = np.abs(d - a @ coef) <= self.params.clip_m
            if int(new_keep.sum()) < self.params.min_reference_cells:
                break
            if np.array_equal(new_keep, keep):
                break
            keep = new_keep
        if abs(float(coef[0])) > self.params.max_correction_m:
            log.warning("survey frame would move %.3f m to register; refused", float(coef[0]))
            return None
        return Registration(
            float(coef[0]), float(coef[1]), float(coef[2]), (cx, cy), int(keep.sum())
        )

    def _adjusted(self) -> ElevationMap:
        """The datum round rebuilt from its frames as placed, each corrected by the plane
        of a joint adjustment over all of them (:func:`_adjust_planes`)."""
        binned = [_cell_means(self.grid, pts) for pts, _ in self._frames]
        planes = _adjust_planes(
            binned, self.grid, self.params.min_reference_cells, self.params.clip_m
        )
        if planes is None:
            return self.current
        cx = float(self.grid.x_coords_m.mean())
        cy = float(self.grid.y_coords_m.mean())
        m = self._fresh_map()
        for (pts, xy), (a, bx, by) in zip(self._frames, planes, strict=True):
            fixed = pts.copy()
            fixed[:, 2] -= a + bx * (pts[:, 0] - cx) + by * (pts[:, 1] - cy)
            m.integrate(fixed, self.params.point_std_m, rover_xy_m=xy)
        log.info("survey datum: %d frames adjusted jointly", len(self._frames))
        return m

    def finish(self) -> tuple[FloatArray, FloatArray]:
        """End the round: its heights (NaN unseen) and variances; the first sets the datum."""
        m = self.current
        if self.datum is None and len(self._frames) >= 2:
            m = self._adjusted()
        heights, var = m.heights_m, m.variance_m2
        if self.datum is None:
            self.datum = np.where(self.reference_mask, heights, np.nan)
        self.rounds += 1
        self._map = None
        return heights, var


def _adjust_planes(
    frames: list[tuple[npt.NDArray[np.intp], FloatArray]],
    grid: GridSpec,
    min_shared: int,
    clip_m: float,
) -> FloatArray | None:
    """Plane corrections (F, 3: offset, x slope, y slope about the grid's centre) that make
    every pair of frames agree on their shared cells, their mean held at zero (so errors of
    opposite sign, as a tilt bias seen from opposite headings, cancel). None when no pair
    shares ``min_shared`` cells."""
    nx = grid.shape[1]
    cx = float(grid.x_coords_m.mean())
    cy = float(grid.y_coords_m.mean())
    n = len(frames)
    rows: list[FloatArray] = []
    rhs: list[FloatArray] = []
    for i in range(n):
        for j in range(i + 1, n):
            ci, zi = frames[i]
            cj, zj = frames[j]
            shared, ii, jj = np.intersect1d(ci, cj, assume_unique=True, return_indices=True)
            if len(shared) < min_shared:
                continue
            x = grid.x_coords_m[shared % nx] - cx
            y = grid.y_coords_m[shared // nx] - cy
            block = np.zeros((len(shared), 3 * n))
            block[:, 3 * i : 3 * i + 3] = np.column_stack([np.ones_like(x), x, y])
            block[:, 3 * j : 3 * j + 3] = -block[:, 3 * i : 3 * i + 3]
            rows.append(block)
            rhs.append(zi[ii] - zj[jj])
    if not rows:
        return None
    a = np.vstack(rows)
    b = np.concatenate(rhs)
    weight = 10.0 * math.sqrt(len(b))
    gauge = np.zeros((3, 3 * n))
    for k in range(3):
        gauge[k, k::3] = weight
    keep = np.ones(len(b), dtype=bool)
    sol = np.zeros(3 * n)
    for _ in range(3):
        full_a = np.vstack([a[keep], gauge])
        full_b = np.concatenate([b[keep], np.zeros(3)])
        sol = np.linalg.lstsq(full_a, full_b, rcond=None)[0]
        new_keep = np.abs(a @ sol - b) <= clip_m
        if np.array_equal(new_keep, keep) or int(new_keep.sum()) < min_shared:
            break
        keep = new_keep
    out: FloatArray = sol.reshape(n, 3)
    return out


def survey_poses(
    bounds_xy_m: tuple[float, float, float, float],
    standoff_m: float,
    site_size_m: tuple[float, float] | None,
    clearance_m: float,
    *,
    spacing_m: float = 2.0,
    view_m: float = 0.0,
) -> list[Pose2]:
    """Poses looking at the work area from outside it, facing in.

    Along each side of the work area ``bounds_xy_m`` (x_min, x_max, y_min, y_max, in m),
    poses ``standoff_m`` out and at most ``spacing_m`` apart, in order round the area
    (south, east, north, west). With the camera's useful range ``view_m`` (0: unknown),
    only two opposite sides are surveyed when the area's depth across them is at most
    twice the ground seen beyond the standoff. A pose is kept ``clearance_m`` from the
    site's edges (the rover turning in place must not sweep a wall); one that would then
    stand inside the work area is dropped.
    """
    x0, x1, y0, y1 = bounds_xy_m

    def spread(lo: float, hi: float) -> list[float]:
        n = max(1, math.ceil((hi - lo) / spacing_m))
        return [lo + (k + 0.5) * (hi - lo) / n for k in range(n)]

    # Seen from two opposite sides, an area is covered when its depth between them is at
    # most twice the ground seen beyond the standoff; else all four sides are used.
    sight = view_m - standoff_m
    ns = view_m > 0.0 and (y1 - y0) <= 2.0 * sight
    ew = view_m > 0.0 and not ns and (x1 - x0) <= 2.0 * sight
    south_north = ns or not ew
    east_west = ew or not ns
    sides: list[tuple[float, float, float]] = []
    if south_north:
        sides += [(x, y0 - standoff_m, 0.5 * math.pi) for x in spread(x0, x1)]
    if east_west:
        sides += [(x1 + standoff_m, y, math.pi) for y in spread(y0, y1)]
    if south_north:
        sides += [(x, y1 + standoff_m, -0.5 * math.pi) for x in reversed(spread(x0, x1))]
    if east_west:
        sides += [(x0 - standoff_m, y, 0.0) for y in reversed(spread(y0, y1))]
    out = []
    for x, y, yaw in sides:
        pose = clear_of_edges(Pose2(x, y, yaw), site_size_m, clearance_m)
        if x0 < pose.x_m < x1 and y0 < pose.y_m < y1:
            continue
        out.append(pose)
    return out


def clear_of_edges(
    pose: Pose2, site_size_m: tuple[float, float] | None, clearance_m: float
) -> Pose2:
    """``pose`` moved in to keep ``clearance_m`` from the site's edges (unchanged without
    a site size)."""
    if site_size_m is None:
        return pose
    x = min(max(pose.x_m, clearance_m), site_size_m[0] - clearance_m)
    y = min(max(pose.y_m, clearance_m), site_size_m[1] - clearance_m)
    return Pose2(x, y, pose.yaw_rad)


def end_on_poses(polyline_xy_m: tuple[tuple[float, float], ...], standoff_m: float) -> list[Pose2]:
    """Poses ``standoff_m`` beyond each end of a polyline, looking along it into the work.

    A narrow cut (a trench) hides its floor from a camera looking across it: from a mast
    camera ``H`` above the ground, a trench ``h`` deep hides ``h·d/H`` of its floor behind
    the near wall at range ``d`` (0.25 m deep at 3 m from a 0.9 m mast: all of a 0.3 m
    floor). Looking along the trench nothing stands between the camera and the floor.
    """
    if len(polyline_xy_m) < 2:
        return []
    out = []
    for end, nxt in ((polyline_xy_m[0], polyline_xy_m[1]), (polyline_xy_m[-1], polyline_xy_m[-2])):
        ux, uy = nxt[0] - end[0], nxt[1] - end[1]
        n = math.hypot(ux, uy)
        if n < 1e-9:
            continue
        ux, uy = ux / n, uy / n
        out.append(Pose2(end[0] - standoff_m * ux, end[1] - standoff_m * uy, math.atan2(uy, ux)))
    return out


def insert_poses(route: list[Pose2], extra: list[Pose2]) -> list[Pose2]:
    """``route`` with each of ``extra`` inserted where it lengthens the tour least (the
    route's own order is kept; a pose goes first or last if that is cheapest)."""

    def gap(a: Pose2 | None, b: Pose2 | None) -> float:
        if a is None or b is None:
            return 0.0
        return math.hypot(a.x_m - b.x_m, a.y_m - b.y_m)

    out = list(route)
    for pose in extra:
        ends: list[Pose2 | None] = [None, *out, None]
        costs = [
            gap(before, pose) + gap(pose, after) - gap(before, after)
            for before, after in itertools.pairwise(ends)
        ]
        out.insert(int(np.argmin(costs)), pose)
    return out
