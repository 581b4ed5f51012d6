"""Firmware in the loop: the simulated rover driven by the reference firmware.

The one place where ``sim`` and ``firmware_bridge`` meet (DESIGN.md). The firmware runs
as it would on the board, on a pseudo-terminal: ``virtual`` is the C core built for this
machine, ``avr`` the Arduino binary in simavr. The controller talks to it through a
:class:`~lunarsite.firmware_bridge.serial_rover.SerialRover` over that pty and sees only
what comes over the link. A plant thread steps the PyBullet world in real time and,
through a datagram socket (``firmware/plant_channel.h``), turns the firmware's motor
outputs (duty per side, brake, servo angles) into wheel motor and servo commands, and
sends back after every physics step the wheels' angles (the firmware's encoders count
them) and the IMU's rates and forces. Ground truth comes from the world, as in
simulation, for the metrics only.

PyBullet is not thread-safe: the plant thread and the truth channel share one lock.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import threading
import time
from typing import Any

from lunarsite.firmware_bridge.avr_rover import AvrRover
from lunarsite.firmware_bridge.link import LinkConfig, SerialLink
from lunarsite.firmware_bridge.serial_rover import SerialRover
from lunarsite.firmware_bridge.virtual_rover import VirtualRover
from lunarsite.robot.hardware import RoverInterface
from lunarsite.robot.types import Pose2

from .backends import SimBackend, Truth
from .schema import LoadedScenario

__all__ = ["LINKS", "FirmwareInLoopBackend"]

log = logging.getLogger(__name__)

LINKS = ("virtual", "avr")
_OUT = struct.Struct("<I4fBBxx")  # from the firmware: t_ms, duties, servos, brake, bits
_IN = struct.Struct("<2d6f")  # to the firmware: wheel angles, gyro, accel


def servo_channels(config: Any) -> dict[str, int]:
    """The joints the firmware's two servo channels drive: the first tool's first joint
    on 0, the gripper's on 1. A rover with more joints (the excavator's bucket curl) keeps
    the others at home in the world: the firmware has no channel for them."""
    channels: dict[str, int] = {}
    for tool in config.tools:
        ch = 1 if tool.kind == "gripper" else 0
        if ch not in channels.values():
            channels[tool.joints[0].name] = ch
    return channels


class _LockedTruth(Truth):
    """The truth channel, taking the plant's lock around every PyBullet call."""

    def __init__(self, inner: Truth, lock: threading.Lock) -> None:
        self._inner = inner
        self._lock = lock

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        attr = getattr(object.__getattribute__(self, "_inner"), name)
        if not callable(attr):
            return attr
        lock = object.__getattribute__(self, "_lock")

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return attr(*args, **kwargs)

        return locked


