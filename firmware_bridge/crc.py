"""CRC-16/CCITT-FALSE, the frame check of the wire protocol (PROTOCOL.md §2).

Parameters from the CRC RevEng catalogue ("CRC-16/IBM-3740", alias CRC-16/CCITT-FALSE):
width 16, poly 0x1021, init 0xFFFF, refin false, refout false, xorout 0x0000,
check 0x29B1 (the CRC of the ASCII bytes "123456789").
"""

from __future__ import annotations

__all__ = ["CRC16_CHECK", "crc16_ccitt_false"]

CRC16_CHECK = 0x29B1
"""CRC of b"123456789" (reveng.sourceforge.io/crc-catalogue, CRC-16/IBM-3740)."""

_POLY = 0x1021
_INIT = 0xFFFF


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc16_ccitt_false(data: bytes | bytearray | memoryview, crc: int = _INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data``; pass a previous result as ``crc`` to continue."""
    table = _TABLE
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc
