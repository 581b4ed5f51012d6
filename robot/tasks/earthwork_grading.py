"""Where an earthwork rover back-blades a pad to its grade: lanes, their direction, the aim.

Hauls move soil a bucketful at a time and leave it in piles; a pad's last few
centimetres are graded, not hauled. After a round of hauls the task back-drags each pad
in parallel lanes (:class:`~lunarsite.robot.control.grade.GradePass`): each lane starts
with the lip :data:`OVERRUN_M` beyond the pad's far edge and ends as far beyond its near
edge, where the windrow of surplus is left. :func:`grade_lanes` lays the lanes for one
drag direction over the cells a design speaks for; :func:`choose_lanes` picks, of the
site's four axis directions, the one whose lanes the rover can stand at both ends of
(clear of the site's edges, off deep cuts), towards the fill the pad's surplus should
feed, and keeps the lanes that still hold cells out of tolerance.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..config import RoverConfig, ToolConfig
from ..control.bucket import BucketPoses, bucket_edge_m, dig_angles_rad
from ..control.dig_cut import DigCut
from ..control.grade import Aim, GradePass
from ..control.motions import Straight, ToolsTo
from ..executive.compose import ScriptBody
from ..planning.earthwork import CutFill
from ..planning.hauls import Load
from ..site.design import ResolvedDesign
from ..site.grid import FloatArray
from ..types import Pose2
from .earthwork_haul import dump_load

if TYPE_CHECKING:
    from .earthwork import Earthwork

log = logging.getLogger(__name__)

__all__ = [
    "GRADE_FLOOR_PITCH_RAD",
    "GRADE_SPEED_MPS",
    "OVERRUN_M",
    "GradeLane",
    "choose_lanes",
    "grade_angles",
    "grade_lanes",
    "grade_reach_m",
    "grade_round",
    "lane_segments",
]

GRADE_FLOOR_PITCH_RAD = -1.0
"""Bucket floor pitch while back-blading, in rad: 57° nose down, past the 35–45° at which
loose regolith runs out of a tipped bucket (its angle of repose, reference/LUNAR.md), so
the bucket holds nothing and its lip works as a blade."""
GRADE_SPEED_MPS = 0.06
"""Back-drag speed, in m/s: slower than a dig pass, so the boom keeps up with the pitch."""
LANE_SPACING_SHARE = 0.8
"""Lane spacing as a share of the bucket's width: neighbouring lanes overlap by a fifth."""
OVERRUN_M = 0.15
"""How far beyond the pad's edge a lane starts and ends, in m."""
MIN_OUT_SHARE = 0.05
"""A lane is worth a pass when at least this share of its cells is out of tolerance."""
WINDROW_SHARE = 0.5
"""A pass ends when the soil it has shaved and not yet dropped into lows reaches this
share of the bucket's capacity. The windrow rides under the chassis, between the front
wheels: 15 L as a ridge a bucket wide and 0.3 m long stands 10 cm, and the excavator's
belly clears about 9 cm (landing_pad seed 2: a 4 m pass high-centred it on its own
windrow)."""
GRADE_BELOW_RMS_M = 0.04
"""A pad is back-bladed once its surveyed RMS error is below this, in m; further off, the
soil is moved by the bucketful first (a blade shaving 6 cm off a pad fills the bucket
every 25 cm of a lane)."""
COLLECT_BACK_M = 0.6
"""After a pass the rover backs this far, bucket up, then digs forward through the
windrow at the grade to take it away, in m."""
MIN_COLLECT_M3 = 0.002
"""A windrow smaller than this (m³) is left where it is."""


@dataclass(frozen=True, slots=True)
class GradeLane:
    """One back-drag: the rover faces ``facing_rad`` and reverses ``length_m``; its lip
    starts at ``lip_start_xy_m`` and moves the other way."""

    facing_rad: float
    lip_start_xy_m: tuple[float, float]
    length_m: float

    def point(self, t_m: float) -> tuple[float, float]:
        """Where the lip is after dragging ``t_m``."""
        c, s = math.cos(self.facing_rad), math.sin(self.facing_rad)
        return (self.lip_start_xy_m[0] - t_m * c, self.lip_start_xy_m[1] - t_m * s)

    def chassis(self, t_m: float, reach_m: float) -> tuple[float, float]:
        """Where the chassis centre stands when the lip, ``reach_m`` ahead, has dragged
        ``t_m``."""
        lx, ly = self.point(t_m)
        c, s = math.cos(self.facing_rad), math.sin(self.facing_rad)
        return (lx - reach_m * c, ly - reach_m * s)


