"""The robot's hardware interface over the serial link: the same controller code that
drives the simulated rover drives the physical one.

:class:`SerialRover` maps the lifecycle onto the firmware: ``configure`` opens the link,
handshakes (a protocol or schema mismatch raises :class:`~.link.HandshakeError` naming
both versions, and nothing moves) and loads the rover file's geometry, limits and servo
ranges into the firmware; ``activate`` arms it; ``deactivate`` stops and disarms. Each
``write`` streams one drive setpoint and sends changed servo targets as acknowledged
commands from a worker thread, so the control loop never waits for an acknowledgement.
While the link is down, writes are dropped (the rover's watchdog has stopped it) and
``read`` reports the fault ``link_disconnected``; after a reconnect the firmware is
configured and armed again, and the wheels move on the next ``write``, never on an
old command.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.hardware import Clock, CommandError, HardwareError, RoverInterface, WallClock
from lunarsite.robot.types import RoverCommand, SensedState

from . import protocol as p
from .enums import AckStatus, Fault, Mode, Param
from .link import LinkError, LinkState, SerialLink

__all__ = ["SERVO_CHANNELS", "SerialRover", "default_servo_channels"]

log = logging.getLogger(__name__)

SERVO_CHANNELS = 2
"""The reference firmware drives two servos: channel 0 the tool, channel 1 the gripper."""

_FAULT_NAMES = {
    Fault.WATCHDOG: "watchdog",
    Fault.ESTOP: "estop",
    Fault.LOW_BATTERY: "low_battery",
    Fault.IMU_FAULT: "imu_fault",
}
_HEADROOM = 0.9
"""The firmware's wheel speed cap as a fraction of the no-load speed (room for the PI loop)."""
_SERVO_DEADBAND_RAD = 5e-4


def default_servo_channels(config: RoverConfig) -> dict[str, int]:
    """Channel 0 for the first joint of the scoop or bucket, 1 for the gripper's joint.

    Raises :class:`ValueError` naming any joint the firmware has no channel for.
    """
    channels: dict[str, int] = {}
    unmapped: list[str] = []
    for tool in config.tools:
        channel = 1 if tool.kind == "gripper" else 0
        first, *rest = tool.joints
        if channel in channels.values():
            unmapped.append(first.name)
        else:
            channels[first.name] = channel
        unmapped += [j.name for j in rest]
    if unmapped:
        raise ValueError(
            f"rover {config.name!r}: the firmware drives one tool servo and one gripper "
            f"servo; no channel for joint(s) {', '.join(unmapped)}"
        )
    return channels


class SerialRover(RoverInterface):
    """A physical (or virtual) rover behind a :class:`SerialLink`.

    ``servo_channels`` maps joint names to firmware servo channels (default:
    :func:`default_servo_channels`). ``stale_after_s`` is the telemetry age, in s,
    beyond which :meth:`read` reports ``telemetry_stale``.
    """

    def __init__(
        self,
        config: RoverConfig,
        link: SerialLink,
        *,
        servo_channels: Mapping[str, int] | None = None,
        connect_timeout_s: float = 5.0,
        telemetry_hz: float = 100.0,
        stale_after_s: float = 0.3,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(config.joint_names)
        self.config = config
        self.link = link
        channels = (
            dict(servo_channels) if servo_channels is not None else default_servo_channels(config)
        )
        for name, ch in channels.items():
            if name not in config.joint_names:
                raise ValueError(f"servo_channels names {name!r}, not a joint of {config.name!r}")
            if not 0 <= ch < SERVO_CHANNELS:
                raise ValueError(f"servo channel for {name!r} must be 0 or 1, got {ch}")
        self._channels = channels
        self._joint_of = {ch: name for name, ch in channels.items()}
        self._connect_timeout_s = connect_timeout_s
        self._telemetry_hz = telemetry_hz
        self._stale_after_s = stale_after_s
        self._clock: Clock = clock or WallClock()
        self._last_target: dict[int, float] = {}
        self._work = threading.Condition()
        self._pending_servo: dict[int, float] = {}
        self._reconfigure = False
        self._worker: threading.Thread | None = None
        self._closing = False
        self._configured_session = 0
        self._rejections: list[str] = []
        self.dropped_writes = 0
        """Writes that found the link down (nothing was sent)."""
        link.add_connect_listener(self._on_connected)

    # --------------------------------------------------------------- properties
    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def link_state(self) -> LinkState:
        return self.link.state

    @property
    def servo_channels(self) -> Mapping[str, int]:
        return dict(self._channels)

    def _take_rejections(self) -> tuple[str, ...]:
        """Servo commands the rover refused since the last call (one line each)."""
        with self._work:
            out, self._rejections = self._rejections, []
        return tuple(out)

    def close(self) -> None:
        """Stop (best effort), close the link and the worker."""
        if self.lifecycle_state.value == "active":
            try:
                self.deactivate()
            except HardwareError as exc:
                log.warning("deactivate on close: %s", exc)
        with self._work:
            self._closing = True
            self._work.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
        self.link.close()

    def __enter__(self) -> SerialRover:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- lifecycle
    def _on_configure(self) -> None:
        self.link.start()
        try:
            self._configure_link()
        except BaseException:
            self.link.close()  # no reader thread or open port left behind by a failure
            raise
        self._worker = threading.Thread(
            target=self._work_loop, name="lunarsite-rover-cmd", daemon=True
        )
        self._worker.start()

    def _configure_link(self) -> None:
        hello = self.link.wait_connected(self._connect_timeout_s)
        log.info(
            "rover on %s: firmware %s, boot id 0x%08X",
            self.link.config.port,
            hello.firmware_version,
            hello.boot_id,
        )
        self._configured_session = self.link.session
        self._load_params()
        if not self.link.wait_telemetry(1.0):
            raise HardwareError(f"no telemetry from the rover on {self.link.config.port}")

    def _on_activate(self) -> None:
        self._last_target.clear()
        try:
            self.link.set_mode(Mode.ARMED)
        except LinkError as exc:
            raise HardwareError(f"cannot arm the rover on {self.link.config.port}: {exc}") from None

    def _on_deactivate(self) -> None:
        with self._work:
            self._pending_servo.clear()
        if self.link.state is not LinkState.CONNECTED:
            return  # the rover's watchdog has stopped it
        self.link.send_setpoint(0.0, 0.0)
        try:
            self.link.set_mode(Mode.IDLE)
        except LinkError as exc:
            log.warning("could not disarm the rover (its watchdog stops it): %s", exc)

    # -------------------------------------------------------------------- cycle
    def _on_read(self) -> SensedState:
        latest = self.link.telemetry
        if latest is None:
            raise HardwareError(
                f"no telemetry from the rover on {self.link.config.port} yet "
                f"(link {self.link.state.value})"
            )
        tel, host_s = latest
        bits = tel.faults
        faults = [name for bit, name in _FAULT_NAMES.items() if bits & bit]
        if self.link.state is not LinkState.CONNECTED:
            faults.append("link_disconnected")
        elif time.monotonic() - host_s > self._stale_after_s:
            faults.append("telemetry_stale")
        g = p.GYRO_RADPS_PER_LSB
        a = p.ACCEL_MPS2_PER_LSB
        servo = (tel.servo0_mrad, tel.servo1_mrad)
        return SensedState(
            stamp_s=tel.stamp_ms * 1e-3,
            left_ticks=tel.left_ticks,
            right_ticks=tel.right_ticks,
            gyro_radps=(tel.gyro_x * g, tel.gyro_y * g, tel.gyro_z * g),
            accel_mps2=(tel.accel_x * a, tel.accel_y * a, tel.accel_z * a),
            tool_positions_rad={name: servo[ch] * 1e-3 for ch, name in self._joint_of.items()},
            battery_v=tel.battery_mv * 1e-3,
            faults=tuple(faults),
            rejected=self._take_rejections(),
        )

    def _on_write(self, command: RoverCommand) -> None:
        for name in command.tool_targets_rad:
            if name not in self._channels:
                raise CommandError(f"joint {name!r} has no servo channel on this rover")
        if self.link.state is not LinkState.CONNECTED:
            if self.dropped_writes == 0:
                log.warning(
                    "link %s is %s: command dropped", self.link.config.port, self.link.state.value
                )
            self.dropped_writes += 1
            return
        self.link.send_setpoint(command.drive.linear_mps, command.drive.angular_radps)
        with self._work:
            for name, target in command.tool_targets_rad.items():
                ch = self._channels[name]
                last = self._last_target.get(ch)
                if last is None or abs(target - last) > _SERVO_DEADBAND_RAD:
                    self._last_target[ch] = target
                    self._pending_servo[ch] = target  # a newer target replaces an unsent one
                    self._work.notify_all()

    # ----------------------------------------------------------------- internals
    def _load_params(self) -> None:
        cfg = self.config
        w = cfg.wheels
        values: list[tuple[Param, float]] = [
            (Param.WHEEL_RADIUS_M, w.radius_m),
            (Param.TRACK_M, w.track_m),
            (Param.TRACK_FACTOR, cfg.drive.effective_track_factor),
            (Param.TICKS_PER_REV, float(cfg.encoders.ticks_per_rev)),
            (Param.MAX_WHEEL_SPEED_RADPS, _HEADROOM * cfg.drive.max_wheel_speed_radps),
            (Param.MAX_WHEEL_ACCEL_RADPS2, cfg.drive.max_accel_mps2 / w.radius_m),
            (Param.TELEMETRY_HZ, self._telemetry_hz),
        ]
        limits = (
            (Param.SERVO0_MIN_RAD, Param.SERVO0_MAX_RAD, Param.SERVO0_SPEED_RADPS),
            (Param.SERVO1_MIN_RAD, Param.SERVO1_MAX_RAD, Param.SERVO1_SPEED_RADPS),
        )
        for name, ch in self._channels.items():
            j = cfg.joint(name)
            lo, hi, speed = limits[ch]
            # Widen first so that min <= max holds after every single step.
            values += [(lo, -6.3), (hi, j.upper_rad), (lo, j.lower_rad), (speed, j.max_speed_radps)]
        for param, value in values:
            if not math.isfinite(value):
                raise HardwareError(f"parameter {param.name} is not finite: {value}")
            try:
                self.link.set_param(param, value)
            except LinkError as exc:
                raise HardwareError(
                    f"cannot set {param.name} = {value:g} on the rover on "
                    f"{self.link.config.port}: {exc}"
                ) from None

    def _on_connected(self, hello: p.Hello) -> None:
        # Reader thread: hand the work to the worker (it may block on the link).
        with self._work:
            self._last_target.clear()
            self._pending_servo.clear()
            if self._configured_session and self.link.session != self._configured_session:
                self._reconfigure = True
                self._work.notify_all()

    def _work_loop(self) -> None:
        while True:
            with self._work:
                while not (self._closing or self._reconfigure or self._pending_servo):
                    self._work.wait()
                if self._closing:
                    return
                reconfigure, self._reconfigure = self._reconfigure, False
                pending = dict(self._pending_servo)
                self._pending_servo.clear()
            try:
                if reconfigure:
                    session = self.link.session
                    self._load_params()
                    if self.lifecycle_state.value == "active":
                        self.link.set_mode(Mode.ARMED)
                    self._configured_session = session
                    log.info("rover on %s configured again after reconnect", self.link.config.port)
                for ch, target in pending.items():
                    status = self.link.set_servo(ch, target)
                    if status is not AckStatus.OK:
                        line = (
                            f"servo {self._joint_of[ch]} -> {target:.3f} rad refused: {status.name}"
                        )
                        log.warning(line)
                        with self._work:
                            self._rejections.append(line)
            except HardwareError as exc:
                log.warning("rover command on %s failed: %s", self.link.config.port, exc)