class FirmwareInLoopBackend(SimBackend):
    """The world of a scenario (as :class:`SimBackend`), its rover driven by the firmware
    over ``link`` ("virtual" or "avr") and the controller on the serial link."""

    imu_readings_raw = False  # the telemetry quantizes them

    def __init__(self, scenario: LoadedScenario, seed: int, *, link: str, board: str = "uno"):
        if link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}, got {link!r}")
        super().__init__(scenario, seed)
        self.name = f"firmware-{link}"
        self.link = link
        self._board = board
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock, self._peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._firmware: VirtualRover | None = None
        self._serial: SerialRover | None = None
        self._outputs = (0.0, 0.0, 0.0, 0.0, 1, 0)  # duties, servos, brake, servo bits
        self.plant_steps = 0
        self.late_steps = 0
        """Physics steps that started more than one step late (a loaded machine)."""

    # ------------------------------------------------------------------ backend
    @property
    def rover(self) -> RoverInterface:  # type: ignore[override]
        if self._serial is None:
            raise RuntimeError("start_rover has not been called")
        return self._serial

    @property
    def truth(self) -> Truth | None:
        inner = super().truth
        return None if inner is None else _LockedTruth(inner, self._lock)

    def start_rover(self, start: Pose2) -> RoverInterface:  # type: ignore[override]
        sim_rover = super().start_rover(start)  # in the world, settled, active
        cfg = self.scenario.rover
        tpr = round(cfg.encoders.ticks_per_rev)
        fd = self._peer.fileno()
        fw: VirtualRover = (
            AvrRover(board=self._board, plant_fd=fd, ticks_per_rev=tpr)
            if self.link == "avr"
            else VirtualRover(plant_fd=fd, ticks_per_rev=tpr)
        )
        self._firmware = fw
        fw.start()
        self._peer.close()  # the firmware holds its end
        self._send_sensors(sim_rover)
        self._thread = threading.Thread(target=self._plant, name="fil-plant", daemon=True)
        self._thread.start()
        serial = SerialRover(
            cfg,
            SerialLink(LinkConfig(port=fw.port)),
            servo_channels=servo_channels(cfg),
            connect_timeout_s=10.0,
        )
        self._serial = serial
        serial.configure()
        serial.activate()
        return serial

    def close(self) -> None:
        try:
            if self._serial is not None:
                self._serial.close()
        finally:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(5.0)
                log.info(
                    "plant: %d physics steps, %d started more than a step late",
                    self.plant_steps,
                    self.late_steps,
                )
            if self._firmware is not None:
                self._firmware.stop()
            self._sock.close()
            super().close()

    # -------------------------------------------------------------------- plant
    def _send_sensors(self, sim_rover: Any) -> None:
        left, right = sim_rover.wheel_angles_rad()
        sensed = sim_rover.read()
        msg = _IN.pack(left, right, *sensed.gyro_radps, *sensed.accel_mps2)
        try:
            self._sock.send(msg, socket.MSG_DONTWAIT)
        except (BlockingIOError, ConnectionRefusedError, OSError) as exc:
            log.debug("plant channel: %s", exc)

    def _take_outputs(self) -> None:
        while True:
            try:
                data = self._sock.recv(64, socket.MSG_DONTWAIT)
            except (BlockingIOError, OSError):
                return
            if len(data) == _OUT.size:
                _, dl, dr, s0, s1, brake, bits = _OUT.unpack(data)
                self._outputs = (dl, dr, s0, s1, brake, bits)

    def _apply_outputs(self, sim_rover: Any, servo_names: dict[int, str]) -> None:
        dl, dr, s0, s1, brake, bits = self._outputs
        cfg = self.scenario.rover.drive
        torque = cfg.max_wheel_torque_nm
        if brake:  # shorted motors: held still up to the stall torque
            sim_rover.drive_wheel_motors((0.0, 0.0), (torque, torque))
        else:
            # A DC gear motor: duty sets the speed it tends to (duty x no-load speed),
            # the stall torque bounds the torque; below a starting duty, friction holds.
            w = cfg.max_wheel_speed_radps
            drag = 0.05 * torque
            sim_rover.drive_wheel_motors(
                (dl * w, dr * w),
                (torque if abs(dl) >= 0.02 else drag, torque if abs(dr) >= 0.02 else drag),
            )
        tools = {}
        for ch, angle in ((0, s0), (1, s1)):
            if bits & (1 << ch) and ch in servo_names and math.isfinite(angle):
                tools[servo_names[ch]] = angle
        if tools:
            sim_rover.drive_servos(tools)

    def _plant(self) -> None:
        sim_rover = super().rover
        world = self.world
        dt = world.physics_dt_s
        servo_names = {ch: name for name, ch in servo_channels(self.scenario.rover).items()}
        t0 = time.monotonic()
        n = 0
        try:
            while not self._stop.is_set():
                self._take_outputs()
                with self._lock:
                    self._apply_outputs(sim_rover, servo_names)
                    world.step(1)
                    self._send_sensors(sim_rover)
                n += 1
                self.plant_steps = n
                wait = t0 + n * dt - time.monotonic()
                if wait > 0.0:
                    time.sleep(wait)
                elif wait < -dt:
                    self.late_steps += 1
        except Exception:
            log.exception("firmware-in-the-loop plant thread failed")
            raise
