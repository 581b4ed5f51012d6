"""The navigation loop on the mock rover, with a synthetic scanner over known ground."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest

from lunarsite.robot.config import CameraConfig, RoverConfig
from lunarsite.robot.executive import ActionResult, ActionStatus, Agent, ControlLoop, Running
from lunarsite.robot.hardware.mock import ManualClock, MockRover
from lunarsite.robot.navigation import Navigator, NavigatorParams
from lunarsite.robot.perception.fiducials import SurveyedMarker
from lunarsite.robot.perception.localization import LandmarkFix, LocalizationParams, Localizer
from lunarsite.robot.perception.mapping import ElevationMap
from lunarsite.robot.perception.points import RangeScan
from lunarsite.robot.planning.costmap import CostmapParams
from lunarsite.robot.site.grid import GridSpec
from lunarsite.robot.site.zones import KeepOutCircle
from lunarsite.robot.tasks.navigate import NavigateGoals, NavigationResult
from lunarsite.robot.types import Pose2, SensedState


@dataclasses.dataclass(frozen=True)
class NavTick:
    """What a test sees of each tick: the navigation events and the goal being driven to."""

    events: tuple[str, ...]
    goal_index: int


def _run(
    rover: MockRover,
    nav: Navigator,
    goals: list[tuple[float, float]],
    observer: Callable[[NavTick], None] | None = None,
) -> NavigationResult:
    """Visit ``goals`` with ``nav`` in the one control loop; returns how each ended."""
    task = NavigateGoals(nav, goals)

    def on_tick(_: object) -> None:
        if observer is not None:
            observer(NavTick(task.events, task.goal_index))

    result = ControlLoop([Agent(rover, task)], rate_hz=nav.params.control_hz, on_tick=on_tick).run()
    outcome = task.outcome
    assert outcome.result == result.results[0] or not task.started
    return NavigationResult(result.results[0], outcome.goals)


BLOCKS = ((3.0, 1.0, 3.6, 3.2),)  # x0, y0, x1, y1 of a 0.3 m high wall, gap to the north
MOUNT = (0.0, 0.0, 0.5)


def _ground(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = np.zeros_like(x)
    for x0, y0, x1, y1 in BLOCKS:
        z = np.where((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1), 0.3, z)
    return z


def _scanner(rover: MockRover, ride_m: float):  # type: ignore[no-untyped-def]
    """Rays over ±60° and -45..-3° marched against the true ground (level rover)."""
    az, el = np.meshgrid(np.radians(np.linspace(-60, 60, 61)), np.radians(np.linspace(-45, -3, 20)))
    dirs = np.column_stack(
        [(np.cos(el) * np.cos(az)).ravel(), (np.cos(el) * np.sin(az)).ravel(), np.sin(el).ravel()]
    )
    steps = np.arange(0.02, 5.0, 0.02)

    def scan() -> RangeScan:
        p = rover.true_pose
        c, s = math.cos(p.yaw_rad), math.sin(p.yaw_rad)
        wx = c * dirs[:, 0] - s * dirs[:, 1]
        wy = s * dirs[:, 0] + c * dirs[:, 1]
        ox, oy, oz = p.x_m + c * MOUNT[0], p.y_m + s * MOUNT[0], ride_m + MOUNT[2]
        px = ox + wx[:, None] * steps
        py = oy + wy[:, None] * steps
        pz = oz + dirs[:, 2, None] * steps
        below = pz <= _ground(px, py)
        first = np.where(below.any(axis=1), below.argmax(axis=1), -1)
        ranges = np.where(first >= 0, steps[first], np.inf)
        return RangeScan(0.0, MOUNT, dirs, ranges, 5.0, 0.005)

    return scan


def test_navigator_finds_its_way_round_an_unseen_wall(rover_config: RoverConfig) -> None:
    clock = ManualClock()
    start = Pose2(1.0, 2.0, 0.0)
    rover = MockRover(rover_config, clock, start)
    rover.configure()
    rover.activate()
    ride = rover_config.chassis.axle_drop_m + rover_config.wheels.radius_m
    # The mock's accelerometer reads gravity alone even as its speed changes: tilt from
    # the gyro only (it stays level).
    loc = Localizer(LocalizationParams.for_rover(rover_config, accel_gate_fraction=0.0), start)
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (61, 81)))
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_time_limit_s=120.0)
    nav = Navigator(rover_config, loc, params, emap, map_source=_scanner(rover, ride))
    trail: list[Pose2] = []
    ticks: list[NavTick] = []

    def watch(t: NavTick) -> None:
        trail.append(rover.true_pose)
        ticks.append(t)

    result = _run(rover, nav, [(6.0, 2.0), (1.5, 1.5)], watch)
    assert result.result.status is ActionStatus.SUCCEEDED, result
    assert [g.result.status for g in result.goals] == [ActionStatus.SUCCEEDED] * 2
    xy = np.array([(p.x_m, p.y_m) for p in trail])
    assert np.all(_ground(xy[:, 0], xy[:, 1]) == 0.0)  # never drove onto the wall
    # The wall is 0.3 m high (step limit 5 cm): the centre keeps a footprint radius away.
    x0, y0, x1, y1 = BLOCKS[0]
    dx = np.maximum(np.maximum(x0 - xy[:, 0], xy[:, 0] - x1), 0.0)
    dy = np.maximum(np.maximum(y0 - xy[:, 1], xy[:, 1] - y1), 0.0)
    assert np.min(np.hypot(dx, dy)) > 0.25
    assert max(g.plans for g in result.goals) >= 2  # replanned as the wall came into view
    end = rover.true_pose
    assert math.hypot(end.x_m - 1.5, end.y_m - 1.5) < 0.25
    assert any("map" in t.events for t in ticks)


def _on_known_ground(rover_config: RoverConfig, start: Pose2) -> tuple[MockRover, ElevationMap]:
    """An active mock rover at ``start`` and an 8 × 8 m map known level (to 1 cm)."""
    rover = MockRover(rover_config, ManualClock(), start)
    rover.configure()
    rover.activate()
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (81, 81)))
    emap.set_known(np.zeros((81, 81)), 0.01)
    return rover, emap


def _rolled(roll_rad: float) -> np.ndarray:
    """The mock accelerometer's bias that makes it read the body rolled by ``roll_rad``."""
    g = 1.62
    return np.array([0.0, g * math.sin(roll_rad), g * (math.cos(roll_rad) - 1.0)])


