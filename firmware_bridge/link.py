"""The host end of the serial link: one port, one reader thread, sessions, retries.

:class:`SerialLink` opens the port exclusively with read and write timeouts and runs a
single thread that reads, decodes incrementally (partial reads are normal), dispatches
frames, sends heartbeats and pings, and watches for silence. After an unplug, an I/O
error or silence it closes the port, reports :attr:`LinkState.DISCONNECTED` (nothing
moves: setpoints are not sent), reopens with exponential backoff and handshakes again
with a new session id, so nothing sent before the loss can act after it. A handshake
whose protocol version or schema hash does not match ends in :attr:`LinkState.REFUSED`
with a message naming both versions; the link then never moves the rover.

Setpoints are streamed, unacknowledged (:meth:`SerialLink.send_setpoint`). Discrete
commands (:meth:`SerialLink.command` and its helpers) are sent one at a time, resent
until acknowledged, and de-duplicated by the firmware, so a retry never actuates twice.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

import serial

from lunarsite.robot.hardware import HardwareError

from . import protocol as p
from .cobs import FrameSplitter
from .enums import AckStatus, HelloStatus, Mode, Param, ResetCause
from .framing import CrcError, Frame, FrameError, encode_frame, parse_frame

__all__ = [
    "CommandFailed",
    "HandshakeError",
    "LinkConfig",
    "LinkCounters",
    "LinkError",
    "LinkState",
    "PortError",
    "SerialLink",
    "describe_open_error",
    "host_version",
]

log = logging.getLogger(__name__)


class LinkError(HardwareError):
    """The link cannot do what was asked (not connected, timed out)."""


class HandshakeError(LinkError):
    """The rover speaks another protocol version or message table: motion refused."""


class CommandFailed(LinkError):
    """A discrete command was not acknowledged, or the rover refused it."""


class PortError(LinkError):
    """The port cannot be used: not a serial device, permission denied, or busy.

    Raised by :meth:`SerialLink.wait_connected` at once (rather than after the whole
    timeout) when the link never connected and the last open failed for one of those
    reasons; a missing device is waited for, as it may be plugged in.
    """


_WAIT_FOR_ERRNOS = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO})
"""Open failures that a replug can cure: keep trying without failing fast."""


def _errno_of(exc: BaseException) -> int | None:
    """The errno behind an open failure (pyserial wraps some in SerialException)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        code = getattr(cur, "errno", None)
        if isinstance(code, int):
            return code
        if cur.args and isinstance(cur.args[0], int):
            return int(cur.args[0])  # termios.error(errno, text)
        cur = cur.__cause__ or cur.__context__
    return None


def describe_open_error(port: str, exc: BaseException) -> tuple[str, bool]:
    """A message naming ``port`` and what to do about ``exc``, and whether it is worth
    waiting for (a missing device may appear; permission, busy or not-a-tty will not)."""
    code = _errno_of(exc)
    text = str(exc)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return f"{port}: no such device (unplugged?)", True
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"{port}: permission denied (add the user to the 'dialout' group, or install "
            "firmware_bridge/udev/60-lunarsite-rover.rules)",
            False,
        )
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text:
        return f"{port}: busy, another program has it open (see: fuser -v {port})", False
    if code in (errno.ENOTTY, errno.EISDIR, errno.EINVAL) or "Inappropriate ioctl" in text:
        return f"{port}: not a serial device", False
    return f"cannot open {port}: {exc}", code in _WAIT_FOR_ERRNOS


class LinkState(enum.Enum):
    CLOSED = "closed"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    REFUSED = "refused"


def host_version() -> str:
    try:
        return metadata.version("lunarsite")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare tree
        return "unknown"


