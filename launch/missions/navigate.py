"""``navigate``: reach goals in turn by the rover's own sensing, judged on ground truth.

The task is :class:`~lunarsite.robot.tasks.navigate.NavigateGoals`: wheel odometry and
the IMU, a mast range scanner into the rover's own height map, a costmap and planner,
ArUco fixes on surveyed beacons. It gets only the rover interface, the scans, the camera,
the beacons' surveyed poses and the goal list.

Random goals are drawn here from the true terrain, as a scenario author would pick them:
on cells the rover could cross (the true costmap with the rigid rocks stamped in) and
joined to the previous goal by a path. The controller never sees that costmap. Judged
per goal: reached (the true position within ``goal_tolerance_m`` when the rover called
it reached), time, localization error; for the run: the share of goals reached.

Simulation only for now: the lab rover over a serial port has neither a range scanner
nor a camera the host can read.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

from lunarsite.robot.config import Positive, StrictModel
from lunarsite.robot.executive import ActionStatus
from lunarsite.robot.navigation import Navigator, NavigatorParams
from lunarsite.robot.navigation.params import navigation_costmap
from lunarsite.robot.perception.fiducials import SurveyedMarker
from lunarsite.robot.perception.localization import LocalizationParams, Localizer
from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.planning.costmap import build_costmap
from lunarsite.robot.planning.planner import Planner, PlanningError
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.tasks.navigate import MapSnapshot, NavigateGoals
from lunarsite.robot.types import Pose2, RoverCommand

from ..fields import CommonAcceptance, Point2, points_outside
from ..files import Finite, Problem, ScenarioError
from .base import Belief, Judgement, MissionKind, RunRecord, RunSetup, ScenarioView

if TYPE_CHECKING:
    from ..schema import LoadedScenario

__all__ = ["MISSION", "NavigateAcceptance", "NavigateMission", "RandomGoals"]

START_SIGMA = (0.03, 0.03, 0.02)
"""Uncertainty of the surveyed start pose given to the filter: x, y in m, yaw in rad."""
SETTLE_S = 2.0
"""Time for the rover to settle on its wheels and take its travel pose, in s."""


class RandomGoals(StrictModel):
    """Goals drawn from the scenario seed on ground the rover can reach.

    Drawn by the scenario runner from the true terrain (as a scenario author would pick
    them), never shown to the controller except as the goal list.
    """

    count: Annotated[int, Field(ge=1, le=200)]
    min_step_m: Positive = 4.0
    """Least distance from the previous goal (or the start), in m."""
    margin_m: Annotated[float, Field(ge=0.0)] = 1.5
    """Keep goals this far inside the site edge, in m."""


class NavigateMission(StrictModel):
    """Reach goals in turn by the rover's own sensing: map, plan, follow, localize."""

    kind: Literal["navigate"]
    goals: tuple[Point2, ...] = ()
    random_goals: RandomGoals | None = None
    goal_tolerance_m: Positive = 0.3
    """A goal counts as reached when the rover's true position ends this close, in m."""
    goal_time_limit_s: Positive = 150.0
    """Time allowed per goal before the rover gives it up, in s."""
    tool_pose_rad: dict[str, Finite] = Field(default_factory=dict)
    """Servo targets held while driving (a travel pose), by joint name, in rad."""
    scanner_mount_xyz_m: tuple[Finite, Finite, Finite] = (0.0, 0.0, 0.8)
    """Where the range scanner sits in the chassis frame, in m."""


class NavigateAcceptance(CommonAcceptance):
    min_goal_share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """Share of goals truly reached; null to not judge."""
    max_median_localization_error_m: Positive | None = None
    """Median distance between estimate and truth at the goals, in m."""


