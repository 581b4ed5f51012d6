"""One haul of an earthwork rover: dig a pass, back out, carry, tip the bucket over the fill.

:func:`haul` is the script of one :class:`~lunarsite.robot.planning.hauls.Load` for the
:class:`~.earthwork.Earthwork` task: the stations come from :class:`~.earthwork_stations.
Stations` (a pass through cells the plan cuts, one layer deep, with the edge set for the
chassis' pitch; a dump stand facing away from the dig), the expected surface is carved
after the pass, and the pour is marked fresh fill at once.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np

from ..control.bucket import edge_hold_gain
from ..control.dig_cut import DigCut
from ..control.motions import Hold, Straight, ToolsTo
from ..control.travel import travel_direct
from ..control.wall_fix import WallFix
from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, Skill
from ..planning.earthwork import CutFill
from ..planning.hauls import Load

if TYPE_CHECKING:
    from .earthwork import Earthwork
    from .earthwork_stations import DigStation

__all__ = ["dump_load", "haul"]

log = logging.getLogger(__name__)

DUMP_TOLERANCE_M = 0.15
"""How near its dump station's run-in a wall fix must find the rover, in m (a pour
spreads over a pile's width)."""
STALLED_SHORT_M = 0.05
"""A dig pass that ends this much short of its length is logged as stalled, in m."""
ENTRY_TOLERANCE_M = 0.1
"""How near where it lined up a wall fix must find a rover backed out of a trench it
straddled before it turns, in m."""
DIG_RELIEFS = 0
"""Boom raises a dig pass's pitch guard makes before it ends the pass where it trips
again (:class:`~lunarsite.robot.control.dig_cut.DigCut`): none, the pass ends at the
first trip. A trench pass along the cut filled its bucket, plowed on, pitched past the
first raise and lifted the rover's rear 0.2 m as the edge dived to 0.3 m (trench seed 0;
with one raise allowed the second trip came at 0.155 rad, too late)."""
BACK_OUT_LIFT_RAD = 0.15
"""The boom rises this much (about 9 cm at the edge) before the rover backs out of a
pass, in rad: backing at cut depth, the edge dragged the soil over it back like a blade,
up to 3 kg a soil update, and heaped it at the trench's start (trench seeds 0 and 1;
0.06 rad still dragged 60 kg in 1500 s of seed 1)."""
CURL_CLEAR_RAD = 0.2
"""The boom rises this much more after backing out, before the bucket curls (about 12 cm
at the edge), in rad."""
MIN_YIELD_KG = 2.0
"""A pass whose strip the expected surface said held less than this (kg) does not count
towards the cut yield (its ratio is mostly noise)."""
TOP_UP_BELOW_SHARE = 0.5
"""A bucket weighed under this share of the planned load digs another pass before it is
carried (the carry and dump cost more than a pass)."""
MAX_TOP_UPS = 1
"""Extra passes one load may take."""
FULL_SHARE = 0.9
"""A load weighed at this share of the planned load or more is counted full."""
POUR_S = 2.0
"""Standing time with the bucket tipped, in s."""
MAX_BACK_OUT_M = 0.5
"""Most it backs out along a pass before curling, in m."""
BACK_OUT_MARGIN_M = 0.05
"""It backs out this much less than the pass got, in m."""
BACK_OUT_MPS = 0.08
"""Speed of that back-out, in m/s: the edge runs back through its own cut, at dig speed."""


def haul(task: Earthwork, load: Load, cf: CutFill) -> ScriptBody:
    """Dig, carry and dump one load (see the module docstring); a load with no station
    the rover can reach is counted as skipped. The bucket is weighed after each pass: a
    light one (under :data:`TOP_UP_BELOW_SHARE` of the planned load) digs once more before
    it is carried."""
    st, p, pilot = task.progress, task.params, task.pilot
    if task.expected is None:
        task.expected = st.survey_m.copy() if st.survey_m is not None else np.zeros(p.grid.shape)
    dig = task.stations.dig(load, cf, task.expected, pilot.pose.yaw_rad)
    # Out of a trench the rover backs to where it ran in, and heads for the dump from there.
    leaves = None
    if dig is not None and task.stations.narrow_axis(*load.dig_xy_m) is not None:
        leaves = dig.turn_xy_m
    dump = task.stations.dump(load, pilot.pose.yaw_rad, leaves)
    if dig is None or dump is None:
        log.warning(
            "load %s: no dig or dump station the rover can reach (or this round's passes took "
            "it down already); skipped",
            load,
        )
        st.skipped += 1
        return None
    dx, dy = load.dig_xy_m
    st.phase = f"load {st.loads + 1}: dig at ({dx:.1f}, {dy:.1f})"
    kg = yield from _dig_pass(task, load, dig)
    planned = p.planner.bucket_load_kg
    for _ in range(MAX_TOP_UPS):
        if kg is None or kg >= TOP_UP_BELOW_SHARE * planned:
            break
        # Sized for what is missing: a pass for the whole load on top of what the bucket
        # holds fills it to the brim and heaps the rest ahead of the edge.
        missing = dataclasses.replace(load, mass_kg=planned - kg)
        again = task.stations.dig(missing, cf, task.expected, pilot.pose.yaw_rad)
        if again is None:
            break
        log.info(
            "load %s: the bucket weighs %.1f kg of a planned %.1f: digging again", load, kg, planned
        )
        st.top_ups += 1
        st.phase = f"load {st.loads + 1}: topping up at ({dx:.1f}, {dy:.1f})"
        kg = yield from _dig_pass(task, load, again, kg)
    if kg is not None:
        st.weighed_kg += max(kg, 0.0)
        st.full_loads += kg >= FULL_SHARE * planned
    yield from dump_load(task, load, dump, kg)
    return None


