"""The host link's own rules, against a scripted rover behind a fake port (no pty):
no motion while disconnected, the port closed on every error path, stale telemetry and
foreign sessions noticed, open errors named and not waited for, bounded backoff."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import serial

from lunarsite.firmware_bridge import protocol as p
from lunarsite.firmware_bridge.cobs import FrameSplitter
from lunarsite.firmware_bridge.enums import AckStatus, HelloStatus
from lunarsite.firmware_bridge.framing import encode_frame, parse_frame
from lunarsite.firmware_bridge.link import (
    LinkConfig,
    LinkError,
    LinkState,
    PortError,
    SerialLink,
    describe_open_error,
)

BOOT_ID = 0x1234ABCD


class FakeRover:
    """Answers HELLO_REQ, streams TELEMETRY when asked, acknowledges commands; records
    every frame the host wrote and every port it opened and closed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.written: list[p.Message] = []
        self.opened = 0
        self.closed = 0
        self.outbox = bytearray()
        self.seq = 0
        self.session = 0
        self.fail_read = False
        self.fail_write = False
        self.silent = False
        self.ack_status = AckStatus.OK

    def factory(self, **kwargs: Any) -> FakePort:
        with self.lock:
            self.opened += 1
        return FakePort(self)

    def send(self, msg: p.Message) -> None:
        with self.lock:
            self.outbox += encode_frame(msg, self.seq)
            self.seq = (self.seq + 1) & 0xFF

    def telemetry(self, stamp_ms: int, left_ticks: int = 0) -> p.Telemetry:
        return p.Telemetry(stamp_ms, left_ticks, 0, 0, 0, 0, 0, 0, 0, 0, 9807, 0, 0, 7800, 0)

    def hello(self, session: int, status: HelloStatus = HelloStatus.ACCEPTED) -> p.Hello:
        return p.Hello(p.PROTOCOL_VERSION, 1, 0, 0, p.SCHEMA_HASH, BOOT_ID, 1, session, status)

    def on_frame(self, msg: p.Message) -> None:
        self.written.append(msg)
        if self.silent:
            return
        if isinstance(msg, p.HelloRequest):
            self.session = msg.session
            self.send(self.hello(msg.session))
        elif isinstance(msg, p.CmdServo | p.CmdMode | p.CmdStop | p.CmdStopReset):
            self.send(p.Ack(msg.session, msg.cmd_id, int(self.ack_status)))
        elif isinstance(msg, p.Ping):
            self.send(p.Pong(msg.host_us, 0))

    def setpoints(self) -> list[p.Setpoint]:
        return [m for m in self.written if isinstance(m, p.Setpoint)]


class FakePort:
    def __init__(self, rover: FakeRover) -> None:
        self.rover = rover
        self.splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
        self.is_open = True

    @property
    def in_waiting(self) -> int:
        return len(self.rover.outbox)

    def reset_input_buffer(self) -> None:
        pass

    def read(self, n: int) -> bytes:
        if not self.is_open:
            raise serial.SerialException("read on a closed port")
        if self.rover.fail_read:
            raise serial.SerialException("device reports readiness to read but returned no data")
        with self.rover.lock:
            data = bytes(self.rover.outbox[:n])
            del self.rover.outbox[:n]
        if not data:
            time.sleep(0.002)
        return data

    def write(self, data: bytes) -> int:
        if not self.is_open:
            raise serial.SerialException("write on a closed port")
        if self.rover.fail_write:
            raise serial.SerialTimeoutException("Write timeout")
        for raw in self.splitter.feed(data):
            self.rover.on_frame(parse_frame(raw).message)
        return len(data)

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            with self.rover.lock:
                self.rover.closed += 1


def _link(rover: FakeRover, **overrides: Any) -> SerialLink:
    cfg = {
        "port": "/dev/fake-rover",
        "seed": 1,
        "silence_timeout_s": 0.3,
        "backoff_initial_s": 0.02,
        "backoff_max_s": 0.05,
        "ping_period_s": 0.0,
    }
    cfg.update(overrides)
    return SerialLink(LinkConfig(**cfg), serial_factory=rover.factory)


