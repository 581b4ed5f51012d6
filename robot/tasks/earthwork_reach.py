"""How an earthwork rover's bucket reaches the ground from where it stands.

:class:`BucketReach` is a :class:`~.earthwork_footing.Footing` (where the wheels may
stand) that also knows the bucket on its boom: the ground the wheels stand on at a stand,
the boom and curl that put the edge at a cut's height from there (tipping the bucket
forward for cuts the usual pitch cannot reach), corrected for the chassis' pitch, and the
surface a pass leaves behind. :class:`~.earthwork_stations.Stations` builds on it to pick
each load's dig and dump stations.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from ..config import RoverConfig, ToolConfig
from ..control.bucket import BucketPoses, bucket_edge_m, dig_angles_rad, max_dig_depth_m
from ..site.grid import FloatArray, GridSpec
from .earthwork_footing import Footing, on_site

__all__ = ["DIG_PITCHES_RAD", "BucketReach", "deepest_cut_m"]

DIG_PITCHES_RAD = (-0.3, -0.5)
"""Bucket floor pitches (nose down) tried, in order, for cuts deeper than the usual dig
pitch reaches: tipping the bucket forward lowers its edge (excavator_66kg reaches 0.18 m
below its wheels at -0.15 rad, 0.25 m at -0.5 rad)."""


class BucketReach(Footing):
    """The wheels' footing and the bucket's reach (see the module docstring).

    Args:
        config: the rover file.
        tool: its bucket on a boom.
        poses: the bucket's servo poses.
        grid: the survey grid.
        site_size_m: the site's size, or None (no edges to keep clear of).
        ground_under: the surveyed ground height at (x, y), in m.
    """

    def __init__(
        self,
        config: RoverConfig,
        tool: ToolConfig,
        poses: BucketPoses,
        grid: GridSpec,
        site_size_m: tuple[float, float] | None,
        ground_under: Callable[[float, float], float],
    ) -> None:
        super().__init__(config, tool, grid, site_size_m)
        self.poses = poses
        self.ground_under = ground_under

    def ground_at(self, stand: tuple[float, float], heading: float) -> float:
        """The surveyed ground the wheels stand on at ``stand`` facing ``heading``, in m:
        under the chassis centre where it stands clear, else (straddling a trench, the
        centre over the channel) the mean under the four wheels."""
        if self.standable(*stand):
            return self.ground_under(*stand)
        px, py = on_site(self.wheel_centres_m, stand[0], stand[1], heading)
        heights = [self.ground_under(float(x), float(y)) for x, y in zip(px, py, strict=True)]
        return float(np.mean(heights))

    def pitch_compensated(
        self,
        boom: float,
        curl: float,
        z_cut: float,
        stand: tuple[float, float],
        pitch: float,
        ground_m: float | None = None,
    ) -> tuple[float, float]:
        """Boom and curl for the cut, standing at the stand now: the chassis' pitch at rest
        (accelerometer) moves the edge by ``reach·sin(pitch)``, which the depth takes back
        (as machine-control graders correct the blade for the machine's tilt). The
        wheels' ground is ``ground_m``, else the survey's under the stand."""
        reach, _ = bucket_edge_m(self.config, self.tool, boom, curl)
        ground = self.ground_under(*stand) if ground_m is None else ground_m
        angles = self.reach_depth(ground - z_cut - reach * math.sin(pitch))
        return angles if angles is not None else (boom, curl)

    def carved(
        self,
        expected_m: FloatArray,
        stand: tuple[float, float],
        heading: float,
        length: float,
        z_cut: float,
        ground_m: float | None = None,
    ) -> FloatArray:
        """The expected surface after a pass from ``stand`` (the wheels on ``ground_m``,
        else the survey's ground under it): lowered to the cut's height where the bucket
        swept (its width, from the edge's start to its end), so the next load of the
        round at the same place takes the next layer, not the soil already in the
        bucket."""
        reach, _ = self.reach_at(z_cut, stand, ground_m)
        dx, dy = self._gx - stand[0], self._gy - stand[1]
        c, s = math.cos(heading), math.sin(heading)
        along = dx * c + dy * s - reach
        across = -dx * s + dy * c
        swept = (along >= 0.0) & (along <= length) & (np.abs(across) <= 0.5 * self.tool.width_m)
        out: FloatArray = np.where(swept, np.fmin(expected_m, z_cut), expected_m)
        return out

    def reach_at(
        self, z_cut: float, stand: tuple[float, float], ground_m: float | None = None
    ) -> tuple[float, float]:
        """How far ahead of the chassis centre and how high the edge is when set for a cut
        at ``z_cut`` from ``stand`` (level chassis; the wheels on ``ground_m``, else the
        survey's ground under the stand), in m."""
        ground = self.ground_under(*stand) if ground_m is None else ground_m
        angles = self.reach_depth(ground - z_cut)
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
    ) -> tuple[float, float, float, float] | None:
        """Boom, curl, reach and the wheels' ground (:meth:`ground_at`) that put the edge
        at ``z_cut`` from where the rover will stand behind ``edge_xy`` (two passes: the
        stand depends on the reach)."""
        reach = 1.0
        angles = None
        ground = 0.0
        for _ in range(2):
            sx = edge_xy[0] - reach * math.cos(heading)
            sy = edge_xy[1] - reach * math.sin(heading)
            ground = self.ground_at((sx, sy), heading)
            angles = self.reach_depth(ground - z_cut)
            if angles is None:
                return None
            reach, _ = bucket_edge_m(self.config, self.tool, *angles)
        assert angles is not None
        return angles[0], angles[1], reach, ground


def deepest_cut_m(config: RoverConfig, tool: ToolConfig, poses: BucketPoses) -> float:
    """Deepest cut below the wheels' ground at any of the pitches a station may use, m."""
    return max(
        max_dig_depth_m(config, tool, dataclasses.replace(poses, dig_pitch_rad=floor))
        for floor in (poses.dig_pitch_rad, *DIG_PITCHES_RAD)
    )
