"""The sensing side of the :class:`~.navigator.Navigator`, :class:`NavigatorSensing`.

It holds what outlives a goal (its constructor: the localizer, the robot's elevation map,
the fiducial detector and the surveyed markers, the planner, the zones kept out of, a
short history of the estimate to place camera frames in time) and senses: range scans
into the map (:meth:`NavigatorSensing.update_map`), surveyed markers in camera frames as
fixes (:meth:`NavigatorSensing.update_fiducials`), and which marker to face for a fix
(:meth:`NavigatorSensing.marker_to_face`).
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
from ..planning.costmap import Costmap
from ..planning.planner import Planner
from ..site.zones import KeepOut, KeepOutCircle
from ..types import CameraFrame, Pose2, wrap_angle
from .params import NavigatorParams

__all__ = ["CameraSource", "MapSource", "NavigatorSensing"]

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


class NavigatorSensing:
    """What the :class:`~.navigator.Navigator` holds, and its sensing; see the module
    docstring.

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

    @property
    def tilted(self) -> bool:
        """Leaning more than ``face_max_tilt_rad``: on a slope where a turn in place would
        slide the rover downhill."""
        return self.localizer.tilt_magnitude_rad > self.params.face_max_tilt_rad

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
