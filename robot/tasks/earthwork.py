"""Earthwork: survey, plan, dig, carry, dump, survey again, until the survey meets the design.

:class:`Earthwork` is a script of motion skills over one
:class:`~lunarsite.robot.control.pilot.Pilot`, like the dig-and-dump task, but its work
comes from a plan and its end from its own survey:

1. **Level** the accelerometer by a half-turn on the spot
   (:func:`~lunarsite.robot.control.level.level_pilot`).
2. **Survey** (:mod:`.earthwork_survey`) from poses round the work area, end-on to each
   trench, and over the borrow and spoil the last plan used: at each, stand, lower
   the bucket out of the camera's view, take a depth frame, place it with the estimate
   and the tilt at rest, and fuse it into a round of
   :class:`~lunarsite.robot.perception.site_survey.SiteSurvey` (one datum for all rounds).
3. **Judge.** After the first survey the designs are laid on the ground once
   (:meth:`~lunarsite.robot.site.design.Design.resolve`). When every design has
   ``done_share`` of its cells known and within tolerance on the survey, the task
   succeeds; the truth is never read. A survey that saw too little is taken again,
   once; then the rover works on what it saw (it cannot be judged met until seen).
4. **Plan** cut and fill, the transport flows and the loads
   (:mod:`lunarsite.robot.planning.earthwork`, :mod:`~lunarsite.robot.planning.hauls`);
   a plan that cannot balance ends the task ``planning_failed`` with the shortfall.
5. **Haul** up to ``loads_per_round`` loads, each from a station
   (:mod:`.earthwork_stations`): travel round deep cuts and fresh fill, a dig pass one
   layer deep with the edge set for the chassis' pitch, back out, carry, tip the bucket
   over the fill; the expected surface is carved after each pass and each pour is fresh
   fill at once. Loads no station reaches are skipped; two rounds in a row that haul
   nothing end the task ``execution_failed``. Then survey again and replan.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ..config import RoverConfig
from ..control.bucket import BucketPoses, dig_angles_rad, dig_bucket
from ..control.level import level_pilot
from ..control.motions import ToolsTo
from ..control.payload import BucketScale, Weigh
from ..control.pilot import Pilot
from ..control.travel import travel_direct
from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, ActionStatus
from ..perception.estimation import tilt_from_gravity
from ..perception.fiducials import CameraMount
from ..perception.points import BodyBox, RangeScan
from ..perception.site_survey import SiteSurvey
from ..planning.earthwork import (
    PlanningError,
    combine_designs,
    cut_fill,
    haul_flows,
)
from ..planning.hauls import plan_loads
from ..site.design import DesignError, bounding_box
from ..site.grid import FloatArray
from ..site.survey import region_weights
from ..types import CameraFrame, Pose2
from .earthwork_grading import grade_round
from .earthwork_haul import haul
from .earthwork_params import EarthworkProgress, EarthworkTaskParams
from .earthwork_recovery import unstick
from .earthwork_stations import DEEP_CUT_M, Stations
from .earthwork_survey import LOOK_EDGE_HEIGHT_M, survey_round
from .piloted import PilotedScript

__all__ = ["Earthwork", "EarthworkProgress", "EarthworkTaskParams"]

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]

REFERENCE_GAP_M = 0.3
"""Cells this close to a design's outline are no datum for registering survey frames
(spill and slumping reach past the footprint), in m."""
FRESH_FILL_M = 0.05
"""Ground risen this much since the first survey is fresh fill: the wheels keep off it
(loose soil a wheel sinks and spins in), in m."""
DIG_TOLERANCE_M = 0.05
"""How near its dig station's run-in a wall fix must find the rover, in m (a pass is a
bucket wide: its place matters to a few centimetres)."""
CORNER_TOLERANCE_M = 0.2
"""A route's corner is reached when the rover is this near it, in m (the route is planned
again from wherever the wall fix there finds it)."""
MAX_ROUTE_LEGS = 8
"""Legs one trip may drive round the work before it heads straight for its goal."""
BLIND_RESURVEYS = 1
"""Surveys taken again in a row when one saw too little of the designs; after that the
rover works on what it saw (the same poses would see the same again)."""
IDLE_ROUNDS = 1
"""Rounds in a row allowed to haul nothing (every load's station out of reach) before the
task ends ``execution_failed``: one more survey may show the ground the stations need."""


class Earthwork(PilotedScript):
    """The earthwork task (see the module docstring).

    Args:
        params: the designs, the survey grid, the planner and the zones.
        config: the rover file (a bucket on a boom, a camera).
        start: the surveyed start pose.
        control_hz: the loop's rate, in Hz.
        camera: takes a depth frame now.
        scanner: a level range scanner for wall fixes, or None.
        site_size_m: the site's size (stations keep clear of its edges; with a scanner,
            the walls it fixes on), or None.

    Raises:
        ValueError: the rover has no two-joint bucket or no camera.
    """

    def __init__(
        self,
        params: EarthworkTaskParams,
        config: RoverConfig,
        start: Pose2,
        *,
        control_hz: float,
        camera: Callable[[], CameraFrame],
        scanner: Callable[[], RangeScan] | None = None,
        site_size_m: tuple[float, float] | None = None,
    ) -> None:
        tool = dig_bucket(config)
        if tool is None:
            raise ValueError(f"rover {config.name!r} has no bucket on a boom (two joints)")
        if config.camera is None:
            raise ValueError(f"rover {config.name!r} has no camera to survey with")
        self.params = params
        self.config = config
        self.tool = tool
        self.poses = BucketPoses()
        self.mount = CameraMount.from_config(config.camera)
        self.body = BodyBox.for_rover(config)
        self.pilot = Pilot(config, start, control_hz=control_hz)
        self.camera = camera
        self.scanner = scanner
        self.site_size_m = site_size_m
        self.progress = EarthworkProgress()
        reference = np.ones(params.grid.shape, dtype=bool)
        g = params.grid
        for d in params.designs:  # the work changes these: they are no datum
            box = bounding_box(d.outline_xy_m(), REFERENCE_GAP_M)
            reference &= (
                region_weights(g.shape, g.cell_size_m, g.origin_xy_m, box, subsamples=1) <= 0.5
            )
        for mask in (params.borrow_mask, params.spoil_mask):
            if mask is not None:
                reference &= ~mask
        self.survey = SiteSurvey(params.grid, reference, params.survey)
        self.ride_m = config.chassis.axle_drop_m + config.wheels.radius_m
        self.pilot.pivot_ahead_m = self.poses.empty_pivot_ahead_m
        self.scale = BucketScale(config, tool)
        """The bucket's payload scale (by the boom's effort), tared at the start."""
        self.zones_in_use: set[str] = {"borrow", "spoil"}
        """Zones (``"borrow"``, ``"spoil"``) the last plan dug from or dumped into: the
        survey covers them (all of them before the first plan)."""
        self.expected: FloatArray | None = None
        """The surface the rover expects after its passes since the last survey."""
        # Held high to carry, the bucket hides the ground nearer than ~2.7 m from the mast
        # camera; for a survey frame it is lowered to just above the ground, below the
        # camera's field of view.
        look = dig_angles_rad(config, tool, -LOOK_EDGE_HEIGHT_M, self.poses)
        boom, curl = tool.joints[0].name, tool.joints[1].name
        self.look = (
            {boom: look[0], curl: look[1]}
            if look is not None
            else {boom: self.poses.carry_boom_rad, curl: self.poses.carry_curl_rad}
        )
        self.stations = Stations(
            config,
            tool,
            self.poses,
            params,
            site_size_m,
            self.ground_under,
        )
        self._on_modules = self._modules_mask()
        if params.modules:  # known from the start: the first survey's routes go round
            self.stations.deep_cut = self._on_modules
        self.pilot.keep_out = lambda x, y: not self.stations.standable(x, y)
        super().__init__(self.pilot, self._work(), "earthwork")

    @property
    def activity(self) -> str:
        st = self.progress
        return f"{st.phase}; {st.loads} loads, {st.rounds} surveys"

    def _on_cancel(self, reason: str) -> str:
        super()._on_cancel(reason)
        st = self.progress
        return f"{reason} after {st.loads} loads and {st.rounds} surveys, during {st.phase}"

    # ------------------------------------------------------------------ script
    def _work(self) -> ScriptBody:
        st, p = self.progress, self.params
        carry = self.carry()
        st.phase = "calibrating"
        yield ToolsTo(self.pilot, carry)
        # Standing with the bucket empty at its carry pose: the payload scale's zero.
        boom, curl = self.tool.joints[0].name, self.tool.joints[1].name
        tare = Weigh(self.pilot, boom, curl)
        yield tare
        self.scale.tare(tare.reading)
        st.phase = "levelling the accelerometer"
        yield from level_pilot(self.pilot)
        yield from survey_round(self)
        assert st.survey_m is not None
        if self.pilot.stuck:
            return ActionResult(ActionStatus.EXECUTION_FAILED, self._stuck_text())
        try:
            st.designs = tuple(d.resolve(p.grid, st.survey_m) for d in p.designs)
        except DesignError as exc:
            return ActionResult(ActionStatus.PLANNING_FAILED, f"design: {exc}")
        first = st.survey_m
        with np.errstate(invalid="ignore"):
            target = combine_designs(st.designs, p.grid)
            self.stations.deep_cut = ((first - target) > DEEP_CUT_M) | self._on_modules
        blind = idle = 0  # surveys in a row that saw too little; rounds that hauled nothing
        while True:
            if self.pilot.stuck:
                return ActionResult(ActionStatus.EXECUTION_FAILED, self._stuck_text())
            with np.errstate(invalid="ignore"):
                self.stations.fresh_fill = (st.survey_m - first) > FRESH_FILL_M
            st.scores = {d.name: d.judge(st.survey_m) for d in st.designs}
            if all(d.met(st.survey_m, p.done_share) for d in st.designs):
                st.phase = "done"
                return ActionResult(
                    ActionStatus.SUCCEEDED,
                    f"design met on the rover's own survey after {st.loads} loads",
                )
            if st.rounds > p.max_rounds:
                return ActionResult(
                    ActionStatus.EXECUTION_FAILED,
                    f"design not met after {st.rounds} surveys: {self._score_text()}",
                )
            if min(sc.coverage for sc in st.scores.values()) < p.done_share:
                blind += 1
                if blind <= BLIND_RESURVEYS:
                    log.warning(
                        "survey %d saw too little of the designs; surveying again", st.rounds
                    )
                    yield from survey_round(self)
                    continue
                log.warning(
                    "survey %d saw too little of the designs again; working on what it saw "
                    "(the design cannot be judged met until a survey sees it)",
                    st.rounds,
                )
            blind = 0
            try:
                cf = cut_fill(st.survey_m, st.designs, p.grid, p.planner.deadband_m)
                flows = haul_flows(
                    cf,
                    p.planner,
                    borrow_mask=p.borrow_mask,
                    spoil_mask=p.spoil_mask,
                    no_go_mask=p.no_go_mask,
                    risen_m=st.survey_m - first,
                    # Begun, cut with no room left stays in the ground and the work goes
                    # on; only the first plan refuses a design the site cannot hold.
                    may_leave_kg=None if st.first_plan is None else math.inf,
                )
            except PlanningError as exc:
                return ActionResult(ActionStatus.PLANNING_FAILED, str(exc))
            left = flows.cut_left_kg
            spoil_short = f"; {left:.0f} kg of cut has no room left" if left > 1.0 else ""
            here = self.pilot.pose
            plan = plan_loads(flows, p.planner, (here.x_m, here.y_m))
            self.zones_in_use = {k for ld in plan.loads for k in (ld.source_kind, ld.sink_kind)}
            if st.first_plan is None:
                st.first_plan = (cf, plan)
            if not plan.loads:
                return ActionResult(
                    ActionStatus.EXECUTION_FAILED,
                    f"nothing left to move beyond the {p.planner.deadband_m:g} m deadband, "
                    f"yet the design is not met: {self._score_text()}{spoil_short}",
                )
            # Loads with no station the rover can reach are skipped; the round goes on down
            # the plan until it has hauled its share (a round that hauls nothing would only
            # survey the same ground again).
            hauled = 0
            for load in plan.loads:
                if hauled >= p.loads_per_round or self.pilot.stuck:
                    break
                before = st.loads
                yield from haul(self, load, cf)
                hauled += st.loads - before
            idle = 0 if hauled else idle + 1
            if idle > IDLE_ROUNDS:
                return ActionResult(
                    ActionStatus.EXECUTION_FAILED,
                    f"no dig or dump station the rover can reach for any of the "
                    f"{len(plan.loads)} loads left, {idle} surveys running: {self._score_text()}",
                )
            if p.grade_pads and not self.pilot.stuck:
                yield from grade_round(self, cf)
            if not self.pilot.stuck:
                yield from survey_round(self)

    def _modules_mask(self) -> BoolArray:
        """Cells a rigid module stands on: no wheel goes there (like a deep cut)."""
        g = self.params.grid
        out = np.zeros(g.shape, dtype=bool)
        for m in self.params.modules:
            outline = m.outline_xy_m()
            w = region_weights(g.shape, g.cell_size_m, g.origin_xy_m, outline, subsamples=1)
            out |= w > 0.5
        return out

    def _stuck_text(self) -> str:
        pose = self.pilot.pose
        return (
            f"stuck at ({pose.x_m:.2f}, {pose.y_m:.2f}) during {self.progress.phase}: the "
            f"last {self.pilot.slips_in_a_row} position fixes found the rover where it was "
            f"while its wheels turned"
        )

    def _score_text(self) -> str:
        return "; ".join(
            f"{name}: {s.share_in_tolerance:.0%} in tolerance, RMS {s.rms_error_m * 100:.1f} cm"
            for name, s in self.progress.scores.items()
        )

    def carry(self) -> dict[str, float]:
        boom, curl = self.tool.joints[0].name, self.tool.joints[1].name
        return {boom: self.poses.carry_boom_rad, curl: self.poses.carry_curl_rad}

    def weigh(self) -> Weigh:
        """A still weighing of the bucket at its present pose (the scale reads it)."""
        boom, curl = self.tool.joints[0].name, self.tool.joints[1].name
        bias = self.pilot.accel_bias_mps2 or (0.0, 0.0, 0.0)
        return Weigh(self.pilot, boom, curl, accel_bias_mps2=bias)

    def tilt(self) -> tuple[float, float]:
        """Roll and pitch at rest from the accelerometer, its calibrated bias taken off
        (before the calibration, as read)."""
        a = self.pilot.sensed.accel_mps2
        return self.pilot.tilt_at_rest_rad(a) or tilt_from_gravity(a)

    def ground_under(self, x_m: float, y_m: float) -> float:
        """The surveyed ground under the chassis (0 before anything is known), in m: the
        median of the round being taken, else of the last survey, within 6 cells."""
        j, i = self.params.grid.cell_of(x_m, y_m)
        r = 6
        ny, nx = self.params.grid.shape
        rows = slice(max(0, j - r), min(ny, j + r + 1))
        cols = slice(max(0, i - r), min(nx, i + r + 1))
        patches = []
        if self.survey.in_round:
            patches.append(self.survey.current.heights_in(rows, cols))
        if self.progress.survey_m is not None:
            patches.append(self.progress.survey_m[rows, cols])
        for patch in patches:
            if np.isfinite(patch).any():
                return float(np.nanmedian(patch))
        return 0.0

    # ------------------------------------------------------------------ hauls
    def go(
        self, x_m: float, y_m: float, yaw_rad: float, tolerance_m: float = DIG_TOLERANCE_M
    ) -> ScriptBody:
        """Travel to (x, y) and face ``yaw_rad``, round the deep cuts and fresh fill,
        until a wall fix puts the rover within ``tolerance_m``. Each corner of the way
        round is one leg and a fix, not a goal in itself: the route is planned again
        from where the fix finds the rover (a turn in place with a loaded bucket moves
        it 0.2-0.4 m; corrected at a corner, backing and turning again, it undid each
        try: trench seed 0, five tries at one corner)."""
        p = self.params
        goal = (x_m, y_m)

        def leg(target: tuple[float, float], heading: float, tol: float, tries: int) -> ScriptBody:
            return travel_direct(
                self.pilot,
                target,
                heading,
                p.cruise_speed_mps,
                min(0.15, p.cruise_speed_mps),
                self.scanner,
                self.site_size_m,
                tolerance_m=tol,
                tries=tries,
                unstick=lambda: unstick(self),
            )

        for _ in range(MAX_ROUTE_LEGS):
            here = self.pilot.pose
            corners = self.stations.route(here, goal)
            while len(corners) > 1 and math.dist(corners[0], (here.x_m, here.y_m)) <= (
                CORNER_TOLERANCE_M
            ):
                corners = corners[1:]
            if len(corners) == 1:
                break
            (cx, cy), (nx, ny) = corners[0], corners[1]
            yield from leg(corners[0], math.atan2(ny - cy, nx - cx), CORNER_TOLERANCE_M, 1)
        yield from leg(goal, yaw_rad, tolerance_m, 3)
        return None
