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

The facing and arrival phases and backing off are :class:`~.facing.FacingPhases`.

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
from ..planning.planner import Path, Planner, PlanningError, Replanner
from ..types import STOP, DriveCommand, Pose2, RoverCommand, SensedState
from .facing import FacingPhases
from .navigator import Navigator
from .phases import Backoff, Facing, GoalResult, NavPhase, ProgressWatch

__all__ = ["NavigateToGoal"]

log = logging.getLogger(__name__)


class NavigateToGoal(FacingPhases, Skill):
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
        self._checks_faced = 0
        self._nudges = 0
        self._slope_backouts = 0
        self._closer_tried = False
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
                self._backoff = Backoff((pose.x_m, pose.y_m), now_s, p.backoff_m)
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