def grade_angles(
    config: RoverConfig, tool: ToolConfig, poses: BucketPoses, depth_m: float
) -> tuple[float, float] | None:
    """Boom and curl that put the lip ``depth_m`` below the wheels' ground with the floor
    at :data:`GRADE_FLOOR_PITCH_RAD` (negative depth: above it); None out of reach."""
    tipped = dataclasses.replace(poses, dig_pitch_rad=GRADE_FLOOR_PITCH_RAD)
    return dig_angles_rad(config, tool, depth_m, tipped)


def grade_reach_m(config: RoverConfig, tool: ToolConfig, poses: BucketPoses) -> float:
    """How far ahead of the chassis centre the lip is with the lip at the wheels' ground."""
    angles = grade_angles(config, tool, poses, 0.0)
    if angles is None:
        raise ValueError(f"rover {config.name!r}: the bucket cannot be tipped to grade")
    return bucket_edge_m(config, tool, *angles)[0]


def grade_lanes(design: ResolvedDesign, drag_rad: float, width_m: float) -> list[GradeLane]:
    """Parallel lanes ``width_m`` wide, :data:`LANE_SPACING_SHARE` of it apart, dragging
    the lip along ``drag_rad`` over every cell ``design`` speaks for."""
    g = design.grid
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    mask = design.mask
    if not mask.any():
        return []
    c, s = math.cos(drag_rad), math.sin(drag_rad)
    along = gx[mask] * c + gy[mask] * s
    across = -gx[mask] * s + gy[mask] * c
    spacing = LANE_SPACING_SHARE * width_m
    lo, hi = float(across.min()), float(across.max())
    count = max(1, math.ceil((hi - lo - width_m) / spacing) + 1)
    first = 0.5 * (lo + hi) - 0.5 * (count - 1) * spacing
    lanes = []
    for k in range(count):
        a = first + k * spacing
        swath = np.abs(across - a) <= 0.5 * width_m
        if not swath.any():
            continue
        t0 = float(along[swath].min()) - OVERRUN_M
        t1 = float(along[swath].max()) + OVERRUN_M
        lip = (t0 * c - a * s, t0 * s + a * c)
        lanes.append(GradeLane(drag_rad + math.pi, lip, t1 - t0))
    return lanes


def lane_segments(
    lane: GradeLane,
    design: ResolvedDesign,
    surface_m: FloatArray,
    width_m: float,
    max_windrow_m3: float,
) -> list[tuple[float, float, float]]:
    """Pieces ``(t0, t1, windrow m³)`` of a lane, each ending where the soil the lip has
    shaved above the design, less what it dropped into lows, reaches ``max_windrow_m3``
    (by the survey ``surface_m``; unknown cells count as on grade)."""
    g = design.grid
    step = g.cell_size_m
    c, s = -math.cos(lane.facing_rad), -math.sin(lane.facing_rad)  # the drag direction
    offsets = np.arange(-0.5 * width_m + 0.5 * step, 0.5 * width_m, step)
    out: list[tuple[float, float, float]] = []
    volume, t0 = 0.0, 0.0
    for k in range(max(1, math.ceil(lane.length_m / step))):
        t = (k + 0.5) * step
        lx, ly = lane.point(t)
        xs, ys = lx - offsets * s, ly + offsets * c
        j, i = g.cells_of(xs, ys)
        inside = (j >= 0) & (j < g.shape[0]) & (i >= 0) & (i < g.shape[1])
        rise = surface_m[j[inside], i[inside]] - design.heights_m[j[inside], i[inside]]
        volume = max(0.0, volume + float(np.nansum(rise)) * step * step)
        if volume >= max_windrow_m3:
            end = min(t + 0.5 * step, lane.length_m)
            out.append((t0, end, volume))
            volume, t0 = 0.0, end
    if lane.length_m - t0 > step:
        out.append((t0, lane.length_m, volume))
    return out


