"""The frame layer of the wire protocol (PROTOCOL.md §2): frame errors, encoder, parser.

A frame on the wire is ``COBS(header | payload | crc) 0x00`` where the header is four
bytes (protocol version, sequence number, message type, payload length), the payload is
the message's fields packed little-endian, and the CRC is CRC-16/CCITT-FALSE over header
and payload, little-endian. The frame sizes and the message table that a frame's type
and length are checked against are in :mod:`~lunarsite.firmware_bridge.protocol`; COBS
and the CRC themselves in :mod:`~lunarsite.firmware_bridge.cobs` and
:mod:`~lunarsite.firmware_bridge.crc`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cobs import CobsError, cobs_encode
from .crc import crc16_ccitt_false
from .protocol import (
    CRC_BYTES,
    HEADER_BYTES,
    MAX_DECODED_BYTES,
    MESSAGES,
    PROTOCOL_VERSION,
    Message,
)

__all__ = [
    "CrcError",
    "Frame",
    "FrameError",
    "HeaderError",
    "PayloadError",
    "UnknownMessageError",
    "encode_frame",
    "parse_frame",
]


class FrameError(ValueError):
    """A received frame that must not be delivered."""


class CrcError(FrameError):
    """The frame's CRC does not match its contents."""


class HeaderError(FrameError):
    """Wrong protocol version, or a length field that disagrees with the frame."""


class UnknownMessageError(FrameError):
    """A message type that is not in the table."""


class PayloadError(FrameError):
    """A payload whose size does not match its message type."""


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed frame: its sequence number and message."""

    seq: int
    message: Message


def encode_frame(message: Message, seq: int) -> bytes:
    """The bytes on the wire for ``message``: COBS-encoded, with the 0x00 delimiter."""
    payload = message.pack()
    header = bytes((PROTOCOL_VERSION, seq & 0xFF, message.TYPE, len(payload)))
    body = header + payload
    crc = crc16_ccitt_false(body)
    return cobs_encode(body + crc.to_bytes(2, "little")) + b"\x00"


def parse_frame(decoded: bytes) -> Frame:
    """Parse a COBS-decoded frame (header, payload, CRC); raise a :class:`FrameError`."""
    n = len(decoded)
    if n < HEADER_BYTES + CRC_BYTES:
        raise HeaderError(f"frame of {n} B is shorter than header and CRC")
    if n > MAX_DECODED_BYTES:
        raise HeaderError(f"frame of {n} B exceeds {MAX_DECODED_BYTES} B")
    crc = crc16_ccitt_false(decoded[:-CRC_BYTES])
    got = int.from_bytes(decoded[-CRC_BYTES:], "little")
    if crc != got:
        raise CrcError(f"CRC 0x{got:04X} does not match contents (0x{crc:04X})")
    version, seq, type_id, length = decoded[0], decoded[1], decoded[2], decoded[3]
    if version != PROTOCOL_VERSION:
        raise HeaderError(f"protocol version {version}, expected {PROTOCOL_VERSION}")
    if length != n - HEADER_BYTES - CRC_BYTES:
        raise HeaderError(f"length field {length} but {n - HEADER_BYTES - CRC_BYTES} B payload")
    cls = MESSAGES.get(type_id)
    if cls is None:
        raise UnknownMessageError(f"unknown message type 0x{type_id:02X}")
    if length != cls._STRUCT.size:
        raise PayloadError(f"{cls.NAME} payload is {length} B, expected {cls._STRUCT.size}")
    values = cls._STRUCT.unpack_from(decoded, HEADER_BYTES)
    return Frame(seq=seq, message=cls(*values))


__all__ += ["CobsError"]