def _wait(cond: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def _feed_telemetry(rover: FakeRover, stop: threading.Event) -> None:
    stamp = 0
    while not stop.is_set():
        stamp += 10
        rover.send(rover.telemetry(stamp))
        time.sleep(0.01)


@pytest.mark.parametrize("fault", ["read", "write", "silence"])
def test_a_lost_port_is_closed_and_nothing_moves_until_a_new_session(fault: str) -> None:
    rover = FakeRover()
    stop = threading.Event()
    feeder = threading.Thread(target=_feed_telemetry, args=(rover, stop), daemon=True)
    feeder.start()
    try:
        with _link(rover) as link:
            first = link.wait_connected(2.0)
            assert first.session == link.session
            session = link.session
            assert link.send_setpoint(0.2, 0.0) == 1
            if fault == "read":
                rover.fail_read = True
            elif fault == "write":
                rover.fail_write = True
                link.send_setpoint(0.2, 0.0)  # fails: the reader thread closes the port
            else:
                rover.silent = True
                stop.set()
            assert link.wait_state(LinkState.DISCONNECTED, 2.0)
            assert rover.closed >= 1  # every failed port was closed
            sent_before = len(rover.setpoints())
            for _ in range(20):
                assert link.send_setpoint(0.2, 0.0) is None  # no motion while disconnected
                with pytest.raises(LinkError, match="link is"):
                    link.set_servo(0, 0.3)
            rover.fail_read = rover.fail_write = rover.silent = False
            if fault == "silence":
                stop.clear()
                feeder = threading.Thread(target=_feed_telemetry, args=(rover, stop), daemon=True)
                feeder.start()
            link.wait_connected(3.0)
            assert link.session != session
            assert len(rover.setpoints()) == sent_before  # nothing was sent meanwhile
            assert link.send_setpoint(0.1, 0.0) == 1  # counters restart in the new session
            assert rover.setpoints()[-1].session == link.session
            assert link.counters().disconnects == 1
        assert rover.closed == rover.opened  # and the last one closed on close()
    finally:
        stop.set()


def test_older_telemetry_never_replaces_newer() -> None:
    rover = FakeRover()
    with _link(rover, silence_timeout_s=5.0) as link:
        link.wait_connected(2.0)
        rover.send(rover.telemetry(1000, left_ticks=50))
        assert link.wait_telemetry(1.0)
        rover.send(rover.telemetry(900, left_ticks=40))  # a delayed frame
        rover.send(rover.telemetry(0xFFFFFF00, left_ticks=30))  # "older" across the wrap
        rover.send(rover.telemetry(1010, left_ticks=51))
        assert _wait(lambda: link.telemetry is not None and link.telemetry[0].stamp_ms == 1010)
        assert link.telemetry is not None and link.telemetry[0].left_ticks == 51
        assert link.counters().telemetry_frames == 2


@pytest.mark.parametrize("how", ["hello_for_another_session", "ack_no_session", "announce"])
def test_a_rover_that_lost_our_session_makes_the_host_handshake_again(how: str) -> None:
    rover = FakeRover()
    stop = threading.Event()
    threading.Thread(target=_feed_telemetry, args=(rover, stop), daemon=True).start()
    try:
        with _link(rover, silence_timeout_s=2.0) as link:
            link.wait_connected(2.0)
            session = link.session
            if how == "hello_for_another_session":
                # A HELLO_REQ delayed from an earlier session reopened that one.
                rover.send(rover.hello((session + 1) & 0xFFFF or 1))
            elif how == "ack_no_session":
                rover.ack_status = AckStatus.NO_SESSION
                with pytest.raises(LinkError):
                    link.set_servo(0, 0.2)
                rover.ack_status = AckStatus.OK
            else:
                rover.send(rover.hello(0, HelloStatus.ANNOUNCE))
            assert _wait(lambda: link.counters().handshakes == 2)
            link.wait_connected(2.0)
            assert link.session != session
            assert link.counters().disconnects == 1
    finally:
        stop.set()


def test_ping_waits_for_its_own_pong() -> None:
    rover = FakeRover()
    with _link(rover, silence_timeout_s=5.0) as link:
        link.wait_connected(2.0)
        rover.silent = True
        rover.send(p.Pong(12345, 0))  # an answer to something else
        with pytest.raises(LinkError, match="no PONG"):
            link.ping(timeout_s=0.1)
        rover.silent = False
        assert 0.0 <= link.ping(timeout_s=1.0) < 0.5


@pytest.mark.parametrize(
    ("exc", "message", "wait"),
    [
        (
            serial.SerialException(
                errno.ENOENT, "could not open port /dev/x: [Errno 2] No such file or directory"
            ),
            "/dev/x: no such device",
            True,
        ),
        (
            serial.SerialException(
                errno.EACCES, "could not open port /dev/x: [Errno 13] Permission denied"
            ),
            "/dev/x: permission denied (add the user to the 'dialout' group",
            False,
        ),
        (
            serial.SerialException(
                errno.EWOULDBLOCK, "Could not exclusively lock port /dev/x: [Errno 11]"
            ),
            "/dev/x: busy, another program has it open",
            False,
        ),
        (
            serial.SerialException("Could not configure port: (25, 'Inappropriate ioctl')"),
            "/dev/x: not a serial device",
            False,
        ),
    ],
    ids=["missing", "permission", "busy", "not-a-tty"],
)
def test_open_errors_name_the_port_and_say_what_to_do(
    exc: Exception, message: str, wait: bool
) -> None:
    text, worth_waiting = describe_open_error("/dev/x", exc)
    assert text.startswith(message) and worth_waiting is wait

    def factory(**kwargs: Any) -> Any:
        raise exc

    link = SerialLink(
        LinkConfig(port="/dev/x", seed=1, backoff_initial_s=0.01), serial_factory=factory
    )
    with link:
        t0 = time.monotonic()
        error = PortError if not wait else LinkError
        with pytest.raises(error) as err:
            link.wait_connected(1.0)
        elapsed = time.monotonic() - t0
    assert message in str(err.value)
    if wait:  # a missing device may be plugged in: the whole timeout is waited
        assert not isinstance(err.value, PortError) and elapsed >= 0.9
        assert "within 1 s" in str(err.value)


class _RecordingEvent(threading.Event):
    """Records how long the reader thread asked to wait between attempts."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            self.waits.append(timeout)
        return super().wait(timeout)


def test_backoff_doubles_with_jitter_and_stays_within_its_bounds() -> None:
    def factory(**kwargs: Any) -> Any:
        raise serial.SerialException(errno.ENOENT, "could not open port: No such file")

    link = SerialLink(
        LinkConfig(port="/dev/gone", seed=3, backoff_initial_s=0.002, backoff_max_s=0.016),
        serial_factory=factory,
    )
    recorder = _RecordingEvent()
    link._stopping = recorder  # the reader thread's wait between attempts
    with link:
        assert _wait(lambda: len(recorder.waits) >= 10, 5.0)
        waits = list(recorder.waits[:10])
    nominal = [min(0.016, 0.002 * 2**k) for k in range(10)]
    for got, want in zip(waits, nominal, strict=True):
        assert want / 2 <= got <= want  # jittered down, never above the backoff
    assert waits[-1] > 0.008 and len(set(waits)) == len(waits)  # capped, and jittered
