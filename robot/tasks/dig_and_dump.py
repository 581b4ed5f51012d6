"""Dig, carry and dump: cycles between a dig area and a dump area, by a fixed layout.

:class:`DigAndDump` is a script (:class:`~lunarsite.robot.executive.compose.Script`) of
motion skills (:mod:`lunarsite.robot.control.motions`) over one
:class:`~lunarsite.robot.control.pilot.Pilot`: no earthwork planning, the layout of
:class:`~lunarsite.robot.planning.dig_dump.DigDumpPlan` taken in order. It steers by
wheel odometry and the gyro (bias re-estimated at every standstill) and, given a level
range scanner and a walled site, fixes its position on the walls before each dig and
dump. Each cycle:

1. carry pose; travel to the dig approach (face the heading, a sideways move in two
   quarter turns if needed, then along the heading; fix on the walls and go again);
2. run in, lower the bucket to the layer's depth, cut the strip (:class:`DigCut`);
3. back out of the cut face with the bucket down, curl, lift, back off to the approach;
4. travel to the next dump lane, run in, tip the bucket past the pour angle, wait,
   lift back to the carry pose and back off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..config import RoverConfig
from ..control.dig_cut import DigCut
from ..control.motions import Hold, Straight, ToolsTo
from ..control.pilot import Pilot
from ..control.travel import travel
from ..executive.compose import ScriptBody
from ..executive.skill import ActionResult, ActionStatus
from ..perception.points import RangeScan
from ..planning.dig_dump import DigDumpParams, DigDumpPlan
from ..types import Pose2
from .piloted import PilotedScript

__all__ = ["DigAndDump", "DigDumpProgress"]

log = logging.getLogger(__name__)

LIFT_BACK_SPEED_MPS = 0.05
"""Speed at which the rover backs away from a cut face before lifting, in m/s."""
BACK_OUT_M = 0.15
"""How far the rover backs from a cut face, bucket still down, before lifting, in m."""
POUR_S = 2.0
"""Standing time with the bucket tipped, for the load to pour out, in s."""
CALIBRATE_S = 2.0
"""Standing time at the start: the gyro bias estimate begins here, in s."""


@dataclass
class DigDumpProgress:
    """What is being done, and how many digs and dumps are finished."""

    phase: str = "start"
    digs: int = 0
    dumps: int = 0


class DigAndDump(PilotedScript):
    """The dig-and-dump task (see the module docstring).

    Args:
        params: what to dig, where to dump, how deep, how many cycles.
        config: the rover file (a bucket on a boom, two joints).
        start: the surveyed start pose.
        control_hz: the loop's rate, in Hz.
        scanner: a level range scanner, or None (dead reckoning alone).
        site_size_m: the walled site's size, for wall fixes (None: no walls).

    Raises:
        ValueError: the rover has no two-joint bucket, or cannot cut the first layer.
    """

    def __init__(
        self,
        params: DigDumpParams,
        config: RoverConfig,
        start: Pose2,
        *,
        control_hz: float,
        scanner: Callable[[], RangeScan] | None = None,
        site_size_m: tuple[float, float] | None = None,
    ) -> None:
        self.plan = DigDumpPlan(params, config)
        self.pilot = Pilot(config, start, control_hz=control_hz)
        self.scanner = scanner
        self.site_size_m = site_size_m
        self.progress = DigDumpProgress()
        super().__init__(self.pilot, self._cycles(), "dig and dump")

    @property
    def activity(self) -> str:
        """What it is doing, for a progress line."""
        st = self.progress
        return f"{st.phase}; {st.dumps} dumps"

    def _on_cancel(self, reason: str) -> str:
        super()._on_cancel(reason)
        st = self.progress
        return f"{reason} after {st.dumps} dumps ({st.digs} digs), during {st.phase}"

    def _travel(
        self, target_xy_m: tuple[float, float], heading_rad: float, speed: float, back: float
    ) -> ScriptBody:
        return travel(
            self.pilot, target_xy_m, heading_rad, speed, back, self.scanner, self.site_size_m
        )

    # -------------------------------------------------------------------- script
    def _cycles(self) -> ScriptBody:
        plan, pilot, st = self.plan, self.pilot, self.progress
        m = plan.params
        boom, curl = plan.tool.joints[0].name, plan.tool.joints[1].name
        p = plan.poses
        carry = {boom: p.carry_boom_rad, curl: p.carry_curl_rad}
        cruise = m.cruise_speed_mps or plan.rover.drive.max_speed_mps
        back = min(0.15, cruise)
        st.phase = "calibrating"
        yield ToolsTo(pilot, carry)
        yield Hold(pilot, CALIBRATE_S)
        while m.cycles is None or st.dumps < m.cycles:
            dig = plan.dig_pass(st.digs)
            st.phase = f"dig {st.digs + 1} (layer {dig.layer + 1}, lane {dig.lane + 1})"
            yield ToolsTo(pilot, carry)
            yield from self._travel(dig.approach_xy_m, dig.heading_rad, cruise, back)
            yield Straight(pilot, m.approach_m, back, dig.heading_rad)
            yield ToolsTo(pilot, {boom: dig.boom_rad, curl: dig.curl_rad})
            yield DigCut(
                pilot,
                dig.length_m,
                m.dig_speed_mps,
                dig.heading_rad,
                boom=boom,
                carry_rad=carry[boom],
            )
            # Back away from the cut face before the bucket moves: curling or lifting at
            # the face swings the edge forward through the soil, pulled down by the cut
            # just as the full bucket rises, which tipped the rover over its front axle.
            # Drawn back along its own trench the edge cuts nothing; then curl, then lift.
            yield Straight(pilot, -BACK_OUT_M, LIFT_BACK_SPEED_MPS, dig.heading_rad)
            yield ToolsTo(pilot, {curl: carry[curl]})
            yield ToolsTo(pilot, carry)
            pilot.pivot_ahead_m = p.loaded_pivot_ahead_m
            yield Straight(pilot, -(dig.length_m + m.approach_m), back, dig.heading_rad)
            st.digs += 1
            spot = plan.dump_spot(st.dumps)
            st.phase = f"dump {st.dumps + 1} (lane {spot.lane + 1})"
            yield from self._travel(spot.approach_xy_m, spot.heading_rad, cruise, back)
            yield Straight(pilot, m.approach_m, back, spot.heading_rad)
            yield ToolsTo(pilot, {boom: p.dump_boom_rad, curl: p.dump_curl_rad})
            yield Hold(pilot, POUR_S)
            yield ToolsTo(pilot, carry)
            pilot.pivot_ahead_m = 0.0
            yield Straight(pilot, -m.approach_m, back, spot.heading_rad)
            st.dumps += 1
        st.phase = "done"
        return ActionResult(ActionStatus.SUCCEEDED, f"{st.dumps} dumps ({st.digs} digs)")
