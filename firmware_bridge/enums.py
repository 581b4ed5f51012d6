"""The values of the wire protocol's enumerated fields (PROTOCOL.md §3, Enumerations and
Parameters): the rover's mode, ACK and HELLO statuses, reset causes, fault bits and
parameter ids. Messages (:mod:`~lunarsite.firmware_bridge.protocol`) carry them as plain
integers.
"""

from __future__ import annotations

import enum

__all__ = ["AckStatus", "Fault", "HelloStatus", "Mode", "Param", "ResetCause"]


class Mode(enum.IntEnum):
    IDLE = 0
    """Boot state: motors braked, setpoints ignored."""
    ARMED = 1
    """Setpoints drive the wheels (until the watchdog or a stop)."""


class AckStatus(enum.IntEnum):
    OK = 0
    DUPLICATE = 1
    """Already applied (a retry); acknowledged again, not applied again."""
    BAD_ARGUMENT = 2
    WRONG_STATE = 3
    NO_SESSION = 4


class HelloStatus(enum.IntEnum):
    ANNOUNCE = 0
    """Unsolicited, sent while no session is open (after boot)."""
    ACCEPTED = 1
    PROTOCOL_MISMATCH = 2
    SCHEMA_MISMATCH = 3


class ResetCause(enum.IntEnum):
    UNKNOWN = 0
    POWER_ON = 1
    EXTERNAL = 2
    BROWN_OUT = 3
    WATCHDOG = 4
    SOFTWARE = 5


class Fault(enum.IntFlag):
    WATCHDOG = 1 << 0
    """Armed, but no valid setpoint for the watchdog period: the wheels were stopped."""
    ESTOP = 1 << 1
    """A STOP command latched; only STOP_RESET clears it."""
    NO_SESSION = 1 << 2
    DISARMED = 1 << 3
    LOW_BATTERY = 1 << 4
    IMU_FAULT = 1 << 5


class Param(enum.IntEnum):
    """Parameter ids for PARAM_GET / CMD_PARAM_SET (values are float32, SI)."""

    WHEEL_RADIUS_M = 0
    TRACK_M = 1
    TRACK_FACTOR = 2
    TICKS_PER_REV = 3
    MAX_WHEEL_SPEED_RADPS = 4
    MAX_WHEEL_ACCEL_RADPS2 = 5
    SPEED_KP = 6
    SPEED_KI = 7
    SERVO0_MIN_RAD = 8
    SERVO0_MAX_RAD = 9
    SERVO0_SPEED_RADPS = 10
    SERVO1_MIN_RAD = 11
    SERVO1_MAX_RAD = 12
    SERVO1_SPEED_RADPS = 13
    TELEMETRY_HZ = 14
