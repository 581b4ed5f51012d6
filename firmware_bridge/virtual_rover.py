"""Start the virtual rover (the firmware core built for this machine, on a pty).

>>> with VirtualRover(log_path=Path("applied.jsonl")) as rover:   # doctest: +SKIP
...     link = SerialLink(LinkConfig(port=rover.port))

The process prints its pseudo-terminal's path; :attr:`VirtualRover.port` holds it. With
``log_path`` it writes what it applied as JSON lines (see :func:`read_log`).
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from .build import FirmwareBuildError, build_virtual_rover

__all__ = ["VirtualRover", "VirtualRoverError", "read_log"]

log = logging.getLogger(__name__)


class VirtualRoverError(RuntimeError):
    """The virtual rover would not build or start."""


class VirtualRover:
    """A running virtual rover process. Use as a context manager, or :meth:`start`/:meth:`stop`.

    ``schema_hash`` makes it claim another message table (to test a mismatch);
    ``link_path`` adds a symlink to the pty, as a udev rule would. ``plant_fd`` (a
    datagram socket) puts the firmware in the loop of a simulated rover.
    """

    def __init__(
        self,
        *,
        log_path: Path | None = None,
        link_path: Path | None = None,
        boot_id: int | None = None,
        reset_cause: int | None = None,
        schema_hash: int | None = None,
        executable: Path | None = None,
        plant_fd: int | None = None,
        ticks_per_rev: int | None = None,
    ) -> None:
        self.log_path = log_path
        self.link_path = link_path
        self._args: list[str] = []
        if log_path is not None:
            self._args += ["--log", str(log_path)]
        if link_path is not None:
            self._args += ["--link", str(link_path)]
        if boot_id is not None:
            self._args += ["--boot-id", str(boot_id)]
        if reset_cause is not None:
            self._args += ["--reset-cause", str(reset_cause)]
        if schema_hash is not None:
            self._args += ["--schema-hash", f"{schema_hash:08x}"]
        if ticks_per_rev is not None:
            self._args += ["--ticks-per-rev", str(ticks_per_rev)]
        self._executable = executable
        self._pass_fds: tuple[int, ...] = ()
        if plant_fd is not None:  # firmware in the loop (firmware/plant_channel.h)
            self._args += ["--plant-fd", str(plant_fd)]
            self._pass_fds = (plant_fd,)
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = ""
        self.name = "virtual rover"

    def _resolve_executable(self) -> Path:
        return self._executable or build_virtual_rover()

    def start(self, timeout_s: float = 30.0) -> str:
        """Build if needed, start, and return the pty path."""
        try:
            exe = self._resolve_executable()
        except FirmwareBuildError as exc:
            raise VirtualRoverError(str(exc)) from None
        proc = subprocess.Popen(
            [str(exe), *self._args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=self._pass_fds,
        )
        self._proc = proc
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = b""
        fd = proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0.0 or proc.poll() is not None:
                timed_out = proc.poll() is None
                if timed_out:  # end it first: reading stderr of a live process blocks
                    proc.kill()
                    proc.wait()
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                self.stop()
                why = err.strip() or (
                    f"no device path within {timeout_s:g} s" if timed_out else "it exited"
                )
                raise VirtualRoverError(f"{self.name} ({exe}) did not start: {why}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 256)
                if not chunk:
                    continue
                line += chunk
        self.port = line.decode().strip()
        log.info("%s pid %d on %s", self.name, proc.pid, self.port)
        return self.port

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 2 s)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        self._proc = None

    def wait(self) -> int:
        """Wait for the process to end; returns its exit status."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def read_log(self) -> list[dict[str, Any]]:
        if self.log_path is None:
            raise VirtualRoverError("the virtual rover was started without log_path")
        return read_log(self.log_path)

    def __enter__(self) -> VirtualRover:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON-lines log of a virtual rover (complete lines only).

    Events: ``setpoint`` (session, counter, linear_mmps, angular_mradps), ``command``
    (type, session, cmd_id, status, a, b, value), ``watchdog``, ``session``,
    ``wheels_moving`` and ``wheels_stopped``; each with ``t_ms`` on the rover's clock.
    """
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.endswith("\n"):
                out.append(json.loads(line))
    return out
