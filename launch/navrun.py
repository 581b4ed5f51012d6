"""Navigate missions: the rover reaches goals by its own sensing, judged on ground truth.

The composition root for ``mission.kind: navigate`` (the ``traverse`` scenario, and
``drive_test`` on navigation). It builds the world with the surveyed beacons, a mast
range scanner and the rover; hands the controller (:class:`~lunarsite.robot.navigation.
Navigator`) only the rover interface, the scans, the beacons' surveyed poses and the goal
list; and records ground truth through the world's evaluation channel for the metrics.

Random goals are drawn here from the true terrain, as a scenario author would pick them:
on cells the rover could cross (the true costmap with the rigid rocks stamped in) and
joined to the previous goal by a path. The controller never sees that costmap.

Run folder: ``metrics.json`` (per goal: reached, time, localization error; for the run:
rock contacts, tip-overs, share of goals reached, median localization error),
``terrain.npy`` + ``terrain.json``, ``trajectory.csv``, ``map.png``, ``video.mp4`` with
``--video``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.executive import ActionStatus, TickInfo
from lunarsite.robot.navigation import NavigationResult, Navigator, NavigatorParams, NavTick
from lunarsite.robot.perception.fiducials import SurveyedMarker
from lunarsite.robot.perception.localization import LocalizationParams, Localizer
from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.planning.costmap import CostmapParams, build_costmap
from lunarsite.robot.planning.planner import Planner, PlanningError
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.types import Pose2, RoverCommand
from lunarsite.sim.beacons import add_beacons
from lunarsite.sim.rangefinder import Rangefinder, RangefinderConfig
from lunarsite.sim.terrain import Terrain
from lunarsite.sim.world import LunarWorld

from .missions import MissionProgress, MissionRun
from .pictures import VideoRecorder
from .report import (
    Metrics,
    path_length_m,
    run_header,
    write_path_map,
    write_terrain_files,
    write_trajectory,
)
from .runner import VIDEO_FPS, VIDEO_SIZE_PX, RunRecord, TickRecorder, build_terrain
from .schema import LoadedScenario, NavigateMission, ScenarioError

__all__ = [
    "NavRecord",
    "draw_goals",
    "nav_costmap_params",
    "rock_stamped_heights",
    "run_navigate",
    "surveyed_markers",
]

log = logging.getLogger(__name__)

START_SIGMA = (0.03, 0.03, 0.02)
"""Uncertainty of the surveyed start pose given to the filter: x, y in m, yaw in rad."""
SETTLE_S = 2.0
"""Time for the rover to settle on its wheels and take its travel pose, in s."""


@dataclass
class NavRecord:
    """A navigate run: the common per-tick record plus each goal's end in truth."""

    run: RunRecord
    goals_xy_m: list[tuple[float, float]]
    result: NavigationResult | None = None
    true_at_goal_end: dict[int, Pose2] = field(default_factory=dict)


def _streams(seed: int) -> tuple[np.random.Generator, ...]:
    """Terrain, rover sensors, goals, scanner: independent streams from one seed.

    The first two are the same as :func:`~lunarsite.launch.runner.seed_streams` gives.
    """
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))


BELLY_STEP_FRACTION = 0.7
"""Steps above this share of the chassis belly's ground clearance are lethal (design
value: the scanner's step estimate errs by a centimetre or two)."""


def nav_costmap_params(rover: RoverConfig) -> CostmapParams:
    """The costmap limits a navigating rover plans with (and random goals are drawn with).

    The rover file's ``max_step_m`` is what the wheels climb; a rock between the wheels
    must also pass under the chassis belly (axle drop + wheel radius - half the chassis
    height above the ground), so the step limit is the lesser of the two, with a margin.
    The lethal radius covers the tools in their travel pose as well as the chassis and
    wheels: a turn in place sweeps the bucket round. The site's edge counts as a hazard:
    the map is the whole site, and beyond it the ground falls away.
    """
    ch = rover.chassis
    belly_m = rover.chassis.axle_drop_m + rover.wheels.radius_m - 0.5 * ch.height_m
    max_step = min(rover.limits.max_step_m, BELLY_STEP_FRACTION * belly_m)
    base = CostmapParams.for_rover(rover)
    half_wid = base.robot_radius_m
    reach = 0.0
    for tool in rover.tools:
        x, y, _ = tool.mount_xyz_m
        reach = max(reach, math.hypot(abs(x) + tool.arm_length_m, abs(y) + 0.5 * tool.width_m))
    return replace(
        base, max_step_m=max_step, robot_radius_m=max(half_wid, reach), edge_is_hazard=True
    )


