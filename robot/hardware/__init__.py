"""The rover behind one interface: lifecycle, read and write (:mod:`.interface`), the
clock the control loop waits on (:mod:`.clock`), the one skid-steer mixer every plant
shares (:mod:`.skid_steer`) and an in-memory mock rover for tests (:mod:`.mock`).

The simulator (``lunarsite.sim``) and the serial link (``lunarsite.firmware_bridge``)
implement :class:`RoverInterface`; the controller sees nothing else of them.
"""

from .clock import Clock, LoopRate, WallClock
from .interface import (
    CommandError,
    HardwareError,
    LifecycleError,
    LifecycleState,
    NoCameraError,
    RoverInterface,
)

__all__ = [
    "Clock",
    "CommandError",
    "HardwareError",
    "LifecycleError",
    "LifecycleState",
    "LoopRate",
    "NoCameraError",
    "RoverInterface",
    "WallClock",
]
