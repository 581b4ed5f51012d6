"""Placing modules: fetch each unit of an assembly plan from the depot, carry it, set it
down where the design wants it, and check it there by camera.

The plan (:func:`~lunarsite.robot.planning.assembly.plan_assembly`) gives the order and,
for each unit, where the rover stands to grasp it in the depot and to set it down, and
the pre-approach pose before each where it turns. A cycle, all by the rover's own sensing:

1. travel to the pick pre-approach round what stands (the depot's units and those
   already set down, as the rover's own record has them), fixing its position on the
   walls; look for the unit by its markers (:class:`~lunarsite.robot.control.sighting.
   SightUnit`) and move the grasp to where it really stands (a depot unit nudged or
   turned since the depot was laid out); lower the carriage, jaws open, and drive
   straight in;
2. close on the unit (:class:`~lunarsite.robot.control.clamp.CloseOn`: the jaws stop on
   its faces or the grasp failed), lift to the carry height and weigh it
   (:class:`~lunarsite.robot.control.clamp.ClampScale`): a unit weighing short of its
   catalog mass slipped, and it is set back down and grasped again;
3. back out, travel to the place pre-approach and weigh the unit there (one that fell
   on the way is looked for and grasped where it lies); see where it sits in the jaws,
   drive straight in, lower, open the jaws, weigh (nothing should be left in them) and
   back out; a unit the design lays against one already set down is aimed a joint clear
   of it (:func:`~lunarsite.robot.planning.joints.aim_clear_of`);
4. look at the unit from the pre-approach pose: lying off the design, it is grasped
   again where it lies and set down again, unless it touches a unit already placed; its
   error as seen is recorded either way, and the placed units laid against it are
   looked at again (handling it may have knocked them).

Steps 3's weighing and 4, and what the rover does when they fail, are in
:mod:`~lunarsite.robot.tasks.placement_checks`.

A unit that fails :data:`MAX_ATTEMPTS` grasps is skipped with its reason; the task ends
``execution_failed`` naming the units it could not place. Without a camera (or markers)
the rover works blind: steps 1 and 4 skip the looking.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

from ..config import RoverConfig, ToolConfig
from ..control.clamp import CloseOn
from ..control.level import level_pilot
from ..control.motions import ToolsTo
from ..control.payload import Weigh
from ..control.pilot import Pilot, load_pivot_ahead_m
from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, Skill
from ..perception.points import RangeScan
from ..planning.assembly import AssemblyParams, AssemblyPlan, AssemblyStep, unit_rect
from ..planning.assembly_access import AccessMap
from ..planning.joints import aim_clear_of
from ..site.modules import Catalog, ModuleType, Placement
from ..site.unit_markers import UnitMarker
from ..types import CameraFrame, Pose2
from .clamp_moves import PRE_TOLERANCE_M, ClampMoves, Point, stand_for
from .piloted import PilotedScript
from .placement_checks import (
    JAW_MARGIN_M,
    WEIGHT_SHARE,
    jaws_open_rad,
    laid_units,
    recheck_neighbours,
    settle,
    still_held,
    verdict,
)

__all__ = [
    "JAW_MARGIN_M",
    "MAX_ATTEMPTS",
    "PlacementProgress",
    "PlacementTask",
    "PlacementTaskParams",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""Grasps tried per unit before it is skipped."""
LEFT_IN_JAWS_KG = 0.5
"""After the jaws open, more than this on the scale means the unit did not let go."""
EASE_LIFT_M = 0.01
"""Jaws that will not open at a set-down are tried again with the lift this much up, in m
(then twice that, ... :data:`EASE_TRIES` times)."""
EASE_TRIES = 3


