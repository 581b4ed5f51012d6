"""A scripted work task steered by a :class:`~lunarsite.robot.control.pilot.Pilot`.

:class:`PilotedScript` folds each tick's reading into the pilot before the script's
current skill decides, and reports the pilot's estimate as the task's pose: what every
scripted work task (dig and dump, earthwork) shares.
"""

from __future__ import annotations

from ..control.pilot import Pilot
from ..executive.compose import Script, ScriptBody
from ..executive.skill import Step
from ..types import Pose2, SensedState

__all__ = ["PilotedScript"]


class PilotedScript(Script):
    """A :class:`Script` over one pilot (see the module docstring)."""

    def __init__(self, pilot: Pilot, body: ScriptBody, name: str) -> None:
        self.pilot = pilot
        super().__init__(body, name, stop_on_failure=False)

    @property
    def pose(self) -> Pose2:
        """The rover's own estimate, in the site frame."""
        return self.pilot.pose

    def _on_tick(self, sensed: SensedState, now_s: float) -> Step:
        self.pilot.sense(sensed)
        return super()._on_tick(sensed, now_s)