def rock_stamped_heights(terrain: Terrain) -> np.ndarray:
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
    scenario: LoadedScenario, terrain: Terrain, start: Pose2, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """The mission's goals: the listed ones, or random reachable ones (see module doc)."""
    mission = scenario.config.mission
    assert isinstance(mission, NavigateMission)
    if mission.random_goals is None:
        return [(g.x_m, g.y_m) for g in mission.goals]
    spec = mission.random_goals
    grid = GridSpec(terrain.origin_xy_m, terrain.cell_size_m, terrain.heights_m.shape)
    # The edge band is left out here (``margin_m`` keeps goals off the edge): the same
    # seed draws the same goals as it did before the band.
    params = replace(nav_costmap_params(scenario.rover), edge_is_hazard=False)
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


def surveyed_markers(scenario: LoadedScenario, terrain: Terrain) -> list[SurveyedMarker]:
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


def run_navigate(
    scenario: LoadedScenario,
    *,
    seed: int,
    time_limit_s: float,
    gui: bool = False,
    video_path: Path | None = None,
    progress: MissionProgress | None = None,
) -> NavRecord:
    """Run a navigate scenario in simulation and return what happened."""
    cfg = scenario.config
    mission = cfg.mission
    assert isinstance(mission, NavigateMission)
    terrain_rng, sensor_rng, goal_rng, scan_rng = _streams(seed)
    terrain = build_terrain(scenario, terrain_rng)
    start = Pose2(cfg.rover.start.x_m, cfg.rover.start.y_m, cfg.rover.start.yaw_rad)
    goals = draw_goals(scenario, terrain, start, goal_rng)
    markers = surveyed_markers(scenario, terrain)
    # Fiducials need real camera frames.
    sim_cfg = cfg.sim.model_copy(update={"render_camera": bool(markers)})
    run = RunRecord(scenario=scenario, seed=seed, time_limit_s=time_limit_s, terrain=terrain)
    record = NavRecord(run=run, goals_xy_m=goals)
    rover_cfg = scenario.rover
    wall0 = time.perf_counter()
    with LunarWorld(terrain, sim_cfg, gui=gui) as world:
        if markers:
            add_beacons(world, markers)
        rover = world.add_rover(rover_cfg, start, rng=sensor_rng)
        rover.configure()
        rover.activate()
        rover.write(RoverCommand(tool_targets_rad=mission.tool_pose_rad))
        world.clock.sleep_s(SETTLE_S)
        scanner = Rangefinder(
            world, rover, RangefinderConfig(mission.scanner_mount_xyz_m), rng=scan_rng
        )
        localizer = Localizer(LocalizationParams.for_rover(rover_cfg), start, START_SIGMA)
        params = NavigatorParams.for_rover(
            rover_cfg,
            sim_cfg.control_hz,
            goal_time_limit_s=mission.goal_time_limit_s,
            goal_tolerance_m=mission.goal_tolerance_m,
            costmap=nav_costmap_params(rover_cfg),
        )
        navigator = Navigator(
            rover,
            rover_cfg,
            localizer,
            params,
            ElevationMap(GridSpec(terrain.origin_xy_m, terrain.cell_size_m, terrain.shape)),
            map_source=scanner.scan,
            markers=markers,
            ground_z_m=terrain.height_at(start.x_m, start.y_m),
        )

        def on_progress(sim_s: float, limit_s: float, reached: int, n: int) -> None:
            if progress is not None:
                progress(sim_s, limit_s, f"goal {min(reached + 1, n)}/{n}")

        recorder = TickRecorder(world, rover, run, len(goals), on_progress)
        video = VideoRecorder(video_path, VIDEO_FPS, VIDEO_SIZE_PX) if video_path else None
        recorder.video = video
        t0 = world.clock.now_s()

        class _Progress:  # what the recorder reads of a task (until navigation ticks)
            pose = localizer.pose
            arrivals: ClassVar[list[int]] = []

        recorder.action = _Progress()  # type: ignore[assignment]

        def observe(tick: NavTick) -> None:
            _Progress.pose = tick.estimate
            _Progress.arrivals = list(range(tick.goal_index))
            recorder.observe(TickInfo(0, tick.stamp_s, tick.sensed, RoverCommand(tick.command)))
            record.true_at_goal_end[tick.goal_index] = world.truth.rover_pose(rover).pose2

        def should_cancel() -> str | None:
            if world.clock.now_s() - t0 >= time_limit_s:
                return f"time limit {time_limit_s:g} s reached"
            return recorder.should_cancel()

        try:
            result = navigator.run(goals, observer=observe, should_cancel=should_cancel)
        finally:
            if video is not None:
                run.video_frames = video.frames_written
                video.close()
        record.result = result
        if result.goals:
            last = result.goals[-1].index
            record.true_at_goal_end[last] = world.truth.rover_pose(rover).pose2
        if rover.lifecycle_state.value == "active":
            rover.deactivate()
        final = world.truth.rover_pose(rover)
        run.final_true = final.pose2
        run.final_estimate = localizer.pose
        run.energy_used_wh = world.truth.energy_used_wh(rover)
        run.tipped_over = run.tipped_over or world.truth.tipped_over(rover)
    run.wall_time_s = time.perf_counter() - wall0
    return record