def choose_lanes(
    design: ResolvedDesign,
    surface_m: FloatArray,
    width_m: float,
    reach_m: float,
    can_stand: Callable[[tuple[float, float]], bool],
    toward_xy_m: tuple[float, float] | None,
) -> list[GradeLane]:
    """The lanes to drag ``design`` by (see the module docstring).

    ``can_stand`` says whether the chassis may stand at a point; ``toward_xy_m`` is where
    the surplus should go (the centroid of fill outside the pad), or None. Lanes whose
    swath on ``surface_m`` (the survey) is within tolerance are left out."""
    g = design.grid
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    mask = design.mask
    if not mask.any():
        return []
    cx, cy = float(gx[mask].mean()), float(gy[mask].mean())
    best: tuple[tuple[int, float], list[GradeLane]] | None = None
    for k in range(4):
        drag = k * 0.5 * math.pi
        c, s = math.cos(drag), math.sin(drag)
        lanes = grade_lanes(design, drag, width_m)
        ok = [
            lane
            for lane in lanes
            if can_stand(lane.chassis(0.0, reach_m))
            and can_stand(lane.chassis(lane.length_m, reach_m))
        ]
        toward = 0.0
        if toward_xy_m is not None:
            toward = (toward_xy_m[0] - cx) * c + (toward_xy_m[1] - cy) * s
        key = (len(ok) - len(lanes), toward)
        if best is None or key > best[0]:
            best = (key, ok)
    assert best is not None
    error = np.abs(surface_m - design.heights_m)
    out = np.where(mask, np.isnan(error) | (error > design.tolerance_m), False)
    return [
        lane for lane in best[1] if _out_share(lane, out, mask, gx, gy, width_m) >= MIN_OUT_SHARE
    ]


def _out_share(
    lane: GradeLane,
    out: np.ndarray,
    mask: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    width_m: float,
) -> float:
    """Share of the design's cells in a lane's swath that are out of tolerance."""
    c, s = math.cos(lane.facing_rad), math.sin(lane.facing_rad)
    dx, dy = gx - lane.lip_start_xy_m[0], gy - lane.lip_start_xy_m[1]
    along = -(dx * c + dy * s)
    across = -dx * s + dy * c
    swath = (along >= 0.0) & (along <= lane.length_m) & (np.abs(across) <= 0.5 * width_m) & mask
    n = int(swath.sum())
    return float(out[swath].sum()) / n if n else 0.0


def grade_round(task: Earthwork, cf: CutFill) -> ScriptBody:
    """Back-blade every level pad of ``task`` in lanes (:func:`choose_lanes`), the
    surplus dragged towards the fill outside the pads."""
    st, pilot, stations = task.progress, task.pilot, task.stations
    assert st.survey_m is not None
    boom, curl = task.tool.joints[0].name, task.tool.joints[1].name
    reach = grade_reach_m(task.config, task.tool, task.poses)
    pads = [d for d in st.designs if d.kind == "level_pad"]
    elsewhere = cf.fill_m > 0.0
    for d in pads:
        elsewhere &= ~d.mask
    gx, gy = np.meshgrid(task.params.grid.x_coords_m, task.params.grid.y_coords_m)
    toward = (float(gx[elsewhere].mean()), float(gy[elsewhere].mean())) if elsewhere.any() else None

    for d in pads:
        score = st.scores.get(d.name)
        if score is None or score.rms_error_m >= GRADE_BELOW_RMS_M:
            continue

        def can_stand(xy: tuple[float, float], pad: ResolvedDesign = d) -> bool:
            """Clear of the edges and off deep cuts; off fresh fill too, but on the pad,
            whose piles the blade spreads."""
            if not stations.clear(xy):
                return False
            j, i = pad.grid.cell_of(*xy)
            on_pad = pad.grid.in_bounds(j, i) and bool(pad.mask[j, i])
            return stations.standable(*xy, on_fill=on_pad)

        lanes = choose_lanes(d, st.survey_m, task.tool.width_m, reach, can_stand, toward)
        windrow = WINDROW_SHARE * task.params.planner.bucket_capacity_m3
        for k, lane in enumerate(lanes):
            pieces = lane_segments(lane, d, st.survey_m, task.tool.width_m, windrow)
            for t0, t1, volume in pieces:
                st.phase = f"grade {d.name}: lane {k + 1}/{len(lanes)}"
                x, y = lane.chassis(t0, reach)
                yield ToolsTo(pilot, task.carry())
                yield from task.go(x, y, lane.facing_rad)
                if pilot.stuck:
                    return None
                _, pitch0 = task.tilt()
                aim = _grade_aim(task, d, lane, reach)
                first = aim(pilot.pose, pitch0)
                if first is None:
                    continue
                yield ToolsTo(pilot, {boom: first[0], curl: first[1]})
                yield GradePass(
                    pilot,
                    t1 - t0,
                    GRADE_SPEED_MPS,
                    lane.facing_rad,
                    boom=boom,
                    curl=curl,
                    aim=aim,
                    pitch0_rad=pitch0,
                )
                yield ToolsTo(pilot, task.carry())
                st.grade_lanes += 1
                if volume >= MIN_COLLECT_M3:
                    yield from _collect(task, d, lane, t1, volume, cf, toward)
        if stations.fresh_fill is not None:  # the blade spread the piles on the pad
            stations.fresh_fill = stations.fresh_fill & ~d.mask
    return None


