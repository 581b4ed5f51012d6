"""The wire protocol's messages: version, frame sizes, message table, schema hash.

Each message (PROTOCOL.md §3) is a frozen dataclass whose fields are packed
little-endian into a frame's payload, which must fit :data:`MAX_PAYLOAD_BYTES`. The
frame itself (header, CRC, COBS, encoder and parser) is
:mod:`lunarsite.firmware_bridge.framing`; the values of enumerated fields (modes,
statuses, fault bits, parameter ids) are :mod:`lunarsite.firmware_bridge.enums`.
Messages carry wire units (integers scaled as the field names say: ``linear_mmps`` is
mm/s); :mod:`lunarsite.firmware_bridge.serial_rover` converts to SI.

The message table is the single source of the schema hash: :func:`schema_text` renders
it canonically and :data:`SCHEMA_HASH` is its FNV-1a 32-bit hash. The firmware carries
the same text (``firmware/ls_protocol.c``); a test checks the two are identical.
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass, fields
from typing import ClassVar, Final, TypeAlias

__all__ = [
    "ACCEL_MPS2_PER_LSB",
    "GYRO_RADPS_PER_LSB",
    "HEADER_BYTES",
    "MAX_DECODED_BYTES",
    "MAX_ENCODED_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_WIRE_BYTES",
    "MESSAGES",
    "PROTOCOL_VERSION",
    "SCHEMA_HASH",
    "Ack",
    "CmdMode",
    "CmdParamSet",
    "CmdServo",
    "CmdStop",
    "CmdStopReset",
    "Heartbeat",
    "HeartbeatHost",
    "Hello",
    "HelloRequest",
    "LinkStatus",
    "Message",
    "Odometry",
    "ParamGet",
    "ParamValue",
    "Ping",
    "Pong",
    "Setpoint",
    "Telemetry",
    "fnv1a32",
    "schema_text",
]

PROTOCOL_VERSION: Final = 1
HEADER_BYTES: Final = 4
CRC_BYTES: Final = 2
MAX_WIRE_BYTES: Final = 64
"""Longest frame on the wire, delimiter included, in bytes."""
MAX_ENCODED_BYTES: Final = MAX_WIRE_BYTES - 1
"""Longest COBS-encoded frame (without its delimiter): one code byte per <= 254 bytes."""
MAX_DECODED_BYTES: Final = MAX_ENCODED_BYTES - 1
MAX_PAYLOAD_BYTES: Final = MAX_DECODED_BYTES - HEADER_BYTES - CRC_BYTES

GYRO_RADPS_PER_LSB: Final = 2e-4
"""Telemetry gyro scale: 0.2 mrad/s per count, range ±6.55 rad/s."""
ACCEL_MPS2_PER_LSB: Final = 1e-3
"""Telemetry accelerometer scale: 1 mm/s² per count, range ±32.7 m/s²."""
YAW_RAD_PER_LSB: Final = 1e-4
"""Odometry heading scale: 0.1 mrad per count, wrapped to [-π, π)."""


_CODES: Final = {"B": "u8", "b": "i8", "H": "u16", "h": "i16", "I": "u32", "i": "i32", "f": "f32"}
_RANGES: Final = {
    "B": (0, 0xFF),
    "b": (-0x80, 0x7F),
    "H": (0, 0xFFFF),
    "h": (-0x8000, 0x7FFF),
    "I": (0, 0xFFFFFFFF),
    "i": (-0x80000000, 0x7FFFFFFF),
}


class _MessageBase:
    """Common behaviour of the message dataclasses below."""

    TYPE: ClassVar[int]
    NAME: ClassVar[str]
    FROM_HOST: ClassVar[bool]
    WIRE: ClassVar[str]
    _STRUCT: ClassVar[struct.Struct]

    def pack(self) -> bytes:
        values = astuple(self)  # type: ignore[call-overload]
        for code, value, f in zip(self.WIRE, values, fields(self), strict=True):  # type: ignore[arg-type]
            if code in _RANGES:
                lo, hi = _RANGES[code]
                if not isinstance(value, int) or not lo <= value <= hi:
                    raise ValueError(
                        f"{self.NAME}.{f.name} = {value!r} does not fit {_CODES[code]} [{lo}, {hi}]"
                    )
        return self._STRUCT.pack(*values)


def _message(type_id: int, name: str, from_host: bool, wire: str):  # type: ignore[no-untyped-def]
    def wrap(cls):  # type: ignore[no-untyped-def]
        cls.TYPE = type_id
        cls.NAME = name
        cls.FROM_HOST = from_host
        cls.WIRE = wire
        cls._STRUCT = struct.Struct("<" + wire)
        if len(fields(cls)) != len(wire):
            raise TypeError(f"{name}: {len(fields(cls))} fields but wire format {wire!r}")
        if cls._STRUCT.size > MAX_PAYLOAD_BYTES:
            raise TypeError(f"{name}: payload {cls._STRUCT.size} B exceeds {MAX_PAYLOAD_BYTES}")
        return cls

    return wrap


# ------------------------------------------------------------------ host → rover
@_message(0x01, "HELLO_REQ", True, "BIH")
@dataclass(frozen=True, slots=True)
class HelloRequest(_MessageBase):
    """Open (or confirm) a session. The rover answers with :class:`Hello`."""

    protocol: int
    schema_hash: int
    session: int
    """Host-chosen session id, nonzero; setpoints and commands must carry it."""


@_message(0x02, "HEARTBEAT_HOST", True, "I")
@dataclass(frozen=True, slots=True)
class HeartbeatHost(_MessageBase):
    host_ms: int


@_message(0x03, "PING", True, "I")
@dataclass(frozen=True, slots=True)
class Ping(_MessageBase):
    host_us: int
    """Host timestamp (µs, wraps at 2³²), echoed in :class:`Pong`."""


@_message(0x10, "SETPOINT", True, "HIhh")
@dataclass(frozen=True, slots=True)
class Setpoint(_MessageBase):
    """Streamed drive setpoint, unacknowledged; the newest ``counter`` wins."""

    session: int
    counter: int
    """Increases by at least one per setpoint within a session (serial arithmetic)."""
    linear_mmps: int
    angular_mradps: int


@_message(0x20, "CMD_SERVO", True, "HHBh")
@dataclass(frozen=True, slots=True)
class CmdServo(_MessageBase):
    """Servo target: channel 0 is the tool (scoop), channel 1 the gripper."""

    session: int
    cmd_id: int
    channel: int
    target_mrad: int


@_message(0x21, "CMD_MODE", True, "HHB")
@dataclass(frozen=True, slots=True)
class CmdMode(_MessageBase):
    session: int
    cmd_id: int
    mode: int


@_message(0x22, "CMD_STOP", True, "HH")
@dataclass(frozen=True, slots=True)
class CmdStop(_MessageBase):
    """Latch an emergency stop (brake, ignore setpoints) until CMD_STOP_RESET."""

    session: int
    cmd_id: int


@_message(0x23, "CMD_STOP_RESET", True, "HH")
@dataclass(frozen=True, slots=True)
class CmdStopReset(_MessageBase):
    session: int
    cmd_id: int


@_message(0x24, "CMD_PARAM_SET", True, "HHBf")
@dataclass(frozen=True, slots=True)
class CmdParamSet(_MessageBase):
    session: int
    cmd_id: int
    param: int
    value: float


@_message(0x30, "PARAM_GET", True, "B")
@dataclass(frozen=True, slots=True)
class ParamGet(_MessageBase):
    param: int


# ------------------------------------------------------------------ rover → host
@_message(0x81, "HELLO", False, "BBBBIIBHB")
@dataclass(frozen=True, slots=True)
class Hello(_MessageBase):
    protocol: int
    fw_major: int
    fw_minor: int
    fw_patch: int
    schema_hash: int
    boot_id: int
    """Random per boot: a change means the rover rebooted."""
    reset_cause: int
    session: int
    """Echo of the request's session (0 in an announcement)."""
    status: int

    @property
    def firmware_version(self) -> str:
        return f"{self.fw_major}.{self.fw_minor}.{self.fw_patch}"


