"""``waypoints``: drive through waypoints on dead reckoning (wheel odometry and the gyro).

Runs in simulation (judged on ground truth: where the rover really was when its own
estimate said it reached each waypoint, and where it ended) and on a serial rover
(judged on its own estimate, the only account a rover on a bench has).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from lunarsite.robot.config import Positive, StrictModel
from lunarsite.robot.control.waypoints import FollowerParams
from lunarsite.robot.perception.estimation import DeadReckoning
from lunarsite.robot.tasks.waypoints import DriveToWaypoints

from ..fields import CommonAcceptance, Point2, points_outside, speed_problem
from ..files import Problem
from .base import Judgement, MissionKind, RunRecord, RunSetup, ScenarioView

__all__ = ["MISSION", "WaypointAcceptance", "WaypointMission"]


class WaypointMission(StrictModel):
    kind: Literal["waypoints"]
    waypoints: Annotated[tuple[Point2, ...], Field(min_length=1)]
    cruise_speed_mps: Positive | None = None
    """Defaults to the rover's max_speed_mps."""
    arrival_tolerance_m: Positive = 0.25
    """Distance at which the controller counts a waypoint reached (by its own estimate)."""


class WaypointAcceptance(CommonAcceptance):
    max_waypoint_error_m: Positive
    """True distance to each waypoint when the controller declared it reached (on a
    serial rover: its own estimate's distance)."""
    max_final_error_m: Positive
    """Distance from the final position to the last waypoint."""


class Waypoints(MissionKind):
    kind = "waypoints"
    schema = WaypointMission
    acceptance = WaypointAcceptance

    def check(self, view: ScenarioView) -> list[Problem]:
        m: WaypointMission = view.mission
        return points_outside(m.waypoints, view.site_size_m, "waypoints") + speed_problem(
            m.cruise_speed_mps, view.rover, "cruise_speed_mps"
        )

    def summary(self, mission: Any) -> str:
        return f"{len(mission.waypoints)} waypoints on dead reckoning"

    def build(self, setup: RunSetup) -> DriveToWaypoints:
        m: WaypointMission = setup.scenario.mission
        rover = setup.scenario.rover
        params = FollowerParams.for_rover(
            rover,
            cruise_speed_mps=m.cruise_speed_mps or rover.drive.max_speed_mps,
            arrival_tolerance_m=m.arrival_tolerance_m,
        )
        return DriveToWaypoints(
            params,
            DeadReckoning(rover, setup.start),
            [(w.x_m, w.y_m) for w in m.waypoints],
            control_hz=setup.control_hz,
        )

    def channels(self, task: Any, truth: Any) -> dict[str, float]:
        return {"waypoints_reached": float(len(task.arrivals))}

    def judge(self, run: RunRecord) -> Judgement:
        m: WaypointMission = run.setup.scenario.mission
        acc: WaypointAcceptance = run.setup.scenario.acceptance
        task = run.task
        assert isinstance(task, DriveToWaypoints)
        truth = run.has_truth
        where = run.true_xy() if truth else run.est_xy()
        reached_col = np.asarray(run.channels.get("waypoints_reached", []))
        arrivals = {a.index: a for a in task.arrivals}
        waypoints: list[dict[str, Any]] = []
        for i, wp in enumerate(m.waypoints):
            entry: dict[str, Any] = {"index": i, "x_m": wp.x_m, "y_m": wp.y_m}
            arrival = arrivals.get(i)
            if arrival is None or not len(where):
                entry.update(declared=False, reached=False)
            else:
                # The first tick whose record counts this waypoint as reached.
                row = min(int(np.searchsorted(reached_col, i + 1)), len(where) - 1)
                x, y = where[row]
                err = math.hypot(x - wp.x_m, y - wp.y_m)
                entry.update(
                    declared=True,
                    declared_at_s=round(run.t_s[row], 3),
                    true_error_m=round(err, 4) if truth else None,
                    estimate_error_m=round(
                        math.hypot(arrival.estimate.x_m - wp.x_m, arrival.estimate.y_m - wp.y_m), 4
                    ),
                    reached=bool(err <= acc.max_waypoint_error_m),
                )
                if truth:
                    entry["localization_error_m"] = round(
                        math.hypot(arrival.estimate.x_m - x, arrival.estimate.y_m - y), 4
                    )
            waypoints.append(entry)
        last = m.waypoints[-1]
        end = where[-1] if len(where) else (math.nan, math.nan)
        final_goal = math.hypot(end[0] - last.x_m, end[1] - last.y_m)
        succeeded = run.result is not None and run.result.succeeded
        checks = {
            "mission_succeeded": succeeded,
            "all_waypoints_reached": all(w["reached"] for w in waypoints),
            "final_goal_distance_ok": final_goal <= acc.max_final_error_m,
        }
        if truth:
            checks["not_tipped_over"] = not run.tipped_over
        reached = sum(1 for w in waypoints if w["reached"])
        data = {
            "waypoints": waypoints,
            "waypoints_reached": reached,
            "final_goal_distance_m": round(final_goal, 4),
            "turn_stalls": task.turn_stalls,
        }
        lines = (
            f"waypoints reached {reached}/{len(waypoints)}"
            + ("" if truth else " (by the rover's own estimate)"),
            f"{final_goal:.3f} m from the last waypoint at the end",
        )
        return Judgement(
            checks,
            data,
            lines,
            points_xy_m=np.asarray([(w.x_m, w.y_m) for w in m.waypoints]),
            tolerance_m=acc.max_waypoint_error_m,
        )


MISSION = Waypoints()
