"""A position fix on the arena's walls as a skill: stand still, scan, correct the
estimate (the fit itself: :func:`~lunarsite.robot.perception.walls.fit_walls`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..executive.skill import ActionResult, ActionStatus, Running, Skill, Step
from ..perception.points import RangeScan
from ..perception.walls import fit_walls
from ..types import SensedState
from .level import MeanAccel
from .motions import Hold
from .pilot import Pilot

__all__ = ["WallFix"]

log = logging.getLogger(__name__)

_OK = ActionResult(ActionStatus.SUCCEEDED)


class WallFix(Skill):
    """Stand still a moment, scan the walls of the site ``[0, size_x] × [0, size_y]`` and
    correct the estimate (:func:`~lunarsite.robot.perception.walls.fit_walls`; with
    ``search``, anywhere when the estimate is far off), never to where the wheels could
    not have carried it since the last fix (:meth:`Pilot.fix_bound`). Refused without a
    scanner; fails when the scan does not pin the pose.

    With ``level`` and the accelerometer's bias known (:attr:`Pilot.accel_bias_mps2`), the
    rover stands :data:`LEVEL_SETTLE_S` longer and levels the scan by the tilt the
    accelerometer reads, averaged over :data:`LEVEL_MEAN_S`; otherwise the scan is taken
    as level. A loaded chassis rocks on its springs after a stop (about 2 Hz): read
    0.2 s after it, the tilt was off by as much as the load's own 1° and the fix swung
    as far the other way."""

    STAND_S = 0.2
    LEVEL_SETTLE_S = 0.5
    LEVEL_MEAN_S = 0.5

    def __init__(
        self,
        pilot: Pilot,
        scanner: Callable[[], RangeScan] | None,
        site_size_m: tuple[float, float] | None,
        *,
        search: bool = False,
        level: bool = False,
    ) -> None:
        super().__init__("wall fix")
        self.pilot = pilot
        self.scanner = scanner
        self.site_size_m = site_size_m
        self.search = search
        self.level = level and pilot.accel_bias_mps2 is not None
        # Levelling: stand and average the accelerometer, then scan on the next tick.
        self._mean = (
            MeanAccel(pilot, self.LEVEL_MEAN_S, settle_s=self.STAND_S + self.LEVEL_SETTLE_S)
            if self.level
            else None
        )
        self._hold = Hold(pilot, pilot.dt_s if self.level else self.STAND_S)

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        if self.scanner is None or self.site_size_m is None:
            return ActionResult(ActionStatus.PRECONDITION_FAILED, "no scanner or no walls")
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        if self._mean is not None and self._mean.mean_mps2 is None:
            step = self._mean.tick(sensed, now_s)
            if isinstance(step, Running):
                return step
        step = self._hold.tick(sensed, now_s)
        if isinstance(step, Running):
            return step
        assert self.scanner is not None and self.site_size_m is not None
        mean = None if self._mean is None else self._mean.mean_mps2
        tilt = None if mean is None else self.pilot.tilt_at_rest_rad(mean)
        fixed = fit_walls(
            self.pilot.pose,
            self.scanner(),
            self.site_size_m,
            search=self.search,
            tilt_rad=tilt or (0.0, 0.0),
            within=self.pilot.fix_bound(),
        )
        if fixed is None:
            log.info("wall fix failed at %s", self.pilot.pose)
            return ActionResult(ActionStatus.EXECUTION_FAILED, "the scan does not pin the pose")
        self.pilot.apply_fix(fixed)
        return _OK