@_message(0x82, "HEARTBEAT", False, "IBH")
@dataclass(frozen=True, slots=True)
class Heartbeat(_MessageBase):
    uptime_ms: int
    mode: int
    faults: int


@_message(0x83, "PONG", False, "II")
@dataclass(frozen=True, slots=True)
class Pong(_MessageBase):
    host_us: int
    rover_ms: int


@_message(0x90, "TELEMETRY", False, "IiihhhhhhhhhhHH")
@dataclass(frozen=True, slots=True)
class Telemetry(_MessageBase):
    stamp_ms: int
    left_ticks: int
    right_ticks: int
    left_mradps: int
    """Measured wheel speed, in mrad/s."""
    right_mradps: int
    gyro_x: int
    """Gyro, in counts of :data:`GYRO_RADPS_PER_LSB`."""
    gyro_y: int
    gyro_z: int
    accel_x: int
    """Accelerometer, in counts of :data:`ACCEL_MPS2_PER_LSB`."""
    accel_y: int
    accel_z: int
    servo0_mrad: int
    servo1_mrad: int
    battery_mv: int
    faults: int


@_message(0x91, "ODOMETRY", False, "Iiih")
@dataclass(frozen=True, slots=True)
class Odometry(_MessageBase):
    """Firmware dead reckoning from the encoders (no IMU), for diagnostics."""

    stamp_ms: int
    x_mm: int
    y_mm: int
    yaw: int
    """Heading in counts of :data:`YAW_RAD_PER_LSB`."""


