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
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..config import RoverConfig, ToolConfig
from ..control.bucket import BucketPoses, bucket_edge_m, dig_angles_rad
from ..control.grade import Aim, GradePass
from ..control.motions import ToolsTo
from ..executive.compose import ScriptBody
from ..planning.earthwork import CutFill
from ..site.design import ResolvedDesign
from ..site.grid import FloatArray
from ..types import Pose2

if TYPE_CHECKING:
    from .earthwork import Earthwork

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

        def can_stand(xy: tuple[float, float], pad: ResolvedDesign = d) -> bool:
            """Clear of the edges and off deep cuts; off fresh fill too, but on the pad,
            whose piles the blade spreads."""
            if not stations.clear(xy):
                return False
            j, i = pad.grid.cell_of(*xy)
            on_pad = pad.grid.in_bounds(j, i) and bool(pad.mask[j, i])
            return stations.standable(*xy, on_fill=on_pad)

        lanes = choose_lanes(d, st.survey_m, task.tool.width_m, reach, can_stand, toward)
        for k, lane in enumerate(lanes):
            st.phase = f"grade {d.name}: lane {k + 1}/{len(lanes)}"
            x, y = lane.chassis(0.0, reach)
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
                lane.length_m,
                GRADE_SPEED_MPS,
                lane.facing_rad,
                boom=boom,
                curl=curl,
                aim=aim,
                pitch0_rad=pitch0,
            )
            yield ToolsTo(pilot, task.carry())
            st.grade_lanes += 1
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
