"""What the rover checks by its own sensing in a placement cycle, and what it does when a
check fails (the cycle itself: :mod:`~lunarsite.robot.tasks.placement`).

- On arrival at the place pre-approach the unit is weighed: one that weighs short fell
  from the jaws on the way. The rover looks for it by camera, ahead (backed off) and
  then from the set-down stand facing back, and grasps it where it lies; not found,
  the unit fails with that reason (it is no longer in the depot to fetch again).
- After a set-down the rover fixes its position on the walls and looks at the unit from
  the pre-approach pose. Seen off its design by more than the design's tolerance less the
  camera's own error (:data:`RESET_MARGIN_M`, :data:`RESET_MARGIN_RAD`), it is grasped
  where it lies and set down again, :data:`MAX_RESETS` times at most, unless it is seen
  touching a unit already placed (closer than :data:`CLEAR_TO_RESET_M`): grasped again,
  it would drag that one along.
- Then the placed units laid against it are looked at again from there (handling it
  may have knocked them): the task's verdict is what the camera saw last of each.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import TYPE_CHECKING

from ..control.motions import Straight, ToolsTo
from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, ActionStatus, Skill
from ..perception.unit_sighting import UnitSighting
from ..planning.assembly import AssemblyStep, gap_m
from ..planning.joints import LaidUnit, touching
from ..site.modules import ModuleType, Placement, yaw_error_rad
from ..types import wrap_angle
from .clamp_moves import PRE_TOLERANCE_M, Point

if TYPE_CHECKING:
    from collections.abc import Generator

    from .placement import PlacementTask

__all__ = [
    "CLEAR_TO_RESET_M",
    "JAW_MARGIN_M",
    "MAX_RESETS",
    "RESET_MARGIN_M",
    "RESET_MARGIN_RAD",
    "WEIGHT_SHARE",
    "check",
    "jaws_open_rad",
    "laid_units",
    "off_design",
    "recheck_neighbours",
    "seen_errors",
    "settle",
    "still_held",
    "verdict",
]

log = logging.getLogger(__name__)

JAW_MARGIN_M = 0.04
"""The jaws go in this much wider than the unit on each side, and open this much to let
it go: wide open they would sweep its neighbours (depot units stand 0.1 m apart), in m."""
WEIGHT_SHARE = 0.6
"""A held unit must weigh at least this share of its catalog mass, else it slipped."""
RESET_MARGIN_M = 0.005
"""A unit the camera sees off its design by more than the design's position tolerance
less this is set down again, in m: the camera's own error at a check. On paver_road
(seeds 0-4) the check saw units up to 0.8 cm from where they truly lay; judged at the
tolerance itself, units truly 2.5-2.8 cm off passed."""
RESET_MARGIN_RAD = math.radians(0.2)
"""... or turned more than the yaw tolerance less this, in rad (the same runs: a unit's
yaw seen up to 1.2° off its true yaw, though mostly within 0.2°)."""
MAX_RESETS = 3
"""Times a unit is set down again after a failed check before it is left as it lies."""
LOOK_BACK_M = 1.3
"""How far the rover backs off to look for a unit that fell from its jaws, in m: the
camera's view of the ground begins 1.1 m ahead of the rover's centre, the jaws' middle
is 1 m ahead, so a unit that fell in the last metre of the way lies too near to see."""
RECHECK_WITHIN_M = 0.05
"""Placed units the design lays this close to the one just set down are looked at again
after its check, in m."""
CLEAR_TO_RESET_M = 0.004
"""A unit seen closer than this to one already placed is not set down again after a
failed check, in m (a few mm more than the camera's error on where a paver lies)."""


def still_held(
    task: PlacementTask, step: AssemblyStep, module: ModuleType
) -> Generator[Skill, ActionResult, bool]:
    """Weigh the unit on arrival at its place pre-approach. One weighing short of
    :data:`WEIGHT_SHARE` of its mass fell from the jaws on the way (a jaw servo that
    browned out): look for it by camera, ahead and then behind, and grasp it where it
    lies, then go back to the place pre-approach. False when it is not found or not
    grasped again (the unit fails, with why)."""
    st, q = task.progress, step.placement
    kg = yield from task.moves.weighed()
    if kg is None or kg >= WEIGHT_SHARE * module.mass_kg:
        return True
    st.lost[q.id] = st.lost.get(q.id, 0) + 1
    log.warning("unit %s: it weighed %.1f kg at its place; it fell on the way", q.id, kg)
    st.phase = f"{q.id}: looking for it where it fell"
    run = math.dist((step.place.x_m, step.place.y_m), step.place_pre_xy_m)
    radius = task.params.geometry.body_radius_m
    yield ToolsTo(task.pilot, {task.moves.jaws: jaws_open_rad(task, module)})
    found = False
    # Ahead, backed off first (a unit that fell in the last metre of the way lies under
    # the jaws or just behind them); then from the set-down stand facing back the way it
    # came (one the rover drove over).
    back = wrap_angle(step.place.yaw_rad + math.pi)
    for look in range(2):
        if look == 0:
            yield from _back_off(task, run, radius)
        else:
            yield from task.moves.go((step.place.x_m, step.place.y_m), back, radius)
        here = task.pilot.pose
        h = here.yaw_rad
        # Only the run-in's length counts here: the grasp moves to where it is seen.
        ahead = (here.x_m + run * math.cos(h), here.y_m + run * math.sin(h))
        stand, heading, pre, seen = yield from task.moves.approach_seen(
            step.slot.id, module, ahead, h, (here.x_m, here.y_m), radius
        )
        if seen is None:
            continue
        found = True
        log.info("unit %s seen where it fell, at (%.2f, %.2f)", q.id, seen.x_m, seen.y_m)
        if (yield from task.grasp(q, module, stand, heading, pre)) is not None:
            place_pre, turn_m = step.place_pre_xy_m, task.params.geometry.turn_radius_m(module)
            yield from task.moves.go(place_pre, step.place.yaw_rad, turn_m)  # back to the place
            return True
        break
    why = "it could not be grasped where it lay" if found else "the camera did not find it"
    st.failed[q.id] = f"it fell from the jaws on the way ({kg:.1f} kg at its place); {why}"
    task.progress.gone.add(q.id)
    return False


def _back_off(task: PlacementTask, run_m: float, radius_m: float) -> ScriptBody:
    """Straight back :data:`LOOK_BACK_M` where the access map has the way clear, else
    the run-in's length (the way the rover came in)."""
    here = task.pilot.pose
    c, s = math.cos(here.yaw_rad), math.sin(here.yaw_rad)
    far = (here.x_m - LOOK_BACK_M * c, here.y_m - LOOK_BACK_M * s)
    clear = task.params.access.line_clear((here.x_m, here.y_m), far, radius_m)
    dist = LOOK_BACK_M if clear else run_m
    yield Straight(task.pilot, -dist, task.params.approach_speed_mps, here.yaw_rad)
    return None


def check(
    task: PlacementTask, step: AssemblyStep, module: ModuleType
) -> Generator[Skill, ActionResult, tuple[Point, float, Point] | None]:
    """Look at the unit just set down, from the place pre-approach pose; when it
    lies off the design by more than the tolerance less :data:`RESET_MARGIN_M` or
    :data:`RESET_MARGIN_RAD`, answers how to grasp it again where it lies (stand,
    heading, pre); None when it lies well, or the rover cannot see it."""
    q = step.placement
    task.progress.phase = f"{q.id}: checking it by camera"
    if task.moves.scanner is not None:
        # Fixed on the walls at the stand, then backed out by odometry: fix again, so the
        # unit is put on the site from where the rover is, not where it counted itself.
        yield from task.moves.fix(step.place_pre_xy_m)
    place, heading = (step.place.x_m, step.place.y_m), step.place.yaw_rad
    stand, heading, pre, seen = yield from task.moves.sighted(
        step.slot.id, module, place, heading, step.place_pre_xy_m
    )
    if seen is None:
        return None
    off_m, off_rad = _record(task, q, seen)
    if task.params.within_tolerance(off_m + RESET_MARGIN_M, off_rad + RESET_MARGIN_RAD):
        return None
    log.info("unit %s lies %.3f m and %.3f rad off its design: again", q.id, off_m, off_rad)
    return stand, heading, pre


def _record(task: PlacementTask, q: Placement, seen: UnitSighting) -> tuple[float, float]:
    """Keep where and when the camera saw ``q``; answers how far off its design (m, rad)."""
    at = replace(q, x_m=seen.x_m, y_m=seen.y_m, yaw_rad=seen.yaw_rad)
    task.progress.seen_at[q.id] = at
    task.progress.seen_stamp_s[q.id] = seen.stamp_s
    return off_design(q, at)


def off_design(design: Placement, seen: Placement) -> tuple[float, float]:
    """How far a unit seen at ``seen`` lies off ``design``: (m, rad)."""
    return (
        math.hypot(seen.x_m - design.x_m, seen.y_m - design.y_m),
        yaw_error_rad(seen.yaw_rad, design.yaw_rad),
    )


def seen_errors(task: PlacementTask) -> dict[str, tuple[float, float]]:
    """Per unit the camera has seen, how far off its design it was seen last (m, rad)."""
    designs = {s.placement.id: s.placement for s in task.params.plan.steps}
    return {k: off_design(designs[k], at) for k, at in task.progress.seen_at.items()}


def jaws_open_rad(task: PlacementTask, module: ModuleType) -> float:
    """The jaw angle that opens them :data:`JAW_MARGIN_M` wider than ``module`` each side."""
    return task.tool.squeeze_for_m(module.grasp_width_m + 2.0 * JAW_MARGIN_M)


def recheck_neighbours(task: PlacementTask, step: AssemblyStep, module: ModuleType) -> ScriptBody:
    """From where the rover checked the unit just set down, look again at the placed
    units its design lays within :data:`RECHECK_WITHIN_M` of it: setting it down, or
    grasping it again, may have knocked them (on paver_road a paver seen 3 mm off at its
    own check lay 7.8 cm and 10° off after its neighbour's reset, and the run said
    "succeeded"). Their seen error is updated; the task's verdict reads it."""
    q = step.placement
    for other in task.params.plan.steps:
        d = other.placement
        m = task.params.catalog.get(d.type)
        assert m is not None
        if d.id == q.id or d.id not in task.progress.placed:
            continue
        if gap_m(q, module, d, m) > RECHECK_WITHIN_M:
            continue
        # Its own stand, so the log's "from where it was thought" is from its own.
        *_, seen = yield from task.moves.sighted(
            other.slot.id,
            m,
            (other.place.x_m, other.place.y_m),
            other.place.yaw_rad,
            other.place_pre_xy_m,
        )
        if seen is None:
            continue
        off_m, off_rad = _record(task, d, seen)
        if not task.params.within_tolerance(off_m, off_rad):
            log.warning(
                "unit %s, laid before %s, is now seen %.3f m and %.3f rad off its design",
                d.id, q.id, off_m, off_rad,
            )  # fmt: skip
    return None


def settle(task: PlacementTask, step: AssemblyStep, module: ModuleType) -> ScriptBody:
    """Check the unit just set down by camera; grasp it again where it lies and set
    it down again while it lies off the design, :data:`MAX_RESETS` times at most (a
    grasp that fails there is tried again from a fresh look)."""
    q = step.placement
    for _ in range(MAX_RESETS):
        again = yield from check(task, step, module)
        if again is None:
            return None
        here = task.progress.seen_at.get(q.id, q)
        near = touching(here, module, laid_units(task), CLEAR_TO_RESET_M)
        if near:
            # Grasped again, it drags what it touches: the jaws squeeze it along that
            # unit's face and lift it against it (on a road this knocked the
            # neighbour 18 cm and 7°, and its own reset knocked the next).
            log.info("unit %s left as it lies: it touches %s", q.id, ", ".join(near))
            return None
        task.progress.resets[q.id] = task.progress.resets.get(q.id, 0) + 1
        task.progress.phase = f"{q.id}: setting it down again"
        stand, heading, pre = again
        radius = task.params.geometry.body_radius_m
        if math.dist(pre, (task.pilot.pose.x_m, task.pilot.pose.y_m)) > PRE_TOLERANCE_M:
            stand, heading, pre, _ = yield from task.moves.approach_seen(
                step.slot.id, module, stand, heading, pre, radius
            )
        if (yield from task.grasp(q, module, stand, heading, pre)) is None:
            log.info("unit %s: no grasp to set it down again; looking again", q.id)
            continue
        if not (yield from task.set_down(step, module)):
            return None
    return None


def laid_units(task: PlacementTask) -> list[LaidUnit]:
    """The units already placed: design, where last seen (else the design), type."""
    out = []
    for step in task.params.plan.steps:
        d = step.placement
        if d.id in task.progress.placed:
            m = task.params.catalog.get(d.type)
            assert m is not None
            out.append(LaidUnit(d, task.progress.seen_at.get(d.id, d), m))
    return out


def verdict(task: PlacementTask, *, sighted: bool) -> ActionResult:
    """The rover's own word on the design once every step is done: failed with the units
    not placed; else failed with the units its camera last saw off the design (beyond the
    tolerance) and, when it can look (``sighted``), those it never saw at a check: it
    cannot vouch for them. Succeeded otherwise."""
    st = task.progress
    if st.failed:
        names = ", ".join(f"{k} ({v})" for k, v in st.failed.items())
        return ActionResult(ActionStatus.EXECUTION_FAILED, f"units not placed: {names}")
    seen = seen_errors(task)
    why = []
    off = [
        f"{k} ({m * 100:.1f} cm, {math.degrees(r):.1f}°)"
        for k, (m, r) in seen.items()
        if not task.params.within_tolerance(m, r)
    ]
    if off:
        why.append(f"seen off the design: {', '.join(off)}")
    unseen = [k for k in st.placed if k not in seen] if sighted else []
    if unseen:
        why.append(f"not seen at a check: {', '.join(unseen)}")
    if why:
        return ActionResult(
            ActionStatus.EXECUTION_FAILED, f"{len(st.placed)} units placed; {'; '.join(why)}"
        )
    return ActionResult(ActionStatus.SUCCEEDED, f"{len(st.placed)} units placed")
