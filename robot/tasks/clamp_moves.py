"""What a placing rover does with its wheels, its clamp and its camera, move by move.

:class:`ClampMoves` holds the primitives the placement cycle
(:class:`~lunarsite.robot.tasks.placement.PlacementTask`) is written in: travel to a
pre-approach pose round what stands, fixing on the walls; drive straight in to a stand
and line up on it to millimetres; back out; set the lift to a height; weigh what the
jaws hold; look for a unit and move a grasp to where it really stands. Each is a script
body (a generator of skills), run by the task's one pilot.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from ..config import RoverConfig, ToolConfig
from ..control.clamp import ClampScale
from ..control.motions import Straight, ToolsTo, TurnTo
from ..control.payload import Weigh
from ..control.pilot import Pilot
from ..control.sighting import SightUnit
from ..control.travel import travel_direct
from ..control.wall_fix import WallFix
from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, Skill
from ..perception.fiducials import FiducialDetector
from ..perception.points import RangeScan
from ..perception.unit_sighting import UnitSighting
from ..planning.assembly import grasp_heading, grasp_headings
from ..site.modules import ModuleType, Placement
from ..types import CameraFrame, wrap_angle

if TYPE_CHECKING:
    from .placement import PlacementTaskParams

__all__ = [
    "ALIGN_TOLERANCE_M",
    "ALIGN_YAW_RAD",
    "PRE_TOLERANCE_M",
    "ClampMoves",
    "Point",
    "stand_for",
]

log = logging.getLogger(__name__)

Point = tuple[float, float]

PAD_CLEARANCE_M = 0.015
"""The carriage stays at least this far above its stop at a grasp: the pads' bottoms
then clear flat ground by about 2.5 cm as the chassis pitches, in m."""
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
VIEW_LIFTS_M = (0.39, 0.36)
"""The carriage heights at which the unit in the jaws shows the camera its top marker,
tried in turn, in m: at 0.325 m the view's lower edge cut a paver's marker off, the
chassis pitched up on its springs under the load ahead; seen close and steeply, a
marker that does not decode at one height may at another."""
HELD_OFF_M = 0.1
HELD_TURN_RAD = 0.2
"""A unit seen farther off the jaws' middle than these (m, rad) is a misreading."""
HELD_TRUST_M = 0.015
"""A unit seen in the jaws less than this off their middle (ahead or aside) is taken to
sit in their middle, in m. The grasp is aimed at the unit as the camera saw it on the
ground, and drives in on a wall fix: by the truth, pavers sat within 3 mm of the jaws'
middle (12 grasps, paver_road) and solar panels within 3-8 mm (4 grasps). The camera's
reading of a unit held close in front of it is worse: 1-6 mm short, and on 6 of the 12
paver looks 11-13 mm long, which put one paver 1.8 cm off. A reading beyond this is a
unit that slid in the jaws, and the rover stands for it."""
SEEN_MOVES = 2
"""Times the rover moves to a pre-approach pose the camera put elsewhere and looks again."""
ALIGN_TRIES = 3
ALIGN_SPEED_MPS = 0.05
MAX_ROUTE_LEGS = 8
TURN_FIX_RAD = 0.3
"""A turn towards the next corner larger than this is followed by a wall fix, in rad."""
NEAR_CORNER_M = 1.0
"""A corner nearer than this is left to :func:`~lunarsite.robot.control.travel.
travel_direct`'s own moves (along its line, or backing in) rather than faced first: a
turn in place swings the chassis 0.2–0.6 m round its pivot, and the bearing of a point
this near swings with it. Faced first, a pre-approach pose 6 cm behind the rover cost a
3 rad turn, and the next bearing another (paver_road, seed 0: 185 s of a 2,100 s run in
such see-saws)."""
LEG_MIN_SPEED_MPS = 0.1
"""A travel leg may take as long as its length at this speed (at least the usual 30 s):
an 8 m carry at 0.25 m/s needs 32 s plus its ramps, and timed out at 30 s short of its
end, in m/s."""