def _first_moves(
    rover_config: RoverConfig, roll_rad: float
) -> tuple[list[Pose2], NavigationResult]:
    """The mock rover at (4, 3) facing +x, sent to (4, 5), its accelerometer reading the
    body rolled by ``roll_rad``; its true poses and result. Its map has the ground rising
    to the north at 0.12 rad from x = 4 m on, level west of x = 3 m."""
    start = Pose2(4.0, 3.0, 0.0)
    rover, emap = _on_known_ground(rover_config, start)
    rover._accel_bias = _rolled(roll_rad)
    xs, ys = np.meshgrid(emap.grid.x_coords_m, emap.grid.y_coords_m)
    emap.set_known(0.12 * (ys - 3.0) * np.clip(xs - 3.0, 0.0, 1.0), 0.01)
    loc = Localizer(LocalizationParams.for_rover(rover_config), start)
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_time_limit_s=60.0)
    trail: list[Pose2] = []
    result = _run(
        rover,
        Navigator(rover_config, loc, params, emap),
        [(4.0, 5.0)],
        lambda _: trail.append(rover.true_pose),
    )
    return trail, result


def test_on_a_slope_a_turn_in_place_waits_till_the_rover_backed_out(
    rover_config: RoverConfig,
) -> None:
    level, level_result = _first_moves(rover_config, 0.0)
    assert level_result.result.status is ActionStatus.SUCCEEDED
    # Level: it turns where it stands.
    turned = next(p for p in level if abs(p.yaw_rad) > 0.3)
    assert turned.distance_to(4.0, 3.0) < 0.1
    tilted, tilted_result = _first_moves(rover_config, 0.12)
    assert tilted_result.result.status is ActionStatus.SUCCEEDED
    # Rolled 7°, it first backs straight out 1 m onto the level ground and turns there.
    turned = next(p for p in tilted if abs(p.yaw_rad) > 0.3)
    assert 0.9 < 4.0 - turned.x_m < 1.3
    assert abs(turned.y_m - 3.0) < 0.1


def test_a_facing_turn_that_meets_a_slope_is_given_up(rover_config: RoverConfig) -> None:
    start = Pose2(4.0, 3.0, 0.0)
    rover, emap = _on_known_ground(rover_config, start)
    loc = Localizer(LocalizationParams.for_rover(rover_config), start, (0.3, 0.3, 0.02))
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_time_limit_s=20.0)
    # Unsure of itself (0.3 m), the rover turns to the one marker, 1.8 rad to its left.
    marker = SurveyedMarker(1, 4.0 + 3.0 * math.cos(1.8), 3.0 + 3.0 * math.sin(1.8), 0.3, -1.3, 0.2)
    nav = Navigator(rover_config, loc, params, emap, markers=[marker])
    seen: list[tuple[str, ...]] = []
    yaws: list[float] = []

    def watch(t: NavTick) -> None:
        seen.append(t.events)
        yaws.append(rover.true_pose.yaw_rad)
        if any("facing marker" in e for e in t.events):  # the turn begins: onto a slope
            rover._gyro_bias = np.array([0.1, 0.0, 0.0])  # the body rolls at 0.1 rad/s
            rolling.append(len(seen))
        if rolling and len(seen) == rolling[0] + 24:  # for 1.2 s: 0.12 rad, then stays
            rover._gyro_bias = np.zeros(3)
            rover._accel_bias = _rolled(0.12)

    rolling: list[int] = []
    _run(rover, nav, [(7.0, 3.0)], watch)
    started = next(k for k, ev in enumerate(seen) if any("facing marker" in e for e in ev))
    gave_up = next(k for k, ev in enumerate(seen) if "facing given up: on a slope" in ev)
    assert started < gave_up
    assert max(yaws[started : gave_up + 1]) < 1.0  # stopped well short of the marker


def test_a_goal_too_unsure_to_confirm_from_where_the_path_ended_is_nudged_closer(
    rover_config: RoverConfig,
) -> None:
    start = Pose2(2.0, 3.0, 0.0)
    rover, emap = _on_known_ground(rover_config, start)
    # No marker to check on and a 0.1 m std: from 0.1 m or more (the follower is told
    # to stop within 0.4 m here) the goal is not 0.3 m away by two stds; from 5 cm it is.
    loc = Localizer(
        LocalizationParams.for_rover(
            rover_config, distance_noise_frac=0.01, lateral_noise_frac=0.01, scale_std=0.001
        ),
        start,
        (0.1, 0.1, 0.001),
    )
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_tolerance_m=0.3)
    params = dataclasses.replace(
        params, follow=dataclasses.replace(params.follow, arrival_tolerance_m=0.4)
    )
    ticks: list[NavTick] = []
    result = _run(rover, Navigator(rover_config, loc, params, emap), [(4.0, 3.0)], ticks.append)
    (goal,) = result.goals
    assert goal.result.status is ActionStatus.SUCCEEDED, goal.result
    assert any(e.startswith("nudge:") and "closer to confirm" in e for t in ticks for e in t.events)
    assert rover.true_pose.distance_to(4.0, 3.0) < 0.08


def test_navigator_reports_an_unreachable_goal(rover_config: RoverConfig) -> None:
    clock = ManualClock()
    rover = MockRover(rover_config, clock, Pose2(1.0, 1.0, 0.0))
    rover.configure()
    rover.activate()
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (31, 31)))
    heights = np.zeros((31, 31))
    heights[:, 20] = 1.0  # a cliff wall across the whole map
    emap.set_known(heights, 0.01)
    loc = Localizer(LocalizationParams.for_rover(rover_config), Pose2(1.0, 1.0, 0.0))
    # No scanner here to map the wall again: forgetting the map would open it.
    params = NavigatorParams.for_rover(
        rover_config, 20.0, plan_fail_limit_s=1.0, forget_radius_m=0.0
    )
    result = _run(rover, Navigator(rover_config, loc, params, emap), [(2.8, 1.0)])
    (goal,) = result.goals
    assert goal.result.status is ActionStatus.PLANNING_FAILED
    assert "walled off" in goal.result.reason
    assert result.reached == 0


def test_navigator_needs_an_active_rover(rover_config: RoverConfig) -> None:
    loc = Localizer(LocalizationParams.for_rover(rover_config), Pose2(0.0, 0.0, 0.0))
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (11, 11)))
    nav = Navigator(rover_config, loc, NavigatorParams.for_rover(rover_config, 20.0), emap)
    rover = MockRover(rover_config, ManualClock())  # never configured
    assert _run(rover, nav, [(0.5, 0.5)]).result.status is ActionStatus.PRECONDITION_FAILED


def test_marker_to_face_is_the_nearest_one_seen_from_the_front(rover_config: RoverConfig) -> None:
    loc = Localizer(LocalizationParams.for_rover(rover_config), Pose2(0.0, 0.0, 0.0))
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (11, 11)))
    markers = [
        SurveyedMarker(1, 2.0, 0.0, 0.3, 0.0, 0.2),  # nearest, but faces away (+x)
        SurveyedMarker(2, 3.0, 0.0, 0.3, math.pi, 0.2),  # faces the rover
        SurveyedMarker(3, 0.0, 4.0, 0.3, -math.pi / 2, 0.2),  # faces the rover, farther
        SurveyedMarker(4, 0.0, -9.0, 0.3, math.pi / 2, 0.2),  # beyond max range
    ]
    nav = Navigator(
        rover_config,
        loc,
        NavigatorParams.for_rover(rover_config, 20.0),
        emap,
        markers=markers,
    )
    chosen = nav.marker_to_face(Pose2(0.0, 0.0, 0.0))
    assert chosen is not None and chosen.marker_id == 2
    assert nav.marker_to_face(Pose2(0.0, -20.0, 0.0)) is None


