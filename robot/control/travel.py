"""Travel between work stations in straight legs and turns in place, on the estimate.

:func:`travel` is the way the dig-and-dump task gets from one station to the next, in
lanes: face the heading, make a sideways move as two opposite quarter turns if needed,
drive along the heading, and, with a range scanner in a walled site, fix the position on
the walls and go again. :func:`travel_direct` goes in one straight leg between any two
stations (the earthwork task's).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..executive.compose import ScriptBody
from ..perception.points import RangeScan
from ..types import wrap_angle
from .motions import STRAIGHT_TIMEOUT_S, Straight, TurnTo
from .pilot import Pilot
from .wall_fix import WallFix

__all__ = ["LATERAL_TOLERANCE_M", "travel", "travel_direct"]

ON_LINE_HEADING_RAD = 0.35
"""A rover facing within this of the heading it is to stand at, and
:data:`ON_LINE_OFFSET_M` or less beside the line through the target along that heading,
corrects by backing off and driving in on the line rather than turning in place."""
ON_LINE_OFFSET_M = 0.25
"""The most a correction on the line closes sideways, in m."""
ON_LINE_RUN_IN_M = 0.3
"""The least distance a correction on the line drives in over, in m (it backs off that
far first when the target lies nearer)."""

LATERAL_TOLERANCE_M = 0.12
"""Sideways error from a station left uncorrected after a wall fix, in m (a quarter of
a lane)."""


def travel(
    pilot: Pilot,
    target_xy_m: tuple[float, float],
    heading_rad: float,
    speed_mps: float,
    back_speed_mps: float,
    scanner: Callable[[], RangeScan] | None = None,
    site_size_m: tuple[float, float] | None = None,
) -> ScriptBody:
    """Go to ``target_xy_m`` and face ``heading_rad`` in straight legs on the
    estimate, then fix on the walls (given a
    level range scanner and the walled site's size) and go again if the fix moved it.

    The two quarter turns of a sideways move are equal and opposite, made with the
    same load in the bucket: whatever the chassis slides unseen while pivoting (a
    skid-steer pivots about its more heavily loaded axle) the second turn mostly
    undoes. After a fix, a small sideways error is left alone (another pair of
    quarter turns would slide as much); the error along the heading is driven out.
    """
    lateral = math.inf
    for _ in range(2):
        yield from _travel_once(pilot, target_xy_m, heading_rad, speed_mps, back_speed_mps, lateral)
        fix = yield WallFix(pilot, scanner, site_size_m)
        if not fix.succeeded:
            return None
        lateral = LATERAL_TOLERANCE_M
        p = pilot.pose
        across = -(target_xy_m[0] - p.x_m) * math.sin(heading_rad) + (
            target_xy_m[1] - p.y_m
        ) * math.cos(heading_rad)
        if abs(across) <= lateral:
            yield from _travel_once(
                pilot, target_xy_m, heading_rad, speed_mps, back_speed_mps, lateral
            )
            return None
    return None


def _travel_once(
    pilot: Pilot,
    target_xy_m: tuple[float, float],
    heading_rad: float,
    speed_mps: float,
    back_speed_mps: float,
    lateral_tolerance_m: float,
    tolerance_m: float = 0.03,
) -> ScriptBody:
    yield TurnTo(pilot, heading_rad)
    ux, uy = math.cos(heading_rad), math.sin(heading_rad)
    p = pilot.pose
    dx, dy = target_xy_m[0] - p.x_m, target_xy_m[1] - p.y_m
    across = -dx * uy + dy * ux
    if abs(across) > max(
        tolerance_m, lateral_tolerance_m if math.isfinite(lateral_tolerance_m) else 0.0
    ):
        side = wrap_angle(heading_rad + math.copysign(0.5 * math.pi, across))
        yield TurnTo(pilot, side)
        yield Straight(pilot, abs(across), speed_mps, side)
        yield TurnTo(pilot, heading_rad)
    p = pilot.pose
    along = (target_xy_m[0] - p.x_m) * ux + (target_xy_m[1] - p.y_m) * uy
    if abs(along) > tolerance_m:
        speed = speed_mps if along > 0.0 else back_speed_mps
        yield Straight(pilot, along, speed, heading_rad)
    return None


def travel_direct(
    pilot: Pilot,
    target_xy_m: tuple[float, float],
    heading_rad: float,
    speed_mps: float,
    back_speed_mps: float,
    scanner: Callable[[], RangeScan] | None = None,
    site_size_m: tuple[float, float] | None = None,
    *,
    tolerance_m: float = 0.05,
    reverse_within_m: float = 1.0,
    tries: int = 3,
    unstick: Callable[[], ScriptBody] | None = None,
    min_leg_speed_mps: float | None = None,
) -> ScriptBody:
    """Go to ``target_xy_m`` in one straight leg and face ``heading_rad``: turn towards the
    target (or away from it, reversing, when it lies behind within ``reverse_within_m``),
    drive, turn to the heading; then fix on the walls (searching the whole site when the
    estimate has slipped far) and go again while the fix shows the rover off by more
    than ``tolerance_m`` (at most ``tries`` legs). Two turns a leg, where :func:`travel`
    makes up to four: on rough ground each turn in place slips. A rover already facing
    the heading and a little beside, short of or past the target backs off and drives in
    on the line through it (:data:`ON_LINE_OFFSET_M`) with no turn at all. A fix that
    finds the leg slipped (:attr:`Pilot.slips_in_a_row`: wheels turning, chassis held)
    runs ``unstick`` before the next leg, when given. ``min_leg_speed_mps``, when given,
    lets a long leg take as long as its length at that speed (at least
    :data:`~lunarsite.robot.control.motions.STRAIGHT_TIMEOUT_S`); without it every leg
    times out at that."""

    def leg_timeout_s(dist_m: float) -> float:
        if min_leg_speed_mps is None:
            return STRAIGHT_TIMEOUT_S
        return max(STRAIGHT_TIMEOUT_S, dist_m / min_leg_speed_mps)

    for _ in range(tries):
        p = pilot.pose
        dx, dy = target_xy_m[0] - p.x_m, target_xy_m[1] - p.y_m
        dist = math.hypot(dx, dy)
        ux, uy = math.cos(heading_rad), math.sin(heading_rad)
        along, beside = dx * ux + dy * uy, dx * uy - dy * ux
        on_line = (
            abs(wrap_angle(heading_rad - p.yaw_rad)) <= ON_LINE_HEADING_RAD
            and abs(beside) <= ON_LINE_OFFSET_M
            and along >= -reverse_within_m
        )
        if dist > tolerance_m and on_line:
            # Close a small miss on the line into the target: no turn in place.
            back = max(ON_LINE_RUN_IN_M - along, 0.0)
            if back > 0.0:
                yield Straight(
                    pilot, -back, back_speed_mps, heading_rad, line_through_m=target_xy_m
                )
            q = pilot.pose
            ahead = (target_xy_m[0] - q.x_m) * ux + (target_xy_m[1] - q.y_m) * uy
            yield Straight(
                pilot, ahead, speed_mps, heading_rad, line_through_m=target_xy_m,
                timeout_s=leg_timeout_s(abs(ahead)),
            )  # fmt: skip
        elif dist > tolerance_m:
            bearing = math.atan2(dy, dx)
            behind = math.cos(bearing - p.yaw_rad) < 0.0
            if behind and dist <= reverse_within_m:
                yield TurnTo(pilot, wrap_angle(bearing + math.pi))
                yield Straight(
                    pilot, -dist, back_speed_mps, wrap_angle(bearing + math.pi),
                    timeout_s=leg_timeout_s(dist),
                )  # fmt: skip
            else:
                yield TurnTo(pilot, bearing)
                yield Straight(pilot, dist, speed_mps, bearing, timeout_s=leg_timeout_s(dist))
        yield TurnTo(pilot, heading_rad)
        fix = yield WallFix(pilot, scanner, site_size_m, search=True)
        if not fix.succeeded:
            return None
        if pilot.slips_in_a_row > 0 and unstick is not None:
            yield from unstick()
            continue
        p = pilot.pose
        if math.hypot(target_xy_m[0] - p.x_m, target_xy_m[1] - p.y_m) <= tolerance_m:
            return None
    return None
