"""The navigation loop: read → localize → map → plan → follow → write, goal after goal.

:class:`Navigator` drives a rover to each goal in turn using only what it senses: wheel
odometry and the IMU every cycle (:class:`~lunarsite.robot.perception.localization.Localizer`),
ArUco fiducials in camera frames at ``camera_hz`` (surveyed markers →
:func:`~lunarsite.robot.perception.fiducials.landmark_fix`), range scans from ``map_source`` at
``map_hz`` into an :class:`~lunarsite.robot.perception.mapping.ElevationMap`, a costmap rebuilt
from it, a :class:`~lunarsite.robot.planning.planner.Replanner` and a
:class:`~lunarsite.robot.control.pathfollow.PathFollower`.

Keeping the estimate good: each marker sighting gives a range-bearing fix (range from
the camera's depth image where it has one) and a heading fix from the face of the
marker's depth plane (``use_depth_yaw``); frames taken while turning faster than
``max_fix_yaw_rate_radps`` are not used. With no recent fix near a goal, or too uncertain
on the way, the rover stops and turns to face the surveyed marker quickest to face and
best to see (:meth:`Navigator.marker_to_face`). Arrived by its estimate without a fresh,
sure fix, it faces a marker (and, with ``confirm_separation_rad``, a second well round
from it) and calls the goal reached if the corrected estimate lies within the mission's
``goal_tolerance_m`` by ``check_sigmas`` stds, rather than turn in place again (a
skid-steer turn slides the body where the encoders do not see it); otherwise it drives
the rest, straight forward or backward when it is short and clear (``nudge_max_m``), and
checks again, up to ``max_arrival_checks`` times. A marker seen again from the same place
is not fused again: it is the same measurement. An estimate that drifted off the map
plans from the map's edge and relocalizes. A goal lethal on the rover's map is first
approached to within ``approach_radius_m`` and planned to again from there.

Getting unstuck: a facing turn that stalls, or no progress toward the goal for
``stuck_time_s`` (wheels turning against a rock the map missed, fixes pulling the
estimate back), backs the rover off ``backoff_m``; when stuck, the ground just ahead is
kept out of from then on and the rover replans. Should those zones leave no path (a rover
stuck several times in one spot walls itself in), they are forgotten; should the map
itself leave none, its cells around the rover and the goal are forgotten once per goal
and scanned afresh (``forget_radius_m``).

Each goal ends with an :class:`~lunarsite.robot.executive.ActionResult`: succeeded
(the follower reached it by the rover's own estimate), planning failed (no path for
``plan_fail_limit_s``), execution failed (time limit, hardware error), canceled.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .config import RoverConfig
from .control.pathfollow import PathFollower, PathFollowParams
from .executive import ActionResult, ActionStatus
from .hardware import HardwareError, LifecycleState, LoopRate, NoCameraError, RoverInterface
from .perception.fiducials import (
    NORMAL_YAW_STD_RAD,
    CameraMount,
    FiducialDetector,
    SurveyedMarker,
    chassis_height_fix,
    depth_yaw_fix,
    landmark_fix,
    markers_by_id,
    pose_fix,
)
from .perception.localization import Localizer, shift_fix
from .perception.mapping import BodyBox, ElevationMap, RangeScan
from .planning.costmap import Costmap, CostmapParams, KeepOut, KeepOutCircle, build_costmap
from .planning.planner import Path, Planner, PlannerParams, PlanningError, Replanner
from .types import STOP, DriveCommand, Pose2, RoverCommand, SensedState, wrap_angle

__all__ = [
    "GoalResult",
    "MapSource",
    "NavTick",
    "NavigationResult",
    "Navigator",
    "NavigatorParams",
]

log = logging.getLogger(__name__)

MapSource = Callable[[], RangeScan | None]
"""Returns the latest range scan (sensor frame), or None when there is none new."""


@dataclass(frozen=True, slots=True)
class NavigatorParams:
    """Rates, limits and the parameters of the parts."""

    control_hz: float
    costmap: CostmapParams
    planner: PlannerParams
    follow: PathFollowParams
    map_hz: float = 2.0
    camera_hz: float = 2.0
    goal_time_limit_s: float = 300.0
    plan_fail_limit_s: float = 10.0
    """Give a goal up after this long without any path, in s."""
    forget_radius_m: float = 3.0
    """Once per goal, when no path is found (no stuck zones to forget, no approach to
    try), the map within this of the rover and of the goal is forgotten and scanned
    afresh before the goal is given up, in m; 0: never. A map whose height drifted
    (see :meth:`Navigator._chassis_z`) can wall the rover in with steps that are not
    there, and every later goal would fail with it."""
    replan_period_s: float = 3.0
    max_deviation_m: float = 0.5
    scan_angle_std_rad: float = 0.015
    """Pose and tilt uncertainty applied to scan points (std per m of range), in rad."""
    use_depth_yaw: bool = True
    """Correct heading from the face normal of each marker's depth plane (the camera's
    depth image; std ~0.003 rad, see :func:`~lunarsite.robot.perception.fiducials.depth_yaw_fix`)
    before its range-bearing fix: a bearing's sideways error is the heading error times
    the range."""
    use_marker_yaw: bool = False
    """Also correct heading from a marker's face normal: at 320 px and a few metres its
    error reaches 0.1–0.2 rad, so off by default; bearings to markers fix heading as the
    rover moves."""
    max_fix_yaw_rate_radps: float = 0.2
    """Frames taken while the rover turned faster than this are not used for fixes, in
    rad/s: a turn in place shakes the chassis (tilt errors), and the frame's heading is
    interpolated between control cycles (at 0.5 rad/s a 25 ms mismatch is 0.0125 rad,
    5 cm sideways at 4 m). Curving along a path (≲ 0.2 rad/s) still fixes."""
    max_marker_range_m: float = 11.0
    """Markers seen farther than this are not used, in m (a 0.4 m marker at 320 × 240
    decodes to ~10 m in the simulator; range error grows with range, and the fix's
    covariance with it)."""
    marker_height: bool = False
    """Place scans at the localizer's height channel (odometry over the tilt, pinned by
    marker heights within ``marker_height_range_m``) rather than at the mapped ground
    under the rover plus the ride height. The second is locally consistent but drifts
    with a pitch bias (the map sank 0.3 m in 600 s on ``traverse`` seed 4); the first is
    bounded but noisier (±0.1 m swings on seed 1, from far markers seen with that bias).
    Off by default: see the issue-4 closing note for the measured trade."""
    marker_height_range_m: float = 6.0
    """Markers farther than this give no height (a pitch error of 0.014 rad puts 8 cm on
    a marker at 6 m), in m."""
    start_height_std_m: float = 0.02
    """Std of the chassis height at the start (surveyed ground plus ride height), m."""
    ground_std_m: float = 0.03
    """The map's height under the rover sets the chassis height only when surer than this,
    in m."""
    max_height_std_m: float = 0.05
    """Cells less certain than this count as unknown in the costmap (far, single returns
    are refined as the rover comes closer), in m."""
    fix_before_arrival_m: float = 1.5
    """Within this path distance of a goal, a rover whose last fiducial fix is older than
    ``max_fix_age_s`` stops and turns to face a surveyed marker (:meth:`Navigator.
    marker_to_face`, within ``max_face_turn_rad``) for a fix (for up to
    ``relocalize_time_s``) before driving the rest, in m; 0 turns this off and the arrival
    check with it."""
    max_fix_age_s: float = 5.0
    relocalize_time_s: float = 20.0
    relocalize_fixes: int = 1
    """Facing a marker ends after this many accepted fixes (a marker counts once from
    one place: see ``refix_distance_m``)."""
    refix_distance_m: float = 0.05
    refix_turn_rad: float = 0.05
    """A marker already fixed from within this distance and turn of the rover's pose
    is not fused again (the same view gives the same error), in m and rad."""
    relocalize_std_m: float = 0.12
    """Anywhere on the way, a rover whose position std exceeds this (or whose estimate is
    off the map) stops and faces a marker in range for a fix, in m; 0 turns this off."""
    relocalize_cooldown_s: float = 20.0
    """Least time between two such stops, in s."""
    arrival_std_m: float = 0.03
    """Arrived by the estimate with a position std above this, the rover faces a marker
    for a fix once before it calls the goal reached, in m."""
    confirm_separation_rad: float = 0.0
    """Arrival check: after the first marker, the rover also faces a second one at least
    this far round from it (bearings from two directions pin position where one marker's
    range from its corners, poor beyond ~5 m at 320 × 240, cannot), in rad; 0 skips the
    second. Off by default: with the depth image one marker gives range (~1 cm) and
    heading (~0.003 rad), and the turn to a second slides the body 0.1–0.3 m unseen."""
    goal_tolerance_m: float = 0.0
    """The mission's tolerance on the distance to a goal, in m. An arrival check ends the
    goal when the corrected estimate lies within it by ``check_sigmas`` position stds;
    0: within the follower's ``arrival_tolerance_m``."""
    check_sigmas: float = 2.0
    max_arrival_checks: int = 3
    """Arrival checks per goal: a check that moves the estimate off the goal sends the
    rover the rest of the way and checks again, up to this many times."""
    nudge_max_m: float = 1.0
    """After an arrival check, a goal nearer than this is driven to in a straight line
    (forward or backward, whichever needs the smaller turn) where the line is clear,
    rather than along a new plan, which may start with a turn round in place (a skid-
    steer turn slides the body where the encoders do not see it), in m."""
    approach_radius_m: float = 1.0
    """A goal lethal on the rover's map (a rock or its noise beside it, a cell mapped from
    afar) is first approached: the rover plans to the cheapest free cell within this of it,
    maps the ground there from close by and plans to the goal itself again, in m; 0: no
    approach (the goal fails after ``plan_fail_limit_s``)."""
    map_max_range_m: float = 6.0
    """Range returns beyond this are not mapped (tilt errors grow with range), in m."""
    blocked_skip_m: float = 0.5
    """The first this much of the path ahead is not checked for lethal cells when deciding
    whether it is blocked, in m: a rover standing in an inflated zone (estimate error, a
    rock seen late) plans its way out across lethal cells, and replanning every cycle
    over them restarts the follower each time."""
    face_tolerance_rad: float = 0.3
    """Facing a marker ends its turn once the marker's bearing is within this, in rad (it
    need only be in the camera's view, ~1 rad wide at 320 × 240 and 0.8 rad vertical)."""
    max_face_turn_rad: float = 1.6
    """On the way (not at arrival), only markers within this turn of the heading are
    faced, in rad: turning round for a marker behind costs more than the fix gains."""
    face_wait_s: float = 4.0
    """Facing a marker, wait at most this long for ``relocalize_fixes`` once it is in
    view, in s."""
    face_stall_s: float = 3.0
    """A facing turn whose heading changed less than 0.15 rad in this long has stalled:
    the rover backs ``backoff_m`` and turns again, in s."""
    stuck_time_s: float = 15.0
    """No progress: the distance to the goal (by the estimate) not shortened by
    ``stuck_progress_m`` in this long, the rover keeps out of the ground just ahead
    (``blocked_radius_m``), backs ``backoff_m`` and plans afresh, in s; 0 turns this
    off."""
    stuck_progress_m: float = 0.3
    stuck_radius_m: float = 1.0
    """... while the estimate stayed within this of where that time began, and farther
    than this from the goal (nearer, the follower's own stall recovery acts), in m."""
    blocked_radius_m: float = 0.15
    """Where the rover got stuck, a disc of this radius just beyond its front (or back,
    reversing) is kept out of (inflated like any hazard) and the rover replans, in m."""
    backoff_m: float = 0.3
    """Back-off distance after a stall or no progress, in m."""
    keep_out: tuple[KeepOut, ...] = ()

    @classmethod
    def for_rover(
        cls, config: RoverConfig, control_hz: float, **overrides: object
    ) -> NavigatorParams:
        base = cls(
            control_hz=control_hz,
            costmap=CostmapParams.for_rover(config),
            planner=PlannerParams(),
            follow=PathFollowParams.for_rover(config),
        )
        values = {name: getattr(base, name) for name in cls.__dataclass_fields__}
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"NavigatorParams has no field(s) {sorted(unknown)}")
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class GoalResult:
    """How one goal ended, by the rover's own account."""

    index: int
    goal_xy_m: tuple[float, float]
    result: ActionResult
    elapsed_s: float
    final_estimate: Pose2
    estimate_std: tuple[float, float, float]
    distance_m: float
    """Ground distance driven for this goal (odometry), in m."""
    plans: int
    fixes: int
    """Fiducial fixes accepted during this goal."""