def rock_stamped_heights(terrain: Any) -> np.ndarray:
    """The heights with each rigid rock as a flat-topped disc (what a scanner would map)."""
    h = np.array(terrain.heights_m, copy=True)
    xs = terrain.origin_xy_m[0] + terrain.cell_size_m * np.arange(h.shape[1])
    ys = terrain.origin_xy_m[1] + terrain.cell_size_m * np.arange(h.shape[0])
    for rock in terrain.rocks:
        r = 0.5 * rock.diameter_m
        i0, i1 = np.searchsorted(xs, [rock.x_m - r, rock.x_m + r])
        j0, j1 = np.searchsorted(ys, [rock.y_m - r, rock.y_m + r])
        xx, yy = np.meshgrid(xs[i0:i1], ys[j0:j1])
        inside = np.hypot(xx - rock.x_m, yy - rock.y_m) <= r
        top = terrain.height_at(rock.x_m, rock.y_m) + rock.height_m - rock.embed_depth_m
        block = h[j0:j1, i0:i1]
        block[inside] = np.maximum(block[inside], top)
    return h


def draw_goals(
    scenario: LoadedScenario, terrain: Any, start: Pose2, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """The mission's goals: the listed ones, or random reachable ones (module doc)."""
    mission: NavigateMission = scenario.mission
    if mission.random_goals is None:
        return [(g.x_m, g.y_m) for g in mission.goals]
    spec = mission.random_goals
    grid = GridSpec(terrain.origin_xy_m, terrain.cell_size_m, terrain.heights_m.shape)
    # The edge band is left out here (``margin_m`` keeps goals off the edge): the same
    # seed draws the same goals as it did before the band.
    params = replace(navigation_costmap(scenario.rover), edge_is_hazard=False)
    costmap = build_costmap(rock_stamped_heights(terrain), grid, params)
    free = np.argwhere(np.isfinite(costmap.cost))
    size_x, size_y = scenario.site_size_m
    planner = Planner()
    goals: list[tuple[float, float]] = []
    here = start
    tries = 0
    while len(goals) < spec.count:
        tries += 1
        if tries > 200 * spec.count:
            raise ScenarioError(
                scenario.path,
                [
                    f"{scenario.path}: mission.random_goals: found only {len(goals)} of "
                    f"{spec.count} reachable goals on this site (seed); lower count or "
                    "min_step_m"
                ],
            )
        j, i = free[rng.integers(len(free))]
        x, y = grid.center_of(int(j), int(i))
        m = spec.margin_m
        if not (m <= x <= size_x - m and m <= y <= size_y - m):
            continue
        if math.hypot(x - here.x_m, y - here.y_m) < spec.min_step_m:
            continue
        try:
            planner.plan(costmap, here, (x, y))
        except PlanningError:
            continue
        goals.append((float(x), float(y)))
        here = Pose2(x, y, 0.0)
    return goals


def surveyed_markers(scenario: LoadedScenario, terrain: Any) -> list[SurveyedMarker]:
    """The scenario's beacons as the survey gives them: marker centres in the site frame."""
    return [
        SurveyedMarker(
            b.marker_id,
            b.x_m,
            b.y_m,
            terrain.height_at(b.x_m, b.y_m) + b.centre_height_m,
            b.facing_yaw_rad,
            b.size_m,
        )
        for b in scenario.config.site.beacons
    ]


class Navigate(MissionKind):
    kind = "navigate"
    schema = NavigateMission
    acceptance = NavigateAcceptance

    def check(self, view: ScenarioView) -> list[Problem]:
        m: NavigateMission = view.mission
        out = points_outside(m.goals, view.site_size_m, "goals")
        if bool(m.goals) == (m.random_goals is not None):
            out.append((("mission",), "give either goals (a list) or random_goals, not both"))
        joints = view.rover.joint_names
        for joint in m.tool_pose_rad:
            if joint not in joints:
                out.append(
                    (
                        ("mission", "tool_pose_rad", joint),
                        f"rover {view.rover.name!r} has no joint {joint!r} "
                        f"(joints: {', '.join(joints) or 'none'})",
                    )
                )
        return out

    def summary(self, mission: Any) -> str:
        if mission.random_goals is not None:
            return f"{mission.random_goals.count} random goals, navigating"
        return f"{len(mission.goals)} goals, navigating"

    def refuse(self, scenario: LoadedScenario, backend: str) -> str | None:
        if backend != "sim":
            return (
                f"scenario {scenario.config.name!r} has a 'navigate' mission: it needs a "
                "range scanner and a camera, which only the simulated rover has today"
            )
        return None

    def sim_options(self, scenario: LoadedScenario) -> dict[str, Any]:
        return {"render_camera": bool(scenario.config.site.beacons)}  # fiducials need frames

    def prepare_world(self, setup: RunSetup, world: Any) -> None:
        from lunarsite.sim.beacons import add_beacons

        assert setup.streams is not None
        terrain = world.terrain
        setup.extra["goals"] = draw_goals(setup.scenario, terrain, setup.start, setup.streams.goals)
        setup.extra["markers"] = surveyed_markers(setup.scenario, terrain)
        if setup.extra["markers"]:
            add_beacons(world, setup.extra["markers"])

    def prepare(self, setup: RunSetup) -> None:
        rover, mission = setup.backend.rover, setup.scenario.mission
        rover.write(RoverCommand(tool_targets_rad=mission.tool_pose_rad))
        setup.backend.clock.sleep_s(SETTLE_S)

    def build(self, setup: RunSetup) -> NavigateGoals:
        from lunarsite.sim.rangefinder import RangefinderConfig

        mission: NavigateMission = setup.scenario.mission
        rover_cfg = setup.scenario.rover
        backend = setup.backend
        assert setup.streams is not None
        terrain = backend.terrain  # type: ignore[attr-defined]
        scanner = backend.range_scanner(
            RangefinderConfig(mission.scanner_mount_xyz_m).with_part(rover_cfg.scanner),
            rng=setup.streams.scanner,
        )
        markers = setup.extra["markers"]
        params = NavigatorParams.for_rover(
            rover_cfg,
            setup.control_hz,
            goal_time_limit_s=mission.goal_time_limit_s,
            goal_tolerance_m=mission.goal_tolerance_m,
            costmap=navigation_costmap(rover_cfg),
        )
        start = setup.start
        navigator = Navigator(
            rover_cfg,
            Localizer(LocalizationParams.for_rover(rover_cfg), start, START_SIGMA),
            params,
            ElevationMap(GridSpec(terrain.origin_xy_m, terrain.cell_size_m, terrain.shape)),
            map_source=scanner,
            camera=backend.camera() if markers else None,
            markers=markers,
            ground_z_m=terrain.height_at(start.x_m, start.y_m),
        )
        return NavigateGoals(navigator, setup.extra["goals"])

    def channels(self, task: Any, truth: Any) -> dict[str, float]:
        return {"goals_done": float(len(task.goal_results))}

    def belief(self, task: Any) -> Belief:
        """The rover's own height map, the costmap it last planned on and the path of the
        goal it is driving to."""
        nav = task.nav
        path = task.current.path if task.current is not None else None
        return Belief(
            elevation=nav.elevation,
            costmap=nav.last_costmap,
            path_xy_m=path.points_xy_m if path is not None else None,
        )

    def judge(self, run: RunRecord) -> Judgement:
        mission: NavigateMission = run.setup.scenario.mission
        acc: NavigateAcceptance = run.setup.scenario.acceptance
        task = run.task
        assert isinstance(task, NavigateGoals)
        by_index = {g.index: g for g in task.goal_results}
        done = np.asarray(run.channels.get("goals_done", []))
        true_xy = run.true_xy()
        goals: list[dict[str, Any]] = []
        loc_errors: list[float] = []
        for i, (gx, gy) in enumerate(task.goals):
            entry: dict[str, Any] = {"index": i, "x_m": gx, "y_m": gy}
            g = by_index.get(i)
            if g is None or not len(true_xy):
                entry.update(attempted=False, reached=False)
            else:
                # The tick the goal ended on (the last one, for a goal canceled).
                tx, ty = true_xy[min(int(np.searchsorted(done, i + 1)), len(true_xy) - 1)]
                est = g.final_estimate
                loc_err = math.hypot(est.x_m - tx, est.y_m - ty)
                true_dist = math.hypot(tx - gx, ty - gy)
                loc_errors.append(loc_err)
                entry.update(
                    attempted=True,
                    status=g.result.status.value,
                    reason=g.result.reason,
                    reached=bool(g.result.succeeded and true_dist <= mission.goal_tolerance_m),
                    time_s=round(g.elapsed_s, 3),
                    true_distance_to_goal_m=round(true_dist, 4),
                    localization_error_m=round(loc_err, 4),
                    estimate_std_m=[round(v, 4) for v in g.estimate_std[:2]],
                    distance_driven_m=round(g.distance_m, 3),
                    fiducial_fixes=g.fixes,
                    plans=g.plans,
                )
            goals.append(entry)
        reached = sum(1 for e in goals if e["reached"])
        # Called reached by the rover's own estimate, while the truth was outside the
        # tolerance: the estimate sure of an error it had not got.
        false_arrivals = sum(
            1 for e in goals if e["attempted"] and e["status"] == "succeeded" and not e["reached"]
        )
        share = reached / len(goals) if goals else 0.0
        median_loc = float(np.median(loc_errors)) if loc_errors else math.nan
        result = run.result
        checks = {"not_canceled": result is not None and result.status is not ActionStatus.CANCELED}
        if acc.min_goal_share is not None:
            checks["goal_share_ok"] = share >= acc.min_goal_share
        if acc.max_median_localization_error_m is not None:
            checks["localization_ok"] = median_loc <= acc.max_median_localization_error_m
        terrain = run.setup.backend.terrain  # type: ignore[attr-defined]
        data = {
            "goals": goals,
            "goals_reached": reached,
            "goal_share": round(share, 4),
            "goals_called_reached_falsely": false_arrivals,
            "median_localization_error_m": None if math.isnan(median_loc) else round(median_loc, 4),
            "terrain": {"craters": len(terrain.craters), "rigid_rocks": len(terrain.rocks)},
            "beacons": len(run.setup.scenario.config.site.beacons),
        }
        lines = (
            f"goals reached {reached}/{len(goals)}, rock contacts {len(run.rocks_touched)}, "
            f"tip-overs {int(run.tipped_over)}",
            "median localization error at the goals "
            + (f"{median_loc:.3f} m" if loc_errors else "n/a"),
        )
        return Judgement(
            checks,
            data,
            lines,
            points_xy_m=np.asarray(task.goals, dtype=np.float64).reshape(-1, 2),
            tolerance_m=mission.goal_tolerance_m,
        )

    def write_files(self, run: RunRecord, out_dir: Path, judgement: Judgement) -> None:
        """``belief_end.png`` and a ``belief_goal_NN.png`` per goal that failed: the rover's
        map and costmap beside the true ground (:mod:`lunarsite.launch.belief_pictures`)."""
        from ..belief_pictures import TrueGround, write_belief_picture

        task = run.task
        assert isinstance(task, NavigateGoals)
        mission: NavigateMission = run.setup.scenario.mission
        terrain = getattr(run.setup.backend, "terrain", None)
        truth = run.setup.backend.truth
        ground = None
        if terrain is not None and truth is not None:
            cell, origin = truth.terrain_cell_size_m, truth.terrain_origin_xy_m
            ground = TrueGround(rock_stamped_heights(terrain), cell, origin)
        true_xy, done = run.true_xy(), np.asarray(run.channels.get("goals_done", []))

        def draw(name: str, belief: MapSnapshot, tick: int, what: str) -> None:
            tick = min(tick, len(run.t_s) - 1)
            here = (float(true_xy[tick, 0]), float(true_xy[tick, 1])) if len(true_xy) else None
            goal = belief.goal_index
            write_belief_picture(
                out_dir / name,
                belief,
                truth=ground,
                true_xy_m=here,
                goal_xy_m=None if goal is None else task.goals[goal],
                tolerance_m=mission.goal_tolerance_m,
                title=f"t = {run.t_s[tick]:.0f} s: {what}" if run.t_s else what,
            )

        for snap in task.failure_maps:
            index = snap.goal_index
            assert index is not None
            tick = int(np.searchsorted(done, index + 1))
            draw(f"belief_goal_{index:02d}.png", snap, tick, f"goal {index} {snap.reason}")
        end = task.snapshot("the end of the run")
        draw("belief_end.png", end, len(run.t_s) - 1, end.reason)


MISSION = Navigate()