@_message(0x92, "LINK_STATUS", False, "IHHHHHHHII")
@dataclass(frozen=True, slots=True)
class LinkStatus(_MessageBase):
    rx_frames: int
    crc_errors: int
    framing_errors: int
    overflows: int
    stale_setpoints: int
    dup_commands: int
    tx_drops: int
    watchdog_trips: int
    setpoints_applied: int
    last_counter: int


@_message(0xA0, "ACK", False, "HHB")
@dataclass(frozen=True, slots=True)
class Ack(_MessageBase):
    session: int
    cmd_id: int
    status: int


@_message(0xA1, "PARAM_VALUE", False, "BfB")
@dataclass(frozen=True, slots=True)
class ParamValue(_MessageBase):
    param: int
    value: float
    status: int


Message: TypeAlias = (
    HelloRequest
    | HeartbeatHost
    | Ping
    | Setpoint
    | CmdServo
    | CmdMode
    | CmdStop
    | CmdStopReset
    | CmdParamSet
    | ParamGet
    | Hello
    | Heartbeat
    | Pong
    | Telemetry
    | Odometry
    | LinkStatus
    | Ack
    | ParamValue
)

MESSAGES: Final[dict[int, type[Message]]] = {
    cls.TYPE: cls
    for cls in (
        HelloRequest,
        HeartbeatHost,
        Ping,
        Setpoint,
        CmdServo,
        CmdMode,
        CmdStop,
        CmdStopReset,
        CmdParamSet,
        ParamGet,
        Hello,
        Heartbeat,
        Pong,
        Telemetry,
        Odometry,
        LinkStatus,
        Ack,
        ParamValue,
    )
}


def schema_text() -> str:
    """The message table, one line per type in id order: ``ID NAME DIR code field,...``."""
    lines = []
    for type_id in sorted(MESSAGES):
        cls = MESSAGES[type_id]
        cols = ",".join(f"{_CODES[c]} {f.name}" for c, f in zip(cls.WIRE, fields(cls), strict=True))
        lines.append(f"{type_id:02X} {cls.NAME} {'H2R' if cls.FROM_HOST else 'R2H'} {cols}\n")
    return "".join(lines)


def fnv1a32(data: bytes) -> int:
    """FNV-1a, 32 bit (Fowler, Noll, Vo; offset basis 2166136261, prime 16777619)."""
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


SCHEMA_HASH: Final = fnv1a32(schema_text().encode("ascii"))