class ClampMoves:
    """The placing rover's moves (see the module docstring)."""

    def __init__(
        self,
        pilot: Pilot,
        config: RoverConfig,
        tool: ToolConfig,
        params: PlacementTaskParams,
        *,
        scanner: Callable[[], RangeScan] | None,
        site_size_m: tuple[float, float] | None,
        camera: Callable[[], CameraFrame] | None,
    ) -> None:
        self.pilot = pilot
        self.config = config
        self.tool = tool
        self.params = params
        self.lift, self.jaws = tool.joints[0].name, tool.joints[1].name
        self.scanner = scanner
        self.site_size_m = site_size_m
        self.camera = camera
        self.scale = ClampScale(tool)
        self._detector = FiducialDetector(
            {k: m.size_m for k, m in params.markers.items()}, corner_refinement="contour"
        )

    @property
    def can_look(self) -> bool:
        """Whether the rover can sight units: a camera, and markers on them."""
        return self.camera is not None and bool(self.params.markers)

    def lift_rad(self, height_m: float) -> float:
        assert self.tool.pinion_radius_m is not None
        j = self.tool.joints[0]
        return min(
            max(j.lower_rad + height_m / self.tool.pinion_radius_m, j.lower_rad), j.upper_rad
        )

    def go(self, xy: tuple[float, float], heading: float, radius_m: float) -> ScriptBody:
        """Travel to ``xy`` facing ``heading`` round what stands, one corner a leg, the
        carriage up at the carry height (lowered, the pads scrape the ground in a turn
        and swing through whatever stands near: a turn beside the depot slid the rover
        0.4 m into it)."""
        p = self.params
        yield ToolsTo(self.pilot, {self.lift: self.lift_rad(p.carry_height_m)})
        for _ in range(MAX_ROUTE_LEGS):
            here = self.pilot.pose
            corners = p.access.route((here.x_m, here.y_m), xy, radius_m) or [xy]
            # Face the first corner and fix before driving: holding a unit 1 m ahead, a
            # turn in place swings the rover off its spot (0.6 m in a 2.5 rad turn with a
            # paver), and a leg driven from the stale estimate ran it into the road.
            bearing = math.atan2(corners[0][1] - here.y_m, corners[0][0] - here.x_m)
            if math.dist(corners[0], (here.x_m, here.y_m)) > NEAR_CORNER_M and (
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
                min_leg_speed_mps=LEG_MIN_SPEED_MPS,
            )  # fmt: skip
        yield from travel_direct(
            self.pilot, xy, heading, p.cruise_speed_mps, p.approach_speed_mps, self.scanner,
            self.site_size_m, tolerance_m=PRE_TOLERANCE_M, tries=3,
            min_leg_speed_mps=LEG_MIN_SPEED_MPS,
        )  # fmt: skip
        return None

    def grasp_lift_rad(self, module: ModuleType) -> float:
        """The carriage height that puts the pads' middle at the unit's grasp height (or
        as low as it goes), as a lift angle."""
        cfg, tool = self.config, self.tool
        pad_bottom = (
            cfg.chassis.axle_drop_m + cfg.wheels.radius_m + tool.mount_xyz_m[2] - tool.height_m
        )
        lift = module.grasp.height_m - 0.5 * tool.height_m - pad_bottom
        return self.lift_rad(max(lift, PAD_CLEARANCE_M))

    def weighed(self) -> Generator[Skill, ActionResult, float | None]:
        """Weigh what the jaws hold, in kg (None: the rover cannot weigh); the pilot's
        turns in place then pivot where that load puts the pivot."""
        w = Weigh(self.pilot, self.lift, self.jaws)
        yield w
        kg = self.scale.payload_kg(w.reading)
        if kg is not None:
            self.pilot.pivot_ahead_m = self.params.pivot_ahead_m(kg)
        return kg

    def back_out(self, step_pre: tuple[float, float], heading: float) -> ScriptBody:
        """Straight back along ``heading`` to ``step_pre``, when the rover is beyond it."""
        back = -self.offsets(step_pre, heading)[0]
        if back > 0.0:
            yield Straight(
                self.pilot, -back, self.params.approach_speed_mps, heading, line_through_m=step_pre
            )
        return None

    def fix(self, where: tuple[float, float]) -> Generator[Skill, ActionResult, bool]:
        """A wall fix (searching the site when the near one fails); False without one. It
        levels its scan by the chassis' tilt: these are the fixes a unit is set down and
        checked from, and a unit held ahead noses the chassis down."""
        fix = yield WallFix(self.pilot, self.scanner, self.site_size_m, level=True)
        if not fix.succeeded:
            fix = yield WallFix(self.pilot, self.scanner, self.site_size_m, search=True, level=True)
        if not fix.succeeded:
            log.warning("no wall fix near %s: %s; going on by odometry", where, fix.reason)
        return fix.succeeded

    def offsets(self, stand: tuple[float, float], heading: float) -> tuple[float, float, float]:
        """How far the rover is short of ``stand`` along ``heading`` and beside its line
        (m), and off the heading (rad), by its estimate."""
        here = self.pilot.pose
        c, s = math.cos(heading), math.sin(heading)
        dx, dy = stand[0] - here.x_m, stand[1] - here.y_m
        return (dx * c + dy * s, -dx * s + dy * c, wrap_angle(heading - here.yaw_rad))

    def run_in(
        self,
        stand: tuple[float, float],
        heading: float,
        pre: tuple[float, float],
    ) -> ScriptBody:
        """Drive straight in from ``pre`` to ``stand`` along ``heading`` and fix on the
        walls; close what is left along the line to :data:`ALIGN_TOLERANCE_M` (a loaded
        rover's wheels slip: over a 0.76 m run-in the estimate ran up to 6.6 cm ahead of
        the rover, and the paver went down that far short). A skid-steer cannot move
        sideways: it squares up on ``heading`` before it drives in, and a rover more than
        :data:`LATERAL_TOLERANCE_M` beside the line or off the heading by more than
        :data:`ALIGN_YAW_RAD` backs out to ``pre`` and drives in again."""
        p = self.params
        # Steer onto the line with the jaws' reach: they stay on it (round the unit, or
        # the unit in them over its target) while the body closes on it; steered like a
        # bare rover, a jaw swung 7 cm aside and struck the unit it was to grasp.
        reach = p.geometry.grip_ahead_m
        for attempt in range(ALIGN_TRIES):
            # Square up before the run-in, not at the stand: a turn in place shifts a
            # skid-steer by centimetres, and with the pads lowered round a unit on the
            # ground it would turn the unit with them.
            if abs(self.offsets(stand, heading)[2]) > ALIGN_YAW_RAD:
                yield TurnTo(
                    self.pilot, heading, tolerance_rad=0.5 * ALIGN_YAW_RAD, deadband_rad=0.0
                )
                yield from self.fix(pre)
            along, _, _ = self.offsets(stand, heading)
            yield Straight(
                self.pilot, along, p.approach_speed_mps, heading, line_through_m=stand,
                line_lookahead_m=reach,
            )  # fmt: skip
            if not (yield from self.fix(stand)):
                return None
            for _ in range(ALIGN_TRIES):
                along, _, _ = self.offsets(stand, heading)
                if abs(along) <= ALIGN_TOLERANCE_M:
                    break
                yield Straight(
                    self.pilot, along, ALIGN_SPEED_MPS, heading, line_through_m=stand,
                    line_lookahead_m=reach,
                )  # fmt: skip
                if not (yield from self.fix(stand)):
                    return None
            _, beside, yaw = self.offsets(stand, heading)
            if abs(beside) <= LATERAL_TOLERANCE_M and abs(yaw) <= ALIGN_YAW_RAD:
                return None
            if attempt + 1 < ALIGN_TRIES:
                log.info("%.3f m beside the line to %s, %.3f rad off: in again", beside, stand, yaw)
                back, _, _ = self.offsets(pre, heading)
                yield Straight(
                    self.pilot, back, ALIGN_SPEED_MPS * 2.0, heading, line_through_m=stand
                )
        return None

    def sighted(
        self, unit_id: str, module: ModuleType, stand: Point, heading: float, pre: Point
    ) -> Generator[Skill, ActionResult, tuple[Point, float, Point, UnitSighting | None]]:
        """Look for the unit and move the grasp to where it stands: (stand, heading, pre)
        for a unit seen there, the rover still facing along the same side of it; those
        given, and None, when it is not seen (no camera, no markers, out of the frame)."""
        if not self.can_look:
            return stand, heading, pre, None
        look = SightUnit(self.pilot, self.camera, self._detector, self.params.markers, unit_id)
        yield look
        seen = look.seen
        if seen is None:
            return stand, heading, pre, None
        h = grasp_heading(seen.yaw_rad, module, heading)
        grip, run = self.params.geometry.grip_ahead_m, math.dist(stand, pre)
        c, s = math.cos(h), math.sin(h)
        new_stand = (seen.x_m - grip * c, seen.y_m - grip * s)
        new_pre = (new_stand[0] - run * c, new_stand[1] - run * s)
        moved = math.dist(new_stand, stand)
        if moved > 0.01 or abs(wrap_angle(h - heading)) > ALIGN_YAW_RAD:
            log.info(
                "unit %s stands %.3f m and %.3f rad from where it was thought to be",
                unit_id, moved, wrap_angle(h - heading),
            )  # fmt: skip
        return new_stand, h, new_pre, seen

    def approach_seen(
        self,
        unit_id: str,
        module: ModuleType,
        stand: Point,
        heading: float,
        pre: Point,
        radius_m: float,
    ) -> Generator[Skill, ActionResult, tuple[Point, float, Point, UnitSighting | None]]:
        """:meth:`sighted`, and when the unit stands so far from where it was thought to
        be that its pre-approach pose moved more than :data:`PRE_TOLERANCE_M` (a unit
        turned 0.15 rad moves it 0.15 m aside), travel there and look again: a skid-steer
        cannot drive in sideways, and one that tried struck the unit with a jaw."""
        seen = None
        for _ in range(SEEN_MOVES + 1):
            stand, heading, pre, seen = yield from self.sighted(
                unit_id, module, stand, heading, pre
            )
            here = self.pilot.pose
            if seen is None or math.dist(pre, (here.x_m, here.y_m)) <= PRE_TOLERANCE_M:
                break
            yield from self.go(pre, heading, radius_m)
        return stand, heading, pre, seen

    def held_offset(
        self, unit_id: str, module: ModuleType
    ) -> Generator[Skill, ActionResult, tuple[float, float, float] | None]:
        """Where the unit in the jaws sits on the rover: raise it into the camera's view
        (:data:`VIEW_LIFTS_M`), look, lower it back to the carry height. Answers its
        centre ahead of and left of the rover's centre and its turn from the rover's
        heading (m, m, rad; the turn as the grasp axis lies, within a quarter turn), or
        None when the rover cannot see it or it sits implausibly far off. A centre seen
        within :data:`HELD_TRUST_M` of the jaws' middle is answered as the middle."""
        if not self.can_look:
            return None
        seen = None
        for height in VIEW_LIFTS_M:
            yield ToolsTo(self.pilot, {self.lift: self.lift_rad(height)})
            look = SightUnit(self.pilot, self.camera, self._detector, self.params.markers, unit_id)
            yield look
            if (seen := look.seen) is not None:
                break
        yield ToolsTo(self.pilot, {self.lift: self.lift_rad(self.params.carry_height_m)})
        here = self.pilot.pose
        if seen is None:
            return None
        c, s = math.cos(here.yaw_rad), math.sin(here.yaw_rad)
        dx, dy = seen.x_m - here.x_m, seen.y_m - here.y_m
        ahead, left = c * dx + s * dy, -s * dx + c * dy
        turn = wrap_angle(grasp_headings(seen.yaw_rad, module)[0] - here.yaw_rad)
        if abs(turn) > 0.5 * math.pi:
            turn = wrap_angle(turn - math.pi)
        grip = self.params.geometry.grip_ahead_m
        if abs(ahead - grip) > HELD_OFF_M or abs(left) > HELD_OFF_M or abs(turn) > HELD_TURN_RAD:
            log.warning(
                "unit %s seen %.3f m ahead, %.3f m left, %.3f rad turned in the jaws: ignored",
                unit_id, ahead, left, turn,
            )  # fmt: skip
            return None
        log.info("unit %s sits %+.3f m, %+.3f m, %+.3f rad off the jaws' middle",
                 unit_id, ahead - grip, left, turn)  # fmt: skip
        if math.hypot(ahead - grip, left) < HELD_TRUST_M:
            ahead, left = grip, 0.0  # within the camera's own error of the middle
        return ahead, left, turn


def stand_for(
    held: tuple[float, float, float], target: Placement, heading: float, run_m: float
) -> tuple[Point, float, Point]:
    """Where to stand, facing which way, and the pre-approach pose ``run_m`` behind, to
    set a unit held at ``held`` (:meth:`ClampMoves.held_offset`: ahead, left, turn) down
    on ``target``, the rover facing about ``heading``."""
    ahead, left, turn = held
    h = wrap_angle(heading - turn)
    c, s = math.cos(h), math.sin(h)
    stand = (target.x_m - (c * ahead - s * left), target.y_m - (s * ahead + c * left))
    return stand, h, (stand[0] - run_m * c, stand[1] - run_m * s)