def _dig_pass(
    task: Earthwork, load: Load, dig: DigStation, in_bucket_kg: float = 0.0
) -> Generator[Skill, ActionResult, float | None]:
    """One pass from ``dig``: run in, cut, back out, curl, weigh, and back out to where
    it lined up; answers the bucket's weighed payload (None: it cannot weigh). The
    weighed gain over ``in_bucket_kg`` against what the expected surface said the strip
    held is the pass's cut yield."""
    st, p, pilot = task.progress, task.params, task.pilot
    boom, curl = task.tool.joints[0].name, task.tool.joints[1].name
    carry = task.carry()
    heading, length, stand, run_in = dig.heading_rad, dig.length_m, dig.stand_xy_m, dig.run_in_m
    turn = dig.turn_m
    c, s = math.cos(heading), math.sin(heading)
    st.haul_phase = 1
    yield ToolsTo(pilot, carry)
    yield from task.go(*dig.turn_xy_m, heading)
    speed = min(0.15, p.cruise_speed_mps)
    if run_in > turn:  # turned nearer the stand, clear of the site's edge: back to the start
        yield Straight(pilot, -(run_in - turn), speed, heading, line_through_m=stand)
    # On the pass's line: straddling a trench, each wheel has 6.5 cm to its edge.
    yield Straight(
        pilot, run_in, speed, heading, timeout_s=_timeout_s(run_in, speed), line_through_m=stand
    )
    _, pitch = task.tilt()  # + noses down
    b, cu = task.stations.pitch_compensated(
        dig.boom_rad, dig.curl_rad, dig.z_cut_m, stand, pitch, dig.ground_m
    )
    yield ToolsTo(pilot, {boom: b, curl: cu})
    gain = edge_hold_gain(task.config, task.tool, b, cu)
    start = pilot.pose
    yield DigCut(
        pilot,
        length,
        p.dig_speed_mps,
        heading,
        boom=boom,
        carry_rad=carry[boom],
        hold_gain=gain,
        max_reliefs=DIG_RELIEFS,
    )
    # How far the pass really got, from a wall fix where it stopped: against a cut too
    # heavy for their grip the wheels spin in place, and the estimate ran 0.48 m along a
    # pass the rover made 3 cm of; backing out those 0.43 m, the edge dragged the bank
    # behind the pass back into a 10 cm ridge, where the rover later grounded (trench
    # seed 1). Without walls to fix on, the estimate stands.
    yield WallFix(pilot, task.scanner, task.site_size_m)
    # The expected surface is carved as far as the pass got (a pass the cut's pull
    # stalled took only its first centimetres: the rest is still there to dig).
    end = pilot.pose
    got = (end.x_m - start.x_m) * c + (end.y_m - start.y_m) * s
    if got < length - STALLED_SHORT_M:
        log.info("load %s: dig pass stopped %.2f m into its %.2f m", load, got, length)
    held_kg = 0.0
    if task.expected is not None:
        carved = task.stations.carved(
            task.expected, stand, heading, min(length, max(got, 0.0)), dig.z_cut_m, dig.ground_m
        )
        lowered = np.fmax(np.nan_to_num(task.expected - carved), 0.0)
        cell_m2 = p.grid.cell_size_m**2
        held_kg = float(lowered.sum()) * cell_m2 * p.planner.cut_density_kgpm3
        task.expected = carved
    # Back out along the pass before curling: curled at the face, a full bucket's edge
    # swings forward through the soil and the cut pulls the rover over its front axle
    # (a trench run tipped so with the edge 0.25 m down and only 0.15 m backed out).
    # Only as far as the pass got: backed past where it began, the edge drags the
    # ground there back like a blade, and at a trench's end that heaped a 9 cm ridge
    # where the straddling rover's belly (7 cm clear) then grounded (trench seed 0). The
    # estimate counts the pass's forward slip as travel: a margin keeps the edge in.
    back = max(min(got - BACK_OUT_MARGIN_M, MAX_BACK_OUT_M), 0.0)
    yield ToolsTo(pilot, {boom: _toward(pilot.tools[boom], carry[boom], BACK_OUT_LIFT_RAD)})
    if back > 0.0:
        yield Straight(pilot, -back, BACK_OUT_MPS, heading, line_through_m=stand)
    # Curling swings the edge down and back by up to 9 cm: clear of the ground first, or
    # it drags the ground behind the pass back like a blade (a 10 cm ridge across the
    # trench's start after five loads, where the straddling rover then grounded: trench
    # seed 1). Raised, the bucket tips back, so nothing spills.
    yield ToolsTo(pilot, {boom: _toward(pilot.tools[boom], carry[boom], CURL_CLEAR_RAD)})
    yield ToolsTo(pilot, {curl: carry[curl]})
    yield ToolsTo(pilot, carry)
    weighing = task.weigh()
    yield weighing
    kg = task.scale.payload_kg(weighing.reading)
    if kg is not None:
        st.weighings.append((pilot.sensed.stamp_s, kg))
        if held_kg >= MIN_YIELD_KG:
            st.cut_yields.append((kg - in_bucket_kg) / held_kg)
        log.info(
            "load %s: the bucket weighs %.1f kg (the strip held %.1f by the expected surface)",
            load,
            kg,
            held_kg,
        )
    pilot.pivot_ahead_m = task.poses.pivot_ahead_m(kg)
    st.haul_phase = 2
    # Straight back out to where the pass lined up. Off a trench it straddled, a wall
    # fix there checks it got out before it turns (backing out of a heavy cut the wheels
    # slip, and the estimate ran 0.33 m ahead of a rover whose turn then put a wheel in
    # the trench's end: trench seed 0), and it backs on until it has, however far that
    # is: a turn to drive there forwards, from over the trench, drops a wheel in it (trench
    # seed 1 at 1751 s: held on a ridge 1.9 m short of the entry, it turned round
    # mid-trench and never came out).
    out = max(got, 0.0) + turn - back
    yield Straight(
        pilot, -out, speed, heading, timeout_s=_timeout_s(out, speed), line_through_m=stand
    )
    if turn > p.approach_m:
        yield from travel_direct(
            pilot,
            dig.turn_xy_m,
            heading,
            p.cruise_speed_mps,
            speed,
            task.scanner,
            task.site_size_m,
            tolerance_m=ENTRY_TOLERANCE_M,
            reverse_within_m=math.inf,
        )
    return kg


