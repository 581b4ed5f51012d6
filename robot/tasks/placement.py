"""Placing modules: fetch each unit of an assembly plan from the depot, carry it, set it
down where the design wants it.

The plan (:func:`~lunarsite.robot.planning.assembly.plan_assembly`) gives the order and,
for each unit, where the rover stands to grasp it in the depot and to set it down, and
the pre-approach pose before each where it turns. A cycle, all by the rover's own sensing:

1. travel to the pick pre-approach round what stands (the depot's units and those
   already set down, as the rover's own record has them), fixing its position on the
   walls; lower the carriage, jaws open, and drive straight in;
2. close on the unit (:class:`~lunarsite.robot.control.clamp.CloseOn`: the jaws stop on
   its faces or the grasp failed), lift to the carry height and weigh it
   (:class:`~lunarsite.robot.control.clamp.ClampScale`): a unit weighing short of its
   catalog mass slipped, and it is set back down and grasped again;
3. back out, travel to the place pre-approach, drive straight in, lower, open the jaws,
   weigh (nothing should be left in them) and back out.

A unit that fails :data:`MAX_ATTEMPTS` grasps is skipped with its reason; the task ends
``execution_failed`` naming the units it could not place.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from ..config import RoverConfig, ToolConfig
from ..control.clamp import ClampScale, CloseOn
from ..control.motions import Straight, ToolsTo, TurnTo, WallFix
from ..control.payload import Weigh
from ..control.pilot import Pilot
from ..control.travel import travel_direct
from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, ActionStatus, Skill
from ..perception.mapping import RangeScan
from ..planning.assembly import AssemblyParams, AssemblyPlan, AssemblyStep, unit_rect
from ..planning.assembly_access import AccessMap
from ..site.modules import Catalog, ModuleType
from ..types import Pose2, wrap_angle
from .piloted import PilotedScript

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
WEIGHT_SHARE = 0.6
"""A held unit must weigh at least this share of its catalog mass, else it slipped."""
LEFT_IN_JAWS_KG = 0.5
"""After the jaws open, more than this on the scale means the unit did not let go."""
JAW_MARGIN_M = 0.04
"""The jaws go in this much wider than the unit on each side, and open this much to let
it go: wide open they would sweep its neighbours (depot units stand 0.1 m apart), in m."""
PAD_CLEARANCE_M = 0.015
"""The carriage stays at least this far above its stop at a grasp: the pads' bottoms
then clear flat ground by about 2.5 cm as the chassis pitches, in m."""
EASE_LIFT_M = 0.01
"""Jaws that will not open at a set-down are tried again with the lift this much up."""
PRE_TOLERANCE_M = 0.04
"""Wall fixes are repeated until the rover stands this close to a pre-approach pose."""
ALIGN_TOLERANCE_M = 0.008
"""At a grasp or a set-down the rover closes the distance left along its line until a
wall fix puts it within this, in m."""
ALIGN_YAW_RAD = 0.01
"""... and squares up in place when its heading is off by more than this, in rad."""
LATERAL_TOLERANCE_M = 0.01
"""... and drives in again from the pre-approach pose when more than this beside its
line, in m."""
ALIGN_TRIES = 3
ALIGN_SPEED_MPS = 0.05
MAX_ROUTE_LEGS = 8
TURN_FIX_RAD = 0.3
"""A turn towards the next corner larger than this is followed by a wall fix, in rad."""


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


@dataclass
class PlacementProgress:
    placed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    cycle_s: dict[str, float] = field(default_factory=dict)
    weighed_kg: dict[str, float] = field(default_factory=dict)
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
    ) -> None:
        self.params = params
        self.config = config
        tool = next((t for t in config.tools if t.kind == "clamp"), None)
        if tool is None:
            raise ValueError(f"rover {config.name!r} has no clamp to place modules with")
        self.tool: ToolConfig = tool
        self.lift, self.jaws = tool.joints[0].name, tool.joints[1].name
        self.scanner = scanner
        self.site_size_m = site_size_m
        self.scale = ClampScale(tool)
        self.progress = PlacementProgress()
        self._now_s = 0.0
        pilot = Pilot(config, start, control_hz=control_hz)
        super().__init__(pilot, self._work(), "place modules")

    @property
    def activity(self) -> str:
        return self.progress.phase

    # -- helpers -------------------------------------------------------------------
    def _lift_rad(self, height_m: float) -> float:
        assert self.tool.pinion_radius_m is not None
        j = self.tool.joints[0]
        return min(
            max(j.lower_rad + height_m / self.tool.pinion_radius_m, j.lower_rad), j.upper_rad
        )

    def _go(self, xy: tuple[float, float], heading: float, radius_m: float) -> ScriptBody:
        """Travel to ``xy`` facing ``heading`` round what stands, one corner a leg, the
        carriage up at the carry height (lowered, the pads scrape the ground in a turn
        and swing through whatever stands near: a turn beside the depot slid the rover
        0.4 m into it)."""
        p = self.params
        yield ToolsTo(self.pilot, {self.lift: self._lift_rad(p.carry_height_m)})
        for _ in range(MAX_ROUTE_LEGS):
            here = self.pilot.pose
            corners = p.access.route((here.x_m, here.y_m), xy, radius_m) or [xy]
            # Face the first corner and fix before driving: holding a unit 1 m ahead, a
            # turn in place swings the rover off its spot (0.6 m in a 2.5 rad turn with a
            # paver), and a leg driven from the stale estimate ran it into the road.
            bearing = math.atan2(corners[0][1] - here.y_m, corners[0][0] - here.x_m)
            if math.dist(corners[0], (here.x_m, here.y_m)) > PRE_TOLERANCE_M and (
                abs(wrap_angle(bearing - here.yaw_rad)) > TURN_FIX_RAD
            ):
                yield TurnTo(self.pilot, bearing)
                yield WallFix(self.pilot, self.scanner, self.site_size_m, search=True)
                continue
            if len(corners) == 1:
                break
            (cx, cy), (nx, ny) = corners[0], corners[1]
            yield from travel_direct(
                self.pilot, corners[0], math.atan2(ny - cy, nx - cx), p.cruise_speed_mps,
                p.approach_speed_mps, self.scanner, self.site_size_m, tolerance_m=0.15, tries=1,
            )  # fmt: skip
        yield from travel_direct(
            self.pilot, xy, heading, p.cruise_speed_mps, p.approach_speed_mps, self.scanner,
            self.site_size_m, tolerance_m=PRE_TOLERANCE_M, tries=3,
        )  # fmt: skip
        return None

    def _grasp_lift_rad(self, module: ModuleType) -> float:
        """The carriage height that puts the pads' middle at the unit's grasp height (or
        as low as it goes), as a lift angle."""
        cfg, tool = self.config, self.tool
        pad_bottom = (
            cfg.chassis.axle_drop_m + cfg.wheels.radius_m + tool.mount_xyz_m[2] - tool.height_m
        )
        lift = module.grasp.height_m - 0.5 * tool.height_m - pad_bottom
        return self._lift_rad(max(lift, PAD_CLEARANCE_M))

    def _weighed(self) -> Generator[Skill, ActionResult, float | None]:
        """Weigh what the jaws hold, in kg (None: the rover cannot weigh)."""
        w = Weigh(self.pilot, self.lift, self.jaws)
        yield w
        return self.scale.payload_kg(w.reading)

    def _back_out(self, step_pre: tuple[float, float], heading: float) -> ScriptBody:
        """Straight back along ``heading`` to ``step_pre``, when the rover is beyond it."""
        back = -self._offsets(step_pre, heading)[0]
        if back > 0.0:
            yield Straight(
                self.pilot, -back, self.params.approach_speed_mps, heading, line_through_m=step_pre
            )
        return None

    def _fix(self, where: tuple[float, float]) -> Generator[Skill, ActionResult, bool]:
        """A wall fix (searching the site when the near one fails); False without one."""
        fix = yield WallFix(self.pilot, self.scanner, self.site_size_m)
        if not fix.succeeded:
            fix = yield WallFix(self.pilot, self.scanner, self.site_size_m, search=True)
        if not fix.succeeded:
            log.warning("no wall fix near %s: %s; going on by odometry", where, fix.reason)
        return fix.succeeded

    def _offsets(self, stand: tuple[float, float], heading: float) -> tuple[float, float, float]:
        """How far the rover is short of ``stand`` along ``heading`` and beside its line
        (m), and off the heading (rad), by its estimate."""
        here = self.pilot.pose
        c, s = math.cos(heading), math.sin(heading)
        dx, dy = stand[0] - here.x_m, stand[1] - here.y_m
        return (dx * c + dy * s, -dx * s + dy * c, wrap_angle(heading - here.yaw_rad))

    def _run_in(
        self,
        stand: tuple[float, float],
        heading: float,
        pre: tuple[float, float],
        *,
        square_up: bool,
    ) -> ScriptBody:
        """Drive straight in from ``pre`` to ``stand`` along ``heading`` and fix on the
        walls; close what is left along the line to :data:`ALIGN_TOLERANCE_M` (a loaded
        rover's wheels slip: over a 0.76 m run-in the estimate ran up to 6.6 cm ahead of
        the rover, and the paver went down that far short). A skid-steer cannot move
        sideways: a rover more than :data:`LATERAL_TOLERANCE_M` beside the line (or,
        ``square_up``, off the heading by more than :data:`ALIGN_YAW_RAD`) backs out to
        ``pre`` and drives in again, squared up first."""
        p = self.params
        for attempt in range(ALIGN_TRIES):
            # Square up before the run-in, not at the stand: a turn in place shifts a
            # skid-steer by centimetres, and with the pads lowered round a unit on the
            # ground it would turn the unit with them.
            if (square_up or attempt > 0) and abs(self._offsets(stand, heading)[2]) > ALIGN_YAW_RAD:
                yield TurnTo(
                    self.pilot, heading, tolerance_rad=0.5 * ALIGN_YAW_RAD, deadband_rad=0.0
                )
                yield from self._fix(pre)
            along, _, _ = self._offsets(stand, heading)
            yield Straight(self.pilot, along, p.approach_speed_mps, heading, line_through_m=stand)
            if not (yield from self._fix(stand)):
                return None
            for _ in range(ALIGN_TRIES):
                along, _, _ = self._offsets(stand, heading)
                if abs(along) <= ALIGN_TOLERANCE_M:
                    break
                yield Straight(self.pilot, along, ALIGN_SPEED_MPS, heading, line_through_m=stand)
                if not (yield from self._fix(stand)):
                    return None
            _, beside, yaw = self._offsets(stand, heading)
            if abs(beside) <= LATERAL_TOLERANCE_M and (not square_up or abs(yaw) <= ALIGN_YAW_RAD):
                return None
            if attempt + 1 < ALIGN_TRIES:
                log.info("%.3f m beside the line to %s, %.3f rad off: in again", beside, stand, yaw)
                back, _, _ = self._offsets(pre, heading)
                yield Straight(
                    self.pilot, back, ALIGN_SPEED_MPS * 2.0, heading, line_through_m=stand
                )
        return None

    def _fetch(
        self, step: AssemblyStep, module: ModuleType
    ) -> Generator[Skill, ActionResult, float | None]:
        """Grasp the step's depot unit and back out with it; answers its weighed kg
        (the catalog's where the rover cannot weigh), or None when the grasp failed."""
        st, p, q = self.progress, self.params, step.placement
        heading, stand = step.pick.yaw_rad, (step.pick.x_m, step.pick.y_m)
        st.phase = f"{q.id}: fetching it from depot slot {step.slot.id}"
        yield from self._go(step.pick_pre_xy_m, heading, p.geometry.body_radius_m)
        grasp = self._grasp_lift_rad(module)
        open_ = self.tool.squeeze_for_m(module.grasp_width_m + 2.0 * JAW_MARGIN_M)
        yield ToolsTo(self.pilot, {self.lift: grasp, self.jaws: open_})
        yield from self._run_in(stand, heading, step.pick_pre_xy_m, square_up=False)
        close = yield CloseOn(self.pilot, self.tool, module.grasp_width_m)
        if not close.succeeded:
            st.failed[q.id] = close.reason
            yield ToolsTo(self.pilot, {self.jaws: open_})
            yield from self._back_out(step.pick_pre_xy_m, heading)
            return None
        yield ToolsTo(self.pilot, {self.lift: self._lift_rad(p.carry_height_m)})
        kg = yield from self._weighed()
        if kg is not None and kg < WEIGHT_SHARE * module.mass_kg:
            st.failed[q.id] = f"it weighed {kg:.1f} kg of {module.mass_kg:g}: it slipped"
            log.info("unit %s: %s; grasping again", q.id, st.failed[q.id])
            yield ToolsTo(self.pilot, {self.lift: grasp})
            yield ToolsTo(self.pilot, {self.jaws: open_})
            yield from self._back_out(step.pick_pre_xy_m, heading)
            return None
        st.weighed_kg[q.id] = module.mass_kg if kg is None else kg
        p.access.remove("depot:" + step.slot.id)
        yield from self._back_out(step.pick_pre_xy_m, heading)
        return st.weighed_kg[q.id]

    def _set_down(
        self, step: AssemblyStep, module: ModuleType
    ) -> Generator[Skill, ActionResult, bool]:
        """Carry the held unit to its target and set it down; True when the jaws let go."""
        st, p, q = self.progress, self.params, step.placement
        heading, stand = step.place.yaw_rad, (step.place.x_m, step.place.y_m)
        st.phase = f"{q.id}: carrying it to ({q.x_m:.2f}, {q.y_m:.2f})"
        yield from self._go(step.place_pre_xy_m, heading, p.geometry.turn_radius_m(module))
        yield from self._run_in(stand, heading, step.place_pre_xy_m, square_up=True)
        st.phase = f"{q.id}: setting it down"
        # Down to the height it was picked up at, not to the stop: lowered to the stop,
        # the pads pressed into the ground under the lift's 800 N and their friction there
        # held the jaws shut, and the rover dragged the paver 5 cm back.
        down = self._grasp_lift_rad(module)
        yield ToolsTo(self.pilot, {self.lift: down})
        let_go = self.tool.squeeze_for_m(module.grasp_width_m + 2.0 * JAW_MARGIN_M)
        opened = yield ToolsTo(self.pilot, {self.jaws: let_go})
        if not opened.succeeded:
            # Jaws that will not open on a unit pressed into the ground: ease it up.
            log.info("unit %s: the jaws did not open; easing the lift and trying again", q.id)
            yield ToolsTo(
                self.pilot, {self.lift: down + EASE_LIFT_M / (self.tool.pinion_radius_m or 1.0)}
            )
            yield ToolsTo(self.pilot, {self.jaws: let_go})
        left = yield from self._weighed()
        yield from self._back_out(step.place_pre_xy_m, heading)
        if left is not None and left > LEFT_IN_JAWS_KG:
            st.failed[q.id] = f"{left:.1f} kg still in the jaws after they opened"
            return False
        st.failed.pop(q.id, None)
        return True

    # -- the work ------------------------------------------------------------------
    def _work(self) -> ScriptBody:
        st = self.progress
        yield ToolsTo(
            self.pilot, {self.lift: self._lift_rad(0.0), self.jaws: self.tool.joints[1].lower_rad}
        )
        w = Weigh(self.pilot, self.lift, self.jaws)
        yield w
        self.scale.tare(w.reading)
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
                placed = yield from self._set_down(step, module)
                if placed:
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
        if st.failed:
            names = ", ".join(f"{k} ({v})" for k, v in st.failed.items())
            return ActionResult(ActionStatus.EXECUTION_FAILED, f"units not placed: {names}")
        return ActionResult(ActionStatus.SUCCEEDED, f"{len(st.placed)} units placed")
