"""The navigation stack of one rover, shared by every goal it is sent to.

:class:`Navigator` holds what outlives a goal: the localizer, the robot's elevation map
and the costmap built from it, the fiducial detector and the surveyed markers, the
planner, the zones kept out of where the rover got stuck, and a short history of the
estimate (to place camera frames in time). It senses (:meth:`Navigator.update_map`,
:meth:`Navigator.update_fiducials`) and answers geometric questions (which marker to
face, whether backing off is safe, a straight nudge to a goal). Driving to a goal is the
skill :class:`~lunarsite.robot.navigation.goal.NavigateToGoal`, which
:meth:`Navigator.goal` builds.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from ..config import RoverConfig
from ..perception.fiducials import (
    CameraMount,
    FiducialDetector,
    SurveyedMarker,
    camera_matrix,
    markers_by_id,
)
from ..perception.localization import Localizer, shift_fix
from ..perception.mapping import ElevationMap
from ..perception.marker_fixes import (
    NORMAL_YAW_STD_RAD,
    chassis_height_fix,
    depth_yaw_fix,
    expected_fix_std,
    landmark_fix,
    pose_fix,
    range_bearing_covariance,
)
from ..perception.points import BodyBox, RangeScan
from ..planning.costmap import Costmap, build_costmap
from ..planning.planner import Path, Planner
from ..site.design import DesignError, fit_plane
from ..site.zones import KeepOut, KeepOutCircle
from ..types import STOP, CameraFrame, DriveCommand, Pose2, wrap_angle
from .params import NavigatorParams

__all__ = ["CameraSource", "MapSource", "Navigator"]

log = logging.getLogger(__name__)

MARKER_CHOICE_SLACK = 0.1
"""Markers whose fix would leave a position std within this share of the best one's
(or ``MARKER_CHOICE_SLACK_M``, whichever is more) count as good as it: the quickest to
face of them is chosen (design value)."""
MARKER_CHOICE_SLACK_M = 0.005

MapSource = Callable[[], RangeScan | None]
"""Returns the latest range scan (sensor frame), or None when there is none new."""
CameraSource = Callable[[], CameraFrame]
"""Returns the latest camera frame (the rover's ``read_camera``)."""


class Navigator:
    """Drives to goals by its own sensing; see the module docstring.

    Args:
        config: the rover's configuration (camera mount, body size).
        localizer: the filter, initialised at the surveyed start.
        params: :meth:`NavigatorParams.for_rover`.
        elevation: the robot's map (may be seeded with a prior survey).
        map_source: range scans, or None to plan on ``elevation`` alone.
        camera: camera frames (the rover's ``read_camera``), or None: no fiducial fixes.
        markers: surveyed fiducials (used when the rover has a camera).
        ground_z_m: ground height under the start, in m (the map's height datum).
    """

    def __init__(
        self,
        config: RoverConfig,
        localizer: Localizer,
        params: NavigatorParams,
        elevation: ElevationMap,
        *,
        map_source: MapSource | None = None,
        camera: CameraSource | None = None,
        markers: Sequence[SurveyedMarker] = (),
        ground_z_m: float = 0.0,
    ) -> None:
        self.config = config
        self.camera = camera
        self.localizer = localizer
        self.params = params
        self.elevation = elevation
        self.map_source = map_source
        self.markers = markers_by_id(markers)
        stereo = config.camera.stereo if config.camera is not None else None
        self._depth_std_m = None if stereo is None else stereo.depth_std_m
        """The camera's depth std at a range (a stereo model), or None (idealised)."""
        cam = config.camera
        self._focal_px = (
            None
            if cam is None
            else float(camera_matrix(cam.width_px, cam.height_px, cam.vertical_fov_rad)[0, 0])
        )
        self.detector = (
            FiducialDetector(
                {m.marker_id: m.size_m for m in markers}, depth_std_m=self._depth_std_m
            )
            if markers
            else None
        )
        self.mount = CameraMount.from_config(config.camera) if config.camera else None
        self.body = BodyBox.for_rover(config)
        self._ride_m = config.chassis.axle_drop_m + config.wheels.radius_m
        self._ground_z_m = ground_z_m
        if params.marker_height and self.markers and not math.isfinite(localizer.z_m):
            # The height channel, pinned by the markers: the map's own ground under the
            # rover would carry any pitch bias into every later scan.
            localizer.set_height(ground_z_m + self._ride_m, params.start_height_std_m)
        self._costmap: Costmap | None = None
        self.planner = Planner(params.planner)
        self.fixes = 0
        self._last_frame_s = float("nan")
        self.last_fix_s = -math.inf
        self.history: deque[tuple[float, Pose2]] = deque(maxlen=64)
        self._fixed_from: dict[int, Pose2] = {}
        self.blocked: list[KeepOutCircle] = []
        """Where the rover got stuck: kept out of from then on (an obstacle the map
        missed, or ground the wheels cannot climb)."""
        self._costmap_blocked: tuple[KeepOut, ...] = ()

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

    # ------------------------------------------------------------------- sensing
    def chassis_z(self, pose: Pose2) -> float:
        """Height of the chassis centre: the mapped ground under it (where the map is
        sure of it, to ``ground_std_m``) plus the ride height, else the last such value;
        with ``marker_height``, the localizer's height channel instead. The first drifts:
        a pitch biased by 0.014 rad lowers the map ahead 1.4 cm per m, the rover takes
        its height from it there, and on ``traverse`` seed 4 the whole map had sunk 0.3 m
        within 600 s, its old and new parts meeting in phantom steps."""
        if math.isfinite(self.localizer.z_m):
            return self.localizer.z_m
        if self.elevation.variance_at(pose.x_m, pose.y_m) <= self.params.ground_std_m**2:
            self._ground_z_m = self.elevation.height_at(pose.x_m, pose.y_m)
        return self._ground_z_m + self._ride_m

    def update_map(self) -> bool:
        """Fold in the latest scan, if any; returns whether the map changed."""
        if self.map_source is None:
            return False
        scan = self.map_source()
        if scan is None:
            return False
        if not self.localizer.tilt_trusted:
            log.debug("scan skipped: the tilt estimate is not confirmed by the accelerometer")
            return False
        pose = self.localizer.pose
        roll, pitch = self.localizer.tilt_rad
        n = self.elevation.integrate_scan(
            scan,
            pose,
            self.chassis_z(pose),
            roll,
            pitch,
            angle_std_rad=self.params.scan_angle_std_rad,
            body=self.body,
            max_range_m=self.params.map_max_range_m,
        )
        return n > 0

    def update_fiducials(self, now_s: float) -> int:
        """Look for surveyed markers in the camera; returns the fixes accepted."""
        if self.detector is None or self.mount is None or self.camera is None:
            return 0
        frame = self.camera()
        if frame.stamp_s == self._last_frame_s:
            return 0  # no new frame since the last look
        self._last_frame_s = frame.stamp_s
        roll, pitch = self.localizer.tilt_rad
        focal_px = 0.5 * frame.rgb.shape[0] / math.tan(0.5 * frame.vertical_fov_rad)
        accepted = 0
        yaw_rate = self.yaw_rate_at(frame.stamp_s)
        if yaw_rate is None or abs(yaw_rate) > self.params.max_fix_yaw_rate_radps:
            return 0  # turning (or no history): the frame's pose is not known well enough
        # The motion since the frame, by the estimate as it was before this frame's
        # corrections: the sightings taken then are carried through it.
        now_pose = self.localizer.pose
        for obs in self.detector.observe(frame):
            marker = self.markers[obs.marker_id]
            if obs.range_m > self.params.max_marker_range_m:
                continue
            then = self.pose_at(frame.stamp_s)
            here = then if then is not None else self.localizer.pose
            if self._fixed_here(obs.marker_id, here):
                continue
            if self.params.use_depth_yaw:
                yaw_fix = depth_yaw_fix(obs, marker, self.mount, roll, pitch)
                if yaw_fix is not None:
                    turned = 0.0 if then is None else now_pose.yaw_rad - then.yaw_rad
                    self.localizer.update_yaw(
                        wrap_angle(yaw_fix[0] + turned),
                        yaw_fix[1],
                        f"marker {marker.marker_id} face",
                    )
            if self.params.marker_height and obs.range_m <= self.params.marker_height_range_m:
                height = chassis_height_fix(
                    obs,
                    marker,
                    self.mount,
                    roll,
                    pitch,
                    tilt_std_rad=self.params.scan_angle_std_rad,
                )
                if height is not None:
                    self.localizer.update_height(*height)
            fix = landmark_fix(obs, marker, self.mount, roll, pitch, focal_px=focal_px)
            if then is not None:
                fix = shift_fix(fix, then, now_pose)
            before = self.localizer.pose
            if self.localizer.update_landmark(fix):
                accepted += 1
                after = self.localizer.pose
                log.debug(
                    "t=%.2f s marker %d fix at %.2f m moved the estimate (%.3f, %.3f, %.4f)",
                    frame.stamp_s,
                    obs.marker_id,
                    math.hypot(*fix.offset_xy_m),
                    after.x_m - before.x_m,
                    after.y_m - before.y_m,
                    wrap_angle(after.yaw_rad - before.yaw_rad),
                )
                self._fixed_from[obs.marker_id] = here
            if self.params.use_marker_yaw:
                fix_pose, _ = pose_fix(obs, marker, self.mount, roll, pitch)
                self.localizer.update_yaw(fix_pose.yaw_rad, NORMAL_YAW_STD_RAD, "marker normal")
        self.fixes += accepted
        if accepted:
            self.last_fix_s = now_s
        return accepted

    def pose_at(self, stamp_s: float) -> Pose2 | None:
        """The estimate at ``stamp_s``, interpolated between the cycles around it (the
        nearest one within 0.5 s outside the kept history), or None."""
        hist = self.history
        if not hist:
            return None
        for (t0, p0), (t1, p1) in zip(hist, list(hist)[1:], strict=False):
            if t0 <= stamp_s <= t1 and t1 > t0:
                a = (stamp_s - t0) / (t1 - t0)
                return Pose2(
                    p0.x_m + a * (p1.x_m - p0.x_m),
                    p0.y_m + a * (p1.y_m - p0.y_m),
                    wrap_angle(p0.yaw_rad + a * wrap_angle(p1.yaw_rad - p0.yaw_rad)),
                )
        stamp, pose = min(hist, key=lambda sp: abs(sp[0] - stamp_s))
        return pose if abs(stamp - stamp_s) <= 0.5 else None

    def yaw_rate_at(self, stamp_s: float) -> float | None:
        """The estimate's yaw rate over the cycles around ``stamp_s`` (one each side), in
        rad/s; with no such cycles, over the last two, or None with fewer."""
        hist = list(self.history)
        if len(hist) < 2:
            return None
        k = next((i for i, (t, _) in enumerate(hist) if t >= stamp_s), len(hist) - 1)
        k = min(max(k, 1), len(hist) - 1)
        (t0, p0), (t1, p1) = hist[k - 1], hist[k]
        if t1 <= t0:
            return None
        return wrap_angle(p1.yaw_rad - p0.yaw_rad) / (t1 - t0)

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

    @property
    def tilted(self) -> bool:
        """Leaning more than ``face_max_tilt_rad``: on a slope where a turn in place would
        slide the rover downhill."""
        return self.localizer.tilt_magnitude_rad > self.params.face_max_tilt_rad

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

    def marker_to_face(
        self,
        pose: Pose2,
        max_turn_rad: float = math.pi,
        *,
        apart_from: SurveyedMarker | None = None,
    ) -> SurveyedMarker | None:
        """The surveyed marker to turn to for a fix, or None: of those within
        ``max_marker_range_m``, in front of whose face the rover is (within 60° of its
        normal), within ``max_turn_rad`` of a turn and not already fixed from here, the
        one whose fix would leave the estimate surest of its position (the larger std of
        the position ellipse after the turn to it and its fix, by
        :meth:`Localizer.position_cov_after` with the fix noise :func:`expected_fix_std`
        predicts at that range: a turn in place slides the body), the quickest to
        face among those within ``MARKER_CHOICE_SLACK`` of the best; on a slope steeper than
        ``face_max_tilt_rad``, none but those already about ahead. A marker in line with
        the one just fixed adds little; one across it pins the other axis. With
        ``apart_from``, only markers whose direction differs from that one's by at least
        ``confirm_separation_rad``.
        """
        if max_turn_rad > 0.0 and self.tilted:
            log.debug(
                "tilted %.3f rad: facing no marker beyond the camera's view",
                self.localizer.tilt_magnitude_rad,
            )
            max_turn_rad = 0.0
        scored: list[tuple[float, float, SurveyedMarker]] = []
        for m in self.markers.values():
            if apart_from is not None:
                a = pose.bearing_to(apart_from.x_m, apart_from.y_m)
                b = pose.bearing_to(m.x_m, m.y_m)
                if abs(wrap_angle(a - b)) < self.params.confirm_separation_rad:
                    continue
            dx, dy = pose.x_m - m.x_m, pose.y_m - m.y_m
            dist = math.hypot(dx, dy)
            if not 0.5 < dist <= self.params.max_marker_range_m:
                continue
            facing = (dx * math.cos(m.yaw_rad) + dy * math.sin(m.yaw_rad)) / dist
            turn = max(abs(pose.bearing_to(m.x_m, m.y_m)) - self.params.face_tolerance_rad, 0.0)
            if facing < 0.5 or turn > max_turn_rad or self._fixed_here(m.marker_id, pose):
                continue
            offset = self.localizer.expected_offset((m.x_m, m.y_m))
            std_r, std_b = expected_fix_std(dist, m.size_m, self._focal_px, self._depth_std_m)
            cov = np.array(range_bearing_covariance(offset, std_r, std_b))
            after = self.localizer.position_cov_after((m.x_m, m.y_m), cov, turn_rad=turn)
            scored.append((math.sqrt(float(np.linalg.eigvalsh(after)[-1])), turn, m))
        if not scored:
            return None
        best = min(std for std, _, _ in scored)
        slack = max(MARKER_CHOICE_SLACK * best, MARKER_CHOICE_SLACK_M)
        return min((c for c in scored if c[0] <= best + slack), key=lambda c: c[1])[2]

    def _fixed_here(self, marker_id: int, here: Pose2) -> bool:
        """Whether the marker was last fixed from (about) this pose: the same marker from
        the same place is the same measurement again (same pixels, same corner errors),
        and fusing it as new would make the filter sure of an error it has not averaged
        out (``refix_distance_m``, ``refix_turn_rad``)."""
        seen = self._fixed_from.get(marker_id)
        return (
            seen is not None
            and here.distance_to(seen.x_m, seen.y_m) < self.params.refix_distance_m
            and abs(wrap_angle(here.yaw_rad - seen.yaw_rad)) < self.params.refix_turn_rad
        )

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