def compute_nav_metrics(record: NavRecord) -> Metrics:
    """Judge a navigate run on ground truth against the scenario's acceptance criteria."""
    run = record.run
    cfg = run.scenario.config
    mission = cfg.mission
    assert isinstance(mission, NavigateMission)
    result = record.result
    assert result is not None, "compute_nav_metrics needs a finished run"
    by_index = {g.index: g for g in result.goals}
    goals: list[dict[str, Any]] = []
    loc_errors: list[float] = []
    for i, (gx, gy) in enumerate(record.goals_xy_m):
        entry: dict[str, Any] = {"index": i, "x_m": gx, "y_m": gy}
        g = by_index.get(i)
        truth = record.true_at_goal_end.get(i)
        if g is None or truth is None:
            entry.update(attempted=False, reached=False)
        else:
            est = g.final_estimate
            loc_err = math.hypot(est.x_m - truth.x_m, est.y_m - truth.y_m)
            true_dist = math.hypot(truth.x_m - gx, truth.y_m - gy)
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
    share = reached / len(goals) if goals else 0.0
    median_loc = float(np.median(loc_errors)) if loc_errors else math.nan
    acc = cfg.acceptance
    checks: dict[str, bool] = {"not_canceled": result.result.status is not ActionStatus.CANCELED}
    if acc.min_goal_share is not None:
        checks["goal_share_ok"] = share >= acc.min_goal_share
    if acc.max_median_localization_error_m is not None:
        checks["localization_ok"] = median_loc <= acc.max_median_localization_error_m
    if acc.max_rock_contacts is not None:
        checks["rock_contacts_ok"] = len(run.rocks_touched) <= acc.max_rock_contacts
    tip_overs = 1 if run.tipped_over else 0
    if acc.max_tip_overs is not None:
        checks["tip_overs_ok"] = tip_overs <= acc.max_tip_overs
    success = all(checks.values())
    sim_time = result.elapsed_s
    true_xy = np.asarray([(x, y) for x, y, _, _ in run.true_xyzyaw], dtype=np.float64)
    driven = path_length_m(true_xy)
    data: dict[str, Any] = {
        **run_header(
            run.scenario, run.seed, success, result.result.status.value, result.result.reason
        ),
        "acceptance": {"criteria": acc.model_dump(exclude_none=True), "checks": checks},
        "oracle": False,
        "sim_time_s": round(sim_time, 3),
        "time_limit_s": run.time_limit_s,
        "wall_time_s": round(run.wall_time_s, 3),
        "real_time_factor": round(sim_time / run.wall_time_s, 2) if run.wall_time_s else None,
        "distance_driven_m": round(driven, 3),
        "goals": goals,
        "goals_reached": reached,
        "goal_share": round(share, 4),
        "median_localization_error_m": None if math.isnan(median_loc) else round(median_loc, 4),
        "rock_contacts": len(run.rocks_touched),
        "tip_overs": tip_overs,
        "energy_used_wh": round(run.energy_used_wh, 5),
        "terrain": {"craters": len(run.terrain.craters), "rigid_rocks": len(run.terrain.rocks)},
        "beacons": len(cfg.site.beacons),
    }
    if run.video_frames:
        data["video_frames"] = run.video_frames
    return Metrics(success=success, data=data)


def navigate_entry(
    scenario: LoadedScenario,
    out_dir: Path,
    *,
    seed: int,
    time_limit_s: float,
    gui: bool,
    video_path: Path | None,
    progress: MissionProgress | None,
) -> MissionRun:
    """The ``navigate`` entry of :data:`~lunarsite.launch.missions.SIM_MISSIONS`."""
    record = run_navigate(
        scenario,
        seed=seed,
        time_limit_s=time_limit_s,
        gui=gui,
        video_path=video_path,
        progress=progress,
    )
    metrics = compute_nav_metrics(record)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics.data, indent=2) + "\n")
    write_terrain_files(out_dir, record.run.terrain)
    write_trajectory(out_dir, record.run)
    mission = scenario.config.mission
    assert isinstance(mission, NavigateMission)
    write_path_map(
        out_dir,
        record.run,
        np.asarray(record.goals_xy_m, dtype=np.float64).reshape(-1, 2),
        success=metrics.success,
        tolerance_m=mission.goal_tolerance_m,
    )
    d = metrics.data
    median = d["median_localization_error_m"]
    return MissionRun(
        metrics,
        (
            f"goals reached {d['goals_reached']}/{len(d['goals'])}, rock contacts "
            f"{d['rock_contacts']}, tip-overs {d['tip_overs']}",
            "median localization error at the goals "
            + (f"{median:.3f} m" if median is not None else "n/a")
            + f", distance {d['distance_driven_m']:.1f} m in {d['sim_time_s']:.1f} s simulated, "
            f"{d['wall_time_s']:.1f} s wall ({d['real_time_factor']}× real time)",
        ),
    )