@dataclass(frozen=True)
class LinkConfig:
    """How to open and keep the link. Times in s, rates in Hz."""

    port: str
    """A stable device name: /dev/serial/by-id/..., or the udev symlink /dev/lunarsite-rover."""
    baudrate: int = 115200
    read_timeout_s: float = 0.005
    write_timeout_s: float = 0.2
    handshake_timeout_s: float = 3.0
    """Opening the port resets a classic Arduino; its bootloader takes ~1-2 s."""
    hello_retry_s: float = 0.1
    silence_timeout_s: float = 0.5
    """No valid frame from the rover for this long: the link is lost."""
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 2.0
    heartbeat_period_s: float = 0.2
    ping_period_s: float = 0.25
    """Automatic pings for round-trip statistics; 0 disables them."""
    command_timeout_s: float = 0.08
    """Wait for an acknowledgement before resending a command."""
    command_attempts: int = 12
    max_link_use: float = 0.8
    """Writes are rate-limited to this fraction of the line's byte rate (baud / 10)."""
    exclusive: bool = True
    seed: int | None = None
    """Seeds the session ids (for reproducible tests); None draws them from the OS."""

    def __post_init__(self) -> None:
        for name in (
            "read_timeout_s",
            "write_timeout_s",
            "handshake_timeout_s",
            "hello_retry_s",
            "silence_timeout_s",
            "backoff_initial_s",
            "backoff_max_s",
            "heartbeat_period_s",
            "command_timeout_s",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"LinkConfig.{name} must be positive and finite, got {value}")
        if not (math.isfinite(self.ping_period_s) and self.ping_period_s >= 0.0):
            raise ValueError(f"LinkConfig.ping_period_s must be >= 0, got {self.ping_period_s}")
        if self.baudrate <= 0:
            raise ValueError(f"LinkConfig.baudrate must be positive, got {self.baudrate}")
        if self.command_attempts < 1:
            raise ValueError("LinkConfig.command_attempts must be at least 1")
        if not 0.0 < self.max_link_use <= 1.0:
            raise ValueError(f"LinkConfig.max_link_use must be in (0, 1], got {self.max_link_use}")