def _nav_with_markers(rover_config: RoverConfig, markers: list[SurveyedMarker]) -> Navigator:
    loc = Localizer(LocalizationParams.for_rover(rover_config), Pose2(0.0, 0.0, 0.0))
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (101, 101)))
    params = NavigatorParams.for_rover(rover_config, 20.0)
    return Navigator(rover_config, loc, params, emap, markers=markers)


def test_marker_to_face_weighs_the_turn_and_can_cross_bearings(rover_config: RoverConfig) -> None:
    here = Pose2(5.0, 5.0, 0.0)
    markers = [
        SurveyedMarker(1, 2.0, 5.0, 0.3, 0.0, 0.2),  # 3 m behind, facing the rover
        SurveyedMarker(2, 10.0, 5.0, 0.3, math.pi, 0.2),  # 5 m ahead, facing the rover
        SurveyedMarker(3, 5.0, 9.0, 0.3, -math.pi / 2, 0.2),  # 4 m to the left
    ]
    nav = _nav_with_markers(rover_config, markers)
    # Turning round for the nearer marker behind costs more than the range lost ahead.
    first = nav.marker_to_face(here)
    assert first is not None and first.marker_id == 2
    # Behind the rover, only marker 1 faces it: beyond a 1.6 rad turn it is not chosen.
    back = Pose2(5.0, 5.0, math.pi)
    facing_back = nav.marker_to_face(back)
    assert facing_back is not None and facing_back.marker_id == 1
    limited = nav.marker_to_face(here, 1.6)
    assert limited is not None and limited.marker_id == 2
    only_behind = _nav_with_markers(rover_config, [markers[0]])
    assert only_behind.marker_to_face(here, 1.6) is None
    assert only_behind.marker_to_face(here) is not None
    # The second marker of an arrival check (when asked for) lies well round from the first.
    nav.params = dataclasses.replace(nav.params, confirm_separation_rad=0.6)
    second = nav.marker_to_face(here, apart_from=first)
    assert second is not None and second.marker_id == 3
    assert nav.marker_to_face(here, apart_from=markers[2]).marker_id == 2  # type: ignore[union-attr]


def test_after_a_fix_the_next_marker_crosses_its_line_of_sight(rover_config: RoverConfig) -> None:
    here = Pose2(5.0, 5.0, 0.0)
    markers = [
        SurveyedMarker(2, 10.0, 5.0, 0.3, math.pi, 0.2),  # 5 m ahead
        SurveyedMarker(5, 11.0, 5.6, 0.3, math.pi, 0.2),  # 6 m ahead, nearly in line
        SurveyedMarker(3, 5.0, 9.0, 0.3, -math.pi / 2, 0.2),  # 4 m to the left
    ]
    # A stereo camera whose depth is too poor to range a 0.2 m marker beyond 2 m
    # (σz = z²·0.2 px / (400 px · 0.05 m) is 4 cm at 2 m): the corners range it.
    camera = CameraConfig(
        width_px=320,
        height_px=240,
        vertical_fov_rad=0.8,
        rate_hz=5.0,
        mount_xyz_m=(0.2, 0.0, 0.5),
        stereo={
            "part": "test",
            "baseline_m": 0.05,
            "focal_px": 400.0,
            "disparity_std_px": 0.2,
            "min_range_m": 0.3,
            "max_range_m": 10.0,
        },
    )
    config = rover_config.model_copy(update={"camera": camera})
    loc = Localizer(LocalizationParams.for_rover(config), here, (0.2, 0.2, 1e-4))
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (101, 101)))
    nav = Navigator(config, loc, NavigatorParams.for_rover(config, 20.0), emap, markers=markers)
    # The fix ahead pins the bearing (y) to centimetres, the range (x) far less well.
    var_r, var_t = 0.075**2, 0.02**2
    assert loc.update_landmark(LandmarkFix((10.0, 5.0), (5.0, 0.0), ((var_r, 0), (0, var_t)), 0))
    std_x, std_y = loc.pose_std[:2]
    assert std_x > 3.0 * std_y
    # Another marker ahead would pin x no better than its range does; the one to the
    # left pins x by its bearing, so it is worth the quarter turn.
    second = nav.marker_to_face(here)
    assert second is not None and second.marker_id == 3
    # Facing no other way, the rover takes what it has ahead.
    assert nav.marker_to_face(here, 0.5) is not None
    assert nav.marker_to_face(here, 0.5).marker_id in (2, 5)  # type: ignore[union-attr]


def test_on_a_slope_the_rover_turns_for_no_marker_out_of_view(rover_config: RoverConfig) -> None:
    here = Pose2(5.0, 5.0, 0.0)
    markers = [
        SurveyedMarker(2, 14.0, 5.2, 0.3, math.pi, 0.2),  # 9 m ahead
        SurveyedMarker(3, 5.0, 6.5, 0.3, -math.pi / 2, 0.2),  # 1.5 m to the left
    ]
    nav = _nav_with_markers(rover_config, markers)
    nav.localizer = Localizer(LocalizationParams.for_rover(rover_config), here, (0.1, 0.1, 0.005))
    level = nav.marker_to_face(here)
    assert level is not None and level.marker_id == 3  # the nearer, worth a quarter turn
    still = SensedState(0.0, 0, 0, (0.0, 0.0, 0.0), (0.0, 0.0, 1.62), {}, 12.0)
    roll = 0.12  # on a crater's side, about 7°
    side = (0.0, 1.62 * math.sin(roll), 1.62 * math.cos(roll))
    for k in range(40):
        nav.localizer.predict(dataclasses.replace(still, stamp_s=0.05 * k, accel_mps2=side))
    assert nav.localizer.tilt_rad[0] == pytest.approx(roll, abs=0.01)
    tilted = nav.marker_to_face(here)
    assert tilted is not None and tilted.marker_id == 2  # no turn off the camera's view
    only_left = _nav_with_markers(rover_config, [markers[1]])
    only_left.localizer = nav.localizer
    assert only_left.marker_to_face(here) is None


def test_an_estimate_off_the_map_plans_from_its_edge(rover_config: RoverConfig) -> None:
    nav = _nav_with_markers(rover_config, [])
    inside = Pose2(3.0, 4.0, 0.2)
    assert nav.on_map(inside) is inside
    clamped = nav.on_map(Pose2(-1.2, 12.5, 0.2))
    assert (clamped.x_m, clamped.y_m, clamped.yaw_rad) == (0.5, 9.5, 0.2)
    assert nav.elevation.grid.contains(clamped.x_m, clamped.y_m)


def test_navigator_plans_on_when_its_estimate_is_off_the_map(rover_config: RoverConfig) -> None:
    clock = ManualClock()
    rover = MockRover(rover_config, clock, Pose2(0.6, 1.5, 0.0))
    rover.configure()
    rover.activate()
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (31, 51)))
    emap.set_known(np.zeros((31, 51)), 0.01)
    # The estimate has drifted 0.9 m west, off the map's edge.
    loc = Localizer(LocalizationParams.for_rover(rover_config), Pose2(-0.3, 1.5, 0.0))
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_time_limit_s=60.0)
    ticks: list[NavTick] = []
    result = _run(rover, Navigator(rover_config, loc, params, emap), [(3.0, 1.5)], ticks.append)
    (goal,) = result.goals
    assert goal.result.status is ActionStatus.SUCCEEDED, goal
    assert goal.plans >= 1
    assert any("off the map" in e for t in ticks for e in t.events)
    assert math.hypot(loc.pose.x_m - 3.0, loc.pose.y_m - 1.5) < 0.3


def test_ground_where_the_rover_got_stuck_is_kept_out_of(rover_config: RoverConfig) -> None:
    nav = _nav_with_markers(rover_config, [])
    nav.elevation.set_known(np.zeros(nav.elevation.grid.shape), 0.01)
    grid = nav.elevation.grid
    pose = Pose2(5.0, 5.0, math.pi / 2)  # heading +y
    ahead = 0.5 * rover_config.chassis.length_m + nav.params.blocked_radius_m
    assert np.isfinite(nav.costmap.cost[grid.cell_of(5.0, 5.0 + ahead)])
    nav.mark_blocked(pose, 1.0)
    (zone,) = nav.blocked
    assert (zone.x_m, zone.y_m) == pytest.approx((5.0, 5.0 + ahead))
    cost = nav.costmap.cost  # rebuilt: the map did not change, the keep-out list did
    assert not np.isfinite(cost[grid.cell_of(5.0, 5.0 + ahead)])
    assert np.isfinite(cost[grid.cell_of(5.0, 5.0 - 2.0)])  # behind stays free
    nav.mark_blocked(pose, -1.0)  # reversing into it: the zone lies behind
    assert nav.blocked[1].y_m == pytest.approx(5.0 - ahead)


def test_no_back_off_over_the_map_edge(rover_config: RoverConfig) -> None:
    nav = _nav_with_markers(rover_config, [])  # a 10 m × 10 m map
    nav.elevation.set_known(np.zeros(nav.elevation.grid.shape), 0.01)
    assert nav.clear_behind(Pose2(5.0, 5.0, math.pi), 1.0)
    assert not nav.clear_behind(Pose2(9.7, 5.0, math.pi), 1.0)  # the edge is behind
    assert nav.clear_behind(Pose2(9.7, 5.0, 0.0), 1.0)  # facing the edge: backs inward
    assert not nav.clear_behind(Pose2(9.7, 5.0, 0.0), -1.0)  # reversing: backs outward