def _grade_aim(task: Earthwork, design: ResolvedDesign, lane: GradeLane, reach_m: float) -> Aim:
    """Boom and curl that hold the lip on ``design`` where it is now, from the ground
    the survey knows under the chassis and the chassis' pitch."""
    grid = design.grid
    c, s = math.cos(lane.facing_rad), math.sin(lane.facing_rad)
    last = [float(np.nanmean(design.heights_m))]

    def aim(pose: Pose2, pitch_rad: float) -> tuple[float, float] | None:
        j, i = grid.cell_of(pose.x_m + reach_m * c, pose.y_m + reach_m * s)
        if grid.in_bounds(j, i) and math.isfinite(float(design.heights_m[j, i])):
            last[0] = float(design.heights_m[j, i])
        depth = task.ground_under(pose.x_m, pose.y_m) - last[0]
        return grade_angles(
            task.config, task.tool, task.poses, depth - reach_m * math.sin(pitch_rad)
        )

    return aim


def _collect(
    task: Earthwork,
    design: ResolvedDesign,
    lane: GradeLane,
    t_m: float,
    volume_m3: float,
    cf: CutFill,
    toward_xy_m: tuple[float, float] | None,
) -> ScriptBody:
    """Take away the windrow a pass left at ``t_m``: back off it with the bucket up, dig
    forward through it at the grade, and dump it where the plan still wants fill outside
    the pad (or on the pad's far side from it)."""
    st, p, pilot, stations = task.progress, task.params, task.pilot, task.stations
    boom, curl = task.tool.joints[0].name, task.tool.joints[1].name
    carry = task.carry()
    windrow_xy = lane.point(t_m)
    yield Straight(pilot, -COLLECT_BACK_M, 0.1, lane.facing_rad)
    pose = pilot.pose
    j, i = design.grid.cell_of(*windrow_xy)
    inside = design.grid.in_bounds(j, i) and math.isfinite(float(design.heights_m[j, i]))
    z_grade = float(design.heights_m[j, i]) if inside else float(np.nanmean(design.heights_m))
    stand = (pose.x_m, pose.y_m)
    angles = stations.reach_depth(task.ground_under(*stand) - z_grade)
    if angles is None:
        return None
    _, pitch = task.tilt()
    b, cu = stations.pitch_compensated(angles[0], angles[1], z_grade, stand, pitch)
    st.haul_phase = 1
    yield ToolsTo(pilot, {boom: b, curl: cu})
    yield DigCut(
        pilot,
        COLLECT_BACK_M + 0.2,
        p.dig_speed_mps,
        lane.facing_rad,
        boom=boom,
        carry_rad=carry[boom],
    )
    yield Straight(pilot, -0.15, 0.08, lane.facing_rad)
    yield ToolsTo(pilot, {curl: carry[curl]})
    yield ToolsTo(pilot, carry)
    target = _dump_target(cf, design, windrow_xy, toward_xy_m)
    load = Load(windrow_xy, target, volume_m3 * p.planner.cut_density_kgpm3, "windrow", "fill")
    dump = stations.dump(load, pilot.pose.yaw_rad)
    if dump is None:
        log.warning("windrow at (%.2f, %.2f): no dump station; poured back", *windrow_xy)
        here = pilot.pose
        dump = (here.yaw_rad, (here.x_m, here.y_m))
    yield from dump_load(task, load, dump)
    return None


def _dump_target(
    cf: CutFill,
    design: ResolvedDesign,
    from_xy_m: tuple[float, float],
    toward_xy_m: tuple[float, float] | None,
) -> tuple[float, float]:
    """The nearest cell outside ``design`` that the plan still fills, else the lane's
    end beyond the pad (where the windrow would have gone)."""
    g = design.grid
    want = (cf.fill_m > 0.0) & ~design.mask
    if not want.any():
        return toward_xy_m if toward_xy_m is not None else from_xy_m
    gx, gy = np.meshgrid(g.x_coords_m, g.y_coords_m)
    d = np.where(want, np.hypot(gx - from_xy_m[0], gy - from_xy_m[1]), np.inf)
    j, i = np.unravel_index(int(np.argmin(d)), d.shape)
    return (float(gx[j, i]), float(gy[j, i]))