@dataclass(frozen=True)
class PlacementTaskParams:
    plan: AssemblyPlan
    catalog: Catalog
    access: AccessMap
    """The planner's access map in its starting state (depot full, nothing placed)."""
    geometry: AssemblyParams
    """The rover's geometry the plan was made with (its radius, and its turning radius
    with a unit in the jaws)."""
    cruise_speed_mps: float = 0.25
    approach_speed_mps: float = 0.1
    carry_height_m: float = 0.15
    """Carriage height above its lowest while carrying, in m."""
    markers: Mapping[int, UnitMarker] = field(default_factory=dict)
    """The depot units' markers by id (none: the rover grasps and sets down blind)."""
    tolerance_m: float = 0.02
    """How far from its design a unit may lie, by the rover's own camera, for the task to
    call the design met, in m."""
    tolerance_yaw_rad: float = math.radians(1.0)
    """... and how far turned from it, in rad."""
    empty_pivot_ahead_m: float = -0.18
    """Where a turn in place with empty jaws pivots, ahead of the chassis centre, in m: a
    skid-steer pivots about its more heavily loaded axle, here the rear one under the
    batteries. Fitted on ``placer_66kg``'s own turns in place of 0.5 rad or more (true
    poses of seven paver_road and five solar_array runs, 665 turns with empty jaws:
    median −0.18 m, quartiles −0.26 and −0.15), as a team would calibrate its rover.
    Without it the estimate stood still while the chassis swung 0.3–0.6 m round a half
    turn."""
    pivot_per_kg_m: float = 0.039
    """How far the pivot moves ahead per kilogram weighed in the jaws (1 m ahead), in m/kg:
    with a 10.8 kg paver the paver runs' 272 turns pivot at +0.25 m (quartiles +0.20 and
    +0.34); with a 4 kg panel, 56 turns at +0.04 m (this rule says −0.02)."""
    max_pivot_ahead_m: float = 0.3
    """The pivot goes no farther ahead than the front axle (half the wheelbase), in m."""

    def within_tolerance(self, off_m: float, off_rad: float) -> bool:
        """Whether a unit seen ``off_m`` and ``off_rad`` off its design meets it."""
        return off_m <= self.tolerance_m and off_rad <= self.tolerance_yaw_rad

    def pivot_ahead_m(self, held_kg: float) -> float:
        """Where a turn in place pivots with ``held_kg`` in the jaws, in m."""
        return load_pivot_ahead_m(
            self.empty_pivot_ahead_m, self.pivot_per_kg_m, self.max_pivot_ahead_m, held_kg
        )


@dataclass
class PlacementProgress:
    placed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    cycle_s: dict[str, float] = field(default_factory=dict)
    weighed_kg: dict[str, float] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    """Per unit, how often the rover arrived at its place without it (weighed light
    there: it fell from the jaws on the way)."""
    gone: set[str] = field(default_factory=set)
    """Units that fell on the way and were not grasped again: not in the depot now."""
    seen_at: dict[str, Placement] = field(default_factory=dict)
    """Per unit, where the rover's camera saw it last (how far off its design:
    :func:`~lunarsite.robot.tasks.placement_checks.seen_errors`)."""
    seen_stamp_s: dict[str, float] = field(default_factory=dict)
    """Per unit, when (the rover's clock, s) the camera saw it last."""
    resets: dict[str, int] = field(default_factory=dict)
    """Per unit, how often the check sent it back to be set down again."""
    handled: list[tuple[float, float, str]] = field(default_factory=list)
    """(from, to, depot unit id): when the rover was handling which unit, in s."""
    current: str | None = None
    phase: str = "starting"