@dataclass(frozen=True)
class LinkCounters:
    """A snapshot of the host's link counters (and the rover's last LINK_STATUS)."""

    state: str
    tx_frames: int
    tx_bytes: int
    rx_frames: int
    rx_bytes: int
    crc_errors: int
    framing_errors: int
    """COBS errors plus frames with a bad header, unknown type or wrong payload size."""
    overflows: int
    telemetry_frames: int
    rx_drops: int
    """Rover frames lost on the way, from gaps in its sequence numbers."""
    setpoints_sent: int
    setpoints_rate_limited: int
    commands_sent: int
    command_retries: int
    command_failures: int
    handshakes: int
    disconnects: int
    rtt_samples: int
    rtt_p50_s: float | None
    rtt_p90_s: float | None
    rtt_p99_s: float | None
    rtt_max_s: float | None
    rover: p.LinkStatus | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        out = {k: v for k, v in self.__dict__.items() if k != "rover"}
        out["rover"] = None if self.rover is None else asdict(self.rover)
        return out


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in [0, 100])."""
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


@dataclass
class _Counts:
    tx_frames: int = 0
    tx_bytes: int = 0
    rx_frames: int = 0
    rx_bytes: int = 0
    crc_errors: int = 0
    framing_errors: int = 0
    rx_drops: int = 0
    telemetry_frames: int = 0
    setpoints_sent: int = 0
    setpoints_rate_limited: int = 0
    commands_sent: int = 0
    command_retries: int = 0
    command_failures: int = 0
    handshakes: int = 0
    disconnects: int = 0
    rtts_s: deque[float] = field(default_factory=lambda: deque(maxlen=2000))


class _LinkLost(Exception):
    """Internal: the port failed or went silent."""


class SerialLink:
    """One serial link to a rover. Thread-safe; use as a context manager or call
    :meth:`start` and :meth:`close`."""

    def __init__(
        self, config: LinkConfig, *, serial_factory: Callable[..., Any] | None = None
    ) -> None:
        self.config = config
        self._factory = serial_factory or serial.Serial
        self._rng = random.Random(config.seed) if config.seed is not None else random.SystemRandom()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        self._command_lock = threading.Lock()
        self._port: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._state = LinkState.CLOSED
        self._refusal = ""
        self._session = 0
        self._session_epoch = 0
        self._hello: p.Hello | None = None
        self._tx_seq = 0
        self._rx_seq: int | None = None
        self._counter = 0
        self._cmd_id = 0
        self._acks: dict[tuple[int, int], int] = {}
        self._params: dict[int, tuple[float, int]] = {}
        self._telemetry: p.Telemetry | None = None
        self._telemetry_host_s = 0.0
        self._telemetry_stamp_ms: int | None = None
        self._odometry: p.Odometry | None = None
        self._link_status: p.LinkStatus | None = None
        self._heartbeat: p.Heartbeat | None = None
        self._last_rx_s = 0.0
        self._splitter = FrameSplitter(p.MAX_ENCODED_BYTES)
        self._counts = _Counts()
        self._tokens = 4.0 * p.MAX_WIRE_BYTES
        self._tokens_at = time.monotonic()
        self._listeners: list[Callable[[p.Hello], None]] = []
        self._lost_reason = ""
        self._open_error = ""
        """Why the last open failed, when it is not worth waiting for (else empty)."""
        self._ever_connected = False
        self._write_failed = False
        self._pong_count = 0
        self._last_rtt_s = 0.0
        self._ping_us: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the reader thread; it opens the port and handshakes in the background."""
        with self._lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            self._set_state(LinkState.CONNECTING)
            self._thread = threading.Thread(target=self._run, name="lunarsite-link", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread and close the port. The rover's watchdog stops the wheels."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5.0)
        self._thread = None
        self._close_port()
        with self._lock:
            if self._state is not LinkState.REFUSED:  # keep saying why it never moved
                self._set_state(LinkState.CLOSED)

    def __enter__(self) -> SerialLink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_connect_listener(self, callback: Callable[[p.Hello], None]) -> None:
        """Call ``callback(hello)`` from the reader thread after every handshake.

        It must not block on the link (no :meth:`command` inside); hand work to a thread.
        """
        self._listeners.append(callback)

    # --------------------------------------------------------------------- status
    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def hello(self) -> p.Hello | None:
        """The rover's HELLO from the last handshake."""
        return self._hello

    @property
    def session(self) -> int:
        return self._session

    @property
    def refusal(self) -> str:
        """Why the handshake was refused (empty unless REFUSED)."""
        return self._refusal

    def wait_connected(self, timeout_s: float) -> p.Hello:
        """Block until CONNECTED; raise :class:`HandshakeError` if refused, else
        :class:`LinkError` on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._state is not LinkState.CONNECTED:
                if self._state is LinkState.REFUSED:
                    raise HandshakeError(self._refusal)
                if self._state is LinkState.CLOSED:
                    raise LinkError(f"link to {self.config.port} is closed")
                if self._open_error and not self._ever_connected:
                    raise PortError(self._open_error)
                left = deadline - time.monotonic()
                if left <= 0.0:
                    why = f" ({self._lost_reason})" if self._lost_reason else ""
                    raise LinkError(
                        f"no handshake with the rover on {self.config.port} within "
                        f"{timeout_s:g} s{why}"
                    )
                self._cond.wait(left)
            assert self._hello is not None
            return self._hello

    def wait_state(self, state: LinkState, timeout_s: float) -> bool:
        """Block until the link is in ``state``; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._state is state, timeout_s)

    @property
    def telemetry(self) -> tuple[p.Telemetry, float] | None:
        """The latest TELEMETRY and its host receive time (monotonic s)."""
        with self._lock:
            if self._telemetry is None:
                return None
            return self._telemetry, self._telemetry_host_s

    def wait_telemetry(self, timeout_s: float) -> bool:
        """Block until a TELEMETRY newer than now arrives; False on timeout."""
        with self._cond:
            seen = self._counts.telemetry_frames
            return self._cond.wait_for(
                lambda: self._counts.telemetry_frames != seen, max(timeout_s, 0.0)
            )

    @property
    def odometry(self) -> p.Odometry | None:
        return self._odometry

    @property
    def rover_link_status(self) -> p.LinkStatus | None:
        return self._link_status

    def counters(self) -> LinkCounters:
        with self._lock:
            c = self._counts
            rtts = sorted(c.rtts_s)
            pct = {q: (_percentile(rtts, q) if rtts else None) for q in (50, 90, 99)}
            return LinkCounters(
                state=self._state.value,
                tx_frames=c.tx_frames,
                tx_bytes=c.tx_bytes,
                rx_frames=c.rx_frames,
                rx_bytes=c.rx_bytes,
                crc_errors=c.crc_errors,
                framing_errors=c.framing_errors + self._splitter.framing_errors,
                overflows=self._splitter.overflows,
                telemetry_frames=c.telemetry_frames,
                rx_drops=c.rx_drops,
                setpoints_sent=c.setpoints_sent,
                setpoints_rate_limited=c.setpoints_rate_limited,
                commands_sent=c.commands_sent,
                command_retries=c.command_retries,
                command_failures=c.command_failures,
                handshakes=c.handshakes,
                disconnects=c.disconnects,
                rtt_samples=len(rtts),
                rtt_p50_s=pct[50],
                rtt_p90_s=pct[90],
                rtt_p99_s=pct[99],
                rtt_max_s=rtts[-1] if rtts else None,
                rover=self._link_status,
            )

    # ------------------------------------------------------------------ streaming
    def send_setpoint(self, linear_mps: float, angular_radps: float) -> int | None:
        """Stream one drive setpoint; returns its counter, or None if it was not sent
        (not connected, or the write rate limit would be exceeded: a newer one follows)."""
        if not (math.isfinite(linear_mps) and math.isfinite(angular_radps)):
            raise ValueError(f"setpoint is not finite: {linear_mps}, {angular_radps}")
        with self._lock:
            if self._state is not LinkState.CONNECTED:
                return None
            self._counter = (self._counter + 1) & 0xFFFFFFFF
            counter = self._counter
            msg = p.Setpoint(
                session=self._session,
                counter=counter,
                linear_mmps=_clamp_i16(linear_mps * 1000.0),
                angular_mradps=_clamp_i16(angular_radps * 1000.0),
            )
        if not self._send(msg, droppable=True):
            with self._lock:
                self._counts.setpoints_rate_limited += 1
            return None
        with self._lock:
            self._counts.setpoints_sent += 1
        return counter

    # ------------------------------------------------------------------- commands
    def command(self, build: Callable[[int, int], p.Message]) -> AckStatus:
        """Send a discrete command built by ``build(session, cmd_id)`` until acknowledged.

        Returns the rover's status (OK, or why it refused). Raises
        :class:`CommandFailed` when no acknowledgement came after
        ``command_attempts`` tries, or :class:`LinkError` if the link was lost
        meanwhile (the command is never resent in a later session).
        """
        cfg = self.config
        with self._command_lock:
            with self._lock:
                if self._state is not LinkState.CONNECTED:
                    raise LinkError(f"cannot send a command: link is {self._state.value}")
                epoch = self._session_epoch
                session = self._session
                self._cmd_id = (self._cmd_id + 1) & 0xFFFF or 1
                cmd_id = self._cmd_id
                # One command in flight at a time: late answers to earlier ones must not
                # linger (after 65535 commands their ids come round again).
                self._acks.clear()
            msg = build(session, cmd_id)
            key = (session, cmd_id)
            for attempt in range(cfg.command_attempts):
                with self._lock:
                    if self._session_epoch != epoch or self._state is not LinkState.CONNECTED:
                        self._counts.command_failures += 1
                        raise LinkError(f"link lost while sending {msg.NAME} (id {cmd_id})")
                    self._counts.commands_sent += 1
                    if attempt > 0:
                        self._counts.command_retries += 1
                self._send(msg, droppable=False)
                deadline = time.monotonic() + cfg.command_timeout_s
                with self._cond:
                    while key not in self._acks:
                        left = deadline - time.monotonic()
                        if left <= 0.0 or self._session_epoch != epoch:
                            break
                        self._cond.wait(left)
                    status = self._acks.pop(key, None)
                if status is not None:
                    return (
                        AckStatus(status)
                        if status in AckStatus._value2member_map_
                        else AckStatus.BAD_ARGUMENT
                    )
            with self._lock:
                self._counts.command_failures += 1
            raise CommandFailed(
                f"{msg.NAME} (id {cmd_id}) not acknowledged after {cfg.command_attempts} "
                f"tries on {cfg.port}"
            )

    def _command_ok(self, build: Callable[[int, int], p.Message], what: str) -> None:
        status = self.command(build)
        if status is not AckStatus.OK:
            raise CommandFailed(f"rover refused {what}: {status.name}")

    def set_mode(self, mode: Mode) -> None:
        self._command_ok(lambda s, i: p.CmdMode(s, i, int(mode)), f"mode {mode.name}")

    def set_servo(self, channel: int, target_rad: float) -> AckStatus:
        """Servo target (channel 0 tool, 1 gripper), in rad; returns the rover's status."""
        if not math.isfinite(target_rad):
            raise ValueError(f"servo target is not finite: {target_rad}")
        mrad = _clamp_i16(target_rad * 1000.0)
        return self.command(lambda s, i: p.CmdServo(s, i, channel, mrad))

    def emergency_stop(self) -> None:
        """Latch a stop on the rover: brake, ignore setpoints until :meth:`stop_reset`."""
        self._command_ok(lambda s, i: p.CmdStop(s, i), "stop")

    def stop_reset(self) -> None:
        self._command_ok(lambda s, i: p.CmdStopReset(s, i), "stop reset")

    def set_param(self, param: Param, value: float) -> None:
        self._command_ok(
            lambda s, i: p.CmdParamSet(s, i, int(param), float(value)),
            f"{param.name} = {value:g}",
        )

    def get_param(self, param: Param, timeout_s: float = 0.5) -> float:
        """Read a parameter (resent every ``command_timeout_s`` until answered)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._params.pop(int(param), None)
        while time.monotonic() < deadline:
            self._send(p.ParamGet(int(param)), droppable=False)
            until = min(deadline, time.monotonic() + self.config.command_timeout_s)
            with self._cond:
                while int(param) not in self._params and time.monotonic() < until:
                    self._cond.wait(until - time.monotonic())
                if int(param) in self._params:
                    value, status = self._params.pop(int(param))
                    if status != AckStatus.OK:
                        raise CommandFailed(f"rover has no parameter {param.name}")
                    return value
        raise CommandFailed(f"no answer to PARAM_GET {param.name} within {timeout_s:g} s")

    def ping(self, timeout_s: float = 0.5) -> float:
        """One round trip through the link, in s."""
        stamp = _now_us()
        with self._lock:
            marker = self._pong_count
            self._ping_us = stamp
        self._send(p.Ping(stamp), droppable=False)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pong_count == marker:
                left = deadline - time.monotonic()
                if left <= 0.0:
                    raise LinkError(f"no PONG from {self.config.port} within {timeout_s:g} s")
                self._cond.wait(left)
            return self._last_rtt_s

    # ---------------------------------------------------------------- internals
    def _set_state(self, state: LinkState) -> None:
        # caller holds self._lock
        if state is not self._state:
            log.info("link %s: %s -> %s", self.config.port, self._state.value, state.value)
            self._state = state
            self._cond.notify_all()

    def _send(self, msg: p.Message, *, droppable: bool) -> bool:
        port = self._port
        if port is None:
            return False
        with self._write_lock:
            if self._port is not port:
                return False  # closed (and maybe reopened) meanwhile
            wire = encode_frame(msg, self._tx_seq)
            if not self._take_tokens(len(wire), droppable):
                return False
            self._tx_seq = (self._tx_seq + 1) & 0xFF
            try:
                port.write(wire)
            except (serial.SerialException, OSError) as exc:
                self._lost_reason = f"write failed: {exc}"
                self._write_failed = True  # the reader thread closes and reconnects
                log.warning("link %s: %s", self.config.port, self._lost_reason)
                return False
        with self._lock:
            self._counts.tx_frames += 1
            self._counts.tx_bytes += len(wire)
        return True

    def _take_tokens(self, n: int, droppable: bool) -> bool:
        """Byte-rate limit at max_link_use of baud/10; setpoints are dropped, others wait."""
        rate = self.config.baudrate / 10.0 * self.config.max_link_use
        burst = 4.0 * p.MAX_WIRE_BYTES
        while True:
            now = time.monotonic()
            self._tokens = min(burst, self._tokens + (now - self._tokens_at) * rate)
            self._tokens_at = now
            if self._tokens >= n:
                self._tokens -= n
                return True
            if droppable:
                return False
            time.sleep((n - self._tokens) / rate)

    def _close_port(self) -> None:
        with self._write_lock:  # never close under a writer
            port = self._port
            self._port = None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def _run(self) -> None:
        backoff = self.config.backoff_initial_s
        last_reason = ""
        while not self._stopping.is_set():
            try:
                self._open()
                self._handshake()
                backoff = self.config.backoff_initial_s
                last_reason = ""
                self._serve()
            except _LinkLost as exc:
                self._lost_reason = str(exc)
                # Say it once; a port that stays away is retried quietly.
                level = logging.DEBUG if str(exc) == last_reason else logging.WARNING
                log.log(level, "link %s lost: %s", self.config.port, exc)
                last_reason = str(exc)
            except HandshakeError as exc:
                with self._lock:
                    self._refusal = str(exc)
                    self._set_state(LinkState.REFUSED)
                log.error("link %s: %s", self.config.port, exc)
                self._close_port()
                return
            except Exception as exc:  # a bug must not leave the port open and the state stale
                self._lost_reason = f"internal error: {exc!r}"
                log.exception("link %s: unexpected error in the reader thread", self.config.port)
            self._close_port()
            if self._stopping.is_set():
                break
            with self._lock:
                if self._state is LinkState.CONNECTED:
                    self._counts.disconnects += 1
                self._session_epoch += 1
                self._set_state(LinkState.DISCONNECTED)
                self._cond.notify_all()
            # Jittered in [backoff / 2, backoff], so the wait never exceeds backoff_max_s.
            self._stopping.wait(backoff * (0.5 + 0.5 * self._rng.random()))
            backoff = min(self.config.backoff_max_s, backoff * 2.0)

    def _open(self) -> None:
        cfg = self.config
        try:
            port = self._factory(
                port=cfg.port,
                baudrate=cfg.baudrate,
                timeout=cfg.read_timeout_s,
                write_timeout=cfg.write_timeout_s,
                exclusive=cfg.exclusive,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            why, wait = describe_open_error(cfg.port, exc)
            with self._lock:
                self._open_error = "" if wait else why
                self._cond.notify_all()
            raise _LinkLost(why) from None
        try:
            port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
            raise _LinkLost(f"cannot flush {cfg.port}: {exc}") from None
        with self._lock:
            self._open_error = ""
        self._splitter.reset()
        self._rx_seq = None
        self._write_failed = False
        self._port = port

    def _read_frames(self) -> list[Frame]:
        port = self._port
        if port is None:
            raise _LinkLost("port closed")
        try:
            waiting = port.in_waiting
            data = port.read(max(1, min(waiting, 4096)))
        except (serial.SerialException, OSError) as exc:
            raise _LinkLost(f"read failed: {exc}") from None
        if not data:
            return []
        frames = []
        with self._lock:
            self._counts.rx_bytes += len(data)
        for raw in self._splitter.feed(data):
            try:
                frames.append(parse_frame(raw))
            except CrcError:
                with self._lock:
                    self._counts.crc_errors += 1
            except FrameError:
                with self._lock:
                    self._counts.framing_errors += 1
        return frames

    def _new_session(self) -> int:
        while True:
            s = self._rng.randrange(1, 0x10000)
            if s != self._session:
                return s

    def _handshake(self) -> None:
        cfg = self.config
        session = self._new_session()
        with self._lock:
            self._set_state(LinkState.CONNECTING)
            self._counts.handshakes += 1
        request = p.HelloRequest(p.PROTOCOL_VERSION, p.SCHEMA_HASH, session)
        deadline = time.monotonic() + cfg.handshake_timeout_s
        next_hello = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= deadline:
                raise _LinkLost(f"no HELLO within {cfg.handshake_timeout_s:g} s")
            if now >= next_hello:
                self._send(request, droppable=False)
                next_hello = now + cfg.hello_retry_s
            if self._write_failed:
                raise _LinkLost(self._lost_reason or "write failed")
            for frame in self._read_frames():
                msg = frame.message
                if not isinstance(msg, p.Hello) or msg.session != session:
                    continue
                if msg.status == HelloStatus.ACCEPTED and (
                    msg.protocol != p.PROTOCOL_VERSION or msg.schema_hash != p.SCHEMA_HASH
                ):
                    raise HandshakeError(self._mismatch_text(msg))
                if msg.status in (HelloStatus.PROTOCOL_MISMATCH, HelloStatus.SCHEMA_MISMATCH):
                    raise HandshakeError(self._mismatch_text(msg))
                if msg.status != HelloStatus.ACCEPTED:
                    continue
                with self._lock:
                    self._session = session
                    self._session_epoch += 1
                    self._hello = msg
                    self._counter = 0
                    self._cmd_id = 0
                    self._acks.clear()
                    self._telemetry_stamp_ms = None  # the rover's clock may have restarted
                    self._ever_connected = True
                    self._last_rx_s = time.monotonic()
                    self._set_state(LinkState.CONNECTED)
                log.info(
                    "link %s: session %d with firmware %s (boot id 0x%08X, reset cause %s)",
                    cfg.port,
                    session,
                    msg.firmware_version,
                    msg.boot_id,
                    _reset_name(msg.reset_cause),
                )
                for listener in list(self._listeners):
                    try:
                        listener(msg)
                    except Exception:  # a listener must not kill the link
                        log.exception("link connect listener failed")
                return
        raise _LinkLost("stopping")

    def _mismatch_text(self, hello: p.Hello) -> str:
        what = "schema hash" if hello.schema_hash != p.SCHEMA_HASH else "protocol version"
        return (
            f"{what} mismatch on {self.config.port}: host lunarsite {host_version()} speaks "
            f"protocol {p.PROTOCOL_VERSION} schema 0x{p.SCHEMA_HASH:08X}, rover firmware "
            f"{hello.firmware_version} speaks protocol {hello.protocol} schema "
            f"0x{hello.schema_hash:08X}; refusing motion (update the firmware or the host)"
        )

    def _serve(self) -> None:
        cfg = self.config
        next_heartbeat = 0.0
        next_ping = time.monotonic() + cfg.ping_period_s
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_heartbeat:
                self._send(p.HeartbeatHost(int(now * 1000.0) & 0xFFFFFFFF), droppable=True)
                next_heartbeat = now + cfg.heartbeat_period_s
            if cfg.ping_period_s > 0.0 and now >= next_ping:
                self._send(p.Ping(_now_us()), droppable=True)
                next_ping = now + cfg.ping_period_s
            for frame in self._read_frames():
                self._dispatch(frame)
            if self._write_failed:
                raise _LinkLost(self._lost_reason or "write failed")
            if time.monotonic() - self._last_rx_s > cfg.silence_timeout_s:
                raise _LinkLost(f"rover silent for {cfg.silence_timeout_s:g} s")

    def _dispatch(self, frame: Frame) -> None:
        msg = frame.message
        now = time.monotonic()
        with self._lock:
            c = self._counts
            c.rx_frames += 1
            if self._rx_seq is not None:
                c.rx_drops += (frame.seq - self._rx_seq - 1) & 0xFF
            self._rx_seq = frame.seq
            if isinstance(msg, p.Telemetry):
                newest = self._telemetry_stamp_ms
                if newest is not None and ((msg.stamp_ms - newest) & 0xFFFFFFFF) >= 1 << 31:
                    return  # older than the newest one: a delayed or repeated frame
                self._telemetry_stamp_ms = msg.stamp_ms
                self._telemetry = msg
                self._telemetry_host_s = now
                c.telemetry_frames += 1
                self._cond.notify_all()
                self._last_rx_s = now
            elif isinstance(msg, p.Ack):
                self._last_rx_s = now
                if msg.session == self._session:
                    if msg.status == AckStatus.NO_SESSION:
                        # The rover no longer has our session (a stale HELLO_REQ from
                        # before a reconnect reopened an old one): start over.
                        raise _LinkLost(f"rover has no session {msg.session}: session lost")
                    self._acks[(msg.session, msg.cmd_id)] = msg.status
                    self._cond.notify_all()
            elif isinstance(msg, p.Pong):
                rtt = ((_now_us() - msg.host_us) & 0xFFFFFFFF) * 1e-6
                if rtt < 10.0:
                    c.rtts_s.append(rtt)
                    if msg.host_us == self._ping_us:
                        self._last_rtt_s = rtt
                        self._pong_count += 1
                        self._cond.notify_all()
                self._last_rx_s = now
            elif isinstance(msg, p.Heartbeat):
                self._heartbeat = msg
                self._last_rx_s = now
            elif isinstance(msg, p.Odometry):
                self._odometry = msg
                self._last_rx_s = now
            elif isinstance(msg, p.LinkStatus):
                self._link_status = msg
                self._last_rx_s = now
            elif isinstance(msg, p.ParamValue):
                self._params[msg.param] = (msg.value, msg.status)
                self._cond.notify_all()
                self._last_rx_s = now
            elif isinstance(msg, p.Hello) and (
                msg.status == HelloStatus.ANNOUNCE
                or (self._hello is not None and msg.boot_id != self._hello.boot_id)
            ):
                # The rover rebooted or dropped our session: start over.
                raise _LinkLost(
                    f"rover announced itself (boot id 0x{msg.boot_id:08X}): session lost"
                )
            elif isinstance(msg, p.Hello) and msg.session != self._session:
                # The rover opened another session (a delayed HELLO_REQ of an earlier
                # one): ours is gone, so setpoints would be dropped. Start over.
                raise _LinkLost(f"rover switched to session {msg.session}: session lost")


def _now_us() -> int:
    return (time.monotonic_ns() // 1000) & 0xFFFFFFFF


def _clamp_i16(value: float) -> int:
    return max(-0x8000, min(0x7FFF, round(value)))


def _reset_name(cause: int) -> str:
    try:
        return ResetCause(cause).name
    except ValueError:
        return f"code {cause}"
