"""The navigation stack of one rover, shared by every goal it is sent to.

:class:`Navigator` holds what outlives a goal: the localizer, the robot's elevation map
and the costmap built from it, the fiducial detector and the surveyed markers, the
planner, the zones kept out of where the rover got stuck, and a short history of the
estimate (to place camera frames in time). It senses (:meth:`Navigator.update_map`,
:meth:`Navigator.update_fiducials`) and answers geometric questions (which marker to
face, whether backing off is safe, a straight nudge to a goal). What it holds, the sensing
and the choice of marker are its base :class:`~.sensing.NavigatorSensing`; this module
adds the costmap and the questions of planning and driving. Driving to a goal is the
skill :class:`~lunarsite.robot.navigation.goal.NavigateToGoal`, given the navigator.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..perception.fiducials import SurveyedMarker
from ..planning.costmap import Costmap, build_costmap
from ..planning.planner import Path
from ..site.design import DesignError, fit_plane
from ..site.zones import KeepOutCircle
from ..types import STOP, DriveCommand, Pose2
from .sensing import NavigatorSensing

__all__ = ["Navigator"]

log = logging.getLogger(__name__)


class Navigator(NavigatorSensing):
    """Drives to goals by its own sensing; see the module docstring. Constructed as
    :class:`~.sensing.NavigatorSensing` says."""

    @property
    def costmap(self) -> Costmap:
        """The costmap as of the last map update (built on first use)."""
        if (
            self._costmap is None
            or self._costmap.version != self.elevation.version
            or self._costmap_blocked != tuple(self.blocked)
        ):
            self._costmap_blocked = tuple(self.blocked)
            self._costmap = build_costmap(
                self.elevation.heights_for_planning(self.params.max_height_std_m),
                self.elevation.grid,
                self.params.costmap,
                keep_out=(*self.params.keep_out, *self.blocked),
                version=self.elevation.version,
                std_m=np.sqrt(self.elevation.variance_m2),
                top_m=self.elevation.tops_for_planning(self.params.max_height_std_m),
            )
        return self._costmap

    @property
    def last_costmap(self) -> Costmap | None:
        """The costmap as last built (what the last plan or check used), without building
        one; None before the first. For observers (a run log): reading it changes nothing."""
        return self._costmap

    def clear_behind(self, pose: Pose2, direction: float, distance_m: float | None = None) -> bool:
        """Whether backing ``distance_m`` (by default ``backoff_m``; plus half the
        chassis) from ``pose`` against ``direction`` (+1: the rover was going forward)
        stays on the map and off lethal cells: near the site edge or a crater, a blind
        back-off can end in a fall."""
        distance = self.params.backoff_m if distance_m is None else distance_m
        reach = distance + 0.5 * self.config.chassis.length_m
        cost = self.costmap.cost
        grid = self.elevation.grid
        for frac in (0.5, 1.0):
            x = pose.x_m - direction * frac * reach * math.cos(pose.yaw_rad)
            y = pose.y_m - direction * frac * reach * math.sin(pose.yaw_rad)
            j, i = grid.cell_of(x, y)
            if not grid.in_bounds(j, i) or not math.isfinite(float(cost[j, i])):
                log.info(
                    "not backing off from (%.2f, %.2f): no clear ground behind", pose.x_m, pose.y_m
                )
                return False
        return True

    def slope_at(self, x_m: float, y_m: float, radius_m: float = 0.5) -> float:
        """The ground's slope round (x, y) on the rover's own map: the tilt of the plane
        fitted (:func:`~lunarsite.robot.site.design.fit_plane`) to the known heights
        within ``radius_m`` of its cell, in rad; NaN off the map or with fewer than 6."""
        grid = self.elevation.grid
        j, i = grid.cell_of(x_m, y_m)
        if not grid.in_bounds(j, i):
            return math.nan
        jj, ii = np.indices(grid.shape)
        dx, dy = (ii - i) * grid.cell_size_m, (jj - j) * grid.cell_size_m
        near = dx * dx + dy * dy <= radius_m * radius_m
        heights = self.elevation.heights_m
        if int((near & np.isfinite(heights)).sum()) < 6:
            return math.nan
        try:
            _, gx, gy = fit_plane(grid, heights, near)
        except DesignError:  # the known cells lie on one line
            return math.nan
        return math.atan(math.hypot(gx, gy))

    def mark_blocked(self, pose: Pose2, direction: float) -> None:
        """Keep out of a ``blocked_radius_m`` disc just beyond the chassis end the rover
        was pushing with (``direction`` +1 forward, -1 backward)."""
        reach = 0.5 * self.config.chassis.length_m + self.params.blocked_radius_m
        x = pose.x_m + direction * reach * math.cos(pose.yaw_rad)
        y = pose.y_m + direction * reach * math.sin(pose.yaw_rad)
        self.blocked.append(KeepOutCircle(x, y, self.params.blocked_radius_m))
        log.info("kept out of (%.2f, %.2f) from now on: the rover got stuck there", x, y)

    def on_map(self, pose: Pose2) -> Pose2:
        """``pose`` itself when it lies on the map; else the nearest point half a metre
        inside the map's edge (an estimate that drifted off the site, say after a goal
        timed out, must still plan, and relocalizes on the way)."""
        grid = self.elevation.grid
        if grid.contains(pose.x_m, pose.y_m):
            return pose
        (x0, y0), (x1, y1) = grid.center_of(0, 0), grid.center_of(*(n - 1 for n in grid.shape))
        inset = min(0.5, 0.25 * (x1 - x0), 0.25 * (y1 - y0))
        x = min(max(pose.x_m, x0 + inset), x1 - inset)
        y = min(max(pose.y_m, y0 + inset), y1 - inset)
        log.warning(
            "estimate (%.2f, %.2f) is off the map: planning from (%.2f, %.2f)",
            pose.x_m,
            pose.y_m,
            x,
            y,
        )
        return Pose2(x, y, pose.yaw_rad)

    # ----------------------------------------------------------------------- run
    def close_enough(self, pose: Pose2, goal: tuple[float, float]) -> bool:
        """Whether the estimate is at the goal: within the mission's tolerance by
        ``check_sigmas`` stds (without one, within the follower's arrival tolerance)."""
        p = self.params
        dist = pose.distance_to(*goal)
        if p.goal_tolerance_m <= 0.0:
            return dist < p.follow.arrival_tolerance_m
        margin = p.check_sigmas * max(self.localizer.pose_std[:2])
        return dist + margin <= p.goal_tolerance_m

    def nudge_path(self, pose: Pose2, goal: tuple[float, float]) -> Path | None:
        """A straight path from ``pose`` to a goal nearer than ``nudge_max_m``, driven
        forward or backward (the smaller turn), or None when it is farther, the rover
        may not turn where it stands (a lethal cell), or the body slid along the line
        would touch a hazard. Only the hazards count along the line, not the inflation
        for turning round: a goal within the inflation of a rock (or of its noise) on the
        rover's map is still reached when the body clears the rock."""
        dist = pose.distance_to(*goal)
        if not 0.0 < dist < self.params.nudge_max_m:
            return None
        costmap = self.costmap
        if not math.isfinite(costmap.cost_at(pose.x_m, pose.y_m)):
            return None
        line = np.array([[pose.x_m, pose.y_m], [goal[0], goal[1]]], dtype=np.float64)
        reverse = math.cos(pose.bearing_to(*goal)) < 0.0
        path = Path(line, (reverse,), 0.0, dist)
        heading = math.atan2(goal[1] - pose.y_m, goal[0] - pose.x_m) + (math.pi if reverse else 0)
        box = self.body
        if not costmap.body_clear_along(
            path.densified(0.05), heading, box.x_range_m, box.y_range_m
        ):
            return None
        return path

    def face(
        self, pose: Pose2, marker: SurveyedMarker, speed_mps: float, dt_s: float
    ) -> DriveCommand:
        """Stop, then turn in place to bring ``marker`` ahead; hold still once it is."""
        f = self.params.follow
        if abs(speed_mps) > 1e-9:
            step = f.max_accel_mps2 * dt_s
            return DriveCommand(math.copysign(max(abs(speed_mps) - step, 0.0), speed_mps), 0.0)
        bearing = pose.bearing_to(marker.x_m, marker.y_m)
        if abs(bearing) < self.params.face_tolerance_rad:
            return STOP
        # Not below 60 % of the top rate: a slow skid-steer turn stalls (one side grips).
        rate = max(f.heading_gain_per_s * abs(bearing), 0.6 * f.max_yaw_rate_radps)
        return DriveCommand(0.0, math.copysign(min(rate, f.max_yaw_rate_radps), bearing))