class PlacementTask(PilotedScript):
    """Carry out an assembly plan (see the module docstring)."""

    def __init__(
        self,
        params: PlacementTaskParams,
        config: RoverConfig,
        start: Pose2,
        *,
        control_hz: float,
        scanner: Callable[[], RangeScan] | None = None,
        site_size_m: tuple[float, float] | None = None,
        camera: Callable[[], CameraFrame] | None = None,
    ) -> None:
        self.params = params
        self.config = config
        tool = next((t for t in config.tools if t.kind == "clamp"), None)
        if tool is None:
            raise ValueError(f"rover {config.name!r} has no clamp to place modules with")
        self.tool: ToolConfig = tool
        self.progress = PlacementProgress()
        pilot = Pilot(config, start, control_hz=control_hz)
        pilot.pivot_ahead_m = params.empty_pivot_ahead_m
        self.moves = ClampMoves(
            pilot, config, tool, params, scanner=scanner, site_size_m=site_size_m, camera=camera
        )
        super().__init__(pilot, self._work(), "place modules")

    @property
    def activity(self) -> str:
        return self.progress.phase

    # -- helpers -------------------------------------------------------------------
    def grasp(
        self, q: Placement, module: ModuleType, stand: Point, heading: float, pre: Point
    ) -> Generator[Skill, ActionResult, float | None]:
        """From ``pre``: lower the open jaws, square up on ``heading`` (a unit seen turned
        is grasped turned), drive in to ``stand``, close on the unit, lift it and weigh
        it, back out to ``pre``. Answers its weighed kg (the catalog's where the rover
        cannot weigh), or None when the grasp failed."""
        st, p = self.progress, self.params
        grasp = self.moves.grasp_lift_rad(module)
        open_ = jaws_open_rad(self, module)
        yield ToolsTo(self.pilot, {self.moves.lift: grasp, self.moves.jaws: open_})
        yield from self.moves.run_in(stand, heading, pre)
        close = yield CloseOn(self.pilot, self.tool, module.grasp_width_m)
        if not close.succeeded:
            st.failed[q.id] = close.reason
            yield ToolsTo(self.pilot, {self.moves.jaws: open_})
            yield from self.moves.back_out(pre, heading)
            return None
        yield ToolsTo(self.pilot, {self.moves.lift: self.moves.lift_rad(p.carry_height_m)})
        kg = yield from self.moves.weighed()
        if kg is not None and kg < WEIGHT_SHARE * module.mass_kg:
            st.failed[q.id] = f"it weighed {kg:.1f} kg of {module.mass_kg:g}: it slipped"
            log.info("unit %s: %s; grasping again", q.id, st.failed[q.id])
            yield ToolsTo(self.pilot, {self.moves.lift: grasp})
            yield ToolsTo(self.pilot, {self.moves.jaws: open_})
            yield from self.moves.back_out(pre, heading)
            return None
        st.weighed_kg[q.id] = module.mass_kg if kg is None else kg
        yield from self.moves.back_out(pre, heading)
        return st.weighed_kg[q.id]

    def _fetch(
        self, step: AssemblyStep, module: ModuleType
    ) -> Generator[Skill, ActionResult, float | None]:
        """Grasp the step's depot unit, where the camera sees it, and back out with it;
        answers its weighed kg, or None when the grasp failed."""
        st, p, q = self.progress, self.params, step.placement
        heading, stand = step.pick.yaw_rad, (step.pick.x_m, step.pick.y_m)
        st.phase = f"{q.id}: fetching it from depot slot {step.slot.id}"
        yield from self.moves.go(step.pick_pre_xy_m, heading, p.geometry.body_radius_m)
        stand, heading, pre, _ = yield from self.moves.approach_seen(
            step.slot.id, module, stand, heading, step.pick_pre_xy_m, p.geometry.body_radius_m
        )
        kg = yield from self.grasp(q, module, stand, heading, pre)
        if kg is not None:
            p.access.remove("depot:" + step.slot.id)
        return kg

    def set_down(
        self, step: AssemblyStep, module: ModuleType
    ) -> Generator[Skill, ActionResult, bool]:
        """Carry the held unit to its target and set it down; True when the jaws let go."""
        st, p, q = self.progress, self.params, step.placement
        heading, stand = step.place.yaw_rad, (step.place.x_m, step.place.y_m)
        st.phase = f"{q.id}: carrying it to ({q.x_m:.2f}, {q.y_m:.2f})"
        radius = p.geometry.turn_radius_m(module)
        pre = step.place_pre_xy_m
        yield from self.moves.go(pre, heading, radius)
        if not (yield from still_held(self, step, module)):
            return False
        # Where the unit sits in the jaws, by camera: the rover stands so that the unit,
        # not the jaws' middle, goes down on the target.
        held = yield from self.moves.held_offset(step.slot.id, module)
        if held is not None:
            aim = aim_clear_of(q, module, laid_units(self))
            stand, heading, pre = stand_for(held, aim, heading, math.dist(stand, pre))
            here = self.pilot.pose
            if math.dist(pre, (here.x_m, here.y_m)) > PRE_TOLERANCE_M:
                yield from self.moves.go(pre, heading, radius)
        yield from self.moves.run_in(stand, heading, pre)
        along, beside, yaw = self.moves.offsets(stand, heading)
        log.info(
            "unit %s: setting it down %.3f m short of the stand, %.3f m beside, %.4f rad off"
            " (held %s)", q.id, along, beside, yaw, held,
        )  # fmt: skip
        st.phase = f"{q.id}: setting it down"
        # Down to the height it was picked up at, not to the stop: lowered to the stop,
        # the pads pressed into the ground under the lift's 800 N and their friction there
        # held the jaws shut, and the rover dragged the paver 5 cm back.
        down = self.moves.grasp_lift_rad(module)
        yield ToolsTo(self.pilot, {self.moves.lift: down})
        let_go = jaws_open_rad(self, module)
        opened = yield ToolsTo(self.pilot, {self.moves.jaws: let_go})
        for k in range(1, EASE_TRIES + 1):
            if opened.succeeded:
                break
            # Jaws that will not open on a unit pressed into the ground: ease it up.
            log.info("unit %s: the jaws did not open; easing the lift %d cm", q.id, k)
            ease = k * EASE_LIFT_M / (self.tool.pinion_radius_m or 1.0)
            yield ToolsTo(self.pilot, {self.moves.lift: down + ease})
            opened = yield ToolsTo(self.pilot, {self.moves.jaws: let_go})
        left = yield from self.moves.weighed()
        yield from self.moves.back_out(pre, heading)
        if left is not None and left > LEFT_IN_JAWS_KG:
            # Weighed again away from the ground: a unit that came free backing out
            # is down (the check by camera says where).
            left = yield from self.moves.weighed()
        if left is not None and left > LEFT_IN_JAWS_KG:
            st.failed[q.id] = f"{left:.1f} kg still in the jaws after they opened"
            return False
        st.failed.pop(q.id, None)
        return True

    def _level(self) -> ScriptBody:
        """Find the accelerometer's bias by a half-turn where the rover starts, so its
        wall fixes can level their scans (a paver in the jaws noses the chassis down; see
        :mod:`~lunarsite.robot.perception.walls`). Only a rover that fixes on walls needs
        it, and only where the turn sweeps nothing."""
        if self.moves.scanner is None:
            return None
        here = self.pilot.pose
        xy = (here.x_m, here.y_m)
        if not self.params.access.line_clear(xy, xy, self.params.geometry.body_radius_m):
            log.info("no room to turn where the rover starts: wall fixes taken as level")
            return None
        self.progress.phase = "finding the accelerometer's bias (a half-turn)"
        yield from level_pilot(self.pilot)
        return None

    # -- the work ------------------------------------------------------------------
    def _work(self) -> ScriptBody:
        st = self.progress
        yield ToolsTo(
            self.pilot,
            {
                self.moves.lift: self.moves.lift_rad(0.0),
                self.moves.jaws: self.tool.joints[1].lower_rad,
            },
        )
        w = Weigh(self.pilot, self.moves.lift, self.moves.jaws)
        yield w
        self.moves.scale.tare(w.reading)
        yield from self._level()
        for step in self.params.plan.steps:
            q = step.placement
            module = self.params.catalog.get(q.type)
            assert module is not None
            st.current = q.id
            started = self.pilot.sensed.stamp_s
            st.handled.append((started, math.inf, step.slot.id))
            placed = False
            for attempt in range(1, MAX_ATTEMPTS + 1):
                st.attempts[q.id] = attempt
                held = yield from self._fetch(step, module)
                if held is None:
                    continue
                # A set-down that leaves the unit in the jaws is tried again before the
                # rover goes back to the depot (where that unit no longer stands).
                placed = yield from self.set_down(step, module)
                if not placed and q.id in st.gone:
                    break  # it lies where it fell, not in the depot: nothing to fetch
                if not placed:
                    placed = yield from self.set_down(step, module)
                if placed:
                    yield from settle(self, step, module)
                    yield from recheck_neighbours(self, step, module)
                    break
            st.handled[-1] = (started, self.pilot.sensed.stamp_s, step.slot.id)
            if placed:
                st.placed.append(q.id)
                st.cycle_s[q.id] = self.pilot.sensed.stamp_s - started
                s = step.placement
                self.params.access.add(s.id, unit_rect(s.x_m, s.y_m, s.yaw_rad, module))
            else:
                st.failed.setdefault(q.id, "no grasp held")
                log.warning("unit %s not placed: %s", q.id, st.failed[q.id])
        st.current = None
        st.phase = "done"
        return verdict(self, sighted=self.moves.can_look)
