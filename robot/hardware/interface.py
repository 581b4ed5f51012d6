"""The rover interface that the simulator and the serial link both implement.

Shaped after ros2_control's hardware components: a lifecycle

    UNCONFIGURED --configure--> INACTIVE --activate--> ACTIVE
                                 ^          <--deactivate--
    any --fault--> ERROR          (read allowed when INACTIVE or ACTIVE; write only ACTIVE)

and a cycle of :meth:`RoverInterface.read` (the latest sensed state) and
:meth:`RoverInterface.write` (a drive setpoint and servo targets). Implementations fill in
the ``_on_*`` hooks; this base class owns the state machine and the checks, so a bad
command is refused the same way everywhere and never reaches a motor.

Time is not here: see :mod:`.clock`.
"""

from __future__ import annotations

import enum
import logging
import math
from abc import ABC, abstractmethod

from ..types import CameraFrame, RoverCommand, SensedState
from .clock import Clock

__all__ = [
    "CommandError",
    "HardwareError",
    "LifecycleError",
    "LifecycleState",
    "NoCameraError",
    "RoverInterface",
]

log = logging.getLogger(__name__)


class HardwareError(RuntimeError):
    """The rover failed, or was asked to do something it cannot do now."""


class LifecycleError(HardwareError):
    """A call that the current lifecycle state does not allow."""


class CommandError(HardwareError, ValueError):
    """A command that is malformed (non-finite, unknown joint); nothing was applied."""


class NoCameraError(HardwareError):
    """The rover has no camera."""


class LifecycleState(enum.Enum):
    UNCONFIGURED = "unconfigured"
    INACTIVE = "inactive"
    ACTIVE = "active"
    ERROR = "error"


class RoverInterface(ABC):
    """A rover the controller can read and command, simulated or real."""

    def __init__(self, joint_names: tuple[str, ...] = ()) -> None:
        self._state = LifecycleState.UNCONFIGURED
        self._joint_names = frozenset(joint_names)
        self._error_reason = ""

    # ----------------------------------------------------------------- lifecycle
    @property
    def lifecycle_state(self) -> LifecycleState:
        return self._state

    @property
    def error_reason(self) -> str:
        """Why the rover entered ERROR (empty otherwise)."""
        return self._error_reason

    @property
    @abstractmethod
    def clock(self) -> Clock:
        """The clock this rover runs on."""

    def configure(self) -> None:
        """Connect and set up; the rover can then be read but will not move."""
        self._require(LifecycleState.UNCONFIGURED, "configure")
        self._on_configure()
        self._state = LifecycleState.INACTIVE
        log.info("%s configured", type(self).__name__)

    def activate(self) -> None:
        """Allow motion. The rover starts from a stop."""
        self._require(LifecycleState.INACTIVE, "activate")
        self._on_activate()
        self._state = LifecycleState.ACTIVE
        log.info("%s active", type(self).__name__)

    def deactivate(self) -> None:
        """Stop all motion; reads keep working."""
        self._require(LifecycleState.ACTIVE, "deactivate")
        self._on_deactivate()
        self._state = LifecycleState.INACTIVE
        log.info("%s inactive", type(self).__name__)

    def fault(self, reason: str) -> None:
        """Enter ERROR: stop and refuse commands until the rover is rebuilt."""
        log.error("%s fault: %s", type(self).__name__, reason)
        try:
            self._on_deactivate()
        finally:
            self._state = LifecycleState.ERROR
            self._error_reason = reason

    # --------------------------------------------------------------------- cycle
    def read(self) -> SensedState:
        """The latest sensed state."""
        if self._state not in (LifecycleState.INACTIVE, LifecycleState.ACTIVE):
            raise LifecycleError(f"cannot read: rover is {self._state.value}")
        return self._on_read()

    def write(self, command: RoverCommand) -> None:
        """Apply a command. Refused, with nothing applied, unless it is well formed."""
        if self._state is not LifecycleState.ACTIVE:
            raise LifecycleError(f"cannot write: rover is {self._state.value}, not active")
        if not command.drive.is_finite():
            raise CommandError(f"drive command is not finite: {command.drive}")
        for name, value in command.tool_targets_rad.items():
            if name not in self._joint_names:
                known = ", ".join(sorted(self._joint_names)) or "none"
                raise CommandError(f"unknown tool joint {name!r} (this rover has: {known})")
            if not math.isfinite(value):
                raise CommandError(f"tool target for {name!r} is not finite: {value}")
        self._on_write(command)

    def read_camera(self) -> CameraFrame:
        """The latest camera frame; raises :class:`NoCameraError` on a rover without one."""
        if self._state not in (LifecycleState.INACTIVE, LifecycleState.ACTIVE):
            raise LifecycleError(f"cannot read camera: rover is {self._state.value}")
        return self._on_read_camera()

    # ----------------------------------------------------------------- the hooks
    @abstractmethod
    def _on_configure(self) -> None: ...

    @abstractmethod
    def _on_activate(self) -> None: ...

    @abstractmethod
    def _on_deactivate(self) -> None:
        """Command zero motion. Must be safe to call more than once."""

    @abstractmethod
    def _on_read(self) -> SensedState: ...

    @abstractmethod
    def _on_write(self, command: RoverCommand) -> None: ...

    def _on_read_camera(self) -> CameraFrame:
        raise NoCameraError(f"{type(self).__name__} has no camera")

    def _require(self, expected: LifecycleState, action: str) -> None:
        if self._state is not expected:
            raise LifecycleError(
                f"cannot {action}: rover is {self._state.value}, expected {expected.value}"
            )