def _toward(now_rad: float, goal_rad: float, step_rad: float) -> float:
    """``now_rad`` moved ``step_rad`` towards ``goal_rad``, not past it."""
    return (
        goal_rad
        if abs(goal_rad - now_rad) <= step_rad
        else now_rad + math.copysign(step_rad, goal_rad - now_rad)
    )


def _timeout_s(distance_m: float, speed_mps: float) -> float:
    """Time allowed for a straight run: three times its time at speed, 30 s at least."""
    return max(30.0, 3.0 * abs(distance_m) / speed_mps)


def dump_load(
    task: Earthwork,
    load: Load,
    dump: tuple[float, tuple[float, float]],
    load_kg: float | None = None,
) -> ScriptBody:
    """Carry the bucket (curled, the pivot set for ``load_kg`` in it, or a full load when
    it was not weighed) to the dump station ``dump`` (heading, stand), tip it over the
    fill, mark the pile, and back away."""
    st, p, pilot = task.progress, task.params, task.pilot
    boom, curl = task.tool.joints[0].name, task.tool.joints[1].name
    carry = task.carry()
    ux, uy = load.dump_xy_m
    pilot.pivot_ahead_m = task.poses.pivot_ahead_m(load_kg)
    st.haul_phase = 2
    st.phase = f"load {st.loads + 1}: dump at ({ux:.1f}, {uy:.1f})"
    out, dump_stand = dump
    co, so = math.cos(out), math.sin(out)
    yield from task.go(
        dump_stand[0] - p.approach_m * co,
        dump_stand[1] - p.approach_m * so,
        out,
        DUMP_TOLERANCE_M,
    )
    yield Straight(pilot, p.approach_m, min(0.15, p.cruise_speed_mps), out)
    st.haul_phase = 3
    yield ToolsTo(pilot, {boom: task.poses.dump_boom_rad, curl: task.poses.dump_curl_rad})
    yield Hold(pilot, POUR_S)
    task.stations.mark_fill(ux, uy)
    yield ToolsTo(pilot, carry)
    pilot.pivot_ahead_m = task.poses.empty_pivot_ahead_m
    st.haul_phase = 0
    yield Straight(pilot, -p.approach_m, 0.15, out)
    st.loads += 1
    st.planned_kg += load.mass_kg
    st.planned_work_kg_m += load.mass_kg * load.carry_m
    return None
