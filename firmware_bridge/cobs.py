"""Consistent Overhead Byte Stuffing (Cheshire and Baker, IEEE/ACM Trans. Networking 7(2),
1999) and an incremental frame splitter for a byte stream delimited by 0x00.

COBS turns any byte string into one without 0x00, at most one byte longer per 254
bytes, so 0x00 can mark the end of every frame and a receiver resynchronises at the
next 0x00 after any corruption.
"""

from __future__ import annotations

import logging

__all__ = ["CobsError", "FrameSplitter", "cobs_decode", "cobs_encode"]

log = logging.getLogger(__name__)


class CobsError(ValueError):
    """A byte string that is not a valid COBS encoding."""


def cobs_encode(data: bytes | bytearray | memoryview) -> bytes:
    """COBS-encode ``data`` (no trailing delimiter; the result contains no 0x00)."""
    src = bytes(data)
    out = bytearray()
    block = bytearray()
    last = len(src) - 1
    for i, byte in enumerate(src):
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block.clear()
                if i == last:
                    # A full block ends the data: no trailing empty block.
                    return bytes(out)
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes | bytearray | memoryview) -> bytes:
    """Decode one COBS block sequence (without its delimiter).

    Raises :class:`CobsError` on an empty input, a 0x00 inside, or a code byte that
    points past the end.
    """
    src = bytes(data)
    n = len(src)
    if n == 0:
        raise CobsError("empty COBS frame")
    out = bytearray()
    i = 0
    while i < n:
        code = src[i]
        if code == 0:
            raise CobsError(f"0x00 inside a COBS frame at byte {i}")
        end = i + code
        if end > n:
            raise CobsError(f"COBS code {code} at byte {i} points past the end ({n} bytes)")
        block = src[i + 1 : end]
        if 0 in block:
            raise CobsError(f"0x00 inside a COBS frame near byte {i}")
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


class FrameSplitter:
    """Cuts a byte stream into COBS-decoded frames at each 0x00; tolerates partial reads.

    Feed whatever a read returned; complete frames come out, the rest waits for more
    bytes. An encoded frame longer than ``max_encoded`` bytes is never delivered: its
    bytes are discarded up to the next delimiter and counted in :attr:`overflows`.
    Frames that fail COBS decoding are counted in :attr:`framing_errors`. Empty frames
    (two delimiters in a row) are ignored.

    After :meth:`reset` (a port just opened) the stream may start in the middle of a
    frame: bytes up to the first delimiter are discarded without counting anything.
    A new splitter assumes its first byte starts a frame.
    """

    def __init__(self, max_encoded: int) -> None:
        if max_encoded < 1:
            raise ValueError(f"max_encoded must be at least 1, got {max_encoded}")
        self.max_encoded = max_encoded
        self._buf = bytearray()
        self._discarding = False
        self._hunting = False
        self.overflows = 0
        self.framing_errors = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add received bytes; return the COBS-decoded frames completed by them."""
        frames: list[bytes] = []
        chunk = bytes(data)
        start = 0
        if self._hunting:
            idx = chunk.find(0)
            if idx < 0:
                return frames
            self._hunting = False
            start = idx + 1
        while True:
            idx = chunk.find(0, start)
            piece = chunk[start:] if idx < 0 else chunk[start:idx]
            if not self._discarding:
                self._buf += piece
                if len(self._buf) > self.max_encoded:
                    self._buf.clear()
                    self._discarding = True
                    self.overflows += 1
            if idx < 0:
                return frames
            # A delimiter: the frame (or the discarded run) ends here.
            if not self._discarding and self._buf:
                try:
                    frames.append(cobs_decode(self._buf))
                except CobsError as exc:
                    self.framing_errors += 1
                    log.debug("framing error: %s", exc)
            self._buf.clear()
            self._discarding = False
            start = idx + 1

    def reset(self) -> None:
        """Forget any partial frame (after reopening the port); the next bytes up to the
        first delimiter are the tail of a frame sent before and are dropped uncounted."""
        self._buf.clear()
        self._discarding = False
        self._hunting = True