def test_nudge_to_a_near_goal_takes_the_smaller_turn(rover_config: RoverConfig) -> None:
    nav = _nav_with_markers(rover_config, [])  # a 10 m × 10 m map
    nav.elevation.set_known(np.zeros(nav.elevation.grid.shape), 0.01)
    ahead = nav.nudge_path(Pose2(5.0, 5.0, 0.0), (5.4, 5.1))
    assert ahead is not None and ahead.reverse == (False,)
    assert ahead.goal_xy_m == pytest.approx((5.4, 5.1))
    behind = nav.nudge_path(Pose2(5.0, 5.0, 0.0), (4.6, 4.9))
    assert behind is not None and behind.reverse == (True,)  # backs rather than turn round
    assert nav.nudge_path(Pose2(5.0, 5.0, 0.0), (7.0, 5.0)) is None  # too far: plan
    nav.blocked.append(KeepOutCircle(5.2, 5.0, 0.05))  # something on the line
    assert nav.nudge_path(Pose2(5.0, 5.0, 0.0), (5.4, 5.0)) is None


def test_nudge_into_the_inflation_of_a_rock_the_body_clears(rover_config: RoverConfig) -> None:
    # A goal beside a rock: lethal to turn round on (the bucket would swing into it),
    # but a straight drive there keeps the whole body off the rock.
    # Lethal within the bucket's reach of a hazard, as navigation_costmap sets it.
    reach = dataclasses.replace(CostmapParams.for_rover(rover_config), robot_radius_m=0.8)
    nav = Navigator(
        rover_config,
        Localizer(LocalizationParams.for_rover(rover_config), Pose2(0.0, 0.0, 0.0)),
        NavigatorParams.for_rover(rover_config, 20.0, costmap=reach),
        ElevationMap(GridSpec((0.0, 0.0), 0.1, (101, 101))),
    )
    nav.elevation.set_known(np.zeros(nav.elevation.grid.shape), 0.01)
    box = nav.body
    beside = KeepOutCircle(5.4, 5.0 + box.y_range_m[1] + 0.25, 0.05)
    nav.blocked.append(beside)
    assert math.isinf(nav.costmap.cost_at(5.4, 5.0))
    assert math.isfinite(nav.costmap.cost_at(4.5, 5.0))  # free to turn where it stands
    nudge = nav.nudge_path(Pose2(4.5, 5.0, 0.0), (5.4, 5.0))
    assert nudge is not None and nudge.reverse == (False,)
    # The same rock just ahead of where the bucket ends up: refused.
    nav.blocked[:] = [KeepOutCircle(5.4 + box.x_range_m[1] + 0.05, 5.0, 0.1)]
    assert nav.nudge_path(Pose2(4.5, 5.0, 0.0), (5.4, 5.0)) is None
    # Reversing to a goal behind: the front of the body does not matter, the back does.
    nav.blocked.clear()
    assert nav.nudge_path(Pose2(6.2, 5.0, 0.0), (5.4, 5.0)) is not None
    nav.blocked[:] = [KeepOutCircle(5.4 + box.x_range_m[0] - 0.05, 5.0, 0.1)]
    assert nav.nudge_path(Pose2(6.2, 5.0, 0.0), (5.4, 5.0)) is None


def test_arrival_check_accepts_within_the_mission_tolerance_less_the_doubt(
    rover_config: RoverConfig,
) -> None:
    loc = Localizer(
        LocalizationParams.for_rover(rover_config), Pose2(0.0, 0.0, 0.0), (0.02, 0.02, 0.01)
    )
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (11, 11)))
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_tolerance_m=0.3)
    nav = Navigator(rover_config, loc, params, emap)
    assert nav.close_enough(Pose2(0.0, 0.0, 0.0), (0.2, 0.0))  # 0.2 + 2 × 0.02 ≤ 0.3
    assert not nav.close_enough(Pose2(0.0, 0.0, 0.0), (0.28, 0.0))
    loc.P[:2, :2] *= 100.0  # 0.2 m std: not sure enough to call it, however near
    assert not nav.close_enough(Pose2(0.0, 0.0, 0.0), (0.2, 0.0))
    assert not nav.close_enough(Pose2(0.0, 0.0, 0.0), (0.01, 0.0))


