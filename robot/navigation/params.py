"""What a navigating rover is tuned by: rates, limits and the parameters of its parts.

See :mod:`lunarsite.robot.navigation` for what each behaviour does; the fields here say
when it does it, in SI units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..config import RoverConfig
from ..control.pathfollow import PathFollowParams
from ..planning.costmap import CostmapParams
from ..planning.planner import PlannerParams
from ..site.zones import KeepOut

__all__ = ["BELLY_STEP_FRACTION", "NavigatorParams", "navigation_costmap"]

BELLY_STEP_FRACTION = 0.7
"""Steps above this share of the chassis belly's ground clearance are lethal (design
value: the scanner's step estimate errs by a centimetre or two)."""


def navigation_costmap(rover: RoverConfig) -> CostmapParams:
    """The costmap limits a navigating rover plans with on open ground.

    The rover file's ``max_step_m`` is what the wheels climb; a rock between the wheels
    must also pass under the chassis belly (axle drop + wheel radius - half the chassis
    height above the ground), so the step limit is the lesser of the two, with a margin.
    The lethal radius covers the tools in their travel pose as well as the chassis and
    wheels: a turn in place sweeps the bucket round. The site's edge counts as a hazard:
    the map is the whole site, and beyond it the ground falls away.
    """
    ch = rover.chassis
    belly_m = ch.axle_drop_m + rover.wheels.radius_m - 0.5 * ch.height_m
    max_step = min(rover.limits.max_step_m, BELLY_STEP_FRACTION * belly_m)
    base = CostmapParams.for_rover(rover)
    reach = 0.0
    for tool in rover.tools:
        x, y, _ = tool.mount_xyz_m
        reach = max(reach, math.hypot(abs(x) + tool.arm_length_m, abs(y) + 0.5 * tool.width_m))
    return replace(
        base,
        max_step_m=max_step,
        robot_radius_m=max(base.robot_radius_m, reach),
        edge_is_hazard=True,
    )


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
    face_max_tilt_rad: float = 0.07
    """Tilted more than this (the IMU's roll and pitch together, in rad), the rover turns
    for no marker beyond ``face_tolerance_rad``: a skid-steer turning in place on a slope
    slides downhill. Measured with the excavator on traverse (D435 runs, 1,668 turns in
    place): the chassis moved a median 8 cm per rad turned on ground under 3°, 19 cm at
    6–9° and 26 cm at 9–12° (p90 about 50 cm); three arrival checks on a crater's 7–11°
    rim slid the rover 1.4–3 m down into it (seeds 41, 42). Design value at 4°."""
    slope_backout_m: float = 1.0
    """Tilted more than ``face_max_tilt_rad`` with a new path that starts with a turn in
    place (more than ``slope_turn_rad``), the rover first backs straight out this far,
    where the ground there is flatter on its map (by ``facing.FLATTER_BY_RAD``) than here
    and than its own tilt, at most ``max_slope_backouts`` times a goal, in m; 0 turns this off."""
    slope_turn_rad: float = 0.5
    max_slope_backouts: int = 2
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
