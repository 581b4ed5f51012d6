"""The first read after opening a port that streams byte by byte (a UART bridge, the AVR
in simavr) starts in the middle of a frame: those bytes are not an error.

The rover here is a thread on the master side of a real pseudo-terminal that writes its
frames one byte at a time. The host opens the slave end; right after the host flushes
its input, the rover is caught mid-frame (the tail of a TELEMETRY frame lands in the
buffer), exactly what a port opened while the rover streams gives.
"""

from __future__ import annotations

import os
import threading
import time
import tty
from typing import Any

import serial

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.cobs import FrameSplitter
from lunarsite.firmware_bridge.framing import encode_frame, parse_frame
from lunarsite.firmware_bridge.link import LinkConfig, LinkState, SerialLink


def _telemetry(stamp_ms: int) -> p.Telemetry:
    return p.Telemetry(stamp_ms, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9807, 0, 0, 7800, 0)


def test_splitter_after_reset_discards_up_to_the_first_delimiter() -> None:
    splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
    whole = encode_frame(p.Ping(host_us=11), 4)
    splitter.reset()
    # The tail of a frame (no 0x00 inside until its end), then a whole frame.
    tail = encode_frame(_telemetry(1234), 9)[-12:]
    frames = splitter.feed(tail + whole)
    assert [parse_frame(raw).message for raw in frames] == [p.Ping(host_us=11)]
    assert splitter.framing_errors == 0 and splitter.overflows == 0
    # Once in sync, a frame is whole from its first byte on.
    (raw,) = splitter.feed(whole)
    assert parse_frame(raw).message == p.Ping(host_us=11)


class _ByteRover:
    """Answers HELLO_REQ and streams TELEMETRY at 100 Hz, one byte per write."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.stop = threading.Event()
        self.session = 0
        self.seq = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def frame(self, msg: p.Message) -> bytes:
        with self.lock:
            out = encode_frame(msg, self.seq)
            self.seq = (self.seq + 1) & 0xFF
        return out

    def _run(self) -> None:
        splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
        stamp = 0
        os.set_blocking(self.master, False)
        while not self.stop.is_set():
            try:
                data = os.read(self.master, 256)
            except BlockingIOError:
                data = b""
            except OSError:
                return
            out = b""
            for raw in splitter.feed(data):
                msg = parse_frame(raw).message
                if isinstance(msg, p.HelloRequest):
                    self.session = msg.session
                    out += self.frame(p.Hello(1, 1, 0, 0, p.SCHEMA_HASH, 7, 1, msg.session, 1))
            if self.session:
                stamp += 10
                out += self.frame(_telemetry(stamp))
            for b in out:
                try:
                    os.write(self.master, bytes([b]))
                except OSError:
                    return
            time.sleep(0.01)


def test_first_read_mid_frame_counts_no_error() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    rover = _ByteRover(master)
    rover.thread.start()

    def factory(**kwargs: Any) -> serial.Serial:
        port = serial.Serial(**kwargs)
        flush = port.reset_input_buffer

        def flush_then_catch_mid_frame() -> None:
            flush()
            # The rover was writing a frame byte by byte when the host opened: its tail
            # is what the host reads first.
            tail = rover.frame(_telemetry(5))[-15:]
            os.write(master, tail)

        port.reset_input_buffer = flush_then_catch_mid_frame  # type: ignore[method-assign]
        return port

    link = SerialLink(
        LinkConfig(port=path, seed=5, ping_period_s=0.0, exclusive=False),
        serial_factory=factory,
    )
    try:
        link.start()
        hello = link.wait_connected(3.0)
        assert hello.session == rover.session
        deadline = time.monotonic() + 3.0
        while link.counters().telemetry_frames < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        c = link.counters()
        assert c.state == LinkState.CONNECTED.value
        assert c.telemetry_frames >= 5
        assert (c.crc_errors, c.framing_errors, c.overflows) == (0, 0, 0)
    finally:
        link.close()
        rover.stop.set()
        rover.thread.join(2.0)
        os.close(slave)
        os.close(master)