def test_frame_pose_is_interpolated_and_turning_frames_are_known(rover_config: RoverConfig) -> None:
    nav = _nav_with_markers(rover_config, [])
    nav.history.extend([(1.0, Pose2(1.0, 2.0, 0.0)), (1.05, Pose2(1.0, 2.0, 0.025))])
    mid = nav.pose_at(1.02)
    assert mid is not None and mid.yaw_rad == pytest.approx(0.01)
    assert nav.yaw_rate_at(1.02) == pytest.approx(0.5)  # a turn in place: no fixes
    assert nav.pose_at(3.0) is None  # older than the history reaches


def _on_flat_known_ground(
    rover_config: RoverConfig, start: Pose2
) -> tuple[MockRover, Localizer, ElevationMap]:
    """An active mock rover at ``start``, its filter, and a 6 × 3 m map known flat."""
    rover = MockRover(rover_config, ManualClock(), start)
    rover.configure()
    rover.activate()
    emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (31, 61)))
    emap.set_known(np.zeros((31, 61)), 0.01)
    return rover, Localizer(LocalizationParams.for_rover(rover_config), start), emap


def test_stuck_zones_that_wall_the_rover_in_are_forgotten(rover_config: RoverConfig) -> None:
    rover, loc, emap = _on_flat_known_ground(rover_config, Pose2(3.0, 1.5, 0.0))
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_time_limit_s=60.0)
    nav = Navigator(rover_config, loc, params, emap)
    # Stuck four times round one spot: a ring of kept-out discs.
    nav.blocked.extend(
        KeepOutCircle(3.0 + dx, 1.5 + dy, 0.3)
        for dx, dy in ((0.8, 0.0), (-0.8, 0.0), (0.0, 0.8), (0.0, -0.8))
    )
    ticks: list[NavTick] = []
    result = _run(rover, nav, [(5.0, 1.5)], ticks.append)
    (goal,) = result.goals
    assert goal.result.status is ActionStatus.SUCCEEDED, goal
    assert any("stuck zones forgotten" in e for t in ticks for e in t.events)
    assert nav.blocked == []


def test_a_goal_lethal_on_the_map_is_approached_before_it_fails(rover_config: RoverConfig) -> None:
    rover, loc, emap = _on_flat_known_ground(rover_config, Pose2(1.0, 1.5, 0.0))
    goal = (5.0, 1.5)
    params = NavigatorParams.for_rover(
        rover_config,
        20.0,
        goal_time_limit_s=90.0,
        keep_out=(KeepOutCircle(*goal, 0.05),),  # stays lethal: the approach cannot help
    )
    assert params.approach_radius_m > params.costmap.robot_radius_m + 0.1
    ticks: list[NavTick] = []
    result = _run(rover, Navigator(rover_config, loc, params, emap), [goal], ticks.append)
    (res,) = result.goals
    events = [e for t in ticks for e in t.events]
    assert any("approaching" in e for e in events)
    assert any("approached" in e for e in events)
    assert res.result.status is ActionStatus.PLANNING_FAILED, res
    assert rover.true_pose.distance_to(*goal) < params.approach_radius_m + 0.2


def test_scans_are_placed_at_the_height_channel_only_when_asked(
    rover_config: RoverConfig,
) -> None:
    marker = SurveyedMarker(1, 8.0, 5.0, 0.5, math.pi, 0.2)
    ride = rover_config.chassis.axle_drop_m + rover_config.wheels.radius_m

    def navigator(**overrides: object) -> Navigator:
        loc = Localizer(LocalizationParams.for_rover(rover_config), Pose2(5.0, 5.0, 0.0))
        params = NavigatorParams.for_rover(rover_config, 20.0, **overrides)
        emap = ElevationMap(GridSpec((0.0, 0.0), 0.1, (101, 101)))
        emap.set_known(np.full(emap.grid.shape, 0.3), 0.01)  # the map drifted up 0.3 m
        return Navigator(
            rover_config,
            loc,
            params,
            emap,
            markers=[marker],
            ground_z_m=0.0,
        )

    plain = navigator()
    assert math.isnan(plain.localizer.z_m)
    assert plain.chassis_z(Pose2(5.0, 5.0, 0.0)) == pytest.approx(0.3 + ride)
    pinned = navigator(marker_height=True)
    assert pinned.localizer.z_m == pytest.approx(ride)
    assert pinned.chassis_z(Pose2(5.0, 5.0, 0.0)) == pytest.approx(ride)


