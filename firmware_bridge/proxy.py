"""A fault-injection proxy between the host and a (virtual) rover.

The proxy opens the rover's device and offers the host a fresh pseudo-terminal, then
forwards bytes both ways through a fault model: per byte, with given probabilities, it
corrupts (flips one bit), drops, duplicates, swaps with the next byte (reorders) or
stalls the stream (delays). Per frame (bytes up to a 0x00 delimiter) it can also replay
an earlier intact frame later (a stale duplicate, out of order) or swap a frame with the
next one, which byte faults almost never produce (they break the CRC instead); these
test the receiver's stale and duplicate rules rather than its CRC. It can cut the line
(bytes vanish both ways until :meth:`FaultProxy.restore`), unplug it (the host's device
disappears, as a USB unplug) and plug it back under a new name behind a stable symlink,
and hold each direction to a baud rate (a pty itself ignores the baud rate).

Fault decisions come from one seeded generator per direction and are drawn per byte (and
per frame) in arrival order, so the same byte stream meets the same faults on every run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import selectors
import termios
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FaultConfig", "FaultProxy", "FaultStats"]

log = logging.getLogger(__name__)

_REPLAY_DEPTH = 8
"""Frame replays pick one of this many most recent frames."""


@dataclass(frozen=True)
class FaultConfig:
    """Faults for one direction. Probabilities are per byte; times in s."""

    corrupt_prob: float = 0.0
    drop_prob: float = 0.0
    duplicate_prob: float = 0.0
    reorder_prob: float = 0.0
    delay_prob: float = 0.0
    delay_s: float = 0.02
    frame_replay_prob: float = 0.0
    """Per frame: after it, send again one of the last few frames, picked at random."""
    frame_reorder_prob: float = 0.0
    """Per frame: hold it back and send it after the next frame."""
    baud: int | None = None
    """Hold the direction to baud / 10 bytes per second (8N1); None forwards at once."""

    def __post_init__(self) -> None:
        probs = (
            self.corrupt_prob,
            self.drop_prob,
            self.duplicate_prob,
            self.reorder_prob,
            self.delay_prob,
        )
        if any(not 0.0 <= q <= 1.0 for q in probs) or sum(probs) > 1.0:
            raise ValueError(f"fault probabilities must be in [0, 1] and sum to <= 1: {probs}")
        frame_probs = (self.frame_replay_prob, self.frame_reorder_prob)
        if any(not 0.0 <= q <= 1.0 for q in frame_probs) or sum(frame_probs) > 1.0:
            raise ValueError(
                f"frame fault probabilities must be in [0, 1] and sum to <= 1: {frame_probs}"
            )
        if self.delay_s < 0.0:
            raise ValueError(f"delay_s must be >= 0, got {self.delay_s}")
        if self.baud is not None and self.baud <= 0:
            raise ValueError(f"baud must be positive, got {self.baud}")


@dataclass
class FaultStats:
    bytes_in: int = 0
    bytes_out: int = 0
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    delayed: int = 0
    cut: int = 0
    frames_replayed: int = 0
    frames_reordered: int = 0


@dataclass
class _Direction:
    name: str
    faults: FaultConfig
    rng: random.Random
    stats: FaultStats = field(default_factory=FaultStats)
    queue: deque[int] = field(default_factory=deque)
    held: int | None = None
    """A byte waiting to be swapped behind the next one."""
    hold_until: float = 0.0
    next_byte_s: float = 0.0
    partial: bytearray = field(default_factory=bytearray)
    """Frame-level faults: the bytes of the frame not yet ended by a 0x00."""
    recent: deque[bytes] = field(default_factory=lambda: deque(maxlen=_REPLAY_DEPTH))
    held_frame: bytes | None = None

    def take(self, data: bytes, now: float) -> None:
        f = self.faults
        self.stats.bytes_in += len(data)
        if f.frame_replay_prob == 0.0 and f.frame_reorder_prob == 0.0:
            self._bytes(data, now)
            return
        # Whole frames first (each frame's fate is drawn when its delimiter arrives),
        # then the byte faults on what goes out.
        start = 0
        while (end := data.find(0, start)) >= 0:
            self.partial += data[start : end + 1]
            start = end + 1
            frame = bytes(self.partial)
            self.partial.clear()
            self._bytes(b"".join(self._frames(frame)), now)
        self.partial += data[start:]

    def _frames(self, frame: bytes) -> list[bytes]:
        """The frames to send now that ``frame`` has ended."""
        f = self.faults
        r = self.rng.random()
        out: list[bytes] = []
        if r < f.frame_reorder_prob and self.held_frame is None:
            self.held_frame = frame
            self.stats.frames_reordered += 1
        else:
            out.append(frame)
            if self.held_frame is not None:
                out.append(self.held_frame)
                self.held_frame = None
            if r >= 1.0 - f.frame_replay_prob and self.recent:
                out.append(self.recent[self.rng.randrange(len(self.recent))])
                self.stats.frames_replayed += 1
        self.recent.append(frame)
        return out

    def clear(self) -> None:
        """Forget everything queued or held (a cut line, an unplug)."""
        self.queue.clear()
        self.held = None
        self.partial.clear()
        self.held_frame = None

    def _bytes(self, data: bytes, now: float) -> None:
        f = self.faults
        s = self.stats
        p_drop = f.drop_prob
        p_corrupt = p_drop + f.corrupt_prob
        p_dup = p_corrupt + f.duplicate_prob
        p_reorder = p_dup + f.reorder_prob
        p_delay = p_reorder + f.delay_prob
        rng = self.rng
        q = self.queue
        if not q and f.baud is not None:
            # The line was idle: the first byte starts now and arrives one byte time later.
            self.next_byte_s = max(self.next_byte_s, now)
        for byte in data:
            r = rng.random()
            if r < p_drop:
                s.dropped += 1
                continue
            if r < p_corrupt:
                byte ^= 1 << rng.randrange(8)
                s.corrupted += 1
            elif r < p_dup:
                q.append(byte)
                s.duplicated += 1
            elif r < p_reorder and self.held is None:
                self.held = byte
                s.reordered += 1
                continue
            elif r < p_delay:
                self.hold_until = max(self.hold_until, now + f.delay_s)
                s.delayed += 1
            q.append(byte)
            if self.held is not None:
                q.append(self.held)
                self.held = None

    def ready(self, now: float) -> bytes:
        """Bytes that may go out now (the delay and the baud throttle allowing)."""
        if not self.queue or now < self.hold_until:
            return b""
        n = len(self.queue)
        baud = self.faults.baud
        if baud is not None:
            # A UART: byte k of a busy line arrives (k + 1) byte times after the first
            # started; never earlier.
            per_byte = 10.0 / baud
            n = min(n, int((now - self.next_byte_s) / per_byte))
            if n <= 0:
                return b""
        return bytes(self.queue.popleft() for _ in range(min(n, 4096)))

    def wait_s(self, now: float) -> float | None:
        """Seconds until bytes may go out, or None if nothing is queued."""
        if not self.queue:
            return None
        due = self.hold_until
        if self.faults.baud is not None:
            due = max(due, self.next_byte_s + 10.0 / self.faults.baud)
        return max(0.0, due - now)

    def sent(self, n: int) -> None:
        self.stats.bytes_out += n
        if self.faults.baud is not None:
            self.next_byte_s += n * 10.0 / self.faults.baud

    def unsend(self, data: bytes) -> None:
        self.queue.extendleft(reversed(data))


def _raw(fd: int) -> None:
    tty.setraw(fd, termios.TCSANOW)


class FaultProxy:
    """Forward bytes between ``rover_port`` and a new pty for the host, with faults.

    ``host_link`` makes a symlink to the host-side pty that survives :meth:`replug`
    (open that, as you would open a udev symlink).
    """

    def __init__(
        self,
        rover_port: str,
        *,
        to_rover: FaultConfig | None = None,
        to_host: FaultConfig | None = None,
        seed: int = 0,
        host_link: Path | None = None,
    ) -> None:
        self.rover_port = rover_port
        self.host_link = host_link
        self._down = _Direction("to_rover", to_rover or FaultConfig(), random.Random(seed * 2 + 1))
        self._up = _Direction("to_host", to_host or FaultConfig(), random.Random(seed * 2 + 2))
        self._lock = threading.Lock()
        self._rover_fd = -1
        self._host_master = -1
        self._host_slave = -1
        self._cut = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        self.host_port = ""

    # ----------------------------------------------------------------- control
    def start(self) -> str:
        """Open both ends and start forwarding; returns the host-side device path."""
        fd = os.open(self.rover_port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        _raw(fd)
        self._rover_fd = fd
        self._open_host_side()
        self._thread = threading.Thread(target=self._run, name="lunarsite-proxy", daemon=True)
        self._thread.start()
        return self.port

    @property
    def port(self) -> str:
        """The path the host should open (the symlink if one was asked for)."""
        return str(self.host_link) if self.host_link is not None else self.host_port

    def set_faults(
        self, *, to_rover: FaultConfig | None = None, to_host: FaultConfig | None = None
    ) -> None:
        with self._lock:
            if to_rover is not None:
                self._down.faults = to_rover
            if to_host is not None:
                self._up.faults = to_host

    def cut(self) -> None:
        """Cut the line: from now on bytes vanish both ways (queued ones too)."""
        with self._lock:
            self._cut = True
            for d in (self._down, self._up):
                d.stats.cut += len(d.queue)
                d.clear()
        log.info("proxy: line cut")

    def restore(self) -> None:
        with self._lock:
            self._cut = False
        log.info("proxy: line restored")

    def unplug(self) -> None:
        """Close the host-side pty, as a USB unplug removes the device."""
        with self._lock:
            self._close_host_side()
        self._wake()
        log.info("proxy: unplugged")

    def replug(self) -> str:
        """A new host-side pty (a new device name); the symlink follows it."""
        with self._lock:
            self._close_host_side()
            self._open_host_side()
        self._wake()
        log.info("proxy: plugged in as %s", self.host_port)
        return self.port

    def stats(self) -> dict[str, FaultStats]:
        with self._lock:
            return {
                "to_rover": FaultStats(**vars(self._down.stats)),
                "to_host": FaultStats(**vars(self._up.stats)),
            }

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        with self._lock:
            self._close_host_side()
            if self._rover_fd >= 0:
                os.close(self._rover_fd)
                self._rover_fd = -1
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> FaultProxy:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- internals
    def _open_host_side(self) -> None:
        master, slave = os.openpty()
        _raw(slave)
        os.set_blocking(master, False)
        self._host_master, self._host_slave = master, slave
        self.host_port = os.ttyname(slave)
        if self.host_link is not None:
            tmp = self.host_link.with_name(self.host_link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.host_port)
            os.replace(tmp, self.host_link)

    def _close_host_side(self) -> None:
        for fd in (self._host_master, self._host_slave):
            if fd >= 0:
                os.close(fd)
        self._host_master = self._host_slave = -1
        self._up.clear()
        self._down.clear()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                host, rover = self._host_master, self._rover_fd
                waits = [
                    w
                    for d in (self._down, self._up)
                    if (w := d.wait_s(time.monotonic())) is not None
                ]
            sel = selectors.DefaultSelector()
            try:
                sel.register(self._wake_r, selectors.EVENT_READ)
                if rover >= 0:
                    sel.register(rover, selectors.EVENT_READ)
                if host >= 0:
                    sel.register(host, selectors.EVENT_READ)
                events = sel.select(max(1e-4, min(waits)) if waits else 0.05)
            except (OSError, ValueError):
                # An unplug or replug closed a descriptor between reading it under the
                # lock and registering it: look again.
                sel.close()
                continue
            sel.close()
            now = time.monotonic()
            with self._lock:
                for key, _ in events:
                    fd = key.fd
                    if fd == self._wake_r:
                        os.read(fd, 64)
                        continue
                    if fd != self._host_master and fd != self._rover_fd:
                        continue
                    try:
                        data = os.read(fd, 4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        if fd == self._host_master:
                            continue  # nobody on the host side yet
                        log.warning("proxy: rover side closed")
                        self._stop.set()
                        break
                    direction = self._down if fd == self._host_master else self._up
                    if self._cut:
                        direction.stats.cut += len(data)
                        continue
                    direction.take(data, now)
                for direction, fd in ((self._down, self._rover_fd), (self._up, self._host_master)):
                    if fd < 0:
                        direction.queue.clear()
                        continue
                    out = direction.ready(now)
                    if not out:
                        continue
                    try:
                        n = os.write(fd, out)
                    except (BlockingIOError, InterruptedError):
                        n = 0
                    except OSError:
                        n = len(out)  # the far end is gone: the bytes are lost
                    direction.sent(n)
                    if n < len(out):
                        direction.unsend(out[n:])