@dataclass(frozen=True, slots=True)
class NavigationResult:
    result: ActionResult
    goals: tuple[GoalResult, ...]
    elapsed_s: float

    @property
    def reached(self) -> int:
        return sum(1 for g in self.goals if g.result.succeeded)


@dataclass(frozen=True, slots=True)
class NavTick:
    """One control cycle, for observers (recording, pictures)."""

    stamp_s: float
    goal_index: int
    sensed: SensedState
    estimate: Pose2
    command: DriveCommand
    path: Path | None = None
    fixes: int = 0
    slipping: bool = False
    events: tuple[str, ...] = field(default_factory=tuple)


class Navigator:
    """Drives to goals by its own sensing; see the module docstring.

    Args:
        rover: an ACTIVE rover.
        config: the rover's configuration (camera mount, body size).
        localizer: the filter, initialised at the surveyed start.
        params: :meth:`NavigatorParams.for_rover`.
        elevation: the robot's map (may be seeded with a prior survey).
        map_source: range scans, or None to plan on ``elevation`` alone.
        markers: surveyed fiducials (used when the rover has a camera).
        ground_z_m: ground height under the start, in m (the map's height datum).
    """

    def __init__(
        self,
        rover: RoverInterface,
        config: RoverConfig,
        localizer: Localizer,
        params: NavigatorParams,
        elevation: ElevationMap,
        *,
        map_source: MapSource | None = None,
        markers: Sequence[SurveyedMarker] = (),
        ground_z_m: float = 0.0,
    ) -> None:
        self.rover = rover
        self.config = config
        self.localizer = localizer
        self.params = params
        self.elevation = elevation
        self.map_source = map_source
        self.markers = markers_by_id(markers)
        self.detector = (
            FiducialDetector({m.marker_id: m.size_m for m in markers}) if markers else None
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
        self._last_fix_s = -math.inf
        self._history: deque[tuple[float, Pose2]] = deque(maxlen=64)
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

    # ------------------------------------------------------------------- sensing
    def _chassis_z(self, pose: Pose2) -> float:
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
            self._chassis_z(pose),
            roll,
            pitch,
            angle_std_rad=self.params.scan_angle_std_rad,
            body=self.body,
            max_range_m=self.params.map_max_range_m,
        )
        return n > 0

    def update_fiducials(self) -> int:
        """Look for surveyed markers in the camera; returns the fixes accepted."""
        if self.detector is None or self.mount is None:
            return 0
        try:
            frame = self.rover.read_camera()
        except NoCameraError:
            return 0
        if frame.stamp_s == self._last_frame_s:
            return 0  # no new frame since the last look
        self._last_frame_s = frame.stamp_s
        roll, pitch = self.localizer.tilt_rad
        focal_px = 0.5 * frame.rgb.shape[0] / math.tan(0.5 * frame.vertical_fov_rad)
        accepted = 0
        yaw_rate = self._yaw_rate_at(frame.stamp_s)
        if yaw_rate is None or abs(yaw_rate) > self.params.max_fix_yaw_rate_radps:
            return 0  # turning (or no history): the frame's pose is not known well enough
        # The motion since the frame, by the estimate as it was before this frame's
        # corrections: the sightings taken then are carried through it.
        now_pose = self.localizer.pose
        for obs in self.detector.observe(frame):
            marker = self.markers[obs.marker_id]
            if obs.range_m > self.params.max_marker_range_m:
                continue
            then = self._pose_at(frame.stamp_s)
            seen = self._fixed_from.get(obs.marker_id)
            here = then if then is not None else self.localizer.pose
            if (
                seen is not None
                and here.distance_to(seen.x_m, seen.y_m) < self.params.refix_distance_m
                and abs(wrap_angle(here.yaw_rad - seen.yaw_rad)) < self.params.refix_turn_rad
            ):
                # The same marker from the same place is the same measurement again (same
                # pixels, same corner errors): fusing it as new would make the filter sure
                # of an error it has not averaged out.
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
            self._last_fix_s = self.rover.clock.now_s()
        return accepted

    def _pose_at(self, stamp_s: float) -> Pose2 | None:
        """The estimate at ``stamp_s``, interpolated between the cycles around it (the
        nearest one within 0.5 s outside the kept history), or None."""
        hist = self._history
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

    def _yaw_rate_at(self, stamp_s: float) -> float | None:
        """The estimate's yaw rate over the cycles around ``stamp_s`` (one each side), in
        rad/s; with no such cycles, over the last two, or None with fewer."""
        hist = list(self._history)
        if len(hist) < 2:
            return None
        k = next((i for i, (t, _) in enumerate(hist) if t >= stamp_s), len(hist) - 1)
        k = min(max(k, 1), len(hist) - 1)
        (t0, p0), (t1, p1) = hist[k - 1], hist[k]
        if t1 <= t0:
            return None
        return wrap_angle(p1.yaw_rad - p0.yaw_rad) / (t1 - t0)

    def _clear_behind(self, pose: Pose2, direction: float) -> bool:
        """Whether backing ``backoff_m`` (plus half the chassis) from ``pose`` against
        ``direction`` (+1: the rover was going forward) stays on the map and off lethal
        cells: near the site edge or a crater, a blind back-off can end in a fall."""
        reach = self.params.backoff_m + 0.5 * self.config.chassis.length_m
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

    def _mark_blocked(self, pose: Pose2, direction: float) -> None:
        """Keep out of a ``blocked_radius_m`` disc just beyond the chassis end the rover
        was pushing with (``direction`` +1 forward, -1 backward)."""
        reach = 0.5 * self.config.chassis.length_m + self.params.blocked_radius_m
        x = pose.x_m + direction * reach * math.cos(pose.yaw_rad)
        y = pose.y_m + direction * reach * math.sin(pose.yaw_rad)
        self.blocked.append(KeepOutCircle(x, y, self.params.blocked_radius_m))
        log.info("kept out of (%.2f, %.2f) from now on: the rover got stuck there", x, y)

    def _on_map(self, pose: Pose2) -> Pose2:
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
        """The surveyed marker within ``max_marker_range_m``, in front of whose face the
        rover is (within 60° of its normal) and within ``max_turn_rad`` of a turn, that
        is quickest to face and best to see, or None. With ``apart_from``, only markers
        whose direction differs from that one's by at least ``confirm_separation_rad``
        (a second bearing that crosses the first).

        The score is the turn time at the top yaw rate plus ``0.05 s/m²`` × range²
        (a marker's range error grows with its range squared), in s.
        """
        best: tuple[float, SurveyedMarker] | None = None
        rate = max(self.params.follow.max_yaw_rate_radps, 1e-3)
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
            if facing < 0.5 or turn > max_turn_rad:
                continue
            score = turn / rate + 0.05 * dist * dist
            if best is None or score < best[0]:
                best = (score, m)
        return None if best is None else best[1]

    # ----------------------------------------------------------------------- run
    def run(
        self,
        goals: Sequence[tuple[float, float]],
        *,
        observer: Callable[[NavTick], None] | None = None,
        should_cancel: Callable[[], str | None] | None = None,
    ) -> NavigationResult:
        """Visit the goals in order; a failed goal does not stop the next."""
        clock = self.rover.clock
        t0 = clock.now_s()
        results: list[GoalResult] = []
        if self.rover.lifecycle_state is not LifecycleState.ACTIVE:
            reason = f"rover is {self.rover.lifecycle_state.value}, not active"
            return NavigationResult(ActionResult(ActionStatus.PRECONDITION_FAILED, reason), (), 0.0)
        if not goals:
            return NavigationResult(ActionResult(ActionStatus.PLANNING_FAILED, "no goals"), (), 0.0)
        for index, goal in enumerate(goals):
            res = self._run_goal(index, (float(goal[0]), float(goal[1])), observer, should_cancel)
            results.append(res)
            if res.result.status in (ActionStatus.CANCELED, ActionStatus.PRECONDITION_FAILED):
                break
            if res.result.status is ActionStatus.EXECUTION_FAILED and "hardware" in (
                res.result.reason
            ):
                break
        reached = sum(1 for r in results if r.result.succeeded)
        status = ActionStatus.SUCCEEDED if reached == len(goals) else ActionStatus.EXECUTION_FAILED
        if results and results[-1].result.status is ActionStatus.CANCELED:
            status = ActionStatus.CANCELED
        return NavigationResult(
            ActionResult(status, f"reached {reached}/{len(goals)} goals"),
            tuple(results),
            clock.now_s() - t0,
        )

    def _run_goal(
        self,
        index: int,
        goal: tuple[float, float],
        observer: Callable[[NavTick], None] | None,
        should_cancel: Callable[[], str | None] | None,
    ) -> GoalResult:
        p = self.params
        rover = self.rover
        clock = rover.clock
        loc = self.localizer
        t0 = clock.now_s()
        d0 = loc.distance_m
        fixes0 = self.fixes

        def new_replanner(planner: Planner) -> Replanner:
            return Replanner(
                planner,
                goal,
                replan_period_s=p.replan_period_s,
                max_deviation_m=p.max_deviation_m,
                blocked_skip_m=p.blocked_skip_m,
            )

        replanner = new_replanner(self.planner)
        plans_before = 0  # by the replanners this goal had before the current one
        approaching = approach_tried = False
        map_forgotten = False
        follower: PathFollower | None = None
        rate = LoopRate(clock, p.control_hz)
        dt = 1.0 / p.control_hz
        map_every = max(1, round(p.control_hz / p.map_hz)) if p.map_hz > 0 else 0
        cam_every = max(1, round(p.control_hz / p.camera_hz)) if p.camera_hz > 0 else 0
        last_plan_ok_s = t0
        last_speed = 0.0
        tick = 0
        relocalized = False
        last_faced_s = -math.inf
        checks = nudges = 0
        nudging = False
        confirm_next: SurveyedMarker | None = None
        facing: SurveyedMarker | None = None
        facing_since_s = t0
        fixes_when_facing = 0
        faced_since_s = math.inf
        turn_ref = (t0, loc.pose.yaw_rad)
        backoff_from: tuple[float, float] | None = None
        backoff_since_s = t0
        best_dist = math.inf
        best_dist_s = t0
        anchor = (loc.pose.x_m, loc.pose.y_m)

        def finish(status: ActionStatus, reason: str) -> GoalResult:
            log.info("goal %d (%.2f, %.2f): %s (%s)", index, *goal, status.value, reason)
            return GoalResult(
                index,
                goal,
                ActionResult(status, reason),
                clock.now_s() - t0,
                loc.pose,
                loc.pose_std,
                loc.distance_m - d0,
                plans_before + replanner.plans,
                self.fixes - fixes0,
            )

        try:
            while True:
                sensed = rover.read()
                loc.predict(sensed)
                self._history.append((sensed.stamp_s, loc.pose))
                events: list[str] = []
                if cam_every and tick % cam_every == 0 and self.update_fiducials():
                    events.append("fix")
                if map_every and tick % map_every == 0 and self.update_map():
                    events.append("map")
                pose = loc.pose
                now = clock.now_s()
                plan_pose = self._on_map(pose)
                if plan_pose is not pose:
                    events.append("estimate off the map: planning from its edge")
                if nudging and follower is None:
                    nudging = False  # the nudge was given up (a back-off): plan again
                try:
                    if not nudging and replanner.update(self.costmap, plan_pose, now):
                        assert replanner.path is not None
                        follower = PathFollower(
                            p.follow, replanner.path, initial_speed_mps=abs(last_speed)
                        )
                        events.append(f"plan: {replanner.last_reason}")
                    last_plan_ok_s = now
                except PlanningError as exc:
                    follower = None
                    replanner.path = None
                    if self.blocked:
                        # Zones kept out of where the rover got stuck can wall it in (it
                        # stuck again and again in one spot) or wall the goal off: forget
                        # them rather than give this goal and every later one up.
                        log.warning(
                            "no path with %d stuck zone(s) kept out of: forgetting them",
                            len(self.blocked),
                        )
                        self.blocked.clear()
                        last_plan_ok_s = now
                        events.append("no plan: stuck zones forgotten")
                    elif (
                        not approach_tried
                        and p.approach_radius_m > p.planner.goal_tolerance_m
                        and not math.isfinite(self.costmap.cost_at(*goal))
                    ):
                        approaching = approach_tried = True
                        plans_before += replanner.plans
                        replanner = new_replanner(
                            Planner(replace(p.planner, goal_tolerance_m=p.approach_radius_m))
                        )
                        last_plan_ok_s = now
                        events.append("no plan: the goal is lethal on the map, approaching it")
                    elif now - last_plan_ok_s >= p.plan_fail_limit_s and (
                        map_forgotten or p.forget_radius_m <= 0.0
                    ):
                        rover.write(RoverCommand(drive=STOP))
                        return finish(ActionStatus.PLANNING_FAILED, str(exc))
                    elif now - last_plan_ok_s >= 0.5 * p.plan_fail_limit_s and not map_forgotten:
                        map_forgotten = True
                        cells = self.elevation.forget(pose.x_m, pose.y_m, p.forget_radius_m)
                        cells += self.elevation.forget(*goal, p.forget_radius_m)
                        log.warning(
                            "no path to goal %d: forgetting %d mapped cells around the rover "
                            "and the goal, to scan them afresh",
                            index,
                            cells,
                        )
                        last_plan_ok_s = now
                        events.append("no plan: map around the rover and the goal forgotten")
                    events.append(f"no plan: {exc}")
                roll, pitch = loc.tilt_rad
                near_goal = (
                    not relocalized
                    and p.fix_before_arrival_m > 0.0
                    and follower is not None
                    and follower.remaining_m(pose) < p.fix_before_arrival_m
                    and now - self._last_fix_s > p.max_fix_age_s
                )
                uncertain = (
                    p.relocalize_std_m > 0.0
                    and (max(loc.pose_std[:2]) > p.relocalize_std_m or plan_pose is not pose)
                    and now - last_faced_s > p.relocalize_cooldown_s
                    and now - self._last_fix_s > p.max_fix_age_s
                )
                if facing is None and (near_goal or uncertain):
                    relocalized = relocalized or near_goal
                    last_faced_s = now
                    facing = self.marker_to_face(pose, p.max_face_turn_rad)
                    if facing is not None:
                        facing_since_s = now
                        faced_since_s = math.inf
                        turn_ref = (now, pose.yaw_rad)
                        fixes_when_facing = self.fixes
                        events.append(f"relocalize: facing marker {facing.marker_id}")
                # No progress toward the goal for ``stuck_time_s``: back off and replan.
                dist_goal = math.hypot(goal[0] - pose.x_m, goal[1] - pose.y_m)
                # Moving about (a detour) is progress too; pushing against a rock, the
                # wheels turn and fixes pull the estimate back: it stays put.
                if (
                    dist_goal < best_dist - p.stuck_progress_m
                    or facing is not None
                    or pose.distance_to(*anchor) > p.stuck_radius_m
                    or dist_goal < p.stuck_radius_m
                ):
                    best_dist, best_dist_s = dist_goal, now
                    anchor = (pose.x_m, pose.y_m)
                if (
                    p.stuck_time_s > 0.0
                    and backoff_from is None
                    and now - best_dist_s > p.stuck_time_s
                ):
                    log.info(
                        "no progress toward goal %d for %.0f s at (%.2f, %.2f): backing off",
                        index,
                        now - best_dist_s,
                        pose.x_m,
                        pose.y_m,
                    )
                    events.append("stuck: backing off")
                    self._mark_blocked(pose, -1.0 if last_speed < 0.0 else 1.0)
                    if self._clear_behind(pose, -1.0 if last_speed < 0.0 else 1.0):
                        backoff_from, backoff_since_s = (pose.x_m, pose.y_m), now
                    best_dist, best_dist_s = dist_goal, now
                    anchor = (pose.x_m, pose.y_m)
                    follower = None
                if backoff_from is not None:
                    moved = pose.distance_to(*backoff_from)
                    if moved >= p.backoff_m or now - backoff_since_s > 3.0 * p.backoff_m / max(
                        p.follow.cruise_speed_mps * 0.5, 1e-3
                    ):
                        command = DriveCommand(
                            math.copysign(
                                max(abs(last_speed) - p.follow.max_accel_mps2 * dt, 0.0),
                                last_speed,
                            ),
                            0.0,
                        )
                        if command.linear_mps == 0.0:
                            backoff_from = None
                            turn_ref = (now, pose.yaw_rad)
                            if facing is None:
                                follower = None
                                replanner.path = None  # plan afresh from here
                    else:
                        step = p.follow.max_accel_mps2 * dt
                        crawl = 0.5 * p.follow.cruise_speed_mps
                        command = DriveCommand(-min(abs(last_speed) + step, crawl), 0.0)
                elif facing is not None:
                    fixed = self.fixes - fixes_when_facing >= p.relocalize_fixes
                    if (
                        fixed
                        or now - facing_since_s > p.relocalize_time_s
                        or now - faced_since_s > p.face_wait_s
                    ) and confirm_next is not None:
                        facing, confirm_next = confirm_next, None
                        facing_since_s, fixes_when_facing = now, self.fixes
                        faced_since_s = math.inf
                        turn_ref = (now, pose.yaw_rad)
                        events.append(f"confirm: facing marker {facing.marker_id}")
                        command = STOP
                    elif (
                        fixed
                        or now - facing_since_s > p.relocalize_time_s
                        or now - faced_since_s > p.face_wait_s
                    ):
                        facing = None
                        follower = None
                        replanner.path = None  # plan afresh from the corrected pose
                        command = STOP
                        here = loc.pose
                        if checks > 0 and abs(last_speed) < 1e-9:
                            if self._close_enough(here, goal):
                                # The check agrees: stop here. Driving on would turn in
                                # place to a goal centimetres away, and a skid-steer turn
                                # slides the body where the encoders do not see it.
                                rover.write(RoverCommand(drive=STOP))
                                return finish(ActionStatus.SUCCEEDED, "goal reached (checked)")
                            nudge = self._nudge_path(here, goal)
                            if nudge is not None:
                                nudges += 1
                                nudging = True
                                follower = PathFollower(p.follow, nudge)
                                replanner.path = nudge
                                events.append(
                                    f"nudge: {here.distance_to(*goal):.2f} m "
                                    + ("backward" if nudge.reverse[0] else "forward")
                                )
                    else:
                        command = self._face(pose, facing, last_speed, dt)
                        if command.angular_radps == 0.0 and command.linear_mps == 0.0:
                            faced_since_s = min(faced_since_s, now)
                        if abs(wrap_angle(pose.yaw_rad - turn_ref[1])) > 0.15 or (
                            command.angular_radps == 0.0
                        ):
                            turn_ref = (now, pose.yaw_rad)
                        elif now - turn_ref[0] > p.face_stall_s:
                            log.info(
                                "turn to face marker %d stalled at (%.2f, %.2f): backing off",
                                facing.marker_id,
                                pose.x_m,
                                pose.y_m,
                            )
                            events.append("face stalled: backing off")
                            if self._clear_behind(pose, 1.0):
                                backoff_from, backoff_since_s = (pose.x_m, pose.y_m), now
                            else:  # nowhere safe to back into: give this marker up
                                facing, confirm_next = None, None
                                follower = None
                                replanner.path = None
                elif follower is not None:
                    command = follower.update(pose, dt, pitch_rad=pitch, roll_rad=roll)
                else:
                    command = STOP
                if follower is not None and follower.done and approaching:
                    # Near a goal that was lethal on the map, mapped from close by now:
                    # plan to the goal itself (it fails as any plan does if it still is).
                    approaching = False
                    plans_before += replanner.plans
                    replanner = new_replanner(self.planner)
                    follower = None
                    command = STOP
                    events.append("approached: planning to the goal itself")
                if follower is not None and follower.done:
                    # Arrived by the estimate. With no fresh fix, check once: face a
                    # marker, correct, and drive the rest if the fix moved the goal.
                    stale = (
                        now - self._last_fix_s > p.max_fix_age_s
                        or max(loc.pose_std[:2]) > p.arrival_std_m
                    )
                    # No check turn where turning is not safe (a nudge into the
                    # inflation of a rock): the estimate decides there.
                    may_turn = math.isfinite(self.costmap.cost_at(pose.x_m, pose.y_m))
                    target = (
                        self.marker_to_face(pose)
                        if stale
                        and may_turn
                        and checks < p.max_arrival_checks
                        and p.fix_before_arrival_m > 0.0
                        else None
                    )
                    checks += 1
                    nudging = False
                    if target is None or p.fix_before_arrival_m <= 0.0:
                        # The path may end short of a goal the map has lethal (moved to
                        # the nearest free cell): drive the rest straight if the body
                        # clears, and never call a goal reached outside the tolerance.
                        dist = pose.distance_to(*goal)
                        if p.goal_tolerance_m <= 0.0 or dist <= p.goal_tolerance_m:
                            rover.write(RoverCommand(drive=STOP))
                            return finish(ActionStatus.SUCCEEDED, "goal reached")
                        nudge = (
                            self._nudge_path(pose, goal) if nudges < p.max_arrival_checks else None
                        )
                        if nudge is None:
                            rover.write(RoverCommand(drive=STOP))
                            return finish(
                                ActionStatus.EXECUTION_FAILED,
                                f"stopped {dist:.2f} m from the goal (tolerance "
                                f"{p.goal_tolerance_m:g} m): no clear straight way nearer on "
                                "the map",
                            )
                        nudges += 1
                        nudging = True
                        follower = PathFollower(p.follow, nudge)
                        replanner.path = nudge
                        events.append(f"nudge: {dist:.2f} m to a goal the path stopped short of")
                        command = STOP
                    else:
                        facing, facing_since_s, fixes_when_facing = target, now, self.fixes
                        if p.confirm_separation_rad > 0.0:
                            confirm_next = self.marker_to_face(pose, apart_from=target)
                        faced_since_s = math.inf
                        turn_ref = (now, pose.yaw_rad)
                        last_faced_s = now
                        follower = None
                        command = STOP
                        events.append(f"confirm: facing marker {target.marker_id}")
                reason = should_cancel() if should_cancel is not None else None
                if reason:
                    rover.write(RoverCommand(drive=STOP))
                    return finish(ActionStatus.CANCELED, reason)
                if now - t0 >= p.goal_time_limit_s:
                    rover.write(RoverCommand(drive=STOP))
                    return finish(
                        ActionStatus.EXECUTION_FAILED,
                        f"time limit of {p.goal_time_limit_s:g} s reached",
                    )
                rover.write(RoverCommand(drive=command))
                last_speed = command.linear_mps
                if observer is not None:
                    observer(
                        NavTick(
                            sensed.stamp_s,
                            index,
                            sensed,
                            pose,
                            command,
                            replanner.path,
                            self.fixes,
                            loc.slip.slipping,
                            tuple(events),
                        )
                    )
                tick += 1
                rate.sleep()
        except HardwareError as exc:
            return finish(ActionStatus.EXECUTION_FAILED, f"hardware: {exc}")

    def _close_enough(self, pose: Pose2, goal: tuple[float, float]) -> bool:
        """Whether the estimate is at the goal: within the mission's tolerance by
        ``check_sigmas`` stds (without one, within the follower's arrival tolerance)."""
        p = self.params
        dist = pose.distance_to(*goal)
        if p.goal_tolerance_m <= 0.0:
            return dist < p.follow.arrival_tolerance_m
        margin = p.check_sigmas * max(self.localizer.pose_std[:2])
        return dist + margin <= p.goal_tolerance_m

    def _nudge_path(self, pose: Pose2, goal: tuple[float, float]) -> Path | None:
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

    def _face(
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