def test_a_map_that_walls_the_rover_in_is_forgotten_and_driven_through(
    rover_config: RoverConfig,
) -> None:
    clock = ManualClock()
    rover = MockRover(rover_config, clock, Pose2(2.0, 1.5, 0.0))
    rover.configure()
    rover.activate()
    grid = GridSpec((0.0, 0.0), 0.1, (31, 51))
    emap = ElevationMap(grid)
    xs, ys = np.meshgrid(grid.x_coords_m, grid.y_coords_m)
    ring = np.abs(np.hypot(xs - 2.0, ys - 1.5) - 1.2) < 0.1
    emap.set_known(np.where(ring, 0.5, 0.0), 0.01)  # a phantom wall all round
    loc = Localizer(LocalizationParams.for_rover(rover_config), Pose2(2.0, 1.5, 0.0))
    params = NavigatorParams.for_rover(
        rover_config, 20.0, goal_time_limit_s=60.0, forget_radius_m=1.5
    )
    ticks: list[NavTick] = []
    result = _run(rover, Navigator(rover_config, loc, params, emap), [(4.0, 1.5)], ticks.append)
    (goal,) = result.goals
    assert goal.result.status is ActionStatus.SUCCEEDED, goal
    assert any("map around the rover" in e for t in ticks for e in t.events)
    assert not emap.known[grid.cell_of(3.2, 1.5)]  # forgotten, and no scanner to refill it
    assert emap.known[grid.cell_of(0.2, 0.2)]  # beyond the radius: kept
    # Without the recovery the goal is given up.
    rover2 = MockRover(rover_config, ManualClock(), Pose2(2.0, 1.5, 0.0))
    rover2.configure()
    rover2.activate()
    emap2 = ElevationMap(grid)
    emap2.set_known(np.where(ring, 0.5, 0.0), 0.01)
    loc2 = Localizer(LocalizationParams.for_rover(rover_config), Pose2(2.0, 1.5, 0.0))
    never = NavigatorParams.for_rover(
        rover_config, 20.0, goal_time_limit_s=60.0, forget_radius_m=0.0
    )
    (failed,) = _run(rover2, Navigator(rover_config, loc2, never, emap2), [(4.0, 1.5)]).goals
    assert failed.result.status is ActionStatus.PLANNING_FAILED


@pytest.mark.parametrize(("tolerance_m", "called_reached"), [(0.3, False), (1.0, True)])
def test_a_goal_is_not_called_reached_on_an_estimate_too_unsure_to_say_so(
    rover_config: RoverConfig, tolerance_m: float, called_reached: bool
) -> None:
    """No marker to check by: after 4 m on odometry alone the position std is ~0.1 m, so
    the estimate at the goal cannot say the rover is within 0.3 m (at 2 std); within
    1 m it can. Expected from the filter's own std at the end, not the navigator's rule."""
    rover, loc, emap = _on_flat_known_ground(rover_config, Pose2(1.0, 1.5, 0.0))
    params = NavigatorParams.for_rover(
        rover_config, 20.0, goal_tolerance_m=tolerance_m, goal_time_limit_s=90.0
    )
    result = _run(rover, Navigator(rover_config, loc, params, emap), [(5.0, 1.5)])
    (res,) = result.goals
    std = max(loc.pose_std[:2])
    assert 0.05 < std < 0.3
    dist = loc.pose.distance_to(5.0, 1.5)
    assert (dist + 2.0 * std <= tolerance_m) is called_reached
    if called_reached:
        assert res.result.succeeded, res
    else:
        assert res.result.status is ActionStatus.EXECUTION_FAILED, res
        assert "not confirmed" in res.result.reason


def test_a_hung_rover_ends_the_task_with_the_reason(rover_config: RoverConfig) -> None:
    """Readings of wheels turning in place while the gyro reads nothing: the task ends
    execution_failed, the goal canceled with the same reason, its belief kept."""
    rover, loc, emap = _on_flat_known_ground(rover_config, Pose2(1.0, 1.5, 0.0))
    params = NavigatorParams.for_rover(rover_config, 20.0, goal_time_limit_s=90.0)
    task = NavigateGoals(Navigator(rover_config, loc, params, emap), [(5.0, 1.5), (1.0, 1.0)])
    lp = loc.params
    turn_ticks = round(0.5 * 0.4 * lp.track_m * 0.05 / lp.m_per_tick)  # 0.4 rad/s asked
    step = None
    for k in range(round(30.0 / 0.05)):
        sensed = dataclasses.replace(
            rover.read(),
            stamp_s=k * 0.05,
            left_ticks=-k * turn_ticks,
            right_ticks=k * turn_ticks,
            gyro_radps=(0.0, 0.0, 0.0),
        )
        step = task.tick(sensed, k * 0.05)
        if not isinstance(step, Running):
            break
    assert isinstance(step, ActionResult), step
    assert step.status is ActionStatus.EXECUTION_FAILED
    assert step.reason.startswith("hung: in the last 20 s")
    assert 18.0 <= k * 0.05 <= 20.5
    (goal,) = task.goal_results
    assert goal.result.status is ActionStatus.CANCELED and "hung" in goal.result.reason
    assert [s.goal_index for s in task.failure_maps] == [0]
