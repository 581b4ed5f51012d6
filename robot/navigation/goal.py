"""Navigate to one goal by the rover's own sensing: a skill with explicit phases.

Each tick :class:`NavigateToGoal` senses (odometry and IMU into the localizer; fiducials
and range scans at their rates), keeps a plan to the goal (replanning when the map blocks
it, changes, or the rover strays), then acts according to its :class:`NavPhase`:

``PLANNING``     no path yet, or planning afresh after a stop: stand still.
``FOLLOWING``    follow the planned path (``APPROACHING`` when the goal itself is lethal
                 on the map and the path leads to the nearest free ground).
``NUDGING``      a short straight drive to a goal the path stopped short of, or that an
                 arrival check moved.
``FACING``       turn to a surveyed marker and hold still for a fix: on the way when the
                 estimate is unsure, near the goal when the last fix is old, or at arrival
                 to check it (:class:`FacingPurpose`).
``BACKING_OFF``  back up a little: stuck (no progress for ``stuck_time_s``) or a facing
                 turn that stalled; then back to facing, or planning.

The goal ends succeeded (the rover's own estimate is within the tolerance), planning
failed (no path for ``plan_fail_limit_s``, after forgetting stuck zones, approaching a
lethal goal and forgetting the map round the rover once), execution failed (the goal's
time limit, a path that stops short with no straight way on) or canceled.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

from ..control.pathfollow import PathFollower
from ..executive.skill import ActionResult, ActionStatus, Running, Skill, Step
from ..perception.fiducials import SurveyedMarker
from ..planning.planner import Path, Planner, PlanningError, Replanner
from ..types import STOP, DriveCommand, Pose2, RoverCommand, SensedState, wrap_angle
from .navigator import Navigator
from .phases import Backoff, Facing, FacingPurpose, GoalResult, NavPhase, ProgressWatch

__all__ = ["NavigateToGoal"]

log = logging.getLogger(__name__)


class NavigateToGoal(Skill):
    """Drive to ``goal_xy_m`` with ``navigator``'s stack (see the module docstring)."""

    def __init__(self, navigator: Navigator, index: int, goal_xy_m: tuple[float, float]) -> None:
        super().__init__(f"goal {index}")
        self.nav = navigator
        self.index = index
        self.goal = (float(goal_xy_m[0]), float(goal_xy_m[1]))
        p = navigator.params
        self.dt_s = 1.0 / p.control_hz
        self._map_every = max(1, round(p.control_hz / p.map_hz)) if p.map_hz > 0 else 0
        self._cam_every = max(1, round(p.control_hz / p.camera_hz)) if p.camera_hz > 0 else 0
        self.events: tuple[str, ...] = ()
        """What happened in the last tick (a plan, a fix, a back-off...), for observers."""
        self.goal_result: GoalResult | None = None
        self._replanner = self._new_replanner(navigator.planner)
        self._plans_before = 0  # by the replanners this goal had before the current one
        self._follower: PathFollower | None = None
        self._approaching = False
        self._approach_tried = False
        self._map_forgotten = False
        self._nudging = False
        self._facing: Facing | None = None
        self._backoff: Backoff | None = None
        self._relocalized = False
        self._last_faced_s = -math.inf
        self._checks = 0
        self._nudges = 0
        self._slope_backouts = 0
        self._tick = 0
        self._last_speed = 0.0
        self._last_plan_ok_s = 0.0
        self._turn_ref = (0.0, 0.0)
        self._progress = ProgressWatch(math.inf, 0.0, (0.0, 0.0))
        self._distance0_m = 0.0
        self._fixes0 = 0
        self._now_s = math.nan

    # ------------------------------------------------------------------- state
    @property
    def phase(self) -> NavPhase:
        if self._backoff is not None:
            return NavPhase.BACKING_OFF
        if self._facing is not None:
            return NavPhase.FACING
        if self._follower is None:
            return NavPhase.PLANNING
        if self._nudging:
            return NavPhase.NUDGING
        return NavPhase.APPROACHING if self._approaching else NavPhase.FOLLOWING

    @property
    def path(self) -> Path | None:
        """The path being followed (or the last plan), if any."""
        return self._replanner.path

    @property
    def plans(self) -> int:
        return self._plans_before + self._replanner.plans

    def _new_replanner(self, planner: Planner) -> Replanner:
        p = self.nav.params
        return Replanner(
            planner,
            self.goal,
            replan_period_s=p.replan_period_s,
            max_deviation_m=p.max_deviation_m,
            blocked_skip_m=p.blocked_skip_m,
        )

    # -------------------------------------------------------------------- ticks
    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        loc = self.nav.localizer
        pose = loc.pose
        self._distance0_m = loc.distance_m
        self._fixes0 = self.nav.fixes
        self._last_plan_ok_s = now_s
        self._turn_ref = (now_s, pose.yaw_rad)
        self._progress = ProgressWatch(math.inf, now_s, (pose.x_m, pose.y_m))
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        events: list[str] = []
        self.events = ()
        pose, plan_pose = self._sense(sensed, now_s, events)
        failed = self._plan(plan_pose, pose, now_s, events)
        if failed is not None:
            return self._end(failed, events)
        self._maybe_relocalize(pose, plan_pose, now_s, events)
        self._watch_progress(pose, now_s, events)
        command, done = self._act(pose, now_s, events)
        if done is not None:
            return self._end(done, events)
        if self._approaching and self._follower is not None and self._follower.done:
            # Near a goal that was lethal on the map, mapped from close by now: plan to
            # the goal itself (it fails as any plan does if it still is).
            self._approaching = False
            self._plans_before += self._replanner.plans
            self._replanner = self._new_replanner(self.nav.planner)
            self._follower = None
            command = STOP
            events.append("approached: planning to the goal itself")
        if self._follower is not None and self._follower.done:
            command, done = self._arrived(pose, now_s, events)
            if done is not None:
                return self._end(done, events)
        p = self.nav.params
        if now_s - self.start_s >= p.goal_time_limit_s:
            return self._end(
                ActionResult(
                    ActionStatus.EXECUTION_FAILED,
                    f"time limit of {p.goal_time_limit_s:g} s reached",
                ),
                events,
            )
        self._last_speed = command.linear_mps
        self.events = tuple(events)
        self._tick += 1
        return Running(RoverCommand(drive=command))

    def _on_cancel(self, reason: str) -> str:
        self._record(ActionResult(ActionStatus.CANCELED, reason))
        return reason

    def _end(self, result: ActionResult, events: list[str]) -> ActionResult:
        self.events = tuple(events)
        self._record(result)
        return result

    def _record(self, result: ActionResult) -> None:
        nav, loc = self.nav, self.nav.localizer
        log.info(
            "goal %d (%.2f, %.2f): %s (%s)",
            self.index,
            *self.goal,
            result.status.value,
            result.reason,
        )
        self.goal_result = GoalResult(
            self.index,
            self.goal,
            result,
            self._now_s - self.start_s if self.started else 0.0,
            loc.pose,
            loc.pose_std,
            loc.distance_m - self._distance0_m,
            self.plans,
            nav.fixes - self._fixes0,
        )

    # ------------------------------------------------------------------ sensing
    def _sense(self, sensed: SensedState, now_s: float, events: list[str]) -> tuple[Pose2, Pose2]:
        nav = self.nav
        self._now_s = now_s
        nav.localizer.predict(sensed)
        nav.history.append((sensed.stamp_s, nav.localizer.pose))
        if self._cam_every and self._tick % self._cam_every == 0 and nav.update_fiducials(now_s):
            events.append("fix")
        if self._map_every and self._tick % self._map_every == 0 and nav.update_map():
            events.append("map")
        pose = nav.localizer.pose
        plan_pose = nav.on_map(pose)
        if plan_pose is not pose:
            events.append("estimate off the map: planning from its edge")
        return pose, plan_pose

    # ----------------------------------------------------------------- planning
    def _plan(
        self, plan_pose: Pose2, pose: Pose2, now_s: float, events: list[str]
    ) -> ActionResult | None:
        """Keep a plan; when there is none, recover (forget stuck zones, approach a lethal
        goal, forget the map round the rover) before giving up."""
        nav, p = self.nav, self.nav.params
        if self._nudging and self._follower is None:
            self._nudging = False  # the nudge was given up (a back-off): plan again
        try:
            if not self._nudging and self._replanner.update(nav.costmap, plan_pose, now_s):
                assert self._replanner.path is not None
                self._follower = PathFollower(
                    p.follow, self._replanner.path, initial_speed_mps=abs(self._last_speed)
                )
                events.append(f"plan: {self._replanner.last_reason}")
                self._maybe_back_out(pose, self._replanner.path, now_s, events)
            self._last_plan_ok_s = now_s
        except PlanningError as exc:
            self._follower = None
            self._replanner.path = None
            if nav.blocked:
                # Zones kept out of where the rover got stuck can wall it in (it stuck
                # again and again in one spot) or wall the goal off: forget them rather
                # than give this goal and every later one up.
                log.warning(
                    "no path with %d stuck zone(s) kept out of: forgetting them", len(nav.blocked)
                )
                nav.blocked.clear()
                self._last_plan_ok_s = now_s
                events.append("no plan: stuck zones forgotten")
            elif (
                not self._approach_tried
                and p.approach_radius_m > p.planner.goal_tolerance_m
                and not math.isfinite(nav.costmap.cost_at(*self.goal))
            ):
                self._approaching = self._approach_tried = True
                self._plans_before += self._replanner.plans
                self._replanner = self._new_replanner(
                    Planner(replace(p.planner, goal_tolerance_m=p.approach_radius_m))
                )
                self._last_plan_ok_s = now_s
                events.append("no plan: the goal is lethal on the map, approaching it")
            elif now_s - self._last_plan_ok_s >= p.plan_fail_limit_s and (
                self._map_forgotten or p.forget_radius_m <= 0.0
            ):
                return ActionResult(ActionStatus.PLANNING_FAILED, str(exc))
            elif now_s - self._last_plan_ok_s >= 0.5 * p.plan_fail_limit_s and not (
                self._map_forgotten
            ):
                self._map_forgotten = True
                cells = nav.elevation.forget(pose.x_m, pose.y_m, p.forget_radius_m)
                cells += nav.elevation.forget(*self.goal, p.forget_radius_m)
                log.warning(
                    "no path to goal %d: forgetting %d mapped cells around the rover and the "
                    "goal, to scan them afresh",
                    self.index,
                    cells,
                )
                self._last_plan_ok_s = now_s
                events.append("no plan: map around the rover and the goal forgotten")
            events.append(f"no plan: {exc}")
        return None

    # ---------------------------------------------------------------- watching
    def _maybe_relocalize(
        self, pose: Pose2, plan_pose: Pose2, now_s: float, events: list[str]
    ) -> None:
        """Stop to face a marker when the last fix is old near the goal, or the estimate
        is unsure (or off the map) on the way."""
        nav, p = self.nav, self.nav.params
        loc = nav.localizer
        near_goal = (
            not self._relocalized
            and p.fix_before_arrival_m > 0.0
            and self._follower is not None
            and self._follower.remaining_m(pose) < p.fix_before_arrival_m
            and now_s - nav.last_fix_s > p.max_fix_age_s
        )
        uncertain = (
            p.relocalize_std_m > 0.0
            and (max(loc.pose_std[:2]) > p.relocalize_std_m or plan_pose is not pose)
            and now_s - self._last_faced_s > p.relocalize_cooldown_s
            and now_s - nav.last_fix_s > p.max_fix_age_s
        )
        if self._facing is None and (near_goal or uncertain):
            self._relocalized = self._relocalized or near_goal
            self._last_faced_s = now_s
            marker = nav.marker_to_face(pose, p.max_face_turn_rad)
            if marker is not None:
                self._start_facing(marker, FacingPurpose.RELOCALIZE, pose, now_s)
                events.append(f"relocalize: facing marker {marker.marker_id}")

    def _watch_progress(self, pose: Pose2, now_s: float, events: list[str]) -> None:
        """No progress toward the goal for ``stuck_time_s``: keep out of the ground just
        ahead, back off and plan afresh."""
        nav, p = self.nav, self.nav.params
        goal = self.goal
        dist_goal = math.hypot(goal[0] - pose.x_m, goal[1] - pose.y_m)
        w = self._progress
        # Moving about (a detour) is progress too; pushing against a rock, the wheels turn
        # and fixes pull the estimate back: it stays put.
        if (
            dist_goal < w.best_dist_m - p.stuck_progress_m
            or self._facing is not None
            or pose.distance_to(*w.anchor_xy_m) > p.stuck_radius_m
            or dist_goal < p.stuck_radius_m
        ):
            self._progress = ProgressWatch(dist_goal, now_s, (pose.x_m, pose.y_m))
        if (
            p.stuck_time_s > 0.0
            and self._backoff is None
            and now_s - self._progress.best_since_s > p.stuck_time_s
        ):
            log.info(
                "no progress toward goal %d for %.0f s at (%.2f, %.2f): backing off",
                self.index,
                now_s - self._progress.best_since_s,
                pose.x_m,
                pose.y_m,
            )
            events.append("stuck: backing off")
            direction = -1.0 if self._last_speed < 0.0 else 1.0
            nav.mark_blocked(pose, direction)
            if nav.clear_behind(pose, direction):
                self._backoff = Backoff((pose.x_m, pose.y_m), now_s)
            self._progress = ProgressWatch(dist_goal, now_s, (pose.x_m, pose.y_m))
            self._follower = None

    # ------------------------------------------------------------------- acting
    def _act(
        self, pose: Pose2, now_s: float, events: list[str]
    ) -> tuple[DriveCommand, ActionResult | None]:
        phase = self.phase
        if phase is NavPhase.BACKING_OFF:
            return self._back_off(pose, now_s), None
        if phase is NavPhase.FACING:
            return self._face_marker(pose, now_s, events)
        if self._follower is not None:
            roll, pitch = self.nav.localizer.tilt_rad
            return self._follower.update(pose, self.dt_s, pitch_rad=pitch, roll_rad=roll), None
        return STOP, None

    def _maybe_back_out(self, pose: Pose2, path: Path, now_s: float, events: list[str]) -> None:
        """On a slope, a new path that begins with a turn in place begins instead with
        backing straight out (``slope_backout_m``) onto ground the map has flatter: a
        skid-steer turning on a slope slides downhill (``face_max_tilt_rad``)."""
        nav, p = self.nav, self.nav.params
        roll, pitch = nav.localizer.tilt_rad
        if (
            p.slope_backout_m <= 0.0
            or self._backoff is not None
            or self._slope_backouts >= p.max_slope_backouts
            or math.hypot(roll, pitch) <= p.face_max_tilt_rad
            or path.reverse[0]
        ):
            return
        (x0, y0), (x1, y1) = path.points_xy_m[0], path.points_xy_m[1]
        turn = wrap_angle(math.atan2(y1 - y0, x1 - x0) - pose.yaw_rad)
        if abs(turn) <= p.slope_turn_rad or not nav.clear_behind(pose, 1.0, p.slope_backout_m):
            return
        # Only onto ground the map has flatter (the rover may have turned since it came).
        back_x = pose.x_m - p.slope_backout_m * math.cos(pose.yaw_rad)
        back_y = pose.y_m - p.slope_backout_m * math.sin(pose.yaw_rad)
        here, there = nav.slope_at(pose.x_m, pose.y_m), nav.slope_at(back_x, back_y)
        if not there < min(here, math.hypot(roll, pitch)) - 0.02:
            return
        self._slope_backouts += 1
        self._backoff = Backoff((pose.x_m, pose.y_m), now_s, p.slope_backout_m)
        log.info(
            "tilted %.2f rad with a %.1f rad turn ahead at (%.2f, %.2f): backing out %.1f m",
            math.hypot(roll, pitch),
            turn,
            pose.x_m,
            pose.y_m,
            p.slope_backout_m,
        )
        events.append("on a slope: backing out before turning")

    def _back_off(self, pose: Pose2, now_s: float) -> DriveCommand:
        """Back straight up ``backoff_m`` (or the back-off's own distance) at a crawl, then
        brake and hand back."""
        b = self._backoff
        assert b is not None
        f = self.nav.params.follow
        backoff_m = b.distance_m or self.nav.params.backoff_m
        moved = pose.distance_to(*b.from_xy_m)
        if moved >= backoff_m or now_s - b.since_s > 3.0 * backoff_m / max(
            f.cruise_speed_mps * 0.5, 1e-3
        ):
            last = self._last_speed
            command = DriveCommand(
                math.copysign(max(abs(last) - f.max_accel_mps2 * self.dt_s, 0.0), last), 0.0
            )
            if command.linear_mps == 0.0:
                self._backoff = None
                self._turn_ref = (now_s, pose.yaw_rad)
                if self._facing is None:
                    self._follower = None
                    self._replanner.path = None  # plan afresh from here
            return command
        step = f.max_accel_mps2 * self.dt_s
        crawl = 0.5 * f.cruise_speed_mps
        return DriveCommand(-min(abs(self._last_speed) + step, crawl), 0.0)

    def _face_marker(
        self, pose: Pose2, now_s: float, events: list[str]
    ) -> tuple[DriveCommand, ActionResult | None]:
        """Turn to the marker and wait for its fix; then the next marker, or plan afresh
        (and, after an arrival check, end the goal or nudge to it)."""
        nav, p = self.nav, self.nav.params
        facing = self._facing
        assert facing is not None
        fixed = nav.fixes - facing.fixes_at_start >= p.relocalize_fixes
        over = (
            fixed
            or now_s - facing.since_s > p.relocalize_time_s
            or now_s - facing.faced_since_s > p.face_wait_s
        )
        if over and facing.then is not None:
            marker = facing.then
            self._facing = Facing(marker, FacingPurpose.CONFIRM, now_s, nav.fixes)
            self._turn_ref = (now_s, pose.yaw_rad)
            events.append(f"confirm: facing marker {marker.marker_id}")
            return STOP, None
        if over:
            self._facing = None
            self._follower = None
            self._replanner.path = None  # plan afresh from the corrected pose
            here = nav.localizer.pose
            if self._checks > 0 and abs(self._last_speed) < 1e-9:
                if nav.close_enough(here, self.goal):
                    # The check agrees: stop here. Driving on would turn in place to a
                    # goal centimetres away, and a skid-steer turn slides the body where
                    # the encoders do not see it.
                    return STOP, ActionResult(ActionStatus.SUCCEEDED, "goal reached (checked)")
                nudge = nav.nudge_path(here, self.goal)
                if nudge is not None:
                    self._start_nudge(nudge)
                    events.append(
                        f"nudge: {here.distance_to(*self.goal):.2f} m "
                        + ("backward" if nudge.reverse[0] else "forward")
                    )
            return STOP, None
        roll, pitch = nav.localizer.tilt_rad
        if (
            math.hypot(roll, pitch) > p.face_max_tilt_rad
            and abs(pose.bearing_to(facing.marker.x_m, facing.marker.y_m)) > p.face_tolerance_rad
        ):
            # The turn has brought the rover onto a slope (or it slid there): turning on
            # would slide it further; the estimate decides without this marker.
            log.info(
                "tilted %.2f rad at (%.2f, %.2f): not turning on to face marker %d",
                math.hypot(roll, pitch),
                pose.x_m,
                pose.y_m,
                facing.marker.marker_id,
            )
            events.append("facing given up: on a slope")
            self._facing = None
            self._follower = None
            self._replanner.path = None
            return STOP, None
        command = nav.face(pose, facing.marker, self._last_speed, self.dt_s)
        if command.angular_radps == 0.0 and command.linear_mps == 0.0:
            facing.faced_since_s = min(facing.faced_since_s, now_s)
        if abs(wrap_angle(pose.yaw_rad - self._turn_ref[1])) > 0.15 or (
            command.angular_radps == 0.0
        ):
            self._turn_ref = (now_s, pose.yaw_rad)
        elif now_s - self._turn_ref[0] > p.face_stall_s:
            log.info(
                "turn to face marker %d stalled at (%.2f, %.2f): backing off",
                facing.marker.marker_id,
                pose.x_m,
                pose.y_m,
            )
            events.append("face stalled: backing off")
            if nav.clear_behind(pose, 1.0):
                self._backoff = Backoff((pose.x_m, pose.y_m), now_s)
            else:  # nowhere safe to back into: give this marker up
                self._facing = None
                self._follower = None
                self._replanner.path = None
        return command, None

    def _arrived(
        self, pose: Pose2, now_s: float, events: list[str]
    ) -> tuple[DriveCommand, ActionResult | None]:
        """The follower reached the end of its path. With no fresh fix, check once (face
        a marker, correct, drive the rest if the fix moved the goal); else end the goal,
        nudging on to a goal the path stopped short of."""
        nav, p = self.nav, self.nav.params
        loc = nav.localizer
        stale = now_s - nav.last_fix_s > p.max_fix_age_s or max(loc.pose_std[:2]) > p.arrival_std_m
        # No check turn where turning is not safe (a nudge into the inflation of a rock):
        # the estimate decides there.
        may_turn = math.isfinite(nav.costmap.cost_at(pose.x_m, pose.y_m))
        target = (
            nav.marker_to_face(pose)
            if stale
            and may_turn
            and self._checks < p.max_arrival_checks
            and p.fix_before_arrival_m > 0.0
            else None
        )
        self._checks += 1
        self._nudging = False
        if target is None or p.fix_before_arrival_m <= 0.0:
            # The path may end short of a goal the map has lethal (moved to the nearest
            # free cell): drive the rest straight if the body clears, and never call a
            # goal reached outside the tolerance.
            dist = pose.distance_to(*self.goal)
            within = dist <= p.goal_tolerance_m
            if (
                p.goal_tolerance_m <= 0.0
                or (within and not stale)
                or nav.close_enough(pose, self.goal)
            ):
                return STOP, ActionResult(ActionStatus.SUCCEEDED, "goal reached")
            if within:
                # Within the tolerance by the estimate, but the checks are spent and the
                # estimate is not sure enough to say so (called reached at 0.23 m off
                # with a 0.21 m std, it would have been a goal reached falsely).
                std = max(loc.pose_std[:2])
                return STOP, ActionResult(
                    ActionStatus.EXECUTION_FAILED,
                    f"not confirmed: the estimate is {dist:.2f} m from the goal with a "
                    f"{std:.2f} m std after {self._checks - 1} checks (tolerance "
                    f"{p.goal_tolerance_m:g} m at {p.check_sigmas:g} std)",
                )
            nudge = nav.nudge_path(pose, self.goal) if self._nudges < p.max_arrival_checks else None
            if nudge is None:
                return STOP, ActionResult(
                    ActionStatus.EXECUTION_FAILED,
                    f"stopped {dist:.2f} m from the goal (tolerance {p.goal_tolerance_m:g} m): "
                    "no clear straight way nearer on the map",
                )
            self._start_nudge(nudge)
            events.append(f"nudge: {dist:.2f} m to a goal the path stopped short of")
            return STOP, None
        self._start_facing(target, FacingPurpose.ARRIVAL_CHECK, pose, now_s)
        if p.confirm_separation_rad > 0.0 and self._facing is not None:
            self._facing.then = nav.marker_to_face(pose, apart_from=target)
        self._last_faced_s = now_s
        self._follower = None
        events.append(f"confirm: facing marker {target.marker_id}")
        return STOP, None

    def _start_facing(
        self, marker: SurveyedMarker, purpose: FacingPurpose, pose: Pose2, now_s: float
    ) -> None:
        self._facing = Facing(marker, purpose, now_s, self.nav.fixes)
        self._turn_ref = (now_s, pose.yaw_rad)

    def _start_nudge(self, nudge: Path) -> None:
        self._nudges += 1
        self._nudging = True
        self._follower = PathFollower(self.nav.params.follow, nudge)
        self._replanner.path = nudge
