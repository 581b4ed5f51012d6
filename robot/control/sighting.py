"""Looking for a unit: stand still, take a camera frame, find the unit's markers.

:class:`SightUnit` is how the placement task learns where a unit really stands, before a
grasp (a depot unit nudged or turned since the depot was laid out) and after a set-down
(the check that it went down where the design wants it). The rover stands still a moment
first so the frame is not smeared by motion and the accelerometer gives the tilt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ..executive.skill import ActionResult, ActionStatus, Running, Skill, Step
from ..perception.estimation import tilt_from_gravity
from ..perception.fiducials import CameraMount, FiducialDetector
from ..perception.unit_sighting import UnitSighting, sight_units
from ..site.unit_markers import UnitMarker
from ..types import CameraFrame, SensedState
from .motions import Hold
from .pilot import Pilot

__all__ = ["SightUnit"]

log = logging.getLogger(__name__)


class SightUnit(Skill):
    """Stand still :attr:`STAND_S`, then look for unit ``unit_id`` by its markers; its
    sighting is :attr:`seen`. Refused without a camera; fails when the unit is not in
    the frame."""

    STAND_S = 0.3

    def __init__(
        self,
        pilot: Pilot,
        camera: Callable[[], CameraFrame] | None,
        detector: FiducialDetector,
        markers: Mapping[int, UnitMarker],
        unit_id: str,
    ) -> None:
        super().__init__(f"look for {unit_id}")
        self.pilot = pilot
        self.camera = camera
        self.detector = detector
        self.markers = {k: m for k, m in markers.items() if m.unit_id == unit_id}
        self.unit_id = unit_id
        self.seen: UnitSighting | None = None
        self._hold = Hold(pilot, self.STAND_S)
        cam = pilot.config.camera
        self._mount = None if cam is None else CameraMount.from_config(cam)

    def _on_start(self, sensed: SensedState, now_s: float) -> ActionResult | None:
        if self.camera is None or self._mount is None:
            return ActionResult(ActionStatus.PRECONDITION_FAILED, "the rover has no camera")
        if not self.markers:
            return ActionResult(
                ActionStatus.PRECONDITION_FAILED, f"unit {self.unit_id!r} carries no markers"
            )
        return None

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        step = self._hold.tick(sensed, now_s)
        if isinstance(step, Running):
            return step
        assert self.camera is not None and self._mount is not None
        roll, pitch = tilt_from_gravity(sensed.accel_mps2)
        observations = self.detector.observe(self.camera())
        seen = sight_units(observations, self.markers, self._mount, self.pilot.pose, roll, pitch)
        self.seen = seen.get(self.unit_id)
        if self.seen is None:
            log.info("unit %s not in the frame from %s", self.unit_id, self.pilot.pose)
            return ActionResult(ActionStatus.EXECUTION_FAILED, f"unit {self.unit_id} not seen")
        return ActionResult(ActionStatus.SUCCEEDED, f"unit {self.unit_id} seen")
