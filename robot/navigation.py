"""The navigation loop: read → localize → map → plan → follow → write, goal after goal.

:class:`Navigator` drives a rover to each goal in turn using only what it senses: wheel
odometry and the IMU every cycle (:class:`~lunarsite.robot.localization.Localizer`),
ArUco fiducials in camera frames at ``camera_hz`` (surveyed markers →
:func:`~lunarsite.robot.fiducials.landmark_fix`), range scans from ``map_source`` at
``map_hz`` into an :class:`~lunarsite.robot.mapping.ElevationMap`, a costmap rebuilt
from it, a :class:`~lunarsite.robot.planner.Replanner` and a
:class:`~lunarsite.robot.pathfollow.PathFollower`.

Each goal ends with an :class:`~lunarsite.robot.executive.ActionResult`: succeeded
(the follower reached it by the rover's own estimate), planning failed (no path for
``plan_fail_limit_s``), execution failed (time limit, hardware error), canceled.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import RoverConfig
from .costmap import Costmap, CostmapParams, KeepOut, build_costmap
from .executive import ActionResult, ActionStatus
from .fiducials import (
    NORMAL_YAW_STD_RAD,
    CameraMount,
    FiducialDetector,
    SurveyedMarker,
    landmark_fix,
    markers_by_id,
    pose_fix,
)
from .hardware import HardwareError, LifecycleState, LoopRate, NoCameraError, RoverInterface
from .localization import Localizer, shift_fix
from .mapping import BodyBox, ElevationMap, RangeScan
from .pathfollow import PathFollower, PathFollowParams
from .planner import Path, Planner, PlannerParams, PlanningError, Replanner
from .types import STOP, DriveCommand, Pose2, RoverCommand, SensedState

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
    replan_period_s: float = 3.0
    max_deviation_m: float = 0.5
    scan_angle_std_rad: float = 0.015
    """Pose and tilt uncertainty applied to scan points (std per m of range), in rad."""
    use_marker_yaw: bool = False
    """Also correct heading from a marker's face normal: at 320 px and a few metres its
    error reaches 0.1–0.2 rad, so off by default; bearings to markers fix heading as the
    rover moves."""
    max_marker_range_m: float = 11.0
    """Markers seen farther than this are not used, in m (a 0.4 m marker at 320 × 240
    decodes to ~10 m in the simulator; range error grows with range, and the fix's
    covariance with it)."""
    ground_std_m: float = 0.03
    max_height_std_m: float = 0.05
    fix_before_arrival_m: float = 1.5
    """Within this path distance of a goal, a rover whose last fiducial fix is older than
    ``max_fix_age_s`` stops and turns to face the nearest surveyed marker for a fix (for
    up to ``relocalize_time_s``) before driving the rest, in m; 0 turns this off."""
    max_fix_age_s: float = 5.0
    relocalize_time_s: float = 20.0
    relocalize_fixes: int = 3
    """Facing a marker ends after this many accepted fixes."""
    relocalize_std_m: float = 0.12
    """Anywhere on the way, a rover whose position std exceeds this stops and faces the
    nearest marker in range for a fix, in m; 0 turns this off."""
    relocalize_cooldown_s: float = 20.0
    """Least time between two such stops, in s."""
    arrival_std_m: float = 0.03
    """Arrived by the estimate with a position std above this, the rover faces a marker
    for a fix once before it calls the goal reached, in m."""
    map_max_range_m: float = 6.0
    """Range returns beyond this are not mapped (tilt errors grow with range), in m."""
    """Cells less certain than this count as unknown in the costmap (far, single returns
    are refined as the rover comes closer), in m."""
    """The map's height under the rover sets the chassis height only when surer than this."""
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
        self._costmap: Costmap | None = None
        self.planner = Planner(params.planner)
        self.fixes = 0
        self._last_frame_s = float("nan")
        self._last_fix_s = -math.inf
        self._history: deque[tuple[float, Pose2]] = deque(maxlen=64)

    @property
    def costmap(self) -> Costmap:
        """The costmap as of the last map update (built on first use)."""
        if self._costmap is None or self._costmap.version != self.elevation.version:
            self._costmap = build_costmap(
                self.elevation.heights_for_planning(self.params.max_height_std_m),
                self.elevation.grid,
                self.params.costmap,
                keep_out=self.params.keep_out,
                version=self.elevation.version,
                std_m=np.sqrt(self.elevation.variance_m2),
            )
        return self._costmap

    # ------------------------------------------------------------------- sensing
    def _chassis_z(self, pose: Pose2) -> float:
        """Height of the chassis centre: the mapped ground under it (where the map is
        sure of it, to ``ground_std_m``) plus the ride height; else the last such value."""
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
        for obs in self.detector.observe(frame):
            marker = self.markers[obs.marker_id]
            if obs.range_m > self.params.max_marker_range_m:
                continue
            fix = landmark_fix(obs, marker, self.mount, roll, pitch, focal_px=focal_px)
            then = self._pose_at(frame.stamp_s)
            if then is not None:
                fix = shift_fix(fix, then, self.localizer.pose)
            if self.localizer.update_landmark(fix):
                accepted += 1
            if self.params.use_marker_yaw:
                fix_pose, _ = pose_fix(obs, marker, self.mount, roll, pitch)
                self.localizer.update_yaw(fix_pose.yaw_rad, NORMAL_YAW_STD_RAD, "marker normal")
        self.fixes += accepted
        if accepted:
            self._last_fix_s = self.rover.clock.now_s()
        return accepted

    def _pose_at(self, stamp_s: float) -> Pose2 | None:
        """The estimate at the cycle nearest ``stamp_s`` (within the kept history)."""
        if not self._history:
            return None
        stamp, pose = min(self._history, key=lambda sp: abs(sp[0] - stamp_s))
        return pose if abs(stamp - stamp_s) <= 0.5 else None

    def marker_to_face(self, pose: Pose2) -> SurveyedMarker | None:
        """The nearest surveyed marker within ``max_marker_range_m`` whose face the rover
        is in front of (within 60° of its normal), or None."""
        best: tuple[float, SurveyedMarker] | None = None
        for m in self.markers.values():
            dx, dy = pose.x_m - m.x_m, pose.y_m - m.y_m
            dist = math.hypot(dx, dy)
            if not 0.5 < dist <= self.params.max_marker_range_m:
                continue
            facing = (dx * math.cos(m.yaw_rad) + dy * math.sin(m.yaw_rad)) / dist
            if facing >= 0.5 and (best is None or dist < best[0]):
                best = (dist, m)
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
        replanner = Replanner(
            self.planner,
            goal,
            replan_period_s=p.replan_period_s,
            max_deviation_m=p.max_deviation_m,
        )
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
        confirmed = False
        facing: SurveyedMarker | None = None
        facing_since_s = t0
        fixes_when_facing = 0

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
                replanner.plans,
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
                try:
                    if replanner.update(self.costmap, pose, now):
                        assert replanner.path is not None
                        follower = PathFollower(
                            p.follow, replanner.path, initial_speed_mps=abs(last_speed)
                        )
                        events.append(f"plan: {replanner.last_reason}")
                    last_plan_ok_s = now
                except PlanningError as exc:
                    follower = None
                    replanner.path = None
                    if now - last_plan_ok_s >= p.plan_fail_limit_s:
                        rover.write(RoverCommand(drive=STOP))
                        return finish(ActionStatus.PLANNING_FAILED, str(exc))
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
                    and max(loc.pose_std[:2]) > p.relocalize_std_m
                    and now - last_faced_s > p.relocalize_cooldown_s
                    and now - self._last_fix_s > p.max_fix_age_s
                )
                if facing is None and (near_goal or uncertain):
                    relocalized = relocalized or near_goal
                    last_faced_s = now
                    facing = self.marker_to_face(pose)
                    if facing is not None:
                        facing_since_s = now
                        fixes_when_facing = self.fixes
                        events.append(f"relocalize: facing marker {facing.marker_id}")
                if facing is not None:
                    fixed = self.fixes - fixes_when_facing >= p.relocalize_fixes
                    if fixed or now - facing_since_s > p.relocalize_time_s:
                        facing = None
                        follower = None
                        replanner.path = None  # plan afresh from the corrected pose
                        command = STOP
                    else:
                        command = self._face(pose, facing, last_speed, dt)
                elif follower is not None:
                    command = follower.update(pose, dt, pitch_rad=pitch, roll_rad=roll)
                else:
                    command = STOP
                if follower is not None and follower.done:
                    # Arrived by the estimate. With no fresh fix, check once: face a
                    # marker, correct, and drive the rest if the fix moved the goal.
                    stale = (
                        now - self._last_fix_s > p.max_fix_age_s
                        or max(loc.pose_std[:2]) > p.arrival_std_m
                    )
                    target = self.marker_to_face(pose) if stale and not confirmed else None
                    confirmed = True
                    if target is None or p.fix_before_arrival_m <= 0.0:
                        rover.write(RoverCommand(drive=STOP))
                        return finish(ActionStatus.SUCCEEDED, "goal reached")
                    facing, facing_since_s, fixes_when_facing = target, now, self.fixes
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

    def _face(
        self, pose: Pose2, marker: SurveyedMarker, speed_mps: float, dt_s: float
    ) -> DriveCommand:
        """Stop, then turn in place to bring ``marker`` ahead; hold still once it is."""
        f = self.params.follow
        if abs(speed_mps) > 1e-9:
            step = f.max_accel_mps2 * dt_s
            return DriveCommand(math.copysign(max(abs(speed_mps) - step, 0.0), speed_mps), 0.0)
        bearing = pose.bearing_to(marker.x_m, marker.y_m)
        if abs(bearing) < 0.1:
            return STOP
        rate = f.heading_gain_per_s * bearing
        return DriveCommand(0.0, max(min(rate, f.max_yaw_rate_radps), -f.max_yaw_rate_radps))
