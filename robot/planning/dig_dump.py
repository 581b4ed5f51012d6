"""Where to dig and where to dump: the layout of a dig-and-dump task.

:class:`DigDumpPlan` lays the work out from :class:`DigDumpParams`: the dig area is
skimmed in layers, lanes a bucket-width apart across it and strips of ``pass_length_m``
along it (the far strip first), each layer deeper; loads go to lanes across the dump area.
For each dig the chassis stands ``reach`` behind the strip (``reach`` from the bucket's
geometry at the digging pose, :mod:`lunarsite.robot.control.bucket`), so the wheels stay
out of the pit when the dig area is no longer than the gap between the bucket's edge and
the front wheels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from ..config import RoverConfig
from ..control.bucket import BucketPoses, bucket_edge_m, dig_angles_rad, dig_bucket
from ..site.zones import FACING_YAW_RAD, Box, Facing

__all__ = ["DigDumpParams", "DigDumpPlan", "DigPass", "DumpSpot"]

_LANE_OVERLAP = 0.9
"""Dig lanes are this share of the bucket width apart (a little overlap)."""


@dataclass(frozen=True, slots=True)
class DigDumpParams:
    """What a dig-and-dump task is asked to do (SI units; see the scenario schema for
    each field's meaning and default)."""

    dig_area: Box
    dump_area: Box
    dig_facing: Facing = "east"
    dump_facing: Facing = "north"
    cycles: int | None = None
    """Dig-carry-dump cycles; None: until the time limit."""
    layer_depth_m: float = 0.06
    max_depth_m: float = 0.2
    pass_length_m: float = 0.3
    dig_speed_mps: float = 0.08
    cruise_speed_mps: float | None = None
    """Speed between the areas; None: the rover's ``drive.max_speed_mps``."""
    approach_m: float = 0.4


@dataclass(frozen=True, slots=True)
class DigPass:
    """One dig: approach point, chassis start and end, bucket angles, planned depth (m,
    rad)."""

    layer: int
    lane: int
    approach_xy_m: tuple[float, float]
    start_xy_m: tuple[float, float]
    length_m: float
    heading_rad: float
    depth_m: float
    boom_rad: float
    curl_rad: float


@dataclass(frozen=True, slots=True)
class DumpSpot:
    """One dump: approach point and where the chassis stands to pour (m, rad)."""

    lane: int
    approach_xy_m: tuple[float, float]
    stand_xy_m: tuple[float, float]
    heading_rad: float


def _ranges(box: Box, yaw: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Extent of a box along the heading and across it (to the left), in m."""
    ux, uy = math.cos(yaw), math.sin(yaw)
    x0, x1, y0, y1 = box.bounds_m
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    along = [x * ux + y * uy for x, y in corners]
    across = [-x * uy + y * ux for x, y in corners]
    return (min(along), max(along)), (min(across), max(across))


def _lanes(lo: float, hi: float, width: float, spacing: float) -> list[float]:
    """Lane centres across [lo, hi] for a tool ``width`` wide, at most ``spacing`` apart."""
    span = hi - lo
    if span <= width:
        return [0.5 * (lo + hi)]
    n = math.ceil((span - width) / spacing - 1e-9) + 1
    return [lo + 0.5 * width + k * (span - width) / (n - 1) for k in range(n)]


def _site_xy(along: float, across: float, yaw: float) -> tuple[float, float]:
    ux, uy = math.cos(yaw), math.sin(yaw)
    return (along * ux - across * uy, along * uy + across * ux)


class DigDumpPlan:
    """Where each dig and each dump happens (see the module docstring).

    Raises:
        ValueError: the rover has no two-joint bucket, or cannot cut the first layer.
    """

    def __init__(
        self,
        params: DigDumpParams,
        rover: RoverConfig,
        poses: BucketPoses | None = None,
    ) -> None:
        tool = dig_bucket(rover)
        if tool is None:
            raise ValueError(f"rover {rover.name!r} has no bucket on a boom (two joints)")
        self.params = params
        self.rover = rover
        self.tool = tool
        self.poses = poses or BucketPoses()
        self.dig_yaw_rad = FACING_YAW_RAD[params.dig_facing]
        self.dump_yaw_rad = FACING_YAW_RAD[params.dump_facing]
        depths: list[float] = []
        d = params.layer_depth_m
        while True:
            depths.append(min(d, params.max_depth_m))
            if d >= params.max_depth_m - 1e-9:
                break
            d += params.layer_depth_m
        self.layer_depths_m = tuple(depths)
        self._angles = {}
        for depth in depths:
            angles = dig_angles_rad(rover, tool, depth, self.poses)
            if angles is None:
                break
            self._angles[depth] = angles
        if not self._angles:
            raise ValueError(
                f"rover {rover.name!r}'s bucket cannot reach {depths[0]:g} m below the ground"
            )
        self.reachable_depth_m = max(self._angles)
        (a0, a1), (c0, c1) = _ranges(params.dig_area, self.dig_yaw_rad)
        self.dig_lanes_m = _lanes(c0, c1, tool.width_m, _LANE_OVERLAP * tool.width_m)
        n_strips = max(1, math.ceil((a1 - a0) / params.pass_length_m - 1e-9))
        step = (a1 - a0) / n_strips
        self.dig_strips_m = [(a0 + k * step, step) for k in reversed(range(n_strips))]
        (b0, b1), (e0, e1) = _ranges(params.dump_area, self.dump_yaw_rad)
        n_dump = max(1, math.floor((e1 - e0) / tool.width_m + 1e-9))
        self.dump_lanes_m = [e0 + (k + 0.5) * (e1 - e0) / n_dump for k in range(n_dump)]
        self.dump_lip_along_m = 0.5 * (b0 + b1)

    @property
    def passes_per_layer(self) -> int:
        return len(self.dig_lanes_m) * len(self.dig_strips_m)

    def dig_pass(self, index: int) -> DigPass:
        """The ``index``-th dig (0-based): layer by layer, snaking over the lanes, far strip
        first; past the deepest reachable layer the last layer repeats."""
        per = self.passes_per_layer
        layer = min(index // per, len(self.layer_depths_m) - 1)
        depth = min(self.layer_depths_m[layer], self.reachable_depth_m)
        boom, curl = self._angles[depth]
        k = index % per
        n_strips = len(self.dig_strips_m)
        lane = k // n_strips
        if (index // per) % 2 == 1:
            lane = len(self.dig_lanes_m) - 1 - lane
        start_along, length = self.dig_strips_m[k % n_strips]
        reach, _ = bucket_edge_m(self.rover, self.tool, boom, curl)
        yaw = self.dig_yaw_rad
        across = self.dig_lanes_m[lane]
        return DigPass(
            layer=index // per,
            lane=lane,
            approach_xy_m=_site_xy(start_along - reach - self.params.approach_m, across, yaw),
            start_xy_m=_site_xy(start_along - reach, across, yaw),
            length_m=length,
            heading_rad=yaw,
            depth_m=depth,
            boom_rad=boom,
            curl_rad=curl,
        )

    def dump_spot(self, index: int) -> DumpSpot:
        """The ``index``-th dump (0-based), cycling over the dump lanes from the middle out."""
        n = len(self.dump_lanes_m)
        order = sorted(range(n), key=lambda k: (abs(k - 0.5 * (n - 1)), k))
        lane = order[index % n]
        p = self.poses
        reach, _ = bucket_edge_m(self.rover, self.tool, p.dump_boom_rad, p.dump_curl_rad)
        yaw = self.dump_yaw_rad
        across = self.dump_lanes_m[lane]
        stand = self.dump_lip_along_m - reach
        return DumpSpot(
            lane=lane,
            approach_xy_m=_site_xy(stand - self.params.approach_m, across, yaw),
            stand_xy_m=_site_xy(stand, across, yaw),
            heading_rad=yaw,
        )

    def stations(self) -> Iterator[tuple[str, tuple[float, float]]]:
        """Every point the chassis centre is planned to stand on, with what it is for."""
        for i in range(self.passes_per_layer):
            p = self.dig_pass(i)
            end = (
                p.start_xy_m[0] + p.length_m * math.cos(p.heading_rad),
                p.start_xy_m[1] + p.length_m * math.sin(p.heading_rad),
            )
            yield "dig approach", p.approach_xy_m
            yield "dig start", p.start_xy_m
            yield "dig end", end
        for i in range(len(self.dump_lanes_m)):
            s = self.dump_spot(i)
            yield "dump approach", s.approach_xy_m
            yield "dump stand", s.stand_xy_m
